"""B^T contractions on the host (transforms/contract.py: _pack_transposed, _fold_transposes,
_vectorize_transposes): B indexed [n, k] (nn.Linear's weight, Q K^T) is transposed panel by panel into
the packing buffer and register-blocked like any matmul. Results against NumPy / PyTorch on odd shapes,
f16, batch, threads on and off; the micro-kernel and the folded weight transpose in the IR."""
import re
import warnings

import numpy as np
import pytest

import hexmlir
from hexmlir import Options
from hexmlir.targets import host_target
from conftest import current_seed

BT = """func.func @bt(%a: tensor<{m}x{k}x{t}>, %b: tensor<{n}x{k}x{t}>) -> tensor<{m}x{n}xf32> {{
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<{m}x{n}xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<{m}x{n}xf32>) -> tensor<{m}x{n}xf32>
  %r = linalg.generic {{indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (j, k)>,
                                         affine_map<(i, j, k) -> (i, j)>],
                       iterator_types = ["parallel", "parallel", "reduction"]}}
      ins(%a, %b : tensor<{m}x{k}x{t}>, tensor<{n}x{k}x{t}>) outs(%f : tensor<{m}x{n}xf32>) {{
  ^bb0(%x: {t}, %y: {t}, %o: f32):
    {body}
  }} -> tensor<{m}x{n}xf32>
  return %r : tensor<{m}x{n}xf32>
}}"""
F32_BODY = """%p = arith.mulf %x, %y : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32"""
F16_BODY = """%x32 = arith.extf %x : f16 to f32
    %y32 = arith.extf %y : f16 to f32
    %p = arith.mulf %x32, %y32 : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32"""

BATCH_BT = """func.func @bbt(%a: tensor<3x{m}x{k}xf32>, %b: tensor<3x{n}x{k}xf32>) -> tensor<3x{m}x{n}xf32> {{
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x{m}x{n}xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<3x{m}x{n}xf32>) -> tensor<3x{m}x{n}xf32>
  %r = linalg.generic {{indexing_maps = [affine_map<(q, i, j, k) -> (q, i, k)>, affine_map<(q, i, j, k) -> (q, j, k)>,
                                         affine_map<(q, i, j, k) -> (q, i, j)>],
                       iterator_types = ["parallel", "parallel", "parallel", "reduction"]}}
      ins(%a, %b : tensor<3x{m}x{k}xf32>, tensor<3x{n}x{k}xf32>) outs(%f : tensor<3x{m}x{n}xf32>) {{
  ^bb0(%x: f32, %y: f32, %o: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }} -> tensor<3x{m}x{n}xf32>
  return %r : tensor<3x{m}x{n}xf32>
}}"""

ODD = [(33, 17, 65), (127, 129, 131), (1, 1000, 3), (64, 64, 64), (40, 600, 1100)]


def _mt(mt):
    return dict(multithread=mt, num_threads=3 if mt else 0, mt_threshold=1 if mt else 0)


def _run_bt(m, n, k, dtype, opts):
    seed = current_seed()
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1, 1, (m, k)).astype(dtype)
    b = rng.uniform(-1, 1, (n, k)).astype(dtype)
    t, body = ("f16", F16_BODY) if dtype == np.float16 else ("f32", F32_BODY)
    got = hexmlir.compile(BT.format(m=m, n=n, k=k, t=t, body=body), opts)(a, b)
    want = a.astype(np.float64) @ b.astype(np.float64).T
    err = float(np.max(np.abs(got - want)))
    return err, seed


@pytest.mark.parametrize("mt", [False, True], ids=["1t", "mt"])
@pytest.mark.parametrize("mnk", ODD, ids=lambda s: "x".join(map(str, s)))
def test_bt_f32_matches_numpy(mnk, mt):
    m, n, k = mnk
    err, seed = _run_bt(m, n, k, np.float32, Options(**_mt(mt)))
    assert err <= 1e-4 * k, f"seed={seed} max err {err}"


@pytest.mark.parametrize("mnk", [(33, 17, 65), (127, 129, 131)], ids=lambda s: "x".join(map(str, s)))
def test_bt_f16_matches_numpy(mnk):
    m, n, k = mnk
    err, seed = _run_bt(m, n, k, np.float16, Options(multithread=False))
    assert err <= 1e-4 * k, f"seed={seed} max err {err}"


@pytest.mark.parametrize("opts", [dict(register_tiling=False), dict(pack_b=False), dict(vectorize=False)],
                         ids=["no-register-tiling", "no-pack-b", "scalar"])
def test_bt_options_match_numpy(opts):
    err, seed = _run_bt(33, 17, 65, np.float32, Options(multithread=False, **opts))
    assert err <= 1e-4 * 65, f"seed={seed} max err {err}"


