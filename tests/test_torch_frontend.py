"""PyTorch frontend (frontends/torch): compile_model and torch.compile(backend="hexmlir") vs eager PyTorch on
fresh random inputs, tiny odd sizes (not multiples of the 32-lane f32 vector). Route A (Inductor -> Triton ->
hexmlir) is slow (Inductor's compile), so it runs with --slow."""
import copy
import json
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch_mlir")

import hexmlir  # noqa: E402
from hexmlir.frontends.torch import FallbackWarning, make_backend  # noqa: E402
from hexmlir.kernels.torch_models import MLP, Block, ConvNet, RMSNormSwiGLU  # noqa: E402
from hexmlir.kernels.torch_models import MODELS as SPECS  # noqa: E402


class Sort(torch.nn.Module):
    """torch.sort imports as tm_tensor.sort, which the pipeline's check-input rejects."""
    def forward(self, x):
        return torch.sort(x * 3.0, dim=1)[0] * 2.0


MODELS = {name: (s.cls, s.shape("test")) for name, s in SPECS.items()}
SLOW = {"block"}     # ~5 s to compile


def _close(got, ref):
    """f32, summation orders differ from ATen's: absolute tolerance scaled by the output's magnitude."""
    ref = ref.detach().numpy()
    np.testing.assert_allclose(got.detach().numpy(), ref, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(ref).max())))


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in MODELS])
def test_compile_model_linalg_matches_eager(name):
    M, shape = MODELS[name]
    m = M().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)       # no fallback, no retry: compiled as asked
        c = hexmlir.compile_model(m, torch.randn(*shape))
    assert c.compiled, c.eager_reason
    for _ in range(2):                                         # fresh inputs, not the example
        x = torch.randn(*shape)
        _close(c(x), m(x))
    with torch.no_grad():                                      # weights are arguments: updates need no recompile
        for p in m.parameters():
            p.add_(torch.randn_like(p))
    x = torch.randn(*shape)
    _close(c(x), m(x))


@pytest.mark.parametrize("name", ["mlp", "rmsnorm_swiglu"])
def test_compile_model_fp16_matches_f32_reference(name):
    M, shape = MODELS[name]
    m = M().eval()
    half = copy.deepcopy(m).half()
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        c = hexmlir.compile_model(half, torch.randn(*shape).half(), strict=True)
    x = torch.randn(*shape).half()
    got, ref = c(x), m(x.float()).detach().numpy()
    assert got.dtype == torch.float16
    np.testing.assert_allclose(got.detach().float().numpy(), ref, rtol=2e-2, atol=2e-2 * max(1.0, float(np.abs(ref).max())))


