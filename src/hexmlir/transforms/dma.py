"""DMA insertion: TCM buffers come from the runtime's TCM pool and DDR <-> TCM copies become DMA.

Each `linalg.copy` with exactly one side in memory space 1 becomes
`%t = hx_dma_start_2d(dst, src, row_bytes, rows, dst_stride, src_stride)` + `hx_dma_wait(%t)`:
1-D tiles are one row; 2-D tiles (rows out of a wider matrix) use the strided descriptor. Waiting right
away makes the transfer synchronous; the double-buffering pass moves the waits. Each static TCM
`memref.alloc` becomes `hx_tcm_buffer(bytes)` (and its dealloc `hx_tcm_release`), so buffers live in the
runtime's TCM arena and show up in its high-water statistics.
"""
from __future__ import annotations

from torch_mlir import ir
from torch_mlir.dialects import arith, func, memref

from ..ir import elements, ops_named
from ..plan import type_bytes
from . import memspace
from .. import attrs

START, WAIT, BUFFER, RELEASE = "hx_dma_start_2d", "hx_dma_wait", "hx_tcm_buffer", "hx_tcm_release"
DIR_ATTR, DDR_ATTR = attrs.DMA_DIR, attrs.DMA_DDR


def _declare(module) -> None:
    idx = ir.IndexType.get()
    buf = ir.MemRefType.get([ir.ShapedType.get_dynamic_size()], ir.IntegerType.get_signless(8),
                            memory_space=ir.IntegerAttr.get(ir.IntegerType.get_signless(64), 1))
    have = {str(op.attributes["sym_name"]).strip('"') for op in module.body.operations
            if op.operation.name == "func.func"}
    with ir.InsertionPoint(module.body):
        for name, t in ((START, ir.FunctionType.get([idx] * 6, [idx])), (WAIT, ir.FunctionType.get([idx], [])),
                        (BUFFER, ir.FunctionType.get([idx], [buf])), (RELEASE, ir.FunctionType.get([buf], []))):
            if name not in have:
                f = func.FuncOp(name, t, visibility="private")
                if name in (BUFFER, RELEASE):
                    f.attributes["llvm.emit_c_interface"] = ir.UnitAttr.get()


def _address(v, eb, idx):
    """(byte address of v's first element, [sizes], [strides]) of a strided memref value."""
    md = memref.ExtractStridedMetadataOp(v)
    rank = ir.MemRefType(v.type).rank
    base, off = md.results[0], md.results[1]
    sizes, strides = list(md.results[2:2 + rank]), list(md.results[2 + rank:])
    ptr = memref.extract_aligned_pointer_as_index(base)
    addr = arith.addi(ptr, arith.muli(off, arith.constant(idx, eb)))
    return addr, sizes, strides


def _contiguous_inner(t) -> bool:
    strides, _ = ir.MemRefType(t).get_strides_and_offset()
    return strides[-1] == 1


def _row_major(t) -> bool:
    """Static shape, each stride the product of the sizes inside it (a contiguous block)."""
    mt = ir.MemRefType(t)
    if not mt.has_static_shape:
        return False
    strides, _ = mt.get_strides_and_offset()
    want = 1
    for n, st in zip(reversed(mt.shape), reversed(strides)):
        if st != want:
            return False
        want *= n
    return True


def _flat_type(t):
    """The 1-D memref type of a contiguous block (its offset kept)."""
    mt = ir.MemRefType(t)
    _, off = mt.get_strides_and_offset()
    layout = None if off == 0 else ir.StridedLayoutAttr.get(off, [1])
    return ir.MemRefType.get([elements(t)], mt.element_type, layout, mt.memory_space)


