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

from ..ir import apply_transform, elements as _elements, enclosing_loop, inside, ops_named, run_passes, subview_type
from ..plan import ID_ATTR, config, configs, op_id
from . import asserts, memspace
from .. import attrs


def tile(module, cx) -> None:
    """Tile each root by its config's `tile` and fuse the producers whose config names it (`fused_into`)."""
    cfgs = configs(module)
    # conv-im2col's row-block matmuls read their window copy through a collapse_shape: the tile's slice of it
    # is moved above the collapse (upstream's bubble-up patterns), where the copy can be fused
    generics = ops_named(module.operation, "linalg.generic")
    reshaped = {op_id(o) for o in generics if attrs.CONV_BLOCKS in o.attributes}
    epilogues = {op_id(o) for o in generics if attrs.EPILOGUE in o.attributes}
    groups = {}
    for rid, c in sorted(cfgs.items()):
        if "tile" in c and any(c["tile"]):
            groups[rid] = (c["tile"], sorted((q for q, qc in cfgs.items() if qc.get("fused_into") == rid),
                                             key=lambda q: -q))         # closest producer first
    lines = []
    for rid, (sizes, prods) in groups.items():
        if rid in epilogues:
            continue
        r = f"%r{rid}"
        lines.append(_match(r, rid))
        for q in prods:
            lines.append(_match(f"%p{q}", q))
        lines.append(f"%t{rid}, %l{rid}_0 = transform.structured.tile_using_forall {r} tile_sizes "
                     f"[{', '.join(map(str, sizes))}] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)")
        loop = f"%l{rid}_0"
        if rid in reshaped:
            lines.append(_BUBBLE.format(loop))
        for k, q in enumerate(prods, 1):
            lines.append(_fuse(f"%f{q}", f"%l{rid}_{k}", f"%p{q}", loop))
            loop = f"%l{rid}_{k}"
    if lines:
        apply_transform(module, "\n".join(lines), "tcm-tiling")
    _tile_epilogues(module, {r: g for r, g in groups.items() if r in epilogues})
    run_passes(module, "canonicalize, cse", "tcm-tiling")
    # CSE keeps what holds a cf.assert: a producer cloned per consumer in the tile (after CSE merged the
    # clones' operand slices), and a fused producer's original outside the loop that nothing reads now
    if asserts.merge_duplicates(module) + asserts.drop_unused(module):
        run_passes(module, "canonicalize, cse", "tcm-tiling")


_BUBBLE = ("transform.apply_patterns to {} {{\n transform.apply_patterns.tensor.bubble_up_extract_slice"
           "\n}} : !transform.any_op")


def _match(handle: str, pid: int) -> str:
    return (f"{handle} = transform.structured.match attributes{{{ID_ATTR} = {pid}}} in %root "
            f": (!transform.any_op) -> !transform.any_op")


def _fuse(fused: str, new_loop: str, producer: str, loop: str) -> str:
    return (f"{fused}, {new_loop} = transform.structured.fuse_into_containing_op {producer} into {loop} "
            f": (!transform.any_op, !transform.any_op) -> (!transform.any_op, !transform.any_op)")


