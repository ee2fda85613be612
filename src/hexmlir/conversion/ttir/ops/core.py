"""Constants, program ids, assertions and hints, and elementwise arith/math ops."""
from __future__ import annotations

from ..forms import S, T, MaskB, Ptr, Splat
from ..reader import attr, attr_int, attr_str, elem, inherent_text, is_ptr, result_type, shape, src
from ..util import mlir_escape
from .registry import converts
from .... import attrs


@converts("arith.constant")
def constant(cv, op):
    from torch_mlir import ir
    t = result_type(op)
    a = attr(op, "value")
    if t.startswith("tensor"):
        d = ir.DenseElementsAttr(a)
        if d.is_splat:
            s = cv.em.const(_scalar(d.get_splat_value(), elem(t)), elem(t))
            cv.res(op, Splat(S(s, elem(t)), shape(t)))
            return
        name = cv.em.op(f"arith.constant {a}", "cst")
        cv.res(op, T(name, shape(t), elem(t)))
        return
    cv.res(op, S(cv.em.const(_scalar(a, t), t), t))


def _scalar(a, t: str):
    """The Python value of a scalar constant attribute of type t (floats exact, bools as bool)."""
    from torch_mlir import ir
    if t == "i1":
        return bool(ir.IntegerAttr(a).value)
    if t.startswith(("f", "bf")):
        return ir.FloatAttr(a).value
    if t == "index":
        return ir.IntegerAttr(a).value
    return ir.IntegerAttr(a).value


@converts("tt.get_program_id")
def program_id(cv, op):
    cv.res(op, cv.pid[attr_int(op, "axis")])


@converts("tt.get_num_programs")
def num_programs(cv, op):
    cv.res(op, cv.grid[attr_int(op, "axis")])


@converts("tt.assert")
def device_assert(cv, op):
    """tl.device_assert -> cf.assert per element (a scalar loop nest over the condition's block), keeping
    the kernel's source line; transforms/asserts.py compiles it into a runtime check."""
    m = attr_str(op, "message")
    msg = "device_assert failed" if m is None else mlir_escape(m)
    tail = f'{{{attrs.LOC} = "{mlir_escape(src(op))}"}}'
    cond = cv.v(op.operands[0])
    em = cv.em
    if isinstance(cond, (S, Splat)):
        em.emit(f'cf.assert {(cond if isinstance(cond, S) else cond.s).name}, "{msg}" {tail}')
        return
    if isinstance(cond, MaskB):
        cv.loops(cond.shape, lambda ctx: em.emit(f'cf.assert {cv.expr(cond, ctx)}, "{msg}" {tail}'))
        return
    # The loop reads the condition as bytes: the generic making them fuses with the i1 chain computing it.
    flags = cv.generic(cond.shape, [cond], "i8", lambda ctx, v: em.op(f"arith.extui {v[0]} : i1 to i8"))

    def check(ctx):
        ok = em.op(f"arith.cmpi ne, {ctx.elem(flags)}, {em.const(0, 'i8')} : i8")
        em.emit(f'cf.assert {ok}, "{msg}" {tail}')
    cv.loops(cond.shape, check)


@converts("llvm.intr.assume")
def assume(cv, op):
    """tl.assume (Inductor's mm templates: `pid_m >= 0`): an optimization hint with no result; dropped."""


@converts("ttg.barrier")
def barrier(cv, op):
    """tl.debug_barrier: synchronizes the threads of one program. A program runs on one thread (programs
    are what the thread pool distributes), and its loads and stores keep their program order (gathers
    read the argument at their place, see PointerAnalysis.argt), so it needs no code."""


def elementwise(cv, op):
    """An arith/math op on scalars, splats, symbolic index forms (pointer analysis) or tensors."""
    rt = result_type(op)
    ins = [cv.v(x) for x in op.operands]
    if op.name == "arith.select" and is_ptr(rt):
        c, a, b = ins
        if isinstance(a, Ptr) != isinstance(b, Ptr) or (isinstance(a, Ptr) and not isinstance(c, S)):
            cv.unsupported("a select between a pointer and a tensor of pointers")
        cv.res(op, cv.select_pointers(c, a, b, shape(rt), elem(rt)))
        return
    if not rt.startswith("tensor") and all(isinstance(x, S) for x in ins):
        cv.res(op, S(_scalar_op(cv, op, [x.name for x in ins], [x.type for x in ins], rt), rt))
        return
    shp = shape(rt)
    sym = cv.symbolic(op, ins, shp)
    if sym is not None:
        cv.res(op, sym)
        return
    if all(isinstance(x, (Splat, S)) for x in ins):      # splat op splat: one scalar op
        xs = [x.s if isinstance(x, Splat) else x for x in ins]
        s = _scalar_op(cv, op, [x.name for x in xs], [x.type for x in xs], elem(rt))
        cv.res(op, Splat(S(s, elem(rt)), shp))
        return
    types = [elem(str(x.type)) for x in op.operands]
    cv.res(op, cv.generic(shp, ins, elem(rt), lambda ctx, vals: _scalar_op(cv, op, vals, types, elem(rt))))


def _scalar_op(cv, op, names, types, rtype) -> str:
    """op re-emitted in generic form on scalar operands, with its attributes."""
    return cv.em.op(f'"{op.name}"({", ".join(names)}) {inherent_text(op)} : ({", ".join(types)}) -> {rtype}')

