"""Bufferization: tensors -> memrefs (upstream one-shot-bufferize), function results -> out-params.

Arguments: a kernel writes only the arguments a result is computed into (destination-passing style: a
result's chain of destination operands, views and loop inits leads back to the argument); every other
argument is `bufferization.writable = false`, so bufferization copies it before writing (torch-mlir's
convolution accumulates into its bias, which canonicalize may fold to the bias argument itself). The
signature lists those arguments as `writes`; the artifact runs on copies of them.

Results: a result whose buffer is an argument (written in place, or returned unchanged) maps to that
argument; a result that repeats an earlier one maps to the same place (the artifact returns a copy); every
other result becomes the next trailing out-parameter. `signature["results"]` is result -> argument index.
"""
from ..ir import funcs, run_passes
from .symbols import user_name

WRITABLE_ATTR = "bufferization.writable"


def run(module, cx) -> None:
    f = funcs(module)[0]
    n_in = len(f.regions[0].blocks[0].arguments)
    writes = _destination_args(f)
    _set_writable(f, writes)
    run_passes(module, "eliminate-empty-tensors, one-shot-bufferize{bufferize-function-boundaries "
                       "function-boundary-type-conversion=identity-layout-map}, canonicalize, cse",
               "bufferize")
    f = funcs(module)[0]
    results = _map_results(f)
    # buffer-results-to-out-params{hoist-static-allocs} crashes on a value returned twice (upstream bug):
    # _map_results has already returned each remaining buffer once.
    run_passes(module, "buffer-results-to-out-params{modify-public-functions hoist-static-allocs}, "
                       "canonicalize, cse", "bufferize")
    nxt = n_in
    for r, a in enumerate(results):
        if a is None:
            results[r] = nxt
            nxt += 1
        elif a < 0:                          # a repeat of result -a - 1
            results[r] = results[-a - 1]
    f = funcs(module)[0]
    _clear_writable(f)
    cx.signature = {
        "name": user_name(str(f.attributes["sym_name"]).strip('"')),
        "args": [_spec(a.type, "in" if i < n_in else "out") for i, a in enumerate(f.regions[0].blocks[0].arguments)],
        "results": results,
        "writes": sorted(writes),
    }
    _drop_self_copies(module)
    from .pad import drop_refills, fill_borders_in_region
    drop_refills(module)                     # padded buffers of one shape share one buffer: fill it once
    fill_borders_in_region(module, partial=not cx.target.scratchpad)   # and fill it in the parallel loop
                                                                        # that writes its interior
    _reshaped_results_in_place(module)       # after: a padded result in the shared buffer is seen as shared
    # Free DDR intermediates (unfused kernels allocate them per call); runs before TCM promotion,
    # whose own alloc/dealloc pairs this pipeline would reject.
    run_passes(module, "buffer-deallocation-pipeline, canonicalize", "bufferize")


# Ops whose tensor result is a view of operand 0, or is written into operand k (its destination).
_VIEWS = {"tensor.expand_shape", "tensor.collapse_shape", "tensor.cast", "tensor.extract_slice", "tensor.reshape",
          "tensor.bitcast"}
_DEST = {"tensor.insert_slice": 1, "tensor.insert": 1, "tensor.parallel_insert_slice": 1,
         "bufferization.materialize_in_destination": 1, "vector.transfer_write": 1}
# Ops whose tensor result is a new buffer.
_FRESH = {"tensor.empty", "arith.constant", "bufferization.alloc_tensor", "tensor.generate", "tensor.from_elements",
          "tensor.splat", "tensor.pad", "tensor.concat"}


