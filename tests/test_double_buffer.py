"""Double buffering: correct on odd trip counts, partial last tiles and with threads; visible in the IR."""
import re

import pytest

import hexmlir
from hexmlir import runtime


def Options(**kw):
    """DMA and double buffering are NPU mechanisms: these tests run on the emulated NPU."""
    return hexmlir.Options(**{"target": "npu-emu", **kw})
from hexmlir.kernels import linalg_suite as S

from conftest import assert_close

CASES = {   # small budgets: many tiles, odd counts, a partial last tile
    "gelu-1000003": (lambda: S.gelu_tanh((1000003,)), 256 << 10),
    "vector_add-100003": (lambda: S.vector_add(100003), 96 << 10),
    "vector_add-33": (lambda: S.vector_add(33), 8 << 10),
    "silu-7x1001": (lambda: S.silu((7, 1001)), 64 << 10),
    "gelu-f16-99999": (lambda: S.gelu_tanh((99999,), "float16"), 64 << 10),
    "softmax-513x1001": (lambda: S.softmax_rows(513, 1001), 256 << 10),
    "matmul-257x129x65": (lambda: S.matmul(257, 129, 65), 256 << 10),
}


@pytest.mark.parametrize("threads", [1, 2, 4, 8])
@pytest.mark.parametrize("name", list(CASES))
def test_double_buffer_correct(name, threads, rng):
    make, budget = CASES[name]
    k = make()
    kern = hexmlir.compile(k.mlir, Options(num_threads=threads, multithread=threads > 1, tcm_budget=budget,
                                           mt_threshold=1))
    runtime.load_host()
    live = runtime.stats()["tcm_live"]
    for _ in range(2):
        ins = k.random_inputs(rng)
        assert_close(kern(*ins), k.reference(*ins), k.outputs[0][1])
    assert runtime.stats()["tcm_live"] == live        # both sets released


def test_double_buffer_ir(tmp_path):
    on, off = tmp_path / "on", tmp_path / "off"
    src = S.gelu_tanh((1000003,)).mlir
    hexmlir.compile(src, Options(multithread=False, dump_dir=str(on)))
    hexmlir.compile(src, Options(multithread=False, double_buffer=False, dump_dir=str(off)))
    db = next(on.glob("*-double-buffer.mlir")).read_text()
    assert not list(off.glob("*-double-buffer.mlir"))
    # two TCM sets per buffer, token slots, the prologue and the in-loop prefetch both issue the input DMA
    assert db.count("call @hx_tcm_buffer") == 2 * next(off.glob("*-dma.mlir")).read_text().count("call @hx_tcm_buffer")
    assert "memref.alloca() : memref<2xindex>" in db
    assert len(re.findall(r"hexmlir.dma = \"in\"", db)) == 2
    # the output DMA is not waited for right away: its token goes to a slot
    out_start = re.search(r"(%\S+) = func.call @hx_dma_start_2d[^\n]*hexmlir.dma = \"out\"", db).group(1)
    assert f"memref.store {out_start}," in db
