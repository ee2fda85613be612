"""Vectorization to 128-byte vectors (32 x f32, 64 x f16, 128 x i8).

Each planned op is tiled by its vector tile (innermost loop by the lanes), the innermost tile loop is
peeled so the main loop has a static full-width body, and that body is vectorized with upstream's
structured.vectorize. The peeled remainder (< one vector) stays scalar: tails never read past the end.

On a target with `streaming_store_bytes` (host), a 1-D element-wise loop writing a large function output
stores full vectors non-temporally, its main loop shifted to the output's first vector-aligned element
(the elements before it run through a copy of the scalar remainder loop): `_streaming_stores`. In a pool
thread's body both store forms are emitted and the runtime picks per call (hx_stream_stores: streaming in
loops of at most 4 threads, cached stores in wider ones).

Gathers and scatters (a body that loads memory at computed indices: `memref.load`, `tensor.extract`) stay
scalar loops: no vector form of them is proven here, and LLVM's loop vectorizer may still use its own
masked gathers. Row gathers (embedding lookups: a table's row read along the innermost loop) are the
exception: tiled like any op, their full tiles are written as contiguous vector reads by gather.py.
Their mask blocks, computed by vectorized ops, reach them through memory as a byte per element (lower.py),
as every i1 in memory does.
"""
import numpy as np

from ..ir import apply_transform, funcs, ir, ops_named, run_passes, subview_type
from ..plan import generic_info, config, op_id
from .. import attrs
from .gather import row_gather, vectorize_full_tiles

_TILE_ATTR = attrs.VTILE          # one op's vector tiling (unique per op while the script runs)


def _vector(op) -> list:
    """The op's vector tile from its hexmlir.config (empty: it stays scalar)."""
    return list((config(op) or {}).get("vector", []))


def run(module, cx) -> None:
    seen = set()
    lines = []
    # One tiling per op, not per plan id: copies of an op may differ in shape (the contract stage's peeled
    # remainders), and whether the vector loop needs peeling depends on the copy's extent.
    for n_op, op in enumerate(ops_named(module.operation, "linalg.generic")):
        pid = op_id(op)
        if pid is None:
            continue
        seen.add(pid)
        vec = _vector(op)
        if not vec or (_indirect(op) and not row_gather(op)):
            continue
        op.attributes[_TILE_ATTR] = ir.IntegerAttr.get(ir.IntegerType.get_signless(64), n_op)
        lanes = max(vec)
        vdim = vec.index(lanes)                              # the loop that becomes the vector
        nloops = sum(1 for t in vec if t)
        inner = sum(1 for t in vec[:vdim] if t)              # its position among the tile loops
        pid = n_op                                           # names in the script below
        loops = ", ".join(f"%v{pid}_{k}" for k in range(nloops))
        anys = ", ".join(["!transform.any_op"] * (nloops + 1))
        sizes = ", ".join(map(str, vec))
        lines += [
            f"%g{pid} = transform.structured.match attributes{{{_TILE_ATTR} = {pid}}} in %root : (!transform.any_op) -> !transform.any_op",
            f"%t{pid}, {loops} = transform.structured.tile_using_for %g{pid} tile_sizes [{sizes}] : (!transform.any_op) -> ({anys})",
        ]
        # Peel only when the vectorized loop may have a partial last step (upstream refuses otherwise).
        extent = generic_info(op)[0][vdim]
        if extent is None or extent < 0 or extent % lanes:
            lines += [
                f"%c{pid} = transform.cast %v{pid}_{inner} : !transform.any_op to !transform.op<\"scf.for\">",
                f"%m{pid}, %rem{pid} = transform.loop.peel %c{pid} : (!transform.op<\"scf.for\">) -> (!transform.any_op, !transform.any_op)",
            ]
    if not lines:
        return
    lines += [
        '%fn = transform.structured.match ops{["func.func"]} in %root : (!transform.any_op) -> !transform.any_op',
        "transform.apply_patterns to %fn {\n transform.apply_patterns.canonicalization\n"
        " transform.apply_patterns.linalg.tiling_canonicalization\n} : !transform.any_op",
    ]
    apply_transform(module, "\n".join(lines), "vectorize")
    for op in ops_named(module.operation, "linalg.generic"):
        if _TILE_ATTR in op.attributes:
            del op.attributes[_TILE_ATTR]
    vectorize_full_tiles(module, lambda op: max(_vector(op) or [0]))
    # Vectorize only the ops whose shapes became static (the peeled main loops); the remainders stay scalar.
    for op in ops_named(module.operation, "linalg.generic"):
        pid = op_id(op)
        if pid is not None and _vector(op) and all(_static(v.type) for v in op.operands) \
                and not _indirect(op):
            _fold_unit_windows(op)
            op.attributes[attrs.VECTORIZE] = ir.IntegerAttr.get(ir.IntegerType.get_signless(64), pid)
    # One suppressing sequence per op: an op upstream cannot vectorize (e.g. a multi-result argmax
    # reduction) stays a scalar loop instead of failing the compile.
    lines = []
    for pid in sorted(seen):
        lines += [
            "transform.sequence %root : !transform.any_op failures(suppress) {",
            "^bb0(%r: !transform.any_op):",
            f"  %vv = transform.structured.match attributes{{{attrs.VECTORIZE} = {pid}}} in %r : (!transform.any_op) -> !transform.any_op",
            "  transform.structured.vectorize %vv : !transform.any_op",
            "}",
        ]
    lines += [
        '%fn = transform.structured.match ops{["func.func"]} in %root : (!transform.any_op) -> !transform.any_op',
        "transform.apply_patterns to %fn {\n transform.apply_patterns.canonicalization\n"
        " transform.apply_patterns.vector.transfer_permutation_patterns\n"
        " transform.apply_patterns.vector.lower_contraction lowering_strategy = \"outerproduct\"\n"
        " transform.apply_patterns.vector.lower_outerproduct\n"
        " transform.apply_patterns.vector.reorder_multi_reduction_dims lowering_strategy = \"innerreduction\"\n"
        " transform.apply_patterns.vector.multi_reduction_flattening lowering_strategy = \"innerreduction\"\n"
        " transform.apply_patterns.vector.multi_reduction_unrolling lowering_strategy = \"innerreduction\"\n"
        "} : !transform.any_op",
        "%h = transform.structured.hoist_redundant_vector_transfers %fn : (!transform.any_op) -> !transform.any_op",
    ]
    apply_transform(module, "\n".join(lines), "vectorize")
    run_passes(module, "canonicalize, cse", "vectorize")
    if _hoist_accumulators(module):
        run_passes(module, "canonicalize, cse", "vectorize")
    if _vector_accumulators(module):
        run_passes(module, "canonicalize, cse", "vectorize")
    # Hexagon has its own partial sums, placed for its slots (hvx-accumulators)
    if not cx.target.hvx and _split_accumulators(module):
        run_passes(module, "canonicalize, cse", "vectorize")
    # (not with a scratchpad: the DMA and double-buffer stages that follow know transfer_read, not these)
    if not cx.target.hvx and not cx.target.scratchpad and _strided_reads(module):
        run_passes(module, "canonicalize, cse", "vectorize")
    if cx.target.fma and _halving_minmax(module):
        run_passes(module, "canonicalize, cse", "vectorize")
    if cx.target.streaming_store_bytes and _streaming_stores(module, cx.target):
        run_passes(module, "canonicalize, cse", "vectorize")


