"""Causal attention on the host (transforms/causal.py, the causal-skip stage): a chain Q K^T -> `j - i <= C`
mask -> softmax -> P V is split into row segments that compute only the key columns some row of the
segment keeps. Numerics against torch's SDPA (is_causal=True, and equivalent tril / masked_fill masks) and
NumPy on fresh seeded inputs; the IR tests count the multiply-adds of the contractions after the stage.
Masks the stage cannot prove (a mask tensor, tril(-1), triu, a reduction that -inf columns change) keep
every column. transformers' GPT-2 and LLaMA (masks built from position tensors) against eager, also with a
padding attention_mask (its causal part proven, the padding kept in the segments' masks)."""
import numpy as np
import pytest

import hexmlir
from hexmlir import ir as hir
from hexmlir import plan as P
from hexmlir import targets
from hexmlir.pipeline import run as run_pipeline
from attention_mlir import M2, M3, softmax_pv


def _contraction_macs(mlir, options=None):
    """(multiply-adds of the float contractions the plan sees, the stage log)."""
    o = options or hexmlir.Options(num_threads=1)
    with hir.context(), hir.ir.Location.unknown():
        m = hir.parse(mlir)
        cx = run_pipeline(m, o, targets.get(o.target, o.arch), until="plan")
        macs = 0
        for g in hir.ops_named(m.operation, "linalg.generic"):
            loops, iters, *_ = P.generic_info(g)
            if "reduction" in iters and any(x.name == "arith.mulf" for x in g.regions[0].blocks[0].operations):
                macs += int(np.prod(loops))
        return macs, cx.log


def _attention_mlir(h, rows, cols, d, pred="sle", bound=0, tail="softmax"):
    """Q [h, rows, d], K^T [h, d, cols], V [h, cols, d]; scores + (j - i `pred` bound ? 0 : -inf), then the
    softmax and P V (tail="softmax"; "clamp": max(x - max, -30) instead of exp, which masked columns add
    -30 to the sum through), a min over the columns ("min"), a max over the rows read by every row
    ("colmax")."""
    q, kt, v = f"tensor<{h}x{rows}x{d}xf32>", f"tensor<{h}x{d}x{cols}xf32>", f"tensor<{h}x{cols}x{d}xf32>"
    sc, r = f"tensor<{h}x{rows}x{cols}xf32>", f"tensor<{h}x{rows}xf32>"
    m3, m2 = M3, M2
    head = f"""
func.func @attn(%q: {q}, %k: {kt}, %v: {v}) -> {{RES}} {{
  %z = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %cb = arith.constant {bound} : i64
  %e = tensor.empty() : {sc}
  %f = linalg.fill ins(%z : f32) outs(%e : {sc}) -> {sc}
  %s = linalg.batch_matmul ins(%q, %k : {q}, {kt}) outs(%f : {sc}) -> {sc}
  %ms = linalg.generic {{indexing_maps = [{m3}, {m3}], iterator_types = ["parallel", "parallel", "parallel"]}}
      ins(%s : {sc}) outs(%e : {sc}) {{
    ^bb0(%a: f32, %o: f32):
      %i = linalg.index 1 : index
      %j = linalg.index 2 : index
      %ii = arith.index_cast %i : index to i64
      %jj = arith.index_cast %j : index to i64
      %dd = arith.subi %jj, %ii : i64
      %c = arith.cmpi {pred}, %dd, %cb : i64
      %w = arith.select %c, %z, %ninf : f32
      %y = arith.addf %a, %w : f32
      linalg.yield %y : f32
  }} -> {sc}
  %er = tensor.empty() : {r}"""
    if tail == "colmax":                 # out[b, i] = sum_j exp(ms[b, i, j] - max_i' ms[b, i', j]): rows depend
        c2 = f"tensor<{h}x{cols}xf32>"   # on each other
        mc = "affine_map<(b, i, j) -> (b, j)>"
        return head.replace("{RES}", r) + f"""
  %ec = tensor.empty() : {c2}
  %fc = linalg.fill ins(%ninf : f32) outs(%ec : {c2}) -> {c2}
  %cm = linalg.generic {{indexing_maps = [{m3}, {mc}], iterator_types = ["parallel", "reduction", "parallel"]}}
      ins(%ms : {sc}) outs(%fc : {c2}) {{
    ^bb0(%a: f32, %b: f32):
      %y = arith.maximumf %a, %b : f32
      linalg.yield %y : f32
  }} -> {c2}
  %fz = linalg.fill ins(%z : f32) outs(%er : {r}) -> {r}
  %o = linalg.generic {{indexing_maps = [{m3}, {mc}, {m2}], iterator_types = ["parallel", "parallel", "reduction"]}}
      ins(%ms, %cm : {sc}, {c2}) outs(%fz : {r}) {{
    ^bb0(%a: f32, %b: f32, %c: f32):
      %y = arith.subf %a, %b : f32
      %w = math.exp %y : f32
      %x = arith.addf %w, %c : f32
      linalg.yield %x : f32
  }} -> {r}
  return %o : {r}
}}"""
    if tail == "min":
        pinf = "0x7F800000"
        return head.replace("{RES}", r) + f"""
  %pinf = arith.constant {pinf} : f32
  %fm = linalg.fill ins(%pinf : f32) outs(%er : {r}) -> {r}
  %mn = linalg.generic {{indexing_maps = [{m3}, {m2}], iterator_types = ["parallel", "parallel", "reduction"]}}
      ins(%ms : {sc}) outs(%fm : {r}) {{
    ^bb0(%a: f32, %b: f32):
      %y = arith.minimumf %a, %b : f32
      linalg.yield %y : f32
  }} -> {r}
  return %mn : {r}
}}"""
    act = "%w = math.exp %y : f32" if tail == "softmax" else "%w = arith.maximumf %y, %c30 : f32"
    return head.replace("{RES}", q) + """
  %c30 = arith.constant -30.0 : f32""" + softmax_pv("ms", sc, r, q, v, act)