def test_compile_model_for_hexagon_saves_an_artifact(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        c = hexmlir.compile_model(MLP().eval(), torch.randn(5, 19), target="hexagon", strict=True)
    d = c.save(tmp_path / "hex")
    meta = json.loads((d / "kernel.json").read_text())
    assert meta["target"] == "hexagon" and (d / "kernel.so").stat().st_size > 0
    assert json.loads((d / "model.json").read_text())["weights"] == c.names
    with pytest.raises(hexmlir.HexmlirError, match="cannot run on this host"):
        c(torch.randn(5, 19))


def test_torch_compile_backend_name_resolves_by_entry_point():
    from torch._dynamo import lookup_backend
    from hexmlir.frontends.torch import backend
    assert lookup_backend("hexmlir") is backend
    m = MLP().eval()
    torch._dynamo.reset()
    f = torch.compile(m, backend="hexmlir", dynamic=False)
    x = torch.randn(5, 19)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        _close(f(x), m(x))


def test_torch_compile_strict_compiles_swiglu():
    m = RMSNormSwiGLU().eval()
    torch._dynamo.reset()
    f = torch.compile(m, backend=make_backend(strict=True), dynamic=False)
    x = torch.randn(2, 3, 19)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        _close(f(x), m(x))


class SortOnly(torch.nn.Module):
    """Nothing but a rejected op: no partition to compile."""
    def forward(self, x):
        return torch.sort(x, dim=0)[0]


def test_unsupported_op_falls_back_with_one_warning_naming_it():
    m = SortOnly()
    x = torch.randn(3, 5)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        c = hexmlir.compile_model(m, x)
    fb = [str(x.message) for x in w if issubclass(x.category, FallbackWarning)]
    assert len(fb) == 1 and "SortOnly runs in eager PyTorch: tm_tensor.sort" in fb[0], fb
    assert not c.compiled and c.partitions == 0
    x = torch.randn(3, 5)
    _close(c(x), m(x))


class Mixed(torch.nn.Module):
    """Linear-GELU, torch.cat, torch.sort (tm_tensor.sort, rejected by check-input), Linear-ReLU: two compilable
    partitions around one eager op."""
    def __init__(self):
        super().__init__()
        self.l1, self.l2 = torch.nn.Linear(13, 21), torch.nn.Linear(23, 9)

    def forward(self, x):
        y = torch.sort(torch.cat([torch.nn.functional.gelu(self.l1(x)), x[:, :2]], dim=1), dim=1)[0]
        return torch.relu(self.l2(y))


def test_torch_compile_runs_only_the_rejected_op_eagerly(monkeypatch):
    from hexmlir import driver
    compiled = []
    real = driver.compile
    monkeypatch.setattr(driver, "compile", lambda *a, **k: compiled.append(real(*a, **k)) or compiled[-1])
    m = Mixed()
    torch._dynamo.reset()
    f = torch.compile(m, backend=make_backend(), dynamic=False)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for _ in range(2):
            x = torch.randn(3, 13)
            _close(f(x), m(x))
    eager = [str(x.message) for x in w if "eager" in str(x.message)]
    assert len(eager) == 1 and "tm_tensor.sort (from sort" in eager[0] and "2 partition(s)" in eager[0], eager
    assert len(compiled) == 2                  # the two partitions became hexmlir kernels (once each)


def test_compile_model_partitions_around_the_rejected_op(monkeypatch, tmp_path):
    """As torch.compile: the rejected op runs eagerly, the two partitions are compiled ahead of time (once),
    one warning names the eager op; weights stay arguments; a partitioned model cannot be saved."""
    from hexmlir import driver
    compiled = []
    real = driver.compile
    monkeypatch.setattr(driver, "compile", lambda *a, **k: compiled.append(real(*a, **k)) or compiled[-1])
    m = Mixed().eval()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        c = hexmlir.compile_model(m, torch.randn(3, 13))
        assert len(compiled) == 2                  # ahead of time: both partitions compiled already
        for _ in range(2):
            x = torch.randn(3, 13)
            _close(c(x), m(x))
    eager = [str(x.message) for x in w if issubclass(x.category, FallbackWarning) and "eager" in str(x.message)]
    assert len(eager) == 1 and "tm_tensor.sort (from sort" in eager[0] and "Mixed" in eager[0] \
        and "2 partition(s)" in eager[0], eager
    assert not c.compiled and c.partitions == 2 and c.eager_ops == ["tm_tensor.sort (from sort.default)"]
    assert len(compiled) == 2                      # no recompile at later calls
    with torch.no_grad():                          # weights are arguments of the partitions too
        for p in m.parameters():
            p.add_(torch.randn_like(p))
    x = torch.randn(3, 13)
    _close(c(x), m(x))
    with pytest.raises(hexmlir.HexmlirError, match="cannot save a partitioned model"):
        c.save(tmp_path / "mixed")
    with pytest.raises(hexmlir.UnsupportedError, match="tm_tensor.sort"):
        hexmlir.compile_model(m, torch.randn(3, 13), strict=True)


def test_failed_compile_falls_back_visibly(monkeypatch, tmp_path):
    """A pass failing on input it accepted (a compiler bug; injected at lower-to-llvm): the model runs eagerly
    (the documented policy) with one FallbackWarning naming the stage and the op as a failed compile (not an
    unsupported op), located at the caller's line (before: hexmlir/__init__.py, so Python's default filter
    showed a message once per process); `compiled` False, the error in `eager_reason`. A filter that makes
    the warning an error raises that warning (before: re-wrapped as "partitioning ..."); strict raises."""
    import inspect
    from hexmlir.transforms import lower

    def broken(module, cx):
        raise hexmlir.CompileError("injected failure", stage="lower-to-llvm", op="test.lowered_op")
    monkeypatch.setattr(lower, "to_llvm_dialect", broken)
    monkeypatch.setenv("HEXMLIR_CACHE_DIR", str(tmp_path))      # a cached kernel would not reach the stage
    M, shape = MODELS["mlp"]
    m = M().eval()
    x = torch.randn(*shape)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        c, line = hexmlir.compile_model(m, x), inspect.currentframe().f_lineno
        torch._dynamo.reset()
        f = torch.compile(m, backend=make_backend(), dynamic=False)
        with torch.no_grad():
            y, fline = f(x), inspect.currentframe().f_lineno
    fb = [x for x in w if issubclass(x.category, FallbackWarning)]
    assert len(fb) == 2, [str(x.message) for x in fb]
    for x_, at in zip(fb, (line, fline)):
        msg = str(x_.message)
        assert "runs in eager PyTorch: compiling failed in stage lower-to-llvm at test.lowered_op" in msg, msg
        assert "injected failure" in msg and "not supported" not in msg, msg
        assert (x_.filename, x_.lineno) == (__file__, at), (x_.filename, x_.lineno, msg)
    assert not c.compiled and c.partitions == 0 and "test.lowered_op" in c.eager_reason
    with torch.no_grad():
        _close(y, m(x))                                         # torch.compile's eager graph
        x = torch.randn(*shape)
        _close(c(x), m(x))
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        with pytest.raises(FallbackWarning, match="lower-to-llvm at test.lowered_op") as err:
            hexmlir.compile_model(m, x)
    assert "partitioning" not in str(err.value), err.value
    with pytest.raises(hexmlir.CompileError, match="test.lowered_op"):
        hexmlir.compile_model(m, x, strict=True)


def test_strict_raises_naming_the_op():
    with pytest.raises(hexmlir.UnsupportedError, match="tm_tensor.sort"):
        hexmlir.compile_model(Sort(), torch.randn(3, 5), strict=True)
    torch._dynamo.reset()
    f = torch.compile(Sort(), backend=make_backend(strict=True), dynamic=False)
    with pytest.raises(Exception, match="tm_tensor.sort"):       # Dynamo wraps backend errors
        f(torch.randn(3, 5))


def test_saved_artifact_runs_with_numpy_only(tmp_path):
    m = MLP().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        c = hexmlir.compile_model(m, torch.randn(5, 19))
    d = c.save(tmp_path / "mlp")
    k = hexmlir.load(d / "kernel.so")
    x = torch.randn(5, 19)
    weights = [dict(m.named_parameters())[n].detach().numpy() for n in c.names]
    np.testing.assert_allclose(k(*weights, x.numpy()), m(x).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_bad_options_are_typed_errors():
    with pytest.raises(hexmlir.HexmlirError, match="unknown option"):
        hexmlir.compile_model(MLP(), torch.randn(5, 19), no_such_option=1)
    with pytest.raises(hexmlir.HexmlirError, match="unknown route"):
        make_backend(route="tvm")
    with pytest.raises(hexmlir.UnsupportedError, match="dtype"):
        hexmlir.compile_model(MLP().double(), torch.randn(5, 19, dtype=torch.float64), strict=True)


def test_padded_conv_compiles_whole():
    """conv2d with padding imports as tensor.pad + conv; the decompose-pad stage lowers the pad, so the whole
    model is one kernel (no retry, no fallback). Pad forms still rejected (a padding value computed from the
    indices, dynamic pads) cannot come from torch with static shapes: tests/test_pad.py checks them in MLIR."""
    m = ConvNet(padding=1, hw=13)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        c = hexmlir.compile_model(m, torch.randn(2, 3, 13, 13), strict=True)
    assert c.compiled
    x = torch.randn(2, 3, 13, 13)
    _close(c(x), m(x))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MODELS) + ["convnet_padded"])
