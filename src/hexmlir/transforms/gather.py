"""Row gathers as vectors: the embedding lookups of real models (BERT's word + position + token-type rows, GPT-2's
token + position rows), a generic whose body loads `table[row(i), j]` with j the innermost loop.

A gather stays a scalar loop in general (vectorize.py): its addresses are computed per element. But when the
innermost loop only moves along a table's last dimension, every element of a vector step reads consecutive
addresses of one row, and the rest of the body (the row index loaded from the ids, torch-mlir's bounds
asserts, the clamps the asserts stage adds) is the same for the whole step. `row_gather` recognizes such a
body; the plan then gives the op a vector tile, and `vectorize_full_tiles` writes each full tile (all loops 1
but the innermost, which is exactly one vector) as: the invariant part once (scalar, asserts included), one
contiguous vector read per table, the arithmetic on vectors, one vector write. The clamps on the column
index (`maxsi(j, 0)`, `minsi(.., last)`) are checked once per step: inside them, no lane is clamped and the
reads are the scalar code's addresses; outside (never in a well-formed model), the original scalar tile runs.
"""
from __future__ import annotations

from ..ir import ir, ops_named

_CLAMPS = ("arith.maxsi", "arith.minsi")
_SHIFTS = ("arith.addi", "arith.subi")
_LOADS = ("memref.load", "tensor.extract")


def _dims_of(expr) -> set[int] | None:
    """Dims an affine result reads (only plain dims and constants are accepted: None otherwise)."""
    if isinstance(expr, ir.AffineDimExpr):
        return {expr.position}
    if isinstance(expr, ir.AffineConstantExpr):
        return set()
    return None


def _lane_apply(o, lanes: list[bool]) -> bool:
    """An affine.apply of one result `x + rest` where x is its only lane operand, taken as is (tiling's
    `tile offset + linalg.index`): it shifts the lane's base."""
    mp = ir.AffineMapAttr(o.attributes["map"]).value
    if len(mp.results) != 1 or lanes.count(True) != 1:
        return False
    i = lanes.index(True)
    want = ir.AffineDimExpr.get(i) if i < mp.n_dims else ir.AffineSymbolExpr.get(i - mp.n_dims)
    e = mp.results[0]
    if e == want:
        return True
    if not isinstance(e, ir.AffineAddExpr):
        return False
    for x, rest in ((e.lhs, e.rhs), (e.rhs, e.lhs)):
        if x == want and want not in _terms(rest):
            return True
    return False


def _terms(e) -> list:
    if isinstance(e, ir.AffineBinaryExpr):
        return [e] + _terms(e.lhs) + _terms(e.rhs)
    return [e]


