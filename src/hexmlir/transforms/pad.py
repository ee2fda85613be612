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


def write_in_place(module) -> None:
    """A decomposed pad, `insert_slice %src into %filled`, bufferizes to a memref.copy of %src into the
    filled buffer's interior: a serial strided copy in the kernel's main body that nothing plans, tiles or
    vectorizes (ResNet-18: one per convolution, ~6% of one thread's time, serial at every thread count).
    Where %src is made by an element-wise generic that does not read its init and nothing else reads %src,
    that generic computes into the interior itself (its init becomes `extract_slice %filled`, so it
    bufferizes in place). With other readers of %src the generic gets a second output, the interior, that
    receives the same values. As the interior is then written whole, only the border is filled (slabs
    below and above the interior per dim, not the whole buffer: at 16 channels 64x64 the fill was a
    parallel region of its own). Run after fusion, on tensors. (A kernel argument's pad is still copied, into
    a buffer whose border alone is filled.)"""
    from torch_mlir.dialects import tensor
    for ins in ops_named(module.operation, "tensor.insert_slice"):
        if len(ins.operands) != 2:                                  # dynamic offsets, sizes or strides
            continue
        src, dest = ins.operands[0], ins.operands[1]
        prod, fill = _owner(src), _owner(dest)
        if fill is None or not _is_fill(fill) or fill.block != ins.block or len(list(dest.uses)) != 1 \
                or ir.RankedTensorType(src.type).rank != ir.RankedTensorType(dest.type).rank:
            continue
        slice_attrs = [ins.attributes[a] for a in ("static_offsets", "static_sizes", "static_strides")]
        if prod is None and isinstance(src.owner, ir.Block) and _op(src.owner.owner).name == "func.func":
            # a kernel argument's pad stays a copy, which writes the interior whole: fill the border only
            border = _border_only(fill, slice_attrs, ins)
            if border is not None:
                ins.operands[1] = border
                fill.erase()
            continue
        if prod is None or not _writes_fresh(prod) or prod.block != ins.block:
            continue
        # the fill (and the empty tensor it fills) must come before the producer: move them there
        empty = [o for o in (_owner(v) for v in fill.operands) if o is not None and o.name == "tensor.empty"]
        movers = [o for o in empty + [fill] if o.block == prod.block and not o.is_before_in_block(prod)]
        deps = [_owner(v) for o in movers for v in o.operands]
        if any(d is not None and d.block == prod.block and not any(d == m for m in movers)
               and not d.is_before_in_block(prod) for d in deps):
            continue
        for o in movers:
            o.move_before(prod)
        ins.move_after(prod)
        border = _border_only(fill, slice_attrs, prod)
        if border is not None:                  # the interior is all written below: fill the border only
            ins.operands[1] = border
            fill.erase()
            dest = border
        with ir.InsertionPoint(prod), prod.location:
            init = tensor.ExtractSliceOp(src.type, dest, [], [], [], *slice_attrs).result
        if len(list(src.uses)) == 1:
            prod.operands[len(prod.operands) - 1] = init
        else:
            # others read %src too (a ResNet block's output is also the next block's shortcut): the op
            # stores each value twice, into its own buffer and into the interior (one pass, no copy)
            ins.operands[0] = _second_result(prod, init)


