"""Frontend IR -> Linalg conversions.

`convert_ttir(text)` turns a Triton kernel (TTIR after triton's own TTIR passes, in MLIR generic form) into a
Linalg module whose public function runs the whole grid; `ttir_text(module)` prints a triton module in
the generic form this conversion reads.
"""
from .ttir import ConvertedKernel, convert_ttir, ttir_text

__all__ = ["ConvertedKernel", "convert_ttir", "ttir_text"]
