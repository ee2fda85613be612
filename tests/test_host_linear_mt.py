"""nn.Linear on the host at 1, 2 and 3 threads (transforms/contract.py: fold_transposes, the fold-transposes
stage): the frontend's weight transpose is folded into the matmul on tensors, before tiling and threading,
so no per-call copy of the weight remains at any thread count. Results against PyTorch in float64 on odd
shapes (rows, columns and k not multiples of the tile or the vector width)."""
import copy
import re
import warnings

import pytest

import hexmlir
from hexmlir.targets import host_target
from conftest import current_seed

torch = pytest.importorskip("torch")

THREADS = [1, 2, 3]


def _opts(threads):
    return dict(multithread=threads > 1, num_threads=threads if threads > 1 else 0,
                mt_threshold=1 if threads > 1 else 0)


def _check(model, inputs, threads, tol, **kw):
    seed = current_seed()
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # no fallback to eager
        f = hexmlir.compile_model(model, inputs, **_opts(threads), **kw)
        with torch.no_grad():
            got = f(*inputs)
    with torch.no_grad():
        want = copy.deepcopy(model).double()(*(x.double() for x in inputs))
    err = float((got.double() - want).abs().max())
    assert err <= tol, f"seed={seed} threads={threads} max err {err}"


def _rand(g, *shape):
    return torch.rand(*shape, generator=g) * 2 - 1


def _linear(g, d_in, d_out, bias=True):
    lin = torch.nn.Linear(d_in, d_out, bias=bias)
    with torch.no_grad():
        lin.weight.copy_(_rand(g, d_out, d_in))
        if bias:
            lin.bias.copy_(_rand(g, d_out))
    return lin


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("dims", [(65, 17, 33), (17, 65, 33), (131, 129, 127), (67, 1000, 3), (40, 33, 1)],
                         ids=lambda s: "x".join(map(str, s)))
def test_linear_matches_torch(dims, threads):
    """(d_in, d_out, rows); 1 row: a row times a matrix, whose transpose is kept (nothing to block)."""
    d_in, d_out, rows = dims
    g = torch.Generator().manual_seed(current_seed())
    _check(_linear(g, d_in, d_out), (_rand(g, rows, d_in),), threads, 1e-4 * d_in)


@pytest.mark.parametrize("threads", THREADS)
def test_linear_3d_input_no_bias_matches_torch(threads):
    g = torch.Generator().manual_seed(current_seed())
    _check(_linear(g, 33, 70, bias=False), (_rand(g, 3, 11, 33),), threads, 1e-4 * 33)


class _SharedWeight(torch.nn.Module):
    """One weight read as B^T twice (tied Linears) and once as itself (z @ W)."""
    def __init__(self, w):
        super().__init__()
        self.w = torch.nn.Parameter(w)

    def forward(self, x, y, z):
        f = torch.nn.functional.linear
        return f(x, self.w) + f(y, self.w) + (z @ self.w)[:, :self.w.shape[0]]


@pytest.mark.parametrize("threads", THREADS)
def test_shared_weight_matches_torch(threads):
    g = torch.Generator().manual_seed(current_seed())
    w = _rand(g, 20, 45)                                # d_out 20, d_in 45
    x, y = _rand(g, 33, 45), _rand(g, 33, 45)
    z = _rand(g, 33, 20)
    _check(_SharedWeight(w), (x, y, z), threads, 1e-4 * 45)


@pytest.mark.parametrize("threads", THREADS)
def test_mlp_matches_torch(threads):
    g = torch.Generator().manual_seed(current_seed())
    m = torch.nn.Sequential(_linear(g, 65, 129), torch.nn.GELU(approximate="tanh"), _linear(g, 129, 33))
    _check(m, (_rand(g, 33, 65),), threads, 1e-4 * 129)


def _dumps(tmp_path, model, inputs, threads):
    d = tmp_path / f"dump{threads}"
    hexmlir.compile_model(model, inputs, dump_dir=str(d), **_opts(threads))
    return {p.name.split("-", 1)[1].rsplit(".", 1)[0]: p.read_text() for p in d.iterdir()}


@pytest.mark.parametrize("threads", [2, 3])
def test_no_weight_transpose_copy_with_threads(tmp_path, threads):
    """Linear 67 -> 45 on 33 rows, two Linears of an MLP: with threads, no heap buffer and no copy of a
    weight remain (before the fold, each thread body allocated and filled a transposed weight slab); the
    matmul transposes B's panels into its stack buffer (contract) and runs on the thread pool."""
    t = host_target()
    if not t.fma:
        pytest.skip("no FMA on this host: the contraction is not register-blocked, the transpose stays")
    g = torch.Generator().manual_seed(current_seed())
    ir = _dumps(tmp_path, _linear(g, 67, 45), (_rand(g, 33, 67),), threads)
    assert "67x45" not in ir["fold-transposes"] and "67x45" in ir["canonicalize"]
    assert "hexmlir.thread_body" in ir["threads"]
    assert not re.search(r"memref\.alloc\b", ir["threads"]), ir["threads"]
    assert re.search(r"memref<67x(16|32|48|64)xf32>", ir["contract"]), ir["contract"]
    mlp = torch.nn.Sequential(_linear(g, 65, 129), torch.nn.GELU(approximate="tanh"), _linear(g, 129, 33))
    ir = _dumps(tmp_path, mlp, (_rand(g, 40, 65),), threads)
    for w in ("65x129", "129x33"):                      # the transposed weights' shapes
        assert w not in ir["threads"], ir["threads"]
    assert "hexmlir.thread_body" in ir["threads"]