def _hoist_accumulators(module) -> int:
    """Keep reduction accumulators in registers: an scf.for whose body reads and writes one vector at the
    same loop-invariant place (a contraction's C tile across the k loop) carries it as an iter_arg instead,
    read once before the loop and written once after. Upstream's hoist_redundant_vector_transfers does the
    same but gives up on our buffers (it cannot prove the TCM views and subviews apart); here the IR comes
    from a tiled linalg op whose output never aliases its inputs, so the only check needed is that nothing
    else in the loop touches the accumulator's view."""
    from torch_mlir.dialects import scf
    n = 0
    for loop in ops_named(module.operation, "scf.for"):
        body = loop.regions[0].blocks[0]
        if len(loop.results):
            continue
        reads = [o for o in body.operations if o.operation.name == "vector.transfer_read"]
        writes = [o for o in body.operations if o.operation.name == "vector.transfer_write"]
        if len(writes) != 1:
            continue
        w = writes[0].operation
        dst = w.operands[1]
        rank = ir.ShapedType(dst.type).rank
        idx = list(w.operands[2:2 + rank])
        mask = list(w.operands[2 + rank:])                    # a masked tile (the contract stage's edges):
        r = next((x.operation for x in reads if len(x.operation.operands) == rank + 2 + len(mask)   # read and
                  and x.operation.operands[0] == dst and list(x.operation.operands[1:rank + 1]) == idx  # written
                  and list(x.operation.operands[rank + 2:]) == mask                                 # under one
                  and x.operation.results[0].type == w.operands[0].type                             # mask
                  and str(x.operation.attributes["permutation_map"]) == str(w.attributes["permutation_map"])),
                 None)
        if r is None or any(_defined_in(v, loop) for v in [dst, *idx, r.operands[rank + 1], *mask]):
            continue
        if any(u.owner not in (r, w) and _defined_in_op(u.owner, loop) for u in dst.uses):
            continue
        r.move_before(loop)
        with ir.InsertionPoint(loop), loop.location:
            new = scf.ForOp(loop.operands[0], loop.operands[1], loop.operands[2], [r.results[0]])
        nb = new.body
        for op in list(body.operations)[:-1]:
            nb.append(op)
        body.arguments[0].replace_all_uses_with(nb.arguments[0])
        for u in list(r.results[0].uses):
            if u.owner != new.operation:
                u.owner.operands[u.operand_number] = nb.arguments[1]
        with ir.InsertionPoint(nb), loop.location:
            scf.YieldOp([w.operands[0]])
        w.move_after(new.operation)
        w.operands[0] = new.results[0]
        loop.erase()
        n += 1
    return n


