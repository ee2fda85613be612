"""The converter's state and the emission helpers every op conversion shares.

`Converter` walks a `tt.func` body block by block; each op goes to the function registered for its name in
`ops.OPS` (arith/math ops without one apply elementwise). Values are tracked as the forms of forms.py, in
`env` keyed by the bindings' `Value`s.
"""
from __future__ import annotations

import re

from ...errors import CompileError, HexmlirError, UnsupportedError
from .forms import S, T, Aff, Emitter, MaskB, Ptr, PtrG, PtrT, Splat, ttype
from .pointers import PointerAnalysis
from .reader import STAGE, all_ops, result_type, shape, src
from .scopes import BodyCtx, LoopCtx, Retry

# arith/math ops that apply elementwise to tensors (converted to linalg.generic bodies)
ELEMENTWISE = re.compile(r"^(arith\.(?!constant$)|math\.)")


class Converter(PointerAnalysis):
    def __init__(self, fn, anchored=frozenset()):
        self.fn = fn
        # Arguments both gathered and written: their gathers read at their place in program order (a
        # first conversion finds them, a second one anchors them).
        self.anchored = frozenset(anchored)
        self.written: set = set()
        self.gathered: set = set()
        self.raw: set = set()          # pointer slots made from integer addresses (tt.int_to_ptr)
        self.rawt: set = set()         # of them, those of a tensor of addresses (offsets in bytes, no memref)
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
        self.visits = 0                # successor blocks converted (unstructured control flow)
        self.op = None                # the op being converted (for error locations)
        # tl.device_assert: a failed check lets the program go on, so gathers/scatters keep in bounds
        self.checked = any(o.name == "tt.assert" for o in all_ops(fn))

    # ---- errors ----
    def unsupported(self, why: str, op=None):
        op = op or self.op
        raise UnsupportedError(why, stage=STAGE, op=op.name if op else None, loc=src(op) if op else None)

    # ---- blocks and ops ----
    def block(self, block, stop_at=("tt.return", "scf.yield", "scf.condition", "tt.reduce.return")):
        """Convert the ops of a block; returns the terminator and its operand values (converted)."""
        for op in block.operations:
            op = op.operation
            if op.name in stop_at:
                return op, [self.env[v] for v in op.operands]
            self.op = op
            try:
                self.convert(op)
            except (HexmlirError, Retry):
                raise
            except Exception as e:                          # a converter bug: say where
                raise CompileError(f"internal error converting this op: {type(e).__name__}: {e}",
                                   stage=STAGE, op=op.name, loc=src(op)) from e
        return None, []

    def convert(self, op) -> None:
        from .ops import OPS, elementwise     # ops/ import scopes.py and the forms, never this module
        h = OPS.get(op.name)
        if h is not None:
            h(self, op)
        elif ELEMENTWISE.match(op.name):
            elementwise(self, op)
        else:
            self.unsupported(f"no conversion for {op.name}")

    def res(self, op, v, i: int = 0):
        self.env[op.results[i]] = v

    def v(self, value):
        return self.env[value]

    # ---- materialization ----
    def tensor(self, v) -> T:
        """Any tensor form as a tensor SSA value."""
        if isinstance(v, T):
            return v
        if isinstance(v, (PtrT, PtrG, Ptr)):
            self.unsupported("a pointer used as a value here (stored, reduced, or yielded where its form "
                             "cannot travel)")
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
        raise CompileError(f"no element expression for {type(v).__name__}", stage=STAGE)

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
        ctx = BodyCtx(self, {t.name: a for t, a in zip(tens, args)}, outarg)
        vals = [self.expr(x, ctx) for x in inputs]
        out = body(ctx, vals)
        em.emit(f"linalg.yield {out} : {out_et}")
        em.pop()
        em.emit(f"}} -> {ttype(shape, out_et)}")
        return T(r, tuple(shape), out_et)

    def map_scalar(self, op, ins, et: str, fn):
        """fn(scalar names) -> name applied to operand forms `ins`: on scalars directly, else in a generic
        over the result's shape."""
        if all(isinstance(x, S) for x in ins):
            return S(fn([x.name for x in ins]), et)
        return self.generic(shape(result_type(op)), ins, et, lambda c, v: fn(v))

    def loops(self, shape, body) -> None:
        """A scalar loop nest over shape; body(ctx) emits the innermost statements."""
        em = self.em
        ivs = []
        for n in shape:
            iv = em.fresh("iv")
            em.emit(f"scf.for {iv} = {em.idx(0)} to {em.idx(n)} step {em.idx(1)} {{")
            em.push()
            ivs.append(iv)
        body(LoopCtx(self, ivs))
        for _ in shape:
            em.pop()
            em.emit("}")

    def guarded(self, cond: str, type_: str, then, otherwise) -> str:
        """`scf.if cond -> (type_)`: then() emits the taken branch and returns its value; the other branch
        yields otherwise() (masked-off loads and atomics: `other`, or 0)."""
        em = self.em
        r = em.fresh()
        em.emit(f"{r} = scf.if {cond} -> ({type_}) {{")
        em.push()
        em.emit(f"scf.yield {then()} : {type_}")
        em.pop()
        em.emit("} else {")
        em.emit(f"  scf.yield {otherwise()} : {type_}")
        em.emit("}")
        return r
