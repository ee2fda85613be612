"""Reductions, scans and dot products: tt.reduce (linalg.reduce; float sums blocked for accuracy), tt.scan
(a sequential loop along the axis), tt.dot (linalg.matmul / batch_matmul). Combine regions are converted on
scalars by the same converter."""
from __future__ import annotations

from ..forms import S, T, ttype
from ..reader import attr_bool, attr_int, elem, result_type, shape
from ..util import reassoc
from .registry import converts

SUM_BLOCK = 64                 # float sums longer than this reduce blocks of it first, then the partials


def _is_float_sum(op) -> bool:
    body = [o.operation.name for o in op.regions[0].blocks[0].operations]
    return len(op.operands) == 1 and body == ["arith.addf", "tt.reduce.return"]


_IDEMPOTENT = {"arith.maxnumf", "arith.minnumf", "arith.maximumf", "arith.minimumf", "arith.maxsi", "arith.minsi",
               "arith.maxui", "arith.minui", "arith.andi", "arith.ori"}


def _is_idempotent(op) -> bool:
    """tl.max / tl.min / and / or: combining the first element into itself again changes nothing, so the
    reduction may run over the whole axis (whole vectors, one horizontal step per row) with the first
    element as its init, not over the n - 1 elements after it."""
    blk = op.regions[0].blocks[0]
    body = [o.operation for o in blk.operations]
    return len(op.operands) == 1 and len(body) == 2 and body[0].name in _IDEMPOTENT \
        and body[1].name == "tt.reduce.return" and body[1].operands[0] == body[0].results[0] \
        and set(body[0].operands) == set(blk.arguments)