def run(module, cx) -> int:
    idx = ir.IndexType.get()
    rewritten = 0
    copies = [op for op in ops_named(module.operation, "linalg.copy")
              if memspace.is_tcm(op.operands[0].type) != memspace.is_tcm(op.operands[1].type)]
    allocs = [op for op in ops_named(module.operation, "memref.alloc")
              if memspace.is_tcm(op.results[0].type) and not op.operands]
    if not copies and not allocs:
        return 0
    _declare(module)
    for op in copies:
        src, dst = op.operands[0], op.operands[1]
        t = ir.MemRefType(src.type)
        if t.rank > 2 and _row_major(src.type) and _row_major(dst.type):
            # a whole contiguous block of more dims (an untiled op's result, the int8 conv's F x OH x OW) as
            # one row; it stayed a copy loop
            flat = ir.ArrayAttr.get([ir.ArrayAttr.get([ir.IntegerAttr.get(ir.IntegerType.get_signless(64), d)
                                                       for d in range(t.rank)])])
            with ir.InsertionPoint(op):
                src, dst = (memref.collapse_shape(_flat_type(v.type), v, flat) for v in (src, dst))
            t = ir.MemRefType(src.type)
        if t.rank not in (1, 2) or not (_contiguous_inner(src.type) and _contiguous_inner(dst.type)):
            continue                               # stays a copy loop (correct, not DMA)
        eb = type_bytes(t.element_type)
        with ir.InsertionPoint(op):
            s_addr, sizes, s_strides = _address(src, eb, idx)
            d_addr, _, d_strides = _address(dst, eb, idx)
            c_eb = arith.constant(idx, eb)
            row_bytes = arith.muli(sizes[-1], c_eb)
            if t.rank == 1:
                rows, d_st, s_st = arith.constant(idx, 1), row_bytes, row_bytes
            else:
                rows = sizes[0]
                d_st, s_st = arith.muli(d_strides[0], c_eb), arith.muli(s_strides[0], c_eb)
            tok = func.CallOp([idx], ir.FlatSymbolRefAttr.get(START), [d_addr, s_addr, row_bytes, rows, d_st, s_st])
            # what double buffering needs to know: direction, and which DDR buffer the tile belongs to
            tok.attributes[DIR_ATTR] = ir.StringAttr.get("in" if memspace.is_tcm(dst.type) else "out")
            ddr = memspace.root_buffer(src if memspace.is_tcm(dst.type) else dst)
            tok.attributes[DDR_ATTR] = ir.StringAttr.get(ddr.get_name() if hasattr(ddr, "get_name") else "?")
            func.CallOp([], ir.FlatSymbolRefAttr.get(WAIT), [tok.result])
        op.erase()
        rewritten += 1
    buf_t = ir.MemRefType.get([ir.ShapedType.get_dynamic_size()], ir.IntegerType.get_signless(8),
                              memory_space=ir.IntegerAttr.get(ir.IntegerType.get_signless(64), 1))
    for a in allocs:
        mt = ir.MemRefType(a.results[0].type)
        byte_buf = str(mt.element_type) == "i8" and mt.rank == 1
        if not byte_buf and "strided" in str(mt.layout):
            continue
        nbytes = type_bytes(mt.element_type)
        for n in mt.shape:
            nbytes *= n
        with ir.InsertionPoint(a):
            call = func.CallOp([buf_t], ir.FlatSymbolRefAttr.get(BUFFER), [arith.constant(idx, max(nbytes, 1))])
            # typed buffers (grid kernels' program blocks) view the pool's bytes
            val = call.result if byte_buf else memref.view(mt, call.result, arith.constant(idx, 0), [])
        for use in list(a.results[0].uses):
            user = use.owner
            if user.name == "memref.dealloc":
                with ir.InsertionPoint(user):
                    func.CallOp([], ir.FlatSymbolRefAttr.get(RELEASE), [call.result])
                user.erase()
            else:
                user.operands[use.operand_number] = val
        a.erase()
    cx.uses_runtime = True
    return rewritten


def tcm_usage(module) -> dict:
    """TCM the generated code takes, from its static `hx_tcm_buffer` sizes (after double buffering):
    per function the peak of live buffers in program order (rounded like the pool), times the threads that
    run it at once (outlined per-thread functions: the `threads` of their tile loops' configs). Checks the
    plan's model."""
    from ..plan import pool_bytes, config
    from .threads import BODY_ATTR, LOOP_ATTR
    out = {}
    for f in module.body.operations:
        f = f.operation
        if f.name != "func.func" or not f.regions[0].blocks:
            continue
        live = peak = 0
        sizes = {}
        roots, threads_of = [], {}

        def visit(op):
            nonlocal live, peak
            if op.name == "scf.for" and LOOP_ATTR in op.attributes:
                roots.append(ir.IntegerAttr(op.attributes[LOOP_ATTR]).value)
                c = config(op)
                if c is not None and "threads" in c:
                    threads_of[roots[-1]] = c["threads"]
            if op.name != "func.call":
                return
            callee = ir.FlatSymbolRefAttr(op.attributes["callee"]).value
            if callee == BUFFER:
                c = op.operands[0].owner
                n = ir.IntegerAttr(c.attributes["value"]).value if getattr(c, "name", "") == "arith.constant" else 0
                sizes[op.results[0]] = pool_bytes(n)
                live += sizes[op.results[0]]
                peak = max(peak, live)
            elif callee == RELEASE and op.operands[0] in sizes:
                live -= sizes[op.operands[0]]

        from ..ir import walk
        walk(f, visit)
        if not peak:
            continue
        name = str(f.attributes["sym_name"]).strip('"')
        threads = 1
        if BODY_ATTR in f.attributes and any(r in threads_of for r in roots):
            threads = max(threads_of[r] for r in roots if r in threads_of)
        out[name] = {"per_thread": peak, "threads": threads, "total": peak * threads, "roots": roots}
    return out
