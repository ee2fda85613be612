"""Merge consecutive independent parallel regions into one (host targets: one fork/join instead of several).

After the threads stage each threaded tile loop is a call `@__hx_parallel_<f>_parK(captures..., n)` that runs
the outlined body `@<f>_parK(captures..., chunk)` for chunks 0..n-1 on the pool and joins. Calls that follow
one another in a function's body, with only view and scalar ops between them, and that touch no memory one
of them writes, become one call of a new body that dispatches chunk c to the region it falls in:

    @<f>_parM(caps1..., caps2..., c): c < n1 ? @<f>_parK1(caps1..., c) : @<f>_parK2(caps2..., c - n1)

so the pool hands out all their chunks at once (causal attention's row segments: 8 regions of 16 chunks per
layer, each a fork/join of a few microseconds of work, became one). Each body keeps its own chunk -> tile
mapping; nothing inside a region changes.

Independence is proved, not assumed: a region's written memory is traced inside its body (stores, copies,
linalg outputs; anything unrecognized counts as written) back to its captures, and each capture outside to
its allocation or argument. Distinct allocations never alias; an allocation never aliases an argument, nor
does an output parameter (the artifact makes them fresh; `Kernel.run` refuses one that overlaps another
argument); two other arguments may (a caller may pass one array twice); two views of one value alias unless
both are static unit-stride subviews whose boxes are disjoint. Targets with a scratchpad do not run it
(`Target.shared_chunks`): there a chunk is a thread with its own TCM set.
"""
from __future__ import annotations

from torch_mlir import ir
from torch_mlir.dialects import arith, func, scf

from ..ir import defining_op, funcs, ops_named, walk
from .threads import BODY_ATTR, LAUNCH_PREFIX

_VIEWS = {"memref.subview", "memref.collapse_shape", "memref.expand_shape", "memref.cast",
          "memref.reinterpret_cast", "memref.view", "memref.transpose"}
# ops that may sit between two merged calls (moved before the first): no memory effects on anything a region
# reads (a fresh allocation is not read before the region that writes it)
_BETWEEN = _VIEWS | {"memref.alloc", "memref.alloca", "ub.poison"}
# memory ops that only read their memref operands
_ALLOCS = ("memref.alloc", "memref.alloca")
_READS = {"memref.load", "vector.load", "vector.transfer_read", "vector.maskedload", "vector.gather",
          "memref.dim", "memref.extract_strided_metadata", "memref.extract_aligned_pointer_as_index",
          "affine.load"} | _VIEWS


def run(module, cx) -> None:
    bodies = {str(f.attributes["sym_name"]).strip('"'): f for f in funcs(module)}
    specs = (getattr(cx, "signature", None) or {}).get("args", [])
    merged = 0
    for f in list(bodies.values()):
        if "sym_visibility" in f.attributes or not f.regions[0].blocks:
            continue
        fname = str(f.attributes["sym_name"]).strip('"')
        args = list(f.regions[0].blocks[0].arguments)
        fresh = {args[i] for i, a in enumerate(specs) if a.get("role") == "out" and i < len(args)}
        for group in _groups(f.regions[0].blocks[0], bodies, fresh):
            _merge(group, module, f"{fname}_parM{merged}")
            merged += 1
    if merged:
        _drop_unused_launchers(module)


def _callee(op) -> str | None:
    if op.name != "func.call":
        return None
    name = str(op.attributes["callee"]).lstrip("@")
    return name if name.startswith(LAUNCH_PREFIX) else None


def _count(call) -> int | None:
    o = defining_op(call.operands[len(call.operands) - 1])
    return ir.IntegerAttr(o.attributes["value"]).value if o is not None and o.name == "arith.constant" else None


def _groups(block, bodies, fresh) -> list[list]:
    """Runs of (call, its region) that may merge, with their in-between ops moved before the run: each call
    independent of every one before it."""
    out, cur, between = [], [], []

    def close():
        if len(cur) > 1:
            out.append(list(cur))
        cur.clear()
        between.clear()

    for op in block.operations:
        op = op.operation
        name = _callee(op)
        if name is not None:
            info = _region(op, bodies)
            if info is not None and cur and all(_independent(info, other, fresh) for _, other in cur):
                for b in between:                   # view/scalar ops the call reads: computed before the group
                    b.move_before(cur[0][0])
                between.clear()
                cur.append((op, info))
                continue
            close()
            if info is not None:
                cur.append((op, info))
            continue
        if cur and (op.name in _BETWEEN or op.name.startswith("arith.")):
            between.append(op)
            continue
        close()
    close()
    return out


def _region(call, bodies):
    """(body, captures, chunk count, written captures) of a launch call, or None when it cannot merge."""
    body = bodies.get(_callee(call)[len(LAUNCH_PREFIX):])
    n = _count(call)
    written = _written_args(body) if body is not None and n is not None else None
    if written is None:
        return None
    caps = list(call.operands)[:-1]
    return body, caps, n, [caps[i] for i in written if isinstance(caps[i].type, ir.MemRefType)]


