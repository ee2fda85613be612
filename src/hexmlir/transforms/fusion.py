"""Stage 2: elementwise/producer fusion.

Upstream's elementwise fusion merges chains of elementwise producers into their consumer (GELU's
mul/tanh/add... become one linalg.generic, no intermediate tensors). Reductions cannot merge into their
consumers that way; those are fused at tile level instead: the plan marks them `producer` of a root and
tcm_tiling pulls them into the root's tile loop (fuse_into_containing_op), so their results live only in
the tile (TCM), never in DDR.

One policy upstream's pass has no switch for: a producer is not merged into a contraction operand that the
contraction broadcasts (an indexing map that misses some of its loops, as A and B of a matmul do). Merged,
the producer would be recomputed for every point of the missing loops (a GELU before a Linear: N times per
element), and a transpose (every nn.Linear imports as transpose + matmul) would turn the matmul's
contiguous row reads into strided gathers. Such operands get a copy as a barrier, removed again after the
pass. The barrier is a bufferization.alloc_tensor copy, not a linalg op: the pass also propagates reshapes
through linalg ops by expanding them, and a collapse_shape (a flatten, an nn.Linear after a head merge)
carried through a linalg.copy into the contraction would split its reduction loop in several (K = 32x28x28
instead of 25088): the weight's transpose then becomes a transpose of the expanded weight, which
fold-transposes does not match, so it stayed a per-call copy. Operands that come through a reshape get the
barrier too, whatever produces them.

Where a reshape that only adds or drops unit dims sits between two chained contractions (route B's SDPA on
[1, H, ...] tensors: Q K^T -> softmax -> P V), upstream's unit-extent folding runs after the fusion pass, so
the chain is one rank and the plan can make it one tile group (modules with convolution windows excepted:
conv-im2col wants NCHW).
"""
import re

from torch_mlir import ir

from ..ir import elements as _elements, ops_named, run_passes
from ..plan import generic_is_contraction
from .. import attrs

BARRIER = attrs.FUSION_BARRIER
_RESHAPES = ("tensor.collapse_shape", "tensor.expand_shape")


def run(module, cx) -> None:
    _slices_before_elementwise(module)
    _slices_into_maps(module)
    _insert_barriers(module)
    _clone_cheap_producers(module)
    run_passes(module, "func.func(linalg-fuse-elementwise-ops)", "fusion")
    _remove_barriers(module)
    run_passes(module, "canonicalize, cse", "fusion")
    if _chain_split_by_unit_reshape(module):
        # e.g. route B's SDPA: batch_matmul on [B*H, ...] views of [1, H, ...] tensors, and the reshape
        # fusion above leaves some generics 5-D, some 3-D: the unit-dim reshapes between them stop tile
        # fusion, so Q K^T, softmax and P V could not share one row-block group (plan.py). Dropping the
        # unit loops makes the chain one rank, the reshapes move to the arguments and results.
        run_passes(module, "func.func(linalg-fold-unit-extent-dims), canonicalize, cse", "fusion")
    _fill_reshapes(module)
    if cx.options.fast_math and _scale_after_contraction(module):     # (after the unit dims are gone)
        run_passes(module, "canonicalize, cse", "fusion")
    _unshare_fills(module)


def _fill_reshapes(module) -> None:
    """A reshape of a fill of a tensor.empty -> a fill of the reshaped empty. torch-mlir zero-inits a
    [B*T, N] matmul and views it [B, T, N]: the reshape between fill and matmul kept the fill out of the
    matmul's tile (a root of its own, written whole to memory), and the matmul's tile copied its slice of
    that zero buffer on every call; where the init is shared (SwiGLU's gate and up) into each tile twice.
    (Upstream's FoldFillWithTensorReshape for named fills; the fills here are generalized.)"""
    from torch_mlir.dialects import linalg, tensor
    done = False
    for r in ops_named(module.operation, "tensor.expand_shape") + ops_named(module.operation, "tensor.collapse_shape"):
        src = r.operands[0].owner
        src = getattr(src, "operation", src)
        if getattr(src, "name", None) != "linalg.generic" or len(src.results) != 1 or _reads_tensors(src) \
                or len(src.operands) != 1:
            continue
        init = src.operands[0].owner
        if getattr(getattr(init, "operation", init), "name", None) != "tensor.empty":
            continue
        body = src.regions[0].blocks[0]
        y = list(body.operations)[-1]
        if len(list(body.operations)) != 1 or len(y.operands) != 1:
            continue
        v = y.operands[0]
        if isinstance(v, ir.BlockArgument) and v.owner == body:       # a copy of the init, not a fill
            continue
        rt = ir.RankedTensorType(r.results[0].type)
        with ir.InsertionPoint(r), r.location:
            e = tensor.empty(rt.shape, rt.element_type)
            par = ir.Attribute.parse("#linalg.iterator_type<parallel>")
            f = linalg.GenericOp([rt], [], [e], ir.ArrayAttr.get([ir.AffineMapAttr.get(
                ir.AffineMap.get_identity(rt.rank))]), ir.ArrayAttr.get([par] * rt.rank))
            blk = f.regions[0].blocks.append(rt.element_type)
            with ir.InsertionPoint(blk):
                linalg.YieldOp([v])
        r.results[0].replace_all_uses_with(f.results[0])
        done = True
    if done:
        run_passes(module, "canonicalize, cse", "fusion")