def _numpy_masked(q, kt, keep):
    a = np.einsum("hid,hdj->hij", q.astype(np.float64), kt.astype(np.float64))
    return np.where(keep, a, -np.inf)


def test_causal_chain_computes_only_kept_columns():
    """1000 rows, 8 segments: the contractions of segment [a, b) cover columns [0, b) only (before: every
    segment of the row-block loop computed all 1000 columns; 2 x 3 x 1000^2 x 40 multiply-adds)."""
    h, s, d = 3, 1000, 40
    full = 2 * h * s * s * d
    macs, log = _contraction_macs(_attention_mlir(h, s, s, d))
    assert "causal-skip" in log, log
    assert macs <= 0.6 * full, (macs, full)
    off, log = _contraction_macs(_attention_mlir(h, s, s, d), hexmlir.Options(num_threads=1, causal_skip=False))
    assert "causal-skip: off" in log and off == full


def test_causal_chain_segments_have_static_column_bounds():
    """Each segment's Q K^T has as many columns as its last row + 1 (static shapes: the plan, micro-kernels
    and vector tails downstream are the ordinary ones); the last segment keeps the mask on the diagonal."""
    from hexmlir.transforms import causal
    mlir = _attention_mlir(2, 333, 333, 24)
    o = hexmlir.Options(num_threads=1)
    with hir.context(), hir.ir.Location.unknown():
        m = hir.parse(mlir)
        run_pipeline(m, o, targets.get(o.target, o.arch), until="plan")
        shapes = [tuple(hir.ir.RankedTensorType(g.results[0].type).shape)
                  for g in hir.ops_named(m.operation, "linalg.generic")
                  if any(x.name == "arith.cmpi" for x in g.regions[0].blocks[0].operations)]
    segs = causal._segments(333, 333, 0)
    assert shapes == [(2, b - a, n) for a, b, n in segs], shapes
    assert len(segs) > 1 and all(n == b for a, b, n in segs)


def test_short_sequences_stay_whole():
    """Under 64 query rows (4 segments of 16) the chain is not copied: little to save, compile time x K."""
    h, s, d = 2, 48, 16
    assert _contraction_macs(_attention_mlir(h, s, s, d))[0] == 2 * h * s * s * d


