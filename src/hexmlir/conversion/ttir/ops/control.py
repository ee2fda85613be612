"""Control flow: scf.for / scf.if / scf.while with their carried values, and the unstructured branches of an
early `return` (cf.cond_br / cf.br), converted into nested scf.if."""
from __future__ import annotations

from ....errors import CompileError
from ..scopes import Retry
from ..forms import S, T, Aff, Ptr, PtrG, PtrT, Splat, ttype
from ..reader import STAGE, attr_ints, elem, src
from ..util import elem_of
from .registry import converts

MAX_BLOCK_VISITS = 64          # a merge block reached along several paths is converted once per path


def carrier(cv, v, forced: bool, addressed: bool = False):
    """How a loop-carried value travels: (kind, type, init name, rebuild(name) -> form). A pointer that
    switches arguments across iterations (`addressed`) travels as its byte address(es)."""
    em = cv.em
    if addressed and isinstance(v, (Ptr, PtrT, PtrG)):
        et = cv.elem_type(v.arg)
        a = cv.address(v)
        if isinstance(v, Ptr):
            return ("addr", "i64", a.name, lambda n, et=et: Ptr(cv.raw_pointer(S(n, "i64"), et), 0))
        return ("addr", ttype(v.shape, "i64"), a.name,
                lambda n, v=v, et=et: PtrG(cv.raw_tensor_pointer(et), v.shape, 0, [T(n, v.shape, "i64")]))
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
        t = cv.offsets_tensor(v)
        return ("ptrg", ttype(v.shape, "index"), t.name,
                lambda n, v=v: PtrG(v.arg, v.shape, 0, [T(n, v.shape, "index")]))
    t = cv.tensor(v)
    return ("t", ttype(t.shape, t.et), t.name, lambda n, t=t: T(n, t.shape, t.et))


def yield_value(cv, kind, init_v, v, i, retry: bool = False):
    """The name to yield for carried slot i, or Retry if v no longer fits the carrier (with `retry`: scf.for
    converts its body again; a while loop's pointers must keep their argument)."""
    em = cv.em
    if kind == "s":
        return v.name
    if kind == "addr":
        return cv.address(v).name
    if kind in ("ptr", "ptrg") and isinstance(v, (Ptr, PtrT, PtrG)) and v.arg != init_v.arg:
        if retry:
            raise Retry(i, addr=True)
        cv.unsupported("a pointer carried by a while loop switches arguments")
    if kind == "ptr":
        if not isinstance(v, Ptr):
            cv.unsupported("a loop-carried pointer switches arguments")
        return em.idx(v.off)
    if kind == "splat":
        if isinstance(v, Splat):
            return v.s.name
        raise Retry(i)
    if kind == "base":
        ok = type(v) is type(init_v) and list(v.strides) == list(init_v.strides) and \
            (not isinstance(v, PtrT) or v.arg == init_v.arg)
        if not ok:
            raise Retry(i)
        return em.idx(v.base)
    if kind == "ptrg":
        if not isinstance(v, (PtrT, PtrG)) or v.arg != init_v.arg:
            cv.unsupported("a loop-carried pointer switches arguments")
        return cv.offsets_tensor(v).name
    return cv.tensor(v).name


@converts("scf.for")
def for_op(cv, op):
    """Carried values keep their symbolic form across iterations when they can; one that changes form is
    materialized and the loop converted again."""
    forced: set = set()
    addressed: set = set()
    while True:
        mark = (len(cv.em.lines), cv.em.depth, [dict(s) for s in cv.em.scopes])
        try:
            _for(cv, op, forced, addressed)
            return
        except Retry as r:
            if r.which in (addressed if r.addr else forced):
                raise CompileError("loop-carried value does not settle", stage=STAGE,
                                   op=op.name, loc=src(op)) from None
            (addressed if r.addr else forced).add(r.which)
            del cv.em.lines[mark[0]:]
            cv.em.depth = mark[1]
            cv.em.scopes = mark[2]


