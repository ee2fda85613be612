"""Memory-space bookkeeping shared by the TCM, DMA and lowering stages.

Memory space 1 is TCM. Values are re-typed in place (Value.set_type) and the change is carried through
view ops, so no op has to be rebuilt.
"""
from __future__ import annotations

from torch_mlir import ir

TCM = 1
VIEWS = ("memref.subview", "memref.view", "memref.reinterpret_cast", "memref.cast",
         "memref.expand_shape", "memref.collapse_shape")


def root_buffer(v):
    """Follow view ops back to the buffer a value views into."""
    while getattr(v.owner, "name", None) in VIEWS:
        v = v.owner.operands[0]
    return v


def space_of(t) -> int:
    if not isinstance(t, ir.MemRefType):
        return 0
    ms = ir.MemRefType(t).memory_space
    if ms is None:
        return 0
    return int(str(ms).split(":")[0])


def is_tcm(t) -> bool:
    return space_of(t) == TCM


def with_space(t, space: int | None):
    mt = ir.MemRefType(t)
    ms = ir.IntegerAttr.get(ir.IntegerType.get_signless(64), space) if space else None
    return ir.MemRefType.get(list(mt.shape), mt.element_type, mt.layout, ms)


def _retype_value(v, space) -> None:
    v.set_type(with_space(v.type, space))
    for use in list(v.uses):
        owner = use.owner
        if getattr(owner, "name", None) in VIEWS:
            for r in owner.results:
                if isinstance(r.type, ir.MemRefType) and space_of(r.type) != (space or 0):
                    _retype_value(r, space)


def retype_alloc(alloc_op, space: int) -> None:
    _retype_value(alloc_op.results[0], space)


def erase(module) -> None:
    """Drop memory space 1 everywhere (before LLVM lowering: TCM is plain memory to the LLVM backends)."""
    def visit_block(block):
        for arg in block.arguments:
            if isinstance(arg.type, ir.MemRefType) and space_of(arg.type):
                arg.set_type(with_space(arg.type, None))
        for op in block.operations:
            for r in op.results:
                if isinstance(r.type, ir.MemRefType) and space_of(r.type):
                    r.set_type(with_space(r.type, None))
            for region in op.regions:
                for b in region.blocks:
                    visit_block(b)
    for region in module.operation.regions:
        for b in region.blocks:
            visit_block(b)

    def plain(t):
        return with_space(t, None) if isinstance(t, ir.MemRefType) and space_of(t) else t
    for op in module.body.operations:             # signatures too (runtime declarations take TCM buffers)
        if op.operation.name == "func.func":
            ft = ir.FunctionType(ir.TypeAttr(op.attributes["function_type"]).value)
            op.attributes["function_type"] = ir.TypeAttr.get(
                ir.FunctionType.get([plain(t) for t in ft.inputs], [plain(t) for t in ft.results]))


def _static_alloc(op) -> bool:
    return op.name == "memref.alloc" and len(op.operands) == 0 and is_tcm(op.results[0].type)


def hoist_tcm_allocs(module) -> int:
    """Move static TCM allocs (and their deallocs) out of the scf.for nest they sit in.

    Stops at scf.forall and at thread bodies: buffers must stay private to a thread.
    """
    return hoist_allocs(module, _static_alloc)


def hoist_allocs(module, which) -> int:
    """Move the static allocs `which(op)` selects (and their deallocs) out of their scf.for nest."""
    from ..ir import walk
    allocs = []
    walk(module.operation, lambda o: allocs.append(o) if o.name == "memref.alloc" and not o.operands
         and which(o) else None)
    moved = 0
    for a in allocs:
        outer = None
        p = a.parent
        while p is not None and p.name == "scf.for":
            outer = p
            p = p.parent
        if outer is None:
            continue
        deallocs = [u.owner for u in a.results[0].uses if getattr(u.owner, "name", "") == "memref.dealloc"]
        a.move_before(outer)
        for d in deallocs:
            d.operation.move_after(outer)
        moved += 1
    return moved