def _border_only(fill, slice_attrs, before):
    """The filled tensor rebuilt in front of `before` with only the part outside the slice filled (slabs:
    per dim, below and above the slice, earlier dims restricted to the slice), or None (a named fill, a
    strided slice). The slice's elements are left undefined: the caller writes all of them."""
    from torch_mlir.dialects import linalg, tensor
    if fill.name != "linalg.generic":
        return None
    offs, sizes, strides = (list(ir.DenseI64ArrayAttr(a)) for a in slice_attrs)
    if any(st != 1 for st in strides):
        return None
    t = ir.RankedTensorType(fill.results[0].type)
    shape = list(t.shape)
    value = list(fill.regions[0].blocks[0].operations)[0].operands[0]
    i64 = lambda xs: ir.DenseI64ArrayAttr.get(xs)  # noqa: E731
    with ir.InsertionPoint(before), before.location:
        acc = fill.operands[0]
        for i in range(len(shape)):
            for lo, ext in ((0, offs[i]), (offs[i] + sizes[i], shape[i] - offs[i] - sizes[i])):
                if ext <= 0:
                    continue
                o = [offs[j] if j < i else 0 for j in range(len(shape))]
                n = [sizes[j] if j < i else shape[j] for j in range(len(shape))]
                o[i], n[i] = lo, ext
                st = ir.RankedTensorType.get(n, t.element_type)
                sl = tensor.ExtractSliceOp(st, acc, [], [], [], i64(o), i64(n), i64([1] * len(n))).result
                g = linalg.GenericOp([st], [], [sl], ir.ArrayAttr.get([ir.AffineMapAttr.get(
                    ir.AffineMap.get_identity(len(n)))]), fill.attributes["iterator_types"])
                b = g.regions[0].blocks.append(t.element_type)
                with ir.InsertionPoint(b):
                    linalg.YieldOp([value])
                acc = tensor.InsertSliceOp(g.result, acc, [], [], [], i64(o), i64(n), i64([1] * len(n))).result
    return acc


def _second_result(g, init):
    """g (one result) rebuilt with a second output, `init`, that receives the same values; g's result
    stays its first. Returns the second result."""
    from torch_mlir.dialects import linalg
    n_in = len(g.operands) - 1
    maps = list(g.attributes["indexing_maps"])
    with ir.InsertionPoint(g), g.location:
        new = linalg.GenericOp([g.results[0].type, init.type], list(g.operands[:n_in]), [g.operands[n_in], init],
                               ir.ArrayAttr.get(maps + [maps[-1]]), g.attributes["iterator_types"])
        for a in g.attributes:
            name = a if isinstance(a, str) else a.name
            if name not in ("indexing_maps", "iterator_types", "operandSegmentSizes"):
                new.attributes[name] = g.attributes[name]
        old = g.regions[0].blocks[0]
        et = [ir.ShapedType(v.type).element_type for v in list(g.operands) + [init]]
        nb = new.regions[0].blocks.append(*et)
    for a, b in zip(old.arguments, list(nb.arguments)[:len(old.arguments)]):
        a.replace_all_uses_with(b)
    ops = [o.operation for o in old.operations]
    for o in ops[:-1]:
        _append(nb, o)
    with ir.InsertionPoint(nb), ops[-1].location:
        v = ops[-1].operands[0]
        linalg.YieldOp([v, v])
    g.results[0].replace_all_uses_with(new.results[0])
    g.erase()
    return new.results[1]


def _append(block, op) -> None:
    """Move op to the end of block (before nothing: a placeholder marks the end)."""
    from torch_mlir.dialects import arith
    with ir.InsertionPoint(block), op.location:
        tmp = arith.ConstantOp(ir.IndexType.get(), 0)
    op.move_before(tmp.operation)
    tmp.operation.erase()


def _op(o):
    return o.operation if hasattr(o, "operation") else o


def _owner(v):
    o = v.owner
    return None if isinstance(o, ir.Block) else _op(o)


def _is_fill(op) -> bool:
    """A linalg.fill, or a generic that only yields a value defined outside it (the generalized fill)."""
    if op.name == "linalg.fill":
        return True
    if op.name != "linalg.generic" or len(op.operands) != 1:
        return False
    ops = list(op.regions[0].blocks[0].operations)
    return len(ops) == 1 and len(ops[0].operands) == 1 and _owner(ops[0].operands[0]) is not None \
        and ops[0].operands[0].owner != op.regions[0].blocks[0]


