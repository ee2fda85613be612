"""Stage 1: canonicalize, generalize named ops (linalg.add, linalg.matmul, ...) to linalg.generic, fold unit dims.

Generic ops give every later stage one shape to reason about: indexing maps + iterator types + a scalar body.
"""
from ..ir import run_passes


def run(module, cx) -> None:
    # linalg-fold-unit-extent-dims drops unit dims from indexing maps (a keepdim reduction's (d0, d1, 0)):
    # upstream tile-and-fuse and promotion cannot handle results accessed through a constant index.
    run_passes(module, "canonicalize, func.func(linalg-generalize-named-ops), canonicalize, cse, "
               "func.func(linalg-fold-unit-extent-dims), canonicalize, cse", "canonicalize")