def _unit_reshape(op) -> bool:
    """A collapse/expand_shape that only adds or drops unit dims (each group has at most one other dim)."""
    if op.name not in _RESHAPES:
        return False
    big = ir.RankedTensorType(op.operands[0].type if op.name == "tensor.collapse_shape" else op.results[0].type)
    for grp in ir.ArrayAttr(op.attributes["reassociation"]):
        if sum(1 for i in ir.ArrayAttr(grp) if big.shape[ir.IntegerAttr(i).value] != 1) > 1:
            return False
    return True


def _window_maps(module) -> bool:
    """Some generic indexes by a sum of loops (a convolution window): conv-im2col wants its N dim. (A loop
    plus a constant is a slice read in place, _slices_into_maps.)"""
    for op in ops_named(module.operation, "linalg.generic"):
        for m in op.attributes["indexing_maps"]:
            if any(not isinstance(e, (ir.AffineDimExpr, ir.AffineConstantExpr)) and _offset_dim(e) is None
                   for e in ir.AffineMapAttr(m).value.results):
                return True
    return False


def _offset_dim(e):
    """d + c (either order, c a constant) -> d's position, else None."""
    if not isinstance(e, ir.AffineAddExpr):
        return None
    a, b = ir.AffineAddExpr(e).lhs, ir.AffineAddExpr(e).rhs
    if isinstance(a, ir.AffineConstantExpr):
        a, b = b, a
    return a.position if isinstance(a, ir.AffineDimExpr) and isinstance(b, ir.AffineConstantExpr) else None


def _chain_split_by_unit_reshape(module) -> bool:
    """A contraction's result reaches another contraction through generics and a reshape that only adds or
    drops unit dims (attention's S = Q K^T -> softmax -> P V in route B), in a module without convolution
    windows."""
    if _window_maps(module):
        return False
    for op in ops_named(module.operation, "linalg.generic"):
        if not generic_is_contraction(op):
            continue
        seen, todo = {}, [(r, False) for r in op.results]
        while todo:
            v, crossed = todo.pop()
            for u in v.uses:
                o = u.owner
                name = getattr(o, "name", "")
                if id(o) in seen or (name != "linalg.generic" and name not in _RESHAPES):
                    continue
                seen[id(o)] = o                # kept alive: a freed wrapper's id could be reused
                if name in _RESHAPES and not _unit_reshape(o):
                    continue
                c = crossed or name in _RESHAPES
                if name == "linalg.generic" and generic_is_contraction(o):
                    if c:
                        return True
                    continue
                todo += [(r, c) for r in o.results]
    return False