@pytest.mark.parametrize("pred,bound,split", [("sle", 0, True), ("sle", 2, True), ("slt", 1, True),
                                              ("sle", -1, False), ("sge", 0, False), ("sgt", -1, False)])
def test_mask_offsets(pred, bound, split, rng, seed):
    """j - i <= C with C >= 0 is split (column bound b + C); a mask that empties rows (C < 0) or keeps the
    upper triangle is not. Each is correct against NumPy."""
    h, rows, cols, d = 2, 77, 130, 24
    mlir = _attention_mlir(h, rows, cols, d, pred, bound)
    full = 2 * h * rows * cols * d
    macs, _ = _contraction_macs(mlir)
    assert (macs < full) == split, (macs, full)
    q = rng.uniform(-2, 2, (h, rows, d)).astype(np.float32)
    kt = rng.uniform(-2, 2, (h, d, cols)).astype(np.float32)
    v = rng.uniform(-1, 1, (h, cols, d)).astype(np.float32)
    i, j = np.arange(rows)[:, None], np.arange(cols)[None, :]
    keep = {"sle": j - i <= bound, "slt": j - i < bound, "sge": j - i >= bound, "sgt": j - i > bound}[pred]
    a = _numpy_masked(q, kt, keep)
    mx = a.max(-1, keepdims=True)
    e = np.where(keep, np.exp(a - np.where(np.isfinite(mx), mx, 0)), 0.0)
    ssum = e.sum(-1, keepdims=True)
    p = np.where(ssum > 0, e / np.where(ssum > 0, ssum, 1), np.nan)      # all-masked rows: 0/0 (no guard)
    ref = np.einsum("hij,hjd->hid", p, v.astype(np.float64))
    out = hexmlir.compile(mlir, hexmlir.Options(num_threads=1))(q, kt, v)
    ok = np.isfinite(ref)
    assert np.array_equal(ok, np.isfinite(out)), f"seed={seed} {pred} {bound}: non-finite rows differ"
    err = float(np.abs(out[ok] - ref[ok]).max())
    assert err < 1e-5, f"seed={seed} {pred} {bound}: max abs err {err}"


def test_reduction_that_sees_masked_columns_keeps_them(rng, seed):
    """A min over the masked scores is -inf wherever a column is masked: dropping those columns would
    change it. Fusion puts the mask into the min's body (one op, no mask generic), so nothing is split;
    the result matches NumPy. (test_masked_columns_that_reach_the_sum_keep_them has the mask op itself.)"""
    h, s, d = 2, 96, 16
    mlir = _attention_mlir(h, s, s, d, tail="min")
    macs, _ = _contraction_macs(mlir)
    assert macs == h * s * s * d
    q = rng.uniform(-2, 2, (h, s, d)).astype(np.float32)
    kt = rng.uniform(-2, 2, (h, d, s)).astype(np.float32)
    keep = np.arange(s)[None, :] <= np.arange(s)[:, None]
    ref = _numpy_masked(q, kt, keep).min(-1)
    out = hexmlir.compile(mlir, hexmlir.Options(num_threads=1))(q, kt, np.zeros((h, s, d), np.float32))
    fin = np.isfinite(ref)
    assert np.array_equal(fin, np.isfinite(out)) and float(np.abs(out[fin] - ref[fin]).max()) < 1e-4, f"seed={seed}"


def test_masked_columns_that_reach_the_sum_keep_them(rng, seed):
    """max(x - max, -30) instead of exp: a masked column is -30, not 0, in the sum and in P, so no column may
    be dropped (the check on the ops after the mask refuses), and the result matches NumPy."""
    h, s, d = 2, 96, 16
    mlir = _attention_mlir(h, s, s, d, tail="clamp")
    assert _contraction_macs(mlir)[0] == 2 * h * s * s * d
    q = rng.uniform(-2, 2, (h, s, d)).astype(np.float32)
    kt = rng.uniform(-2, 2, (h, d, s)).astype(np.float32)
    v = rng.uniform(-1, 1, (h, s, d)).astype(np.float32)
    a = _numpy_masked(q, kt, np.arange(s)[None, :] <= np.arange(s)[:, None])
    e = np.maximum(a - a.max(-1, keepdims=True), -30.0)
    ref = np.einsum("hij,hjd->hid", e / e.sum(-1, keepdims=True), v.astype(np.float64))
    out = hexmlir.compile(mlir, hexmlir.Options(num_threads=1))(q, kt, v)
    err = float(np.abs(out - ref).max())
    assert err < 1e-5, f"seed={seed}: max abs err {err}"


