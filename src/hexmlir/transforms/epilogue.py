"""Stage conv-epilogue: a convolution's element-wise consumer (inference BatchNorm's scale and shift, ReLU, a
residual add, in one generic after fusion) marked to run in the convolution's tiles.

conv-im2col turns a convolution into a matmul whose result the consumer reads through reshapes (the matmul's
[n, f, blocks, pixels] viewed as [n, f, h, w]). The plan fused nothing across a reshape, so the consumer was
a root of its own: a second parallel loop, tiled over channels where the matmul is tiled over row blocks,
each chunk reading lines other cores had just written (ResNet-18 at 16 threads: ~25 us per consumer, the same
as at one thread). Here such a consumer gets attrs.EPILOGUE; the plan then gives it the matmul's tiles
(mapped through the reshapes) and fuses the matmul, with its window copy and zero fill, into its tile loop
(plan.plan_epilogue), and tcm-tiling moves the tile's slices above the reshapes so upstream's producer
fusion can reach the matmul. Each tile computes its block of the convolution and applies the epilogue to it
while it is in cache.

Marked: an all-parallel generic without gathers that reads, as an input with a permutation map, the result
of a conv matmul (attrs.CONV_MATMUL) through expand/collapse_shape ops only, each used once. Whether the
tiles map through the reshapes is the plan's decision (it keeps both ops roots where they do not).
"""
from __future__ import annotations

from torch_mlir import ir

from .. import attrs
from ..ir import ops_named

_RESHAPES = ("tensor.expand_shape", "tensor.collapse_shape")


def run(module, cx) -> None:
    for c in ops_named(module.operation, "linalg.generic"):
        if attrs.CONV_MATMUL not in c.attributes or len(c.results) != 1:
            continue
        e = consumer(c)
        if e is not None:
            e.attributes[attrs.EPILOGUE] = ir.UnitAttr.get()


def reshape_chain(c):
    """(the reshape ops from conv matmul `c`'s result, in order, the use that reads the last value) when that
    value is reached through single-use expand/collapse_shape ops and read once; else None."""
    v, chain = c.results[0], []
    while True:
        uses = list(v.uses)
        if len(uses) != 1:
            return None
        o = uses[0].owner
        if getattr(o, "name", "") not in _RESHAPES:
            return chain, uses[0]
        chain.append(o)
        v = o.results[0]


def consumer(c):
    """The element-wise generic that reads conv matmul `c`'s result (through reshapes), or None."""
    found = reshape_chain(c)
    if found is None:
        return None
    _, use = found
    e = use.owner
    if getattr(e, "name", "") != "linalg.generic" or use.operand_number >= len(e.operands) - len(e.results):
        return None
    if "reduction" in str(e.attributes["iterator_types"]):
        return None
    maps = [ir.AffineMapAttr(m).value for m in e.attributes["indexing_maps"]]
    if not maps[use.operand_number].is_permutation or not all(m.is_permutation for m in maps[len(e.operands)
                                                                                              - len(e.results):]):
        return None
    if any(o.operation.name == "tensor.extract" for o in e.regions[0].blocks[0].operations):
        return None
    return e