def _destination_args(f) -> set[int]:
    """Indices of the arguments some result may be computed into: each returned tensor is followed back
    through destination operands, views, loop inits and yields. Unknown ops are followed through all their
    tensor operands: a larger set only costs the artifact a copy, a smaller one would let a kernel write
    an input."""
    from torch_mlir import ir
    block = f.regions[0].blocks[0]
    ret = block.operations[len(block.operations) - 1]
    out, seen = set(), set()
    todo = list(ret.operands)

    def yields(op, i):
        for reg in op.regions:
            for b in reg.blocks:
                t = b.operations[len(b.operations) - 1]
                if i < len(t.operands):
                    todo.append(t.operands[i])

    while todo:
        v = todo.pop()
        if v in seen or not isinstance(v.type, ir.RankedTensorType):
            continue
        seen.add(v)
        if isinstance(v.owner, ir.Block):
            owner, k = v.owner.owner, ir.BlockArgument(v).arg_number
            if owner == f:
                out.add(k)
            elif owner.name == "scf.for" and k >= 1:
                todo.append(owner.operands[3 + k - 1])
            elif owner.name == "scf.forall":
                n_out = len(owner.results)
                todo.append(owner.operands[len(owner.operands) - n_out + k - (len(v.owner.arguments) - n_out)])
            else:
                todo.extend(owner.operands)
            continue
        op, i = v.owner, ir.OpResult(v).result_number
        name, ops = op.name, list(op.operands)
        if name in _FRESH:
            continue
        if name in _VIEWS:
            todo.append(ops[0])
        elif name in _DEST:
            todo.append(ops[_DEST[name]])
        elif name.startswith("linalg."):
            todo.append(ops[len(ops) - len(op.results) + i])
        elif name == "scf.for":
            todo.append(ops[3 + i])
            yields(op, i)
        elif name == "scf.forall":
            todo.append(ops[len(ops) - len(op.results) + i])
        elif name == "scf.if":
            yields(op, i)
        else:
            todo.extend(ops)
    return out


def _set_writable(f, writable: set[int]) -> None:
    """Mark every tensor argument outside `writable` read-only for one-shot bufferization."""
    from torch_mlir import ir
    args = f.regions[0].blocks[0].arguments
    old = list(ir.ArrayAttr(f.attributes["arg_attrs"])) if "arg_attrs" in f.attributes else []
    new = []
    for i, a in enumerate(args):
        d = {n.name: n.attr for n in ir.DictAttr(old[i])} if i < len(old) else {}
        if isinstance(a.type, ir.RankedTensorType) and i not in writable:
            d[WRITABLE_ATTR] = ir.BoolAttr.get(False)
        new.append(ir.DictAttr.get(d))
    f.attributes["arg_attrs"] = ir.ArrayAttr.get(new)


def _clear_writable(f) -> None:
    from torch_mlir import ir
    if "arg_attrs" not in f.attributes:
        return
    new = [ir.DictAttr.get({n.name: n.attr for n in ir.DictAttr(d) if n.name != WRITABLE_ATTR})
           for d in ir.ArrayAttr(f.attributes["arg_attrs"])]
    f.attributes["arg_attrs"] = ir.ArrayAttr.get(new)


def _map_results(f) -> list:
    """After one-shot bufferization: result r -> argument index when its buffer is argument r, -(q + 1)
    when it repeats result q, None when it needs an out-parameter. Only the None results stay returned."""
    from torch_mlir import ir
    from torch_mlir.dialects import func
    block = f.regions[0].blocks[0]
    args = list(block.arguments)
    ret = block.operations[len(block.operations) - 1]
    vals = list(ret.operands)
    mapping, kept = [], []
    for r, v in enumerate(vals):
        if v in args:
            mapping.append(args.index(v))
        elif v in vals[:r]:
            mapping.append(-(vals.index(v) + 1))
        else:
            mapping.append(None)
            kept.append(v)
    if len(kept) != len(vals):
        with ir.InsertionPoint(ret), ret.location:
            func.ReturnOp(kept)
        ret.erase()
        ftype = ir.FunctionType(ir.TypeAttr(f.attributes["function_type"]).value)
        f.attributes["function_type"] = ir.TypeAttr.get(
            ir.FunctionType.get(ftype.inputs, [v.type for v in kept]))
    return mapping


