"""Thin helpers over the MLIR Python bindings (torch_mlir): contexts, pass runs and transform scripts.

Every call that can fail inside MLIR goes through here, so failures become typed hexmlir errors that name
the stage (and the op, when MLIR's diagnostic names one) instead of crashes or raw binding exceptions.
"""
from __future__ import annotations

import re

from torch_mlir import ir, passmanager  # noqa: F401  (re-exported for the passes)
from torch_mlir.dialects.transform import interpreter

from .errors import CompileError, UnsupportedError

_OP_RE = re.compile(r"'([a-z_]+\.[a-z_.]+)' op|custom op '([a-z_]+\.[a-z_.]+)'")


def context() -> ir.Context:
    ctx = ir.Context()
    ctx.allow_unregistered_dialects = False
    return ctx


def _op_from(msg: str) -> str | None:
    m = _OP_RE.search(msg)                        # "'x.y' op ..." or, from the parser, "custom op 'x.y'"
    return (m.group(1) or m.group(2)) if m else None


def parse(text: str, stage: str = "parse") -> ir.Module:
    try:
        return ir.Module.parse(text)
    except ir.MLIRError as e:
        raise UnsupportedError(f"cannot parse input: {e}", stage=stage, op=_op_from(str(e))) from None


def verify(module: ir.Module, stage: str) -> None:
    try:
        module.operation.verify()
    except ir.MLIRError as e:
        raise CompileError(f"IR does not verify: {e}", stage=stage, op=_op_from(str(e))) from None


def run_passes(module: ir.Module, pipeline: str, stage: str) -> None:
    """Run a textual pass pipeline on the module; `pipeline` is the part inside builtin.module(...)."""
    try:
        pm = passmanager.PassManager.parse(f"builtin.module({pipeline})")
        pm.run(module.operation)
    except ir.MLIRError as e:
        raise CompileError(f"pass pipeline failed: {e}", stage=stage, op=_op_from(str(e))) from None


def apply_transform(module: ir.Module, body: str, stage: str, consumes_root: bool = False) -> None:
    """Apply a transform-dialect script whose body operates on `%root` (the payload module)."""
    mode = "consumed" if consumes_root else "readonly"
    script = ir.Module.parse(
        "module attributes {transform.with_named_sequence} {\n"
        f"transform.named_sequence @__transform_main(%root: !transform.any_op {{transform.{mode}}}) {{\n"
        f"{body}\n  transform.yield\n}}\n}}")
    try:
        interpreter.apply_named_sequence(module.operation, script.body.operations[0], script)
    except (ir.MLIRError, ValueError) as e:
        raise CompileError(f"transform script failed: {e}", stage=stage, op=_op_from(str(e))) from None


def walk(op, fn) -> None:
    """Pre-order walk calling fn(op) on every nested operation (fn may not erase the op it is given)."""
    for region in op.regions:
        for block in region.blocks:
            for child in list(block.operations):
                fn(child.operation)
                walk(child.operation, fn)


def defining_op(v):
    """The operation that defines value `v`, or None for a block argument (or no value)."""
    o = getattr(v, "owner", None)
    return o.operation if hasattr(o, "operation") else None


def inside(op, container) -> bool:
    """True when `op` is `container` or nested (at any depth) in one of its regions."""
    p = op.operation if hasattr(op, "operation") else op
    container = container.operation if hasattr(container, "operation") else container
    while p is not None:
        if p == container:
            return True
        p = p.parent
    return False


def enclosing_loop(op) -> object | None:
    """The innermost scf.forall / scf.for around `op` inside its function, if any."""
    p = op.parent
    while p is not None and p.name != "func.func":
        if p.name in ("scf.forall", "scf.for"):
            return p
        p = p.parent
    return None


def ops_named(root, name: str) -> list:
    out = []
    walk(root, lambda o: out.append(o) if o.name == name else None)
    return out


def funcs(module: ir.Module) -> list:
    return [op.operation for op in module.body.operations if op.operation.name == "func.func"]


def elements(t) -> int:
    """Elements of a static shaped type (tensor or memref)."""
    n = 1
    for d in ir.ShapedType(t).shape:
        n *= d
    return n


def subview_type(t, sizes: list[int], steps: list[int]):
    """The type of a memref.subview of memref type `t` at offsets 0 with static `sizes` and `steps`: the
    source's strides times the steps and its offset, each dynamic where the source's is. (The bindings'
    memref.subview helper infers a type only from static source strides: on a view with a dynamic stride
    it raises ValueError.) Row-major strides at offset 0 give the identity layout, as that helper does."""
    dyn = ir.ShapedType.get_dynamic_stride_or_offset()
    strides, offset = t.get_strides_and_offset()
    out = [dyn if s == dyn else s * k for s, k in zip(strides, steps)]
    dense = [1] * len(sizes)
    for d in range(len(sizes) - 2, -1, -1):
        dense[d] = dense[d + 1] * sizes[d + 1]
    layout = None if offset == 0 and out == dense else ir.StridedLayoutAttr.get(offset, out)
    return ir.MemRefType.get(sizes, t.element_type, layout, t.memory_space)
