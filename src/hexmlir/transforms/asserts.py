"""Assertions (`cf.assert`) compiled as runtime checks.

torch-mlir guards gathers (embedding, gather, nll_loss) with `cf.assert`s on the index inside the generic's
body; Triton's `tl.device_assert` becomes one too (conversion/ttir/ops/core.py). Two steps:

- `guard` (stage `asserts`, before any other transform): every `tensor.extract` / `memref.load` that an assert
  dominates in its block gets its indices clamped into the tensor's bounds. A gather in a generic whose index
  depends on the data and that no assert guards (torch-mlir's index_select and x[idx]) gets a bounds check
  of its own first. A kernel whose check failed keeps
  running (there is no early exit out of a thread pool's loop), so its accesses must stay in bounds; on valid
  input the clamp changes nothing (an out-of-bounds extract is undefined anyway).
- `prune` (stage `asserts-prune`, after fusion): generics that only assert (their results died or nobody reads
  them) are erased; `drop_unused` again after tcm-tiling, for the fused producers' originals.
- `lower` (first step of lower-to-llvm): `cf.assert %ok, "msg"` -> `scf.if !ok { hx_assert_fail(id) }`, where
  id indexes the table of (message, location) the artifact metadata keeps (`asserts` in kernel.json). The
  runtime keeps the first failure per calling thread; the artifact loader takes it after the call and raises
  `KernelAssertionError`.

Generics holding an assert stay scalar: upstream's vectorizer does not vectorize `cf.assert` and the
vectorize stage leaves such ops as loops.
"""
from __future__ import annotations

import re
from pathlib import Path

from torch_mlir import ir
from torch_mlir.dialects import arith, cf, func, scf

from ..ir import ops_named
from .. import attrs

FAIL_FN = "hx_assert_fail"
LOC_ATTR = attrs.LOC
_ACCESSES = ("tensor.extract", "memref.load")


def guard(module, cx) -> None:
    accesses = []
    for a in ops_named(module.operation, "cf.assert"):
        ops = [o.operation for o in a.block.operations]
        for op in ops[ops.index(a.operation) + 1:]:          # what the assert dominates in its block
            _accesses(op, accesses)
    for ex in ops_named(module.operation, "tensor.extract"):
        if ex not in accesses and _check_gather(ex):
            accesses.append(ex)
    for op in accesses:
        _clamp(op)


def _check_gather(ex) -> bool:
    """A gather with no check of its own (torch-mlir's index_select and x[idx] have none): an index that
    depends on the data (an input element of the enclosing generic, or a value read from a tensor) gets a
    bounds check, so an out-of-range index raises instead of reading outside the tensor."""
    g = ex.parent
    while g is not None and g.name != "linalg.generic":
        g = g.parent
    src_t = ir.ShapedType(ex.operands[0].type)
    if g is None or not src_t.has_static_shape:
        return False
    body = g.regions[0].blocks[0]
    dims = [(k, v, n) for k, (v, n) in enumerate(zip(list(ex.operands)[1:], src_t.shape))
            if _data_dependent(v, body)]
    if not dims:
        return False
    idx = ir.IndexType.get()
    loc = ex.attributes[LOC_ATTR] if LOC_ATTR in ex.attributes else None
    with ir.InsertionPoint(ex), ex.location:
        for k, v, n in dims:
            ok = arith.andi(arith.cmpi(arith.CmpIPredicate.sge, v, arith.constant(idx, 0)),
                            arith.cmpi(arith.CmpIPredicate.slt, v, arith.constant(idx, n)))
            a = cf.AssertOp(ok, f"index out of range: index {k} of {src_t} must be in [0, {n})")
            if loc is not None:
                a.attributes[LOC_ATTR] = loc
    return True


