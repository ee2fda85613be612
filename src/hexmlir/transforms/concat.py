"""Stage decompose-concat: tensor.concat -> an elementwise linalg.generic where the operands are equal
pieces, else tensor.empty + one tensor.insert_slice per operand (upstream patterns,
`transform.apply_patterns.tensor.decompose_concat`).

torch.cat imports as tensor.concat. Inserted slices are copies that no later stage fuses: each piece is
computed into a buffer of its own, copied into the result serially, and the result read again by its
consumer (LLaMA's rotate_half, `cat(-x2, x1)`, on every q and k: three passes per call outside any tile
loop). N pieces of equal size S along dim d are instead one generic over the result viewed [.., N, S, ..]
(a tensor.expand_shape of the dim), reading every piece at (.., s, ..) and selecting piece n; the result
is the collapse_shape of it. Elementwise fusion then merges the pieces' producers into it and it into
its consumers (the reshape propagates), so rotate_half becomes affine reads of x inside RoPE's generic.
Shapes are static (check-input).
"""
from torch_mlir import ir

from ..ir import apply_transform, ops_named


def run(module, cx) -> None:
    for op in ops_named(module.operation, "tensor.concat"):
        _equal_pieces_to_generic(op)
    if not ops_named(module.operation, "tensor.concat"):
        return
    apply_transform(module, """
    %f = transform.structured.match ops{["func.func"]} in %root : (!transform.any_op) -> !transform.any_op
    transform.apply_patterns to %f {
      transform.apply_patterns.tensor.decompose_concat
    } : !transform.any_op""", "decompose-concat")


def _equal_pieces_to_generic(op) -> None:
    """concat(dim d, N pieces of size S) -> collapse_shape(generic over [.., N, S, ..] selecting piece n)."""
    from torch_mlir.dialects import arith, linalg, tensor
    from .conv import _iters, _maps
    d = ir.IntegerAttr(op.attributes["dim"]).value
    ts = [ir.RankedTensorType(v.type) for v in op.operands]
    rt = ir.RankedTensorType(op.results[0].type)
    if len(ts) < 2 or not rt.has_static_shape or any(t.shape != ts[0].shape for t in ts):
        return
    n, size = len(ts), ts[0].shape[d]
    if size == 0:
        return
    rank = rt.rank
    shape = list(rt.shape[:d]) + [n, size] + list(rt.shape[d + 1:])
    dims = [ir.AffineExpr.get_dim(i) for i in range(rank + 1)]
    piece = dims[:d] + dims[d + 1:]                       # (.., s, ..): the same point of every piece
    with ir.InsertionPoint(op), op.location:
        empty = tensor.empty(shape, rt.element_type)
        g = linalg.GenericOp([empty.type], list(op.operands), [empty], _maps(rank + 1, [piece] * n + [dims]),
                             _iters("p" * (rank + 1)))
        block = g.regions[0].blocks.append(*[rt.element_type] * (n + 1))
        with ir.InsertionPoint(block):
            k = linalg.IndexOp(ir.IntegerAttr.get(ir.IntegerType.get_signless(64), d)).result
            v = block.arguments[n - 1]
            for i in range(n - 2, -1, -1):
                c = arith.CmpIOp(arith.CmpIPredicate.eq, k, arith.ConstantOp(ir.IndexType.get(), i).result).result
                v = arith.SelectOp(c, block.arguments[i], v).result
            linalg.YieldOp([v])
        groups = [[i] for i in range(d)] + [[d, d + 1]] + [[i + 1] for i in range(d + 1, rank)]
        out = tensor.CollapseShapeOp(rt, g.results[0], ir.ArrayAttr.get(
            [ir.ArrayAttr.get([ir.IntegerAttr.get(ir.IntegerType.get_signless(64), x) for x in grp])
             for grp in groups])).result
    op.results[0].replace_all_uses_with(out)
    op.erase()
