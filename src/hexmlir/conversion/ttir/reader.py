"""Reading TTIR through the MLIR Python bindings.

The module is parsed in torch-mlir's context, where the Triton dialect is not registered: `tt.*` ops are
generic operations. The Operation API still gives their name, operands, results, regions, successors and
discardable attributes. Their properties (`<{axis = 0 : i32}>`) are stored as one dictionary that the API
does not expose, so that dictionary's text is cut from the op's generic form once and parsed back into a
`DictAttr`; each property is then read as a typed attribute. Types of Triton values (`!tt.ptr<f32>`,
`tensor<64x!tt.ptr<f32>>`) are opaque to the bindings and read from their text.
"""
from __future__ import annotations

import re

from ...errors import UnsupportedError

STAGE = "ttir-to-linalg"

_GENERIC_FLAG = []


def ttir_text(module) -> str:
    """Print a triton `ir.module` in MLIR generic form (with locations), which `convert_ttir` reads.

    Triton's bindings have no generic-printing switch, but its MLIR honours the global
    `--mlir-print-op-generic` option, which we set once through LLVM's C API."""
    if not _GENERIC_FLAG:
        import ctypes

        import triton._C.libtriton as lt
        lib = ctypes.CDLL(lt.__file__)
        lib._ZN4mlir27registerAsmPrinterCLOptionsEv()
        argv = (ctypes.c_char_p * 2)(b"hexmlir", b"--mlir-print-op-generic")
        lib.LLVMParseCommandLineOptions(2, argv, None)
        _GENERIC_FLAG.append(True)
    return str(module)


def public_function(module):
    """The kernel: the module's one public `tt.func` (other functions mean calls that were not inlined)."""
    fns = [op.operation for op in module.body.operations if op.operation.name == "tt.func"]
    public = [f for f in fns if attr_str(f, "sym_visibility") == "public"]
    if not public:
        raise UnsupportedError("no public tt.func in the module", stage=STAGE)
    if len(fns) > 1:
        other = [f for f in fns if f not in public]
        raise UnsupportedError("calls to non-inlined functions (noinline=True) are not supported",
                               stage=STAGE, op="tt.call", loc=src(other[0]))
    return public[0]


# ---- attributes ----

def _properties(op):
    """An unregistered op's properties as a DictAttr (None if it has none)."""
    from torch_mlir import ir
    head = op.get_asm(print_generic_op_form=True, large_elements_limit=16).split("\n", 1)[0]
    start = head.find("<{", head.index(")"))         # right after the operand list
    if start < 0 or head[head.index(")") + 1:start].strip():
        return None
    depth, i, in_str = 0, start + 1, False
    while i < len(head):                              # the matching `}`, skipping string literals
        c = head[i]
        if in_str:
            if c == "\\":
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c in "{[(":
            depth += 1
        elif c in "}])":
            depth -= 1
            if depth == 0:
                return ir.DictAttr(ir.Attribute.parse(head[start + 1:i + 1], op.context))
        i += 1
    return None


def attrs(op) -> dict:
    """Every attribute of op by name: discardable ones and (for unregistered ops) its properties."""
    out = {k: op.attributes[k] for k in op.attributes}
    if op.name.startswith("tt."):
        props = _properties(op)
        if props is not None:
            for i in range(len(props)):
                na = props[i]
                out.setdefault(na.name, na.attr)
    return out


def attr(op, name: str):
    return attrs(op).get(name)


def attr_int(op, name: str, default=None):
    from torch_mlir import ir
    a = attr(op, name)
    return default if a is None else ir.IntegerAttr(a).value


def attr_bool(op, name: str, default: bool = False) -> bool:
    from torch_mlir import ir
    a = attr(op, name)
    return default if a is None else ir.BoolAttr(a).value


def attr_str(op, name: str, default=None):
    from torch_mlir import ir
    a = attr(op, name)
    return default if a is None else ir.StringAttr(a).value


def attr_ints(op, name: str, default=None):
    from torch_mlir import ir
    a = attr(op, name)
    return default if a is None else list(ir.DenseI32ArrayAttr(a))


def inherent_text(op) -> str:
    """A registered arith/math op's attributes as in its generic form, for re-emitting it on scalars:
    inherent ones (fastmath, predicate, overflowFlags, ...) as `<{...}>`, discardable ones (dialect-prefixed
    names, by MLIR convention) as `{...}`."""
    names = list(op.attributes)
    inherent = [k for k in names if "." not in k]
    discardable = [k for k in names if "." in k]
    out = []
    if inherent:
        out.append("<{" + ", ".join(f"{k} = {op.attributes[k]}" for k in inherent) + "}>")
    if discardable:
        out.append("{" + ", ".join(f"{k} = {op.attributes[k]}" for k in discardable) + "}")
    return " ".join(out)


# ---- locations, walking ----

def src(op) -> str:
    """The kernel's Python source line of op (file:line), else its location text."""
    loc = str(op.location)
    m = re.findall(r'"([^"]+\.py)":(\d+)(?::(\d+))?', loc)
    if m:
        f, line, _ = m[-1]
        return f"{f}:{line}"
    return loc


def all_ops(op):
    for r in op.regions:
        for b in r.blocks:
            for o in b.operations:
                yield o.operation
                yield from all_ops(o.operation)


# ---- types (Triton's are opaque to the bindings: read from their text) ----

def elem(t: str) -> str:
    """Element type of a (tensor) type string; for pointers, the pointee."""
    m = re.match(r"tensor<(?:\d+x)*(.*)>$", t)
    e = m.group(1) if m else t
    p = re.match(r"!tt\.ptr<(.*?)(?:,\s*\d+)?>$", e)
    return p.group(1) if p else e


def shape(t: str) -> tuple:
    m = re.match(r"tensor<((?:\d+x)*)", t)
    if not m:
        return ()
    return tuple(int(x) for x in m.group(1).split("x") if x)


def is_ptr(t: str) -> bool:
    return "!tt.ptr" in t


def result_type(op, i: int = 0) -> str:
    return str(op.results[i].type)