# vector.reduction kind -> (the lane-wise arith op, its identity: float or int, None = all ones)
_COMBINE = {
    "add": ("arith.addf", "arith.addi", -0.0, 0), "mul": ("arith.mulf", "arith.muli", 1.0, 1),
    "maximumf": ("arith.maximumf", None, float("-inf"), None), "minimumf": ("arith.minimumf", None, float("inf"), None),
    "maxnumf": ("arith.maxnumf", None, float("-inf"), None), "minnumf": ("arith.minnumf", None, float("inf"), None),
    "maxsi": (None, "arith.maxsi", None, "smin"), "minsi": (None, "arith.minsi", None, "smax"),
    "maxui": (None, "arith.maxui", None, 0), "minui": (None, "arith.minui", None, "umax"),
    "and": (None, "arith.andi", None, "umax"), "or": (None, "arith.ori", None, 0), "xor": (None, "arith.xori", None, 0),
}


def _identity_splat(vt, ident):
    """A vector constant of `vt` filled with a combine's identity (_COMBINE: a float, an int, or the name
    of the element type's extreme: "smin", "smax", "umax")."""
    from torch_mlir.dialects import arith
    et = ir.VectorType(vt).element_type
    if isinstance(ident, float):
        attr = ir.FloatAttr.get(et, ident)
    else:
        w = ir.IntegerType(et).width
        attr = ir.IntegerAttr.get(et, {"smin": -(1 << (w - 1)), "smax": (1 << (w - 1)) - 1,
                                       "umax": -1}.get(ident, ident))
    return arith.ConstantOp(vt, ir.DenseElementsAttr.get_splat(vt, attr)).result


def _halving_minmax(module) -> int:
    """`vector.reduction <maxnumf|minnumf>` of a float vector as log2(lanes) halving steps of the lane-wise
    op: x86 has no NaN-ignoring max, so LLVM expands the reduction into a serial chain of scalar
    max + unordered-compare + blend per lane (flash attention's row max); the halving tree gives the same
    result (maxnum ignores NaN in any order) in 4 vector steps for 16 lanes."""
    import re
    n = 0
    for red in ops_named(module.operation, "vector.reduction"):
        kind = re.search(r"<(\w+)>", str(red.attributes["kind"])).group(1)
        vt = ir.VectorType(red.operands[0].type)
        w = vt.shape[0] if vt.rank == 1 else 0
        if kind not in ("maxnumf", "minnumf") or w < 4 or w & (w - 1):
            continue
        op = f"arith.{kind}"
        et = vt.element_type
        with ir.InsertionPoint(red), red.location:
            v = red.operands[0]
            while w > 1:
                w //= 2
                half = ir.VectorType.get([w], et)
                parts = [ir.Operation.create("vector.extract_strided_slice", results=[half], operands=[v], attributes={
                    "offsets": ir.ArrayAttr.get([ir.IntegerAttr.get(ir.IntegerType.get_signless(64), o)]),
                    "sizes": ir.ArrayAttr.get([ir.IntegerAttr.get(ir.IntegerType.get_signless(64), w)]),
                    "strides": ir.ArrayAttr.get([ir.IntegerAttr.get(ir.IntegerType.get_signless(64), 1)])}).result
                    for o in (0, w)]
                v = ir.Operation.create(op, results=[half], operands=parts).result
            r = ir.Operation.create("vector.extract", results=[et], operands=[v],
                                    attributes={"static_position": ir.DenseI64ArrayAttr.get([0])}).result
            if len(red.operands) == 2:
                r = ir.Operation.create(op, results=[et], operands=[r, red.operands[1]]).result
        red.results[0].replace_all_uses_with(r)
        red.erase()
        n += 1
    return n


