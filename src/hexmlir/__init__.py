"""hexmlir: an MLIR compilation stack for Hexagon-class NPUs.

Heavy modules (MLIR bindings, torch, triton) are imported lazily, so `hexmlir.load()` of a compiled
artifact needs only numpy and ctypes.
"""
from .errors import HexmlirError, UnsupportedError, CompileError, ToolchainError
from .options import Options

__all__ = ["HexmlirError", "UnsupportedError", "CompileError", "ToolchainError", "Options",
           "compile", "load"]


def compile(source, options: Options | None = None, **kw):
    """Compile a Linalg-on-tensors module (text or path) to a loaded Kernel artifact."""
    from .driver import compile as _compile
    return _compile(source, options, **kw)


def load(path):
    """Load a compiled artifact (.so + .json) with numpy and ctypes only."""
    from .artifact import Kernel
    return Kernel.load(path)
