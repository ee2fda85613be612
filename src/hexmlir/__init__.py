"""hexmlir: an MLIR compilation stack for Hexagon-class NPUs.

Heavy modules (MLIR bindings, torch, triton) are imported lazily, so `hexmlir.load()` of a compiled
artifact needs only numpy and ctypes.
"""
from .errors import HexmlirError, UnsupportedError, CompileError, ToolchainError
from .options import Options

__all__ = ["HexmlirError", "UnsupportedError", "CompileError", "ToolchainError", "Options",
           "compile", "load", "compile_model"]


def compile(source, options: Options | None = None, **kw):
    """Compile a Linalg-on-tensors module (text or path) to a loaded Kernel artifact."""
    from .driver import compile as _compile
    return _compile(source, options, **kw)


def load(path):
    """Load a compiled artifact (.so + .json) with numpy and ctypes only."""
    from .artifact import Kernel
    return Kernel.load(path)


def compile_model(model, example_inputs, target: str = "host", **options):
    """Compile a torch.nn.Module ahead of time (frontends/torch, docs/torch.md); returns a callable."""
    from .frontends.torch import compile_model as _cm
    return _cm(model, example_inputs, target=target, **options)