def test_rows_that_depend_on_each_other_stay_whole(rng, seed):
    """A max over the rows of each column, read back by every row: segments of rows would each see only
    their own rows, so the chain is not split (and matches NumPy)."""
    h, s, d = 2, 96, 16
    mlir = _attention_mlir(h, s, s, d, tail="colmax")
    assert _contraction_macs(mlir)[0] == h * s * s * d
    q = rng.uniform(-2, 2, (h, s, d)).astype(np.float32)
    kt = rng.uniform(-2, 2, (h, d, s)).astype(np.float32)
    a = _numpy_masked(q, kt, np.arange(s)[None, :] <= np.arange(s)[:, None])
    ref = np.exp(a - a.max(1, keepdims=True)).sum(-1)
    out = hexmlir.compile(mlir, hexmlir.Options(num_threads=1))(q, kt, np.zeros((h, s, d), np.float32))
    err = float(np.abs(out - ref).max() / np.abs(ref).max())
    assert err < 1e-5, f"seed={seed}: max rel err {err}"


# --- route B: torch's SDPA and hand-written masks -----------------------------------------------------

def _torch_case(fwd, q_shape, kv_shape, threads, seed, extra=()):
    torch = pytest.importorskip("torch")
    pytest.importorskip("torch_mlir")

    class M(torch.nn.Module):
        def forward(self, q, k, v, *rest):
            return fwd(q, k, v, *rest)

    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*q_shape, generator=g)
    k, v = (torch.randn(*kv_shape, generator=g) for _ in range(2))
    args = (q, k, v, *extra)
    c = hexmlir.compile_model(M(), args, target="host", strict=True, num_threads=threads)
    ref = M()(*(a.double() if a.is_floating_point() else a for a in args))
    err = float((c(*args).double() - ref).abs().max())
    assert err < 1e-5, f"seed={seed} q={q_shape} kv={kv_shape} threads={threads}: max abs err {err}"
    bh = int(np.prod(q_shape[:-2]))
    full = 2 * bh * q_shape[-2] * kv_shape[-2] * q_shape[-1]
    return _contraction_macs(c.graph.mlir_text)[0], full


def _sdpa_causal(q, k, v):
    import torch.nn.functional as F
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


@pytest.mark.parametrize("q_shape,kv_shape,threads", [
    ((2, 2, 333, 24), (2, 2, 333, 24), 3), ((1, 2, 77, 24), (1, 2, 130, 24), 1),
    ((1, 2, 130, 24), (1, 2, 77, 24), 3)])
def test_sdpa_is_causal_matches_torch(q_shape, kv_shape, threads, seed):
    """torch's is_causal is top-left aligned (tril(ones(L, S))): with L > S the rows past S keep every
    column (one full-width segment), with L < S the columns past L are never read."""
    macs, full = _torch_case(_sdpa_causal, q_shape, kv_shape, threads, seed)
    assert macs < 0.8 * full, (macs, full)


@pytest.mark.slow
@pytest.mark.parametrize("shape,threads", [((2, 2, 333, 24), 1), ((1, 3, 1000, 40), 1), ((1, 3, 1000, 40), 3),
                                           ((1, 8, 1024, 64), 2)])
def test_sdpa_is_causal_large_matches_torch(shape, threads, seed):
    macs, full = _torch_case(_sdpa_causal, shape, shape, threads, seed)
    assert macs < 0.6 * full, (macs, full)


def _tril_mask(diagonal):
    def fwd(q, k, v):
        import torch
        import torch.nn.functional as F
        mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril(diagonal)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return fwd


def _masked_fill_triu(q, k, v):
    import torch
    mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).triu(1)
    s = (q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5).masked_fill(mask, float("-inf"))
    return torch.softmax(s, -1) @ v


