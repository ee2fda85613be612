"""Multi-threading: distribute the scf.forall over TCM tiles across hardware threads.

With `multithread` on and enough work (plan.threads > 1), the forall body is outlined into
`@<fn>_par<k>(captures..., chunk)`: chunk c runs tiles [c*T/n, (c+1)*T/n) in an scf.for. With TCM there is
one chunk per thread, a contiguous share of tiles with its own TCM buffers (hoisted to the outlined
function's entry, i.e. per thread); with cache tiles (host) there are CHUNKS_PER_THREAD per thread, which
the pool hands out as threads come free. The forall becomes a call to `@__hx_parallel_<fn>_par<k>(captures..., n)`,
a launcher synthesized in LLVM IR (`launchers()`) that packs the captures and calls the runtime's
`hx_parallel_for(n, trampoline, ctx)` thread pool. Otherwise the forall becomes a sequential scf.for.
"""
from __future__ import annotations

import re

from torch_mlir import ir
from torch_mlir.dialects import arith, func, scf

from ..ir import funcs, inside, ops_named, run_passes
from ..plan import CONFIG_ATTR, config, config_attr, op_id
from .. import attrs

LAUNCH_PREFIX = "__hx_parallel_"
LOOP_ATTR = attrs.TILE_LOOP        # on a tile loop (scf.for): the plan id of its root, next to a copy of
                                       # the root's hexmlir.config (read by double-buffer, tcm-check)
BODY_ATTR = attrs.THREAD_BODY      # on an outlined per-thread function: its chunks run at once (tcm-check)
# Chunks per thread for a tile loop with no TCM buffers (host cache tiles): the pool hands chunks out
# dynamically, so a thread that starts late or is preempted costs a fraction of its share, not all of it.
# Device (16-core Xeon, 16 threads, interleaved A/B): 1 -> 4 -> 16 chunks per thread took vector add
# 0.47 -> 0.38 -> 0.35 ms, softmax 0.61 -> 0.42 -> 0.40, GELU 0.70 -> 0.43 -> 0.41 (docs/benchmarks.md).
# With TCM, a chunk owns a thread's TCM set, so there is one chunk per thread.
CHUNKS_PER_THREAD = 16


def _root(forall):
    """(plan id, config attribute, config) of the root the forall tiles, or Nones."""
    for op in ops_named(forall, "linalg.generic"):
        c = config(op)
        if c is not None and "tile" in c:
            return op_id(op), config_attr(op), c
    return None, None, None


def _tag(loop, root, cfg) -> None:
    loop.attributes[LOOP_ATTR] = ir.IntegerAttr.get(ir.IntegerType.get_signless(64), root)
    if cfg is not None:
        loop.attributes[CONFIG_ATTR] = cfg


def _static_bounds(forall) -> list[int] | None:
    ub = forall.attributes["staticUpperBound"]
    lb = forall.attributes["staticLowerBound"]
    st = forall.attributes["staticStep"]
    ubs, lbs, sts = (list(ir.DenseI64ArrayAttr(a)) for a in (ub, lb, st))
    if any(x < 0 for x in ubs) or any(lbs) or any(s != 1 for s in sts):
        return None
    return ubs


def _definedinside(v, container) -> bool:
    owner = v.owner
    if isinstance(owner, ir.Block):
        return inside(owner.owner, container)
    return inside(owner, container)


def _captures(forall) -> list:
    """Values used inside the forall but defined outside it (first-use order, deduplicated)."""
    out = []

    def visit(op):
        for v in op.operands:
            if not _definedinside(v, forall) and v not in out:
                out.append(v)
        for r in op.regions:
            for b in r.blocks:
                for o in b.operations:
                    visit(o.operation)

    for o in forall.regions[0].blocks[0].operations:
        visit(o.operation)
    return out


def _repoint(old, new, container) -> None:
    for use in list(old.uses):
        if inside(use.owner, container):
            use.owner.operands[use.operand_number] = new