def _classify(op):
    """For a generic whose innermost loop is parallel: {value: kind} over its body, kind 'inv' (the same for
    every lane of a vector step), 'lane' (an index = an invariant base + the lane, through shifts, then
    clamps) or 'vec' (a vector per step); None if any value fits none of them. Values from outside the
    body are invariant."""
    # (iterators and loops read here, not through plan.generic_info: the plan imports this analysis)
    iters = ["parallel" in str(a) for a in op.attributes["iterator_types"]]
    maps = [ir.AffineMapAttr(m).value for m in op.attributes["indexing_maps"]]
    last = len(iters) - 1
    if last < 0 or not iters[last]:
        return None
    block = op.regions[0].blocks[0]
    args = list(block.arguments)
    kind = {}
    for a, mp in zip(args, maps):
        dims = [_dims_of(r) for r in mp.results]
        if any(d is None for d in dims):
            return None
        if not any(last in d for d in dims):
            kind[a] = "inv"
        elif last in dims[-1] and not any(last in d for d in dims[:-1]):
            kind[a] = "vec"
        else:
            return None
    if kind.get(args[-1]) != "vec":
        return None                                           # the output moves along the innermost loop
    clamped = set()                                           # lane values after a clamp
    loads = 0
    for o in block.operations:
        o = o.operation
        name = o.name
        ks = [kind.get(v, "inv") for v in o.operands]
        if name == "linalg.yield":
            break
        if name == "linalg.index":
            res = "lane" if ir.IntegerAttr(o.attributes["dim"]).value == last else "inv"
        elif name in _LOADS:
            idx = ks[1:]
            if ks[0] != "inv" or any(k != "inv" for k in idx[:-1]) or (idx and idx[-1] == "vec"):
                return None
            res = "vec" if idx and idx[-1] == "lane" else "inv"
            loads += res == "vec"
        elif "lane" in ks:
            lane_in = next(v for v, k in zip(o.operands, ks) if k == "lane")
            if ks.count("lane") != 1 or "vec" in ks:
                return None
            if name in _CLAMPS:
                clamped.add(o.results[0])
            elif lane_in in clamped:
                return None                                   # (a shift after a clamp: not written here)
            elif not (name == "arith.addi" or (name == "arith.subi" and ks[0] == "lane")
                      or (name == "affine.apply" and _lane_apply(o, [k == "lane" for k in ks]))):
                return None
            res = "lane"
        elif all(k == "inv" for k in ks):
            res = "inv"
        elif name.split(".")[0] in ("arith", "math") and len(o.results) == 1:
            res = "vec"
        else:
            return None
        if name == "cf.assert" and res != "inv":
            return None
        for r in o.results:
            kind[r] = res
    return kind if loads else None


def row_gather(op) -> bool:
    """The generic (tensor or memref form) is a row gather `vectorize_full_tiles` can write as vectors."""
    return _classify(op) is not None


def vectorize_full_tiles(module, lanes_of) -> int:
    """Every row-gather generic of static shape [1, ..., 1, L] with L = lanes_of(op) (a full vector tile
    left by the vectorize stage's tiling) written as vector code; returns how many."""
    done = 0
    for op in ops_named(module.operation, "linalg.generic"):
        if not any(o.operation.name == "memref.load" for o in op.regions[0].blocks[0].operations):
            continue
        kind = _classify(op)
        if kind is None or not all(isinstance(v.type, ir.MemRefType) and ir.MemRefType(v.type).has_static_shape
                                   for v in op.operands):
            continue
        loops = [None] * len(op.attributes["iterator_types"])
        for mp, v in zip(op.attributes["indexing_maps"], op.operands):
            for r, x in zip(ir.AffineMapAttr(mp).value.results, ir.MemRefType(v.type).shape):
                if isinstance(r, ir.AffineDimExpr):
                    loops[r.position] = x
        L = lanes_of(op)
        if loops[-1] != L or any(x != 1 for x in loops[:-1]) or L < 2:
            continue
        _emit(op, kind, L)
        done += 1
    return done


