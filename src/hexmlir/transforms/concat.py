"""Stage decompose-concat: tensor.concat -> tensor.empty + one tensor.insert_slice per operand (upstream
patterns, `transform.apply_patterns.tensor.decompose_concat`).

torch.cat imports as tensor.concat. After the rewrite each operand is copied into its slice of the result,
ops every later stage already handles (as decompose-pad's insert_slice). Shapes are static (check-input).
"""
from ..ir import apply_transform, ops_named


def run(module, cx) -> None:
    if not ops_named(module.operation, "tensor.concat"):
        return
    apply_transform(module, """
    %f = transform.structured.match ops{["func.func"]} in %root : (!transform.any_op) -> !transform.any_op
    transform.apply_patterns to %f {
      transform.apply_patterns.tensor.decompose_concat
    } : !transform.any_op""", "decompose-concat")
