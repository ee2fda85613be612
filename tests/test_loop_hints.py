"""Unroll hints (transforms/loop_hints.py): on host targets the Linalg ops left at lowering (copies between strided
views, scalar leftovers) become loops LLVM does not unroll, most of clang's time on the compile-time models
(docs/benchmarks.md, "Compile time"); the vectorized compute loops keep LLVM's unrolling."""
import re

import numpy as np
import pytest

import hexmlir
from hexmlir import Options
from hexmlir import ir as hir
from hexmlir.kernels import linalg_suite as S
from hexmlir.transforms import loop_hints
from conftest import current_seed

COPY = """func.func @f(%a: memref<7x33xf32>, %b: memref<7x16xf32>) {
  %s = memref.subview %a[0, 1] [7, 16] [1, 2] : memref<7x33xf32> to memref<7x16xf32, strided<[33, 2], offset: 1>>
  linalg.copy ins(%s : memref<7x16xf32, strided<[33, 2], offset: 1>>) outs(%b : memref<7x16xf32>)
  return
}"""

SLICE = """func.func @f(%x: tensor<7x33xf32>) -> tensor<7x16xf32> {
  %s = tensor.extract_slice %x[0, 1] [7, 16] [1, 2] : tensor<7x33xf32> to tensor<7x16xf32>
  return %s : tensor<7x16xf32>
}"""


def test_linalg_leftovers_become_loops_tagged_no_unroll():
    with hir.context(), hir.ir.Location.unknown():
        m = hir.parse(COPY)
        loop_hints.linalg_to_loops_no_unroll(m)
        text = str(m)
    assert "linalg." not in text, text
    assert text.count("scf.for") == 2, text
    assert len(re.findall(r"\} \{loop_annotation = ", text)) == 2, text     # both loops of the nest
    assert "disable = true" in text, text


@pytest.mark.parametrize("target", ["host", "npu-emu"])
def test_copy_loops_reach_llvm_ir_as_unroll_disable(tmp_path, rng, target):
    """A strided slice is a copy loop nest at lowering: its back edges carry `llvm.loop.unroll.disable` in the
    LLVM IR (scf-to-cf, cf-to-llvm and the translation keep the hint); the values stay exact."""
    d = tmp_path / "dump"
    kern = hexmlir.compile(SLICE, Options(target=target, dump_dir=str(d)))
    ll = (d / "90-llvm.ll").read_text()
    assert "llvm.loop.unroll.disable" in ll
    assert len(re.findall(r"br label %\d+, !llvm\.loop !\d+", ll)) == 2, ll
    x = rng.standard_normal((7, 33)).astype(np.float32)
    np.testing.assert_array_equal(kern(x), x[:, 1::2], err_msg=f"seed {current_seed()}")


def test_vectorized_compute_loops_keep_llvm_unrolling(tmp_path, rng):
    """A matmul (odd sizes: vector loops and scalar tails) keeps no compute op as Linalg at lowering, so its
    compute loops get no hint and LLVM unrolls them as before (not unrolling outer compute loops cost LLaMA
    3.5% run time). Only its zero fill's scalar tail (a peeled remainder) is left, and only that is hinted."""
    import re
    k = S.matmul(37, 45, 29)
    d = tmp_path / "dump"
    kern = hexmlir.compile(k.mlir, Options(dump_dir=str(d)))
    last = sorted(p for p in d.iterdir() if p.name.endswith("-vectorize.mlir"))[-1].read_text()
    bodies = re.findall(r"linalg\.generic .*?linalg\.yield", last, flags=re.S)
    assert all("arith.mulf" not in b and "arith.addf" not in b for b in bodies), "a compute op left as Linalg"
    hinted = set(re.findall(r"!llvm\.loop (![0-9]+)", (d / "90-llvm.ll").read_text()))
    assert len(hinted) <= 2 * len(bodies), hinted         # the leftovers' loops, nothing else
    x = k.random_inputs(rng)
    np.testing.assert_allclose(kern(*x), k.reference(*x)[0], rtol=1e-5, atol=1e-5,
                               err_msg=f"seed {current_seed()}")
