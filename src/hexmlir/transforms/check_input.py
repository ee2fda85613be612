"""Input check: static shapes and ops the pipeline knows, with errors that name the op and its location."""
from torch_mlir import ir

from ..errors import UnsupportedError
from ..ir import funcs, walk
from . import pad

SUPPORTED_DIALECTS = ("linalg", "tensor", "arith", "math", "func", "bufferization")
UNSUPPORTED_OPS = ("linalg.softmax", "linalg.winograd_filter_transform")


def _dynamic(t) -> bool:
    return isinstance(t, (ir.RankedTensorType, ir.MemRefType)) and not ir.ShapedType(t).has_static_shape \
        or isinstance(t, (ir.UnrankedTensorType, ir.UnrankedMemRefType))


def check_op(op) -> None:
    """Raise UnsupportedError naming `op` if the pipeline cannot compile it (its nested ops not included)."""
    dialect = op.name.split(".")[0]
    if dialect not in SUPPORTED_DIALECTS or op.name in UNSUPPORTED_OPS:
        raise UnsupportedError("op not supported by the pipeline", stage="check-input", op=op.name,
                               loc=str(op.location))
    if op.name == "tensor.pad":                      # static pads, constant value (decompose-pad lowers it)
        pad.check(op)
    for v in list(op.results) + [a for r in op.regions for b in r.blocks for a in b.arguments]:
        if _dynamic(v.type):
            raise UnsupportedError(f"dynamic shape {v.type} (hexmlir needs static shapes)",
                                   stage="check-input", op=op.name, loc=str(op.location))


def run(module, cx) -> None:
    fs = funcs(module)
    if not fs:
        raise UnsupportedError("module has no func.func", stage="check-input")
    for f in fs:
        for t in ir.FunctionType(ir.TypeAttr(f.attributes["function_type"]).value).inputs:
            if _dynamic(t):
                raise UnsupportedError(f"dynamic shape {t} in function signature (hexmlir needs static shapes)",
                                       stage="check-input", op="func.func", loc=str(f.location))
        walk(f, check_op)