def _triu_keep(q, k, v):
    import torch
    import torch.nn.functional as F
    return F.scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(q.shape[-2], k.shape[-2],
                                                                        dtype=torch.bool).triu(0))


@pytest.mark.parametrize("name,fwd,split", [("tril0", _tril_mask(0), True), ("tril2", _tril_mask(2), True),
                                            ("masked_fill_triu1", _masked_fill_triu, True),
                                            ("tril-1", _tril_mask(-1), False), ("triu0", _triu_keep, False)])
def test_causal_mask_variants(name, fwd, split, seed):
    """tril(diagonal >= 0) masks and GPT's masked_fill(triu(1), -inf) are the same pattern; tril(-1) (rows
    with nothing kept) and triu (upper triangle kept) keep every column. All match torch."""
    macs, full = _torch_case(fwd, (1, 2, 96, 16), (1, 2, 96, 16), 1, seed)
    assert (macs < full) == split, (name, macs, full)


def test_mask_tensor_argument_keeps_every_column(seed):
    """A boolean mask passed in (random, not causal) is data: nothing to prove, nothing skipped."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F
    g = torch.Generator().manual_seed(seed + 1)
    mask = torch.rand(96, 96, generator=g) < 0.7
    mask[:, 0] = True                                            # no empty rows (NaN in torch's math path)

    def fwd(q, k, v, m):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=m)
    macs, full = _torch_case(fwd, (1, 2, 96, 16), (1, 2, 96, 16), 3, seed, extra=(mask,))
    assert macs == full


# --- transformers' GPT-2: the mask built from position tensors --------------------------------------------

_GPT2_HEADS, _GPT2_HIDDEN = 4, 48                  # the corpus's GPT-2 (n_positions raised for longer T)


def _gpt2_model(T, seed, layers, pad):
    """(model, inputs): a corpus-style GPT2LMHeadModel returning logits; `pad` > 0 passes an attention_mask
    (batch 2) zeroing the last `pad` keys of the second sequence (`pad` < 0: the first -pad keys, so its
    first query rows keep no key at all), else input_ids alone (batch 1)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("torch_mlir")
    from hexmlir.kernels import model_corpus as mc
    torch.manual_seed(seed)
    m = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=mc.VOCAB, n_embd=_GPT2_HIDDEN, n_layer=layers, n_head=_GPT2_HEADS, n_positions=max(T, 64),
        bos_token_id=0, eos_token_id=0)).eval()
    g = torch.Generator().manual_seed(seed)
    if pad:
        ids = torch.randint(0, mc.VOCAB, (2, T), generator=g)
        mask = torch.ones(2, T, dtype=torch.long)
        if pad > 0:
            mask[1, T - pad:] = 0
        else:
            mask[1, :-pad] = 0
        return mc.Corpus(m, ("input_ids", "attention_mask"), mc._logits, use_cache=False).eval(), (ids, mask)
    ids = torch.randint(0, mc.VOCAB, (1, T), generator=g)
    return mc.Corpus(m, ("input_ids",), mc._logits, use_cache=False).eval(), (ids,)


def _gpt2_macs(mlir, T, layers, batch=1):
    """(multiply-adds with causal-skip, without, the difference the row segments should make)."""
    from hexmlir.transforms import causal
    on = _contraction_macs(mlir)[0]
    off = _contraction_macs(mlir, hexmlir.Options(num_threads=1, causal_skip=False))[0]
    kept = sum((b - a) * n for a, b, n in causal._segments(T, T, 0))
    return on, off, batch * layers * 2 * _GPT2_HIDDEN * (T * T - kept)


def _gpt2_case(T, seed, layers=1, pad=0, threads=1):
    """Compiled through compile_model, the logits against transformers' eager ones; then _gpt2_macs."""
    import torch
    model, args = _gpt2_model(T, seed, layers, pad)
    c = hexmlir.compile_model(model, args, target="host", strict=True, num_threads=threads)
    with torch.no_grad():
        ref = model(*args).double()
        got = c(*args).double()
    err = float((got - ref).abs().max() / ref.abs().max())
    assert err < 1e-5, f"seed={seed} T={T} layers={layers} pad={pad}: max rel err {err}"
    return _gpt2_macs(c.graph.mlir_text, T, layers, batch=len(args[0]))