def _for(cv, op, forced, addressed):
    em = cv.em
    lb, ub, step = (cv.v(x) for x in op.operands[:3])
    inits = [cv.v(x) for x in op.operands[3:]]
    cars = [carrier(cv, v, i in forced, i in addressed) for i, v in enumerate(inits)]
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
    ivt = str(blk.arguments[0].type)
    cv.env[blk.arguments[0]] = S(em.from_index(iv, ivt) if ivt != "index" else iv, ivt)
    for a, name, c in zip(blk.arguments[1:], iters, cars):
        cv.env[a] = c[3](name)
    term, vals = cv.block(blk)
    ys = [yield_value(cv, c[0], init, v, i, retry=True) for i, (c, init, v) in enumerate(zip(cars, inits, vals))]
    if ys:
        em.emit(f"scf.yield {', '.join(em.idx(y) for y in ys)} : {', '.join(c[1] for c in cars)}")
    em.pop()
    em.emit("}")
    for i, c in enumerate(cars):
        cv.res(op, c[3](f"{res}#{i}" if len(cars) > 1 else res), i)


@converts("scf.if")
def if_op(cv, op):
    em = cv.em
    cond = cv.v(op.operands[0])
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
        _, vals = cv.block(region.blocks[0])
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
            # Pointers into different arguments (or raw addresses) travel as byte addresses and become
            # raw-address pointers after the if; pointers into one argument as offsets.
            ptrs = isinstance(a, (Ptr, PtrT, PtrG)) and isinstance(b, (Ptr, PtrT, PtrG))
            addrs = ptrs and (a.arg != b.arg or isinstance(a, Ptr) != isinstance(b, Ptr))
            # materialize inside each branch (appending to its text, in its scope)
            names = []
            for k, (lines, vals_k, scope) in enumerate(branches):
                saved = em.lines
                em.lines = lines
                em.scopes.append(scope)
                em.depth += 1
                if addrs:
                    names.append(cv.address(vals_k[i]).name)
                elif isinstance(vals_k[i], (PtrT, PtrG)):
                    names.append(cv.offsets_tensor(vals_k[i]).name)
                else:
                    names.append(cv.tensor(vals_k[i]).name)
                em.depth -= 1
                em.scopes.pop()
                em.lines = saved
            if addrs:
                pet = elem(str(op.results[i].type))
                if isinstance(a, Ptr):
                    types.append("i64")
                    build = (lambda n, pet=pet: Ptr(cv.raw_pointer(S(n, "i64"), pet), 0))
                else:
                    types.append(ttype(a.shape, "i64"))
                    build = (lambda n, a=a, pet=pet: PtrG(cv.raw_tensor_pointer(pet), a.shape, 0,
                                                          [T(n, a.shape, "i64")]))
            elif isinstance(a, (PtrT, PtrG)):
                types.append(ttype(a.shape, "index"))
                build = (lambda n, a=a: PtrG(a.arg, a.shape, 0, [T(n, a.shape, "index")]))
            else:
                ta = elem_of(a)
                types.append(ttype(a.shape, ta))
                build = (lambda n, a=a, ta=ta: T(n, a.shape, ta))
            ys[0].append(names[0])
            ys[1].append(names[1])
        cv.res(op, ("pending", build), i)
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
        build = cv.env[op.results[i]][1]
        cv.res(op, build(f"{r}#{i}" if nres > 1 else r), i)


def _typed(names, types) -> str:
    """` a, b : ta, tb` for a terminator's operands, or nothing when it has none (`scf.yield : ` with an
    empty type list does not parse)."""
    return f" {', '.join(names)} : {', '.join(types)}" if names else ""


