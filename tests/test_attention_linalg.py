"""Attention as separate Linalg ops on the host (softmax(Q K^T * scale) V: the bench registry's `attention`
and route B's decomposed F.scaled_dot_product_attention): the plan fuses matmul -> softmax -> matmul into
one group tiled by blocks of query rows, K^T and V charged once as cache-resident (plan.resident_operands),
not per tile; numerics against NumPy / PyTorch on fresh seeded inputs with awkward sizes."""
import math

import numpy as np
import pytest

import hexmlir
from hexmlir import ir as hir
from hexmlir import plan as P
from hexmlir import targets
from hexmlir.bench.registry import REGISTRY
from hexmlir.pipeline import CompileContext
from attention_mlir import softmax_pv


def _plan(mlir, options):
    from hexmlir.transforms import canonicalize, check_input, fusion
    t = targets.get(options.target, options.arch)
    with hir.context(), hir.ir.Location.unknown():
        m = hir.parse(mlir)
        cx = CompileContext(options, t)
        check_input.run(m, cx)
        canonicalize.run(m, cx)
        fusion.run(m, cx)
        return P.build(m, t, options)


@pytest.mark.parametrize("threads", [1, 2, 16])
def test_host_attention_is_one_row_block_group(threads):
    """Before: K^T and V (256 KiB each) were charged to every tile, so S = Q K^T, the softmax and P V were
    three groups (S and P through memory) and the contraction roots got no cache tiles at 1 thread."""
    pl = _plan(REGISTRY["attention"].kernel().mlir, hexmlir.Options(num_threads=threads))
    roots = [p for p in pl.ops.values() if p.role == "root"]
    assert len(roots) == 1, pl.describe()
    root = roots[0]
    assert all(p.root == root.id for p in pl.ops.values() if p.role == "producer")
    rows = root.tcm_tile[0]
    assert 0 < rows < 1024 and not any(root.tcm_tile[1:]), pl.describe()
    assert root.tile_bytes <= pl.tile_budget
    streamed, resident = P.split_bytes(pl, root, root.tcm_tile)
    assert streamed == root.tile_bytes and 2 * 1024 * 64 * 4 <= resident <= pl.target.cache_resident_bytes
    assert "cache-resident" in root.tcm_note


def test_resident_operands_are_bounded_by_the_cache():
    """A chain whose re-read operands exceed a core's cache share stays split: two 1 MiB Linears."""
    m, k, n = 64, 256, 1024
    mlir = f"""
func.func @mlp(%x: tensor<{m}x{k}xf32>, %w1: tensor<{k}x{n}xf32>, %w2: tensor<{n}x{k}xf32>) -> tensor<{m}x{k}xf32> {{
  %z = arith.constant 0.0 : f32
  %e1 = tensor.empty() : tensor<{m}x{n}xf32>
  %f1 = linalg.fill ins(%z : f32) outs(%e1 : tensor<{m}x{n}xf32>) -> tensor<{m}x{n}xf32>
  %h = linalg.matmul ins(%x, %w1 : tensor<{m}x{k}xf32>, tensor<{k}x{n}xf32>) outs(%f1 : tensor<{m}x{n}xf32>) -> tensor<{m}x{n}xf32>
  %e2 = tensor.empty() : tensor<{m}x{n}xf32>
  %r = linalg.exp ins(%h : tensor<{m}x{n}xf32>) outs(%e2 : tensor<{m}x{n}xf32>) -> tensor<{m}x{n}xf32>
  %e3 = tensor.empty() : tensor<{m}x{k}xf32>
  %f3 = linalg.fill ins(%z : f32) outs(%e3 : tensor<{m}x{k}xf32>) -> tensor<{m}x{k}xf32>
  %y = linalg.matmul ins(%r, %w2 : tensor<{m}x{n}xf32>, tensor<{n}x{k}xf32>) outs(%f3 : tensor<{m}x{k}xf32>) -> tensor<{m}x{k}xf32>
  return %y : tensor<{m}x{k}xf32>
}}"""
    pl = _plan(mlir, hexmlir.Options(num_threads=1))
    roots = [p for p in pl.ops.values() if p.role == "root"]
    assert not any(P.chained_contractions(P.group_members(pl, r)) for r in roots), pl.describe()
    assert any("not fused into" in r.tcm_note for r in roots), pl.describe()


@pytest.mark.parametrize("name", ["softmax", "layernorm", "rmsnorm", "matmul", "vector_add"])
def test_other_kernels_charge_every_operand_per_tile(name):
    """Resident charging is for groups holding a contraction: row reductions keep their L1-sized tiles with
    the weight vectors counted (their plans did not change), and plain matmuls keep thread tiles only."""
    for threads in (1, 2):
        pl = _plan(REGISTRY[name].kernel().mlir, hexmlir.Options(num_threads=threads))
        for p in pl.ops.values():
            if p.role != "root":
                continue
            assert not P.chained_contractions(P.group_members(pl, p))
            if any(p.tcm_tile) and "thread tiles" not in p.tcm_note:
                assert P.group_tcm_bytes(pl, p, p.tcm_tile) == p.tile_bytes, pl.describe()


def _attention_ref(q, kt, v):
    a = (q.astype(np.float64) @ kt.astype(np.float64)) / math.sqrt(q.shape[-1])
    e = np.exp(a - a.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)) @ v.astype(np.float64)


