"""Input check: one entry function over tensors, static shapes that fit the target's index width, element
types the artifact can carry, and ops the pipeline knows; errors name the op and its location.
Private callees are inlined here (the entry is the one public function, wherever it is defined)."""
from torch_mlir import ir

from ..errors import UnsupportedError
from ..ir import funcs, run_passes, walk
from . import pad

# Element types a kernel argument may have (the artifact maps them to numpy dtypes).
ELEMENT_TYPES = ("f32", "f16", "f64", "bf16", "i1", "i8", "i16", "i32", "i64")
_BITS = {"f64": 64, "i64": 64, "f32": 32, "i32": 32, "f16": 16, "bf16": 16, "i16": 16, "i8": 8, "i1": 8,
         "index": 64}

SUPPORTED_DIALECTS = ("linalg", "tensor", "arith", "math", "func", "bufferization")
SUPPORTED_OPS = ("cf.assert",)            # compiled as a runtime check (transforms/asserts.py)
UNSUPPORTED_OPS = ("linalg.softmax", "linalg.winograd_filter_transform")


def _dynamic(t) -> bool:
    return isinstance(t, (ir.RankedTensorType, ir.MemRefType)) and not ir.ShapedType(t).has_static_shape \
        or isinstance(t, (ir.UnrankedTensorType, ir.UnrankedMemRefType))


def _err(msg, op="func.func", loc=None):
    return UnsupportedError(msg, stage="check-input", op=op, loc=loc)


def _entry(module):
    """The one public function, after private callees are inlined into it."""
    fs = funcs(module)
    if not fs:
        raise _err("module has no func.func")
    public = [f for f in fs if "sym_visibility" not in f.attributes]
    names = [str(f.attributes["sym_name"]).strip('"') for f in public]
    if len(public) != 1:
        raise _err(f"module has {len(public)} public functions ({', '.join('@' + n for n in names) or 'none'}); "
                   "hexmlir compiles one entry function: make the others private callees")
    for f in fs:
        if not f.regions[0].blocks:
            raise _err(f"@{str(f.attributes['sym_name']).strip(chr(34))} is an external declaration (no body); "
                       "hexmlir compiles whole modules and links no outside functions", loc=str(f.location))
    if len(fs) > 1:
        run_passes(module, "inline, symbol-dce", "check-input")
        if len(funcs(module)) > 1 or ops_in(module, "func.call"):
            raise _err("recursive or uninlinable calls; hexmlir compiles one function", op="func.call")
    return funcs(module)[0]


def ops_in(module, name):
    from ..ir import ops_named
    return ops_named(module.operation, name)


def _check_signature(f, index_bits: int) -> None:
    ft = ir.FunctionType(ir.TypeAttr(f.attributes["function_type"]).value)
    for kind, types in (("argument", ft.inputs), ("result", ft.results)):
        for i, t in enumerate(types):
            where = f"{kind} {i} ({t})"
            if isinstance(t, (ir.MemRefType, ir.UnrankedMemRefType)):
                raise _err(f"{where} is a memref: hexmlir takes Linalg on tensors (a memref function would "
                           "write the caller's arrays in place); pass tensors, results as return values",
                           loc=str(f.location))
            if not isinstance(t, (ir.RankedTensorType, ir.UnrankedTensorType)):
                raise _err(f"{where} is a scalar: kernel arguments and results are tensors (use a 0-d "
                           f"tensor<{t}>)", loc=str(f.location))
            if _dynamic(t):
                raise _err(f"dynamic shape {t} in function signature (hexmlir needs static shapes)",
                           loc=str(f.location))
            et = str(ir.ShapedType(t).element_type)
            if et not in ELEMENT_TYPES:
                raise _err(f"{where}: element type {et} is not supported (one of {', '.join(ELEMENT_TYPES)})",
                           loc=str(f.location))


def _check_size(t, index_bits: int, op, loc) -> None:
    """Byte sizes must fit the target's signed index (2^31 bytes on 32-bit Hexagon)."""
    if not isinstance(t, (ir.RankedTensorType, ir.MemRefType)) or not ir.ShapedType(t).has_static_shape:
        return
    n = 1
    for d in ir.ShapedType(t).shape:
        n *= d
    nbytes = n * _BITS.get(str(ir.ShapedType(t).element_type), 64) // 8
    if nbytes >= 1 << (index_bits - 1):
        raise _err(f"{t} holds {nbytes} bytes, more than the target's {index_bits}-bit index can address "
                   f"(< 2^{index_bits - 1} bytes)", op=op, loc=loc)


def check_op(op, index_bits: int = 64) -> None:
    """Raise UnsupportedError naming `op` if the pipeline cannot compile it (its nested ops not included)."""
    dialect = op.name.split(".")[0]
    if (dialect not in SUPPORTED_DIALECTS or op.name in UNSUPPORTED_OPS) and op.name not in SUPPORTED_OPS:
        raise UnsupportedError("op not supported by the pipeline", stage="check-input", op=op.name,
                               loc=str(op.location))
    if op.name == "tensor.pad":                      # static pads, constant value (decompose-pad lowers it)
        pad.check(op)
    for v in list(op.results) + [a for r in op.regions for b in r.blocks for a in b.arguments]:
        if _dynamic(v.type):
            raise UnsupportedError(f"dynamic shape {v.type} (hexmlir needs static shapes)",
                                   stage="check-input", op=op.name, loc=str(op.location))
        _check_size(v.type, index_bits, op.name, str(op.location))


def run(module, cx) -> None:
    index_bits = cx.target.index_bits if cx is not None and getattr(cx, "target", None) else 64
    f = _entry(module)
    _check_signature(f, index_bits)
    for a in f.regions[0].blocks[0].arguments:
        _check_size(a.type, index_bits, "func.func", str(f.location))
    walk(f, lambda op: check_op(op, index_bits))