def _outline(forall, fname: str, k: int, nthreads: int, module, work: int = 0, threshold: int = 0,
             root: int | None = None, cfg=None) -> None:
    """Outline the forall into a per-thread chunk function. A forall with a dynamic trip count (a Triton
    grid) gets its thread count at run time: min(nthreads, trips), or 1 when trips x `work` < `threshold`."""
    bounds = _static_bounds(forall)
    caps = _captures(forall)
    dyn = None
    if bounds is None:                      # one dynamic upper bound: the total arrives as a capture
        dyn = forall.operands[0]
        bounds = [0]
        if dyn not in caps:
            caps.append(dyn)
        total = None
        n = nthreads
    else:
        total = 1
        for b in bounds:
            total *= b
        n = max(1, min(nthreads, total))
    # Constants are cloned into the outlined body instead of being passed.
    consts = [v for v in caps if getattr(v.owner, "name", "") == "arith.constant"]
    caps = [v for v in caps if v not in consts]
    name = f"{fname}_par{k}"
    idx = ir.IndexType.get()
    body_t = ir.FunctionType.get([v.type for v in caps] + [idx], [])
    with ir.InsertionPoint(module.body):
        fn = func.FuncOp(name, body_t, visibility="private")
        fn.attributes[BODY_ATTR] = ir.UnitAttr.get()
        launch = func.FuncOp(LAUNCH_PREFIX + name, ir.FunctionType.get([v.type for v in caps] + [idx], []),
                             visibility="private")
    entry = fn.add_entry_block()
    with ir.InsertionPoint(entry):
        chunk = entry.arguments[len(caps)]
        c_tot = arith.constant(idx, total) if dyn is None else entry.arguments[caps.index(dyn)]
        c_n = arith.constant(idx, n) if dyn is None else None
        if dyn is not None:                 # chunks = min(n, total): the caller passes it as the count
            c_n = _runtime_threads(dyn, n, work, threshold, entry.arguments[caps.index(dyn)])
        c1 = arith.constant(idx, 1)
        lo = arith.divui(arith.muli(chunk, c_tot), c_n)
        hi = arith.divui(arith.muli(arith.addi(chunk, c1), c_tot), c_n)
        loop = scf.ForOp(lo, hi, c1)
        if root is not None:
            _tag(loop, root, cfg)
        func.ReturnOp([])
    body = forall.regions[0].blocks[0]
    with ir.InsertionPoint(loop.body):
        # delinearize the tile index into the forall's induction variables (row-major)
        ivs, rest = [], loop.induction_variable
        for d in range(len(bounds) - 1, -1, -1):
            if d == 0:
                ivs.append(rest)
            else:
                cb = arith.constant(idx, bounds[d])
                ivs.append(arith.remui(rest, cb))
                rest = arith.divui(rest, cb)
        ivs.reverse()
        yield_op = scf.YieldOp([])
    for o in list(body.operations):
        if o.operation.name != "scf.forall.in_parallel":
            o.operation.move_before(yield_op)
    for old, new in zip(body.arguments, ivs):
        old.replace_all_uses_with(new)
    for old, new in zip(caps, entry.arguments):
        _repoint(old, new, fn)
    for c in consts:                    # constants are cloned, so static sizes stay static
        clone = c.owner.clone(ip=ir.InsertionPoint.at_block_begin(entry))
        _repoint(c, clone.results[0], fn)
    with ir.InsertionPoint(forall):
        count = arith.constant(idx, n) if dyn is None else _runtime_threads(dyn, n, work, threshold, dyn)
        func.CallOp([], ir.FlatSymbolRefAttr.get(launch.name.value), caps + [count])
    forall.erase()


def _runtime_threads(_dyn, n: int, work: int, threshold: int, total):
    """min(n, total), or 1 when total x work is below the threading threshold (index arithmetic)."""
    idx = ir.IndexType.get()
    t = arith.minui(arith.constant(idx, n), total)
    if work and threshold:
        small = arith.cmpi(arith.CmpIPredicate.ult, arith.muli(total, arith.constant(idx, work)),
                           arith.constant(idx, threshold))
        t = arith.select(small, arith.constant(idx, 1), t)
    return arith.maxui(t, arith.constant(idx, 1))


def _top_foralls(module):
    """(function name, index among its foralls, forall) for each forall at the top of a public function."""
    for f in funcs(module):
        if "sym_visibility" in f.attributes:
            continue
        fname = str(f.attributes["sym_name"]).strip('"')
        for k, fa in enumerate(ops_named(f, "scf.forall")):
            if fa.parent.name == "func.func":
                yield fname, k, fa