def _tile_epilogues(module, groups: dict) -> None:
    """conv-epilogue's roots (plan.plan_epilogue): tiled, then their producers fused one at a time, each
    slice moved above the reshapes first (upstream's bubble-up; the matmul's result is read through
    expand/collapse_shapes, the matmul's window copy through a collapse_shape). Bubbling up a slice of a
    collapsed dim at a tile-dependent offset leaves affine.delinearize_index/linearize_index of it, which
    upstream's next bubble-up does not see through (the offset of a whole inner dim is no constant 0 then):
    between the steps they are expanded into affine.apply and folded, in one transform script per step
    (the pass runs on whole functions), the loops found again from their roots."""
    if not groups:
        return
    fold = "func.func(affine-expand-index-ops-as-affine), canonicalize"
    lines = []
    for rid, (sizes, _) in groups.items():
        lines += [_match(f"%r{rid}", rid),
                  f"%t{rid}, %l{rid} = transform.structured.tile_using_forall %r{rid} tile_sizes "
                  f"[{', '.join(map(str, sizes))}] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)",
                  _BUBBLE.format(f"%l{rid}")]
    apply_transform(module, "\n".join(lines), "tcm-tiling")
    run_passes(module, fold, "tcm-tiling")
    for k in range(max(len(prods) for _, prods in groups.values())):
        lines = []
        for rid, (_, prods) in groups.items():
            if k >= len(prods):
                continue
            q = prods[k]
            lines += [_match(f"%r{rid}", rid),
                      f"%l{rid} = transform.get_parent_op %r{rid} {{op_name = \"scf.forall\"}} "
                      f": (!transform.any_op) -> !transform.any_op",
                      _match(f"%p{q}", q),
                      _fuse(f"%f{q}", f"%n{rid}", f"%p{q}", f"%l{rid}"),
                      _BUBBLE.format(f"%n{rid}")]
        apply_transform(module, "\n".join(lines), "tcm-tiling")
        run_passes(module, fold, "tcm-tiling")


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
        if loop is None and _is_fill(op) and "fused_into" in c:
            continue                         # filled in its root's TCM buffer instead (_fill_promoted_inits)
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
    _fill_promoted_inits(module)
    _forward_round_trips(module)
    memspace.hoist_tcm_allocs(module)


def _is_fill(op) -> bool:
    """A linalg.generic that only writes a value from outside its body into its one (output) operand."""
    if op.name != "linalg.generic" or len(op.operands) != 1 or len(op.results):
        return False
    body = list(op.regions[0].blocks[0].operations)
    return len(body) == 1 and len(body[0].operands) == 1 and not (
        isinstance(body[0].operands[0], ir.BlockArgument) and body[0].operands[0].owner == op.regions[0].blocks[0])


def _refs(op, buf) -> bool:
    """Whether `op` or an op nested in it uses a view of `buf`."""
    from ..ir import walk
    if any(memspace.root_buffer(v) == buf for v in op.operands):
        return True
    found = []
    walk(op, lambda o: found.append(o) if any(memspace.root_buffer(v) == buf for v in o.operands) else None)
    return bool(found)


def _fill_promoted_inits(module) -> None:
    """An untiled root's init fill (not promoted: promote's loop) writes its DDR buffer D (a buffer of the
    function's or an argument), which the root's promotion then copies into TCM, and D is next overwritten
    whole (the root's copy-out): fill the TCM buffer instead and drop the copy-in. As promoted, the fill had a TCM buffer of its own, copied out to D
    and back in (3 passes over the output; hvx-contract could not see the int8 matmul's zero init, and the
    fill stayed a byte-wise memset)."""
    for fill in ops_named(module.operation, "linalg.generic"):
        if not _is_fill(fill) or enclosing_loop(fill) is not None or memspace.is_tcm(fill.operands[0].type):
            continue
        buf = memspace.root_buffer(fill.operands[0])
        fresh = getattr(buf.owner, "name", None) == "memref.alloc" or (
            isinstance(buf, ir.BlockArgument) and buf.owner.owner.operation.name == "func.func")
        if not fresh or _elements(fill.operands[0].type) != _elements(buf.type):
            continue
        later = []
        seen = False
        for o in fill.operation.block.operations:
            o = o.operation
            if seen and o.name not in memspace.VIEWS and _refs(o, buf):
                later.append(o)
                if len(later) == 2:
                    break
            seen = seen or o == fill.operation
        if len(later) != 2 or any(o.name != "linalg.copy" for o in later):
            continue
        cin, cout = later
        if memspace.root_buffer(cin.operands[0]) != buf or not memspace.is_tcm(cin.operands[1].type) \
                or memspace.root_buffer(cout.operands[1]) != buf or memspace.root_buffer(cout.operands[0]) == buf \
                or _elements(cout.operands[1].type) != _elements(buf.type) \
                or _elements(cin.operands[1].type) != _elements(buf.type):
            continue
        fill.operation.move_before(cin)
        fill.operands[0] = cin.operands[1]
        cin.erase()


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


_RESHAPES = ("memref.collapse_shape", "memref.expand_shape")