@pytest.mark.parametrize("T", [77, pytest.param(96, marks=pytest.mark.slow)])
def test_gpt2_causal_mask_from_positions_is_split(T, seed):
    """transformers builds GPT-2's mask from the cache positions (`kv <= q`) and-ed with packed-sequence
    ids (a prefix sum over position differences) and a batch-index bound, read by tensor.extract: all
    computed from aranges, so evaluated exactly and found to be `j - i <= 0`; the chain is split (before:
    every key column computed) and the logits match eager."""
    on, off, saved = _gpt2_case(T, seed)
    assert saved > 0 and off - on == saved, (T, on, off, saved)


def test_gpt2_two_layers_shared_bias_is_split(seed):
    """With 2 layers the mask is one 0 / -inf tensor computed once and added by both layers: evaluated the
    same way, both layers' chains split (IR only: the numerics are the slow test below)."""
    from hexmlir.frontends.torch.backend import model_linalg
    model, args = _gpt2_model(77, seed, 2, 0)
    on, off, saved = _gpt2_macs(model_linalg(model, args), 77, 2)
    assert saved > 0 and off - on == saved, (on, off, saved)


@pytest.mark.parametrize("pad", [9, -9])
def test_gpt2_padding_mask_is_split(pad, seed):
    """With an attention_mask that zeroes keys the keep test is `kv <= q` and-ed with a kernel argument's
    values: the causal part is proven (the padding part unknown, kept in every segment's mask), the chain is
    split, and the logits match eager, with padding at the end and at the start (rows with no kept key)."""
    on, off, saved = _gpt2_case(64, seed, pad=pad)
    assert saved > 0 and off - on == saved, (on, off, saved)


@pytest.mark.slow
@pytest.mark.parametrize("T,threads", [(77, 1), (200, 2)])
def test_gpt2_causal_two_layers_matches_eager(T, threads, seed):
    on, off, saved = _gpt2_case(T, seed, layers=2, threads=threads)
    assert saved > 0 and off - on == saved, (T, on, off, saved)