def _drop_self_copies(module) -> None:
    """Bufferizing parallel_insert_slice can leave `memref.copy %a, %a`; it is a no-op."""
    from ..ir import ops_named
    for op in ops_named(module.operation, "memref.copy"):
        if op.operands[0] == op.operands[1]:
            op.erase()


def _reshaped_results_in_place(module) -> None:
    """`memref.copy reshape(%buf), %out` with %buf a fresh buffer and %out an out-parameter used by nothing
    else: %buf becomes the inverse reshape of %out and the copy goes. buffer-results-to-out-params only
    writes in place a result that is an alloc, not a view of one (conv-im2col's matmul computes into the
    collapsed output and returns its expand_shape: a whole copy of the output per call)."""
    from torch_mlir import ir
    from torch_mlir.dialects import memref
    from ..ir import ops_named
    for cp in ops_named(module.operation, "memref.copy"):
        src, out = cp.operands[0], cp.operands[1]
        view = src.owner
        if getattr(view, "name", None) != "memref.expand_shape" or not isinstance(out, ir.BlockArgument) \
                or len(list(out.uses)) != 1 or out.owner.owner.operation.name != "func.func":
            continue
        buf = view.operands[0]
        alloc = buf.owner
        if getattr(alloc, "name", None) != "memref.alloc" or alloc.operands or len(list(src.uses)) != 1 \
                or ir.MemRefType(out.type).layout != ir.MemRefType(src.type).layout \
                or "strided" in str(ir.MemRefType(buf.type).layout):
            continue
        with ir.InsertionPoint(alloc), alloc.location:
            flat = memref.CollapseShapeOp(buf.type, out, view.attributes["reassociation"]).result
        cp.erase()
        view.erase()
        buf.replace_all_uses_with(flat)
        alloc.erase()


_DTYPES = {"f32": "float32", "f16": "float16", "f64": "float64", "bf16": "bfloat16", "i1": "bool",
           "i8": "int8", "i16": "int16", "i32": "int32", "i64": "int64"}


def _spec(t, role: str) -> dict:
    from torch_mlir import ir
    st = ir.ShapedType(t)
    return {"shape": list(st.shape), "dtype": _DTYPES[str(st.element_type)], "role": role}


def run_grid(module, cx) -> None:
    """Grid kernels (Triton): arguments are already memrefs and scalars; bufferize the program bodies,
    record the launch signature (pointers, scalars, then the three grid sizes) and free intermediates."""
    _carry_in_place(module)
    run_passes(module, "one-shot-bufferize{bufferize-function-boundaries allow-return-allocs-from-loops "
                       "function-boundary-type-conversion=identity-layout-map}, canonicalize, cse", "bufferize")
    _drop_self_copies(module)
    _fill_only_tails(module)
    from torch_mlir import ir
    f = funcs(module)[0]
    args = list(f.regions[0].blocks[0].arguments)
    specs = []
    for i, a in enumerate(args):
        if isinstance(a.type, ir.MemRefType):
            specs.append({"shape": [-1], "dtype": _DTYPES[str(ir.ShapedType(a.type).element_type)], "role": "ptr"})
        else:
            specs.append({"shape": [], "dtype": _DTYPES[str(a.type)], "role": "grid" if i >= len(args) - 3 else "scalar"})
    cx.signature = {"name": user_name(str(f.attributes["sym_name"]).strip('"')), "args": specs, "results": []}
    run_passes(module, "buffer-deallocation-pipeline, canonicalize", "bufferize")
    if not (cx.options.tcm_tiling and cx.target.scratchpad):      # blocks are read where they are (no TCM)
        _read_full_blocks_in_place(module)


