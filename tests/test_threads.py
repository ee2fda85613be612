"""Multi-threading over the runtime's thread pool: correctness for 1/2/4/8 threads, the threshold, the IR."""
import re

import numpy as np
import pytest

import hexmlir
from hexmlir import Options
from hexmlir.kernels import linalg_suite as S

from conftest import assert_close

MT = dict(fast_math=False)
KERNELS = {
    "gelu-1000003": lambda: S.gelu_tanh((1000003,)),
    "vector_add-1000003": lambda: S.vector_add(1000003),
    "softmax-513x1001": lambda: S.softmax_rows(513, 1001),
    "rmsnorm-1000x333": lambda: S.rmsnorm(1000, 333),
    "row_sum-999x257": lambda: S.row_sum(999, 257),
    "matmul-257x129x65": lambda: S.matmul(257, 129, 65),
}


@pytest.mark.parametrize("threads", [1, 2, 4, 8])
@pytest.mark.parametrize("vectorize", [True, False])
@pytest.mark.parametrize("name", list(KERNELS))
def test_threads_correct(name, threads, vectorize, rng):
    k = KERNELS[name]()
    kern = hexmlir.compile(k.mlir, Options(num_threads=threads, vectorize=vectorize, **MT))
    used = max(int(t) for t in re.findall(r"threads=(\d+)", kern.meta["plan"]))
    assert used == 1 if threads == 1 else 1 < used <= threads
    ins = k.random_inputs(rng)
    assert_close(kern(*ins), k.reference(*ins), k.outputs[0][1])


def test_elementwise_bit_identical_across_runs(rng):
    """Race hunting: repeated threaded runs on fresh inputs equal the single-thread result bit for bit."""
    k = S.gelu_tanh((1000003,))
    mt = hexmlir.compile(k.mlir, Options(num_threads=8))
    st = hexmlir.compile(k.mlir, Options(multithread=False, dma=False))
    for _ in range(5):
        (x,) = k.random_inputs(rng)
        ref = st(x)
        for _ in range(3):
            np.testing.assert_array_equal(mt(x), ref)


def test_small_problem_stays_single_threaded():
    kern = hexmlir.compile(S.vector_add(4096).mlir, Options(num_threads=4, **MT))
    assert "threads=1" in kern.meta["plan"]
    kern = hexmlir.compile(S.vector_add(4096).mlir, Options(num_threads=4, mt_threshold=1, tile_elems=1024, **MT))
    assert "threads=4" in kern.meta["plan"]


def test_threaded_ir(tmp_path):
    d = tmp_path / "d"
    hexmlir.compile(S.gelu_tanh((1000003,)).mlir, Options(num_threads=4, dump_dir=str(d), **MT))
    ir = next(d.glob("*-threads.mlir")).read_text()
    assert "call @__hx_parallel_hxk_gelu_par0" in ir and "func.func private @hxk_gelu_par0" in ir
    assert "scf.forall" not in ir
    ll = (d / "90-llvm.ll").read_text()
    assert "call void @hx_parallel_for(" in ll
    d2 = tmp_path / "d2"
    hexmlir.compile(S.gelu_tanh((1000003,)).mlir, Options(multithread=False, dump_dir=str(d2), **MT))
    assert "hx_parallel_for" not in (d2 / "90-llvm.ll").read_text()


DMA_DB = {"sync-dma": (True, False), "dma+db": (True, True), "no-dma": (False, False)}


@pytest.mark.slow
@pytest.mark.parametrize("dma_db", list(DMA_DB))
@pytest.mark.parametrize("threads", [1, 2, 4, 8])
@pytest.mark.parametrize("vectorize", [True, False])
@pytest.mark.parametrize("name", list(__import__("test_pipeline").KERNELS))
def test_npu_product(name, vectorize, threads, dma_db, rng):
    """The foundation suite under every vectorize x threads x DMA x DB combination (small TCM budget)."""
    from test_pipeline import KERNELS
    dma, db = DMA_DB[dma_db]
    k = KERNELS[name]("float32")
    kern = hexmlir.compile(k.mlir, Options(vectorize=vectorize, num_threads=threads, multithread=threads > 1,
                                           dma=dma, double_buffer=db, fast_math=False, tcm_budget=128 << 10,
                                           mt_threshold=1))
    ins = k.random_inputs(rng)
    assert_close(kern(*ins), k.reference(*ins), k.outputs[0][1])


def test_pool_stops_spinning_after_the_kernel_returns():
    """The host target's pool: once a threaded kernel returns, its workers go to sleep within the spin
    budget (HEXMLIR_SPIN_US, 50 us), so they do not take CPU time from the caller's other work."""
    import resource
    import time
    k = S.vector_add(1 << 20)
    kern = hexmlir.compile(k.mlir, Options(target="host", num_threads=4, mt_threshold=1))
    rng = np.random.default_rng(7)
    a, b = (rng.random(1 << 20, dtype=np.float32) for _ in range(2))
    for _ in range(5):
        assert_close(kern(a, b), [a + b], "float32")
    time.sleep(0.05)                     # past any spin budget
    t0 = resource.getrusage(resource.RUSAGE_SELF)
    time.sleep(0.3)
    t1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (t1.ru_utime - t0.ru_utime) + (t1.ru_stime - t0.ru_stime)
    assert cpu < 0.05, f"{cpu:.3f} s of CPU time in 0.3 s idle after the kernel: workers still spinning"
