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

from torch_mlir import ir

ATTR = "loop_annotation"                 # llvm.br's inherent attribute name: scf-to-cf keeps names
NO_UNROLL = "#llvm.loop_annotation<unroll = #llvm.loop_unroll<disable = true>>"


def _has_loop(op) -> bool:
    for r in op.regions:
        for b in r.blocks:
            for o in b.operations:
                if o.operation.name == "scf.for" or _has_loop(o.operation):
                    return True
    return False


def mark_outer_loops(module) -> int:
    """Tag each scf.for that has an scf.for inside it (at any depth) `unroll disable`; returns the count."""
    hint = ir.Attribute.parse(NO_UNROLL)
    n = 0

    def visit(op):
        nonlocal n
        for r in op.regions:
            for b in r.blocks:
                for o in b.operations:
                    o = o.operation
                    if o.name == "scf.for" and _has_loop(o):
                        o.attributes[ATTR] = hint
                        n += 1
                    visit(o)
    visit(module.operation)
    return n
