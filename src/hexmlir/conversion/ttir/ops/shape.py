"""Shape ops: splat, make_range, expand_dims, broadcast, reshape, trans, cat, join, split. Symbolic forms
(splats, affine indices and pointers, range masks) keep their form; tensors get tensor/linalg ops."""
from __future__ import annotations

from ..forms import T, Aff, MaskB, Ptr, PtrG, PtrT, Splat, shape_of, ttype
from ..reader import attr_int, attr_ints, result_type, shape
from ..util import reassoc
from .registry import converts


@converts("tt.splat")
def splat(cv, op):
    x = cv.v(op.operands[0])
    shp = shape(result_type(op))
    if isinstance(x, Ptr):
        cv.res(op, PtrT(x.arg, shp, x.off, [0] * len(shp)))
    else:
        cv.res(op, Splat(x, shp))


@converts("tt.make_range")
def make_range(cv, op):
    start, end = attr_int(op, "start"), attr_int(op, "end")
    cv.res(op, Aff((end - start,), start, [1], "i32"))


@converts("tt.expand_dims")
def expand_dims(cv, op):
    x = cv.v(op.operands[0])
    axis = attr_int(op, "axis")
    shp = shape(result_type(op))
    def ins(lst, val):
        lst = list(lst)
        lst.insert(axis, val)
        return lst
    if isinstance(x, Splat):
        cv.res(op, Splat(x.s, shp))
    elif isinstance(x, Aff):
        cv.res(op, Aff(shp, x.base, ins(x.strides, 0), x.et))
    elif isinstance(x, PtrT):
        cv.res(op, PtrT(x.arg, shp, x.base, ins(x.strides, 0)))
    elif isinstance(x, MaskB):
        cv.res(op, MaskB(shp, ins(x.lo, None), ins(x.hi, None)))
    elif isinstance(x, PtrG):
        cv.res(op, PtrG(x.arg, shp, x.base, [expand(cv, cv.tensor(q), axis, shp) for q in x.parts]))
    else:
        cv.res(op, expand(cv, cv.tensor(x), axis, shp))


def expand(cv, t: T, axis: int, shp) -> T:
    """tensor.expand_shape inserting a unit dim at axis."""
    rank = len(t.shape)
    groups, k = [], 0
    for d in range(rank):
        g = [k]
        k += 1
        if d == axis or (d == rank - 1 and axis == rank):
            g = [k - 1, k]
            k += 1
        groups.append(g)
    if rank == 0:
        groups = []
    r = cv.em.op(f"tensor.expand_shape {t.name} {reassoc(groups)} output_shape [{', '.join(map(str, shp))}] : "
                 f"{ttype(t.shape, t.et)} into {ttype(shp, t.et)}")
    return T(r, tuple(shp), t.et)


@converts("tt.broadcast")
def broadcast_op(cv, op):
    x = cv.v(op.operands[0])
    shp = shape(result_type(op))
    src = shape_of(x)
    bdims = [d for d in range(len(shp)) if src[d] == 1 and shp[d] != 1]
    if isinstance(x, Splat):
        cv.res(op, Splat(x.s, shp))
    elif isinstance(x, Aff):
        cv.res(op, Aff(shp, x.base, [0 if d in bdims else s for d, s in enumerate(x.strides)], x.et))
    elif isinstance(x, PtrT):
        cv.res(op, PtrT(x.arg, shp, x.base, [0 if d in bdims else s for d, s in enumerate(x.strides)]))
    elif isinstance(x, MaskB):
        lo, hi = list(x.lo), list(x.hi)
        for d in bdims:              # a size-1 dim's bound is a uniform condition: fold it into an all-or-none
            if lo[d] is not None or hi[d] is not None:
                em = cv.em
                ok = em.op(f"arith.andi {em.op(f'arith.cmpi sle, {em.idx(lo[d] if lo[d] is not None else 0)}, {em.idx(0)} : index')}, "
                           f"{em.op(f'arith.cmpi sgt, {em.idx(hi[d] if hi[d] is not None else 1)}, {em.idx(0)} : index')} : i1")
                lo[d] = None
                hi[d] = em.op(f"arith.select {ok}, {em.idx(shp[d])}, {em.idx(0)} : index", "i")
        cv.res(op, MaskB(shp, lo, hi))
    elif isinstance(x, PtrG):
        cv.res(op, PtrG(x.arg, shp, x.base, [broadcast(cv, cv.tensor(q), shp) for q in x.parts]))
    else:
        cv.res(op, broadcast(cv, cv.tensor(x), shp))