def _emit(op, kind, L: int) -> None:
    """Invariant code once, then `if (no lane clamped) {vector tile} else {the scalar tile}`."""
    from torch_mlir.dialects import affine, arith, memref, scf, vector
    maps = [ir.AffineMapAttr(m).value for m in op.attributes["indexing_maps"]]
    block = op.regions[0].blocks[0]
    args = list(block.arguments)
    ops = [o.operation for o in block.operations]
    idx_t = ir.IndexType.get()
    m = {}                  # body value -> its value here (scalar, or vector in the branch)
    lane = {}               # lane value -> its base (the value of lane 0)
    conds = []

    def get(v):
        return m.get(v, v)                              # (values from outside the body are themselves)

    with op.location, ir.InsertionPoint(op):
        c0 = arith.ConstantOp(idx_t, 0).result

        def at(mp):
            """An operand's indices at the tile's origin (every loop index 0)."""
            return [c0 if isinstance(r, ir.AffineDimExpr) else arith.ConstantOp(idx_t, r.value).result
                    for r in mp.results]

        for a, mp, v in zip(args, maps, op.operands):
            if kind[a] == "inv" and len(list(a.uses)):
                m[a] = memref.LoadOp(v, at(mp)).result if isinstance(v.type, ir.MemRefType) else v
        for o in ops:
            name = o.name
            if name == "linalg.yield":
                break
            r = o.results[0] if len(o.results) else None
            if name == "linalg.index":
                if kind[r] == "lane":
                    lane[r] = c0
                else:
                    m[r] = c0
            elif r is not None and kind[r] == "lane":
                src = next(v for v in o.operands if kind.get(v) == "lane")
                base = lane[src]
                if name == "affine.apply":
                    ops_ = [base if v == src else get(v) for v in o.operands]
                    lane[r] = affine.AffineApplyOp(ir.AffineMapAttr(o.attributes["map"]).value, ops_).result
                    continue
                c = get(next(v for v in o.operands if v != src))
                if name == "arith.addi":
                    lane[r] = arith.AddIOp(base, c).result
                elif name == "arith.subi":
                    lane[r] = arith.SubIOp(base, c).result
                else:
                    # lanes base .. base + L - 1 all on the clamp's inner side: it changes none of them
                    if name == "arith.maxsi":
                        conds.append(arith.CmpIOp(arith.CmpIPredicate.sge, base, c).result)
                    else:
                        top = arith.AddIOp(base, arith.ConstantOp(idx_t, L - 1).result).result
                        conds.append(arith.CmpIOp(arith.CmpIPredicate.sle, top, c).result)
                    lane[r] = base
            elif r is None or kind[r] == "inv":
                c = o.clone(ir.InsertionPoint(op))
                for i, v in enumerate(o.operands):
                    c.operands[i] = get(v)
                for rr, cr in zip(o.results, c.results):
                    m[rr] = cr
        cond = conds[0] if conds else arith.ConstantOp(ir.IntegerType.get_signless(1), 1).result
        for c in conds[1:]:
            cond = arith.AndIOp(cond, c).result
        branch = scf.IfOp(cond, [], has_else=True)
    with op.location, ir.InsertionPoint(branch.then_block):
        def vec_of(v):
            if kind.get(v) == "vec":
                return m[v]
            x = get(v)
            return vector.BroadcastOp(ir.VectorType.get([L], x.type), x).result

        for a, mp, v in zip(args, maps, op.operands):
            if kind[a] == "vec" and len(list(a.uses)):
                m[a] = _read(v, at(mp), L, a.type)
        for o in ops:
            name = o.name
            if name == "linalg.yield":
                _write(vec_of(o.operands[0]), op.operands[len(op.operands) - 1], at(maps[-1]))
                break
            r = o.results[0] if len(o.results) else None
            if r is None or kind[r] != "vec":
                continue
            if name in _LOADS:
                ids = [get(v) for v in list(o.operands)[1:-1]] + [lane[o.operands[len(o.operands) - 1]]]
                m[r] = _read(o.operands[0], ids, L, r.type)
            else:
                new = ir.Operation.create(name, results=[ir.VectorType.get([L], r.type)],
                                          operands=[vec_of(v) for v in o.operands],
                                          attributes={o.attributes[i].name: o.attributes[i].attr
                                                      for i in range(len(o.attributes))})
                m[r] = new.results[0]
        scf.YieldOp([])
    op.move_before(scf.YieldOp([], ip=ir.InsertionPoint(branch.else_block)))     # else: the scalar tile


def _read(v, ids, L, elt):
    from torch_mlir.dialects import arith, vector
    vt = ir.VectorType.get([L], elt)
    pmap = ir.AffineMap.get_minor_identity(ir.MemRefType(v.type).rank, 1)
    zero = ir.FloatAttr.get(elt, 0.0) if isinstance(elt, ir.FloatType) else ir.IntegerAttr.get(elt, 0)
    return vector.TransferReadOp(vt, v, ids, pmap, arith.ConstantOp(elt, zero).result, [True]).result


def _write(val, v, ids):
    from torch_mlir.dialects import vector
    vector.TransferWriteOp(None, val, v, ids, ir.AffineMap.get_minor_identity(ir.MemRefType(v.type).rank, 1),
                           [True])