def _vector_accumulators(module) -> int:
    """A vectorized reduction loop reduces each vector horizontally into a scalar carried across iterations
    (`vector.reduction <kind>, %v, %acc` per step): a chain of dependent horizontal reductions, for `add`
    an in-order sum of every lane. Carry a whole vector instead (lane-wise combine per step, one horizontal
    reduction after the loop), as a hand-written kernel does. Floating-point sums are reassociated (lane-wise
    partial sums), within the fast-math tolerance of the rest of the pipeline."""
    import re
    n = 0
    for loop in ops_named(module.operation, "scf.for"):
        if len(loop.results) != 1:
            continue
        body = loop.regions[0].blocks[0]
        arg = body.arguments[1]
        yld = list(body.operations)[-1]
        uses = list(arg.uses)
        if len(uses) != 1:
            continue
        acc_t = arg.type
        ext = uses[0].owner
        # vector<1xT> (vector<1x1xT> for a reduction over [.., rows, cols]) carried, scalar extracted
        boxed = isinstance(acc_t, ir.VectorType)
        if boxed:
            if set(ir.VectorType(acc_t).shape) != {1} or getattr(ext, "name", "") != "vector.extract" \
                    or len(list(ext.results[0].uses)) != 1:
                continue
            red = list(ext.results[0].uses)[0].owner
        else:
            red = ext
        if getattr(red, "name", "") != "vector.reduction" or len(red.operands) != 2 or red.parent != yld.parent:
            continue
        if red.operands[1] != (ext.results[0] if boxed else arg):
            continue
        out = yld.operands[0]
        bc = out.owner
        if boxed:
            if getattr(bc, "name", "") != "vector.broadcast" or bc.operands[0] != red.results[0] \
                    or len(list(red.results[0].uses)) != 1 or len(list(bc.results[0].uses)) != 1:
                continue
        elif out != red.results[0] or len(list(red.results[0].uses)) != 1:
            continue
        kind = re.search(r"<(\w+)>", str(red.attributes["kind"])).group(1)
        vec = red.operands[0]
        vt = ir.VectorType(vec.type)
        et = vt.element_type
        is_float = isinstance(et, (ir.F16Type, ir.F32Type, ir.F64Type, ir.BF16Type))
        spec = _COMBINE.get(kind)
        if spec is None or vt.rank != 1 or (spec[0] if is_float else spec[1]) is None:
            continue
        combine = spec[0] if is_float else spec[1]
        ident = spec[2] if is_float else spec[3]
        with ir.InsertionPoint(loop), loop.location:
            init = _identity_splat(vec.type, ident)
            from torch_mlir.dialects import scf
            new = scf.ForOp(loop.operands[0], loop.operands[1], loop.operands[2], [init])
        nb = new.body
        for op in list(body.operations)[:-1]:
            nb.append(op)
        body.arguments[0].replace_all_uses_with(nb.arguments[0])
        with ir.InsertionPoint(red), red.location:
            c = ir.Operation.create(combine, results=[vec.type], operands=[vec, nb.arguments[1]]).result
        with ir.InsertionPoint(nb), loop.location:
            scf.YieldOp([c])
        with ir.InsertionPoint.after(new.operation), loop.location:
            acc0 = loop.operands[3]
            if boxed:
                acc0 = ir.Operation.create("vector.extract", results=[et], operands=[acc0],
                                           attributes={"static_position": ir.DenseI64ArrayAttr.get(
                                               [0] * ir.VectorType(acc_t).rank)}).result
            attrs = {"kind": red.attributes["kind"]}
            if is_float and kind in ("add", "mul"):
                # the lanes are partial sums already: a shuffle tree, not an in-order chain over the lanes
                attrs["fastmath"] = ir.Attribute.parse("#arith.fastmath<reassoc>")
            elif "fastmath" in red.attributes:
                attrs["fastmath"] = red.attributes["fastmath"]
            r = ir.Operation.create("vector.reduction", results=[et], operands=[new.results[0], acc0],
                                    attributes=attrs).result
            if boxed:
                r = ir.Operation.create("vector.broadcast", results=[acc_t], operands=[r]).result
        loop.results[0].replace_all_uses_with(r)
        # erase through the Python handles we hold (an op erased with its parent leaves a dangling handle)
        yld.erase()
        if boxed:
            bc.erase()
        red.erase()
        if boxed:
            ext.erase()
        loop.erase()
        n += 1
    return n


ACCUMULATORS = 4     # independent partial vectors: covers an FMA/add latency of 4 at one issue per cycle


