"""TTIR -> Linalg-on-tensors (with memref arguments): one Triton kernel becomes one function that runs its grid.

Output shape of the module:

    func.func @k(%a0: memref<?xf32>, %a1: i32, ..., %gx: i32, %gy: i32, %gz: i32) {
      scf.forall (%p) in (gx*gy*gz) {            // one iteration per program; the threads stage splits it
        <program body: loads into local buffers, linalg on tensors, stores into subviews of the arguments>
      }
    }

Pointer analysis (see forms.py) keeps pointer tensors affine where it can: loads become strided
`memref.reinterpret_cast` views copied into a local buffer (bounded by the mask, the rest filled with
`other`), stores become `bufferization.materialize_in_destination` into bounded subviews. Anything else
(computed indices, masks that are not per-dimension ranges) becomes a gather generic or a scatter loop.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import CompileError, HexmlirError, UnsupportedError
from .forms import (S, T, Aff, Desc, Emitter, MaskB, Ptr, PtrG, PtrT, Splat, identity_strides, mtype,
                    shape_of, ttype)

_DTYPES = {"f32": "float32", "f16": "float16", "bf16": "bfloat16", "f64": "float64", "i1": "bool",
           "i8": "int8", "i16": "int16", "i32": "int32", "i64": "int64"}

# arith/math ops that apply elementwise to tensors (converted to linalg.generic bodies)
_ELEMENTWISE = re.compile(r"^(arith\.(?!constant$)|math\.)")
_PRED = {0: "eq", 1: "ne", 2: "slt", 3: "sle", 4: "sgt", 5: "sge", 6: "ult", 7: "ule", 8: "ugt", 9: "uge"}

# CUDA libdevice symbols that kernels may still reference, mapped to math-dialect ops
_EXTERN = {"expf": "math.exp", "exp2f": "math.exp2", "logf": "math.log", "log2f": "math.log2",
           "tanhf": "math.tanh", "erff": "math.erf", "sqrtf": "math.sqrt", "rsqrtf": "math.rsqrt",
           "sinf": "math.sin", "cosf": "math.cos", "fabsf": "math.absf", "floorf": "math.floor",
           "ceilf": "math.ceil", "powf": "math.powf", "exp": "math.exp", "log": "math.log", "tanh": "math.tanh",
           "erf": "math.erf", "sqrt": "math.sqrt", "rsqrt": "math.rsqrt", "pow": "math.powf",
           "log1pf": "math.log1p", "expm1f": "math.expm1", "atanf": "math.atan", "fmaf": "math.fma"}


GRID_ATTR = "hexmlir.grid"        # marks a module whose public function runs a Triton grid


@dataclass
class ConvertedKernel:
    name: str
    mlir: str
    params: list = field(default_factory=list)     # [{"kind": "ptr"|"scalar", "dtype": ...}] in TTIR order


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
                                   stage="ttir-to-linalg") from None
        fns = [op for op in module.body.operations if op.operation.name == "tt.func"]
        public = [f for f in fns if "public" in _asm_head(f.operation)]
        if not public:
            raise UnsupportedError("no public tt.func in the module", stage="ttir-to-linalg")
        if len(fns) > 1:
            other = [f for f in fns if f not in public]
            raise UnsupportedError("calls to non-inlined functions (noinline=True) are not supported",
                                   stage="ttir-to-linalg", op="tt.call", loc=_src(other[0].operation))
        return _Converter(public[0].operation).run()


# ----------------------------------------------------------------------------------------------------
# reading TTIR ops (tt.* ops are unregistered here: their properties are read from the generic asm)

def _asm_head(op) -> str:
    txt = op.get_asm(print_generic_op_form=True, large_elements_limit=16)
    return txt.split("\n", 1)[0]


def _split_top(s: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "<[{(":
            depth += 1
        elif ch in ">]})":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def _props(op) -> dict:
    head = _asm_head(op)
    m = re.search(r"<\{(.*?)\}>", head)
    d = {}
    if m:
        for item in _split_top(m.group(1)):
            if "=" in item:
                k, v = item.split("=", 1)
                d[k.strip()] = v.strip()
    m = re.search(r"\)\s*(?:<\{.*?\}>)?\s*\{([^{}]*)\}\s*:", head)
    if m:
        for item in _split_top(m.group(1)):
            if "=" in item:
                k, v = item.split("=", 1)
                d.setdefault(k.strip(), v.strip())
    return d


def _int(prop: str) -> int:
    return int(re.match(r"-?\d+", prop).group(0))


def _extras(op) -> str:
    """The properties/attributes text of a registered op (between its operands and its type)."""
    head = _asm_head(op)
    start = head.index(")", head.index('"(') if '"(' in head else 0) + 1
    end = head.rindex(" : ")
    return head[start:end].strip()


def _all_ops(op):
    for r in op.regions:
        for b in r.blocks:
            for o in b.operations:
                yield o
                yield from _all_ops(o.operation)


def _src(op) -> str:
    loc = str(op.location)
    m = re.findall(r'"([^"]+\.py)":(\d+)(?::(\d+))?', loc)
    if m:
        f, line, _ = m[-1]
        return f"{f}:{line}"
    return loc


def _type_str(t) -> str:
    return str(t)


def _elem(t: str) -> str:
    """Element type of a (tensor) type string; for pointers, the pointee."""
    m = re.match(r"tensor<(?:\d+x)*(.*)>$", t)
    e = m.group(1) if m else t
    p = re.match(r"!tt\.ptr<(.*?)(?:,\s*\d+)?>$", e)
    return p.group(1) if p else e


def _shape(t: str) -> tuple:
    m = re.match(r"tensor<((?:\d+x)*)", t)
    if not m:
        return ()
    return tuple(int(x) for x in m.group(1).split("x") if x)


def _is_ptr(t: str) -> bool:
    return "!tt.ptr" in t


# ----------------------------------------------------------------------------------------------------

class _Retry(Exception):
    """A loop-carried value changed form inside the loop: convert the loop again with it materialized."""

    def __init__(self, which: int):
        self.which = which


class _Converter:
    def __init__(self, fn):
        self.fn = fn
        self.em = Emitter()
        self.env: dict = {}
        self.args: list = []          # per kernel argument: ("ptr", elem) or ("scalar", type)
        self.arg_names: list = []
        self.pid: list = []
        self.grid: list = []
        self.preamble: list[str] = []
        self._argt_cache: dict = {}
        self.views: dict = {}          # pointer-view argument index -> the kernel argument it reinterprets
        self._view_cache: dict = {}    # (argument, element type) -> its view's index
        self.helpers: list[str] = []   # private helper declarations (atomics defined at lowering)
        self.op = None                # the op being converted (for error locations)
        # tl.device_assert: a failed check lets the program go on, so gathers/scatters keep in bounds
        self.checked = any(o.operation.name == "tt.assert" for o in _all_ops(fn))

    # ---- errors ----
    def unsupported(self, why: str, op=None):
        op = op or self.op
        raise UnsupportedError(why, stage="ttir-to-linalg", op=op.name if op else None,
                               loc=_src(op) if op else None)

    # ---- top level ----
    def run(self) -> ConvertedKernel:
        head = _asm_head(self.fn)
        name = re.search(r'sym_name = "([^"]+)"', head).group(1)
        block = self.fn.regions[0].blocks[0]
        params, sig = [], []
        for i, a in enumerate(block.arguments):
            t = _type_str(a.type)
            nm = f"%a{i}"
            if _is_ptr(t):
                if t.startswith("tensor"):
                    self.unsupported("tensor-of-pointer kernel arguments", self.fn)
                et = _elem(t)
                st = "i8" if et == "i1" else et
                self.args.append(("ptr", et))
                sig.append(f"{nm}: memref<?x{st}>")
                params.append({"kind": "ptr", "dtype": _DTYPES.get(et, et)})
                self.env[a] = Ptr(i, 0)
            elif t.startswith("!tt.tensordesc"):
                self.unsupported("tensor descriptors as kernel arguments (host-side TensorDescriptor); "
                                 "create them in the kernel with tl.make_tensor_descriptor", self.fn)
            else:
                self.args.append(("scalar", t))
                sig.append(f"{nm}: {t}")
                params.append({"kind": "scalar", "dtype": _DTYPES.get(t, t)})
                self.env[a] = S(nm, t)
            self.arg_names.append(nm)
        em = self.em
        sig += ["%gx: i32", "%gy: i32", "%gz: i32"]
        gi = [em.op(f"arith.index_cast %{g} : i32 to index", "g") for g in ("gx", "gy", "gz")]
        total = em.mul(em.mul(gi[0], gi[1]), gi[2])
        pre = em.lines
        em.lines = []
        self.grid = [S("%gx", "i32"), S("%gy", "i32"), S("%gz", "i32")]
        em.emit(f"scf.forall (%p) in ({em.idx(total)}) {{")
        em.push()
        px = em.op(f"arith.remui %p, {gi[0]} : index", "pid")
        rest = em.op(f"arith.divui %p, {gi[0]} : index", "pid")
        py = em.op(f"arith.remui {rest}, {gi[1]} : index", "pid")
        pz = em.op(f"arith.divui {rest}, {gi[1]} : index", "pid")
        self.pid = [S(em.op(f"arith.index_cast {v} : index to i32", "pid"), "i32") for v in (px, py, pz)]
        self.block(block)
        em.pop()
        em.emit("}")
        em.emit("return")
        body = "\n".join(["  func.func @" + name + "(" + ", ".join(sig) + ") {"] + em.prologue
                         + ["    " + ln.strip() for ln in pre] + self.preamble + em.lines + ["  }"])
        body += "".join("\n" + h for h in self.helpers)
        return ConvertedKernel(name, f'module attributes {{{GRID_ATTR}}} {{\n' + body + "\n}\n", params)

    # ---- blocks and ops ----
    def block(self, block, stop_at=("tt.return", "scf.yield", "scf.condition", "tt.reduce.return")):
        """Convert the ops of a block; returns the terminator's operand values (converted)."""
        for op in block.operations:
            op = op.operation
            if op.name in stop_at:
                return op, [self.env[v] for v in op.operands]
            self.op = op
            try:
                self.convert(op)
            except (HexmlirError, _Retry):
                raise
            except Exception as e:                          # a converter bug: say where
                raise CompileError(f"internal error converting this op: {type(e).__name__}: {e}",
                                   stage="ttir-to-linalg", op=op.name, loc=_src(op)) from e
        return None, []

    def convert(self, op) -> None:
        n = op.name
        h = getattr(self, "op_" + n.replace(".", "_"), None)
        if h is not None:
            h(op)
        elif _ELEMENTWISE.match(n):
            self.elementwise(op)
        else:
            self.unsupported(f"no conversion for {n}")

    def res(self, op, v, i: int = 0):
        self.env[op.results[i]] = v

    def v(self, value):
        return self.env[value]

    # ---- constants, program ids ----
    def op_arith_constant(self, op):
        t = _type_str(op.results[0].type)
        head = _asm_head(op)
        m = re.search(r"value = (.*?) : ", head)
        lit = m.group(1)
        if lit.endswith("}>"):            # a bool prints without a type: `<{value = true}> : () -> i1`
            lit = lit[:-2]
        if t.startswith("tensor"):
            dm = re.match(r"dense<(.*)>$", lit)
            if dm and not dm.group(1).startswith("["):
                s = self.em.const(self._parse_lit(dm.group(1), _elem(t)), _elem(t))
                self.res(op, Splat(S(s, _elem(t)), _shape(t)))
                return
            name = self.em.op(f"arith.constant {lit} : {t}", "cst")
            self.res(op, T(name, _shape(t), _elem(t)))
            return
        self.res(op, S(self.em.const(self._parse_lit(lit, t), t), t))

    @staticmethod
    def _parse_lit(lit: str, t: str):
        lit = lit.strip()
        if t == "i1":
            return lit in ("true", "1")
        if lit.startswith("0x"):
            import struct
            bits = int(lit, 16)
            if t == "f32":
                return struct.unpack("<f", bits.to_bytes(4, "little"))[0]
            if t == "f16":
                return struct.unpack("<e", bits.to_bytes(2, "little"))[0]
            if t == "f64":
                return struct.unpack("<d", bits.to_bytes(8, "little"))[0]
            if t == "bf16":
                return struct.unpack("<f", (bits << 16).to_bytes(4, "little"))[0]
            return bits
        return float(lit) if t.startswith(("f", "bf")) else int(lit)

    def op_tt_get_program_id(self, op):
        self.res(op, self.pid[_int(_props(op)["axis"])])

    def op_tt_get_num_programs(self, op):
        self.res(op, self.grid[_int(_props(op)["axis"])])

    def op_tt_assert(self, op):
        """tl.device_assert -> cf.assert per element (a scalar loop nest over the condition's block), keeping
        the kernel's source line; transforms/asserts.py compiles it into a runtime check."""
        m = re.search(r'message = "((?:[^"\\]|\\.)*)"', _asm_head(op))
        msg = m.group(1) if m else "device_assert failed"
        loc = _src(op).replace("\\", "\\\\").replace('"', '\\"')
        tail = f'{{hexmlir.loc = "{loc}"}}'
        cond = self.v(op.operands[0])
        em = self.em
        if isinstance(cond, (S, Splat)):
            em.emit(f'cf.assert {(cond if isinstance(cond, S) else cond.s).name}, "{msg}" {tail}')
            return
        if isinstance(cond, MaskB):
            self.loops(cond.shape, lambda ctx: em.emit(f'cf.assert {self.expr(cond, ctx)}, "{msg}" {tail}'))
            return
        # The loop reads the condition as bytes: the generic making them fuses with the i1 chain computing it.
        flags = self.generic(cond.shape, [cond], "i8", lambda ctx, v: em.op(f"arith.extui {v[0]} : i1 to i8"))

        def check(ctx):
            ok = em.op(f"arith.cmpi ne, {ctx.elem(flags)}, {em.const(0, 'i8')} : i8")
            em.emit(f'cf.assert {ok}, "{msg}" {tail}')
        self.loops(cond.shape, check)

    def _in_bounds(self, size: str, off: str) -> str:
        """A kernel with assertions keeps going after a failed one: its computed offsets are clamped into
        the argument's storage (on valid input this changes nothing)."""
        if not self.checked:
            return off
        em = self.em
        hi = em.op(f"arith.subi {em.op(size, 'i')}, {em.idx(1)} : index", "i")
        return em.op(f"arith.minsi {em.op(f'arith.maxsi {off}, {em.idx(0)} : index', 'i')}, {hi} : index", "i")

    def op_llvm_intr_assume(self, op):
        """tl.assume (Inductor's mm templates: `pid_m >= 0`): an optimization hint with no result; dropped."""

    # ---- materialization ----
    def tensor(self, v) -> T:
        """Any tensor form as a tensor SSA value."""
        if isinstance(v, T):
            return v
        if isinstance(v, (PtrT, PtrG, Ptr)):
            self.unsupported("pointer tensors cannot be used as values (ptr_to_int / pointer select)")
        et = v.s.type if isinstance(v, Splat) else ("i1" if isinstance(v, MaskB) else v.et)
        return self.generic(v.shape, [v], et, lambda b, x: x[0])

    def expr(self, v, ctx) -> str:
        """The scalar value of tensor form `v` at the element indices of `ctx` (a generic body or a loop)."""
        em = self.em
        if isinstance(v, S):
            return v.name
        if isinstance(v, Splat):
            return v.s.name
        if isinstance(v, T):
            return ctx.elem(v)
        if isinstance(v, Aff):
            acc = v.base
            for d, st in enumerate(v.strides):
                if st != 0:
                    acc = em.add(acc, em.mul(ctx.index(d), st))
            return em.from_index(acc, v.et)
        if isinstance(v, MaskB):
            conds = []
            for d in range(len(v.shape)):
                if v.lo[d] is not None:
                    conds.append(em.op(f"arith.cmpi sge, {ctx.index(d)}, {em.idx(v.lo[d])} : index"))
                if v.hi[d] is not None:
                    conds.append(em.op(f"arith.cmpi slt, {ctx.index(d)}, {em.idx(v.hi[d])} : index"))
            if not conds:
                return em.const(True, "i1")
            c = conds[0]
            for x in conds[1:]:
                c = em.op(f"arith.andi {c}, {x} : i1")
            return c
        raise CompileError(f"no element expression for {type(v).__name__}", stage="ttir-to-linalg")

    def offset_expr(self, p, ctx):
        """Element offset (index) of pointer form p at ctx's indices."""
        em = self.em
        if isinstance(p, Ptr):
            return p.off
        if isinstance(p, PtrT):
            acc = p.base
            for d, st in enumerate(p.strides):
                acc = em.add(acc, em.mul(ctx.index(d), st))
            return acc
        acc = p.base
        for part in p.parts:
            x = self.expr(part, ctx)
            t = part.et if isinstance(part, (T, Aff)) else part.s.type
            acc = em.add(acc, em.op(f"arith.index_cast {x} : {t} to index", "i") if t != "index" else x)
        return acc

    def generic(self, shape, inputs, out_et, body, out_init=None) -> T:
        """linalg.generic over `shape`: tensor inputs become operands, other forms are computed in the body.
        body(ctx, scalars) returns the result scalar name."""
        em = self.em
        rank = len(shape)
        dims = ", ".join(f"d{i}" for i in range(rank))
        idmap = f"affine_map<({dims}) -> ({dims})>"
        tens = []
        for x in inputs:
            if isinstance(x, T) and x.name not in [t.name for t in tens]:
                tens.append(x)
        init = out_init or em.op(f"tensor.empty() : {ttype(shape, out_et)}", "e")
        maps = ", ".join([idmap] * (len(tens) + 1))
        iters = ", ".join(['"parallel"'] * rank)
        ins = ""
        if tens:
            ins = f"ins({', '.join(t.name for t in tens)} : {', '.join(ttype(t.shape, t.et) for t in tens)}) "
        r = em.fresh("g")
        em.emit(f"{r} = linalg.generic {{indexing_maps = [{maps}], iterator_types = [{iters}]}} {ins}"
                f"outs({init} : {ttype(shape, out_et)}) {{")
        args = [f"%in{em.n}_{k}" for k in range(len(tens))]
        outarg = f"%out{em.n}"
        em.emit("^bb0(" + ", ".join([f"{a}: {t.et}" for a, t in zip(args, tens)] + [f"{outarg}: {out_et}"]) + "):")
        em.push()
        ctx = _BodyCtx(self, {t.name: a for t, a in zip(tens, args)}, outarg)
        vals = [self.expr(x, ctx) for x in inputs]
        out = body(ctx, vals)
        em.emit(f"linalg.yield {out} : {out_et}")
        em.pop()
        em.emit(f"}} -> {ttype(shape, out_et)}")
        return T(r, tuple(shape), out_et)

    # ---- elementwise arith/math ----
    def elementwise(self, op):
        rt = _type_str(op.results[0].type)
        ins = [self.v(x) for x in op.operands]
        if not rt.startswith("tensor") and all(isinstance(x, S) for x in ins):
            self.res(op, S(self.scalar_op(op, [x.name for x in ins], [x.type for x in ins], rt), rt))
            return
        shape = _shape(rt)
        sym = self.symbolic(op, ins, shape)
        if sym is not None:
            self.res(op, sym)
            return
        if all(isinstance(x, (Splat, S)) for x in ins):      # splat op splat: one scalar op
            xs = [x.s if isinstance(x, Splat) else x for x in ins]
            s = self.scalar_op(op, [x.name for x in xs], [x.type for x in xs], _elem(rt))
            self.res(op, Splat(S(s, _elem(rt)), shape))
            return
        types = [_elem(_type_str(x.type)) for x in op.operands]
        self.res(op, self.generic(shape, ins, _elem(rt), lambda ctx, vals: self.scalar_op(op, vals, types, _elem(rt))))

    def scalar_op(self, op, names, types, rtype) -> str:
        return self.em.op(f'"{op.name}"({", ".join(names)}) {_extras(op)} : ({", ".join(types)}) -> {rtype}')

    def symbolic(self, op, ins, shape):
        """Index arithmetic and range masks that stay symbolic (the pointer analysis)."""
        em, n = self.em, op.name
        def aff(x):
            if isinstance(x, Aff):
                return x
            if isinstance(x, Splat) and x.s.type in ("i32", "i64", "index"):
                return Aff(shape, em.to_index(x.s), [0] * len(shape), x.s.type)
            return None
        if n in ("arith.addi", "arith.subi", "arith.muli") and len(ins) == 2:
            a, b = aff(ins[0]), aff(ins[1])
            if a is None or b is None or not (isinstance(ins[0], Aff) or isinstance(ins[1], Aff)):
                return None
            if n == "arith.addi":
                return Aff(shape, em.add(a.base, b.base), [em.add(x, y) for x, y in zip(a.strides, b.strides)], a.et)
            if n == "arith.subi":
                return Aff(shape, em.sub(a.base, b.base), [em.sub(x, y) for x, y in zip(a.strides, b.strides)], a.et)
            # multiply: one side must be uniform (a splat)
            if all(s == 0 for s in b.strides):
                k = b.base
            elif all(s == 0 for s in a.strides):
                a, k = b, a.base
            else:
                return None
            return Aff(shape, em.mul(a.base, k), [em.mul(s, k) for s in a.strides], a.et)
        if n == "arith.extsi" or n == "arith.trunci" or n == "arith.index_cast":
            if isinstance(ins[0], Aff):       # offsets stay exact in index arithmetic
                return Aff(shape, ins[0].base, list(ins[0].strides), _elem(_type_str(op.results[0].type)))
            return None
        if n == "arith.cmpi" and len(shape) and (isinstance(ins[0], Aff) or isinstance(ins[1], Aff)):
            pred = _PRED[_int(_props(op)["predicate"])]
            a, b = ins
            if isinstance(b, Aff) and not isinstance(a, Aff):
                a, b = b, a
                pred = {"slt": "sgt", "sle": "sge", "sgt": "slt", "sge": "sle"}.get(pred, pred)
            if not isinstance(b, Splat) or b.s.type not in ("i32", "i64", "index") or pred not in ("slt", "sle", "sgt", "sge"):
                return None
            live = [d for d, s in enumerate(a.strides) if s != 0]
            if len(live) != 1 or not isinstance(a.strides[live[0]], int) or a.strides[live[0]] <= 0:
                return None
            d, st = live[0], a.strides[live[0]]
            bound = em.sub(em.to_index(b.s), a.base)       # st * i_d (pred) bound
            lo, hi = [None] * len(shape), [None] * len(shape)
            if pred == "slt":
                hi[d] = em.ceildiv(bound, st)
            elif pred == "sle":
                hi[d] = em.ceildiv(em.add(bound, 1), st)
            elif pred == "sgt":
                lo[d] = em.ceildiv(em.add(bound, 1), st)
            else:
                lo[d] = em.ceildiv(bound, st)
            return MaskB(shape, lo, hi)
        if n == "arith.andi" and len(shape):
            a, b = ins
            if isinstance(a, Splat) and isinstance(b, MaskB):
                a, b = b, a
            if isinstance(a, MaskB) and isinstance(b, MaskB):
                lo = [x if y is None else y if x is None else em.max(x, y) for x, y in zip(a.lo, b.lo)]
                hi = [x if y is None else y if x is None else em.min(x, y) for x, y in zip(a.hi, b.hi)]
                return MaskB(shape, lo, hi)
            if isinstance(a, MaskB) and isinstance(b, Splat) and b.s.type == "i1":
                # a uniform condition: all elements or none (empty range on dim 0)
                hi = list(a.hi)
                h0 = em.idx(hi[0] if hi[0] is not None else shape[0])
                hi[0] = em.op(f"arith.select {b.s.name}, {h0}, {em.idx(0)} : index", "i")
                return MaskB(shape, list(a.lo), hi)
        return None

    # ---- shape ops ----
    def op_tt_splat(self, op):
        x = self.v(op.operands[0])
        shape = _shape(_type_str(op.results[0].type))
        if isinstance(x, Ptr):
            self.res(op, PtrT(x.arg, shape, x.off, [0] * len(shape)))
        else:
            self.res(op, Splat(x, shape))

    def op_tt_make_range(self, op):
        p = _props(op)
        start, end = _int(p["start"]), _int(p["end"])
        self.res(op, Aff((end - start,), start, [1], "i32"))

    def op_tt_expand_dims(self, op):
        x = self.v(op.operands[0])
        axis = _int(_props(op)["axis"])
        shape = _shape(_type_str(op.results[0].type))
        def ins(lst, val):
            lst = list(lst)
            lst.insert(axis, val)
            return lst
        if isinstance(x, Splat):
            self.res(op, Splat(x.s, shape))
        elif isinstance(x, Aff):
            self.res(op, Aff(shape, x.base, ins(x.strides, 0), x.et))
        elif isinstance(x, PtrT):
            self.res(op, PtrT(x.arg, shape, x.base, ins(x.strides, 0)))
        elif isinstance(x, MaskB):
            self.res(op, MaskB(shape, ins(x.lo, None), ins(x.hi, None)))
        elif isinstance(x, PtrG):
            self.res(op, PtrG(x.arg, shape, x.base, [self.expand(self.tensor(q), axis, shape) for q in x.parts]))
        else:
            self.res(op, self.expand(self.tensor(x), axis, shape))

    def expand(self, t: T, axis: int, shape) -> T:
        rank = len(t.shape)
        groups, k = [], 0
        for d in range(rank):
            g = [k]
            k += 1
            if d == axis or (d == rank - 1 and axis == rank):
                if d == axis:
                    g = [k - 1, k]
                else:
                    g = [k - 1, k]
                k += 1
            groups.append(g)
        if rank == 0:
            groups = []
        r = self.em.op(f"tensor.expand_shape {t.name} {_reassoc(groups)} output_shape [{', '.join(map(str, shape))}] : "
                       f"{ttype(t.shape, t.et)} into {ttype(shape, t.et)}")
        return T(r, tuple(shape), t.et)

    def op_tt_broadcast(self, op):
        x = self.v(op.operands[0])
        shape = _shape(_type_str(op.results[0].type))
        src = shape_of(x)
        bdims = [d for d in range(len(shape)) if src[d] == 1 and shape[d] != 1]
        if isinstance(x, Splat):
            self.res(op, Splat(x.s, shape))
        elif isinstance(x, Aff):
            self.res(op, Aff(shape, x.base, [0 if d in bdims else s for d, s in enumerate(x.strides)], x.et))
        elif isinstance(x, PtrT):
            self.res(op, PtrT(x.arg, shape, x.base, [0 if d in bdims else s for d, s in enumerate(x.strides)]))
        elif isinstance(x, MaskB):
            lo, hi = list(x.lo), list(x.hi)
            for d in bdims:              # a size-1 dim's bound is a uniform condition: fold it into an all-or-none
                if lo[d] is not None or hi[d] is not None:
                    em = self.em
                    ok = em.op(f"arith.andi {em.op(f'arith.cmpi sle, {em.idx(lo[d] if lo[d] is not None else 0)}, {em.idx(0)} : index')}, "
                               f"{em.op(f'arith.cmpi sgt, {em.idx(hi[d] if hi[d] is not None else 1)}, {em.idx(0)} : index')} : i1")
                    lo[d] = None
                    hi[d] = em.op(f"arith.select {ok}, {em.idx(shape[d])}, {em.idx(0)} : index", "i")
            self.res(op, MaskB(shape, lo, hi))
        elif isinstance(x, PtrG):
            self.res(op, PtrG(x.arg, shape, x.base, [self.broadcast(self.tensor(q), shape) for q in x.parts]))
        else:
            self.res(op, self.broadcast(self.tensor(x), shape))

    def broadcast(self, t: T, shape) -> T:
        if tuple(t.shape) == tuple(shape):
            return t
        em = self.em
        keep = [d for d in range(len(shape)) if not (t.shape[d] == 1 and shape[d] != 1)]
        if len(keep) < len(shape):   # drop the size-1 dims, then broadcast with a projected map
            groups, cur = [], []
            for d in range(len(shape)):
                cur.append(d)
                if d in keep:
                    groups.append(cur)
                    cur = []
            if cur:
                if groups:
                    groups[-1] += cur
                else:
                    groups = []
            col = em.op(f"tensor.collapse_shape {t.name} {_reassoc(groups)} : {ttype(t.shape, t.et)} into "
                        f"{ttype([t.shape[d] for d in keep], t.et)}")
        else:
            col = t.name
        dims = ", ".join(f"d{i}" for i in range(len(shape)))
        imap = f"affine_map<({dims}) -> ({', '.join(f'd{d}' for d in keep)})>"
        omap = f"affine_map<({dims}) -> ({dims})>"
        init = em.op(f"tensor.empty() : {ttype(shape, t.et)}", "e")
        r = em.fresh("b")
        iters = ", ".join(['"parallel"'] * len(shape))
        em.emit(f"{r} = linalg.generic {{indexing_maps = [{imap}, {omap}], iterator_types = [{iters}]}} "
                f"ins({col} : {ttype([t.shape[d] for d in keep], t.et)}) outs({init} : {ttype(shape, t.et)}) {{")
        em.emit(f"^bb0(%bi{em.n}: {t.et}, %bo{em.n}: {t.et}):")
        em.emit(f"  linalg.yield %bi{em.n} : {t.et}")
        em.emit(f"}} -> {ttype(shape, t.et)}")
        return T(r, tuple(shape), t.et)

    def op_tt_reshape(self, op):
        v = self.v(op.operands[0])
        shape = _shape(_type_str(op.results[0].type))
        src = shape_of(v)
        if [n for n in src if n != 1] == [n for n in shape if n != 1] and not isinstance(v, (T, PtrG)):
            # only unit dims inserted/removed: symbolic forms keep their per-dim data on the non-unit dims
            keep_src = [d for d, n in enumerate(src) if n != 1]
            keep_dst = [d for d, n in enumerate(shape) if n != 1]
            def remap(vals, fill):
                out = [fill] * len(shape)
                for a, b in zip(keep_src, keep_dst):
                    out[b] = vals[a]
                return out
            if isinstance(v, Splat):
                self.res(op, Splat(v.s, shape))
                return
            if isinstance(v, Aff):
                self.res(op, Aff(shape, v.base, remap(v.strides, 0), v.et))
                return
            if isinstance(v, PtrT):
                self.res(op, PtrT(v.arg, shape, v.base, remap(v.strides, 0)))
                return
            if isinstance(v, MaskB) and all(v.lo[d] is None and v.hi[d] is None for d in range(len(src)) if src[d] == 1):
                self.res(op, MaskB(shape, remap(v.lo, None), remap(v.hi, None)))
                return
        x = self.tensor(v)
        em = self.em
        n = 1
        for s in x.shape:
            n *= s
        flat = x.name
        if len(x.shape) != 1:
            flat = em.op(f"tensor.collapse_shape {x.name} {_reassoc([list(range(len(x.shape)))]) if x.shape else '[]'} : "
                         f"{ttype(x.shape, x.et)} into {ttype([n], x.et)}")
        if len(shape) == 1:
            self.res(op, T(flat, (n,), x.et))
            return
        r = em.op(f"tensor.expand_shape {flat} {_reassoc([list(range(len(shape)))])} output_shape "
                  f"[{', '.join(map(str, shape))}] : {ttype([n], x.et)} into {ttype(shape, x.et)}")
        self.res(op, T(r, shape, x.et))

    def op_tt_trans(self, op):
        x = self.tensor(self.v(op.operands[0]))
        order = [int(s) for s in re.findall(r"-?\d+", _props(op)["order"].split(":", 1)[1])]
        shape = tuple(x.shape[d] for d in order)
        em = self.em
        init = em.op(f"tensor.empty() : {ttype(shape, x.et)}", "e")
        r = em.op(f"linalg.transpose ins({x.name} : {ttype(x.shape, x.et)}) outs({init} : {ttype(shape, x.et)}) "
                  f"permutation = [{', '.join(map(str, order))}]")
        self.res(op, T(r, shape, x.et))

    def op_tt_cat(self, op):
        a, b = (self.tensor(self.v(x)) for x in op.operands)
        shape = _shape(_type_str(op.results[0].type))
        self.res(op, self.concat([a, b], 0, shape))

    def concat(self, parts, axis, shape) -> T:
        em = self.em
        et = parts[0].et
        acc = em.op(f"tensor.empty() : {ttype(shape, et)}", "e")
        off = 0
        for p in parts:
            offs = ["0"] * len(shape)
            offs[axis] = str(off)
            acc = em.op(f"tensor.insert_slice {p.name} into {acc}[{', '.join(offs)}] [{', '.join(map(str, p.shape))}] "
                        f"[{', '.join(['1'] * len(shape))}] : {ttype(p.shape, et)} into {ttype(shape, et)}")
            off += p.shape[axis]
        return T(acc, tuple(shape), et)

    def op_tt_join(self, op):
        a, b = (self.tensor(self.v(x)) for x in op.operands)
        shape = _shape(_type_str(op.results[0].type))
        parts = [self.expand(x, len(x.shape), tuple(x.shape) + (1,)) for x in (a, b)]
        self.res(op, self.concat(parts, len(shape) - 1, shape))

    def op_tt_split(self, op):
        x = self.tensor(self.v(op.operands[0]))
        shape = x.shape[:-1]
        em = self.em
        for i in range(2):
            offs = ["0"] * (len(x.shape) - 1) + [str(i)]
            r = em.op(f"tensor.extract_slice {x.name}[{', '.join(offs)}] [{', '.join(map(str, shape + (1,)))}] "
                      f"[{', '.join(['1'] * len(x.shape))}] : {ttype(x.shape, x.et)} to {ttype(shape, x.et)}")
            self.res(op, T(r, shape, x.et), i)

    # ---- pointers ----
    def op_tt_addptr(self, op):
        p, o = self.v(op.operands[0]), self.v(op.operands[1])
        em = self.em
        if isinstance(p, Ptr):
            self.res(op, Ptr(p.arg, em.add(p.off, em.to_index(o))))
            return
        shape = shape_of(p)
        if isinstance(o, Splat) and o.s.type != "index":
            o = Aff(shape, em.to_index(o.s), [0] * len(shape), o.s.type)
        if isinstance(p, PtrT) and isinstance(o, Aff):
            self.res(op, PtrT(p.arg, shape, em.add(p.base, o.base), [em.add(a, b) for a, b in zip(p.strides, o.strides)]))
            return
        if isinstance(p, PtrT):
            part0 = Aff(shape, 0, list(p.strides), "index") if any(s != 0 for s in p.strides) else None
            self.res(op, PtrG(p.arg, shape, p.base, ([part0] if part0 else []) + [o]))
            return
        if isinstance(o, Aff):
            self.res(op, PtrG(p.arg, shape, em.add(p.base, o.base),
                              p.parts + ([Aff(shape, 0, o.strides, "index")] if any(s != 0 for s in o.strides) else [])))
            return
        self.res(op, PtrG(p.arg, shape, p.base, p.parts + [o]))

    def _argt(self, arg: int) -> str:
        """The whole argument as a tensor (for gathers), made once at function entry."""
        arg = self.views.get(arg, arg)
        if arg not in self._argt_cache:
            st = self._storage(arg)
            name = f"%argt{arg}"
            self.preamble.append(f"    {name} = bufferization.to_tensor {self.arg_names[arg]} restrict : "
                                 f"memref<?x{st}> to tensor<?x{st}>")
            self._argt_cache[arg] = name
        return self._argt_cache[arg]

    def _storage(self, arg: int) -> str:
        """The memref element type behind argument `arg` (a pointer view shares its root's buffer)."""
        arg = self.views.get(arg, arg)
        et = self.args[arg][1]
        return "i8" if et == "i1" else et

    def _et(self, arg: int) -> str:
        """The element type a pointer (or pointer view) reads and writes."""
        return self.args[arg][1]

    def to_et(self, v: str, st: str, et: str) -> str:
        """A value loaded from storage type st as element type et (bool bytes, same-width bitcasts)."""
        if st == et:
            return v
        if et == "i1":
            return self.em.op(f"arith.cmpi ne, {v}, {self.em.const(0, st)} : {st}")
        if _bytes(st) == _bytes(et):
            return self.em.op(f"arith.bitcast {v} : {st} to {et}")
        self.unsupported(f"a pointer view of {st} data as {et} (element sizes differ)")

    def to_st(self, v: str, et: str, st: str) -> str:
        if st == et:
            return v
        if et == "i1":
            return self.em.op(f"arith.extui {v} : i1 to {st}")
        if _bytes(st) == _bytes(et):
            return self.em.op(f"arith.bitcast {v} : {et} to {st}")
        self.unsupported(f"a pointer view of {st} data as {et} (element sizes differ)")

    def view(self, p: PtrT):
        """A strided memref view of the pointer block (static sizes)."""
        em = self.em
        st = self._storage(p.arg)
        strides = [s if isinstance(s, int) else None for s in p.strides]
        off = p.base if isinstance(p.base, int) else None
        rt = mtype(p.shape, st, strides, off)
        r = em.op(f"memref.reinterpret_cast {self.arg_names[p.arg]} to offset: [{em.idx(p.base) if off is None else off}], "
                  f"sizes: [{', '.join(map(str, p.shape))}], strides: [{', '.join(em.idx(s) if x is None else str(x) for s, x in zip(p.strides, strides))}] "
                  f": memref<?x{st}> to {rt}", "view")
        return r, strides, off

    def bounds(self, mask: MaskB | None, shape):
        """Per-dim (offset, size) of the rectangle a range mask selects (clamped to the block)."""
        em = self.em
        out = []
        for d, n in enumerate(shape):
            lo = mask.lo[d] if mask else None
            hi = mask.hi[d] if mask else None
            lo_c = em.clamp(lo, 0, n) if lo is not None else 0
            hi_c = em.clamp(hi, 0, n) if hi is not None else n
            out.append((lo_c, em.max(em.sub(hi_c, lo_c), 0)))
        return out

    def subview(self, src, shape, et, strides, off, rect, identity=False) -> tuple[str, str]:
        em = self.em
        offs = [o for o, _ in rect]
        sizes = [s for _, s in rect]
        if off is not None and all(isinstance(o, int) for o in offs) and all(
                isinstance(st, int) or o == 0 for st, o in zip(strides, offs)):
            roff = off + sum(o * st for o, st in zip(offs, strides) if o)
        else:
            roff = None
        rt = mtype([s if isinstance(s, int) else None for s in sizes], et, strides, roff)
        src_t = mtype(shape, et) if identity else mtype(shape, et, strides, off)
        r = em.op(f"memref.subview {src}[{', '.join(map(em.dim, offs))}] [{', '.join(map(em.dim, sizes))}] "
                  f"[{', '.join(['1'] * len(shape))}] : {src_t} to {rt}", "sv")
        return r, rt

    def op_tt_load(self, op):
        rt = _type_str(op.results[0].type)
        ops = [self.v(x) for x in op.operands]
        p = ops[0]
        mask = ops[1] if len(ops) > 1 else None
        other = ops[2] if len(ops) > 2 else None
        em = self.em
        if isinstance(p, Ptr):                                   # scalar load
            st = self._storage(p.arg)
            ld = f"memref.load {self.arg_names[p.arg]}[{em.idx(p.off)}] : memref<?x{st}>"
            if mask is None:
                v = em.op(ld)
            else:
                o = self.to_st(other.name, rt, st) if other is not None else em.const(0, st)
                v = em.fresh()
                em.emit(f"{v} = scf.if {mask.name} -> ({st}) {{")
                em.emit(f"  %ld{em.n} = {ld}")
                em.emit(f"  scf.yield %ld{em.n} : {st}")
                em.emit(f"}} else {{\n{'  ' * em.depth}  scf.yield {o} : {st}\n{'  ' * em.depth}}}")
            self.res(op, S(self._from_storage(v, p.arg), rt))
            return
        shape, et = _shape(rt), _elem(rt)
        if isinstance(mask, Splat) and mask.s.type == "i1":
            mask = self._uniform_mask(mask, shape)
        if isinstance(p, PtrT) and (mask is None or isinstance(mask, MaskB)) and (other is None or isinstance(other, Splat)) \
                and et == self._storage(p.arg):
            self.res(op, self.load_block(p, mask, other, shape, et))
            return
        self.res(op, self.gather(p, mask, other, shape, et))

    def _uniform_mask(self, m: Splat, shape) -> MaskB:
        em = self.em
        hi = [None] * len(shape)
        hi[0] = em.op(f"arith.select {m.s.name}, {em.idx(shape[0])}, {em.idx(0)} : index", "i")
        return MaskB(shape, [None] * len(shape), hi)

    def _from_storage(self, v: str, arg: int) -> str:
        return self.to_et(v, self._storage(arg), self._et(arg))

    def load_block(self, p: PtrT, mask, other, shape, et) -> T:
        em = self.em
        view, strides, off = self.view(p)
        buf = em.op(f"memref.alloc() {{alignment = 128 : i64}} : {mtype(shape, et)}", "buf")
        masked = mask is not None and any(x is not None for x in mask.lo + mask.hi)
        if masked:
            fill = other.s.name if other is not None else em.const(0, et)
            em.emit(f"linalg.fill ins({fill} : {et}) outs({buf} : {mtype(shape, et)})")
            rect = self.bounds(mask, shape)
            src, src_t = self.subview(view, shape, et, strides, off, rect)
            dst, dst_t = self.subview(buf, shape, et, identity_strides(shape), 0, rect, identity=True)
            em.emit(f"memref.copy {src}, {dst} : {src_t} to {dst_t}")
        else:
            em.emit(f"memref.copy {view}, {buf} : {mtype(shape, et, strides, off)} to {mtype(shape, et)}")
        r = em.op(f"bufferization.to_tensor {buf} restrict writable : {mtype(shape, et)} to {ttype(shape, et)}", "ld")
        return T(r, tuple(shape), et)

    def gather(self, p, mask, other, shape, et) -> T:
        em = self.em
        argt = self._argt(p.arg)
        st = self._storage(p.arg)
        ins = [mask] if mask is not None else []
        if other is not None:
            ins.append(other)
        parts = p.parts if isinstance(p, PtrG) else []
        ins += parts
        def body(ctx, vals):
            off = em.idx(self.offset_expr(p, ctx))
            if mask is not None:
                off = em.op(f"arith.select {vals[0]}, {off}, {em.idx(0)} : index", "i")
            off = self._in_bounds(f"tensor.dim {argt}, {em.idx(0)} : tensor<?x{st}>", off)
            x = self.to_et(em.op(f"tensor.extract {argt}[{off}] : tensor<?x{st}>"), st, et)
            if mask is not None:
                o = vals[1] if other is not None else em.const(0, et)
                x = em.op(f"arith.select {vals[0]}, {x}, {o} : {et}")
            return x
        return self.generic(shape, ins, et, body)

    def op_tt_store(self, op):
        ops = [self.v(x) for x in op.operands]
        p, val = ops[0], ops[1]
        mask = ops[2] if len(ops) > 2 else None
        em = self.em
        if isinstance(p, Ptr):
            st = self._storage(p.arg)
            v = self.to_st(val.name, val.type, st)
            stv = f"memref.store {v}, {self.arg_names[p.arg]}[{em.idx(p.off)}] : memref<?x{st}>"
            if mask is None:
                em.emit(stv)
            else:
                em.emit(f"scf.if {mask.name} {{\n{'  ' * em.depth}  {stv}\n{'  ' * em.depth}}}")
            return
        shape = shape_of(p)
        if isinstance(mask, Splat) and mask.s.type == "i1":
            mask = self._uniform_mask(mask, shape)
        et = self._et(p.arg)
        if isinstance(p, PtrT) and (mask is None or isinstance(mask, MaskB)) and et == self._storage(p.arg):
            self.store_block(p, self.tensor(val), mask, et)
            return
        self.scatter(p, val, mask, shape)

    def store_block(self, p: PtrT, t: T, mask, et) -> None:
        """Store the part of block t that a range mask selects into the strided view of p."""
        em = self.em
        view, strides, off = self.view(p)
        rect = self.bounds(mask, p.shape)
        dst, dst_t = self.subview(view, p.shape, et, strides, off, rect)
        offs, sizes = [o for o, _ in rect], [n for _, n in rect]
        vs_t = ttype(["?" if not isinstance(n, int) else n for n in sizes], et)
        vs = em.op(f"tensor.extract_slice {t.name}[{', '.join(map(em.dim, offs))}] [{', '.join(map(em.dim, sizes))}] "
                   f"[{', '.join(['1'] * len(p.shape))}] : {ttype(p.shape, et)} to {vs_t}")
        em.emit(f"bufferization.materialize_in_destination {vs} in writable {dst} : ({vs_t}, {dst_t}) -> ()")

    def loops(self, shape, body) -> None:
        """A scalar loop nest over shape; body(ctx) emits the innermost statements."""
        em = self.em
        ivs = []
        for n in shape:
            iv = em.fresh("iv")
            em.emit(f"scf.for {iv} = {em.idx(0)} to {em.idx(n)} step {em.idx(1)} {{")
            em.push()
            ivs.append(iv)
        body(_LoopCtx(self, ivs))
        for _ in shape:
            em.pop()
            em.emit("}")

    def scatter(self, p, val, mask, shape) -> None:
        em = self.em
        st = self._storage(p.arg)
        val = self.tensor(val) if not isinstance(val, (Splat,)) else val
        mask = self.tensor(mask) if mask is not None and not isinstance(mask, (T, Splat, MaskB)) else mask
        if isinstance(p, PtrG):
            p = PtrG(p.arg, p.shape, p.base, [self.tensor(x) if not isinstance(x, (Aff, Splat)) else x for x in p.parts])

        def body(ctx):
            def store():
                v = self.expr(val, ctx)
                et = val.et if isinstance(val, T) else val.s.type
                v = self.to_st(v, et, st)
                off = em.idx(self.offset_expr(p, ctx))
                if self.checked:
                    off = self._in_bounds(f"memref.dim {self.arg_names[p.arg]}, {em.idx(0)} : memref<?x{st}>", off)
                em.emit(f"memref.store {v}, {self.arg_names[p.arg]}[{off}] : memref<?x{st}>")
            if mask is None:
                store()
            else:
                c = self.expr(mask, ctx)
                em.emit(f"scf.if {c} {{")
                em.push()
                store()
                em.pop()
                em.emit("}")
        self.loops(shape, body)

    # ---- tensor descriptors (triton 3.9's block pointers) ----
    def op_tt_make_tensor_descriptor(self, op):
        ops = [self.v(x) for x in op.operands]
        base = ops[0]
        rank = (len(ops) - 1) // 2
        sizes = [self.em.to_index(x) for x in ops[1:1 + rank]]
        strides = [self.em.to_index(x) for x in ops[1 + rank:1 + 2 * rank]]
        rt = _type_str(op.results[0].type)
        block = _shape(re.search(r"tensor<[^>]*>", rt).group(0))
        et = _elem(re.search(r"tensor<[^>]*>", rt).group(0))
        if not isinstance(base, Ptr):
            self.unsupported("descriptor base must be a scalar pointer")
        self.res(op, Desc(base.arg, base.off, sizes, strides, block, et))

    def _desc_block(self, d: Desc, idxs):
        em = self.em
        offs = [em.to_index(x) for x in idxs]
        base = d.base
        for o, s in zip(offs, d.strides):
            base = em.add(base, em.mul(o, s))
        hi = [em.sub(n, o) for n, o in zip(d.sizes, offs)]
        return PtrT(d.arg, d.block, base, list(d.strides)), MaskB(d.block, [None] * len(d.block), hi)

    def op_tt_descriptor_load(self, op):
        d = self.v(op.operands[0])
        p, m = self._desc_block(d, [self.v(x) for x in op.operands[1:]])
        rt = _type_str(op.results[0].type)
        self.res(op, self.load_block(p, m, None, _shape(rt), _elem(rt)))

    def op_tt_descriptor_store(self, op):
        d = self.v(op.operands[0])
        val = self.v(op.operands[1])
        p, m = self._desc_block(d, [self.v(x) for x in op.operands[2:]])
        self.store_block(p, self.tensor(val), m, d.et)

    # ---- reductions, dot ----
    SUM_BLOCK = 64                 # float sums longer than this reduce blocks of it first, then the partials

    def _is_float_sum(self, op) -> bool:
        body = [o.operation.name for o in op.regions[0].blocks[0].operations]
        return len(op.operands) == 1 and body == ["arith.addf", "tt.reduce.return"]

    def float_sum(self, x: T, axis: int):
        """tl.sum of floats, accurate for long rows: half types accumulate in f32, and a long axis is summed
        in blocks of SUM_BLOCK, then blocks of those sums, and so on (a B-ary tree: error grows with
        B log_B n instead of n)."""
        em = self.em
        et = x.et
        acc = "f32" if et in ("f16", "bf16") else et
        if acc != et:
            x = self.generic(x.shape, [x], acc, lambda c, v: em.op(f"arith.extf {v[0]} : {et} to {acc}"))
        B = self.SUM_BLOCK

        def reduce(x, d):
            rshape = tuple(s for k, s in enumerate(x.shape) if k != d)
            init = em.op(f"linalg.fill ins({em.const(-0.0, acc)} : {acc}) outs("
                         f"{em.op(f'tensor.empty() : {ttype(rshape, acc)}', 'e')} : {ttype(rshape, acc)}) -> {ttype(rshape, acc)}")
            r = em.fresh("sum")
            em.emit(f"{r} = linalg.reduce ins({x.name} : {ttype(x.shape, acc)}) outs({init} : {ttype(rshape, acc)}) "
                    f"dimensions = [{d}]")
            a, b = f"%sa{em.n}", f"%sb{em.n}"
            em.emit(f"  ({a}: {acc}, {b}: {acc}) {{")
            em.emit(f"    %ss{em.n} = arith.addf {a}, {b} : {acc}")
            em.emit(f"    linalg.yield %ss{em.n} : {acc}")
            em.emit("  }")
            return T(r, rshape, acc)
        while x.shape[axis] > B and x.shape[axis] % B == 0:      # blocks of B, then blocks of their sums
            shape, n = list(x.shape), x.shape[axis]
            eshape = shape[:axis] + [n // B, B] + shape[axis + 1:]
            groups = [[d] for d in range(axis)] + [[axis, axis + 1]] + [[d + 1] for d in range(axis + 1, len(shape))]
            x = T(em.op(f"tensor.expand_shape {x.name} {_reassoc(groups)} output_shape [{', '.join(map(str, eshape))}] "
                        f": {ttype(shape, acc)} into {ttype(eshape, acc)}"), tuple(eshape), acc)
            x = reduce(x, axis + 1)
        x = reduce(x, axis)
        if x.shape:
            if acc != et:
                x = self.generic(x.shape, [x], et, lambda c, v: em.op(f"arith.truncf {v[0]} : {acc} to {et}"))
            return x
        s = em.op(f"tensor.extract {x.name}[] : tensor<{acc}>")
        return S(em.op(f"arith.truncf {s} : {acc} to {et}") if acc != et else s, et)

    def op_tt_reduce(self, op):
        axis = _int(_props(op)["axis"])
        ins = [self.tensor(self.v(x)) for x in op.operands]
        em = self.em
        if self._is_float_sum(op) and ins[0].et.startswith(("f", "bf")):
            self.res(op, self.float_sum(ins[0], axis))
            return
        shape = ins[0].shape
        n = shape[axis]
        rshape = tuple(s for d, s in enumerate(shape) if d != axis)
        inits, rests = [], []
        for x in ins:
            offs = ["0"] * len(shape)
            sizes = [str(s) for s in shape]
            sizes[axis] = "1"
            inits.append(em.op(f"tensor.extract_slice {x.name}[{', '.join(offs)}] [{', '.join(sizes)}] "
                               f"[{', '.join(['1'] * len(shape))}] : {ttype(shape, x.et)} to {ttype(rshape, x.et)}"))
            offs[axis] = "1"
            sizes[axis] = str(n - 1)
            rs = list(shape)
            rs[axis] = n - 1
            rests.append(em.op(f"tensor.extract_slice {x.name}[{', '.join(offs)}] [{', '.join(sizes)}] "
                               f"[{', '.join(['1'] * len(shape))}] : {ttype(shape, x.et)} to {ttype(rs, x.et)}"))
        rs = list(shape)
        rs[axis] = n - 1
        k = len(ins)
        r = em.fresh("red")
        res = f"{r}:{k}" if k > 1 else r
        em.emit(f"{res} = linalg.reduce ins({', '.join(rests)} : {', '.join(ttype(rs, x.et) for x in ins)}) "
                f"outs({', '.join(inits)} : {', '.join(ttype(rshape, x.et) for x in ins)}) dimensions = [{axis}]")
        blk = op.regions[0].blocks[0]
        ins_args = [f"%rin{em.n}_{i}" for i in range(k)]
        acc_args = [f"%racc{em.n}_{i}" for i in range(k)]
        em.emit("  (" + ", ".join(f"{a}: {x.et}" for a, x in zip(ins_args + acc_args, ins + ins)) + ") {")
        em.push()
        em.depth += 1
        # Triton's combine(lhs, rhs): lhs is the running value, rhs the next element.
        for i in range(k):
            self.env[blk.arguments[i]] = S(acc_args[i], ins[i].et)
            self.env[blk.arguments[k + i]] = S(ins_args[i], ins[i].et)
        term, vals = self.block(blk)
        em.emit(f"linalg.yield {', '.join(v.name for v in vals)} : {', '.join(v.type for v in vals)}")
        em.depth -= 1
        em.pop()
        em.emit("  }")
        for i, x in enumerate(ins):
            name = f"{r}#{i}" if k > 1 else r
            if rshape:
                self.res(op, T(name, rshape, x.et), i)
            else:
                self.res(op, S(em.op(f"tensor.extract {name}[] : tensor<{x.et}>"), x.et), i)

    def op_tt_dot(self, op):
        a, b = (self.tensor(self.v(x)) for x in op.operands[:2])
        c = self.v(op.operands[2])
        rt = _type_str(op.results[0].type)
        shape, et = _shape(rt), _elem(rt)
        ct = self.tensor(c)
        em = self.em
        name = "linalg.matmul" if len(shape) == 2 else "linalg.batch_matmul"
        if len(shape) not in (2, 3):
            self.unsupported("tt.dot of rank other than 2 or 3")
        r = em.op(f"{name} ins({a.name}, {b.name} : {ttype(a.shape, a.et)}, {ttype(b.shape, b.et)}) "
                  f"outs({ct.name} : {ttype(shape, et)}) -> {ttype(shape, et)}", "dot")
        self.res(op, T(r, shape, et))

    # ---- misc elementwise tt ops ----
    def _unary_math(self, op, mathop):
        x = self.v(op.operands[0])
        rt = _type_str(op.results[0].type)
        et = _elem(rt)
        if isinstance(x, S):
            self.res(op, S(self.em.op(f"{mathop} {x.name} : {et}"), et))
            return
        self.res(op, self.generic(_shape(rt), [x], et, lambda c, v: self.em.op(f"{mathop} {v[0]} : {et}")))

    def op_tt_mulhiui(self, op):
        """High half of the unsigned product (tl.umulhi; Philox in tl.rand/randn/randint): widen, multiply,
        shift. Plain integer ops, so it vectorizes."""
        a, b = (self.v(x) for x in op.operands)
        rt = _type_str(op.results[0].type)
        et = _elem(rt)
        bits = int(et[1:])
        wide = f"i{2 * bits}"
        em = self.em

        def hi(vals):
            x, y = (em.op(f"arith.extui {v} : {et} to {wide}") for v in vals)
            p = em.op(f"arith.muli {x}, {y} : {wide}")
            k = em.op(f"arith.constant {bits} : {wide}")
            h = em.op(f"arith.shrui {p}, {k} : {wide}")
            return em.op(f"arith.trunci {h} : {wide} to {et}")
        if isinstance(a, S) and isinstance(b, S):
            self.res(op, S(hi([a.name, b.name]), et))
            return
        self.res(op, self.generic(_shape(rt), [a, b], et, lambda c, v: hi(v)))

    def op_tt_precise_sqrt(self, op):
        self._unary_math(op, "math.sqrt")

    def op_tt_precise_divf(self, op):
        a, b = (self.v(x) for x in op.operands)
        rt = _type_str(op.results[0].type)
        et = _elem(rt)
        if isinstance(a, S) and isinstance(b, S):
            self.res(op, S(self.em.op(f"arith.divf {a.name}, {b.name} : {et}"), et))
            return
        self.res(op, self.generic(_shape(rt), [a, b], et, lambda c, v: self.em.op(f"arith.divf {v[0]}, {v[1]} : {et}")))

    def op_tt_clampf(self, op):
        x, lo, hi = (self.v(v) for v in op.operands)
        rt = _type_str(op.results[0].type)
        et = _elem(rt)
        em = self.em
        def body(c, v):
            return em.op(f"arith.minimumf {em.op(f'arith.maximumf {v[0]}, {v[1]} : {et}')}, {v[2]} : {et}")
        self.res(op, self.generic(_shape(rt), [x, lo, hi], et, body))

    def op_tt_fp_to_fp(self, op):
        x = self.v(op.operands[0])
        rt = _type_str(op.results[0].type)
        et = _elem(rt)
        src = _elem(_type_str(op.operands[0].type))
        if "f8" in et or "f8" in src:
            self.unsupported("fp8 types")
        kind = "arith.extf" if _fbits(et) > _fbits(src) else "arith.truncf"
        self.res(op, self.generic(_shape(rt), [x], et, lambda c, v: self.em.op(f"{kind} {v[0]} : {src} to {et}")))

    def op_tt_bitcast(self, op):
        x = self.v(op.operands[0])
        rt = _type_str(op.results[0].type)
        if _is_ptr(rt):
            self.res(op, self._pointer_view(x, _elem(rt)))
            return
        et, src = _elem(rt), _elem(_type_str(op.operands[0].type))
        if isinstance(x, S):
            self.res(op, S(self.em.op(f"arith.bitcast {x.name} : {src} to {et}"), et))
            return
        self.res(op, self.generic(_shape(rt), [x], et, lambda c, v: self.em.op(f"arith.bitcast {v[0]} : {src} to {et}")))

    def _pointer_view(self, p, et: str):
        """A pointer reinterpreted as pointing to `et` (bool pointers read as bytes; float atomics through
        integer pointers): a view argument over the same buffer, whose loads and stores convert between the
        buffer's storage type and `et` (same element size)."""
        root = self.views.get(p.arg, p.arg)
        if self._et(root) == et:
            view = root
        else:
            key = (root, et)
            view = self._view_cache.get(key)
            if view is None:
                view = len(self.args)
                self.args.append(("ptr", et))
                self.arg_names.append(self.arg_names[root])
                self.views[view] = root
                self._view_cache[key] = view
            st = self._storage(root)
            if _bytes(st) != _bytes("i8" if et == "i1" else et):
                self.unsupported(f"a pointer bitcast from {self._et(root)} to {et} (element sizes differ)")
        if isinstance(p, Ptr):
            return Ptr(view, p.off)
        if isinstance(p, PtrT):
            return PtrT(view, p.shape, p.base, list(p.strides))
        if isinstance(p, PtrG):
            return PtrG(view, p.shape, p.base, list(p.parts))
        self.unsupported("a bitcast of this pointer form")

    def op_tt_extern_elementwise(self, op):
        p = _props(op)
        sym = p.get("symbol", "").strip('"')
        base = re.sub(r"^__nv_", "", sym)
        mathop = _EXTERN.get(base)
        if mathop is None:
            self.unsupported(f"extern function {sym!r} (use hexmlir's libdevice: "
                             "from triton.language.extra import libdevice)")
        ins = [self.v(x) for x in op.operands]
        rt = _type_str(op.results[0].type)
        et = _elem(rt)
        em = self.em
        def apply(vals):
            return em.op(f"{mathop} {', '.join(vals)} : {et}")
        if all(isinstance(x, S) for x in ins):
            self.res(op, S(apply([x.name for x in ins]), et))
            return
        self.res(op, self.generic(_shape(rt), ins, et, lambda c, v: apply(v)))

    # ---- control flow ----
    def op_scf_for(self, op):
        forced: set = set()
        while True:
            mark = (len(self.em.lines), self.em.depth, [dict(s) for s in self.em.scopes])
            try:
                self._for(op, forced)
                return
            except _Retry as r:
                if r.which in forced:
                    raise CompileError("loop-carried value does not settle", stage="ttir-to-linalg",
                                       op=op.name, loc=_src(op)) from None
                forced.add(r.which)
                del self.em.lines[mark[0]:]
                self.em.depth = mark[1]
                self.em.scopes = mark[2]

    def carrier(self, v, forced: bool):
        """How a loop-carried value travels: (kind, type, init name, rebuild(name) -> form)."""
        em = self.em
        if isinstance(v, S):
            return ("s", v.type, v.name, lambda n, v=v: S(n, v.type))
        if isinstance(v, Ptr):
            return ("ptr", "index", em.idx(v.off), lambda n, v=v: Ptr(v.arg, n))
        if not forced and isinstance(v, Splat):
            return ("splat", v.s.type, v.s.name, lambda n, v=v: Splat(S(n, v.s.type), v.shape))
        if not forced and isinstance(v, (Aff, PtrT)):
            def rebuild(n, v=v):
                return Aff(v.shape, n, list(v.strides), v.et) if isinstance(v, Aff) else PtrT(v.arg, v.shape, n, list(v.strides))
            return ("base", "index", em.idx(v.base), rebuild)
        if isinstance(v, (PtrT, PtrG)):
            t = self.offsets_tensor(v)
            return ("ptrg", ttype(v.shape, "index"), t.name,
                    lambda n, v=v: PtrG(v.arg, v.shape, 0, [T(n, v.shape, "index")]))
        t = self.tensor(v)
        return ("t", ttype(t.shape, t.et), t.name, lambda n, t=t: T(n, t.shape, t.et))

    def offsets_tensor(self, p) -> T:
        em = self.em
        return self.generic(p.shape, p.parts if isinstance(p, PtrG) else [], "index",
                            lambda ctx, vals: em.idx(self.offset_expr(p, ctx)))

    def yield_value(self, kind, init_v, v, i):
        """The name to yield for carried slot i, or _Retry if v no longer fits the carrier."""
        em = self.em
        if kind == "s":
            return v.name
        if kind == "ptr":
            if not isinstance(v, Ptr) or v.arg != init_v.arg:
                self.unsupported("a loop-carried pointer switches arguments")
            return em.idx(v.off)
        if kind == "splat":
            if isinstance(v, Splat):
                return v.s.name
            raise _Retry(i)
        if kind == "base":
            ok = type(v) is type(init_v) and list(v.strides) == list(init_v.strides) and \
                (not isinstance(v, PtrT) or v.arg == init_v.arg)
            if not ok:
                raise _Retry(i)
            return em.idx(v.base)
        if kind == "ptrg":
            if not isinstance(v, (PtrT, PtrG)) or v.arg != init_v.arg:
                self.unsupported("a loop-carried pointer switches arguments")
            return self.offsets_tensor(v).name
        return self.tensor(v).name

    def _for(self, op, forced):
        em = self.em
        lb, ub, step = (self.v(x) for x in op.operands[:3])
        inits = [self.v(x) for x in op.operands[3:]]
        cars = [self.carrier(v, i in forced) for i, v in enumerate(inits)]
        ilb, iub, ist = (em.idx(em.to_index(x)) for x in (lb, ub, step))
        res = em.fresh("for")
        iv = em.fresh("iv")
        blk = op.regions[0].blocks[0]
        iters = [f"%it{em.n}_{i}" for i in range(len(cars))]
        head = f"scf.for {iv} = {ilb} to {iub} step {ist}"
        if cars:
            head = (f"{res}:{len(cars)} = " if len(cars) > 1 else f"{res} = ") + head + \
                " iter_args(" + ", ".join(f"{a} = {c[2]}" for a, c in zip(iters, cars)) + ") -> (" + \
                ", ".join(c[1] for c in cars) + ")"
        em.emit(head + " {")
        em.push()
        ivt = _type_str(blk.arguments[0].type)
        self.env[blk.arguments[0]] = S(em.from_index(iv, ivt) if ivt != "index" else iv, ivt)
        for a, name, c in zip(blk.arguments[1:], iters, cars):
            self.env[a] = c[3](name)
        term, vals = self.block(blk)
        ys = [self.yield_value(c[0], init, v, i) for i, (c, init, v) in enumerate(zip(cars, inits, vals))]
        if ys:
            em.emit(f"scf.yield {', '.join(em.idx(y) for y in ys)} : {', '.join(c[1] for c in cars)}")
        em.pop()
        em.emit("}")
        for i, c in enumerate(cars):
            self.res(op, c[3](f"{res}#{i}" if len(cars) > 1 else res), i)

    def op_scf_if(self, op):
        em = self.em
        cond = self.v(op.operands[0])
        nres = len(op.results)
        if isinstance(cond, Splat):
            cond = cond.s
        branches = []
        for region in op.regions:
            if not region.blocks:
                branches.append(None)
                continue
            saved = em.lines
            em.lines = []
            em.push()
            _, vals = self.block(region.blocks[0])
            branches.append((em.lines, vals, em.scopes[-1]))
            em.lines = saved
            em.pop()
        types, ys = [], [[], []]
        for i in range(nres):
            vs = [b[1][i] for b in branches]
            a, b = vs
            if isinstance(a, S) and isinstance(b, S):
                types.append(a.type)
                ys[0].append(a.name)
                ys[1].append(b.name)
                build = (lambda n, a=a: S(n, a.type))
            elif isinstance(a, Ptr) and isinstance(b, Ptr) and a.arg == b.arg:
                types.append("index")
                ys[0].append(em.idx(a.off))
                ys[1].append(em.idx(b.off))
                build = (lambda n, a=a: Ptr(a.arg, n))
            else:
                # materialize inside each branch (appending to its text, in its scope)
                names = []
                for k, (lines, vals_k, scope) in enumerate(branches):
                    saved = em.lines
                    em.lines = lines
                    em.scopes.append(scope)
                    em.depth += 1
                    if isinstance(vals_k[i], (PtrT, PtrG)):
                        names.append(self.offsets_tensor(vals_k[i]).name)
                    else:
                        names.append(self.tensor(vals_k[i]).name)
                    em.depth -= 1
                    em.scopes.pop()
                    em.lines = saved
                if isinstance(a, (PtrT, PtrG)):
                    types.append(ttype(a.shape, "index"))
                    build = (lambda n, a=a: PtrG(a.arg, a.shape, 0, [T(n, a.shape, "index")]))
                else:
                    ta = _elem_of(a)
                    types.append(ttype(a.shape, ta))
                    build = (lambda n, a=a, ta=ta: T(n, a.shape, ta))
                ys[0].append(names[0])
                ys[1].append(names[1])
            self.res(op, ("pending", build), i)
        r = em.fresh("if")
        head = f"scf.if {cond.name}"
        if nres:
            head = (f"{r}:{nres} = " if nres > 1 else f"{r} = ") + head + " -> (" + ", ".join(types) + ")"
        em.emit(head + " {")
        for k, b in enumerate(branches):
            if k == 1:
                em.emit("} else {")
            if b is None:
                continue
            em.lines.extend(b[0])
            if nres:
                em.emit(f"  scf.yield {', '.join(em.idx(y) for y in ys[k])} : {', '.join(types)}")
        em.emit("}")
        for i in range(nres):
            build = self.env[op.results[i]][1]
            self.res(op, build(f"{r}#{i}" if nres > 1 else r), i)

    def op_scf_while(self, op):
        em = self.em
        inits = [self.v(x) for x in op.operands]
        cars = [self.carrier(v, True) for v in inits]
        before, after = op.regions[0].blocks[0], op.regions[1].blocks[0]
        res = em.fresh("wh")
        bargs = [f"%wb{em.n}_{i}" for i in range(len(cars))]
        em.emit((f"{res}:{len(op.results)} = " if len(op.results) > 1 else f"{res} = " if op.results else "") +
                "scf.while (" + ", ".join(f"{a} = {c[2]}" for a, c in zip(bargs, cars)) + ") : (" +
                ", ".join(c[1] for c in cars) + ") -> (RESULT_TYPES) {")
        head_at = len(em.lines) - 1
        em.push()
        for a, n, c in zip(before.arguments, bargs, cars):
            self.env[a] = c[3](n)
        term, vals = self.block(before)
        cond = vals[0]
        fwd = [self.carrier(v, True) for v in vals[1:]]
        em.emit(f"scf.condition({cond.name}) {', '.join(f[2] for f in fwd)} : {', '.join(f[1] for f in fwd)}")
        em.pop()
        em.lines[head_at] = em.lines[head_at].replace("RESULT_TYPES", ", ".join(f[1] for f in fwd))
        aargs = [f"%wa{em.n}_{i}" for i in range(len(fwd))]
        em.emit("} do {")
        em.emit("^bb0(" + ", ".join(f"{a}: {f[1]}" for a, f in zip(aargs, fwd)) + "):")
        em.push()
        for a, n, f in zip(after.arguments, aargs, fwd):
            self.env[a] = f[3](n)
        term, vals = self.block(after)
        ys = [self.yield_value(c[0], init, v, i) for i, (c, init, v) in enumerate(zip(cars, inits, vals))]
        em.emit(f"scf.yield {', '.join(em.idx(y) for y in ys)} : {', '.join(c[1] for c in cars)}")
        em.pop()
        em.emit("}")
        for i, f in enumerate(fwd):
            self.res(op, f[3](f"{res}#{i}" if len(fwd) > 1 else res), i)

    # ---- unstructured control flow (early `return` inside an `if`) ----
    MAX_BLOCK_VISITS = 64          # a merge block reached along several paths is converted once per path

    def op_cf_cond_br(self, op):
        """cf.cond_br from an early return: each successor is converted inside one branch of an scf.if. The
        successors end in tt.return (nothing follows the branch in the program body), so no value crosses
        the join; a block both paths reach is converted on each path."""
        cond = self.v(op.operands[0])
        if isinstance(cond, Splat):
            cond = cond.s
        if not isinstance(cond, S):
            self.unsupported("a branch on a tensor condition")
        segs = [_int(x) for x in re.findall(r"-?\d+", _props(op).get("operandSegmentSizes", "array<i32: 1, 0, 0>"))[-3:]]
        t_ops = list(op.operands)[segs[0]:segs[0] + segs[1]]
        f_ops = list(op.operands)[segs[0] + segs[1]:]
        em = self.em
        em.emit(f"scf.if {cond.name} {{")
        for k, (dest, vals) in enumerate(zip(op.successors, (t_ops, f_ops))):
            if k == 1:
                em.emit("} else {")
            em.push()
            self._successor(dest, vals)
            em.pop()
        em.emit("}")

    def op_cf_br(self, op):
        self._successor(op.successors[0], list(op.operands))

    def _successor(self, dest, operands):
        self._visits = getattr(self, "_visits", 0) + 1
        if self._visits > self.MAX_BLOCK_VISITS:
            self.unsupported("control flow too tangled for structured conversion (too many paths)")
        for a, v in zip(dest.arguments, operands):
            self.env[a] = self.v(v)
        term, _ = self.block(dest)
        if term is not None and term.name != "tt.return":
            self.unsupported(f"a branch target ending in {term.name}", term)

    # ---- pointers as integers ----
    def op_tt_ptr_to_int(self, op):
        """The address of a scalar pointer (`if weight_ptr:` tests it against 0)."""
        p = self.v(op.operands[0])
        if not isinstance(p, Ptr):
            self.unsupported("ptr_to_int of a tensor of pointers")
        em = self.em
        st = self._storage(p.arg)
        base = em.op(f"memref.extract_aligned_pointer_as_index {self.arg_names[p.arg]} : memref<?x{st}> -> index")
        addr = em.add(base, em.mul(p.off, _bytes(st)))
        rt = _type_str(op.results[0].type)
        self.res(op, S(em.from_index(addr, rt), rt))

    def op_tt_int_to_ptr(self, op):
        self.unsupported("int_to_ptr: an address made from an integer has no argument buffer to index "
                         "(pass the buffer as a pointer argument)")

    # ---- scans ----
    def op_tt_scan(self, op):
        """tl.cumsum / tl.cumprod / tl.associative_scan (several operands, reverse=True): a sequential scan
        along the axis for every position of the other dims, the combine region converted on scalars."""
        props = _props(op)
        axis = _int(props["axis"])
        reverse = props.get("reverse", "false").startswith("true")
        ins = [self.tensor(self.v(x)) for x in op.operands]
        em = self.em
        shape = ins[0].shape
        n = shape[axis]
        k = len(ins)
        blk = op.regions[0].blocks[0]
        outs = [em.op(f"tensor.empty() : {ttype(shape, x.et)}", "e") for x in ins]
        others = [d for d in range(len(shape)) if d != axis]
        # loops over the other dims, carrying the outputs
        ivs, heads = {}, []
        cur = outs
        for d in others:
            iv, r = em.fresh("iv"), em.fresh("scn")
            its = [em.fresh("so") for _ in range(k)]
            em.emit(f"{r}:{k} = scf.for {iv} = {em.idx(0)} to {em.idx(shape[d])} step {em.idx(1)} iter_args("
                    + ", ".join(f"{a} = {c}" for a, c in zip(its, cur)) + ") -> ("
                    + ", ".join(ttype(shape, x.et) for x in ins) + ") {")
            em.push()
            ivs[d] = iv
            heads.append(r)
            cur = its

        def at(j):
            return [ivs[d] if d != axis else j for d in range(len(shape))]

        def pos(j):                                    # the scan index of step j
            return j if not reverse else em.op(f"arith.subi {em.idx(n - 1)}, {j} : index", "i")

        first = em.idx(n - 1 if reverse else 0)
        accs = [em.op(f"tensor.extract {x.name}[{', '.join(at(first))}] : {ttype(shape, x.et)}") for x in ins]
        cur = [em.op(f"tensor.insert {a} into {c}[{', '.join(at(first))}] : {ttype(shape, x.et)}")
               for a, c, x in zip(accs, cur, ins)]
        j, r = em.fresh("j"), em.fresh("scj")
        acc_a = [em.fresh("sa") for _ in range(k)]
        out_a = [em.fresh("so") for _ in range(k)]
        em.emit(f"{r}:{2 * k} = scf.for {j} = {em.idx(1)} to {em.idx(n)} step {em.idx(1)} iter_args("
                + ", ".join(f"{a} = {c}" for a, c in zip(acc_a + out_a, accs + cur)) + ") -> ("
                + ", ".join([x.et for x in ins] + [ttype(shape, x.et) for x in ins]) + ") {")
        em.push()
        pj = pos(j)
        xs = [em.op(f"tensor.extract {x.name}[{', '.join(at(pj))}] : {ttype(shape, x.et)}") for x in ins]
        # Triton's combine(lhs, rhs): lhs is the running value, rhs the next element.
        for i in range(k):
            self.env[blk.arguments[i]] = S(acc_a[i], ins[i].et)
            self.env[blk.arguments[k + i]] = S(xs[i], ins[i].et)
        _, vals = self.block(blk, stop_at=("tt.scan.return",))
        news = [v.name for v in vals]
        upd = [em.op(f"tensor.insert {v} into {o}[{', '.join(at(pj))}] : {ttype(shape, x.et)}")
               for v, o, x in zip(news, out_a, ins)]
        em.emit(f"scf.yield {', '.join(news + upd)} : {', '.join([x.et for x in ins] + [ttype(shape, x.et) for x in ins])}")
        em.pop()
        em.emit("}")
        res = [f"{r}#{k + i}" for i in range(k)]
        for d in reversed(others):
            em.emit(f"scf.yield {', '.join(res)} : {', '.join(ttype(shape, x.et) for x in ins)}")
            em.pop()
            em.emit("}")
            h = heads.pop()
            res = [f"{h}#{i}" for i in range(k)]
        for i, x in enumerate(ins):
            self.res(op, T(res[i], shape, x.et), i)

    # ---- atomics ----
    _RMW = {1: "andi", 2: "ori", 3: "xori", 4: "addi", 5: "addf", 6: "maxs", 7: "mins", 8: "maxu", 9: "minu",
            10: "assign"}
    # memref.atomic_rmw kinds; anything else (bitwise ops, a view over other storage) is a CAS loop
    _NATIVE = {"addi", "addf", "maxs", "mins", "maxu", "minu", "assign", "maximumf", "minimumf"}

    def op_tt_atomic_rmw(self, op):
        p = _props(op)
        kind = self._RMW.get(_int(p.get("atomic_rmw_op", "0")))
        if kind is None:
            self.unsupported(f"atomic_rmw kind {p.get('atomic_rmw_op')}")
        ops = [self.v(x) for x in op.operands]
        et = _elem(_type_str(op.results[0].type))
        if et.startswith("f") and kind in ("maxs", "mins"):
            kind = {"maxs": "maximumf", "mins": "minimumf"}[kind]
        arith = {"maxs": "maxsi", "mins": "minsi", "maxu": "maxui", "minu": "minui"}.get(kind, kind)

        def update(em, cur, vals):
            return vals[0] if kind == "assign" else em.op(f"arith.{arith} {cur}, {vals[0]} : {et}")
        self._atomic(op, ops[0], ops[1:2], ops[2] if len(ops) > 2 else None, et, update, kind)

    def op_tt_atomic_cas(self, op):
        """atomic_cas(ptr, cmp, val): store val where the element equals cmp (bitwise for floats); the old
        value is the result."""
        ops = [self.v(x) for x in op.operands]
        et = _elem(_type_str(op.results[0].type))

        def update(em, cur, vals):
            cmp, val = vals
            if et.startswith(("f", "bf")):
                it = f"i{_bytes(et) * 8}"
                a = em.op(f"arith.bitcast {cur} : {et} to {it}")
                b = em.op(f"arith.bitcast {cmp} : {et} to {it}")
                eq = em.op(f"arith.cmpi eq, {a}, {b} : {it}")
            else:
                eq = em.op(f"arith.cmpi eq, {cur}, {cmp} : {et}")
            return em.op(f"arith.select {eq}, {val}, {cur} : {et}")
        self._atomic(op, ops[0], ops[1:3], None, et, update, None)

    def _atomic_one(self, arg, off, typed, et, update, kind):
        """One atomic read-modify-write of element `off` of `arg` with operands `typed` ((name, type) pairs);
        returns the old value (as et)."""
        em = self.em
        st = self._storage(arg)
        vals = [v for v, _ in typed]
        if kind in self._NATIVE and st == et:
            return em.op(f"memref.atomic_rmw {kind} {vals[0]}, {self.arg_names[arg]}[{em.idx(off)}] : "
                         f"({et}, memref<?x{st}>) -> {et}")
        # Anything else is memref.generic_atomic_rmw (a compare-and-swap loop). One-shot bufferization
        # rejects its region, so it lives in a private helper that is only declared until lowering
        # (lower.define_helpers parses the body kept in the declaration's attribute).
        vtypes = [t for _, t in typed]
        name = f"__hx_atomic{len(self.helpers)}"
        h = Emitter()
        h.depth = 2
        args = [f"%arg_v{i}" for i in range(len(vals))]
        h.emit(f"%arg_old = memref.generic_atomic_rmw %arg_m[%arg_i] : memref<?x{st}> {{")
        h.emit(f"^bb0(%arg_cur: {st}):")
        h.push()
        saved, self.em = self.em, h
        try:
            new = self.to_st(update(h, self.to_et("%arg_cur", st, et), args), et, st)
            h.emit(f"memref.atomic_yield {new} : {st}")
            h.pop()
            h.emit("}")
            ret = self.to_et("%arg_old", st, et)
        finally:
            self.em = saved
        sig = ", ".join([f"%arg_m: memref<?x{st}>", "%arg_i: index"] + [f"{a}: {t}" for a, t in zip(args, vtypes)])
        text = "\n".join([f"func.func private @{name}({sig}) -> {et} {{"] + h.prologue + h.lines +
                         [f"    return {ret} : {et}", "}"])
        decl_t = ", ".join([f"memref<?x{st}>", "index"] + vtypes)
        self.helpers.append(f"  func.func private @{name}({decl_t}) -> {et} attributes "
                            f"{{hexmlir.body = {_mlir_str(text)}}}")
        return em.op(f"func.call @{name}({', '.join([self.arg_names[arg], em.idx(off)] + list(vals))}) : "
                     f"({decl_t}) -> {et}")

    def _atomic(self, op, ptr, vals, mask, et, update, kind):
        """Atomics on a scalar pointer or, element by element in a loop nest, a tensor of pointers; the
        result holds the old values (0 where masked off)."""
        em = self.em
        if isinstance(ptr, Ptr):
            names = [(v.name, v.type) for v in vals]
            if mask is None:
                self.res(op, S(self._atomic_one(ptr.arg, ptr.off, names, et, update, kind), et))
                return
            m = mask.s if isinstance(mask, Splat) else mask
            r = em.fresh()
            em.emit(f"{r} = scf.if {m.name} -> ({et}) {{")
            em.push()
            em.emit(f"scf.yield {self._atomic_one(ptr.arg, ptr.off, names, et, update, kind)} : {et}")
            em.pop()
            em.emit(f"}} else {{\n{'  ' * em.depth}  scf.yield {em.const(0, et)} : {et}\n{'  ' * em.depth}}}")
            self.res(op, S(r, et))
            return
        shape = shape_of(ptr)
        vals = [self.tensor(v) if not isinstance(v, (Splat, S)) else v for v in vals]
        if mask is not None and not isinstance(mask, (T, Splat, MaskB)):
            mask = self.tensor(mask)
        if isinstance(ptr, PtrG):
            ptr = PtrG(ptr.arg, ptr.shape, ptr.base, [self.tensor(x) if not isinstance(x, (Aff, Splat)) else x for x in ptr.parts])
        acc0 = em.op(f"tensor.empty() : {ttype(shape, et)}", "e")
        ivs, accs = [], [acc0]
        for d, n in enumerate(shape):          # a loop nest carrying the result tensor (old values)
            iv, a = em.fresh("iv"), em.fresh("acc")
            r = em.fresh("atl")
            em.emit(f"{r} = scf.for {iv} = {em.idx(0)} to {em.idx(n)} step {em.idx(1)} iter_args({a} = {accs[-1]}) -> ({ttype(shape, et)}) {{")
            em.push()
            ivs.append(iv)
            accs.append(a)
            accs[-2] = (accs[-2], r)
        ctx = _LoopCtx(self, ivs)

        def one():
            xs = [(self.expr(v, ctx), _elem_of(v)) for v in vals]
            return self._atomic_one(ptr.arg, self.offset_expr(ptr, ctx), xs, et, update, kind)
        if mask is None:
            old = one()
        else:
            c = self.expr(mask, ctx)
            old = em.fresh()
            em.emit(f"{old} = scf.if {c} -> ({et}) {{")
            em.push()
            em.emit(f"scf.yield {one()} : {et}")
            em.pop()
            em.emit(f"}} else {{\n{'  ' * em.depth}  scf.yield {em.const(0, et)} : {et}\n{'  ' * em.depth}}}")
        last = em.op(f"tensor.insert {old} into {accs[-1]}[{', '.join(ivs)}] : {ttype(shape, et)}")
        for d in range(len(shape) - 1, -1, -1):
            em.emit(f"scf.yield {last} : {ttype(shape, et)}")
            em.pop()
            em.emit("}")
            last = accs[d][1]
        self.res(op, T(last, shape, et))


def _mlir_str(text: str) -> str:
    """A Python string as an MLIR string attribute literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _bytes(t: str) -> int:
    return max(1, int(re.sub(r"[a-z]+", "", t) or 8) // 8)


def _fbits(t: str) -> int:
    return {"f16": 16, "bf16": 16, "f32": 32, "f64": 64}.get(t, 32)


def _elem_of(v) -> str:
    if isinstance(v, S):
        return v.type
    if isinstance(v, T):
        return v.et
    if isinstance(v, Splat):
        return v.s.type
    if isinstance(v, MaskB):
        return "i1"
    return v.et


def _reassoc(groups) -> str:
    return "[" + ", ".join("[" + ", ".join(map(str, g)) + "]" for g in groups) + "]"


class _BodyCtx:
    """Element indices inside a linalg.generic body (linalg.index, memoized per body scope)."""

    def __init__(self, conv, args: dict, out: str):
        self.conv, self.args, self.out = conv, args, out

    def index(self, d: int) -> str:
        em = self.conv.em
        hit = em.cached(("lindex", d, self.out))
        return hit or em.remember(("lindex", d, self.out), em.op(f"linalg.index {d} : index", "ix"))

    def elem(self, t: T) -> str:
        return self.args[t.name]


class _LoopCtx:
    """Element indices inside an explicit loop nest (tensor elements via tensor.extract)."""

    def __init__(self, conv, ivs):
        self.conv, self.ivs = conv, ivs

    def index(self, d: int) -> str:
        return self.ivs[d]

    def elem(self, t: T) -> str:
        return self.conv.em.op(f"tensor.extract {t.name}[{', '.join(self.ivs)}] : {ttype(t.shape, t.et)}")
