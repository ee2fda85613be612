"""TCM budget per thread: (threads running at once) x (one thread's TCM set, DB twins included) fits the TCM.

Plan level (no codegen), the generated code's measured TCM, and numeric runs with a small TCM arena and
several threads: outputs match NumPy and the runtime's pool reports no failed allocation (no heap fallback).
"""
import numpy as np
import pytest

import hexmlir
from hexmlir import ir as hir
from hexmlir import plan as P
from hexmlir import runtime, targets
from hexmlir.bench.ladder import rung_options
from hexmlir.bench.registry import REGISTRY
from hexmlir.pipeline import CompileContext


ROWS_AND_ATTENTION = ["rmsnorm", "softmax", "layernorm", "attention"]


def _plan(name, options, size=None):
    from hexmlir.transforms import canonicalize, check_input, fusion
    k = REGISTRY[name].kernel(size)
    t = targets.get(options.target, options.arch)
    with hir.context(), hir.ir.Location.unknown():
        m = hir.parse(k.mlir)
        cx = CompileContext(options, t)
        check_input.run(m, cx)
        canonicalize.run(m, cx)
        fusion.run(m, cx)
        return P.build(m, t, options)


def _roots(plan):
    return [p for p in plan.ops.values() if p.role == "root" and any(p.tcm_tile)]


@pytest.mark.parametrize("name", ROWS_AND_ATTENTION)
def test_plan_fits_at_16_threads_with_db(name):
    pl = _plan(name, rung_options("vec+mt+db", 16))
    assert pl.threads == 16
    for p in _roots(pl):
        assert p.tcm_per_thread == p.tile_bytes * (2 if p.double_buffer else 1)
        assert p.tcm_per_thread * p.threads <= pl.budget, p.describe()
        # the modelled set really is the tile's: recomputing it gives the same bytes
        assert P.group_tcm_bytes(pl, p, p.tcm_tile) == p.tile_bytes
    one = _plan(name, rung_options("vec+db", 1))
    for p16, p1 in zip(_roots(pl), _roots(one)):
        assert p1.threads == 1 and p1.tile_bytes >= p16.tile_bytes       # one thread keeps the bigger tiles
    if name in ("rmsnorm", "softmax", "layernorm"):
        assert any(p1.tile_bytes > p16.tile_bytes for p16, p1 in zip(_roots(pl), _roots(one)))


def test_attention_drops_db_at_16_threads_and_says_so(tmp_path):
    """Attention is two groups: S = QK^T is not fused into softmax + PV, because a tile holding K^T and V
    whole (256 KiB each at s=1024, d=64) exceeds one thread's budget. The softmax + PV group's smallest tile
    still holds V whole: two sets x 16 threads exceed 8 MiB, so the plan turns DB off for it, and
    `hexmlir explain` shows both decisions."""
    from hexmlir.driver import explain
    pl = _plan("attention", rung_options("vec+mt+db", 16))
    qk, pv = _roots(pl)
    assert "not fused into" in qk.tcm_note
    assert not pv.double_buffer and "DB off" in pv.tcm_note
    one = _plan("attention", rung_options("vec+db", 1))
    assert _roots(one)[-1].double_buffer                     # one thread: two sets fit
    f = tmp_path / "attention.mlir"
    f.write_text(REGISTRY["attention"].kernel().mlir)
    text = explain(str(f), rung_options("vec+mt+db", 16))
    assert "db=off" in text and "DB off: smallest tile set" in text and "up to 16 thread(s)" in text


def test_threads_cut_when_one_set_does_not_fit():
    """A budget where even one set per thread does not fit 16 times: the plan runs fewer threads. At 64 KiB
    softmax's row reductions cannot join the normalising root (a whole-row group would exceed one thread's
    4 KiB) and each keeps whole rows (6400 B): 16 x 6400 B > 64 KiB, so fewer threads run them."""
    pl = _plan("softmax", rung_options("vec+mt+db", 16, tcm_budget=1 << 16))
    root = next(r for r in _roots(pl) if "threads 16 ->" in r.tcm_note)
    assert "not fused into" in root.tcm_note
    assert not root.double_buffer and root.threads < 16
    assert root.tcm_per_thread * root.threads <= pl.budget, root.describe()
    assert "threads 16 ->" in root.tcm_note


@pytest.mark.parametrize("name", ROWS_AND_ATTENTION + ["gelu"])
def test_generated_code_fits(name):
    """The generated code's TCM (static buffer sizes after double buffering, per thread x threads) fits."""
    from hexmlir.driver import compile_to_llvm
    o = rung_options("vec+mt+db", 16)
    k = REGISTRY[name].kernel()
    _, cx, _ = compile_to_llvm(k.mlir, o, targets.get(o.target, o.arch), None)
    assert cx.tcm_usage, cx.log
    for fn, m in cx.tcm_usage.items():
        assert m["total"] <= cx.plan.budget, (fn, m, cx.plan.describe())
    assert "generated " in cx.plan.describe()


SMALL_TCM = 96 << 10


@pytest.fixture
def small_arena():
    lib = runtime.load_host()
    lib.hx_tcm_init(SMALL_TCM)
    if lib.hx_tcm_size() != SMALL_TCM:
        pytest.skip("TCM arena busy in this process; cannot resize it")
    try:
        yield SMALL_TCM
    finally:
        lib.hx_tcm_init(0)


@pytest.mark.parametrize("name,size", [("rmsnorm", {"m": 37, "n": 203}), ("softmax", {"m": 29, "n": 333}),
                                       ("layernorm", {"m": 23, "n": 517}), ("attention", {"s": 67, "d": 16}),
                                       ("gelu_f16", {"n": 10007}), ("gelu", {"n": 30001})])
def test_small_tcm_several_threads_matches_numpy(name, size, small_arena, rng):
    e = REGISTRY[name]
    k = e.kernel(size)
    threads = 4
    kern = hexmlir.compile(k.mlir, rung_options("vec+mt+db", threads, tcm_budget=small_arena))
    xs = k.random_inputs(rng)
    before = runtime.num_threads()
    runtime.set_num_threads(threads)
    try:
        runtime.reset_stats()
        got = kern(*xs)
        st = runtime.stats()
    finally:
        runtime.set_num_threads(before)
    assert st["tcm_size"] == small_arena
    assert st["tcm_failed"] == 0, (st, kern.meta["plan"])
    assert 0 < st["tcm_high_water"] <= small_arena
    ref = k.reference(*xs)
    got = got if isinstance(got, (list, tuple)) else [got]
    tol = {"float32": 2e-4, "float16": 2e-2}[e.dtype]
    for g, r in zip(got, ref):
        assert g.shape == r.shape and g.dtype == r.dtype
        np.testing.assert_allclose(g.astype(np.float64), r.astype(np.float64), rtol=tol, atol=tol)