def _split_accumulators(module) -> int:
    """A loop carrying one vector accumulator (`c = combine(v, acc)`, from _vector_accumulators) is one
    dependency chain: each step waits for the previous combine (4 cycles for vaddps), so a row sum runs at a
    quarter of the adder's throughput. Unroll it by K with K independent accumulators, combined after the
    loop (K = 4, else 2, dividing the static trip count; loops with nested regions are left alone)."""
    from torch_mlir.dialects import arith, scf
    combines = {spec[i] for spec in _COMBINE.values() for i in (0, 1) if spec[i]}
    n = 0
    for loop in ops_named(module.operation, "scf.for"):
        # 1-D accumulators only: a contraction's 2-D C tile is register-blocked already (MR x NR chains)
        if len(loop.results) != 1 or not isinstance(loop.results[0].type, ir.VectorType) \
                or ir.VectorType(loop.results[0].type).rank != 1:
            continue
        lb, ub, st = (_const_index(v) for v in loop.operands[:3])
        if None in (lb, ub, st) or st <= 0:
            continue
        trips = (ub - lb) // st
        k = next((k for k in (ACCUMULATORS, 2) if trips % k == 0 and trips >= 2 * k), None)
        body = loop.regions[0].blocks[0]
        ops = list(body.operations)
        yld, acc = ops[-1], body.arguments[1]
        comb = yld.operands[0].owner
        if k is None or isinstance(comb, ir.Block) or comb.name not in combines or len(list(acc.uses)) != 1 \
                or any(o.regions for o in ops) or len(list(comb.results[0].uses)) != 1:
            continue
        x = comb.operands[0] if comb.operands[1] == acc else comb.operands[1]
        if comb.operands[0] != acc and comb.operands[1] != acc:
            continue
        vt = loop.results[0].type
        ident = next((sp[2] if i == 0 else sp[3] for sp in _COMBINE.values() for i in (0, 1)
                      if sp[i] == comb.name), None)
        if ident is None:
            continue
        with ir.InsertionPoint(loop), loop.location:
            idx = ir.IndexType.get()
            step = arith.ConstantOp(idx, st * k).result
            # the first accumulator starts from the loop's init (a C tile, a running value), the others
            # from the combine's identity
            unit = _identity_splat(vt, ident)
            new = scf.ForOp(loop.operands[0], loop.operands[1], step, [loop.operands[3]] + [unit] * (k - 1))
        nb = new.body
        with ir.InsertionPoint(nb), loop.location:
            parts = []
            for j in range(k):
                iv = nb.arguments[0]
                if j:
                    iv = arith.AddIOp(iv, arith.ConstantOp(idx, st * j).result).result
                vmap = {body.arguments[0]: iv}
                for o in ops[:-1]:
                    if o == comb:
                        continue
                    c = o.operation.clone()
                    for i, v in enumerate(c.operands):
                        if v in vmap:
                            c.operands[i] = vmap[v]
                    for r0, r1 in zip(o.results, c.results):
                        vmap[r0] = r1
                parts.append(ir.Operation.create(comb.name, results=[vt],
                                                 operands=[vmap.get(x, x), nb.arguments[1 + j]]).result)
            scf.YieldOp(parts)
        with ir.InsertionPoint.after(new.operation), loop.location:
            rs = list(new.results)
            while len(rs) > 1:                # a pairwise tree: (r0 + r1) + (r2 + r3)
                rs = [ir.Operation.create(comb.name, results=[vt], operands=[rs[i], rs[i + 1]]).result
                      for i in range(0, len(rs), 2)]
        loop.results[0].replace_all_uses_with(rs[0])
        loop.erase()
        n += 1
    return n


def _const_index(v):
    op = v.owner
    if isinstance(op, ir.Block) or getattr(op, "name", "") != "arith.constant":
        return None
    a = op.attributes["value"]
    return ir.IntegerAttr(a).value if isinstance(a, ir.IntegerAttr) else None


def _func_arg_root(v):
    """(function argument, element offset Value) for `memref.subview %arg[%off] [...] [1]` of a 1-D
    identity-layout argument, else None."""
    op = v.owner
    if isinstance(op, ir.Block) or getattr(op, "name", "") != "memref.subview":
        return None
    src = op.operands[0]
    if not isinstance(src.owner, ir.Block) or src.owner.owner is None \
            or src.owner.owner.operation.name != "func.func":
        return None
    t = ir.MemRefType(src.type)
    if t.rank != 1 or not t.has_static_shape or str(t.layout) != "affine_map<(d0) -> (d0)>":
        return None
    offs = [o for o in op.operands[1:] if isinstance(o.type, ir.IndexType)]
    if str(op.attributes["static_offsets"]) != "array<i64: -9223372036854775808>" or len(offs) < 1:
        return None
    return src, offs[0]


