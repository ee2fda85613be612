"""Atomics: tt.atomic_rmw and tt.atomic_cas on a scalar pointer or, element by element, a tensor of
pointers. Native kinds become memref.atomic_rmw; the rest a compare-and-swap loop in a private helper."""
from __future__ import annotations

from ..scopes import LoopCtx
from ..forms import S, T, Aff, Emitter, MaskB, Ptr, PtrG, Splat, shape_of, ttype
from ..reader import attr_int, elem, result_type
from ..util import byte_size, elem_of, mlir_str
from .registry import converts
from .... import attrs

RMW = {1: "andi", 2: "ori", 3: "xori", 4: "addi", 5: "addf", 6: "maxs", 7: "mins", 8: "maxu", 9: "minu",
       10: "assign"}
# memref.atomic_rmw kinds; anything else (bitwise ops, a view over other storage) is a CAS loop
NATIVE = {"addi", "addf", "maxs", "mins", "maxu", "minu", "assign", "maximumf", "minimumf"}


@converts("tt.atomic_rmw")
def atomic_rmw(cv, op):
    code = attr_int(op, "atomic_rmw_op", 0)
    kind = RMW.get(code)
    if kind is None:
        cv.unsupported(f"atomic_rmw kind {code}")
    ops = [cv.v(x) for x in op.operands]
    et = elem(result_type(op))
    if et.startswith("f") and kind in ("maxs", "mins"):
        kind = {"maxs": "maximumf", "mins": "minimumf"}[kind]
    arith = {"maxs": "maxsi", "mins": "minsi", "maxu": "maxui", "minu": "minui"}.get(kind, kind)

    def update(em, cur, vals):
        return vals[0] if kind == "assign" else em.op(f"arith.{arith} {cur}, {vals[0]} : {et}")
    _atomic(cv, op, ops[0], ops[1:2], ops[2] if len(ops) > 2 else None, et, update, kind)


@converts("tt.atomic_cas")
def atomic_cas(cv, op):
    """atomic_cas(ptr, cmp, val): store val where the element equals cmp (bitwise for floats); the old
    value is the result."""
    ops = [cv.v(x) for x in op.operands]
    et = elem(result_type(op))

    def update(em, cur, vals):
        cmp, val = vals
        if et.startswith(("f", "bf")):
            it = f"i{byte_size(et) * 8}"
            a = em.op(f"arith.bitcast {cur} : {et} to {it}")
            b = em.op(f"arith.bitcast {cmp} : {et} to {it}")
            eq = em.op(f"arith.cmpi eq, {a}, {b} : {it}")
        else:
            eq = em.op(f"arith.cmpi eq, {cur}, {cmp} : {et}")
        return em.op(f"arith.select {eq}, {val}, {cur} : {et}")
    _atomic(cv, op, ops[0], ops[1:3], None, et, update, None)


def _atomic_one(cv, arg, off, typed, et, update, kind, mem=None):
    """One atomic read-modify-write of element `off` of `arg` (or of memref `mem`, a view of arg's storage)
    with operands `typed` ((name, type) pairs); returns the old value (as et)."""
    em = cv.em
    cv.wrote(arg)
    st = cv.storage(arg)
    mem = mem or cv.arg_names[arg]
    vals = [v for v, _ in typed]
    if kind in NATIVE and st == et:
        return em.op(f"memref.atomic_rmw {kind} {vals[0]}, {mem}[{em.idx(off)}] : "
                     f"({et}, memref<?x{st}>) -> {et}")
    # Anything else is memref.generic_atomic_rmw (a compare-and-swap loop). One-shot bufferization
    # rejects its region, so it lives in a private helper that is only declared until lowering
    # (lower.define_helpers parses the body kept in the declaration's attribute).
    vtypes = [t for _, t in typed]
    name = f"__hx_atomic{len(cv.helpers)}"
    h = Emitter()
    h.depth = 2
    args = [f"%arg_v{i}" for i in range(len(vals))]
    h.emit(f"%arg_old = memref.generic_atomic_rmw %arg_m[%arg_i] : memref<?x{st}> {{")
    h.emit(f"^bb0(%arg_cur: {st}):")
    h.push()
    saved, cv.em = cv.em, h
    try:
        new = cv.to_st(update(h, cv.to_et("%arg_cur", st, et), args), et, st)
        h.emit(f"memref.atomic_yield {new} : {st}")
        h.pop()
        h.emit("}")
        ret = cv.to_et("%arg_old", st, et)
    finally:
        cv.em = saved
    sig = ", ".join([f"%arg_m: memref<?x{st}>", "%arg_i: index"] + [f"{a}: {t}" for a, t in zip(args, vtypes)])
    text = "\n".join([f"func.func private @{name}({sig}) -> {et} {{"] + h.prologue + h.lines +
                     [f"    return {ret} : {et}", "}"])
    decl_t = ", ".join([f"memref<?x{st}>", "index"] + vtypes)
    cv.helpers.append(f"  func.func private @{name}({decl_t}) -> {et} attributes "
                      f"{{{attrs.BODY} = {mlir_str(text)}}}")
    return em.op(f"func.call @{name}({', '.join([mem, em.idx(off)] + list(vals))}) : "
                 f"({decl_t}) -> {et}")


def _atomic(cv, op, ptr, vals, mask, et, update, kind):
    """Atomics on a scalar pointer or, element by element in a loop nest, a tensor of pointers; the
    result holds the old values (0 where masked off)."""
    em = cv.em
    if isinstance(ptr, Ptr):
        names = [(v.name, v.type) for v in vals]

        def one():
            return _atomic_one(cv, ptr.arg, ptr.off, names, et, update, kind)
        if mask is None:
            cv.res(op, S(one(), et))
        else:
            m = mask.s if isinstance(mask, Splat) else mask
            cv.res(op, S(cv.guarded(m.name, et, one, lambda: em.const(0, et)), et))
        return
    shape = shape_of(ptr)
    vals = [cv.tensor(v) if not isinstance(v, (Splat, S)) else v for v in vals]
    if mask is not None and not isinstance(mask, (T, Splat, MaskB)):
        mask = cv.tensor(mask)
    if isinstance(ptr, PtrG):
        ptr = PtrG(ptr.arg, ptr.shape, ptr.base, [cv.tensor(x) if not isinstance(x, (Aff, Splat)) else x for x in ptr.parts])
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
    ctx = LoopCtx(cv, ivs)

    def one():
        xs = [(cv.expr(v, ctx), elem_of(v)) for v in vals]
        mem, off = cv.mem_at(ptr, ctx)
        return _atomic_one(cv, ptr.arg, off, xs, et, update, kind, mem)
    old = one() if mask is None else cv.guarded(cv.expr(mask, ctx), et, one, lambda: em.const(0, et))
    last = em.op(f"tensor.insert {old} into {accs[-1]}[{', '.join(ivs)}] : {ttype(shape, et)}")
    for d in range(len(shape) - 1, -1, -1):
        em.emit(f"scf.yield {last} : {ttype(shape, et)}")
        em.pop()
        em.emit("}")
        last = accs[d][1]
    cv.res(op, T(last, shape, et))
