"""Pointers and memory: addptr, load, store, tensor descriptors, pointer bitcasts, pointers as integers.
Which access each pointer form becomes is decided by the pointer analysis (pointers.py)."""
from __future__ import annotations

import re

from ..forms import S, Aff, Desc, MaskB, Ptr, PtrG, PtrT, Splat, shape_of
from ..reader import elem, is_ptr, result_type, shape
from .registry import converts


@converts("tt.addptr")
def addptr(cv, op):
    cv.res(op, cv.addptr(cv.v(op.operands[0]), cv.v(op.operands[1])))


@converts("tt.load")
def load(cv, op):
    rt = result_type(op)
    ops = [cv.v(x) for x in op.operands]
    p = ops[0]
    mask = ops[1] if len(ops) > 1 else None
    other = ops[2] if len(ops) > 2 else None
    em = cv.em
    if isinstance(p, Ptr):                                   # scalar load
        st = cv.storage(p.arg)
        ld = f"memref.load {cv.arg_names[p.arg]}[{em.idx(p.off)}] : memref<?x{st}>"
        if mask is None:
            v = em.op(ld)
        else:
            o = cv.to_st(other.name, rt, st) if other is not None else em.const(0, st)
            v = cv.guarded(mask.name, st, lambda: em.op(ld, "ld"), lambda: o)
        cv.res(op, S(cv.from_storage(v, p.arg), rt))
        return
    shp, et = shape(rt), elem(rt)
    if isinstance(mask, Splat) and mask.s.type == "i1":
        mask = cv.uniform_mask(mask, shp)
    if isinstance(p, PtrT) and (mask is None or isinstance(mask, MaskB)) and (other is None or isinstance(other, Splat)) \
            and et == cv.storage(p.arg):
        cv.res(op, cv.load_block(p, mask, other, shp, et))
        return
    cv.res(op, cv.gather(p, mask, other, shp, et))


@converts("tt.store")
def store(cv, op):
    ops = [cv.v(x) for x in op.operands]
    p, val = ops[0], ops[1]
    mask = ops[2] if len(ops) > 2 else None
    em = cv.em
    if isinstance(p, Ptr):
        cv.wrote(p.arg)
        st = cv.storage(p.arg)
        v = cv.to_st(val.name, val.type, st)
        stv = f"memref.store {v}, {cv.arg_names[p.arg]}[{em.idx(p.off)}] : memref<?x{st}>"
        if mask is None:
            em.emit(stv)
        else:
            em.emit(f"scf.if {mask.name} {{\n{'  ' * em.depth}  {stv}\n{'  ' * em.depth}}}")
        return
    shp = shape_of(p)
    if isinstance(mask, Splat) and mask.s.type == "i1":
        mask = cv.uniform_mask(mask, shp)
    et = cv.elem_type(p.arg)
    if isinstance(p, PtrT) and (mask is None or isinstance(mask, MaskB)) and et == cv.storage(p.arg):
        cv.store_block(p, cv.tensor(val), mask, et)
        return
    cv.scatter(p, val, mask, shp)


# ---- tensor descriptors (triton 3.9's block pointers) ----

@converts("tt.make_tensor_descriptor")
def make_tensor_descriptor(cv, op):
    ops = [cv.v(x) for x in op.operands]
    base = ops[0]
    rank = (len(ops) - 1) // 2
    sizes = [cv.em.to_index(x) for x in ops[1:1 + rank]]
    strides = [cv.em.to_index(x) for x in ops[1 + rank:1 + 2 * rank]]
    block_t = re.search(r"tensor<[^>]*>", result_type(op)).group(0)     # !tt.tensordesc<tensor<...>>
    if not isinstance(base, Ptr):
        cv.unsupported("descriptor base must be a scalar pointer")
    cv.res(op, Desc(base.arg, base.off, sizes, strides, shape(block_t), elem(block_t)))


def _desc_block(cv, d: Desc, idxs):
    """The block at idxs as an affine pointer block and the mask of its in-bounds part."""
    em = cv.em
    offs = [em.to_index(x) for x in idxs]
    base = d.base
    for o, s in zip(offs, d.strides):
        base = em.add(base, em.mul(o, s))
    hi = [em.sub(n, o) for n, o in zip(d.sizes, offs)]
    return PtrT(d.arg, d.block, base, list(d.strides)), MaskB(d.block, [None] * len(d.block), hi)


@converts("tt.descriptor_load")
def descriptor_load(cv, op):
    d = cv.v(op.operands[0])
    p, m = _desc_block(cv, d, [cv.v(x) for x in op.operands[1:]])
    rt = result_type(op)
    cv.res(op, cv.load_block(p, m, None, shape(rt), elem(rt)))


@converts("tt.descriptor_store")
def descriptor_store(cv, op):
    d = cv.v(op.operands[0])
    val = cv.v(op.operands[1])
    p, m = _desc_block(cv, d, [cv.v(x) for x in op.operands[2:]])
    cv.store_block(p, cv.tensor(val), m, d.et)


# ---- bitcasts, pointers as integers ----

@converts("tt.bitcast")
def bitcast(cv, op):
    x = cv.v(op.operands[0])
    rt = result_type(op)
    if is_ptr(rt):
        cv.res(op, cv.pointer_view(x, elem(rt)))
        return
    et, src = elem(rt), elem(str(op.operands[0].type))
    cv.res(op, cv.map_scalar(op, [x], et, lambda v: cv.em.op(f"arith.bitcast {v[0]} : {src} to {et}")))


@converts("tt.ptr_to_int")
def ptr_to_int(cv, op):
    """The address of a pointer (`if weight_ptr:` tests it against 0), or of each pointer of a tensor."""
    p = cv.v(op.operands[0])
    if not isinstance(p, (Ptr, PtrT, PtrG)):
        cv.unsupported("ptr_to_int of this pointer form")
    cv.res(op, cv.address(p, elem(result_type(op))))


@converts("tt.int_to_ptr")
def int_to_ptr(cv, op):
    """An address made from an integer (grouped GEMM loads each problem's addresses from an int64 tensor):
    a pointer into a memref built from that address (see PointerAnalysis.raw_pointer). A tensor of addresses
    (a pointer table read as a block) may point into a different buffer per element: a general pointer
    form whose accesses build each element's memref (PointerAnalysis.raw_tensor_pointer)."""
    x = cv.v(op.operands[0])
    rt = result_type(op)
    if isinstance(x, S):
        cv.res(op, Ptr(cv.raw_pointer(x, elem(rt)), 0))
    elif isinstance(x, Splat):                   # one address for the whole block
        cv.res(op, PtrT(cv.raw_pointer(x.s, elem(rt)), x.shape, 0, [0] * len(x.shape)))
    else:
        cv.res(op, PtrG(cv.raw_tensor_pointer(elem(rt)), shape(rt), 0, [cv.tensor(x) if not isinstance(x, Aff) else x]))