def _streaming_stores(module, target) -> int:
    """Streaming outputs bypass the cache: in a 1-D element-wise loop whose output (a function argument of
    at least Target.streaming_store_bytes) is written once and not read back, the full-vector stores become
    non-temporal (no read-for-ownership of lines that are overwritten whole: a third less memory traffic
    for c = a + b). Non-temporal vector stores must be aligned, and numpy's buffers are not (16 bytes past
    a 64-byte line), so the main loop is shifted to start at the first aligned element; the elements
    before it run through a copy of the scalar remainder loop. Inside a pool thread's body the store is
    an scf.if on the runtime's hx_stream_stores() (see STREAM_QUERY) with a plain aligned store as the
    other branch; LLVM unswitches the loop on it."""
    from torch_mlir.dialects import arith, func, scf
    vb = target.vector_bytes
    n_done = 0
    for l1 in ops_named(module.operation, "scf.for"):
        if len(l1.results) or _const_index(l1.operands[0]) != 0:
            continue
        lanes = _const_index(l1.operands[2])
        block_ops = list(l1.operation.block.operations)
        i = next(k for k, o in enumerate(block_ops) if o.operation == l1.operation)
        l2 = block_ops[i + 1].operation if i + 1 < len(block_ops) else None
        if l2 is None or l2.name != "scf.for" or l2.operands[0] != l1.operands[1] \
                or _const_index(l2.operands[2]) != lanes:
            continue
        body = l1.regions[0].blocks[0]
        iv = body.arguments[0]
        writes = [o.operation for o in body.operations if o.operation.name == "vector.transfer_write"]
        if len(writes) != 1 or any(o.operation.name in ("scf.for", "scf.if") for o in body.operations):
            continue
        w = writes[0]
        vt = w.operands[0].type
        if not isinstance(vt, ir.VectorType):
            continue
        vt = ir.VectorType(vt)
        ebytes = vt.element_type.width // 8 if hasattr(vt.element_type, "width") else 0
        if vt.rank != 1 or vt.shape[0] != lanes or lanes * ebytes != vb or ebytes not in (1, 2, 4, 8):
            continue
        sub = w.operands[1].owner                        # subview %P[%iv] [lanes] [1]
        if isinstance(sub, ir.Block) or sub.name != "memref.subview" or len(w.operands) != 3 \
                or _const_index(w.operands[2]) != 0:
            continue
        P = sub.operands[0]
        if len(sub.operands) != 2 or sub.operands[1] != iv:
            continue
        root = _func_arg_root(P)                         # P: the tile's slice of a function argument
        if root is None:
            continue
        arg, off = root
        at = ir.MemRefType(arg.type)
        if at.shape[0] * ebytes < target.streaming_store_bytes:
            continue
        # the output must not be read in the loop (an in-place update would read lines we bypass)
        if any(o.operation.name == "vector.transfer_read" and o.operation.operands[0].owner is not None
               and getattr(o.operation.operands[0].owner, "name", "") == "memref.subview"
               and o.operation.operands[0].owner.operands[0] == P for o in body.operations):
            continue
        n = l2.operands[1]
        idx = ir.IndexType.get()
        with ir.InsertionPoint(l1), l1.location:
            def c(v):
                return arith.ConstantOp(idx, ir.IntegerAttr.get(idx, v)).result
            ptr = ir.Operation.create("memref.extract_aligned_pointer_as_index", results=[idx],
                                      operands=[arg]).result
            addr = arith.AddIOp(ptr, arith.MulIOp(off, c(ebytes)).result).result
            head = arith.AndIOp(arith.SubIOp(c(0), addr).result, c(vb - 1)).result
            head = arith.DivUIOp(head, c(ebytes)).result
            head = arith.MinUIOp(head, n).result
            rest = arith.SubIOp(n, head).result
            ub = arith.AddIOp(head, arith.MulIOp(arith.DivUIOp(rest, c(lanes)).result, c(lanes)).result).result
            pre = l2.clone()                              # the unaligned head: a copy of the remainder loop
        c0 = l1.operands[0]

        def swap(op):
            for k, v in enumerate(op.operands):
                if v == n:
                    op.operands[k] = head
            return ir.WalkResult.ADVANCE
        pre.walk(swap)                                   # its trip: [0, head) instead of [.., n)
        pre.operands[0] = c0
        l1.operands[0] = head
        l1.operands[1] = ub
        l2.operands[0] = ub
        stream = None                                   # i1: stream in this call (pool threads only)
        if _in_thread_body(l1.operation):
            _declare_stream_query(module)
            with ir.InsertionPoint(pre), l1.location:
                q = func.CallOp([ir.IntegerType.get_signless(32)], ir.FlatSymbolRefAttr.get(STREAM_QUERY), [])
                zero = arith.ConstantOp(ir.IntegerType.get_signless(32), 0).result
                stream = arith.CmpIOp(arith.CmpIPredicate.ne, q.result, zero).result

        def store(nontemporal):
            a = {"alignment": ir.IntegerAttr.get(ir.IntegerType.get_signless(64), vb)}
            if nontemporal:
                a["nontemporal"] = ir.BoolAttr.get(True)
            ir.Operation.create("vector.store", operands=[w.operands[0], P, iv], attributes=a)
        with ir.InsertionPoint(w), w.location:
            if stream is None:
                store(True)
            else:                                       # a loop-invariant branch: LLVM unswitches it
                branch = scf.IfOp(stream, has_else=True)
                for block, nontemporal in ((branch.then_block, True), (branch.else_block, False)):
                    with ir.InsertionPoint(block):
                        store(nontemporal)
                        scf.YieldOp([])
        w.erase()
        n_done += 1
    return n_done