def test_llama_causal_mask_is_split(seed):
    """LLaMA (corpus-sized, 2 layers, grouped K/V heads) builds its mask the same way: split (IR only)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("torch_mlir")
    from hexmlir.frontends.torch.backend import model_linalg
    from hexmlir.kernels import model_corpus as mc
    torch.manual_seed(seed)
    m = transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=mc.VOCAB, hidden_size=_GPT2_HIDDEN, intermediate_size=88, num_hidden_layers=2,
        num_attention_heads=_GPT2_HEADS, num_key_value_heads=2, max_position_embeddings=128)).eval()
    ids = torch.randint(0, mc.VOCAB, (1, 77), generator=torch.Generator().manual_seed(seed))
    model = mc.Corpus(m, ("input_ids",), mc._logits, use_cache=False).eval()
    on, off, saved = _gpt2_macs(model_linalg(model, (ids,)), 77, 2)
    assert saved > 0 and off - on == saved, (on, off, saved)


def _positions_mlir(h, n, d, pos):
    """_attention_mlir with keep = pos[j] <= pos[i], pos a constant position tensor read by tensor.extract."""
    mlir = _attention_mlir(h, n, n, d)
    old = """      %ii = arith.index_cast %i : index to i64
      %jj = arith.index_cast %j : index to i64
      %dd = arith.subi %jj, %ii : i64
      %c = arith.cmpi sle, %dd, %cb : i64"""
    new = f"""      %ii = tensor.extract %pos[%i] : tensor<{n}xi64>
      %jj = tensor.extract %pos[%j] : tensor<{n}xi64>
      %c = arith.cmpi sle, %jj, %ii : i64"""
    assert old in mlir
    const = f"  %pos = arith.constant dense<[{', '.join(map(str, pos))}]> : tensor<{n}xi64>\n"
    return mlir.replace(old, new).replace("  %e = tensor.empty()", const + "  %e = tensor.empty()", 1)


@pytest.mark.parametrize("name,split", [("arange", True), ("arange+5", True), ("swapped", False)])
def test_mask_from_position_tensor(name, split, rng, seed):
    """A keep test on values of a constant position tensor is evaluated exactly: positions 0..n-1 (or shifted)
    give `j - i <= 0` and are split; two positions swapped are not causal and stay whole. All against NumPy."""
    h, n, d = 2, 96, 16
    pos = np.arange(n) + (5 if name == "arange+5" else 0)
    if name == "swapped":
        pos[40], pos[41] = pos[41], pos[40]
    mlir = _positions_mlir(h, n, d, pos)
    macs, _ = _contraction_macs(mlir)
    assert (macs < 2 * h * n * n * d) == split, (name, macs)
    q = rng.uniform(-2, 2, (h, n, d)).astype(np.float32)
    kt = rng.uniform(-2, 2, (h, d, n)).astype(np.float32)
    v = rng.uniform(-1, 1, (h, n, d)).astype(np.float32)
    keep = pos[None, :] <= pos[:, None]
    a = _numpy_masked(q, kt, keep)
    e = np.where(keep, np.exp(a - a.max(-1, keepdims=True)), 0.0)
    ref = np.einsum("hij,hjd->hid", e / e.sum(-1, keepdims=True), v.astype(np.float64))
    out = hexmlir.compile(mlir, hexmlir.Options(num_threads=1))(q, kt, v)
    err = float(np.abs(out - ref).max())
    assert err < 1e-5, f"seed={seed} {name}: max abs err {err}"


def _padded_mlir(h, n, d, pred, join):
    """_attention_mlir with keep = `j - i pred 0` joined (`join`: andi / ori) with pad[h, j] != 0, pad an i32
    kernel argument [h, n] (a padding mask: unknown when compiling)."""
    mlir = _attention_mlir(h, n, n, d, pred=pred)
    old = "      %c = arith.cmpi " + pred + ", %dd, %cb : i64\n"
    new = ("      %c1 = arith.cmpi " + pred + ", %dd, %cb : i64\n"
           "      %hb = linalg.index 0 : index\n"
           f"      %pv = tensor.extract %pad[%hb, %j] : tensor<{h}x{n}xi32>\n"
           "      %p = arith.cmpi ne, %pv, %zi : i32\n"
           f"      %c = arith.{join} %c1, %p : i1\n")
    assert old in mlir
    mlir = mlir.replace(old, new).replace(f"%v: tensor<{h}x{n}x{d}xf32>)",
                                          f"%v: tensor<{h}x{n}x{d}xf32>, %pad: tensor<{h}x{n}xi32>)")
    return mlir.replace("  %e = tensor.empty()", "  %zi = arith.constant 0 : i32\n  %e = tensor.empty()", 1)


@pytest.mark.parametrize("pred,join,split", [("sle", "andi", True), ("sle", "ori", False), ("sge", "andi", False)])
def test_mask_and_kernel_argument(pred, join, split, rng, seed):
    """A causal test and-ed with a padding mask passed in: the causal part bounds what is kept, so the chain
    is split (the padding stays in every segment's mask). Or-ed with it, or and-ed with an upper-triangle
    test, nothing is proven. All against NumPy with random padding (column 0 kept: no empty rows)."""
    h, n, d = 2, 96, 16
    mlir = _padded_mlir(h, n, d, pred, join)
    macs, _ = _contraction_macs(mlir)
    assert (macs < 2 * h * n * n * d) == split, (pred, join, macs)
    q = rng.uniform(-2, 2, (h, n, d)).astype(np.float32)
    kt = rng.uniform(-2, 2, (h, d, n)).astype(np.float32)
    v = rng.uniform(-1, 1, (h, n, d)).astype(np.float32)
    pad = (rng.uniform(0, 1, (h, n)) < 0.7).astype(np.int32)
    pad[:, 0] = 1
    if pred == "sge":
        pad[:, -1] = 1                                   # the last column: kept by every row of the triu test
    i, j = np.arange(n)[:, None], np.arange(n)[None, :]
    causal = (j - i <= 0) if pred == "sle" else (j - i >= 0)
    keep = (causal & (pad[:, None, :] != 0)) if join == "andi" else (causal | (pad[:, None, :] != 0))
    a = _numpy_masked(q, kt, keep)
    e = np.where(keep, np.exp(a - a.max(-1, keepdims=True)), 0.0)
    ref = np.einsum("hij,hjd->hid", e / e.sum(-1, keepdims=True), v.astype(np.float64))
    out = hexmlir.compile(mlir, hexmlir.Options(num_threads=1))(q, kt, v, pad)
    err = float(np.abs(out - ref).max())
    assert err < 1e-5, f"seed={seed} {pred} {join}: max abs err {err}"


def test_padded_empty_rows_that_would_differ_keep_every_column(rng, seed):
    """With padding, a row can keep no key. The chain here gives such a row's columns 1 (select on a -inf
    row max) where other rows' masked columns get exp(-inf) = 0: the sum over all columns is not the sum over
    the computed ones, so the chain is not split (and matches NumPy, empty rows included)."""
    h, n, d = 2, 96, 16
    act = ("%ismax = arith.cmpf oeq, %b, %ninf : f32\n      %ex0 = math.exp %y : f32\n"
           "      %one = arith.constant 1.0 : f32\n      %w = arith.select %ismax, %one, %ex0 : f32")
    mlir = _padded_mlir(h, n, d, "sle", "andi")
    mlir = mlir.replace("%w = math.exp %y : f32", act, 1)
    assert act in mlir
    macs, _ = _contraction_macs(mlir)
    assert macs == 2 * h * n * n * d, macs
    q = rng.uniform(-2, 2, (h, n, d)).astype(np.float32)
    kt = rng.uniform(-2, 2, (h, d, n)).astype(np.float32)
    v = rng.uniform(-1, 1, (h, n, d)).astype(np.float32)
    pad = (rng.uniform(0, 1, (h, n)) < 0.7).astype(np.int32)
    pad[:, :5] = 0                                       # query rows 0-4 keep no key
    i, j = np.arange(n)[:, None], np.arange(n)[None, :]
    keep = (j - i <= 0) & (pad[:, None, :] != 0)
    a = _numpy_masked(q, kt, keep)
    mx = a.max(-1, keepdims=True)
    with np.errstate(invalid="ignore"):
        e = np.where(np.isneginf(mx), 1.0, np.where(keep, np.exp(a - mx), 0.0))
    ref = np.einsum("hij,hjd->hid", e / e.sum(-1, keepdims=True), v.astype(np.float64))
    out = hexmlir.compile(mlir, hexmlir.Options(num_threads=1))(q, kt, v, pad)
    err = float(np.abs(out - ref).max())
    assert err < 1e-5, f"seed={seed}: max abs err {err}"


def test_causal_segments_keep_every_thread_busy():
    """A causal segment's chained tile takes micro-kernel rows (8) by cutting heads, not by leaving threads
    idle: LLaMA's segments (2 x 4 heads, grouped K/V, 16 rows) were 4 tiles of 4 heads x 8 rows on 4 of 16
    threads, the whole attention 14% slower at 16 threads than without the segments."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("torch_mlir")
    import torch.nn.functional as F
    from hexmlir import driver
    from hexmlir.frontends.torch.backend import model_linalg

    class M(torch.nn.Module):
        def forward(self, q, k, v):
            k, v = k.repeat_interleave(2, dim=1), v.repeat_interleave(2, dim=1)
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    q, k, v = torch.randn(2, 4, 128, 64), torch.randn(2, 2, 128, 64), torch.randn(2, 2, 128, 64)
    o = hexmlir.Options(num_threads=16)
    with hir.context(), hir.ir.Location.unknown():
        _, cx, _ = driver.compile_to_llvm(model_linalg(M(), (q, k, v)), o, targets.get(o.target, o.arch, o.isa), None)
    segs = [p for p in cx.plan.ops.values() if p.role == "root" and P.chained_contractions(P.group_members(cx.plan, p))]
    assert len(segs) >= 4, cx.plan.describe()                       # the causal chain in row segments
    for p in segs:
        rows = P._contraction_rows_loop(p, P.kept_whole(cx.plan, p))
        assert p.threads == 16 and p.tcm_tile[rows] >= P.MIN_CONTRACTION_ROWS, cx.plan.describe()
