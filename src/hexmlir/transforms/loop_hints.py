"""Unroll hints for LLVM (host targets): the Linalg ops left at lowering become loops LLVM does not unroll.

What reaches lower-to-llvm as Linalg are copies between strided views (transposes, head splits, KV repeats from
torch's view ops) and scalar leftovers the vectorizer did not take (gathers, tails). LLVM vectorized each such
loop nest, added runtime alias checks and then unrolled the vector, the check and the scalar versions, inner and
outer loops alike: on the compile-time LLaMA that was about 60% of clang's -O3 codegen (4.65 s -> 1.76 s CPU
without it) and bought nothing (kernel time 1.145 -> 1.135 ms; docs/benchmarks.md, "Compile time"). The loops
stay vectorizable; only `llvm.loop.unroll.disable` is set. The vectorized compute nests keep LLVM's unrolling:
not unrolling their outer loops too cut clang's time further but cost LLaMA 3.5% run time.

The annotation travels upstream's way: scf-to-cf copies an scf.for's LLVM-dialect attributes onto its back edge
(cf.br), cf-to-llvm onto llvm.br, whose `loop_annotation` becomes `!llvm.loop` metadata in LLVM IR.
"""
from __future__ import annotations

from ..ir import apply_transform

ATTR = "loop_annotation"                 # llvm.br's inherent attribute name: scf-to-cf keeps the name
NO_UNROLL = "#llvm.loop_annotation<unroll = #llvm.loop_unroll<disable = true>>"


def linalg_to_loops_no_unroll(module) -> None:
    """Every Linalg op left -> scf.for loops (upstream linalg-to-loops), each tagged `unroll disable`."""
    apply_transform(module, f"""
    %ops = transform.structured.match interface{{LinalgOp}} in %root : (!transform.any_op) -> !transform.any_op
    %loops = transform.structured.convert_to_loops %ops : (!transform.any_op) -> !transform.any_op
    %hint = transform.param.constant {NO_UNROLL} -> !transform.any_param
    transform.annotate %loops "{ATTR}" = %hint : !transform.any_op, !transform.any_param""", "lower-to-llvm")