def _carry_in_place(module) -> None:
    """Loop-carried tensors (online softmax's running max and sum, flash attention's accumulator) keep one
    buffer across iterations, so bufferization allocates nothing per iteration:

    - where the yielded value's destination chain (DPS inits back from the yield) starts at a fresh tensor
      written by a parallel generic that reads the carried value element for element (same map as its
      output) or not at all, and nothing after that generic reads the carried value, the generic writes
      into the carried tensor instead (`acc * alpha` then `acc += P V` both land in the accumulator);
    - otherwise (the old value is still read after the new one is computed: the running max feeds
      `exp2(m_old - m_new)`), the new value is copied into the carried tensor just before the yield; its own
      buffer is then freed in the iteration, which hoist-buffers moves out of the loop.

    (Elementwise fusion replaces unused inits by fresh ones, hence this late fix-up.)"""
    from torch_mlir import ir
    from torch_mlir.dialects import linalg
    from ..ir import ops_named
    for y in ops_named(module.operation, "scf.yield"):
        loop = y.parent
        if loop.name != "scf.for":
            continue
        body = loop.regions[0].blocks[0]
        for i, v in enumerate(list(y.operands)):
            if not isinstance(v.type, ir.RankedTensorType):
                continue
            arg = body.arguments[1 + i]
            chain, root = _dest_chain(v, loop)
            if root == arg:
                continue
            if chain and getattr(root.owner, "name", "") == "tensor.empty":
                g, k = chain[-1]
                if _writes_over(g, k, arg) and not _read_after(arg, g, body):
                    g.operands[k] = arg
                    continue
            if not ir.RankedTensorType(v.type).has_static_shape or not chain:
                continue
            with ir.InsertionPoint(y), y.location:
                c = linalg.copy(v, outs=[arg])
            y.operands[i] = c


def _dest_chain(v, loop):
    """[(op, init operand index)] from `v` back through the destination operands of linalg ops inside
    `loop`'s body, and the value the chain ends at."""
    from torch_mlir import ir
    chain = []
    while not isinstance(v.owner, ir.Block):
        op = v.owner
        if not op.name.startswith("linalg.") or op.parent != loop:
            break
        k = len(op.operands) - len(op.results) + ir.OpResult(v).result_number
        chain.append((op, k))
        v = op.operands[k]
    return chain, v


def _writes_over(g, k, arg) -> bool:
    """`g` (a linalg.generic, init operand k) may compute into `arg`'s buffer: all loops parallel and `arg`
    read, if at all, at the element it writes."""
    from torch_mlir import ir
    if g.name != "linalg.generic" or any("parallel" not in str(t) for t in g.attributes["iterator_types"]):
        return False
    maps = [ir.AffineMapAttr(a).value for a in g.attributes["indexing_maps"]]
    return all(maps[j] == maps[k] for j, o in enumerate(g.operands) if o == arg and j != k)


def _read_after(arg, g, body) -> bool:
    """Whether an op after `g` in `body` (or nested in one) uses `arg`."""
    order = {op: n for n, op in enumerate(body.operations)}

    def top(op):
        while op.parent is not None and op.parent != body.owner:
            op = op.parent
        return op

    at = order[top(g)]
    return any(order.get(top(u.owner), -1) > at for u in arg.uses if u.owner != g)


_PURE_BETWEEN = ("arith.", "memref.subview", "memref.reinterpret_cast", "memref.dim", "memref.cast")