def _writes_fresh(op) -> bool:
    """An all-parallel generic with one result, written through the identity map, whose init it never
    reads: any init of the right shape gives the same result."""
    if op.name != "linalg.generic" or len(op.results) != 1:
        return False
    if any("reduction" in str(a) for a in op.attributes["iterator_types"]):
        return False
    maps = [ir.AffineMapAttr(a).value for a in op.attributes["indexing_maps"]]
    if not maps[-1].is_permutation or any(ir.AffineDimExpr(e).position != i for i, e in enumerate(maps[-1].results)):
        return False
    out_arg = op.regions[0].blocks[0].arguments[len(op.operands) - 1]
    return not list(out_arg.uses)


# --- after bufferization: border fills that are already in place ---------------------------------------

_VIEW_OPS = {"memref.subview", "memref.expand_shape", "memref.collapse_shape", "memref.cast",
             "memref.reinterpret_cast"}
# ops that only read their memref operands (views are followed to their users instead)
_READ_OPS = {"memref.load", "vector.transfer_read", "vector.load", "memref.dim", "vector.maskedload",
             "memref.extract_strided_metadata", "memref.extract_aligned_pointer_as_index"}
# ops that write exactly one memref operand (its index), and only it
_WRITE_OPS = {"memref.store": 1, "vector.transfer_write": 1, "vector.store": 1, "memref.copy": 1,
              "vector.maskedstore": 1}


def drop_refills(module) -> None:
    """Erase a fill of a buffer region that holds the same value already. Bufferization gives all padded
    tensors of one shape one buffer (their tensor.empty is CSE'd, each pad's insert writes in place), so
    every later pad of that shape fills the same border again (ResNet-18: 12 of 16 border fills per call,
    each a serial strided pass over lines the previous parallel region wrote on other cores, ~40 us at 16
    threads). Walking the function body in order, a fill of (alloc, static box, value) is dropped when the
    same fill came before and nothing in between may have written a box of that alloc that meets it:
    writes are traced through views to their alloc, a view's box is bounded by its parent's (dynamic or
    reshaping views keep the parent box), and an op not known to only read or to write one operand counts
    as writing every memref it is given."""
    from ..ir import funcs
    for f in funcs(module):
        known: list = []                           # [(alloc value, box, fill value)]
        for op in list(f.regions[0].blocks[0].operations):
            op = _op(op)
            fill = _fill_target(op)
            if fill is not None and any(a == fill[0] and b == fill[1] and _same_value(v, fill[2])
                                        for a, b, v in known):
                op.erase()
                continue
            for root, box in _writes(op):
                known = [k for k in known if not (root is None or (k[0] == root and _meets(k[1], box)))]
            if fill is not None:
                known.append(fill)


def _fill_target(op):
    """(alloc, exact box, value) of a memref fill (linalg.fill, or a generic with one output that yields
    a value defined outside) through static unit-stride subviews of an alloc, else None."""
    if op.name == "linalg.fill":
        value, out = op.operands[0], op.operands[1]
    elif op.name == "linalg.generic" and len(op.operands) == 1 and len(op.results) == 0:
        body = list(op.regions[0].blocks[0].operations)
        if len(body) != 1 or len(body[0].operands) != 1 or isinstance(body[0].operands[0].owner, ir.Block) \
                and body[0].operands[0].owner == op.regions[0].blocks[0]:
            return None
        value, out = body[0].operands[0], op.operands[0]
    else:
        return None
    if not isinstance(out.type, ir.MemRefType):
        return None
    root, box, exact = _trace(out)
    return (root, box, value) if root is not None and exact else None


def _same_value(a, b) -> bool:
    if a == b:
        return True
    oa, ob = _owner(a), _owner(b)
    return oa is not None and ob is not None and oa.name == ob.name == "arith.constant" \
        and str(oa.attributes["value"]) == str(ob.attributes["value"]) and str(a.type) == str(b.type)


