"""The module and grid emission: a kernel's signature and the `scf.forall` over its programs.

    func.func @k(%a0: memref<?xf32>, %a1: i32, ..., %gx: i32, %gy: i32, %gz: i32) {
      scf.forall (%p) in (gx*gy*gz) {            // one iteration per program; the threads stage splits it
        <program body: loads into local buffers, linalg on tensors, stores into subviews of the arguments>
      }
    }
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ...errors import UnsupportedError
from .converter import Converter
from .forms import S, Ptr
from .reader import STAGE, attr_str, elem, is_ptr, public_function
from ... import attrs

GRID_ATTR = attrs.GRID        # marks a module whose public function runs a Triton grid


def is_grid(module) -> bool:
    """A converted Triton kernel (the grid pipeline compiles it), not a Linalg kernel."""
    return GRID_ATTR in module.operation.attributes


_DTYPES = {"f32": "float32", "f16": "float16", "bf16": "bfloat16", "f64": "float64", "i1": "bool",
           "i8": "int8", "i16": "int16", "i32": "int32", "i64": "int64"}


@dataclass
class ConvertedKernel:
    name: str
    mlir: str
    params: list = field(default_factory=list)     # [{"kind": "ptr"|"scalar", "dtype": ...}] in TTIR order


def convert_ttir(text: str) -> ConvertedKernel:
    """Convert a TTIR module (generic form) to a Linalg module running the whole grid."""
    from torch_mlir import ir
    ctx = ir.Context()
    ctx.allow_unregistered_dialects = True
    with ctx, ir.Location.unknown():
        try:
            module = ir.Module.parse(text)
        except ir.MLIRError as e:
            raise UnsupportedError(f"cannot parse TTIR (expected MLIR generic form, see ttir_text): {e}",
                                   stage=STAGE) from None
        fn = public_function(module)
        cv = Converter(fn)
        out = emit_kernel(cv)
        # gathers from an argument the kernel writes (or from any, when it writes through an address made
        # from an integer, which may alias them) read in program order
        anchored = cv.gathered if cv.written & cv.raw else cv.gathered & cv.written
        if anchored:
            out = emit_kernel(Converter(fn, anchored=anchored))
        return out


def _signature(cv: Converter, block) -> tuple[list, list]:
    """The kernel arguments as memrefs and scalars (bool pointers as bytes); binds them in cv.env."""
    params, sig = [], []
    for i, a in enumerate(block.arguments):
        t = str(a.type)
        nm = f"%a{i}"
        if is_ptr(t):
            if t.startswith("tensor"):
                cv.unsupported("tensor-of-pointer kernel arguments", cv.fn)
            et = elem(t)
            st = "i8" if et == "i1" else et
            cv.args.append(("ptr", et))
            sig.append(f"{nm}: memref<?x{st}>")
            params.append({"kind": "ptr", "dtype": _DTYPES.get(et, et)})
            cv.env[a] = Ptr(i, 0)
        elif t.startswith("!tt.tensordesc"):
            cv.unsupported("tensor descriptors as kernel arguments (host-side TensorDescriptor); "
                           "create them in the kernel with tl.make_tensor_descriptor", cv.fn)
        else:
            cv.args.append(("scalar", t))
            sig.append(f"{nm}: {t}")
            params.append({"kind": "scalar", "dtype": _DTYPES.get(t, t)})
            cv.env[a] = S(nm, t)
        cv.arg_names.append(nm)
    return params, sig


def emit_kernel(cv: Converter) -> ConvertedKernel:
    """The whole grid as one function: program ids from the forall index, then the kernel body."""
    name = attr_str(cv.fn, "sym_name")
    block = cv.fn.regions[0].blocks[0]
    params, sig = _signature(cv, block)
    em = cv.em
    sig += ["%gx: i32", "%gy: i32", "%gz: i32"]
    gi = [em.op(f"arith.index_cast %{g} : i32 to index", "g") for g in ("gx", "gy", "gz")]
    total = em.mul(em.mul(gi[0], gi[1]), gi[2])
    pre = em.lines
    em.lines = []
    cv.grid = [S("%gx", "i32"), S("%gy", "i32"), S("%gz", "i32")]
    em.emit(f"scf.forall (%p) in ({em.idx(total)}) {{")
    em.push()
    px = em.op(f"arith.remui %p, {gi[0]} : index", "pid")
    rest = em.op(f"arith.divui %p, {gi[0]} : index", "pid")
    py = em.op(f"arith.remui {rest}, {gi[1]} : index", "pid")
    pz = em.op(f"arith.divui {rest}, {gi[1]} : index", "pid")
    cv.pid = [S(em.op(f"arith.index_cast {v} : index to i32", "pid"), "i32") for v in (px, py, pz)]
    cv.block(block)
    em.pop()
    em.emit("}")
    em.emit("return")
    body = "\n".join(["  func.func @" + name + "(" + ", ".join(sig) + ") {"] + em.prologue
                     + ["    " + ln.strip() for ln in pre] + cv.preamble + em.lines + ["  }"])
    body += "".join("\n" + h for h in cv.helpers)
    return ConvertedKernel(name, f'module attributes {{{GRID_ATTR}}} {{\n' + body + "\n}\n", params)