def _data_dependent(v, body) -> bool:
    seen, todo = [], [v]
    while todo:
        x = todo.pop()
        if isinstance(x, ir.BlockArgument):
            if x.owner == body:
                return True
            continue
        op = x.owner
        if op.name == "tensor.extract":
            return True
        if op.name in ("arith.constant", "linalg.index") or op in seen:
            continue
        seen.append(op)
        todo.extend(op.operands)
    return False


def prune(module, cx) -> None:
    """Drop generics left with no result: canonicalization removes a generic's dead results, but one whose
    body holds a cf.assert (a side effect) then stays as a result-less op (upstream tiling crashes on it).
    Its check lives on in the consumers fusion copied the body into; a value nobody uses is not checked.
    Then the unread ones (`drop_unused`: LLaMA's boolean causal mask, whose body fusion copied into the float
    mask), until none is left: erasing one can leave its producers unread."""
    for g in ops_named(module.operation, "linalg.generic"):
        if len(g.results) == 0 and not any(isinstance(v.type, ir.MemRefType) for v in g.operands) \
                and ops_named(g, "cf.assert"):
            g.erase()
    while drop_unused(module):
        pass


def drop_unused(module) -> int:
    """Erase tensor generics whose results nobody reads but whose cf.assert keeps them alive (DCE sees a
    side effect): fusion's originals after their body was copied into every consumer (BERT's embedding
    gathers, T5's position-bias table), and tcm-tiling's fused producers left outside the tile loop, where
    they ran whole and serially. Consumers first, so a chain of them goes in one walk. Returns how many."""
    n = 0
    for g in reversed(ops_named(module.operation, "linalg.generic")):
        if g.results and all(_unused(r) for r in g.results) \
                and not any(isinstance(v.type, ir.MemRefType) for v in g.operands) and ops_named(g, "cf.assert"):
            g.erase()
            n += 1
    return n


def _unused(v) -> bool:
    return next(iter(v.uses), None) is None


def merge_duplicates(module) -> int:
    """Replace a tensor generic holding a cf.assert by an identical one earlier in its block (same operands,
    attributes and body): CSE would, but the assert is a side effect to it. tcm-tiling's fuse_into_containing_op
    clones a producer once per consumer in the tile (BERT's embedding gathers before LayerNorm: 4 copies, each
    a scalar loop); the same check on the same values needs to run once. Returns how many went."""
    n = 0
    seen: dict = {}                        # (block, operand count) -> earlier generics there
    for g in ops_named(module.operation, "linalg.generic"):
        if not g.results or any(isinstance(v.type, ir.MemRefType) for v in g.operands) \
                or not ops_named(g, "cf.assert"):
            continue
        key = (g.operation.block, len(g.operands))
        for e in seen.get(key, []):
            if _same_op(e, g, {}):
                for r_old, r_new in zip(g.results, e.results):
                    r_old.replace_all_uses_with(r_new)
                g.erase()
                n += 1
                break
        else:
            seen.setdefault(key, []).append(g)
    return n


def _same_op(a, b, vmap: dict) -> bool:
    """a and b compute the same: names, attributes, result types, operands (b's values defined inside the
    compared bodies mapped to a's through vmap, the others identical) and regions, recursively."""
    a, b = a.operation, b.operation
    if a.name != b.name or len(a.operands) != len(b.operands) or len(a.results) != len(b.results) \
            or len(a.regions) != len(b.regions):
        return False
    if [str(r.type) for r in a.results] != [str(r.type) for r in b.results]:
        return False
    if _attrs(a) != _attrs(b):
        return False
    for x, y in zip(a.operands, b.operands):
        if vmap.get(y, y) != x:
            return False
    for ra, rb in zip(a.regions, b.regions):
        ba, bb = list(ra.blocks), list(rb.blocks)
        if len(ba) != len(bb):
            return False
        for xa, xb in zip(ba, bb):
            if len(xa.arguments) != len(xb.arguments):
                return False
            for u, v in zip(xa.arguments, xb.arguments):
                if str(u.type) != str(v.type):
                    return False
                vmap[v] = u
            oa, ob = list(xa.operations), list(xb.operations)
            if len(oa) != len(ob):
                return False
            for p, q in zip(oa, ob):
                if not _same_op(p, q, vmap):
                    return False
                for u, v in zip(p.results, q.results):
                    vmap[v] = u
    return True


