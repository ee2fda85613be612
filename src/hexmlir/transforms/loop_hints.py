"""Unroll hints for LLVM: loops that contain loops are not unrolled (host targets).

LLVM's unroller fully unrolls a loop once the loops inside it are fully unrolled, so small outer trip counts
(batch 2, heads 4, rows 13 and the copy nests) multiply already straight-line bodies; every later pass (LSR,
IndVarSimplify, instruction selection) then pays for that code. On the compile-time models this was most of
clang's time (LLaMA: 5.9 s -> 1.6 s user for -O3 codegen, code 233 KB -> 81 KB) and bought no measurable
run time (docs/benchmarks.md, "Compile time"). Innermost loops keep LLVM's unrolling and vectorization.

`mark_outer_loops` tags every scf.for that contains another scf.for with an LLVM loop annotation; scf-to-cf
copies it onto the loop's back edge (cf.br) and cf-to-llvm onto llvm.br, whose `loop_annotation` becomes
`!llvm.loop !{llvm.loop.unroll.disable}` in LLVM IR.
"""
from __future__ import annotations

from ..ir import apply_transform

ATTR = "loop_annotation"                 # llvm.br's inherent attribute name: scf-to-cf keeps names
NO_UNROLL = "#llvm.loop_annotation<unroll = #llvm.loop_unroll<disable = true>>"


def mark_outer_loops(module) -> None:
    """Tag each scf.for that has an scf.for inside it (at any depth) `unroll disable`: the closest enclosing
    scf.for of every loop, i.e. exactly the loops with a loop inside."""
    # per loop: get_parent_op over a whole handle stops at the first loop without a parent loop
    apply_transform(module, f"""
    %loops = transform.structured.match ops{{["scf.for"]}} in %root : (!transform.any_op) -> !transform.any_op
    %hint = transform.param.constant {NO_UNROLL} -> !transform.any_param
    transform.foreach %loops : !transform.any_op {{
    ^bb0(%loop: !transform.any_op):
      %outer = transform.get_parent_op %loop {{allow_empty_results, op_name = "scf.for"}}
          : (!transform.any_op) -> !transform.any_op
      transform.annotate %outer "{ATTR}" = %hint : !transform.any_op, !transform.any_param
    }}""", "lower-to-llvm")
