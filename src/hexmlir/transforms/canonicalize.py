"""Stage 1: canonicalize, then generalize named ops (linalg.add, linalg.matmul, ...) to linalg.generic.

Generic ops give every later stage one shape to reason about: indexing maps + iterator types + a scalar body.
"""
from ..ir import run_passes


def run(module, cx) -> None:
    run_passes(module, "canonicalize, func.func(linalg-generalize-named-ops), canonicalize, cse, func.func(linalg-fold-unit-extent-dims), canonicalize, cse", "canonicalize")