def test_compile_model_inductor_route_matches_eager(name, tmp_path, monkeypatch):
    """Route A: outputs match eager, the kernels went through hexmlir, and Inductor's generated code calls no
    ATen matmul: mm/addmm/bmm are Triton templates (tl.dot); only convolutions stay ATen (docs/torch.md)."""
    import re
    from torch._inductor.utils import run_and_get_code
    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path / "triton"))     # fresh caches: kernels are compiled here
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    M, shape = MODELS[name] if name in MODELS else (lambda: ConvNet(padding=1), (2, 3, 11, 11))
    m = M().eval()
    torch._dynamo.reset()
    c, code = run_and_get_code(lambda: hexmlir.compile_model(m, torch.randn(*shape), route="inductor"))
    code = "\n".join(ln for ln in "\n".join(code).splitlines() if not ln.lstrip().startswith("#"))  # calls only
    x = torch.randn(*shape)
    with torch.no_grad():
        _close(c(x), m(x))
    assert list((tmp_path / "triton").rglob("*.hexmlir")), "Inductor's Triton kernels did not go through hexmlir"
    externs = set(re.findall(r"extern_kernels\.(\w+)\(|torch\.ops\.aten\.(\w+)\.\w+\(", code))
    externs = {a or b for a, b in externs}
    assert not externs & {"mm", "addmm", "bmm", "baddbmm", "_scaled_dot_product_flash_attention_for_cpu"}, externs
    assert externs <= ({"convolution"} if name.startswith("convnet") else set()), externs
    assert "tl.dot(" in code, "no Triton matmul template in the generated code"


