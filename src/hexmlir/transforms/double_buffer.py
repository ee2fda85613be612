"""Double buffering: ping-pong TCM buffers so DMA overlaps compute, in both directions.

Applies to a tile loop (scf.for, per thread after threading) whose body is
    [DMA-in of tile i] + wait ... compute ... [DMA-out of tile i] + wait
where no DDR buffer is both read and written by the loop's DMAs. Every TCM buffer the loop uses gets a
twin; iteration i computes on set i%2. The DMA-in of tile i+1 (into the other set) is issued right after
tile i's inputs have arrived, before tile i is computed; the DMA-out of tile i is not waited for: its
token is kept per set and waited for only before that set's buffers are written again (two iterations
later), and after the loop. The first tile's DMA-in is issued before the loop. Odd trip counts and a
partial last tile need nothing special: the prefetch is guarded by i+1 < hi and recomputes tile i+1's
(possibly partial) extent with the same index arithmetic as the body.
"""
from __future__ import annotations

from torch_mlir import ir
from torch_mlir.dialects import arith, func, memref, scf

from ..ir import inside, ops_named
from . import memspace
from .dma import BUFFER, DDR_ATTR, DIR_ATTR, RELEASE, START, WAIT

COMPUTE = ("linalg.generic", "scf.for", "scf.if", "vector.transfer_read", "vector.transfer_write")


def _callee(op) -> str | None:
    if op.name != "func.call":
        return None
    return ir.FlatSymbolRefAttr(op.attributes["callee"]).value


def _dir(op) -> str | None:
    return ir.StringAttr(op.attributes[DIR_ATTR]).value if _callee(op) == START and DIR_ATTR in op.attributes else None


def _plan(loop):
    """(ins, outs, buffers) if the loop has the streaming shape double buffering needs, else None."""
    body = [o.operation for o in loop.body.operations]
    starts = [(k, o) for k, o in enumerate(body) if _dir(o)]
    ins = [(k, o) for k, o in starts if _dir(o) == "in"]
    outs = [(k, o) for k, o in starts if _dir(o) == "out"]
    computes = [k for k, o in enumerate(body) if o.name in COMPUTE]
    if not ins or not computes:
        return None
    if max(k for k, _ in ins) > min(computes) or (outs and min(k for k, _ in outs) < max(computes)):
        return None
    ddr = lambda o: ir.StringAttr(o.attributes[DDR_ATTR]).value  # noqa: E731
    if {ddr(o) for _, o in ins} & {ddr(o) for _, o in outs} or "?" in {ddr(o) for _, o in starts}:
        return None
    for _, o in starts:                  # each start is followed by its wait
        w = [u.owner for u in o.results[0].uses]
        if len(w) != 1 or _callee(w[0]) != WAIT:
            return None
    buffers = [b for b in ops_named(loop.parent, "func.call")
               if _callee(b) == BUFFER and not inside(b, loop) and _frontier(b, loop)[1]]
    if not buffers:
        return None
    return [o for _, o in ins], [o for _, o in outs], buffers


def _frontier(buf, loop):
    """(view ops deriving from `buf` outside the loop, in order; the values among buf and those views that
    the loop uses). Hoisting may have left a buffer's views outside the loop."""
    chain, used, todo = [], [], [buf.results[0]]
    while todo:
        v = todo.pop(0)
        if any(inside(u.owner, loop) for u in v.uses):
            used.append(v)
        for u in v.uses:
            o = u.owner.operation if hasattr(u.owner, "operation") else u.owner
            if o.name in memspace.VIEWS and not inside(o, loop) and o not in chain:
                chain.append(o)
                todo.extend(o.results)
    return chain, used


def _slice(roots, loop) -> list:
    """Ops inside the loop body (direct children) that `roots` depend on, in body order."""
    need = set()
    todo = [v for r in roots for v in r.operands]
    body_ops = [o.operation for o in loop.body.operations]
    while todo:
        v = todo.pop()
        owner = v.owner
        if isinstance(owner, ir.Block):
            continue
        op = owner.operation if hasattr(owner, "operation") else owner
        if op in need or op.parent != loop.operation:
            continue
        need.add(op)
        todo.extend(op.operands)
    return [o for o in body_ops if o in need]


def _clone_slice(ops, mapping: dict, ip) -> dict:
    """Clone `ops` at `ip`, rewriting operands through `mapping` (old value -> new); returns the extended map."""
    for op in ops:
        c = op.clone(ip=ip)
        for i, v in enumerate(c.operands):
            if v in mapping:
                c.operands[i] = mapping[v]
        for old, new in zip(op.results, c.results):
            mapping[old] = new
    return mapping


def _wait(slots, k):
    func.CallOp([], ir.FlatSymbolRefAttr.get(WAIT), [memref.LoadOp(slots, [k]).result])


