"""Attention on the host target: the Triton flash-attention kernel of the suite (online softmax over K/V
blocks) and the Linalg attention of the bench registry, against PyTorch's SDPA / NumPy on fresh seeded
inputs with sequence lengths that are not multiples of the blocks; and what the hot K/V loop must not do
(call libm's exp2 per element, allocate or copy buffers per iteration)."""
import math

import re

import numpy as np
import pytest
import torch
import triton
import triton.language as tl

from hexmlir.tools import fast_math_accuracy as acc
from conftest import current_seed


# ---------------------------------------------------------------------------------------------------------
# exp2 (flash attention's softmax): a vectorizable polynomial, not a libm call per element


def test_exp2_is_rewritten_and_accurate():
    j = acc.Jit(acc.kernel_source("exp2", "f32", 32))
    assert j.rewritten == 1 and "math.exp2" not in j.rewritten_ir
    seed = current_seed()
    rng = np.random.default_rng(seed)
    x = np.concatenate([np.linspace(-126, 127.99, 1 << 14), rng.uniform(-126, 127.99, 1 << 14),
                        rng.uniform(-1, 1, 1 << 14)]).astype(np.float32)
    y = j(x)
    ref = np.exp2(x.astype(np.float64))
    err = float(np.max(np.abs(y - ref) / acc.ulp(ref, "f32")))
    assert err <= 1.5, f"seed={seed} max error {err} ulp"


def test_exp2_special_values():
    j = acc.Jit(acc.kernel_source("exp2", "f32", 32))
    x = np.array([np.inf, -np.inf, np.nan, 128.0, np.nextafter(np.float32(128), np.float32(0)), -126.0,
                  np.nextafter(np.float32(-126), np.float32(-200)), 0.0, -0.0, 1e30, -1e30, -1e6, 1.0, 0.5]
                 + [0.0] * 18, np.float32)
    y = j(x)[:14]
    assert y[0] == np.inf and y[1] == 0 and np.isnan(y[2]) and y[3] == np.inf
    assert np.isfinite(y[4]) and abs(y[4] / 2.0 ** float(x[4]) - 1) < 2.0 ** -22
    assert y[5] == 2.0 ** -126 and y[6] == 0
    assert y[7] == 1 and y[8] == 1 and y[9] == np.inf and y[10] == 0 and y[11] == 0
    assert y[12] == 2 and abs(y[13] - math.sqrt(2)) <= 2.0 ** -23


# ---------------------------------------------------------------------------------------------------------
# The Triton flash-attention kernel of the suite (online softmax; masked K/V tails; causal)