def _fill_only_tails(module) -> None:
    """A masked block load (`tl.load(mask=rows < n, other=0)`) is a fill of the whole buffer, then a copy into
    its leading part: the fill matters only where that part is smaller than the buffer (the last block),
    so it moves under `scf.if` (some copied extent < the buffer's) just before the copy. Flash attention
    filled its K and V blocks every iteration."""
    from torch_mlir import ir
    from torch_mlir.dialects import arith, memref, scf
    from ..ir import ops_named
    for copy in ops_named(module.operation, "memref.copy"):
        sv = copy.operands[1].owner
        if isinstance(sv, ir.Block) or sv.name != "memref.subview":
            continue
        buf = sv.operands[0]
        if any(x != 0 for x in ir.DenseI64ArrayAttr(sv.attributes["static_offsets"])):
            continue
        fill = _fill_before(copy, buf)
        if fill is None or _base(copy.operands[0]) == _base(buf):
            continue                                   # (a copy out of the filled buffer reads the fill)
        full = ir.MemRefType(buf.type).shape
        part = ir.MemRefType(sv.results[0].type).shape
        dyn = [i for i, n in enumerate(part) if n == ir.ShapedType.get_dynamic_size()]
        if not dyn or any(part[i] != full[i] for i in range(len(full)) if i not in dyn):
            continue
        with ir.InsertionPoint(copy), copy.location:
            idx = ir.IndexType.get()
            short = None
            for i in dyn:
                n = memref.DimOp(sv.results[0], arith.ConstantOp(idx, i).result).result
                c = arith.CmpIOp(arith.CmpIPredicate.ult, n, arith.ConstantOp(idx, full[i]).result).result
                short = c if short is None else arith.OrIOp(short, c).result
            branch = scf.IfOp(short)
            with ir.InsertionPoint(branch.then_block):
                end = scf.YieldOp([])
        fill.move_before(end)


def _fill_before(copy, buf):
    """The op filling all of `buf` with a scalar that precedes `copy` in its block with only index arithmetic
    and views in between, else None."""
    from torch_mlir import ir
    op = copy.operation
    while True:
        op = _prev(op)
        if op is None:
            return None
        name = op.name
        if name.startswith(_PURE_BETWEEN):
            continue
        if name in ("linalg.fill", "linalg.generic") and len(op.operands) == 2 and op.operands[1] == buf \
                and not isinstance(op.operands[0].type, (ir.MemRefType, ir.RankedTensorType)) and not op.results:
            if name == "linalg.generic":
                body = op.regions[0].blocks[0]
                y = body.operations[len(body.operations) - 1]
                if len(body.operations) != 1 or y.operands[0] != body.arguments[0]:
                    return None
            return op
        return None


def _prev(op):
    """The op before `op` in its block, or None."""
    prev = None
    for o in op.block.operations:
        if o.operation == op:
            return prev
        prev = o.operation
    return None


_NO_WRITES = ("arith.", "math.", "memref.alloc", "memref.subview", "memref.cast", "memref.reinterpret_cast", "memref.dim",
              "memref.load", "memref.extract_strided_metadata", "memref.dealloc", "linalg.yield", "linalg.index",
              "scf.yield", "scf.if", "scf.for", "vector.transfer_read", "vector.load", "tensor.")


def _read_full_blocks_in_place(module) -> None:
    """A block load copied into a local buffer (`scf.if partial {fill}; memref.copy view -> buffer`, see
    _fill_only_tails) whose buffer is only read afterwards is read from the source itself when the block is
    whole: the copy moves under the same `scf.if`, and the readers take `select(partial, buffer, source
    view)`. Flash attention copied each V block (and its Q block) before using it. Kept only where the
    source cannot change while the buffer is read (every write in between goes to a local buffer) and the
    source rows are contiguous (unit inner stride: K^T's transposed view keeps its transposing copy)."""
    from torch_mlir import ir
    from torch_mlir.dialects import arith, memref
    from ..ir import ops_named
    for copy in ops_named(module.operation, "memref.copy"):
        src, dst = copy.operands[0].owner, copy.operands[1].owner
        if any(isinstance(o, ir.Block) or o.name != "memref.subview" for o in (src, dst)):
            continue
        full, buf = src.operands[0], dst.operands[0]
        guard = _prev(copy.operation)
        if guard is None or guard.name != "scf.if" or getattr(buf.owner, "name", "") != "memref.alloc" \
                or not isinstance(_base(full).owner, ir.Block):
            continue                                   # (the source must be a kernel argument: writes to
                                                       # local buffers are what the window allows)
        then = guard.regions[0].blocks[0]
        inner = [o.operation for o in then.operations]
        if len(inner) != 2 or len(inner[0].operands) != 2 or inner[0].operands[1] != buf:
            continue                                   # not _fill_only_tails' guard of this buffer
        ft, bt = ir.MemRefType(full.type), ir.MemRefType(buf.type)
        if ft.shape != bt.shape or ft.element_type != bt.element_type or ft.memory_space is not None \
                or bt.memory_space is not None or ft.get_strides_and_offset()[0][-1] != 1:
            continue
        later = _uses_after(buf, copy.operation)
        if later is None or not _only_local_writes(copy.operation, later):
            continue
        copy.operation.move_before(inner[1])
        with ir.InsertionPoint(guard.operation.block.operations[_index(guard.operation) + 1]), copy.location:
            cast = memref.CastOp(full.type, buf).result
            sel = arith.SelectOp(guard.operands[0], cast, full).result
        for op, k in later:
            op.operands[k] = sel


