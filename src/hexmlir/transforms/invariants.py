"""Stage hoist-invariants: work in an element-wise body that depends on fewer loops than the body runs over
is computed once per point of those loops, in a small generic of its own.

torch-mlir's inference BatchNorm reaches the fused element-wise op as `(x - mean) * (1 / sqrt(var + eps))
* w + b` with a `cf.assert` that `sqrt(var + eps) != 0`: the sqrt, the divide and the check depend on the
channel alone, yet run for every pixel. The assert also keeps the whole op scalar (upstream's vectorizer
has no vector form of `cf.assert`), so every ResNet BatchNorm + ReLU (+ residual) ran one element at a time
with a sqrt and a divide each. Here, after fusion (which would fuse the split back), the body ops that read
only operands indexed by a strict subset D of the loops (e.g. d1, the channel) move into a generic over D
whose results the op reads through projections (d1); the assert goes with them. The op keeps the same
arithmetic on the same values (results are bit-identical) and vectorizes; the small generic is tiny.

A group is hoisted only when it holds work worth a generic (a divide, a math op or an assert), D covers at
most 1/MIN_REUSE of the op's iterations and it reads only the function's arguments (parameters) or values of
the loop indices alone (aranges). Index-typed values stay in the body. T5's relative-position bias over
(batch, head, query, key) computes its bucket (a log) from the query and key positions alone: once per pair. Ops on constants alone (no loop) move in front of the op.
"""
from __future__ import annotations

from torch_mlir import ir

from ..ir import ops_named

MIN_REUSE = 4                                   # iterations of the op per iteration of D, at least
_EXPENSIVE = ("arith.divf", "arith.remf", "arith.divsi", "arith.divui", "arith.remsi", "arith.remui",
              "cf.assert")


def _pure(op) -> bool:
    name = op.name
    return (name.startswith("arith.") or name.startswith("math.")) and not len(op.regions)


def run(module, cx) -> None:
    for g in ops_named(module.operation, "linalg.generic"):
        _hoist(g)


