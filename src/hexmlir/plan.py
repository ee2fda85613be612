"""Decide, then do: one module computes every per-kernel decision from the target and the op shapes.

For each linalg op left after fusion the plan records
  - its role (root = writes a function result; producer = fused into a root's tile loop),
  - the TCM tile: sizes of the parallel loops distributed as tiles (scf.forall, the threading seam),
    chosen so the tile's working set fits the per-tile TCM budget,
  - the vector tile: innermost loop tiled by the vector lanes (128 bytes / element size).
Ops carry the decision id as attribute `hexmlir.id`; passes apply the plan and decide nothing themselves.
`hexmlir explain` prints it. Options override it (tile_elems, tcm_budget).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .options import Options
from .targets import Target

ID_ATTR = "hexmlir.id"


def op_id(op) -> int | None:
    """The plan id an op was tagged with (None if untagged)."""
    if ID_ATTR not in op.attributes:
        return None
    from torch_mlir import ir
    return ir.IntegerAttr(op.attributes[ID_ATTR]).value


@dataclass
class OpPlan:
    id: int
    name: str                      # op name, e.g. linalg.generic
    loops: list[int]               # static loop ranges
    iterators: list[str]           # "parallel" | "reduction"
    elem_bytes: int
    footprint_dims: list[list[int]]   # per operand: the loop dims it touches
    body_ops: int = 1              # scalar ops in the body (work estimate for the threading threshold)
    role: str = "root"             # root | producer
    root: int | None = None        # for producers: the id of the root whose loop they join
    tcm_tile: list[int] = field(default_factory=list)   # 0 = whole dim; applied with tile_using_forall
    vec_tile: list[int] = field(default_factory=list)   # applied inside the TCM tile (peeled)
    tile_bytes: int = 0
    threads: int = 1               # hardware threads the root's tile loop is distributed over

    def work(self) -> int:
        """Iterations x body ops: the work estimate the threading threshold is compared with."""
        n = 1
        for x in self.loops:
            n *= max(1, x)
        return n * max(1, self.body_ops)

    def describe(self) -> str:
        it = "x".join(f"{n}{'r' if t == 'reduction' else ''}" for n, t in zip(self.loops, self.iterators))
        s = f"#{self.id} {self.name} [{it}] {self.role}"
        if self.role == "producer":
            return s + f" -> fused into #{self.root}"
        return s + (f" tcm_tile={self.tcm_tile} ({self.tile_bytes} B/tile) vec_tile={self.vec_tile}"
                    f" threads={self.threads}")


@dataclass
class Plan:
    target: Target
    options: Options
    budget: int                    # total TCM bytes the kernel may use
    tile_budget: int               # bytes one tile's buffers may use
    ops: dict[int, OpPlan] = field(default_factory=dict)

    def describe(self) -> str:
        head = (f"target {self.target.name}/{self.target.arch}: TCM budget {self.budget} B, "
                f"per-tile {self.tile_budget} B, vector {self.target.vector_bytes} B")
        return "\n".join([head] + [p.describe() for p in self.ops.values()])


# Per-tile cap: tiles much larger than a few hundred KiB stop helping (they no longer fit the host's L2,
# and leave too few tiles to spread over threads or to pipeline DMA against compute).
MAX_TILE_BYTES = 512 << 10


def tile_budget(target: Target, options: Options) -> tuple[int, int]:
    budget = options.tcm_budget or target.tcm_bytes
    threads = (options.num_threads or target.hw_threads) if options.multithread else 1
    buffers = 2 if options.double_buffer else 1     # ping-pong sets count twice
    return budget, max(1024, min(MAX_TILE_BYTES, budget // (threads * buffers)))


def _footprint(p: OpPlan, tile: list[int]) -> int:
    sizes = [t if t else n for t, n in zip(tile, p.loops)]
    total = 0
    for dims in p.footprint_dims:
        n = 1
        for d in dims:
            n *= sizes[d]
        total += n
    return total * p.elem_bytes


MIN_TILE_ELEMS = 8192


def choose_tcm_tile(p: OpPlan, target: Target, tile_budget: int, tile_elems: int = 0,
                    producer_bytes: int = 0, threads: int = 1, keep_inner: bool = False) -> list[int]:
    """Largest tile (innermost dims whole first) whose working set fits `tile_budget`.

    Reduction loops stay whole, so a reduction finishes inside one tile (row softmax, row sums, matmul K).
    The innermost tiled dim is a multiple of the vector lanes so only the last tile has a partial vector.
    """
    lanes = target.vector_lanes(p.elem_bytes)
    n = len(p.loops)
    tile = [0] * n                      # 0 = whole
    par = [d for d in range(n) if p.iterators[d] == "parallel"]
    if keep_inner:
        # fused producers reduce along the root's inner dim (row softmax/RMSNorm): tiling it would split
        # their reductions, so whole rows stay in a tile even when one row exceeds the budget
        par = [d for d in par if d != n - 1]
    if not par:
        return tile
    # Start from the smallest tile: all parallel dims 1, then grow from the innermost parallel dim out.
    for d in par:
        tile[d] = 1
    def fits(t):
        return _footprint(p, t) + producer_bytes * _share(p, t) <= tile_budget

    if not fits(tile):
        return tile                     # even one row is too big; tile as small as possible
    cap_elems = tile_elems or 0
    if not cap_elems and threads > 1:
        # enough tiles to spread over the threads (and pipeline), but not tiles so small that loop
        # overhead dominates
        total = 1
        for d in par:
            total *= p.loops[d]
        cap_elems = max(MIN_TILE_ELEMS, total // (4 * threads))
    for d in reversed(par):
        lo, hi = 1, p.loops[d]
        while lo < hi:                  # binary search the largest size that fits
            mid = (lo + hi + 1) // 2
            tile[d] = mid
            elems = 1
            for dd in par:
                elems *= tile[dd]
            if fits(tile) and (not cap_elems or elems <= cap_elems):
                lo = mid
            else:
                hi = mid - 1
        tile[d] = lo
        if lo < p.loops[d]:
            if d == n - 1 and lo >= lanes:
                tile[d] = lo - lo % lanes
            break
    return [0 if t == p.loops[d] else t for d, t in enumerate(tile)]


def choose_vec_tile(p: OpPlan, target: Target) -> list[int]:
    """Innermost parallel loop by the vector lanes, all others 1."""
    lanes = target.vector_lanes(p.elem_bytes)
    n = len(p.loops)
    if n == 0:
        return []
    tile = [1] * n
    if p.iterators[-1] == "reduction" and n >= 3 and p.iterators[-2] == "parallel":
        # contraction (i, j, k): j by lanes, i and k by 1, so each step is one broadcast-FMA and the
        # accumulator's transfers hoist out of the k loop
        tile[-2] = lanes
        return tile
    tile[-1] = lanes
    return tile


# ---------------------------------------------------------------------------------------------- analysis

def _generic_info(op):
    from torch_mlir import ir
    maps = [ir.AffineMapAttr(a).value for a in op.attributes["indexing_maps"]]
    iters = ["reduction" if "reduction" in str(a) else "parallel" for a in op.attributes["iterator_types"]]
    n = maps[0].n_dims
    loops = [None] * n
    dims_per_operand = []
    elem_bytes = 1
    for val, amap in zip(op.operands, maps):
        t = val.type
        dims = []
        shape = list(ir.ShapedType(t).shape) if isinstance(t, (ir.RankedTensorType, ir.MemRefType)) else []
        if isinstance(t, (ir.RankedTensorType, ir.MemRefType)):
            et = ir.ShapedType(t).element_type
            elem_bytes = max(elem_bytes, _bytes(et))
        for k, e in enumerate(amap.results):
            if isinstance(e, ir.AffineDimExpr):
                d = e.position
                dims.append(d)
                if (loops[d] is None or loops[d] < 0) and k < len(shape):
                    loops[d] = shape[k] if shape[k] >= 0 else -1     # -1: dynamic (a partial tile)
        dims_per_operand.append(dims)
    return loops, iters, elem_bytes, dims_per_operand


def _bytes(t) -> int:
    from torch_mlir import ir
    if isinstance(t, ir.IntegerType):
        return max(1, t.width // 8)
    s = str(t)
    return {"f16": 2, "bf16": 2, "f32": 4, "f64": 8, "index": 8}.get(s, 4)   # index: 8 covers 32- and 64-bit targets


def build(module, target: Target, options: Options) -> Plan:
    """Tag every linalg.generic with an id and decide its role, TCM tile and vector tile."""
    from torch_mlir import ir
    from .errors import UnsupportedError
    from .ir import funcs, walk

    budget, per_tile = tile_budget(target, options)
    plan = Plan(target, options, budget, per_tile)
    i64 = ir.IntegerType.get_signless(64)
    generics = []

    def visit(op):
        if op.name == "linalg.generic":
            generics.append(op)
        elif op.name.startswith("linalg.") and op.name not in ("linalg.yield", "linalg.index"):
            raise UnsupportedError("linalg op has no generic form the pipeline can tile", stage="plan",
                                   op=op.name, loc=str(op.location))

    for f in funcs(module):
        walk(f, visit)
    by_op = {}
    for op in generics:
        loops, iters, eb, dims = _generic_info(op)
        if any(n is None or n < 0 for n in loops):
            raise UnsupportedError("dynamic or unknown loop range", stage="plan", op=op.name,
                                   loc=str(op.location))
        p = OpPlan(len(plan.ops), op.name, loops, iters, eb, dims,
                   body_ops=max(1, len(op.regions[0].blocks[0].operations) - 1))
        op.attributes[ID_ATTR] = ir.IntegerAttr.get(i64, p.id)
        plan.ops[p.id] = p
        by_op[op] = p
    ids = {op: by_op[op].id for op in generics}

    def consumers(op):
        return [u.owner for r in op.results for u in r.uses]

    for op in reversed(generics):          # consumers are decided before their producers
        p = by_op[op]
        users = consumers(op)
        if options.fusion and users and all(getattr(u, "name", "") == "linalg.generic" and u in ids for u in users):
            p.role = "producer"
            first = by_op[users[0]]
            p.root = first.root if first.role == "producer" else first.id
        else:
            p.role = "root"
        # Gathers (tensor.extract at computed indices, e.g. Triton loads through index tensors) become
        # memref.load after bufferization, which structured vectorization cannot handle: they stay scalar.
        gather = any(o.operation.name == "tensor.extract" for o in op.regions[0].blocks[0].operations)
        p.vec_tile = choose_vec_tile(p, target) if options.vectorize and not gather else []
    for p in plan.ops.values():
        if p.role == "root" and options.tcm_tiling:
            # Producers fused into this root's tile loop keep their tiles in TCM too: count them
            # (scaled by the share of the root's parallel iterations a tile covers).
            prods = [q for q in plan.ops.values() if q.root == p.id]
            prod_bytes = sum(_footprint(q, [0] * len(q.loops)) for q in prods)
            nthr = (options.num_threads or target.hw_threads) if options.multithread else 1
            reduces = any("reduction" in q.iterators for q in prods)
            p.tcm_tile = choose_tcm_tile(p, target, per_tile, options.tile_elems, prod_bytes, nthr, reduces)
            p.tile_bytes = _footprint(p, p.tcm_tile) + int(prod_bytes * _share(p, p.tcm_tile))
            p.threads = choose_threads(p, plan, target, options)
    return plan


# Work (iterations x body ops) below which a loop stays single-threaded: waking the pool costs a few
# microseconds, i.e. tens of thousands of scalar ops. Option mt_threshold overrides it.
MT_THRESHOLD = 1 << 17


def choose_threads(p: OpPlan, plan: Plan, target: Target, options: Options) -> int:
    if not options.multithread or not any(p.tcm_tile):
        return 1
    tiles = 1
    for d, t in enumerate(p.tcm_tile):
        if t:
            tiles *= -(-p.loops[d] // t)
    iters = 1
    for n in p.loops:
        iters *= n
    ops = p.body_ops + sum(q.body_ops for q in plan.ops.values() if q.root == p.id)
    if iters * max(1, ops) < (options.mt_threshold or MT_THRESHOLD):
        return 1
    return max(1, min(options.num_threads or target.hw_threads, tiles))


def _share(p: OpPlan, tile: list[int]) -> float:
    full = tiled = 1
    for d, n in enumerate(p.loops):
        if p.iterators[d] == "parallel":
            full *= n
            tiled *= tile[d] if tile and tile[d] else n
    return tiled / full