def broadcast(cv, t: T, shp) -> T:
    """A tensor broadcast along its size-1 dims: collapse them, then a generic with a projected map."""
    if tuple(t.shape) == tuple(shp):
        return t
    em = cv.em
    keep = [d for d in range(len(shp)) if not (t.shape[d] == 1 and shp[d] != 1)]
    if len(keep) < len(shp):
        groups, cur = [], []
        for d in range(len(shp)):
            cur.append(d)
            if d in keep:
                groups.append(cur)
                cur = []
        if cur:
            if groups:
                groups[-1] += cur
            else:
                groups = []
        col = em.op(f"tensor.collapse_shape {t.name} {reassoc(groups)} : {ttype(t.shape, t.et)} into "
                    f"{ttype([t.shape[d] for d in keep], t.et)}")
    else:
        col = t.name
    dims = ", ".join(f"d{i}" for i in range(len(shp)))
    imap = f"affine_map<({dims}) -> ({', '.join(f'd{d}' for d in keep)})>"
    omap = f"affine_map<({dims}) -> ({dims})>"
    init = em.op(f"tensor.empty() : {ttype(shp, t.et)}", "e")
    r = em.fresh("b")
    iters = ", ".join(['"parallel"'] * len(shp))
    em.emit(f"{r} = linalg.generic {{indexing_maps = [{imap}, {omap}], iterator_types = [{iters}]}} "
            f"ins({col} : {ttype([t.shape[d] for d in keep], t.et)}) outs({init} : {ttype(shp, t.et)}) {{")
    em.emit(f"^bb0(%bi{em.n}: {t.et}, %bo{em.n}: {t.et}):")
    em.emit(f"  linalg.yield %bi{em.n} : {t.et}")
    em.emit(f"}} -> {ttype(shp, t.et)}")
    return T(r, tuple(shp), t.et)


@converts("tt.reshape")
def reshape(cv, op):
    v = cv.v(op.operands[0])
    shp = shape(result_type(op))
    src = shape_of(v)
    if [n for n in src if n != 1] == [n for n in shp if n != 1] and not isinstance(v, (T, PtrG)):
        # only unit dims inserted/removed: symbolic forms keep their per-dim data on the non-unit dims
        keep_src = [d for d, n in enumerate(src) if n != 1]
        keep_dst = [d for d, n in enumerate(shp) if n != 1]
        def remap(vals, fill):
            out = [fill] * len(shp)
            for a, b in zip(keep_src, keep_dst):
                out[b] = vals[a]
            return out
        if isinstance(v, Splat):
            cv.res(op, Splat(v.s, shp))
            return
        if isinstance(v, Aff):
            cv.res(op, Aff(shp, v.base, remap(v.strides, 0), v.et))
            return
        if isinstance(v, PtrT):
            cv.res(op, PtrT(v.arg, shp, v.base, remap(v.strides, 0)))
            return
        if isinstance(v, MaskB) and all(v.lo[d] is None and v.hi[d] is None for d in range(len(src)) if src[d] == 1):
            cv.res(op, MaskB(shp, remap(v.lo, None), remap(v.hi, None)))
            return
    x = cv.tensor(v)
    em = cv.em
    n = 1
    for s in x.shape:
        n *= s
    flat = x.name
    if len(x.shape) != 1:
        flat = em.op(f"tensor.collapse_shape {x.name} {reassoc([list(range(len(x.shape)))]) if x.shape else '[]'} : "
                     f"{ttype(x.shape, x.et)} into {ttype([n], x.et)}")
    if len(shp) == 1:
        cv.res(op, T(flat, (n,), x.et))
        return
    r = em.op(f"tensor.expand_shape {flat} {reassoc([list(range(len(shp)))])} output_shape "
              f"[{', '.join(map(str, shp))}] : {ttype([n], x.et)} into {ttype(shp, x.et)}")
    cv.res(op, T(r, shp, x.et))


@converts("tt.trans")
def trans(cv, op):
    x = cv.tensor(cv.v(op.operands[0]))
    order = attr_ints(op, "order")
    shp = tuple(x.shape[d] for d in order)
    em = cv.em
    init = em.op(f"tensor.empty() : {ttype(shp, x.et)}", "e")
    r = em.op(f"linalg.transpose ins({x.name} : {ttype(x.shape, x.et)}) outs({init} : {ttype(shp, x.et)}) "
              f"permutation = [{', '.join(map(str, order))}]")
    cv.res(op, T(r, shp, x.et))


@converts("tt.cat")
def cat(cv, op):
    a, b = (cv.tensor(cv.v(x)) for x in op.operands)
    cv.res(op, concat(cv, [a, b], 0, shape(result_type(op))))


def concat(cv, parts, axis, shp) -> T:
    em = cv.em
    et = parts[0].et
    acc = em.op(f"tensor.empty() : {ttype(shp, et)}", "e")
    off = 0
    for p in parts:
        offs = ["0"] * len(shp)
        offs[axis] = str(off)
        acc = em.op(f"tensor.insert_slice {p.name} into {acc}[{', '.join(offs)}] [{', '.join(map(str, p.shape))}] "
                    f"[{', '.join(['1'] * len(shp))}] : {ttype(p.shape, et)} into {ttype(shp, et)}")
        off += p.shape[axis]
    return T(acc, tuple(shp), et)


@converts("tt.join")
def join(cv, op):
    a, b = (cv.tensor(cv.v(x)) for x in op.operands)
    shp = shape(result_type(op))
    parts = [expand(cv, x, len(x.shape), tuple(x.shape) + (1,)) for x in (a, b)]
    cv.res(op, concat(cv, parts, len(shp) - 1, shp))


@converts("tt.split")
def split(cv, op):
    x = cv.tensor(cv.v(op.operands[0]))
    shp = x.shape[:-1]
    em = cv.em
    for i in range(2):
        offs = ["0"] * (len(x.shape) - 1) + [str(i)]
        r = em.op(f"tensor.extract_slice {x.name}[{', '.join(offs)}] [{', '.join(map(str, shp + (1,)))}] "
                  f"[{', '.join(['1'] * len(x.shape))}] : {ttype(x.shape, x.et)} to {ttype(shp, x.et)}")
        cv.res(op, T(r, shp, x.et), i)
