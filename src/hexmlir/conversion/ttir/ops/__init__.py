"""Op conversions: one function per op family, registered by op name in `OPS`.

A conversion is `fn(cv, op)`: it reads op's operands from `cv.env` (`cv.v(value)`), emits MLIR text through
`cv.em`, and binds op's results (`cv.res(op, form, i)`). Adding an op is adding one decorated function:

    @converts("tt.foo")
    def foo(cv, op):
        ...
"""
from __future__ import annotations

from . import atomics, control, core, mathops, memory, reduce, shape  # noqa: F401  (they register)
from .core import elementwise
from .registry import OPS, converts

__all__ = ["OPS", "converts", "elementwise"]
