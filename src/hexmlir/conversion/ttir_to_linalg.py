"""Compatibility name for the TTIR conversion, which lives in the `ttir` package (see its docstring)."""
from .ttir import GRID_ATTR, ConvertedKernel, convert_ttir, ttir_text

__all__ = ["GRID_ATTR", "ConvertedKernel", "convert_ttir", "ttir_text"]