def _written_args(body) -> set[int] | None:
    """Indices of the body's arguments whose memory it writes; None when a write's target is untraceable."""
    args = list(body.regions[0].blocks[0].arguments)
    out = set()

    def target(v):
        while True:
            o = defining_op(v)
            if o is None:
                return ("arg", args.index(v)) if v in args else ("other", None)
            if o.name in _VIEWS:
                v = o.operands[0]
                continue
            return ("local", None) if o.name in _ALLOCS else ("other", None)

    ops = []
    walk(body, ops.append)
    for op in ops:
        mem = [v for v in op.operands if isinstance(v.type, ir.MemRefType)]
        if not mem or op.name in _READS:
            continue
        if op.name.startswith("linalg.") and "operandSegmentSizes" in op.attributes:
            n_in = list(ir.DenseI32ArrayAttr(op.attributes["operandSegmentSizes"]))[0]
            mem = [v for v in list(op.operands)[n_in:] if isinstance(v.type, ir.MemRefType)]
        elif op.name in ("memref.copy", "linalg.copy"):
            mem = [op.operands[1]]
        for v in mem:
            kind, i = target(v)
            if kind == "other":
                return None
            if kind == "arg":
                out.add(i)
    return out


def _root(v):
    """(the allocation or argument under v's views, v's static unit-stride box over its source or None)."""
    box = None
    o = defining_op(v)
    if o is not None and o.name == "memref.subview":
        offs = list(ir.DenseI64ArrayAttr(o.attributes["static_offsets"]))
        sizes = list(ir.DenseI64ArrayAttr(o.attributes["static_sizes"]))
        strides = list(ir.DenseI64ArrayAttr(o.attributes["static_strides"]))
        dyn = ir.ShapedType.get_dynamic_size()
        if len(o.operands) == 1 and all(s == 1 for s in strides) and dyn not in offs + sizes:
            box = (o.operands[0], offs, sizes)
    while defining_op(v) is not None and defining_op(v).name in _VIEWS:
        v = defining_op(v).operands[0]
    return v, box


def _may_alias(a, b, fresh) -> bool:
    (ra, ba), (rb, bb) = _root(a), _root(b)
    alone = lambda r: r in fresh or getattr(defining_op(r), "name", None) in _ALLOCS     # noqa: E731
    if ra != rb:
        return not (alone(ra) or alone(rb))       # two input arguments may be one array
    if ba is None or bb is None or ba[0] != bb[0]:
        return True
    return all(oa < ob + sb and ob < oa + sa for oa, sa, ob, sb in zip(ba[1], ba[2], bb[1], bb[2]))


def _independent(r1, r2, fresh) -> bool:
    (_, caps1, _, w1), (_, caps2, _, w2) = r1, r2
    mem = lambda caps: [c for c in caps if isinstance(c.type, ir.MemRefType)]  # noqa: E731
    return not any(_may_alias(w, c, fresh) for w in w1 for c in mem(caps2)) and \
        not any(_may_alias(w, c, fresh) for w in w2 for c in mem(caps1))


def _merge(group, module, name) -> None:
    """One launch of a new body `name` in place of the group's calls."""
    idx = ir.IndexType.get()
    calls, parts = [c for c, _ in group], [r[:3] for _, r in group]
    caps = [v for _, cs, _ in parts for v in cs]
    types = [v.type for v in caps] + [idx]
    with ir.InsertionPoint(module.body), calls[0].location:
        fn = func.FuncOp(name, ir.FunctionType.get(types, []), visibility="private")
        fn.attributes[BODY_ATTR] = ir.UnitAttr.get()
        launch = func.FuncOp(LAUNCH_PREFIX + name, ir.FunctionType.get(types, []), visibility="private")
    entry = fn.add_entry_block()
    with ir.InsertionPoint(entry), calls[0].location:
        _dispatch(parts, list(entry.arguments)[:-1], entry.arguments[len(types) - 1], 0)
        func.ReturnOp([])
    with ir.InsertionPoint(calls[0]), calls[0].location:
        total = arith.constant(idx, sum(n for _, _, n in parts))
        func.CallOp([], ir.FlatSymbolRefAttr.get(launch.name.value), caps + [total])
    for c in calls:
        c.erase()


def _dispatch(parts, args, chunk, off) -> None:
    """At the insertion point: chunk (offset by off) runs in the first part whose range it falls in."""
    idx = ir.IndexType.get()
    body, caps, n = parts[0]
    mine, rest = args[:len(caps)], args[len(caps):]

    def run_mine():
        local = arith.subi(chunk, arith.constant(idx, off)) if off else chunk
        func.CallOp([], ir.FlatSymbolRefAttr.get(str(body.attributes["sym_name"]).strip('"')), mine + [local])
    if len(parts) == 1:
        run_mine()
        return
    branch = scf.IfOp(arith.cmpi(arith.CmpIPredicate.ult, chunk, arith.constant(idx, off + n)), [], has_else=True)
    with ir.InsertionPoint(branch.then_block):
        run_mine()
        scf.YieldOp([])
    with ir.InsertionPoint(branch.else_block):
        _dispatch(parts[1:], rest, chunk, off + n)
        scf.YieldOp([])


def _drop_unused_launchers(module) -> None:
    used = {str(c.attributes["callee"]).lstrip("@") for c in ops_named(module.operation, "func.call")}
    for f in funcs(module):
        name = str(f.attributes["sym_name"]).strip('"')
        if name.startswith(LAUNCH_PREFIX) and name not in used and not f.regions[0].blocks:
            f.erase()
