"""Unroll hints (transforms/loop_hints.py): on host targets LLVM does not unroll loops that contain loops, the
cause of most of clang's time on the compile-time models (docs/benchmarks.md, "Compile time")."""
import re

import numpy as np
import pytest

import hexmlir
from hexmlir import Options
from hexmlir import ir as hir
from hexmlir.kernels import linalg_suite as S
from hexmlir.transforms import loop_hints
from conftest import current_seed

NEST = """func.func @f(%m: memref<4x8xf32>, %v: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %z = arith.constant 0.0 : f32
  %true = arith.constant true
  scf.for %i = %c0 to %c4 step %c1 {
    scf.if %true {
      scf.for %j = %c0 to %c8 step %c1 {
        memref.store %z, %m[%i, %j] : memref<4x8xf32>
      }
    }
  }
  scf.for %k = %c0 to %c8 step %c1 {
    memref.store %z, %v[%k] : memref<8xf32>
  }
  return
}"""


def test_only_loops_with_loops_inside_are_marked():
    with hir.context(), hir.ir.Location.unknown():
        m = hir.parse(NEST)
        loop_hints.mark_outer_loops(m)
        text = str(m)
    tagged = re.findall(r"^( *)\} \{loop_annotation = (\S+)\}", text, re.M)
    assert [len(indent) for indent, _ in tagged] == [4], text     # the outer scf.for closes at the body's indent
    assert "unroll = <disable = true>" in text or "#llvm.loop_unroll<disable = true>" in text, text


@pytest.mark.parametrize("target", ["host", "npu-emu"])
def test_nested_loops_reach_llvm_ir_as_unroll_disable(tmp_path, rng, target):
    """The hint survives scf-to-cf, cf-to-llvm and translation: back edges of outer loops carry
    `llvm.loop.unroll.disable`. The results stay exact against numpy."""
    k = S.matmul(37, 45, 29)
    d = tmp_path / "dump"
    kern = hexmlir.compile(k.mlir, Options(target=target, dump_dir=str(d)))
    ll = (d / "90-llvm.ll").read_text()
    assert "llvm.loop.unroll.disable" in ll
    assert re.search(r"br label %\d+, !llvm\.loop !\d+", ll)
    x = k.random_inputs(rng)
    got = kern(*x)
    want = k.reference(*x)[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=f"seed {current_seed()}")