def _hoist(g) -> bool:
    if len(g.regions[0].blocks) != 1 or not all(isinstance(v.type, ir.RankedTensorType) for v in g.operands):
        return False
    if any(s < 0 for v in g.operands for s in ir.RankedTensorType(v.type).shape):
        return False
    maps = [ir.AffineMapAttr(a).value for a in g.attributes["indexing_maps"]]
    n = maps[0].n_dims
    n_in = len(g.operands) - len(g.results)
    body = g.regions[0].blocks[0]
    ops = [o.operation for o in body.operations]
    if any(len(o.regions) for o in ops):
        return False
    if n == 0:
        return False
    every = frozenset(range(n))
    ext: dict[int, int] = {}
    arg_dims = {}
    for k, (v, m) in enumerate(zip(g.operands, maps)):
        shape = ir.RankedTensorType(v.type).shape
        if k < n_in and all(isinstance(e, ir.AffineDimExpr) for e in m.results):
            arg_dims[k] = frozenset(ir.AffineDimExpr(e).position for e in m.results)
            for e, s in zip(m.results, shape):
                ext[ir.AffineDimExpr(e).position] = s
        else:
            arg_dims[k] = every                              # an output, or a window / stride read
    if len(ext) != n and not _all_extents(maps, g, ext, n):
        return False
    args = list(body.arguments)
    dims: dict = {}                                          # op -> the loops its value depends on

    def of(v):
        if isinstance(v, ir.BlockArgument):
            return arg_dims[args.index(v)] if v.owner == body else frozenset()
        o = v.owner
        o = o.operation if hasattr(o, "operation") else o
        return dims.get(_key(o), frozenset()) if _in(o, ops) else frozenset()

    for o in ops:
        if o.name == "linalg.yield" or not (_pure(o) or o.name == "cf.assert"):
            dims[_key(o)] = every
        else:
            d = frozenset().union(*(of(v) for v in o.operands))
            dims[_key(o)] = d
    # Ops on constants alone: in front of the op (LICM at the Linalg level)
    moved = False
    for o in ops:
        # (operands all from outside the body, not merely loop-free: a 0-d generic's args have no loops)
        inside = [x.operation for x in body.operations]
        if _pure(o) and not dims[_key(o)] and not any(
                (isinstance(v, ir.BlockArgument) and v.owner == body) or _producer(v, inside) is not None
                for v in o.operands):
            o.move_before(g)
            moved = True
    ops = [o.operation for o in body.operations]
    # candidates: loops a strict, nonempty subset; operands from the body in the same set
    # (index values stay in the body, with what reads them: a gather's clamped index, its bounds check; the
    # integer they are cast from can move: T5's relative-position bucket, a log per (query, key) pair)
    cand = {_key(o): o for o in ops if dims[_key(o)] and dims[_key(o)] != every
            and not any(isinstance(r.type, ir.IndexType) for r in o.results)}
    changed = True
    while changed:
        changed = False
        for k, o in list(cand.items()):
            for v in o.operands:
                p = _producer(v, ops)
                if p is not None and (_key(p) not in cand or dims[_key(p)] != dims[k]):
                    del cand[k]
                    changed = True
                    break
    groups: dict = {}
    for o in ops:
        if _key(o) in cand:
            groups.setdefault(dims[_key(o)], []).append(o)
    total = 1
    for d in range(n):
        total *= ext[d]
    done = False
    for d, group in groups.items():
        size = 1
        for x in d:
            size *= ext[x]
        if size * MIN_REUSE > total or not any(o.name in _EXPENSIVE or o.name.startswith("math.") for o in group):
            continue
        if not _reads_arguments_only(g, group):
            continue
        keys = {_key(o) for o in group}
        out = [r for o in group for r in o.results
               if any(_key(u.owner) not in keys for u in r.uses)]
        # half values stay in the body: the half stage computes its f16/bf16 chain in f32 and rounds once
        # (index values too: a tensor of index, e.g. an embedding's clamped token ids, is left to the body)
        if not out or any(str(r.type) in ("f16", "bf16", "index") for r in out):
            continue
        g = _split(g, d, group, out, maps, n_in, ext)
        body = g.regions[0].blocks[0]
        ops = [o.operation for o in body.operations]
        done = True
    return done or moved


def _reads_arguments_only(g, group) -> bool:
    """The group reads only the function's arguments (parameters: BatchNorm's statistics and affine
    weights). A per-row value computed in the kernel (RMSNorm's mean square, a softmax's row sum) is left
    alone: its producer is fused into the consumer's tiles, which a generic in between would split."""
    body = g.regions[0].blocks[0]
    args = list(body.arguments)
    for o in group:
        for v in o.operands:
            if isinstance(v, ir.BlockArgument) and v.owner == body:
                t = g.operands[args.index(v)]
                if not (isinstance(t, ir.BlockArgument) and t.owner.owner.operation.name == "func.func") \
                        and not _index_only(t):
                    return False
    return True


def _index_only(t) -> bool:
    """t is computed from loop indices alone (a generic without inputs: torch's arange), which fuses into
    both generics, so a split does not cut a fused chain."""
    o = t.owner
    o = o.operation if hasattr(o, "operation") else o
    return o.name == "linalg.generic" and len(o.operands) == len(o.results)


def _all_extents(maps, g, ext, n) -> bool:
    """Fill the loop extents that only outputs (identity-like maps) give."""
    for v, m in zip(g.operands, maps):
        for e, s in zip(m.results, ir.RankedTensorType(v.type).shape):
            if isinstance(e, ir.AffineDimExpr):
                ext.setdefault(ir.AffineDimExpr(e).position, s)
    return len(ext) == n


def _key(o):
    return o.operation if hasattr(o, "operation") else o


def _in(o, ops) -> bool:
    return any(o == x for x in ops)


def _producer(v, ops):
    if isinstance(v, ir.BlockArgument):
        return None
    o = v.owner
    o = o.operation if hasattr(o, "operation") else o
    return o if _in(o, ops) else None