# The runtime's answer, per call of a pool thread's body: whether the running loop has few enough threads
# that streaming pays (hexmlir_rt.c hx_stream_stores: a lone core is bound by read-for-ownership, many cores
# by memory bandwidth, where a cached output stays in the last-level cache for its consumer). A kernel that
# runs on the calling thread alone streams unconditionally (it ships no runtime to ask).
STREAM_QUERY = "hx_stream_stores"


def _in_thread_body(op) -> bool:
    while op is not None and op.name != "func.func":
        op = op.parent
    return op is not None and attrs.THREAD_BODY in op.attributes


def _declare_stream_query(module) -> None:
    from torch_mlir.dialects import func
    if any(ir.StringAttr(f.attributes["sym_name"]).value == STREAM_QUERY for f in funcs(module)):
        return
    with ir.InsertionPoint.at_block_begin(module.body), ir.Location.unknown():
        func.FuncOp(STREAM_QUERY, ir.FunctionType.get([], [ir.IntegerType.get_signless(32)]), visibility="private")


def _fold_unit_windows(op) -> None:
    """A tiled window copy (conv-im2col's `(d0, d1 + d3, d2 + d4)`) keeps its window map, which upstream's
    vectorizer refuses (not a projected permutation); with its unit-extent loops set to 0 the map becomes
    one (`(0, 0, d4)`), so the copy is vectorized along its contiguous dim instead of left scalar."""
    maps = [ir.AffineMapAttr(a).value for a in op.attributes["indexing_maps"]]
    if all(m.is_projected_permutation for m in maps):
        return
    ext = generic_info(op)[0]
    if any(e is None or e < 0 for e in ext):
        return
    n = maps[0].n_dims
    sub = ir.AffineMap.get(n, 0, [ir.AffineConstantExpr.get(0) if ext[d] == 1 else ir.AffineDimExpr.get(d)
                                  for d in range(n)])
    # only the windowed maps: the plain ones still give the loop ranges (the verifier needs them)
    new = [m if m.is_projected_permutation else ir.AffineMap.get(n, 0, [e.compose(sub) for e in m.results])
           for m in maps]
    for i, m in enumerate(new[:len(op.operands) - len(op.results)]):
        if not m.is_projected_permutation:
            new[i] = _strided_operand(op, i, m, ext)
    if all(all(isinstance(e, ir.AffineDimExpr) or (isinstance(e, ir.AffineConstantExpr) and e.value == 0)
               for e in m.results) for m in new):
        op.attributes["indexing_maps"] = ir.ArrayAttr.get([ir.AffineMapAttr.get(m) for m in new])


def _strided_operand(op, i, m, ext):
    """A folded window map with strided results (`d4 * 2`: a stride-2 convolution's window copy): input `i`
    becomes a subview with that stride (and unit extent where the result is 0), its map `d4`, so the copy
    is vectorized too (the strided read then becomes a masked contiguous load + shuffle, _strided_reads).
    Returns the new map, or `m` unchanged where a result is anything else."""
    from torch_mlir.dialects import memref
    v = op.operands[i]
    if not isinstance(v.type, ir.MemRefType):
        return m
    res, sizes, strides = [], [], []
    for e in m.results:
        if isinstance(e, ir.AffineConstantExpr) and e.value == 0:
            res.append(e), sizes.append(1), strides.append(1)
        elif isinstance(e, ir.AffineDimExpr):
            res.append(e), sizes.append(ext[e.position]), strides.append(1)
        elif isinstance(e, ir.AffineMulExpr) and isinstance(e.lhs, ir.AffineDimExpr) \
                and isinstance(e.rhs, ir.AffineConstantExpr) and e.rhs.value >= 2:
            res.append(e.lhs), sizes.append(ext[e.lhs.position]), strides.append(e.rhs.value)
        else:
            return m
    shape = list(ir.MemRefType(v.type).shape)
    if any(s < 0 or st * (n - 1) + 1 > s for s, n, st in zip(shape, sizes, strides)):
        return m                                           # (a dynamic or too short operand: leave it)
    with ir.InsertionPoint(op), op.location:
        op.operands[i] = memref.subview(v, [0] * len(shape), sizes, strides,
                                        result_type=subview_type(ir.MemRefType(v.type), sizes, strides))
    return ir.AffineMap.get(m.n_dims, 0, res)


