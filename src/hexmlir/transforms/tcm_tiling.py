"""TCM tiling: tile each root to the plan's TCM tile, pull its producers into the tile loop, and (after
bufferization) promote the tile operands that live in DDR into TCM buffers (memory space 1).

Two halves, because upstream's mechanisms want them at different levels:
  - `tile` (tensors): transform.structured.tile_using_forall on the root + fuse_into_containing_op for
    its producers. The scf.forall over tiles is the parallel seam the threading pass distributes.
  - `promote` (memrefs): transform.structured.promote with memory_space = 1 on the DDR operands of each
    tiled op. The DDR <-> TCM transfers it creates are explicit `linalg.copy` ops: the DMA pass rewrites them.
Tile-local intermediates (fused producers' results) are re-typed into memory space 1 as well: they never
touch DDR.
"""
from __future__ import annotations

from torch_mlir import ir

from ..ir import apply_transform, enclosing_loop, inside, ops_named, run_passes, subview_type
from ..plan import ID_ATTR, config, configs, op_id
from . import asserts, memspace
from .. import attrs


def tile(module, cx) -> None:
    """Tile each root by its config's `tile` and fuse the producers whose config names it (`fused_into`)."""
    cfgs = configs(module)
    # conv-im2col's row-block matmuls read their window copy through a collapse_shape: the tile's slice of it
    # is moved above the collapse (upstream's bubble-up patterns), where the copy can be fused
    reshaped = {op_id(o) for o in ops_named(module.operation, "linalg.generic") if attrs.CONV_BLOCKS in o.attributes}
    lines = []
    for rid, c in sorted(cfgs.items()):
        if "tile" not in c or not any(c["tile"]):
            continue
        prods = sorted((q for q, qc in cfgs.items() if qc.get("fused_into") == rid),
                       key=lambda q: -q)         # closest producer first
        r = f"%r{rid}"
        lines.append(f"{r} = transform.structured.match attributes{{{ID_ATTR} = {rid}}} in %root "
                     f": (!transform.any_op) -> !transform.any_op")
        for q in prods:
            lines.append(f"%p{q} = transform.structured.match attributes{{{ID_ATTR} = {q}}} in %root "
                         f": (!transform.any_op) -> !transform.any_op")
        sizes = ", ".join(str(t) for t in c["tile"])
        lines.append(f"%t{rid}, %l{rid}_0 = transform.structured.tile_using_forall {r} tile_sizes [{sizes}] "
                     f": (!transform.any_op) -> (!transform.any_op, !transform.any_op)")
        loop = f"%l{rid}_0"
        if rid in reshaped:
            lines.append(f"transform.apply_patterns to {loop} {{\n transform.apply_patterns.tensor.bubble_up_extract_slice"
                         "\n} : !transform.any_op")
        for k, q in enumerate(prods, 1):
            lines.append(f"%f{q}, %l{rid}_{k} = transform.structured.fuse_into_containing_op %p{q} into {loop} "
                         f": (!transform.any_op, !transform.any_op) -> (!transform.any_op, !transform.any_op)")
            loop = f"%l{rid}_{k}"
    if lines:
        apply_transform(module, "\n".join(lines), "tcm-tiling")
    run_passes(module, "canonicalize, cse", "tcm-tiling")
    # CSE keeps what holds a cf.assert: a producer cloned per consumer in the tile (after CSE merged the
    # clones' operand slices), and a fused producer's original outside the loop that nothing reads now
    if asserts.merge_duplicates(module) + asserts.drop_unused(module):
        run_passes(module, "canonicalize, cse", "tcm-tiling")


def _wrap_in_subview(op, i) -> None:
    """Replace operand i (a whole buffer: the problem fits one tile) by a full-size subview of it."""
    from torch_mlir.dialects import memref
    v = op.operands[i]
    shape = list(ir.MemRefType(v.type).shape)
    with ir.InsertionPoint(op):
        sv = memref.subview(v, [0] * len(shape), shape, [1] * len(shape),
                            result_type=subview_type(ir.MemRefType(v.type), shape, [1] * len(shape)))
    op.operands[i] = sv


PROMOTE_ATTR = attrs.PROMOTE


