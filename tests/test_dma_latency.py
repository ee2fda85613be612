"""Injected DMA latency (runtime hx_dma_set_latency_us / HEXMLIR_DMA_LATENCY_US): every copy lands late and on
a copy thread, also inside loops wider than the copy threads (where the engine otherwise copies
synchronously). Double-buffered kernels stay right under it, and the same kernels with a wait moved or
dropped give wrong answers, so the double-buffer tests can fail on a misplaced wait."""
import time

import numpy as np
import pytest

import hexmlir
from hexmlir import Options, runtime
from hexmlir.kernels import linalg_suite as S

from conftest import assert_close

CASES = {   # small budgets: many tiles and a partial last tile
    "vector_add-100003": (lambda: S.vector_add(100003), 96 << 10),
    "silu-7x1001": (lambda: S.silu((7, 1001)), 64 << 10),
}
LATENCY_US = 300
MISPLACED_LATENCY_US = 20000    # wide margin: a copy lands long after the kernel has returned, even on a loaded
                                # machine (3 ms once went unnoticed with 4 threads on 2 busy cores)


@pytest.fixture
def latency():
    runtime.load_host()
    yield runtime.set_dma_latency_us
    runtime.set_dma_latency_us(0)


def _compile(name, threads, **kw):
    make, budget = CASES[name]
    k = make()
    # npu-emu: the target with TCM and a DMA engine (host computes in place: no copies to delay)
    return k, hexmlir.compile(k.mlir, Options(target="npu-emu", num_threads=threads, multithread=threads > 1,
                                              tcm_budget=budget, mt_threshold=1, **kw))


@pytest.mark.parametrize("threads", [1, 4])
@pytest.mark.parametrize("name", list(CASES))
def test_double_buffer_right_under_latency(name, threads, rng, latency):
    k, kern = _compile(name, threads)
    latency(LATENCY_US)
    before = runtime.stats()["dma_copies"]
    ins = k.random_inputs(rng)
    assert_close(kern(*ins), k.reference(*ins), k.outputs[0][1])
    assert runtime.stats()["dma_copies"] > before        # the copies went through the engine


def test_latency_makes_copies_asynchronous_in_wide_loops(latency):
    """Inside a parallel loop wider than the copy threads a start normally copies before it returns; with
    latency it returns before the copy lands (the test's precondition: a missing wait is observable)."""
    import ctypes
    lib = runtime.load_host()
    n = 1 << 16
    src = np.arange(n, dtype=np.uint8)
    dst = np.zeros(n, dtype=np.uint8)
    seen = []

    @runtime.PARALLEL_FN
    def body(_ctx, i):
        if i == 0:
            t = lib.hx_dma_start_1d(dst.ctypes.data, src.ctypes.data, n)
            seen.append(int(dst[-1]))                      # before the wait
            lib.hx_dma_wait(t)
            seen.append(int(dst[-1]))
    latency(20000)
    runtime.set_num_threads(4)
    lib.hx_parallel_for(8, body, ctypes.c_void_p())
    assert seen == [0, src[-1]], seen


def _misplace(how):
    """A double-buffer stage that, after its work, moves or drops one wait in each tile loop."""
    from hexmlir.transforms import double_buffer as db
    sound = db.run

    def run(module, cx):
        sound(module, cx)
        from hexmlir.ir import ops_named
        done = 0
        for loop in ops_named(module.operation, "scf.for"):
            if "hexmlir.tile_loop" not in loop.attributes:
                continue
            body = [o.operation for o in loop.regions[0].blocks[0].operations]
            waits = [o for o in body if db._callee(o) == "hx_dma_wait"]
            out = next(o for o in body if db._dir(o) == "out")
            assert len(waits) == 2, "the double-buffered loop waits for its inputs, then for the set's last output"
            if how == "input-wait-after-compute":   # compute reads the tile before its DMA-in has landed
                waits[0].move_before(out)
            else:                                   # "no-drain-after-loop": the last write-backs may still run
                after = [o.operation for o in loop.operation.block.operations]
                drains = [o for o in after[after.index(loop.operation) + 1:] if db._callee(o) == "hx_dma_wait"]
                assert drains, "the loop's last write-backs are waited for after it"
                for w in drains:
                    w.erase()
            done += 1
        assert done, "no double-buffered tile loop to mutate"
    return run


# Not a case: dropping the in-loop wait on a set's previous write-back. The runtime completes one thread's
# copies in order, and tile i's DMA-in (waited for first) was started after tile i-2's write-back, so that
# wait is redundant here (it is kept for engines that do not order copies).
@pytest.mark.parametrize("threads", [1, 4])
@pytest.mark.parametrize("how", ["input-wait-after-compute", "no-drain-after-loop"])
@pytest.mark.parametrize("name", list(CASES))
def test_misplaced_wait_is_caught(name, how, threads, rng, latency, monkeypatch, tmp_path):
    """Without latency most of these go unnoticed (under threads the copies are synchronous; a dropped drain
    lands before the caller looks): measured in docs/runtime.md."""
    from hexmlir.transforms import double_buffer
    monkeypatch.setenv("HEXMLIR_CACHE_DIR", str(tmp_path))      # never mix with the sound kernels' cache
    monkeypatch.setattr(double_buffer, "run", _misplace(how))
    k, kern = _compile(name, threads)
    latency(MISPLACED_LATENCY_US)
    ins = k.random_inputs(rng)
    out = kern(*ins)
    got = np.array(out, copy=True)              # what the caller sees when the kernel returns
    # A dropped drain leaves write-backs in flight: keep their destination alive until they have landed
    # (freeing it first lets a late copy write into unmapped memory).
    time.sleep(5 * MISPLACED_LATENCY_US / 1e6)
    del out
    ref = k.reference(*ins)[0]
    bad = int(np.sum(~np.isclose(got, ref, rtol=2e-5, atol=2e-5)))
    print(f"{name} {how} threads={threads}: {bad} of {ref.size} outputs wrong under {MISPLACED_LATENCY_US} us DMA latency")
    assert bad > 0, f"{how}: the misplaced wait went unnoticed under {MISPLACED_LATENCY_US} us DMA latency"