def _defined_in(v, loop) -> bool:
    owner = v.owner
    op = owner.operation if hasattr(owner, "operation") else owner.owner   # a block argument: its block's op
    return _defined_in_op(op, loop)


def _defined_in_op(op, loop) -> bool:
    from ..ir import inside
    return inside(op, loop) and op != loop


def _indirect(op) -> bool:
    """The generic's body reads memory at computed indices (a gather)."""
    found = []
    from ..ir import walk
    walk(op, lambda o: found.append(o.name) if o.name in ("memref.load", "tensor.extract") else None)
    return bool(found)


def _static(t) -> bool:
    if isinstance(t, ir.MemRefType):
        return ir.ShapedType(t).has_static_shape
    return True


MAX_READ_STRIDE = 4     # a strided vector read becomes one contiguous read of stride x lanes + a shuffle


def _strided_reads(module) -> int:
    """A vector read along a dim of static stride 2..MAX_READ_STRIDE (a stride-2 pooling window's slices,
    a stride-2 convolution's window copy), which LLVM lowers to one scalar load and insert per lane, becomes
    a masked load of the contiguous span (the lanes past its last element off, so nothing past the original
    read is touched) and a shuffle that keeps every stride-th lane."""
    from torch_mlir.dialects import arith, memref, vector
    dyn = ir.ShapedType.get_dynamic_stride_or_offset()
    n_done = 0
    for rd in ops_named(module.operation, "vector.transfer_read"):
        src, vt = rd.operands[0], ir.VectorType(rd.results[0].type)
        if not isinstance(src.type, ir.MemRefType) or len(rd.operands) != 2 + ir.MemRefType(src.type).rank:
            continue                                        # a mask operand
        mt = ir.MemRefType(src.type)
        if mt.rank == 0 or vt.rank == 0:
            continue
        strides, _ = mt.get_strides_and_offset()
        c, lanes = strides[-1], vt.shape[-1]
        if not 2 <= c <= MAX_READ_STRIDE or any(s != 1 for s in vt.shape[:-1]) or lanes < 2 \
                or not mt.has_static_shape or mt.shape[-1] < 1:
            continue
        pmap = ir.AffineMapAttr(rd.attributes["permutation_map"]).value
        in_b = [bool(ir.BoolAttr(a).value) for a in ir.ArrayAttr(rd.attributes["in_bounds"])]
        if pmap != ir.AffineMap.get_minor_identity(mt.rank, vt.rank) or not in_b[-1]:
            continue
        with ir.InsertionPoint(rd), rd.location:
            meta = memref.ExtractStridedMetadataOp(src)
            base, off = meta.results[0], meta.results[1]
            mstrides = list(meta.results[2 + mt.rank:])
            shape = list(mt.shape)
            shape[-1] = c * (shape[-1] - 1) + 1              # the span from the first to the last element
            st = list(strides[:-1]) + [1]
            dyn_strides = [mstrides[i] for i, s in enumerate(st) if s == dyn]
            layout = ir.StridedLayoutAttr.get(dyn, st)
            view_t = ir.MemRefType.get(shape, mt.element_type, layout, mt.memory_space)
            view = memref.ReinterpretCastOp(view_t, base, [off], [], dyn_strides, [dyn], shape, st).result
            idx = list(rd.operands[1:1 + mt.rank])
            cst = arith.ConstantOp(ir.IndexType.get(), c).result
            idx[-1] = arith.MulIOp(idx[-1], cst).result
            # lanes past the span masked off (a constant mask: the original read is in bounds)
            wide_t = ir.VectorType.get([c * lanes], vt.element_type)
            mask_t = ir.VectorType.get([c * lanes], ir.IntegerType.get_signless(1))
            mask = arith.ConstantOp(mask_t, ir.DenseElementsAttr.get(
                np.array([j <= c * (lanes - 1) for j in range(c * lanes)], dtype=np.bool_), type=mask_t)).result
            pad = vector.BroadcastOp(wide_t, rd.operands[1 + mt.rank]).result
            wide = vector.MaskedLoadOp(wide_t, view, idx, mask, pad).result
            picked = vector.ShuffleOp(wide, wide, [c * j for j in range(lanes)]).result
            out = vector.ShapeCastOp(vt, picked).result if vt.rank > 1 else picked
        rd.results[0].replace_all_uses_with(out)
        rd.erase()
        n_done += 1
    return n_done