def float_sum(cv, x: T, axis: int):
    """tl.sum of floats, accurate for long rows: half types accumulate in f32, and a long axis is summed
    in blocks of SUM_BLOCK, then blocks of those sums, and so on (a B-ary tree: error grows with
    B log_B n instead of n)."""
    em = cv.em
    et = x.et
    acc = "f32" if et in ("f16", "bf16") else et
    if acc != et:
        x = cv.generic(x.shape, [x], acc, lambda c, v: em.op(f"arith.extf {v[0]} : {et} to {acc}"))
    B = SUM_BLOCK

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
        shp, n = list(x.shape), x.shape[axis]
        eshape = shp[:axis] + [n // B, B] + shp[axis + 1:]
        groups = [[d] for d in range(axis)] + [[axis, axis + 1]] + [[d + 1] for d in range(axis + 1, len(shp))]
        x = T(em.op(f"tensor.expand_shape {x.name} {reassoc(groups)} output_shape [{', '.join(map(str, eshape))}] "
                    f": {ttype(shp, acc)} into {ttype(eshape, acc)}"), tuple(eshape), acc)
        x = reduce(x, axis + 1)
    x = reduce(x, axis)
    if x.shape:
        if acc != et:
            x = cv.generic(x.shape, [x], et, lambda c, v: em.op(f"arith.truncf {v[0]} : {acc} to {et}"))
        return x
    s = em.op(f"tensor.extract {x.name}[] : tensor<{acc}>")
    return S(em.op(f"arith.truncf {s} : {acc} to {et}") if acc != et else s, et)


@converts("tt.reduce")
def reduce_op(cv, op):
    axis = attr_int(op, "axis")
    ins = [cv.tensor(cv.v(x)) for x in op.operands]
    em = cv.em
    if _is_float_sum(op) and ins[0].et.startswith(("f", "bf")):
        cv.res(op, float_sum(cv, ins[0], axis))
        return
    shp = ins[0].shape
    n = shp[axis]
    rshape = tuple(s for d, s in enumerate(shp) if d != axis)
    inits, rests = [], []
    whole = _is_idempotent(op)
    for x in ins:
        offs = ["0"] * len(shp)
        sizes = [str(s) for s in shp]
        sizes[axis] = "1"
        inits.append(em.op(f"tensor.extract_slice {x.name}[{', '.join(offs)}] [{', '.join(sizes)}] "
                           f"[{', '.join(['1'] * len(shp))}] : {ttype(shp, x.et)} to {ttype(rshape, x.et)}"))
        if whole:
            rests.append(x.name)
            continue
        offs[axis] = "1"
        sizes[axis] = str(n - 1)
        rs = list(shp)
        rs[axis] = n - 1
        rests.append(em.op(f"tensor.extract_slice {x.name}[{', '.join(offs)}] [{', '.join(sizes)}] "
                           f"[{', '.join(['1'] * len(shp))}] : {ttype(shp, x.et)} to {ttype(rs, x.et)}"))
    rs = list(shp)
    rs[axis] = n if whole else n - 1
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
        cv.env[blk.arguments[i]] = S(acc_args[i], ins[i].et)
        cv.env[blk.arguments[k + i]] = S(ins_args[i], ins[i].et)
    term, vals = cv.block(blk)
    em.emit(f"linalg.yield {', '.join(v.name for v in vals)} : {', '.join(v.type for v in vals)}")
    em.depth -= 1
    em.pop()
    em.emit("  }")
    for i, x in enumerate(ins):
        name = f"{r}#{i}" if k > 1 else r
        if rshape:
            cv.res(op, T(name, rshape, x.et), i)
        else:
            cv.res(op, S(em.op(f"tensor.extract {name}[] : tensor<{x.et}>"), x.et), i)


@converts("tt.scan")
def scan(cv, op):
    """tl.cumsum / tl.cumprod / tl.associative_scan (several operands, reverse=True): a sequential scan
    along the axis for every position of the other dims, the combine region converted on scalars."""
    axis = attr_int(op, "axis")
    reverse = attr_bool(op, "reverse")
    ins = [cv.tensor(cv.v(x)) for x in op.operands]
    em = cv.em
    shp = ins[0].shape
    n = shp[axis]
    k = len(ins)
    blk = op.regions[0].blocks[0]
    outs = [em.op(f"tensor.empty() : {ttype(shp, x.et)}", "e") for x in ins]
    others = [d for d in range(len(shp)) if d != axis]
    # loops over the other dims, carrying the outputs
    ivs, heads = {}, []
    cur = outs
    for d in others:
        iv, r = em.fresh("iv"), em.fresh("scn")
        its = [em.fresh("so") for _ in range(k)]
        em.emit(f"{r}:{k} = scf.for {iv} = {em.idx(0)} to {em.idx(shp[d])} step {em.idx(1)} iter_args("
                + ", ".join(f"{a} = {c}" for a, c in zip(its, cur)) + ") -> ("
                + ", ".join(ttype(shp, x.et) for x in ins) + ") {")
        em.push()
        ivs[d] = iv
        heads.append(r)
        cur = its

    def at(j):
        return [ivs[d] if d != axis else j for d in range(len(shp))]

    def pos(j):                                    # the scan index of step j
        return j if not reverse else em.op(f"arith.subi {em.idx(n - 1)}, {j} : index", "i")

    first = em.idx(n - 1 if reverse else 0)
    accs = [em.op(f"tensor.extract {x.name}[{', '.join(at(first))}] : {ttype(shp, x.et)}") for x in ins]
    cur = [em.op(f"tensor.insert {a} into {c}[{', '.join(at(first))}] : {ttype(shp, x.et)}")
           for a, c, x in zip(accs, cur, ins)]
    j, r = em.fresh("j"), em.fresh("scj")
    acc_a = [em.fresh("sa") for _ in range(k)]
    out_a = [em.fresh("so") for _ in range(k)]
    em.emit(f"{r}:{2 * k} = scf.for {j} = {em.idx(1)} to {em.idx(n)} step {em.idx(1)} iter_args("
            + ", ".join(f"{a} = {c}" for a, c in zip(acc_a + out_a, accs + cur)) + ") -> ("
            + ", ".join([x.et for x in ins] + [ttype(shp, x.et) for x in ins]) + ") {")
    em.push()
    pj = pos(j)
    xs = [em.op(f"tensor.extract {x.name}[{', '.join(at(pj))}] : {ttype(shp, x.et)}") for x in ins]
    # Triton's combine(lhs, rhs): lhs is the running value, rhs the next element.
    for i in range(k):
        cv.env[blk.arguments[i]] = S(acc_a[i], ins[i].et)
        cv.env[blk.arguments[k + i]] = S(xs[i], ins[i].et)
    _, vals = cv.block(blk, stop_at=("tt.scan.return",))
    news = [v.name for v in vals]
    upd = [em.op(f"tensor.insert {v} into {o}[{', '.join(at(pj))}] : {ttype(shp, x.et)}")
           for v, o, x in zip(news, out_a, ins)]
    em.emit(f"scf.yield {', '.join(news + upd)} : {', '.join([x.et for x in ins] + [ttype(shp, x.et) for x in ins])}")
    em.pop()
    em.emit("}")
    res = [f"{r}#{k + i}" for i in range(k)]
    for d in reversed(others):
        em.emit(f"scf.yield {', '.join(res)} : {', '.join(ttype(shp, x.et) for x in ins)}")
        em.pop()
        em.emit("}")
        h = heads.pop()
        res = [f"{h}#{i}" for i in range(k)]
    for i, x in enumerate(ins):
        cv.res(op, T(res[i], shp, x.et), i)


@converts("tt.dot")
def dot(cv, op):
    a, b = (cv.tensor(cv.v(x)) for x in op.operands[:2])
    c = cv.v(op.operands[2])
    rt = result_type(op)
    shp, et = shape(rt), elem(rt)
    ct = cv.tensor(c)
    em = cv.em
    name = "linalg.matmul" if len(shp) == 2 else "linalg.batch_matmul"
    if len(shp) not in (2, 3):
        cv.unsupported("tt.dot of rank other than 2 or 3")
    r = em.op(f"{name} ins({a.name}, {b.name} : {ttype(a.shape, a.et)}, {ttype(b.shape, b.et)}) "
              f"outs({ct.name} : {ttype(shp, et)}) -> {ttype(shp, et)}", "dot")
    cv.res(op, T(r, shp, et))
