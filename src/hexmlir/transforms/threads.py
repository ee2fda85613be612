"""Threading seam: the scf.forall over TCM tiles.

This stage turns the tile loop into a sequential scf.for. The NPU-mechanisms work (multi-threading over
the runtime's thread pool) replaces it with a distribution over hardware threads.
"""
from ..ir import run_passes


def run(module, cx) -> None:
    run_passes(module, "func.func(scf-forall-to-for), canonicalize, cse", "threads")