def _split(g, d, group, out, maps, n_in, ext):
    """g with `group` (ops over loops d) computed by a generic over d in front of it; g's replacement."""
    from torch_mlir.dialects import linalg, tensor
    D = ir.AffineDimExpr.get
    loops = sorted(d)
    pos = {x: i for i, x in enumerate(loops)}
    body = g.regions[0].blocks[0]
    args = list(body.arguments)
    used = []                                               # g's inputs the group reads
    for o in group:
        for v in o.operands:
            if isinstance(v, ir.BlockArgument) and v.owner == body and args.index(v) not in used:
                used.append(args.index(v))
    par = ir.ArrayAttr.get([ir.Attribute.parse("#linalg.iterator_type<parallel>")] * len(loops))
    with ir.InsertionPoint(g), g.location:
        ins = [g.operands[k] for k in used]
        in_maps = [ir.AffineMap.get(len(loops), 0, [D(pos[ir.AffineDimExpr(e).position]) for e in maps[k].results])
                   for k in used]
        outs = [tensor.EmptyOp([ext[x] for x in loops], r.type).result for r in out]
        ident = ir.AffineMap.get(len(loops), 0, [D(i) for i in range(len(loops))])
        small = linalg.GenericOp([o.type for o in outs], ins, outs,
                                 ir.ArrayAttr.get([ir.AffineMapAttr.get(m) for m in in_maps + [ident] * len(outs)]),
                                 par)
        sb = small.regions[0].blocks.append(*[ir.ShapedType(v.type).element_type for v in ins + outs])
        with ir.InsertionPoint(sb):
            y = linalg.YieldOp(list(out))
        for o in group:
            o.move_before(y)
            for j, k in enumerate(used):
                o.replace_uses_of_with(args[k], sb.arguments[j])
        # g again, without the inputs only the group read, plus the group's values through projections onto d
        rest = [o.operation for o in body.operations]
        keep = [k for k in range(n_in) if any(v == args[k] for o in rest for v in o.operands)]
        proj = ir.AffineMap.get(maps[0].n_dims, 0, [D(x) for x in loops])
        outs_g = list(g.operands[n_in:])
        new_ins = [g.operands[k] for k in keep] + list(small.results)
        new_maps = [maps[k] for k in keep] + [proj] * len(out) + maps[n_in:]
        new = linalg.GenericOp([r.type for r in g.results], new_ins, outs_g,
                               ir.ArrayAttr.get([ir.AffineMapAttr.get(m) for m in new_maps]),
                               g.attributes["iterator_types"])
        for a in g.attributes:
            name = a if isinstance(a, str) else a.name
            if name not in ("indexing_maps", "iterator_types", "operandSegmentSizes"):
                new.attributes[name] = g.attributes[name]
        nb = new.regions[0].blocks.append(*[ir.ShapedType(v.type).element_type for v in new_ins + outs_g])
    nargs = list(nb.arguments)
    anchor = None
    for o in rest:                                          # into the new block, in order
        if anchor is None:
            _append(nb, o)
        else:
            o.move_after(anchor)
        anchor = o
        for j, r in enumerate(out):                         # (flat bodies: the uses are direct operands)
            o.replace_uses_of_with(r, nargs[len(keep) + j])
    for j, k in enumerate(keep):
        args[k].replace_all_uses_with(nargs[j])
    for j in range(len(outs_g)):
        args[n_in + j].replace_all_uses_with(nargs[len(keep) + len(out) + j])
    for i, r in enumerate(g.results):
        r.replace_all_uses_with(new.results[i])
    g.erase()
    return new


def _append(block, op) -> None:
    """Move op to the end of (empty) block."""
    tmp = None
    from torch_mlir.dialects import arith
    with ir.InsertionPoint(block), op.location:
        tmp = arith.ConstantOp(ir.IndexType.get(), 0)
    op.move_before(tmp.operation)
    tmp.operation.erase()