def promote(module, cx) -> None:
    """Promote every DDR operand of a linalg op to a TCM buffer (upstream structured.promote); buffers
    allocated inside a tile loop are retyped to TCM. Ops are matched one instance at a time: a producer
    fused into two groups is cloned with the same plan id, and the clones' operands differ (one may
    already be in TCM)."""
    lines = []
    i64 = ir.IntegerType.get_signless(64)
    k = 0                                    # ops tagged for promotion
    cfgs = configs(module)
    for op in ops_named(module.operation, "linalg.generic"):
        if op_id(op) is None:
            continue
        c = config(op) or {}
        if not cfgs.get(c.get("fused_into"), c).get("tcm", True):
            continue                         # the plan keeps this group's tiles in place (no TCM)
        loop = enclosing_loop(op)           # None: the whole problem is one tile
        promote_idx = []
        for i, v in enumerate(op.operands):
            buf = memspace.root_buffer(v)
            owner = buf.owner
            if getattr(owner, "name", None) == "memref.alloc" and loop is not None and inside(owner, loop):
                memspace.retype_alloc(owner.operation, 1)        # tile-local intermediate: lives in TCM
            elif isinstance(v.type, ir.MemRefType) and not memspace.is_tcm(v.type):
                if getattr(v.owner, "name", None) != "memref.subview":
                    _wrap_in_subview(op, i)         # upstream promotion wants subview operands
                promote_idx.append(i)
        if promote_idx:
            k += 1
            op.attributes[PROMOTE_ATTR] = ir.IntegerAttr.get(i64, k)
            idx = ", ".join(map(str, promote_idx))
            lines.append(f"%g{k} = transform.structured.match attributes{{{PROMOTE_ATTR} = {k}}} in %root "
                         f": (!transform.any_op) -> !transform.any_op")
            lines.append(f"%pp{k} = transform.structured.promote %g{k} {{ memory_space = 1, "
                         f"operands_to_promote = [{idx}], alignment = 128 }} "
                         f": (!transform.any_op) -> !transform.any_op")
    if lines:
        apply_transform(module, "\n".join(lines), "tcm-promote")
        for op in ops_named(module.operation, "linalg.generic"):
            if PROMOTE_ATTR in op.attributes:
                del op.attributes[PROMOTE_ATTR]
    run_passes(module, "canonicalize, cse", "tcm-promote")
    memspace.hoist_tcm_allocs(module)


def stage_programs(module, cx) -> None:
    """TCM for grid kernels (Triton): a program's block *is* its tile, so no tiling; every static buffer a
    program allocates (its loaded blocks, intermediates, results) lives in TCM, and the copies between
    them and DDR become explicit linalg.copy for the DMA stage. Buffers are hoisted out of the program
    loop so each thread allocates one set."""
    from torch_mlir.dialects import linalg
    for a in ops_named(module.operation, "memref.alloc"):
        if not a.operands and not memspace.is_tcm(a.results[0].type) and not _crosses_regions(a.results[0]):
            memspace.retype_alloc(a, memspace.TCM)
    for op in ops_named(module.operation, "memref.copy"):
        if memspace.is_tcm(op.operands[0].type) != memspace.is_tcm(op.operands[1].type):
            with ir.InsertionPoint(op):
                linalg.copy(op.operands[0], outs=[op.operands[1]])
            op.erase()
    memspace.hoist_tcm_allocs(module)


def hoist_program_buffers(module, cx) -> None:
    """Without TCM staging, still allocate each program's buffers once per thread, not per program.

    Only buffers freed by their own memref.dealloc move: a buffer carried through a loop (online softmax's
    running max, flash attention's accumulator) is freed by ownership-based deallocation through its base
    pointer, once per iteration or program; hoisting it would free one allocation many times."""
    memspace.hoist_allocs(module, lambda op: not op.operands and _freed_directly(op.results[0]))


def _freed_directly(v) -> bool:
    if _crosses_regions(v):
        return False
    for use in v.uses:
        name = getattr(use.owner, "name", "")
        if name in memspace.VIEWS:
            if not all(_freed_directly(r) for r in use.owner.results):
                return False
        elif name in ("memref.extract_strided_metadata", "memref.extract_aligned_pointer_as_index",
                      "bufferization.dealloc"):
            return False
    return True


def _crosses_regions(v) -> bool:
    """A buffer that travels through loop iter_args, yields or calls keeps its type (memory space):
    retyping one end would break the other."""
    for use in v.uses:
        name = getattr(use.owner, "name", "")
        if name in memspace.VIEWS:
            if any(_crosses_regions(r) for r in use.owner.results):
                return True
        elif name in ("scf.for", "scf.yield", "scf.while", "scf.condition", "func.call", "func.return"):
            return True
    return False