def _slices_before_elementwise(module) -> None:
    """slice(f(x)) -> f(slice(x)) for an elementwise generic f whose result is only sliced, by slices that
    together are no larger than it (nothing computed twice). The frontend's max pool reads the window's
    strided slices of its input; with the slices in front, the producer (a conv's ReLU) merges into the
    pool's maximum instead of being a pass of its own over the whole conv output (upstream fuses no
    producer through tensor.extract_slice)."""
    from torch_mlir.dialects import tensor
    changed = True
    while changed:
        changed = False
        for g in ops_named(module.operation, "linalg.generic"):
            if not _sliceable_elementwise(g):
                continue
            full = ir.RankedTensorType(g.results[0].type)
            for u in list(g.results[0].uses):
                sl = u.owner
                t = ir.RankedTensorType(sl.results[0].type)
                with ir.InsertionPoint(sl), sl.location:
                    ins = [tensor.ExtractSliceOp(ir.RankedTensorType.get(t.shape, ir.ShapedType(v.type).element_type),
                                                 v, [], [], [], sl.attributes["static_offsets"],
                                                 sl.attributes["static_sizes"], sl.attributes["static_strides"]).result
                           for v in g.operands[:-1]]
                    out = tensor.empty(t.shape, full.element_type)
                    clone = g.operation.clone()
                clone.results[0].set_type(t)
                for i, v in enumerate(ins + [out]):
                    clone.operands[i] = v
                sl.results[0].replace_all_uses_with(clone.results[0])
                sl.erase()
            g.operation.erase()
            changed = True
            break