@converts("scf.while")
def while_op(cv, op):
    """A while loop; one without carried values (a spin lock, `while tl.atomic_cas(...) == 1: pass`) is
    `scf.while : () -> ()`, its condition read again by each iteration from memory."""
    em = cv.em
    inits = [cv.v(x) for x in op.operands]
    cars = [carrier(cv, v, True) for v in inits]
    before, after = op.regions[0].blocks[0], op.regions[1].blocks[0]
    res = em.fresh("wh")
    bargs = [f"%wb{em.n}_{i}" for i in range(len(cars))]
    inits_text = "(" + ", ".join(f"{a} = {c[2]}" for a, c in zip(bargs, cars)) + ") " if cars else ""
    em.emit((f"{res}:{len(op.results)} = " if len(op.results) > 1 else f"{res} = " if op.results else "") +
            "scf.while " + inits_text + ": (" + ", ".join(c[1] for c in cars) + ") -> (RESULT_TYPES) {")
    head_at = len(em.lines) - 1
    em.push()
    for a, n, c in zip(before.arguments, bargs, cars):
        cv.env[a] = c[3](n)
    term, vals = cv.block(before)
    cond = vals[0]
    if isinstance(cond, Splat):
        cond = cond.s
    fwd = [carrier(cv, v, True) for v in vals[1:]]
    em.emit(f"scf.condition({cond.name})" + _typed([f[2] for f in fwd], [f[1] for f in fwd]))
    em.pop()
    em.lines[head_at] = em.lines[head_at].replace("RESULT_TYPES", ", ".join(f[1] for f in fwd))
    aargs = [f"%wa{em.n}_{i}" for i in range(len(fwd))]
    em.emit("} do {")
    if fwd:
        em.emit("^bb0(" + ", ".join(f"{a}: {f[1]}" for a, f in zip(aargs, fwd)) + "):")
    em.push()
    for a, n, f in zip(after.arguments, aargs, fwd):
        cv.env[a] = f[3](n)
    term, vals = cv.block(after)
    ys = [yield_value(cv, c[0], init, v, i) for i, (c, init, v) in enumerate(zip(cars, inits, vals))]
    em.emit("scf.yield" + _typed([em.idx(y) for y in ys], [c[1] for c in cars]))
    em.pop()
    em.emit("}")
    for i, f in enumerate(fwd):
        cv.res(op, f[3](f"{res}#{i}" if len(fwd) > 1 else res), i)


# ---- unstructured control flow (early `return` inside an `if`) ----

@converts("cf.cond_br")
def cond_br(cv, op):
    """cf.cond_br from an early return: each successor is converted inside one branch of an scf.if. The
    successors end in tt.return (nothing follows the branch in the program body), so no value crosses
    the join; a block both paths reach is converted on each path."""
    cond = cv.v(op.operands[0])
    if isinstance(cond, Splat):
        cond = cond.s
    if not isinstance(cond, S):
        cv.unsupported("a branch on a tensor condition")
    segs = attr_ints(op, "operandSegmentSizes", [1, 0, 0])[-3:]
    t_ops = list(op.operands)[segs[0]:segs[0] + segs[1]]
    f_ops = list(op.operands)[segs[0] + segs[1]:]
    em = cv.em
    em.emit(f"scf.if {cond.name} {{")
    for k, (dest, vals) in enumerate(zip(op.successors, (t_ops, f_ops))):
        if k == 1:
            em.emit("} else {")
        em.push()
        _successor(cv, dest, vals)
        em.pop()
    em.emit("}")


@converts("cf.br")
def br(cv, op):
    _successor(cv, op.successors[0], list(op.operands))


def _successor(cv, dest, operands):
    cv.visits += 1
    if cv.visits > MAX_BLOCK_VISITS:
        cv.unsupported("control flow too tangled for structured conversion (too many paths)")
    for a, v in zip(dest.arguments, operands):
        cv.env[a] = cv.v(v)
    term, _ = cv.block(dest)
    if term is not None and term.name != "tt.return":
        cv.unsupported(f"a branch target ending in {term.name}", term)