def _apply(loop, ins, outs, buffers) -> None:
    idx = ir.IndexType.get()
    lo, hi, iv = loop.operands[0], loop.operands[1], loop.induction_variable
    slots_t = ir.MemRefType.get([2], idx)
    with ir.InsertionPoint(loop):                           # twins and token slots (0 = no token)
        c0, c1 = arith.constant(idx, 0), arith.constant(idx, 1)
        twins = {b: b.clone(ip=ir.InsertionPoint(loop)) for b in buffers}
        t_in, t_out = memref.AllocaOp(slots_t, [], []).result, memref.AllocaOp(slots_t, [], []).result
        for t in (t_in, t_out):
            for k in (c0, c1):
                memref.StoreOp(c0, t, [k])
    pairs = []                                              # (value the loop uses, its twin)
    for b, twin in twins.items():
        for u in list(b.results[0].uses):
            if _callee(u.owner) == RELEASE:
                with ir.InsertionPoint(u.owner):
                    func.CallOp([], ir.FlatSymbolRefAttr.get(RELEASE), [twin.results[0]])
        chain, used = _frontier(b, loop)
        m = _clone_slice(chain, {b.results[0]: twin.results[0]}, ir.InsertionPoint(loop))
        pairs += [(v, m[v]) for v in used]
    with ir.InsertionPoint(loop.body.operations[0]):        # set of this iteration: (i - lo) % 2
        odd = arith.cmpi(arith.CmpIPredicate.ne, arith.andi(arith.subi(iv, lo), c1), c0)
        s = arith.select(odd, c1, c0)
        ns = arith.subi(c1, s)
        cur = {v: arith.select(odd, t, v) for v, t in pairs}
    for v, sel in cur.items():
        for u in list(v.uses):
            if inside(u.owner, loop) and u.owner != sel.owner:
                u.owner.operands[u.operand_number] = sel
    waits_in = [[u.owner for u in o.results[0].uses][0] for o in ins]
    sl = _slice(ins, loop) + ins          # everything the input DMAs of tile i need, the set selection too
    shared = _shared_buffers(ins, outs, loop, cur)
    # prologue: tile lo's inputs into set 0
    with ir.InsertionPoint(loop):
        guard = scf.IfOp(arith.cmpi(arith.CmpIPredicate.slt, lo, hi))
    with ir.InsertionPoint(guard.then_block):
        yl = scf.YieldOp([])
    m = _clone_slice(sl, {iv: lo}, ir.InsertionPoint(yl))
    with ir.InsertionPoint(yl):
        memref.StoreOp(m[ins[-1].results[0]], t_in, [c0])   # FIFO per thread: the last token covers all
    # body: one wait for this tile's inputs, then prefetch tile i+1 into the other set
    with ir.InsertionPoint(waits_in[0]):
        _wait(t_in, s)
        if shared:                        # the other set's buffers may still be read by tile i-1's DMA-out
            _wait(t_out, ns)
        nxt = arith.addi(iv, loop.step)
        pf = scf.IfOp(arith.cmpi(arith.CmpIPredicate.slt, nxt, hi))
    with ir.InsertionPoint(pf.then_block):
        yp = scf.YieldOp([])
    m = _clone_slice(sl, {iv: nxt}, ir.InsertionPoint(yp))
    with ir.InsertionPoint(yp):
        memref.StoreOp(m[ins[-1].results[0]], t_in, [ns])
    for o, w in zip(ins, waits_in):
        w.erase()
        o.erase()
    # outputs: before this set's buffers are written, its previous DMA-out must be done; then don't wait
    first_compute = next(o.operation for o in loop.body.operations if o.operation.name in COMPUTE
                         and o.operation != pf.operation)
    with ir.InsertionPoint(first_compute):
        _wait(t_out, s)
    for o in outs:
        w = [u.owner for u in o.results[0].uses][0]
        with ir.InsertionPoint(w):
            memref.StoreOp(o.results[0], t_out, [s])
        w.erase()
    with ir.InsertionPoint(_next_op(loop)):
        _wait(t_out, c0)
        _wait(t_out, c1)


def _next_op(op):
    op = op.operation
    for r in op.parent.regions:
        for blk in r.blocks:
            ops = [o.operation for o in blk.operations]
            if op in ops:
                return ops[ops.index(op) + 1]
    raise AssertionError("op not found in its parent")


def _shared_buffers(ins, outs, loop, cur) -> bool:
    """Does any TCM buffer receive a DMA-in and also feed a DMA-out?"""
    def bufs(ops):
        found = set()
        for o in _slice(ops, loop):
            for b, sel in cur.items():
                if any(v == sel for v in o.operands):
                    found.add(b)
        return found
    return bool(outs) and bool(bufs(ins) & bufs(outs))


def run(module, cx) -> int:
    """Ping-pong sets on the tile loops whose config (copied from their root by `threads`) says buffers = 2."""
    from ..plan import config
    from .threads import LOOP_ATTR
    done, skipped = 0, []
    for loop in ops_named(module.operation, "scf.for"):
        if loop.parent is None or loop.parent.name not in ("func.func",):
            continue                      # tile loops sit at the top of a (per-thread) function
        rid = ir.IntegerAttr(loop.attributes[LOOP_ATTR]).value if LOOP_ATTR in loop.attributes else None
        c = config(loop)
        if rid is not None and c is not None and c.get("buffers", 1) != 2:
            skipped.append(rid)           # the plan dropped DB for this op: two sets do not fit the TCM
            continue
        p = _plan(loop.opview if hasattr(loop, "opview") else loop)
        if rid is not None and c is not None:
            cx.db_applied[rid] = bool(p)
        if p:
            _apply(loop.opview, *p)
            done += 1
    cx.log.append(f"double-buffer: {done} loop(s)" + (f", off by plan for #{skipped}" if skipped else ""))
    return done
