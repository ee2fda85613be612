"""PyTorch frontend (docs/torch.md): `torch.compile(model, backend="hexmlir")` (entry point
torch_dynamo_backends) and `hexmlir.frontends.torch.compile_model` / `hexmlir.compile_model` ahead of time.
torch and torch-mlir are imported when a graph is compiled, not here."""
from .backend import CompiledModel, backend, compile_model, make_backend
from .importer import FallbackWarning

__all__ = ["backend", "make_backend", "compile_model", "CompiledModel", "FallbackWarning"]