def _opn(op):
    return op.operation if hasattr(op, "operation") else op


def _index(op) -> int:
    for n, o in enumerate(op.block.operations):
        if o.operation == op:
            return n
    raise ValueError(op)


def _uses_after(buf, copy):
    """[(op, operand index)] of `buf`'s uses after `copy` in its block (nested ones included) if all are
    reads by linalg ops (inputs) or its dealloc; None otherwise (or if a use precedes the copy other than
    the fill and the copy)."""
    block = copy.block
    at = _index(copy)
    out = []
    for u in buf.uses:
        op = _opn(u.owner)
        top = op
        while top.block != block:
            top = _opn(top.parent)
        if _index(top) <= at and op.name != "memref.dealloc":
            if op == copy or op.name in ("linalg.generic", "linalg.fill") and top.name == "scf.if":
                continue                                      # the guarded fill, the copy's subview
            if op.name == "memref.subview" and all(x.owner == copy for x in op.results[0].uses):
                continue
            return None
        if op.name == "memref.dealloc":
            continue
        if not op.name.startswith("linalg.") or "operandSegmentSizes" not in op.attributes:
            return None
        n_in = ir_ints(op.attributes["operandSegmentSizes"])[0]
        if u.operand_number >= n_in:
            return None
        out.append((op, u.operand_number))
    return out or None


def ir_ints(attr) -> list:
    from torch_mlir import ir
    return list(ir.DenseI32ArrayAttr(attr))


def _base(v):
    """The buffer under `v`'s views."""
    from .memspace import VIEWS
    while getattr(v.owner, "name", None) in VIEWS:
        v = v.owner.operands[0]
    return v


def _local(v) -> bool:
    return getattr(_base(v).owner, "name", None) in ("memref.alloc", "memref.alloca")


def _only_local_writes(copy, later) -> bool:
    """Whether every op from `copy` to the last of `later` (nested ops included) writes only local
    buffers."""
    block = copy.block
    last = 0
    for op, _ in later:
        while op.block != block:
            op = _opn(op.parent)
        last = max(last, _index(op))
    ok = [True]

    def check(op):
        name = op.name
        if name.startswith(_NO_WRITES):
            return
        if name.startswith("linalg.") and "operandSegmentSizes" in op.attributes:
            n_in = ir_ints(op.attributes["operandSegmentSizes"])[0]
            if all(_local(o) for o in list(op.operands)[n_in:]):
                return
        elif name == "memref.copy" and _local(op.operands[1]):
            return
        elif name == "memref.store" and _local(op.operands[1]):
            return
        ok[0] = False

    from ..ir import walk
    for o in list(block.operations)[_index(copy) + 1:last + 1]:
        check(o.operation)
        walk(o.operation, check)
    return ok[0]
