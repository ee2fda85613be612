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
contiguous row reads into strided gathers. Such operands get a named linalg.copy as a barrier (the pass
only merges linalg.generic producers), removed again after the pass.

Where a reshape that only adds or drops unit dims sits between two chained contractions (route B's SDPA on
[1, H, ...] tensors: Q K^T -> softmax -> P V), upstream's unit-extent folding runs after the fusion pass, so
the chain is one rank and the plan can make it one tile group (modules with convolution windows excepted:
conv-im2col wants NCHW).
"""
import re

from torch_mlir import ir

from ..ir import ops_named, run_passes
from .. import attrs

BARRIER = attrs.FUSION_BARRIER
_RESHAPES = ("tensor.collapse_shape", "tensor.expand_shape")


def run(module, cx) -> None:
    _insert_barriers(module)
    run_passes(module, "func.func(linalg-fuse-elementwise-ops)", "fusion")
    _remove_barriers(module)
    run_passes(module, "canonicalize, cse", "fusion")
    if _chain_split_by_unit_reshape(module):
        # e.g. route B's SDPA: batch_matmul on [B*H, ...] views of [1, H, ...] tensors, and the reshape
        # fusion above leaves some generics 5-D, some 3-D: the unit-dim reshapes between them stop tile
        # fusion, so Q K^T, softmax and P V could not share one row-block group (plan.py). Dropping the
        # unit loops makes the chain one rank, the reshapes move to the arguments and results.
        run_passes(module, "func.func(linalg-fold-unit-extent-dims), canonicalize, cse", "fusion")
    _unshare_fills(module)


def _unit_reshape(op) -> bool:
    """A collapse/expand_shape that only adds or drops unit dims (each group has at most one other dim)."""
    if op.name not in _RESHAPES:
        return False
    big = ir.RankedTensorType(op.operands[0].type if op.name == "tensor.collapse_shape" else op.results[0].type)
    for grp in ir.ArrayAttr(op.attributes["reassociation"]):
        if sum(1 for i in ir.ArrayAttr(grp) if big.shape[ir.IntegerAttr(i).value] != 1) > 1:
            return False
    return True


def _is_contraction(op) -> bool:
    """A reduction generic with an input that misses some of its parallel loops (matmul, batch matmul)."""
    if op.name != "linalg.generic" or "reduction" not in str(op.attributes["iterator_types"]):
        return False
    iters = [str(a) for a in ir.ArrayAttr(op.attributes["iterator_types"])]
    par = {d for d, it in enumerate(iters) if "parallel" in it}
    maps = [ir.AffineMapAttr(m).value for m in op.attributes["indexing_maps"]]
    n_in = len(op.operands) - len(op.results)
    for i in range(n_in):
        if not isinstance(op.operands[i].type, ir.RankedTensorType):
            continue
        used = {e.position for e in maps[i].results if isinstance(e, ir.AffineDimExpr)}
        if not par <= used:
            return True
    return False


def _window_maps(module) -> bool:
    """Some generic indexes by a sum of loops (a convolution window): conv-im2col wants its N dim."""
    for op in ops_named(module.operation, "linalg.generic"):
        for m in op.attributes["indexing_maps"]:
            if any(not isinstance(e, (ir.AffineDimExpr, ir.AffineConstantExpr))
                   for e in ir.AffineMapAttr(m).value.results):
                return True
    return False


def _chain_split_by_unit_reshape(module) -> bool:
    """A contraction's result reaches another contraction through generics and a reshape that only adds or
    drops unit dims (attention's S = Q K^T -> softmax -> P V in route B), in a module without convolution
    windows."""
    if _window_maps(module):
        return False
    for op in ops_named(module.operation, "linalg.generic"):
        if not _is_contraction(op):
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
                if name == "linalg.generic" and _is_contraction(o):
                    if c:
                        return True
                    continue
                todo += [(r, c) for r in o.results]
    return False


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
    from torch_mlir.dialects import linalg, tensor
    for op in ops_named(module.operation, "linalg.generic"):
        for i in _broadcast_operands(op):
            v = op.operands[i]
            prod = getattr(v.owner, "operation", None)          # None: a block argument
            while prod is not None and prod.name in _RESHAPES:   # upstream fuses through reshapes too
                prod = getattr(prod.operands[0].owner, "operation", None)
            # Producers with no tensor inputs (constants, fills) cost nothing to recompute: let them merge.
            if prod is None or prod.name != "linalg.generic" or not _reads_tensors(prod):
                continue
            t = ir.RankedTensorType(v.type)
            with ir.InsertionPoint(op), op.location:
                empty = tensor.empty(t.shape, t.element_type)
                copy = linalg.copy(v, outs=[empty])
            copy.owner.attributes[BARRIER] = ir.UnitAttr.get()
            op.operands[i] = copy


def _remove_barriers(module) -> None:
    for op in ops_named(module.operation, "linalg.copy"):
        if BARRIER in op.attributes:
            op.results[0].replace_all_uses_with(op.operands[0])
            op.erase()
