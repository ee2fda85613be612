"""Stage 2: elementwise/producer fusion.

Upstream's elementwise fusion merges chains of elementwise producers into their consumer (GELU's
mul/tanh/add... become one linalg.generic, no intermediate tensors). Reductions cannot merge into their
consumers that way; those are fused at tile level instead: the plan marks them `producer` of a root and
tcm_tiling pulls them into the root's tile loop (fuse_into_containing_op), so their results live only in
the tile (TCM), never in DDR.
"""
from ..ir import run_passes


def run(module, cx) -> None:
    run_passes(module, "func.func(linalg-fuse-elementwise-ops), canonicalize, cse", "fusion")