@pytest.mark.parametrize("mt", [False, True], ids=["1t", "mt"])
@pytest.mark.parametrize("mnk", [(33, 17, 65), (127, 129, 131)], ids=lambda s: "x".join(map(str, s)))
def test_batch_bt_matches_numpy(mnk, mt):
    m, n, k = mnk
    seed = current_seed()
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1, 1, (3, m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (3, n, k)).astype(np.float32)
    got = hexmlir.compile(BATCH_BT.format(m=m, n=n, k=k), Options(**_mt(mt)))(a, b)
    err = float(np.max(np.abs(got - np.matmul(a.astype(np.float64), b.transpose(0, 2, 1)))))
    assert err <= 1e-4 * k, f"seed={seed} max err {err}"


def _dump(tmp_path, text, **kw):
    d = tmp_path / "dump"
    hexmlir.compile(text, Options(dump_dir=str(d), **{"multithread": False, **kw}))
    return {p.name.split("-", 1)[1].rsplit(".", 1)[0]: p.read_text() for p in d.iterdir()}


def test_bt_is_register_blocked_with_transposed_panels(tmp_path):
    """The B^T matmul gets the micro-kernel (C tile carried across k) reading a panel that a transposing
    copy (lanes x lanes blocks, read with a permutation map) wrote into the stack buffer."""
    t = host_target()
    if not t.fma:
        pytest.skip("no FMA on this host: no contract stage")
    ir = _dump(tmp_path, BT.format(m=64, n=128, k=256, t="f32", body=F32_BODY))
    lanes = t.vector_lanes(4)
    assert re.search(rf"iter_args\([^)]*\) -> \(vector<{lanes}xf32>(, vector<{lanes}xf32>)+\)", ir["contract"]), \
        ir["contract"]
    assert "memref.alloca" in ir["contract"] and "memref.view" in ir["contract"]
    # (AVX-512: the 16 x 16 blocks are already a shuffle network, test_bt_panel_transpose_is_a_shuffle_network)
    assert re.search(rf"vector\.transfer_read [^\n]*permutation_map[^\n]*vector<{lanes}x{lanes}xf32>|"
                     rf"vector\.shuffle [^\n]*vector<{lanes}xf32>", ir["contract"])


def _loops_around(text, pattern):
    """The scf.for headers enclosing the first line matching pattern, innermost first."""
    lines = text.splitlines()
    i = next(j for j, ln in enumerate(lines) if re.search(pattern, ln))
    ind, out = len(lines[i]) - len(lines[i].lstrip()), []
    for ln in reversed(lines[:i]):
        d = len(ln) - len(ln.lstrip())
        if d < ind and ln.lstrip().startswith("scf.for"):
            out.append(ln.strip())
            ind = d
    return out


def test_bt_panel_transpose_streams_source_rows(tmp_path):
    """The panel's lanes x lanes blocks step along k (the weight's unit-stride dim) in the inner block loop,
    so each block's loads continue the streams the previous block began; stepping along n there instead
    jumps `lanes` weight rows per block (measured at 1 thread, Zen 4: 256x256x704 B^T 1.32 -> 1.15 ms with a
    cold weight, the model RMSNorm+SwiGLU 4.0 -> 3.7 ms)."""
    t = host_target()
    if not t.fma:
        pytest.skip("no FMA on this host: no contract stage")
    ir = _dump(tmp_path, BT.format(m=64, n=128, k=256, t="f32", body=F32_BODY))
    lanes = t.vector_lanes(4)
    inner, outer = _loops_around(ir["contract"], r"vector\.transfer_read [^\n]*permutation_map|vector\.shuffle ")[:2]
    assert re.search(rf"to %c256 step %c{lanes}\b", inner), (inner, outer)
    assert not re.search(r"to %c256 step", outer), (inner, outer)


def test_bt_panel_transpose_is_a_shuffle_network(tmp_path):
    """AVX-512: each unmasked 16 x 16 f32 block is upstream's 4-stage unpack/shuffle network (64 two-source
    shuffles), not a vector.transpose left to lower-to-llvm's element-wise lowering (LLVM then built it
    from ~170 vpermt2ps/vpermt2pd; 256x256x704 B^T 1.23 -> 1.09 ms at 1 thread, Zen 4)."""
    t = host_target()
    if not t.fma or t.vector_lanes(4) != 16:
        pytest.skip("16 x 16 shuffle network: AVX-512 hosts only")
    ir = _dump(tmp_path, BT.format(m=64, n=128, k=256, t="f32", body=F32_BODY))
    c = ir["contract"]
    assert "vector.transpose" not in c and "permutation_map" not in c, c
    blocks = len(re.findall(r"vector\.transfer_read [^\n]*vector<16xf32>", c))
    shuffles = len(re.findall(r"vector\.shuffle ", c))
    assert shuffles and shuffles % 64 == 0, (shuffles, blocks)
    target = ir["target"]
    assert not re.search(r"\bvpermt2p[sd]\b", target), "element-wise transpose lowering in the assembly"


def test_scalar_bt_has_no_packed_simd(tmp_path):
    ir = _dump(tmp_path, BT.format(m=33, n=17, k=65, t="f32", body=F32_BODY), vectorize=False)
    assert "vector<" not in ir["lower-to-llvm"]
    assert not re.search(r"\bv(add|mul|sub|fmadd\w*|max|min|broadcast\w*)p?s\b[^\n]*%[yz]mm", ir["target"]), \
        "packed SIMD arithmetic in a scalar build"