def _flash(q, k, v, causal, threads, block=(32, 32), **extra):
    from hexmlir.kernels.triton_suite import flash_attention as fa
    Z, H, n, d = q.shape
    o = torch.empty_like(q)
    bm, bn = block
    kw = dict(num_threads=threads) if threads > 1 else dict(multithread=False)
    kw.update(extra)
    fa.attn_fwd_kernel[((n + bm - 1) // bm, Z * H)](
        q, k, v, o, d ** -0.5, *q.stride(), *k.stride(), *v.stride(), *o.stride(), H, n,
        HEAD_DIM=d, BLOCK_M=bm, BLOCK_N=bn, CAUSAL=causal, **kw)
    return o


@pytest.mark.parametrize("d,causal,threads,sizes", [
    (64, False, 1, [(1, 2, 1000), (2, 1, 33)]),
    (32, True, 1, [(1, 1, 1000), (1, 3, 33)]),
    (16, True, 2, [(2, 2, 67)]),
], ids=["d64", "d32-causal", "d16-causal-mt"])
def test_flash_attention_matches_sdpa(d, causal, threads, sizes):
    seed = current_seed()
    g = torch.Generator().manual_seed(seed)
    for Z, H, n in sizes:
        q, k, v = (torch.randn(Z, H, n, d, generator=g) for _ in range(3))
        o = _flash(q, k, v, causal, threads)
        want = torch.nn.functional.scaled_dot_product_attention(q.double(), k.double(), v.double(),
                                                                is_causal=causal)
        err = float((o.double() - want).abs().max())
        assert err <= 2e-5, f"seed={seed} shape={(Z, H, n, d)} causal={causal} max err {err}"


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_suite_launcher_host_blocks(causal):
    """The suite's launcher takes 64 x 64 blocks on the host (32 x 32 where a TCM stages them)."""
    from hexmlir.kernels.triton_suite import flash_attention as fa
    assert fa.blocks("host") == (64, 64) and fa.blocks("npu-emu") == (32, 32) and fa.blocks("hexagon") == (32, 32)
    seed = current_seed()
    g = torch.Generator().manual_seed(seed)
    for shape in [(1, 2, 1000, 64), (2, 1, 33, 64)]:
        q, k, v = (torch.randn(*shape, generator=g) for _ in range(3))
        o = (fa.attention_causal if causal else fa.attention)(q, k, v, multithread=False)
        want = torch.nn.functional.scaled_dot_product_attention(q.double(), k.double(), v.double(),
                                                                is_causal=causal)
        err = float((o.double() - want).abs().max())
        assert err <= 2e-5, f"seed={seed} shape={shape} causal={causal} max err {err}"


def _loops_of(op):
    from hexmlir.ir import enclosing_loop
    n, p = 0, enclosing_loop(op)
    while p is not None:
        n, p = n + 1, enclosing_loop(p)
    return n


def test_flash_attention_kv_loop_allocates_nothing(tmp_path, monkeypatch):
    """After bufferize and hoist-buffers, every buffer of the kernel (Q block, K^T and V blocks, scores,
    running max/sum, accumulator) is allocated once, outside the program and K/V loops: the carried
    accumulator is rescaled and accumulated in place, the running max copied into its carried buffer. The
    zero fill of a masked block load runs only when the block is partial, and a whole V block is read in
    place (no copy)."""
    from hexmlir import ir as hir
    d = tmp_path / "dump"
    monkeypatch.setenv("HEXMLIR_DUMP_DIR", str(d))
    monkeypatch.setenv("HEXMLIR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path / "tcache"))
    seed = current_seed()
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(1, 1, 100, 64, generator=g) for _ in range(3))
    o = _flash(q, k, v, False, 1, mt_threshold=1)   # an option no other test uses: a fresh compile
    want = torch.nn.functional.scaled_dot_product_attention(q.double(), k.double(), v.double())
    assert float((o.double() - want).abs().max()) <= 2e-5, f"seed={seed}"
    text = next(d.glob("*-hoist-buffers.mlir")).read_text()
    with hir.context():
        m = hir.parse(text)
        in_loops = []
        hir.walk(m.operation, lambda op: in_loops.append(op.name) if op.name in (
            "memref.alloc", "memref.dealloc", "func.call", "bufferization.dealloc") and _loops_of(op) else None)
    assert not in_loops, in_loops
    # the masked K^T / V block loads fill their buffer (other=0) only for the last, partial block
    unguarded = []

    def fill_outside_if(op):
        if op.name == "linalg.generic" and len(op.operands) == 2 and "memref" not in str(op.operands[0].type) \
                and _loops_of(op) and op.parent.name != "scf.if":
            unguarded.append(str(op)[:120])
    with hir.context():
        hir.walk(hir.parse(text).operation, fill_outside_if)
    assert not unguarded, unguarded
    # the V block (unit inner stride) is read where it lies when whole; K^T keeps its transposing copy
    copies = []
    with hir.context():
        m = hir.parse(text)
        hir.walk(m.operation, lambda op: copies.append(str(op.operands[0].type)) if op.name == "memref.copy"
                 and _loops_of(op) == 2 and op.parent.name != "scf.if" and "?x" in str(op.operands[0].type)
                 else None)                        # block loads (a dynamic extent), not the row max's init
    assert len(copies) == 1 and "strided<[1, ?]" in copies[0], copies
    assert re.search(r"arith.select %\w+, %\w+, %\w+ : memref<32x64xf32", text)


# ---------------------------------------------------------------------------------------------------------
# tl.max / tl.min (flash attention's row max): idempotent reductions run over the whole axis


@triton.jit
def _minmax_kernel(x_ptr, i_ptr, mx_ptr, mn_ptr, imx_ptr, R, C, BR: tl.constexpr, BC: tl.constexpr):
    rows = tl.arange(0, BR)
    cols = tl.arange(0, BC)
    m = (rows[:, None] < R) & (cols[None, :] < C)
    off = rows[:, None] * C + cols[None, :]
    x = tl.load(x_ptr + off, mask=m, other=-float("inf"))
    tl.store(mx_ptr + rows, tl.max(x, 1), mask=rows < R)
    y = tl.load(x_ptr + off, mask=m, other=float("inf"))
    tl.store(mn_ptr + cols, tl.min(y, 0), mask=cols < C)
    xi = tl.load(i_ptr + off, mask=m, other=-2147483648)
    tl.store(imx_ptr + rows, tl.max(xi, 1), mask=rows < R)


def test_max_min_reductions_over_whole_rows(tmp_path, monkeypatch):
    """tl.max / tl.min reduce all of the axis into the first element (the linalg.reduce reads the whole
    block, so it vectorizes into vector partials; it used to read the n - 1 elements after the first, a
    width of 63 here, 31 in flash attention, whose max ran as a scalar NaN-aware chain), and the horizontal
    step is a halving tree of vector max/min. Float rows with NaNs (maxnumf ignores them) and a masked
    tail; int32 rows."""
    monkeypatch.setenv("HEXMLIR_DUMP_DIR", str(tmp_path / "dump"))
    monkeypatch.setenv("HEXMLIR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path / "tcache"))
    seed = current_seed()
    rng = np.random.default_rng(seed)
    R, C = 37, 33
    x = rng.standard_normal((R, C)).astype(np.float32)
    x[rng.random((R, C)) < 0.1] = np.nan
    x[:, 0] = rng.standard_normal(R)                     # no row or column all NaN
    x[0, :] = rng.standard_normal(C)
    xi = rng.integers(-2 ** 31, 2 ** 31 - 1, (R, C), dtype=np.int32)
    mx, mn = torch.empty(R), torch.empty(C)
    imx = torch.empty(R, dtype=torch.int32)
    _minmax_kernel[(1,)](torch.from_numpy(x), torch.from_numpy(xi), mx, mn, imx, R, C, BR=64, BC=64,
                         multithread=False)
    np.testing.assert_array_equal(mx.numpy(), np.fmax.reduce(x, axis=1), err_msg=f"seed={seed}")
    np.testing.assert_array_equal(mn.numpy(), np.fmin.reduce(x, axis=0), err_msg=f"seed={seed}")
    np.testing.assert_array_equal(imx.numpy(), xi.max(axis=1), err_msg=f"seed={seed}")
    text = next((tmp_path / "dump").glob("00-input.mlir")).read_text()
    reduces = re.findall(r"linalg.reduce \{ arith.\w+ \} ins\(%\w+ : tensor<(\d+)x(\d+)x", text)
    assert reduces == [("64", "64")] * 3, reduces
    from hexmlir.targets import host_target
    if host_target().fma:               # float max/min end in a halving tree, not LLVM's serial scalar chain
        vec = next((tmp_path / "dump").glob("*-vectorize.mlir")).read_text()
        assert "vector.reduction <maxnumf>" not in vec and "vector.reduction <minnumf>" not in vec
        assert "arith.maxnumf" in vec and "vector.extract_strided_slice" in vec


@triton.jit
def _overwrite_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    rows = tl.arange(0, BLOCK)[:, None]
    off = rows * 16 + tl.arange(0, 16)[None, :]
    m = rows < n
    x = tl.load(x_ptr + off, mask=m, other=0.0)
    tl.store(x_ptr + off, x * 2.0, mask=m)           # the source changes while the loaded block is live
    s = tl.sum(x, 1)
    tl.store(y_ptr + off, x + s[:, None], mask=m)


@pytest.mark.parametrize("n", [64, 37])
def test_loaded_block_survives_a_store_to_its_source(n):
    """A block load is read from its source in place only where nothing can write that source while the
    block is live: here the kernel overwrites it, so the loaded values must be a copy."""
    seed = current_seed()
    x0 = torch.from_numpy(np.random.default_rng(seed).standard_normal((n, 16)).astype(np.float32))
    x, y = x0.clone(), torch.empty(n, 16)
    _overwrite_kernel[(1,)](x, y, n, BLOCK=64, multithread=False)
    torch.testing.assert_close(x, x0 * 2, msg=f"seed={seed}")
    torch.testing.assert_close(y, x0 + x0.sum(1, keepdim=True), msg=f"seed={seed}")


# ---------------------------------------------------------------------------------------------------------
# The registry's Linalg attention: what the softmax between the two matmuls costs


def _fused(mlir, **opts):
    """The module after the fusion stage (its text), for the given Options."""
    import hexmlir
    from hexmlir import ir as hir, targets
    from hexmlir.pipeline import CompileContext
    from hexmlir.transforms import canonicalize, check_input, fusion
    o = hexmlir.Options(**opts)
    with hir.context(), hir.ir.Location.unknown():
        m = hir.parse(mlir)
        cx = CompileContext(o, targets.get(o.target, o.arch))
        check_input.run(m, cx)
        canonicalize.run(m, cx)
        fusion.run(m, cx)
        return str(m)


def _generics_writing(text, shape):
    """Bodies (op names) of the linalg.generic ops whose result is a tensor of `shape`."""
    out = []
    for g in re.finditer(r"= linalg\.generic .*?\n(.*?)\} -> tensor<([0-9x]+)xf32>", text, re.S):
        if g.group(2) == shape:
            out.append(re.findall(r"(arith\.\w+|math\.\w+)", g.group(1)))
    return out


def test_attention_scores_take_one_pass_between_the_matmuls():
    """Between Q K^T and P V the s x s scores are written once (exp(s * c - max)), not four times: the
    scale (two consumers) is recomputed in the row max and the exp instead of a pass of its own, and the
    division by the row sum runs on P V's s x d result instead of the s x s probabilities (before: the
    matmul, scale, exp and divide each wrote an s x s tensor)."""
    from hexmlir.bench.registry import REGISTRY
    s, d = 1000, 40
    text = _fused(REGISTRY["attention"].kernel({"s": s, "d": d}).mlir)
    big = [b for b in _generics_writing(text, f"{s}x{s}") if b]           # not the zero fill
    assert big == [["arith.mulf", "arith.addf"], ["arith.mulf", "arith.subf", "math.exp"]], big
    assert _generics_writing(text, f"{s}x{d}")[-1] == ["arith.divf"]
    # the row max reads the matmul's result and scales it itself
    assert re.search(r"arith\.mulf %in, %cst\S* : f32\n\s*%\d+ = arith\.maximumf", text)
    # without fast_math the division stays where the source put it (no reassociation)
    exact = _fused(REGISTRY["attention"].kernel({"s": s, "d": d}).mlir, fast_math=False)
    assert ["arith.divf"] in _generics_writing(exact, f"{s}x{s}")


def _row_scaled_mlir(m, k, n, op, scale_map):
    """C = (A op r) @ B with r a vector indexed by `scale_map` over (i, k) and op divf or mulf."""
    r_len = m if scale_map == "(d0)" else k
    return f"""
func.func @f(%a: tensor<{m}x{k}xf32>, %r: tensor<{r_len}xf32>, %b: tensor<{k}x{n}xf32>) -> tensor<{m}x{n}xf32> {{
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<{m}x{k}xf32>
  %p = linalg.generic {{indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> {scale_map}>,
                                         affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}}
      ins(%a, %r : tensor<{m}x{k}xf32>, tensor<{r_len}xf32>) outs(%e : tensor<{m}x{k}xf32>) {{
    ^bb0(%x: f32, %y: f32, %o: f32):
      %q = arith.{op} %x, %y : f32
      linalg.yield %q : f32
  }} -> tensor<{m}x{k}xf32>
  %ec = tensor.empty() : tensor<{m}x{n}xf32>
  %f = linalg.fill ins(%z : f32) outs(%ec : tensor<{m}x{n}xf32>) -> tensor<{m}x{n}xf32>
  %c = linalg.matmul ins(%p, %b : tensor<{m}x{k}xf32>, tensor<{k}x{n}xf32>) outs(%f : tensor<{m}x{n}xf32>) -> tensor<{m}x{n}xf32>
  return %c : tensor<{m}x{n}xf32>
}}"""


@pytest.mark.parametrize("op,scale_map,moved", [("divf", "(d0)", True), ("mulf", "(d0)", True),
                                                ("divf", "(d1)", False)], ids=["div-row", "mul-row", "div-col"])
def test_row_scaling_moves_past_the_contraction(op, scale_map, moved, rng, seed):
    """(A / r[i]) @ B == (A @ B) / r[i]: the scaling runs on the m x n result. A scaling along k (r[k])
    cannot move (it differs per term of the sum) and stays before the matmul. Both match NumPy."""
    import hexmlir
    m, k, n = 37, 203, 33
    mlir = _row_scaled_mlir(m, k, n, op, scale_map)
    text = _fused(mlir)
    after = _generics_writing(text, f"{m}x{n}")
    assert (after[-1] == [f"arith.{op}"]) == moved, text
    assert ([f"arith.{op}"] in _generics_writing(text, f"{m}x{k}")) == (not moved), text
    a = rng.uniform(-2, 2, (m, k)).astype(np.float32)
    r = rng.uniform(0.5, 2, (m if scale_map == "(d0)" else k,)).astype(np.float32)
    b = rng.uniform(-1, 1, (k, n)).astype(np.float32)
    rr = r.astype(np.float64)[:, None] if scale_map == "(d0)" else r.astype(np.float64)[None, :]
    ref = ((a / rr) if op == "divf" else (a * rr)) @ b.astype(np.float64)
    for threads in (1, 2):
        out = hexmlir.compile(mlir, hexmlir.Options(num_threads=threads))(a, r, b)
        err = float(np.abs(out - ref).max())
        assert err < 1e-4, f"seed={seed} {op} {scale_map} threads={threads}: max abs err {err}"


def test_cheap_producer_is_recomputed_in_each_consumer(rng, seed):
    """y = x * c read by a row max and by an exp (softmax's scale): the multiply is merged into both (no
    generic of its own), an expensive producer (exp, read by a sum and a divide) is not copied."""
    import hexmlir
    from hexmlir.bench.registry import REGISTRY
    k = REGISTRY["softmax"].kernel({"m": 13, "n": 203})
    text = _fused(k.mlir)
    exps = sum(b.count("math.exp") for b in _generics_writing(text, "13x203"))
    assert exps == 1, text
    s, d = 67, 16
    att = REGISTRY["attention"].kernel({"s": s, "d": d})
    text = _fused(att.mlir)
    assert ["arith.mulf"] not in _generics_writing(text, f"{s}x{s}"), text
    q = rng.uniform(-2, 2, (s, d)).astype(np.float32)
    kt = rng.uniform(-2, 2, (d, s)).astype(np.float32)
    v = rng.uniform(-1, 1, (s, d)).astype(np.float32)
    a = q.astype(np.float64) @ kt / math.sqrt(d)
    e = np.exp(a - a.max(-1, keepdims=True))
    ref = (e / e.sum(-1, keepdims=True)) @ v
    out = hexmlir.compile(att.mlir, hexmlir.Options(multithread=False))(q, kt, v)
    assert float(np.abs(out - ref).max()) < 1e-5, f"seed={seed}"


@pytest.mark.parametrize("case", ["attention", "matmul", "matmul-k-chunks"])
def test_zero_filled_accumulators_start_in_registers(case, tmp_path, monkeypatch, rng, seed):
    """A contraction whose C the op right before fills with zeros starts its micro-tiles from zero registers
    and the fill goes: no memset of attention's scores (or of a matmul's output) per call, no load of the
    zeros. With k in chunks (each chunk accumulates onto C) the fill stays. Numerics against NumPy."""
    import hexmlir
    from hexmlir.bench.registry import REGISTRY
    from hexmlir.kernels import linalg_suite as S
    from hexmlir.targets import host_target
    monkeypatch.setenv("HEXMLIR_DUMP_DIR", str(tmp_path / "dump"))
    monkeypatch.setenv("HEXMLIR_CACHE_DIR", str(tmp_path / "cache"))
    if case == "attention":
        s, d = 512, 40                 # whole row blocks (a partial one has dynamic micro-tiles: C is loaded)
        k = REGISTRY["attention"].kernel({"s": s, "d": d})
        ins = [rng.uniform(-2, 2, sh).astype(np.float32) for sh in [(s, d), (d, s), (s, d)]]
        a = ins[0].astype(np.float64) @ ins[1] / math.sqrt(d)
        e = np.exp(a - a.max(-1, keepdims=True))
        ref = (e / e.sum(-1, keepdims=True)) @ ins[2]
    else:
        m, n, kk = (37, 45, 29) if case == "matmul" else (40, 48, 3001)
        k = S.matmul(m, n, kk)
        ins = [rng.uniform(-1, 1, (m, kk)).astype(np.float32), rng.uniform(-1, 1, (kk, n)).astype(np.float32)]
        ref = ins[0].astype(np.float64) @ ins[1]
    out = hexmlir.compile(k.mlir, hexmlir.Options(multithread=False))(*ins)
    assert float(np.abs(out - ref).max()) < 1e-3 * (30 if case == "matmul-k-chunks" else 1), f"seed={seed}"
    if host_target().fma:
        asm = next((tmp_path / "dump").glob("91-target.s")).read_text()
        assert ("memset" in asm) == (case == "matmul-k-chunks"), case


def test_row_scaling_with_a_row_select_moves_past_the_contraction(rng, seed):
    """Route B's SDPA normalizes with select(all_masked[i], 0, e / sum[i]): the select (a row condition, 0.0)
    moves with the division onto the m x n result. Rows selected to 0 (their operand NaN, as an all -inf
    row's exp(-inf - -inf) is) come out 0; the others match NumPy."""
    import hexmlir
    m, k, n = 37, 203, 33
    mp = "affine_map<(d0, d1) -> (d0, d1)>"
    row = "affine_map<(d0, d1) -> (d0)>"
    mlir = f"""
func.func @f(%a: tensor<{m}x{k}xf32>, %r: tensor<{m}xf32>, %c: tensor<{m}xi1>, %b: tensor<{k}x{n}xf32>) -> tensor<{m}x{n}xf32> {{
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<{m}x{k}xf32>
  %p = linalg.generic {{indexing_maps = [{row}, {mp}, {row}, {mp}], iterator_types = ["parallel", "parallel"]}}
      ins(%c, %a, %r : tensor<{m}xi1>, tensor<{m}x{k}xf32>, tensor<{m}xf32>) outs(%e : tensor<{m}x{k}xf32>) {{
    ^bb0(%s: i1, %x: f32, %y: f32, %o: f32):
      %q = arith.divf %x, %y : f32
      %w = arith.select %s, %z, %q : f32
      linalg.yield %w : f32
  }} -> tensor<{m}x{k}xf32>
  %ec = tensor.empty() : tensor<{m}x{n}xf32>
  %f = linalg.fill ins(%z : f32) outs(%ec : tensor<{m}x{n}xf32>) -> tensor<{m}x{n}xf32>
  %mm = linalg.matmul ins(%p, %b : tensor<{m}x{k}xf32>, tensor<{k}x{n}xf32>) outs(%f : tensor<{m}x{n}xf32>) -> tensor<{m}x{n}xf32>
  return %mm : tensor<{m}x{n}xf32>
}}"""
    text = _fused(mlir)
    assert _generics_writing(text, f"{m}x{n}")[-1] == ["arith.divf", "arith.select"], text
    a = rng.uniform(-2, 2, (m, k)).astype(np.float32)
    r = rng.uniform(0.5, 2, (m,)).astype(np.float32)
    c = rng.random(m) < 0.3
    a[c] = np.nan
    b = rng.uniform(-1, 1, (k, n)).astype(np.float32)
    ref = (a.astype(np.float64) / r[:, None]) @ b
    ref[c] = 0.0
    for threads in (1, 2):
        out = hexmlir.compile(mlir, hexmlir.Options(num_threads=threads))(a, r, c, b)
        err = float(np.abs(out - ref).max())
        assert err < 1e-4, f"seed={seed} threads={threads}: max abs err {err}"