def _attrs(op) -> list:
    named = (op.attributes[i] for i in range(len(op.attributes)))
    return sorted((na.name, str(na.attr)) for na in named)


def _accesses(op, out: list) -> None:
    if op.name in _ACCESSES and op not in out:
        out.append(op)
    for r in op.regions:
        for b in r.blocks:
            for o in b.operations:
                _accesses(o.operation, out)


def _clamp(op) -> None:
    src_t = ir.ShapedType(op.operands[0].type)
    if not src_t.has_static_shape:
        return
    idx = ir.IndexType.get()
    with ir.InsertionPoint(op), op.location:
        for k, n in enumerate(src_t.shape):
            v = op.operands[1 + k]
            if getattr(v.owner, "name", "") == "arith.constant":
                continue
            lo = arith.maxsi(v, arith.constant(idx, 0))
            op.operands[1 + k] = arith.minsi(lo, arith.constant(idx, max(n - 1, 0)))


def describe_loc(loc) -> str | None:
    """'file:line' of a location; a call-site chain reads outermost (the user's code) first, then the frames
    it went through. None for unknown locations."""
    frames = re.findall(r'"([^"]*)":(\d+)(?::(\d+))?', str(loc))
    if not frames:
        return None
    own = str(Path(__file__).resolve().parents[1])        # hexmlir's frames (compile_model's wrapper)
    names = [f"{'<input>' if f == '-' else f}:{line}" for f, line, _ in frames   # '-': the parsed text
             if not f.startswith(own)] or [f"{f}:{line}" for f, line, _ in frames]
    outer, inner = names[-1], names[-2::-1]
    return outer + (f" (via {', '.join(inner)})" if inner else "")


def annotate(module) -> None:
    """Keep each assert's source location as an attribute (`hexmlir.loc`), for frontends whose text goes to
    the compiler without debug locations (the torch importer): it reaches the message table, and only it
    enters the compile cache's key."""
    for a in ops_named(module.operation, "cf.assert") + ops_named(module.operation, "tensor.extract"):
        loc = describe_loc(a.location)
        if loc and LOC_ATTR not in a.attributes:
            a.attributes[LOC_ATTR] = ir.StringAttr.get(loc, context=module.context)


def lower(module, cx) -> None:
    asserts = ops_named(module.operation, "cf.assert")
    if not asserts:
        return
    table: dict[tuple, int] = {}
    with ir.InsertionPoint.at_block_begin(module.body), ir.Location.unknown():
        func.FuncOp(FAIL_FN, ir.FunctionType.get([ir.IntegerType.get_signless(32)], []), visibility="private")
    i1, i32 = ir.IntegerType.get_signless(1), ir.IntegerType.get_signless(32)
    for a in asserts:
        msg = ir.StringAttr(a.attributes["msg"]).value
        loc = ir.StringAttr(a.attributes[LOC_ATTR]).value if LOC_ATTR in a.attributes else None
        key = (msg, loc or describe_loc(a.location))
        aid = table.setdefault(key, len(table))
        with ir.InsertionPoint(a), a.location:
            bad = arith.xori(a.operands[0], arith.constant(i1, 1))
            branch = scf.IfOp(bad)
            with ir.InsertionPoint(branch.then_block):
                func.CallOp([], ir.FlatSymbolRefAttr.get(FAIL_FN), [arith.constant(i32, aid)])
                scf.YieldOp([])
        a.erase()
    cx.asserts = [{"message": m, "loc": loc} for (m, loc), _ in sorted(table.items(), key=lambda kv: kv[1])]
    cx.uses_runtime = True