torch = pytest.importorskip("torch")


@pytest.mark.parametrize("mt", [False, True], ids=["1t", "mt"])
@pytest.mark.parametrize("dims", [(67, 45, 33), (131, 129, 127), (3, 1000, 1), (1000, 70, 9)],
                         ids=lambda s: "x".join(map(str, s)))
def test_linear_matches_torch(dims, mt):
    """nn.Linear through the torch frontend (weight an argument, transposed by the frontend)."""
    d_in, d_out, rows = dims
    seed = current_seed()
    g = torch.Generator().manual_seed(seed)
    lin = torch.nn.Linear(d_in, d_out)
    with torch.no_grad():
        lin.weight.copy_(torch.rand(d_out, d_in, generator=g) * 2 - 1)
    x = torch.rand(rows, d_in, generator=g) * 2 - 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # no fallback to eager
        f = hexmlir.compile_model(lin, (x,), **_mt(mt))
        with torch.no_grad():
            got = f(x)
    with torch.no_grad():
        want = lin.double()(x.double())
    err = float((got.double() - want).abs().max())
    assert err <= 1e-4 * d_in, f"seed={seed} max err {err}"


def test_linear_weight_transpose_is_folded(tmp_path):
    """The frontend's weight transpose is gone from fold-transposes on (tensors): the matmul reads the
    weight argument as B^T, panel by panel (threads: tests/test_host_linear_mt.py)."""
    if not host_target().fma:
        pytest.skip("no FMA on this host: no contract stage")
    lin = torch.nn.Linear(67, 45)
    x = torch.rand(33, 67)
    d = tmp_path / "dump"
    hexmlir.compile_model(lin, (x,), multithread=False, dump_dir=str(d))
    before = next(d.glob("*-canonicalize.mlir")).read_text()
    assert "tensor<67x45xf32>" in before
    for stage in ("fold-transposes", "threads", "contract"):
        after = next(d.glob(f"*-{stage}.mlir")).read_text()
        # (the packing buffer's 67 x 45 view is a B^T panel, not the transposed weight)
        assert not re.search(r"tensor<67x45xf32>|alloc\([^\n]*memref<67x45xf32>", after), after


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("threads", [1, 3])
def test_flash_attention_kt_block_transposed(tmp_path, monkeypatch, causal, threads):
    """The suite's Triton flash attention loads K^T blocks with transposed strides: that copy becomes a
    blocked linalg.transpose of the transposed view (contract). N_CTX 100: partial K blocks (masked)."""
    seed = current_seed()
    g = torch.Generator().manual_seed(seed)
    Z, H, N_CTX, D = 2, 1, 100, 64
    q, k, v = (torch.randn(Z, H, N_CTX, D, generator=g) for _ in range(3))
    o = torch.empty_like(q)
    from hexmlir.kernels.triton_suite import flash_attention as fa
    d = tmp_path / "dump"
    check_ir = host_target().fma and threads == 1 and not causal
    if check_ir:                                   # a fresh cache, so this compile runs and dumps
        monkeypatch.setenv("HEXMLIR_DUMP_DIR", str(d))
        monkeypatch.setenv("HEXMLIR_CACHE_DIR", str(tmp_path / "cache"))
        monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path / "tcache"))
    fa.attn_fwd_kernel[((N_CTX + 31) // 32, Z * H)](
        q, k, v, o, D ** -0.5, *q.stride(), *k.stride(), *v.stride(), *o.stride(), H, N_CTX,
        HEAD_DIM=D, BLOCK_M=32, BLOCK_N=32, CAUSAL=causal, num_threads=threads)
    want = torch.nn.functional.scaled_dot_product_attention(q.double(), k.double(), v.double(), is_causal=causal)
    err = float((o.double() - want).abs().max())
    assert err <= 1e-4, f"seed={seed} max err {err}"
    if check_ir:
        ir = next(d.glob("*-contract.mlir")).read_text()
        assert "memref.transpose" in ir and re.search(r"permutation_map[^\n]*vector<16x16xf32>|"
                                                      r"permutation_map[^\n]*vector<8x8xf32>|"
                                                      r"vector\.shuffle [^\n]*vector<16xf32>", ir)


def test_linear_f16_matches_torch():
    """f16 weights and input: the transposed panels are f16, products accumulate in f32."""
    seed = current_seed()
    g = torch.Generator().manual_seed(seed)
    lin = torch.nn.Linear(131, 129)
    with torch.no_grad():
        lin.weight.copy_(torch.rand(129, 131, generator=g) * 2 - 1)
    lin = lin.half()
    x = (torch.rand(127, 131, generator=g) * 2 - 1).half()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = hexmlir.compile_model(lin, (x,), multithread=False)
        with torch.no_grad():
            got = f(x)
    with torch.no_grad():
        want = lin.double()(x.double())
    err = float((got.double() - want).abs().max())
    assert got.dtype == torch.float16 and err <= 1e-2, f"seed={seed} max err {err}"
