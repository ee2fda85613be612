"""Stage decompose-pad: tensor.pad -> tensor.empty + linalg.fill + tensor.insert_slice (upstream patterns).

torch-mlir imports padded convolutions and F.pad(mode="constant") as tensor.pad with static pads and a
constant yield. Upstream's decompose-pad patterns rewrite it into a filled buffer with the source inserted,
ops every later stage already handles (the fill and the copy are plain linalg ops after bufferization).
Only that form is accepted: a yield that depends on the indices would become a tensor.generate and dynamic
pads dynamic shapes, neither of which the pipeline compiles, so `check` rejects them naming tensor.pad.
"""
from torch_mlir import ir

from ..errors import UnsupportedError
from ..ir import apply_transform, ops_named


def check(op) -> None:
    """Raise UnsupportedError unless the tensor.pad `op` has static pads and a padding value defined outside
    its region (a constant or a function argument; not computed from the indices)."""
    for name in ("static_low", "static_high"):
        if any(ir.ShapedType.is_dynamic_size(v) for v in ir.DenseI64ArrayAttr(op.attributes[name])):
            raise UnsupportedError("dynamic padding amounts (hexmlir needs static shapes)", stage="check-input",
                                   op="tensor.pad", loc=str(op.location))
    block = op.regions[0].blocks[0]
    ops = list(block.operations)
    value = ops[-1].operands[0]
    if len(ops) > 1 or (isinstance(value.owner, ir.Block) and value.owner == block):
        raise UnsupportedError("padding value computed from the indices (only a constant padding value is "
                               "supported)", stage="check-input", op="tensor.pad", loc=str(op.location))


def run(module, cx) -> None:
    if not ops_named(module.operation, "tensor.pad"):
        return
    for op in ops_named(module.operation, "tensor.pad"):
        check(op)                              # check-input ran already; this keeps the stage safe on its own
    apply_transform(module, """
    %f = transform.structured.match ops{["func.func"]} in %root : (!transform.any_op) -> !transform.any_op
    transform.apply_patterns to %f {
      transform.apply_patterns.linalg.decompose_pad
    } : !transform.any_op""", "decompose-pad")