def _slices_into_maps(module) -> None:
    """An elementwise generic reading a static, unit-stride, rank-keeping tensor.extract_slice of x reads x
    itself. Upstream fuses no producer through a slice: x's producer stayed a pass of its own, materialized
    for the slice to view (LLaMA's rotate_half slices each head's q and k in halves: the q/k transposes were
    serial copies per call). A dim cut in equal pieces (size S dividing x's and the offset) is read through
    x viewed [.., n, S, ..] at the constant piece index (a plain loop must span its dim exactly: the linalg
    verifier); another cut at offset o > 0 as d + o; other slices stay."""
    from torch_mlir.dialects import tensor
    for g in ops_named(module.operation, "linalg.generic"):
        if not _parallel(g) or len(g.results) != 1:
            continue
        n_in = len(g.operands) - 1
        maps = _maps_of(g)
        changed = False
        for i in range(n_in):
            sl = getattr(g.operands[i].owner, "operation", None)
            if sl is None or sl.name != "tensor.extract_slice" or len(sl.operands) != 1:
                continue
            src, dst = ir.RankedTensorType(sl.operands[0].type), ir.RankedTensorType(sl.results[0].type)
            offs = list(ir.DenseI64ArrayAttr(sl.attributes["static_offsets"]))
            strides = list(ir.DenseI64ArrayAttr(sl.attributes["static_strides"]))
            if src.rank != dst.rank or not src.has_static_shape or not dst.has_static_shape \
                    or any(s != 1 for s in strides) \
                    or any(o < 0 for o in offs) or len(maps[i].results) != dst.rank:
                continue
            exprs, shape, groups = [], [], []
            for k, (e, o, z, n) in enumerate(zip(maps[i].results, offs, src.shape, dst.shape)):
                if n == z:
                    exprs.append(e)
                    groups.append([len(shape)])
                    shape.append(z)
                elif z % n == 0 and o % n == 0:
                    exprs += [ir.AffineConstantExpr.get(o // n), e]
                    groups.append([len(shape), len(shape) + 1])
                    shape += [z // n, n]
                elif o > 0:
                    exprs.append(e + o)
                    groups.append([len(shape)])
                    shape.append(z)
                else:
                    break
            else:
                v = sl.operands[0]
                if len(shape) != src.rank:
                    with ir.InsertionPoint(g), g.location:
                        v = tensor.ExpandShapeOp(ir.RankedTensorType.get(shape, src.element_type), v, ir.ArrayAttr.get(
                            [ir.ArrayAttr.get([ir.IntegerAttr.get(ir.IntegerType.get_signless(64), x) for x in grp])
                             for grp in groups]), [], shape).result
                maps[i] = ir.AffineMap.get(maps[i].n_dims, maps[i].n_symbols, exprs)
                g.operands[i] = v
                changed = True
                if not list(sl.results[0].uses):
                    sl.erase()
        if changed:
            g.attributes["indexing_maps"] = ir.ArrayAttr.get([ir.AffineMapAttr.get(m) for m in maps])


def _sliceable_elementwise(g) -> bool:
    """An elementwise generic (identity maps, parallel loops, one result whose init it does not read) whose
    uses are all static, rank-keeping tensor.extract_slice ops summing to at most its size."""
    if len(g.results) != 1 or "reduction" in str(g.attributes["iterator_types"]):
        return False
    t = g.results[0].type
    if not isinstance(t, ir.RankedTensorType) or not ir.ShapedType(t).has_static_shape:
        return False
    rank = ir.RankedTensorType(t).rank
    if any(ir.AffineMapAttr(m).value != ir.AffineMap.get_identity(rank) for m in g.attributes["indexing_maps"]):
        return False
    blk = g.regions[0].blocks[0]
    if list(blk.arguments[-1].uses):                     # reads its init
        return False
    uses = [u.owner for u in g.results[0].uses]
    if not uses or any(u.name != "tensor.extract_slice" or len(u.operands) != 1
                       or ir.RankedTensorType(u.results[0].type).rank != rank for u in uses):
        return False
    return sum(_elements(u.results[0].type) for u in uses) <= _elements(t)


def _unshare_fills(module) -> None:
    """One fill per use. CSE merges equal fills (the zero init of LayerNorm's mean and of its variance);
    tiling the variance then fuses the shared fill "through the tile loop's shared output" for the mean
    only, and the variance accumulates into an unfilled buffer (upstream fuse_into_containing_op). A fill
    has no tensor inputs, so a copy per use costs nothing and each is fused with its own consumer."""
    for op in ops_named(module.operation, "linalg.generic"):
        if len(op.results) != 1 or _reads_tensors(op):
            continue
        uses = [(u.owner, u.operand_number) for u in op.results[0].uses]
        for owner, i in uses[1:]:
            with ir.InsertionPoint(op):
                clone = op.operation.clone()
            owner.operands[i] = clone.results[0]


def _reads_tensors(op) -> bool:
    """False for fills and constants (a generic without tensor inputs)."""
    n_in = len(op.operands) - len(op.results)
    return any(isinstance(v.type, ir.RankedTensorType) for v in op.operands[:n_in])


def _broadcast_operands(op):
    """Input operand indices of a contraction generic whose indexing map misses some of its loops."""
    if "reduction" not in str(op.attributes["iterator_types"]):
        return []
    maps = [ir.AffineMapAttr(m).value for m in op.attributes["indexing_maps"]]
    n_in = len(op.operands) - len(op.results)
    out = []
    for i in range(n_in):
        used = {int(d) for r in maps[i].results for d in re.findall(r"d(\d+)", str(r))}
        if len(used) < maps[i].n_dims:
            out.append(i)
    return out


def _insert_barriers(module) -> None:
    from torch_mlir.dialects import bufferization
    for op in ops_named(module.operation, "linalg.generic"):
        for i in _broadcast_operands(op) + _transposed_operands(op):
            v = op.operands[i]
            prod = getattr(v.owner, "operation", None)          # None: a block argument
            reshaped = False
            while prod is not None and prod.name in _RESHAPES:   # upstream fuses through reshapes too
                prod, reshaped = getattr(prod.operands[0].owner, "operation", None), True
            # Producers with no tensor inputs (constants, fills) cost nothing to recompute: let them merge.
            if not reshaped and (prod is None or prod.name != "linalg.generic" or not _reads_tensors(prod)):
                continue
            with ir.InsertionPoint(op), op.location:
                copy = bufferization.AllocTensorOp(v.type, [], copy=v)
            copy.attributes[BARRIER] = ir.UnitAttr.get()
            op.operands[i] = copy.result


def _transposed_operands(op):
    """The input of a copy that moves its innermost dim (K^T before Q K^T), where it comes (through reshapes
    and copies) from an elementwise generic reading two or more full-rank tensors: merged into the copy,
    every one of them would be read strided, element by element (LLaMA's rotated k: five strided reads per
    element, 0.2 ms a layer at 1 thread, against one in the copy). A bias add (one full-rank input) merges.
    A copy broadcasting along the innermost dim (its input lacks the output's innermost loop) passes the same
    test: there the barrier keeps a row statistic computed once per row, not once per element of the row
    (LayerNorm's mean, row sum x 1/n: a 1-D generic fused per tile at plan; same passes over the rows)."""
    if not _pure_copy(op) or len(op.operands) != 2 or not _parallel(op):
        return []
    src, out = _maps_of(op)[0].results, _maps_of(op)[1].results
    if not src or not out or _dim(src[-1]) is None or _dim(src[-1]) == _dim(out[-1]):
        return []
    prod = getattr(op.operands[0].owner, "operation", None)
    while prod is not None and (prod.name in _RESHAPES or (prod.name == "linalg.generic" and _pure_copy(prod)
                                                           and len(prod.operands) == 2)):
        prod = getattr(prod.operands[0].owner, "operation", None)
    if prod is None or prod.name != "linalg.generic" or not _parallel(prod) or len(prod.results) != 1:
        return []
    rank = ir.RankedTensorType(prod.results[0].type).rank
    full = [v for v in prod.operands[:len(prod.operands) - 1]
            if isinstance(v.type, ir.RankedTensorType) and ir.RankedTensorType(v.type).rank == rank]
    return [0] if len(full) >= 2 else []


def _pure_copy(op) -> bool:
    """A generic whose body only yields its first block argument."""
    blk = op.regions[0].blocks[0]
    body = list(blk.operations)
    return len(body) == 1 and len(body[0].operands) == 1 and body[0].operands[0] == blk.arguments[0]


def _remove_barriers(module) -> None:
    for op in ops_named(module.operation, "bufferization.alloc_tensor"):
        if BARRIER in op.attributes:
            op.results[0].replace_all_uses_with(op.operands[0])
            op.erase()


# ---------------------------------------------------------------------------------------------------------
# Cheap producers with several consumers; row scalings moved past the contraction they feed

_CHEAP_OPS = ("arith.mulf", "arith.addf", "arith.subf", "arith.negf", "arith.extf", "arith.truncf",
              "arith.maximumf", "arith.minimumf", "arith.maxnumf", "arith.minnumf")
CHEAP_BODY_OPS = 2          # arithmetic ops a producer may have to be recomputed in each consumer


def _parallel(op) -> bool:
    return "reduction" not in str(op.attributes["iterator_types"])


def _maps_of(op) -> list:
    return [ir.AffineMapAttr(m).value for m in op.attributes["indexing_maps"]]


def _clone_cheap_producers(module) -> None:
    """An elementwise generic with one tensor input besides fills (attention's scores x 1/sqrt(d), a cast) and
    at most CHEAP_BODY_OPS arithmetic ops, read by several generics that upstream fusion could each merge it
    into, gets a copy per consumer. Upstream fuses only single-use producers, so it stayed a pass of its own
    (a read and a write of its whole result, here the s x s scores, between the matmul and the row max)
    where recomputing it costs a multiply per element in each consumer."""
    for op in ops_named(module.operation, "linalg.generic"):
        if not _cheap_unary(op):
            continue
        uses = [(u.owner, u.operand_number) for u in op.results[0].uses]
        if len(uses) < 2 or not all(_fusable_use(owner, i, op) for owner, i in uses):
            continue
        for owner, i in uses[1:]:
            with ir.InsertionPoint(op):
                clone = op.operation.clone()
                for k, v in enumerate(list(clone.operands)[:-1]):
                    d = getattr(v.owner, "operation", None)
                    if d is not None and d.name == "linalg.generic":      # a fill: one per clone, so it
                        clone.operands[k] = d.clone().results[0]          # merges in too (single use)
            owner.operands[i] = clone.results[0]


def _cheap_unary(op) -> bool:
    """An elementwise generic, one tensor input besides fills, a few cheap arithmetic ops (_clone_cheap_producers)."""
    if len(op.results) != 1 or not _parallel(op) or BARRIER in op.attributes:
        return False
    n_in = len(op.operands) - 1
    tensors = [v for v in op.operands[:n_in] if isinstance(v.type, ir.RankedTensorType)]
    fills = [v for v in tensors if (d := getattr(v.owner, "operation", None)) is not None
             and d.name == "linalg.generic" and not _reads_tensors(d.opview)]
    if len(tensors) - len(fills) != 1:
        return False
    if not _maps_of(op)[-1].is_permutation:
        return False
    blk = op.regions[0].blocks[0]
    if list(blk.arguments[-1].uses):
        return False
    body = [o for o in blk.operations][:-1]
    if not body:          # a copy: free to recompute where it keeps the innermost dim (reads stay contiguous)
        inner, out = _maps_of(op)[0].results, _maps_of(op)[-1].results
        return bool(inner) and bool(out) and _dim(inner[-1]) is not None and _dim(inner[-1]) == _dim(out[-1])
    return len(body) <= CHEAP_BODY_OPS and all(o.operation.name in _CHEAP_OPS for o in body)


def _fusable_use(owner, i, producer) -> bool:
    """`owner` reads the producer as input operand i with a map upstream elementwise fusion accepts, or is an
    expand_shape whose readers all do (upstream moves the reshape onto the producer's copy first)."""
    if getattr(owner, "name", "") == "tensor.expand_shape" and _parallel(producer) \
            and all(m.is_projected_permutation for m in _maps_of(producer)):    # else not expanded: N copies
        rank = ir.RankedTensorType(owner.results[0].type).rank
        return all(getattr(u.owner, "name", "") == "linalg.generic" and not generic_is_contraction(u.owner)
                   and u.operand_number < len(u.owner.operands) - len(u.owner.results)
                   and len(_maps_of(u.owner)[u.operand_number].results) == rank for u in owner.results[0].uses)
    if getattr(owner, "name", "") != "linalg.generic" or generic_is_contraction(owner):
        return False
    if i >= len(owner.operands) - len(owner.results):
        return False
    return len(_maps_of(owner)[i].results) == _maps_of(producer)[-1].n_dims


def _scale_after_contraction(module) -> bool:
    """C = contract(a / r, B) -> contract(a, B) / r (or a * r), where r is indexed by output loops only
    (attention's softmax normalization: P = E / rowsum(E), O = P V): the division runs once per output
    element (s x d) instead of once per element of the contraction's operand (s x s), and the operand is no
    longer materialized. The scaled value may then be selected against 0.0 by a condition also indexed by
    output loops (route B's SDPA: rows whose scores are all -inf give 0): the select moves along. Needs a
    zero-initialized sum-of-products contraction whose operand has no other use. Reassociates the rounding
    (and a row selected to 0 no longer multiplies B), so only with fast_math."""
    from torch_mlir.dialects import linalg, tensor
    changed = False
    for c in ops_named(module.operation, "linalg.generic"):
        m = _row_scaled_operand(c)
        if m is None:
            continue
        i, g, kn, rows = m
        c.operands[i] = g.operands[kn]
        out_t = ir.RankedTensorType(c.results[0].type)
        rank = out_t.rank
        uses = [(u.owner, u.operand_number) for u in c.results[0].uses]
        with ir.InsertionPoint.after(c), c.location:
            empty = tensor.EmptyOp(list(out_t.shape), out_t.element_type).result
            maps = ir.ArrayAttr.get([ir.AffineMapAttr.get(ir.AffineMap.get_identity(rank))]
                                    + [ir.AffineMapAttr.get(ir.AffineMap.get(rank, 0, e)) for _, e in rows]
                                    + [ir.AffineMapAttr.get(ir.AffineMap.get_identity(rank))])
            iters = ir.ArrayAttr.get([ir.Attribute.parse("#linalg.iterator_type<parallel>")] * rank)
            epi = linalg.GenericOp([out_t], [c.results[0]] + [g.operands[k] for k, _ in rows], [empty], maps, iters)
            gb = g.regions[0].blocks[0]
            blk = epi.regions[0].blocks.append(*[a.type for a in [gb.arguments[kn]] + [gb.arguments[k] for k, _ in rows]],
                                               out_t.element_type)
            env = {gb.arguments[kn]: blk.arguments[0]}
            env.update({gb.arguments[k]: blk.arguments[1 + j] for j, (k, _) in enumerate(rows)})
            with ir.InsertionPoint(blk):
                body = list(gb.operations)
                for o in body[:-1]:          # the scaling (and select) on the contraction's result
                    r = ir.Operation.create(o.operation.name, results=[o.results[0].type],
                                            operands=[env.get(v, v) for v in o.operands],
                                            attributes={a: o.attributes[a] for a in o.attributes})
                    env[o.results[0]] = r.results[0]
                linalg.YieldOp([env[body[-1].operands[0]]])
        for owner, k in uses:
            owner.operands[k] = epi.results[0]
        g.erase()
        changed = True
    return changed


def _zero_fill(v) -> bool:
    """`v` is a fill (a generic without tensor inputs) of 0.0."""
    d = getattr(v.owner, "operation", None)
    if d is None or d.name != "linalg.generic" or _reads_tensors(d.opview) or len(d.operands) != 1:
        return False
    ops = list(d.regions[0].blocks[0].operations)
    if len(ops) != 1:
        return False
    c = getattr(ops[0].operands[0].owner, "operation", None)
    if c is None or c.name != "arith.constant":
        return False
    try:
        return ir.FloatAttr(c.attributes["value"]).value == 0.0
    except ValueError:
        return False


def _row_scaled_operand(c):
    """(operand index i, scaling generic g, g's numerator input kn, [(g input, its map over c's output dims)]
    of the factor and the select's condition) when contraction generic `c` sums products of an operand
    that is `num / y` or `num * y`, optionally then `select(cond, 0.0, that)` (either order), with y and
    cond indexed by parallel loops of c that its output keeps; else None."""
    if not generic_is_contraction(c) or len(c.results) != 1 or len(c.operands) != 3:
        return None
    blk = c.regions[0].blocks[0]
    body = list(blk.operations)
    if len(body) != 3 or body[0].operation.name != "arith.mulf" or body[1].operation.name != "arith.addf":
        return None
    mul, add = body[0].operation, body[1].operation
    a0, a1, acc = blk.arguments
    if {mul.operands[0], mul.operands[1]} != {a0, a1} or a0 == a1 or \
            {add.operands[0], add.operands[1]} != {acc, mul.results[0]} or body[2].operands[0] != add.results[0]:
        return None
    if not _zero_fill(c.operands[2]):
        return None
    maps = _maps_of(c)
    iters = [str(a) for a in ir.ArrayAttr(c.attributes["iterator_types"])]
    out_dims = [_dim(e) for e in maps[2].results]
    if any(d is None for d in out_dims):
        return None
    for i in (0, 1):
        g = getattr(c.operands[i].owner, "operation", None)
        if g is None or g.name != "linalg.generic" or len(g.results) != 1 or not 3 <= len(g.operands) <= 4 \
                or not _parallel(g.opview) or len(list(g.results[0].uses)) != 1:
            continue
        gm = _maps_of(g.opview)
        rank = gm[-1].n_dims
        gb = g.regions[0].blocks[0]
        args = list(gb.arguments)
        n_in = len(g.operands) - 1
        if gm[-1] != ir.AffineMap.get_identity(rank) or list(args[-1].uses):
            continue
        gops = [o.operation for o in gb.operations]
        if len(gops) != n_in or gops[0].name not in ("arith.divf", "arith.mulf"):
            continue                                     # (scale[, select], yield): one op per input - 1
        op = gops[0]
        x, y = op.operands[0], op.operands[1]
        if x not in args[:n_in] or y not in args[:n_in] or x == y:
            continue
        kn, ky = args.index(x), args.index(y)
        if op.name == "arith.mulf" and gm[kn] != ir.AffineMap.get_identity(rank):
            kn, ky = ky, kn
        if gm[kn] != ir.AffineMap.get_identity(rank):
            continue
        row_args = [ky]
        last = op.results[0]
        if n_in == 3:                                    # select(cond, 0.0, scaled) or select(cond, scaled, 0.0)
            sel = gops[1]
            if sel.name != "arith.select" or sel.operands[0] not in args[:n_in] or last not in sel.operands[1:]:
                continue
            other = sel.operands[2] if sel.operands[1] == last else sel.operands[1]
            k = getattr(other.owner, "operation", None)
            if k is None or k.name != "arith.constant" or not isinstance(k.attributes["value"], ir.FloatAttr) \
                    or ir.FloatAttr(k.attributes["value"]).value != 0.0:
                continue
            row_args.append(args.index(sel.operands[0]))
            last = sel.results[0]
        if gops[-1].operands[0] != last or any(not isinstance(g.operands[k].type, ir.RankedTensorType)
                                               for k in row_args):
            continue
        # each row operand's indices, as loops of g = dims of c's operand i, as loops of c, as dims of c's output
        rows = []
        for k in row_args:
            exprs = []
            for e in gm[k].results:
                p = _dim(e)
                cd = _dim(maps[i].results[p]) if p is not None else None
                if cd is None or "parallel" not in iters[cd] or cd not in out_dims:
                    break
                exprs.append(ir.AffineDimExpr.get(out_dims.index(cd)))
            else:
                rows.append((k, exprs))
        if len(rows) == len(row_args):
            return i, g, kn, rows
    return None


def _dim(e):
    return e.position if isinstance(e, ir.AffineDimExpr) else None

