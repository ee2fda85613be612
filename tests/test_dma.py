"""DMA insertion + the runtime TCM pool: correctness, what the IR shows, pool statistics."""
import pytest

import hexmlir
from hexmlir import runtime


def Options(**kw):
    """DMA and double buffering are NPU mechanisms: these tests run on the emulated NPU."""
    return hexmlir.Options(**{"target": "npu-emu", **kw})
from hexmlir.kernels import linalg_suite as S

from conftest import assert_close

CASES = {
    "gelu-1000003": lambda: S.gelu_tanh((1000003,)),
    "softmax-513x1001": lambda: S.softmax_rows(513, 1001),
    "matmul-257x129x65": lambda: S.matmul(257, 129, 65),
    "rmsnorm-33x31-f16": lambda: S.rmsnorm(33, 31, "float16"),
    "vector_add_2d-7x1001": lambda: S.vector_add_2d(7, 1001),
}


@pytest.mark.parametrize("threads", [1, 4])
@pytest.mark.parametrize("dma", [True, False])
@pytest.mark.parametrize("name", list(CASES))
def test_dma_correct(name, dma, threads, rng):
    k = CASES[name]()
    # a small budget forces many tiles with a partial last one
    kern = hexmlir.compile(k.mlir, Options(dma=dma, num_threads=threads, multithread=threads > 1,
                                           tcm_budget=64 << 10, mt_threshold=1))
    ins = k.random_inputs(rng)
    runtime.load_host()
    before = runtime.stats()
    assert_close(kern(*ins), k.reference(*ins), k.outputs[0][1])
    after = runtime.stats()
    if dma:
        assert after["dma_copies"] > before["dma_copies"]
        assert after["tcm_live"] == before["tcm_live"]          # every TCM buffer released
        assert after["tcm_failed"] == before["tcm_failed"]


def test_dma_ir(tmp_path):
    on, off = tmp_path / "on", tmp_path / "off"
    src = S.softmax_rows(300, 1001).mlir
    hexmlir.compile(src, Options(multithread=False, dump_dir=str(on)))
    hexmlir.compile(src, Options(multithread=False, dma=False, dump_dir=str(off)))
    ir_on = next(on.glob("*-dma.mlir")).read_text()
    assert "call @hx_dma_start_2d" in ir_on and "call @hx_dma_wait" in ir_on and "call @hx_tcm_buffer" in ir_on
    assert "linalg.copy" not in ir_on and "memref.alloc()" not in ir_on.split("linalg.generic")[0]
    assert "hx_dma" in (on / "90-llvm.ll").read_text()
    assert not list(off.glob("*-dma.mlir")) and "hx_dma" not in (off / "90-llvm.ll").read_text()


def test_strided_tiles_use_2d_descriptors(tmp_path):
    """Matmul row tiles of A (rows out of a wider matrix) move as 2-D strided DMA."""
    d = tmp_path / "d"
    hexmlir.compile(S.matmul(257, 129, 65).mlir, Options(multithread=False, tcm_budget=64 << 10, dump_dir=str(d)))
    ir = next(d.glob("*-dma.mlir")).read_text()
    assert ir.count("call @hx_dma_start_2d") >= 3


def test_pool_exhaustion_is_reported_and_correct(rng):
    """Rows too long for the 8 MiB arena (a 12 MiB row: the row max's tile holds it whole): failures are
    counted, buffers come from the heap, results are right."""
    k = S.softmax_rows(2, 3 << 20)
    kern = hexmlir.compile(k.mlir, Options(multithread=False))
    runtime.load_host()
    before = runtime.stats()["tcm_failed"]
    ins = k.random_inputs(rng)
    assert_close(kern(*ins), k.reference(*ins), "float32")
    assert runtime.stats()["tcm_failed"] > before