def _trace(v):
    """(alloc, box, exact) for memref v: the alloc (memref.alloc/alloca) it views, a per-dim [lo, hi)
    box in the alloc's coordinates that holds every element v reaches, and whether v is exactly that box
    (static unit-stride subviews only). (None, None, False) if v does not view an alloc."""
    o = _owner(v)
    if o is None:
        return None, None, False
    if o.name in ("memref.alloc", "memref.alloca"):
        return v, [(0, n) for n in ir.MemRefType(v.type).shape], True
    if o.name not in _VIEW_OPS:
        return None, None, False
    root, box, exact = _trace(o.operands[0])
    if root is None or o.name != "memref.subview" or not exact:
        return root, box, False                    # inside the parent's box, which is all we know
    offs, sizes, strides = (list(ir.DenseI64ArrayAttr(o.attributes[a]))
                            for a in ("static_offsets", "static_sizes", "static_strides"))
    if len(offs) != len(box) or ir.MemRefType(v.type).rank != len(box) \
            or any(ir.ShapedType.is_dynamic_size(x) for x in offs + sizes + strides):
        return root, box, False
    sub = [(lo + off, lo + off + (n - 1) * st + 1) for (lo, _), off, n, st in zip(box, offs, sizes, strides)]
    return root, sub, all(st == 1 for st in strides)


def _meets(a, b) -> bool:
    return all(lo1 < hi2 and lo2 < hi1 for (lo1, hi1), (lo2, hi2) in zip(a, b))


def _writes(op):
    """[(alloc or None, box)] that op (with its regions) may write; None: a memref not traced to an alloc
    was written in a way that could reach any (conservatively: everything is forgotten)."""
    out = []

    def written(v):
        root, box, _ = _trace(v)
        if root is None:
            o = _owner(v)
            # function arguments and other non-alloc buffers cannot alias a fresh alloc
            if isinstance(v.owner, ir.Block) and v.owner.owner.name == "func.func" \
                    or o is not None and o.name not in _VIEW_OPS:
                return
            out.append((None, None))
        else:
            out.append((root, box))

    def visit(o):
        o = _op(o)
        mems = [v for v in o.operands if isinstance(v.type, ir.MemRefType)]
        if mems and o.name not in _VIEW_OPS and o.name not in _READ_OPS:
            if o.name in _WRITE_OPS:
                written(o.operands[_WRITE_OPS[o.name]])
            elif o.name.startswith("linalg.") and "operandSegmentSizes" in o.attributes:
                n_in = list(ir.DenseI32ArrayAttr(o.attributes["operandSegmentSizes"]))[0]
                for v in list(o.operands)[n_in:]:
                    if isinstance(v.type, ir.MemRefType):
                        written(v)
            else:
                for v in mems:
                    written(v)
        for r in o.regions:
            for b in r.blocks:
                for x in b.operations:
                    visit(x)

    visit(op)
    return out