def run_grid(module, cx) -> None:
    """Triton grids: the program forall (trip count known at launch) is split over the thread pool: up to the
    plan's thread bound (module attribute hexmlir.plan), one thread when the programs' `work` (their ops'
    configs) x trips is below the threshold (decided at launch)."""
    from ..plan import MT_THRESHOLD, max_threads, module_facts
    o = cx.options
    nthreads = (module_facts(module) or {}).get("threads") or max_threads(cx.target, o)
    if nthreads > 1:
        for fname, k, fa in _top_foralls(module):
            work = sum((config(g) or {}).get("work", 0) for g in ops_named(fa, "linalg.generic")
                       if op_id(g) is not None)
            _outline(fa, fname, k, nthreads, module, max(1, work), o.mt_threshold or MT_THRESHOLD)
            cx.uses_runtime = True
    run_passes(module, "func.func(scf-forall-to-for), canonicalize, cse", "threads")


def run(module, cx) -> None:
    """Each root's tile loop on its config's `threads`."""
    sequential = {}                      # function -> (root id, config) of its foralls that stay loops, in order
    for fname, k, fa in _top_foralls(module):
        rid, cfg, c = _root(fa)
        t = c["threads"] if rid is not None else 1
        if t > 1 and _static_bounds(fa):
            _outline(fa, fname, k, t if c.get("tcm") else t * CHUNKS_PER_THREAD, module, root=rid, cfg=cfg)
            cx.uses_runtime = True
        else:
            sequential.setdefault(fname, []).append((rid, cfg))
    run_passes(module, "func.func(scf-forall-to-for), canonicalize, cse", "threads")
    _tag_sequential(module, sequential)


def _tag_sequential(module, sequential) -> None:
    """scf-forall-to-for drops attributes: tag the resulting top-level loops with their roots, matching
    them in order (only where the count matches, i.e. the function had no other top-level loop)."""
    for f in funcs(module):
        rids = sequential.get(str(f.attributes["sym_name"]).strip('"'))
        if not rids:
            continue
        loops = [o for o in ops_named(f, "scf.for") if o.parent.name == "func.func"]
        if len(loops) != len(rids):
            continue
        for loop, (rid, cfg) in zip(loops, rids):
            if rid is not None:
                _tag(loop, rid, cfg)


_DECL = re.compile(rf"^declare void @({LAUNCH_PREFIX}(\S+))\((.*)\)\s*$", re.M)


def launchers(llvm_ir: str, index_bits: int) -> str:
    """Replace each `declare void @__hx_parallel_X(args..., iN n)` by a definition packing the args into
    a context and calling hx_parallel_for(n, @__hx_tramp_X, ctx); the trampoline unpacks and calls @X."""
    it = f"i{index_bits}"
    extra = []

    def define(m):
        launch, body_fn, params = m.group(1), m.group(2), [p.strip() for p in m.group(3).split(",") if p.strip()]
        cap_t = [p.split()[0] for p in params[:-1]]
        st = "{ " + ", ".join(cap_t) + " }" if cap_t else "{ i8 }"
        lines = [f"define internal void @{launch}(" + ", ".join(f"{t} %a{i}" for i, t in enumerate(cap_t + [it])) + ") {",
                 f"  %ctx = alloca {st}"]
        for i, t in enumerate(cap_t):
            lines += [f"  %p{i} = getelementptr {st}, ptr %ctx, i32 0, i32 {i}", f"  store {t} %a{i}, ptr %p{i}"]
        lines += [f"  call void @hx_parallel_for({it} %a{len(cap_t)}, ptr @__hx_tramp_{body_fn}, ptr %ctx)",
                  "  ret void", "}",
                  f"define internal void @__hx_tramp_{body_fn}(ptr %ctx, {it} %i) {{"]
        for i, t in enumerate(cap_t):
            lines += [f"  %p{i} = getelementptr {st}, ptr %ctx, i32 0, i32 {i}", f"  %v{i} = load {t}, ptr %p{i}"]
        args = ", ".join([f"{t} %v{i}" for i, t in enumerate(cap_t)] + [f"{it} %i"])
        lines += [f"  call void @{body_fn}({args})", "  ret void", "}"]
        extra.append("\n".join(lines))
        return ""

    out = _DECL.sub(define, llvm_ir)
    if extra:
        out += f"\ndeclare void @hx_parallel_for({it}, ptr, ptr)\n" + "\n".join(extra) + "\n"
    return out