def _reshape_of(v, buf) -> bool:
    """`v` is `buf` or a chain of collapse/expand_shape of it (the same bytes in the same order)."""
    while v != buf and getattr(v.owner, "name", None) in _RESHAPES:
        v = v.owner.operands[0]
    return v == buf


def _whole_view(v):
    """The TCM alloc that `v` views whole (a memref.view at offset 0 of all its bytes), else None."""
    from ..plan import type_bytes
    if getattr(v.owner, "name", None) != "memref.view" or _const_index(v.owner.operands[1]) != 0:
        return None
    a = v.owner.operands[0]
    if getattr(a.owner, "name", None) != "memref.alloc" or not memspace.is_tcm(a.type) \
            or "strided" in str(ir.MemRefType(v.type).layout):
        return None
    nbytes = _elements(v.type) * type_bytes(ir.MemRefType(v.type).element_type)
    return a if nbytes == _elements(a.type) else None


def _const_index(v):
    o = v.owner
    if getattr(o, "name", None) != "arith.constant":
        return None
    return ir.IntegerAttr(o.attributes["value"]).value


def _forward_round_trips(module) -> None:
    """A TCM result copied out whole to a DDR buffer that is only copied back in whole, into another TCM
    buffer (untiled ops each promoted alone: conv-im2col's window copy, then its matmul): the reader views the
    first TCM buffer instead, both copies go (the int8 conv's TCM build copied its 144 KiB window copy out
    and back in, byte by byte one way). Not into a tile loop: double-buffer gives a loop's TCM buffers twins,
    which only the copy-in filled."""
    for cout in ops_named(module.operation, "linalg.copy"):
        if enclosing_loop(cout) is not None:
            continue
        a1 = _whole_view(cout.operands[0])
        d = memspace.root_buffer(cout.operands[1])
        if a1 is None or getattr(d.owner, "name", None) != "memref.alloc" or memspace.is_tcm(d.type) \
                or not _reshape_of(cout.operands[1], d):
            continue
        block = cout.operation.block
        ops = [o.operation for o in block.operations]
        i = next(k for k, o in enumerate(ops) if o == cout.operation)
        # the next op using d: the copy-in
        xi = next((k for k in range(i + 1, len(ops)) if ops[k].name not in memspace.VIEWS and _refs(ops[k], d)),
                  None)
        if xi is None:
            continue
        cin = ops[xi]
        if cin.name != "linalg.copy" or not _reshape_of(cin.operands[0], d):
            continue
        a2 = _whole_view(cin.operands[1])
        elem = ir.MemRefType(cout.operands[0].type).element_type
        if a2 is None or ir.MemRefType(cin.operands[1].type).element_type != elem:
            continue
        users = []
        todo = [d]
        while todo:
            v = todo.pop()
            for u in v.uses:
                o = u.owner
                if o.name in _RESHAPES:
                    todo.append(o.results[0])
                else:
                    users.append(o)
        if any(o != cout.operation and o != cin.operation and o.name != "memref.dealloc" for o in users):
            continue
        a1_deallocs = [o for o in ops[i + 1:] if o.name == "memref.dealloc" and o.operands[0] == a1]
        if any(_refs(o, a1) for o in ops[i + 1:] if o not in a1_deallocs) \
                or any(ops.index(o) > xi for o in a1_deallocs):
            continue                                   # the first buffer is used again after its copy-out
        a2_deallocs = [u.owner for u in a2.uses if u.owner.name == "memref.dealloc"]
        vt = cin.operands[1]
        if a1_deallocs and not a2_deallocs:
            continue                                   # (no later point known to free the first buffer)
        from torch_mlir.dialects import memref
        with ir.InsertionPoint(cin), cin.location:
            nv = memref.view(vt.type, a1, vt.owner.operands[1], [])
        vt.replace_all_uses_with(nv)
        for o in a1_deallocs:                          # freed after its last reader
            o.move_before(a2_deallocs[0])
        cin.erase()
        cout.erase()
        vt.owner.erase()
        if all(u.owner.name == "memref.dealloc" for u in a2.uses):
            for o in a2_deallocs:
                o.erase()
            a2.owner.erase()
