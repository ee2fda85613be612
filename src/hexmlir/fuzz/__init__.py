"""Differential fuzzing of hexmlir (docs/fuzzing.md).

`linalg_gen` writes random Linalg-on-tensors modules together with a numpy evaluation of the same program;
`triton_gen` writes random `@triton.jit` kernels whose reference is Triton's interpreter. Everything a case
does (program, options, inputs) follows from one integer seed, so a failing seed replays exactly.
"""
from .common import sample_options, compare, Mismatch

__all__ = ["sample_options", "compare", "Mismatch"]