class _HeadsProj(torch.nn.Module):
    """Attention's output projection: heads merged by a reshape, then a Linear. Fusion propagates the
    reshape into the contraction (k split into heads x head_dim); folded before that, the weight would be
    read as [n, heads, head_dim], which the contract stage cannot block."""
    def __init__(self, lin):
        super().__init__()
        self.lin = lin

    def forward(self, a):
        b, h, t, d = a.shape
        return self.lin(a.transpose(1, 2).reshape(b, t, h * d))


@pytest.mark.parametrize("threads", [1, 2])
def test_heads_projection_stays_register_blocked(tmp_path, threads):
    g = torch.Generator().manual_seed(current_seed())
    m = _HeadsProj(_linear(g, 64, 70))
    a = _rand(g, 2, 4, 33, 16)
    _check(m, (a,), threads, 1e-4 * 64)
    if not host_target().fma:
        return
    ir = _dumps(tmp_path, m, (a,), threads)["contract"]
    # (native-width accumulators; a partial thread tile: upstream's masked 2-D C tile)
    assert re.search(r"iter_args\([^)]*\) -> \((vector<\d+xf32>(, vector<\d+xf32>)+|vector<\d+x\d+xf32>)\)", ir), ir


MM = """func.func @mm(%a: tensor<{m}x{k}xf32>, %b: tensor<{k}x{n}xf32>) -> tensor<{m}x{n}xf32> {{
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<{m}x{n}xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<{m}x{n}xf32>) -> tensor<{m}x{n}xf32>
  %r = linalg.matmul ins(%a, %b : tensor<{m}x{k}xf32>, tensor<{k}x{n}xf32>) outs(%f : tensor<{m}x{n}xf32>) -> tensor<{m}x{n}xf32>
  return %r : tensor<{m}x{n}xf32>
}}"""


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("mnk", [(33, 17, 65), (33, 70, 65), (128, 1000, 64), (1000, 1000, 16)],
                         ids=lambda s: "x".join(map(str, s)))
def test_matmul_thread_split_is_balanced(mnk, threads):
    """The busiest thread's share of C (tiles split as threads.py does: contiguous runs of tiles) is at
    most 1.25 / threads: powers-of-two tiles alone split 33 rows as 32 + 1, 17 columns as 16 + 1."""
    from hexmlir import opt
    m, n, k = mnk
    text = opt.run_stages(MM.format(m=m, n=n, k=k), "check-input..plan",
                          {"num_threads": threads, "mt_threshold": 1, "isa": "x86-64-v4"})
    cfg = re.search(r"threads = (\d+) : i64, tile = array<i64: (\d+), (\d+), 0>", text)
    assert cfg, text
    used, tm, tn = (int(x) for x in cfg.groups())
    tm, tn = tm or m, tn or n
    sizes = [min(tm, m - i) * min(tn, n - j) for i in range(0, m, tm) for j in range(0, n, tn)]
    shares = [sum(sizes[c * len(sizes) // used:(c + 1) * len(sizes) // used]) for c in range(used)]
    assert used == threads and max(shares) <= 1.25 * m * n / threads, (tm, tn, used, shares)


@pytest.mark.parametrize("opts", [dict(fusion=False), dict(tcm_tiling=False), dict(pack_b=False),
                                  dict(register_tiling=False)],
                         ids=["no-fusion", "no-tcm-tiling", "no-pack-b", "no-register-tiling"])
def test_linear_options_at_two_threads(opts):
    g = torch.Generator().manual_seed(current_seed())
    m = torch.nn.Sequential(_linear(g, 65, 129), torch.nn.GELU(approximate="tanh"), _linear(g, 129, 33))
    _check(m, (_rand(g, 33, 65),), 2, 1e-4 * 129, **opts)


def test_linear_f16_at_two_threads():
    """f16 weight and input: the folded weight's panels are transposed as f16, products accumulate in f32."""
    seed = current_seed()
    g = torch.Generator().manual_seed(seed)
    lin = _linear(g, 131, 129).half()
    x = _rand(g, 127, 131).half()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = hexmlir.compile_model(lin, (x,), **_opts(2))
        with torch.no_grad():
            got = f(x)
    with torch.no_grad():
        want = copy.deepcopy(lin).double()(x.double())
    err = float((got.double() - want).abs().max())
    assert got.dtype == torch.float16 and err <= 1e-2, f"seed={seed} max err {err}"