def fill_borders_in_region(module, partial: bool = True) -> None:
    """Move a border fill into the parallel loop that writes the buffer's interior next. Each fill that is
    left (the first of its buffer, drop_refills took the rest) is otherwise a serial pass in the kernel's
    main body between two parallel regions, over cache lines the previous region wrote on other cores.
    Applies when the next scf.forall after the fill writes the interior through one subview per
    iteration that is the whole interior except along the forall's dims (there: tiles that the forall's
    iterations cover exactly), and nothing in between or in the loop otherwise touches the buffer. Along
    each of those dims the fill either spans the interior's range (channels and images, which the padding
    leaves whole; the side columns' rows under a convolution epilogue's row blocks): each iteration fills
    the same tile of it; or lies wholly before or after that range (the border rows above and below row
    blocks): the first or the last iteration along the dim fills it (scf.if). Every element once. A copy
    of a filled buffer into the border (bufferization's form of a fill it did not place in the buffer)
    moves the same way, slicing both sides, if nothing writes its source in between or in the loop.
    `partial` False (targets with TCM, whose tile loops stage what they write): only fills, and only into
    loops whose tiles cover whole dims of the buffer (no row blocks, no scf.if, no copies)."""
    from torch_mlir.dialects import arith, memref, scf
    from ..ir import funcs
    for f in funcs(module):
        ops = [_op(o) for o in f.regions[0].blocks[0].operations]
        moves = []
        for i, op in enumerate(ops):
            fill = _fill_target(op) or (_copy_target(op) if partial else None)
            if fill is None:
                continue
            root = fill[0]
            src = _trace(op.operands[0])[0] if op.name == "memref.copy" else None
            loop = None
            for later in ops[i + 1:]:
                if later.name == "scf.forall":
                    loop = later
                    break
                other = _fill_target(later)
                if later.name not in _VIEW_OPS and later.name not in ("memref.alloc", "arith.constant") \
                        and other is None and _touches(later, root):
                    break
                if other is not None and other[0] == root and _meets(other[1], fill[1]):
                    break
                if src is not None and any(r is None or r == src for r, _ in _writes(later)):
                    break
            if loop is None or (src is not None and _touches(loop, src)):
                continue
            found = _interior_write(loop, root)
            if found is None or _meets(found[1], fill[1]):
                continue                              # (the loop writes what it would fill: an accumulator's init)
            dims, shape = found[0], list(ir.MemRefType(root.type).shape)
            if not partial and any(dims[d][3] != (0, shape[d]) for d in dims):
                continue
            modes = {}
            for d, (_, _, _, (lo, hi)) in dims.items():
                flo, fhi = fill[1][d]
                modes[d] = "tile" if (flo, fhi) == (lo, hi) else "first" if fhi <= lo else "last" if flo >= hi \
                    else None
            if None in modes.values():
                continue
            moves.append((op, loop, dims, modes))
        for op, loop, dims, modes in moves:          # (after the analysis: a moved fill is a use of root)
            dyn = ir.ShapedType.get_dynamic_stride_or_offset()
            body = loop.regions[0].blocks[0]
            term = _op(list(body.operations)[-1])
            ubs = list(ir.DenseI64ArrayAttr(loop.attributes["staticUpperBound"]))
            tiled = [d for d in sorted(dims) if modes[d] == "tile"]

            def tile_of(v):
                """v's tile: along the tiled dims, this iteration's piece (a subview); else v itself."""
                if not tiled:
                    return v
                tt = ir.MemRefType(v.type)
                strides, _ = tt.get_strides_and_offset()
                sizes = [dims[d][2] if d in tiled else n for d, n in enumerate(tt.shape)]
                rt = ir.MemRefType.get(sizes, tt.element_type, layout=ir.StridedLayoutAttr.get(dyn, strides))
                return memref.SubViewOp(rt, v, [dims[d][1] for d in tiled], [], [],
                                        ir.DenseI64ArrayAttr.get([dyn if d in tiled else 0 for d in range(len(sizes))]),
                                        ir.DenseI64ArrayAttr.get(sizes),
                                        ir.DenseI64ArrayAttr.get([1] * len(sizes))).result
            with ir.InsertionPoint(term), op.location:
                cond = None
                for d in sorted(dims):
                    if modes[d] == "tile":
                        continue
                    at = arith.ConstantOp(ir.IndexType.get(), 0 if modes[d] == "first" else ubs[dims[d][0]] - 1)
                    c = arith.CmpIOp(arith.CmpIPredicate.eq, body.arguments[dims[d][0]], at).result
                    cond = c if cond is None else arith.AndIOp(cond, c).result
                where = ir.InsertionPoint(term)
                if cond is not None:
                    branch = scf.IfOp(cond)
                    with ir.InsertionPoint(branch.then_block):
                        scf.YieldOp([])
                    where = ir.InsertionPoint.at_block_terminator(branch.then_block)
                with where:
                    n = len(op.operands)
                    views = [tile_of(op.operands[k]) for k in ((0, 1) if op.name == "memref.copy" else (n - 1,))]
                    new = op.clone()
            if op.name == "memref.copy":
                new.operands[0], new.operands[1] = views
            else:
                new.operands[n - 1] = views[0]
            op.erase()