_LINEAR_MLIR = """func.func @f(%a: tensor<5x37xf32>, %w: tensor<70x37xf32>) -> tensor<5x70xf32> {
 %c = arith.constant 0.0 : f32
 %e = tensor.empty() : tensor<37x70xf32>
 %b = linalg.transpose ins(%w : tensor<70x37xf32>) outs(%e : tensor<37x70xf32>) permutation = [1, 0]
 %0 = tensor.empty() : tensor<5x70xf32>
 %f = linalg.fill ins(%c : f32) outs(%0 : tensor<5x70xf32>) -> tensor<5x70xf32>
 %m = linalg.matmul ins(%a, %b : tensor<5x37xf32>, tensor<37x70xf32>) outs(%f : tensor<5x70xf32>) -> tensor<5x70xf32>
 return %m : tensor<5x70xf32> }"""


def test_pipeline_compiles_nn_linear_form_with_all_mechanisms():
    """How torch-mlir imports nn.Linear (transpose + matmul), all mechanisms on; the fusion barrier keeps the
    transpose out of the matmul (tests/test_pipeline.py checks the IR)."""
    rng = np.random.default_rng()
    a, w = rng.standard_normal((5, 37), np.float32), rng.standard_normal((70, 37), np.float32)
    np.testing.assert_allclose(hexmlir.compile(_LINEAR_MLIR)(a, w), a @ w.T, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("budget", [1 << 17, 1 << 15])
def test_small_tcm_budget_splits_groups_and_stays_correct(budget):
    """At small TCM budgets the plan splits a GPT-2 block into many groups (fusion bounded by TCM): LayerNorm's
    statistics become roots of their own. Their shared zero init once made the variance accumulate into an
    unfilled buffer (random garbage, only with DMA + DB + threads); fills are now one per use."""
    torch.manual_seed(0)
    m = Block(64, 2, 128).eval()
    c = hexmlir.compile_model(m, torch.randn(2, 33, 64), strict=True, tcm_budget=budget, num_threads=2)
    for _ in range(2):
        x = torch.randn(2, 33, 64)
        with torch.no_grad():
            _close(c(x), m(x))


@pytest.mark.slow
def test_block_at_bench_size_compiles_with_tcm_tiling():
    """The bench-size block used to fail tcm-promote (keepdim reductions; producers cloned into two groups)."""
    spec = SPECS["block"]
    m = spec.make("bench")
    c = hexmlir.compile_model(m, torch.randn(*spec.shape("bench")), strict=True)
    assert c.graph.options.tcm_tiling
    x = torch.randn(*spec.shape("bench"))
    with torch.no_grad():
        _close(c(x), m(x))


def test_route_b_mlp_is_not_one_weight_holding_mega_kernel():
    """Fusion is bounded by TCM: at the bench size (256-1024-256) no group's tile holds more than one
    thread's budget, every Linear's group runs on all threads, and matmul tiles span rows (reuse)."""
    from hexmlir import plan as P, targets
    from hexmlir.driver import explain
    from hexmlir.frontends.torch.backend import model_linalg
    spec = SPECS["mlp"]
    text = model_linalg(spec.make("bench"), [torch.randn(*spec.shape("bench"))])
    o = hexmlir.Options(num_threads=16)
    out = explain(text, o)
    limit = P.tile_budget(targets.get("host", None), o, False)[1]
    roots = [ln for ln in out.splitlines() if " root " in ln]
    # the two Linears in groups of their own (their weight transposes are folded away: fold-transposes)
    homes = {ln.split("fused into ")[1].strip() for ln in out.splitlines() if "r] producer" in ln}
    assert len(roots) >= 2 and len(homes) == 2, out
    for ln in roots:
        if "register-blocked" in ln:      # plan.register_blocked: the contract stage blocks for the caches
            continue
        b = int(ln.split("(")[1].split(" B/tile")[0])
        assert b <= limit, ln
    big = [ln for ln in roots if "[256x256]" in ln or "[256x1024]" in ln]
    assert big and all("threads=16" in ln for ln in big), big
    assert not any("tcm_tile=[1, 0]" in ln for ln in big), big