@pytest.mark.parametrize("s,d,threads", [(67, 16, 1), (1000, 40, 1), (1000, 40, 2), (1024, 64, 2)])
def test_registry_attention_matches_numpy(s, d, threads, rng, seed):
    k = REGISTRY["attention"].kernel({"s": s, "d": d})
    kern = hexmlir.compile(k.mlir, hexmlir.Options(num_threads=threads))
    q = rng.uniform(-2, 2, (s, d)).astype(np.float32)
    kt = rng.uniform(-2, 2, (d, s)).astype(np.float32)
    v = rng.uniform(-1, 1, (s, d)).astype(np.float32)
    out = kern(q, kt, v)
    err = float(np.abs(out - _attention_ref(q, kt, v)).max())
    assert err < 1e-5, f"seed={seed} s={s} d={d} threads={threads}: max abs err {err}"


def _sdpa_case(shape, causal, threads, seed):
    torch = pytest.importorskip("torch")
    pytest.importorskip("torch_mlir")
    import torch.nn.functional as F

    class M(torch.nn.Module):
        def forward(self, q, k, v):
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal)

    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(*shape, generator=g) for _ in range(3))
    c = hexmlir.compile_model(M(), (q, k, v), target="host", strict=True, num_threads=threads)
    ref = M()(q.double(), k.double(), v.double())
    err = float((c(q, k, v).double() - ref).abs().max())
    assert err < 1e-5, f"seed={seed} shape={shape} causal={causal} threads={threads}: max abs err {err}"
    return c


@pytest.mark.slow
def test_route_b_sdpa_is_one_group(seed):
    """Route B: the batch matmuls sit on [B*H, ...] views of [1, H, ...] tensors; fusion folds those unit
    dims (fusion._chain_split_by_unit_reshape) so Q K^T, softmax and P V form one row-block group (before:
    four groups, the scores through memory between each)."""
    c = _sdpa_case((1, 3, 67, 16), False, 1, seed)
    pl = _plan(c.graph.mlir_text, hexmlir.Options(num_threads=1))
    roots = [p for p in pl.ops.values() if p.role == "root"]
    contractions = [p for p in pl.ops.values() if P.is_contraction(p)]
    assert len(contractions) == 2 and all(p.role == "producer" or p in roots for p in contractions)
    assert P.chained_contractions(P.group_members(pl, roots[-1])), pl.describe()


@pytest.mark.slow
@pytest.mark.parametrize("shape,causal,threads", [((1, 3, 1000, 40), False, 1), ((1, 3, 1000, 40), True, 2),
                                                  ((2, 2, 333, 24), True, 1), ((1, 8, 1024, 64), False, 2)])
def test_route_b_sdpa_matches_torch(shape, causal, threads, seed):
    _sdpa_case(shape, causal, threads, seed)


def _batched_attention_mlir(h, s, d):
    t, kt, sc = f"tensor<{h}x{s}x{d}xf32>", f"tensor<{h}x{d}x{s}xf32>", f"tensor<{h}x{s}x{s}xf32>"
    r = f"tensor<{h}x{s}xf32>"
    return f"""
func.func @attn(%q: {t}, %k: {kt}, %v: {t}) -> {t} {{
  %z = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %e = tensor.empty() : {sc}
  %f = linalg.fill ins(%z : f32) outs(%e : {sc}) -> {sc}
  %s = linalg.batch_matmul ins(%q, %k : {t}, {kt}) outs(%f : {sc}) -> {sc}
  %er = tensor.empty() : {r}""" + softmax_pv("s", sc, r, t, t)


@pytest.mark.parametrize("threads", [1, 2])
def test_batched_attention_tiles_one_head_at_a_time(threads):
    """Three heads' K^T and V (960 KiB) exceed the core's cache share, one head's (320 KiB) does not: the
    tile takes one head's query rows. Before, the tile search did not bound what it took out as resident,
    and keeping all heads whole made every tile look cheaper (3 heads x 4 rows)."""
    pl = _plan(_batched_attention_mlir(3, 1000, 40), hexmlir.Options(num_threads=threads))
    roots = [p for p in pl.ops.values() if p.role == "root"]
    assert len(roots) == 1 and P.chained_contractions(P.group_members(pl, roots[0])), pl.describe()
    tile = roots[0].tcm_tile
    assert tile[0] == 1 and 0 < tile[1] < 1000, pl.describe()
    assert P.split_bytes(pl, roots[0], tile)[1] <= pl.target.cache_resident_bytes


def test_batched_attention_matches_numpy(rng, seed):
    h, s, d = 3, 333, 24
    kern = hexmlir.compile(_batched_attention_mlir(h, s, d), hexmlir.Options(num_threads=2))
    q, v = (rng.uniform(-2, 2, (h, s, d)).astype(np.float32) for _ in range(2))
    kt = rng.uniform(-2, 2, (h, d, s)).astype(np.float32)
    a = np.einsum("hid,hdj->hij", q.astype(np.float64), kt.astype(np.float64))
    e = np.exp(a - a.max(-1, keepdims=True))
    ref = np.einsum("hij,hjd->hid", e / e.sum(-1, keepdims=True), v.astype(np.float64))
    err = float(np.abs(kern(q, kt, v) - ref).max())
    assert err < 1e-5, f"seed={seed}: max abs err {err}"


@pytest.mark.parametrize("shape", [(2, 256, 32), (4, 128, 64)])
def test_chained_tile_has_micro_kernel_rows(shape):
    """The reuse cost is nearly flat in the row count once K^T and V are resident; ties went to 1-4-row
    blocks (the GPT-2 block's attention at (2, 128, 256) took 1 row), below the contract stage's MR rows."""
    pl = _plan(_batched_attention_mlir(*shape), hexmlir.Options(num_threads=1))
    root = [p for p in pl.ops.values() if p.role == "root"][-1]
    assert root.tcm_tile[0] == 1 and root.tcm_tile[1] >= P.MIN_CONTRACTION_ROWS, pl.describe()