def _copy_target(op):
    """(alloc, exact box, None) of a memref.copy into an exact box of an alloc from a static buffer of the
    same shape (an alloc, or a view of one), else None."""
    if op.name != "memref.copy":
        return None
    src, dst = op.operands[0], op.operands[1]
    if _trace(src)[0] is None or not ir.MemRefType(src.type).has_static_shape:
        return None
    root, box, exact = _trace(dst)
    return (root, box, None) if root is not None and exact else None


def _views(v, root) -> bool:
    """Whether memref v views the alloc `root`."""
    r = _trace(v)[0]
    return r is not None and r == root


def _touches(op, root) -> bool:
    """Whether op (with its regions) uses a memref that views `root`."""
    if any(isinstance(v.type, ir.MemRefType) and _views(v, root) for v in op.operands):
        return True
    return any(_touches(_op(x), root) for r in op.regions for b in r.blocks for x in b.operations)


def _interior_write(loop, root):
    """({dim d: (forall iv index, offset value, size n, the view's range of root's dim d)}, the view's box)
    when the forall uses `root` only through one subview (directly in its body) of an exact view of root
    that takes, per forall iv, a tile of n along one dim d at offset iv (n = 1) or affine.apply(iv * n), the
    forall's bound times n being the view's extent, and everything along the other dims; else None."""
    body = loop.regions[0].blocks[0]
    ivs = list(body.arguments)
    uses = [_op(x) for x in body.operations if _touches(_op(x), root)]
    if not uses or uses[0].name != "memref.subview":
        return None
    sv = uses[0]
    if any(not _only_through(u, root, sv.result) for u in uses[1:]):
        return None
    base, box, exact = _trace(sv.operands[0])
    if not exact or len(sv.operands) != 1 + len(ivs):
        return None
    offs, sizes, strides = (list(ir.DenseI64ArrayAttr(sv.attributes[a]))
                            for a in ("static_offsets", "static_sizes", "static_strides"))
    shape = list(ir.MemRefType(sv.operands[0].type).shape)
    if len(offs) != len(box) or ir.MemRefType(sv.result.type).rank != len(box) or any(s != 1 for s in strides):
        return None
    ubs = list(ir.DenseI64ArrayAttr(loop.attributes["staticUpperBound"]))
    lbs = list(ir.DenseI64ArrayAttr(loop.attributes["staticLowerBound"]))
    steps = list(ir.DenseI64ArrayAttr(loop.attributes["staticStep"]))
    if any(lbs) or any(s != 1 for s in steps):
        return None
    dims, k = {}, 1
    for d, (o, n) in enumerate(zip(offs, sizes)):
        if ir.ShapedType.is_dynamic_size(o):
            v = sv.operands[k]
            k += 1
            iv, o = v, _owner(v)
            if o is not None and o.name == "affine.apply" and len(o.operands) == 1 \
                    and str(ir.AffineMapAttr(o.attributes["map"]).value) == f"(d0) -> (d0 * {n})":
                iv = o.operands[0]                            # tiles of n along d: offset iv * n
            elif n != 1:
                return None
            j = ir.BlockArgument(iv).arg_number if isinstance(iv.owner, ir.Block) and iv.owner == body else None
            if j is None or ubs[j] * n != box[d][1] - box[d][0] or j in [x[0] for x in dims.values()]:
                return None                                   # the tiles cover the view's range of dim d
            dims[d] = (j, v, n, box[d])
        elif o != 0 or n != shape[d]:
            return None
    return (dims, box) if len(dims) == len(ivs) else None


def _only_through(op, root, view) -> bool:
    """Whether every memref that op (with its regions) uses from `root` is `view` or a view of it."""
    def ok(v):
        while True:
            if v == view:
                return True
            o = _owner(v)
            if o is None or o.name not in _VIEW_OPS:
                return False
            v = o.operands[0]
    for v in op.operands:
        if isinstance(v.type, ir.MemRefType) and _views(v, root) and not ok(v):
            return False
    return all(_only_through(_op(x), root, view) for r in op.regions for b in r.blocks for x in b.operations)
