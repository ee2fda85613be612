"""Decide, then do: one module computes every per-kernel decision from the target and the op shapes.

For each linalg op left after fusion the plan records
  - its role (producer = fused into a consumer's tile loop, its result tile-local; root = everything else:
    function results, and ops whose joining would grow their consumer group's smallest tile past one
    thread's budget, so fusion is bounded by TCM and such results go through DDR),
  - the TCM tile: sizes of the parallel loops distributed as tiles (scf.forall, the threading seam),
    chosen so that (threads running at once) x (one thread's TCM buffers, twice over with double
    buffering) fits the TCM budget; one thread's buffers are modelled operand by operand over the root
    and its fused producers (`group_tcm_bytes`). When even the smallest tile does not fit twice, double
    buffering is dropped for that op; when it does not fit once, fewer threads run it,
  - the vector tile: innermost loop tiled by the vector lanes (128 bytes / element size).
Ops carry the decision id as attribute `hexmlir.id` and the decisions as `hexmlir.config` ("the plan as IR",
below); passes read those and decide nothing themselves. `hexmlir explain` prints them. Options override the
planner (tile_elems, tcm_budget).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .options import Options
from .targets import Target
from . import attrs

ID_ATTR = attrs.ID


def op_id(op) -> int | None:
    """The plan id an op was tagged with (None if untagged)."""
    if ID_ATTR not in op.attributes:
        return None
    from torch_mlir import ir
    return ir.IntegerAttr(op.attributes[ID_ATTR]).value


@dataclass
class Operand:
    """One operand of a generic: what its indexing map reads, so a tile's slice of it can be sized."""
    dims: list                     # per position of its indexing map: the loop dim, or None (not a plain dim)
    shape: list[int]
    elem_bytes: int
    src: int | None = None         # plan id of the generic producing it (None: a function argument, a constant)


@dataclass
class OpPlan:
    id: int
    name: str                      # op name, e.g. linalg.generic
    loops: list[int]               # static loop ranges
    iterators: list[str]           # "parallel" | "reduction"
    elem_bytes: int
    footprint_dims: list[list[int]]   # per operand: the loop dims it touches
    body_ops: int = 1              # scalar ops in the body (work estimate for the threading threshold)
    body_cost: int = 0             # body_ops with libm calls weighted (LIBM_WEIGHT); 0: body_ops
    role: str = "root"             # root | producer
    root: int | None = None        # for producers: the id of the root whose loop they join
    tcm_tile: list[int] = field(default_factory=list)   # 0 = whole dim; applied with tile_using_forall
    vec_tile: list[int] = field(default_factory=list)   # applied inside the TCM tile (peeled)
    tile_bytes: int = 0
    threads: int = 1               # hardware threads the root's tile loop is distributed over
    operands: list[Operand] = field(default_factory=list)
    n_ins: int = 0
    double_buffer: bool = False    # roots: ping-pong TCM sets planned (the double-buffer stage applies it)
    tcm_per_thread: int = 0        # roots: modelled TCM bytes one thread holds (incl. DB twins)
    tcm_note: str = ""             # roots: why DB was dropped / threads were cut for TCM

    def reads_tensors(self) -> bool:
        """False for fills (no tensor inputs): recomputing them per tile costs nothing."""
        return any(o.shape for o in self.operands[:self.n_ins])

    def work(self) -> int:
        """Iterations x body ops: the work estimate the threading threshold is compared with."""
        n = 1
        for x in self.loops:
            n *= max(1, x)
        return n * max(1, self.body_ops)

    def cost(self) -> int:
        """Scalar-op cost of one iteration of the body, libm calls weighted (see body_cost)."""
        return max(1, self.body_cost or self.body_ops)

    def describe(self, db_applied: bool | None = None) -> str:
        """`db_applied`: what the double-buffer stage did (False: its loop has no streaming shape)."""
        it = "x".join(f"{n}{'r' if t == 'reduction' else ''}" for n, t in zip(self.loops, self.iterators))
        s = f"#{self.id} {self.name} [{it}] {self.role}"
        if self.role == "producer":
            return s + f" -> fused into #{self.root}"
        s += (f" tcm_tile={self.tcm_tile} ({self.tile_bytes} B/tile) vec_tile={self.vec_tile}"
              f" threads={self.threads}")
        if self.tcm_per_thread:
            db = "on" if self.double_buffer else "off"
            if self.double_buffer and db_applied is False:
                db = "on (not applied: the tile loop is not DMA-in, compute, DMA-out)"
            s += (f" db={db}"
                  f" tcm/thread={self.tcm_per_thread} B x {self.threads} = {self.tcm_per_thread * self.threads} B")
        if self.tcm_note:
            s += f" [{self.tcm_note}]"
        return s


@dataclass
class Plan:
    target: Target
    options: Options
    budget: int                    # total TCM bytes the kernel may use
    tile_budget: int               # bytes one tile's buffers may use (one thread, one DB set)
    threads: int = 1               # compile-time upper bound of threads running tiles at once
    ops: dict[int, OpPlan] = field(default_factory=dict)
    measured: dict = field(default_factory=dict)   # after codegen: function -> TCM per thread, threads, total
    db_applied: dict = field(default_factory=dict)  # after codegen: root id -> double buffering applied
    work: int = 0                  # sum of the ops' work() (mt_threshold's warm-pool test), set once
    group_costs: dict = field(default_factory=dict)  # root id -> its body cost + its producers' (_group_cost)

    def describe(self) -> str:
        local = "TCM budget" if self.target.scratchpad else "cache-tile budget (no scratchpad, tiles in place)"
        head = (f"target {self.target.name}/{self.target.cpu if not self.target.scratchpad else self.target.arch}: "
                f"{local} {self.budget} B, up to {self.threads} thread(s), per-tile {self.tile_budget} B, "
                f"vector {self.target.vector_bytes} B")
        lines = [head] + [p.describe(self.db_applied.get(p.id)) for p in self.ops.values()]
        for fn, m in self.measured.items():
            lines.append(f"generated {fn}: TCM {m['per_thread']} B/thread x {m['threads']} = {m['total']} B")
        return "\n".join(lines)


# Per-tile cap: tiles much larger than a few hundred KiB stop helping (they no longer fit the host's L2,
# and leave too few tiles to spread over threads or to pipeline DMA against compute).
MAX_TILE_BYTES = 512 << 10


def max_threads(target: Target, options: Options) -> int:
    """Threads that may run tiles at once: the compile-time upper bound (the runtime never runs more
    chunks of a tile loop at once than the plan's thread count)."""
    return max(1, (options.num_threads or target.hw_threads) if options.multithread else 1)


def db_planned(options: Options, target: Target | None = None) -> bool:
    """Ping-pong sets are planned: DB on, tiles staged in a scratchpad and moved by a copy engine."""
    return (options.double_buffer and options.dma and options.tcm_tiling
            and (target is None or (target.scratchpad and target.copy_engine)))


def tile_budget(target: Target, options: Options, double_buffer: bool | None = None) -> tuple[int, int]:
    """(TCM budget, bytes one thread's tile set may use): the budget split over the threads that run at
    once, halved for ping-pong sets, capped at MAX_TILE_BYTES."""
    # no scratchpad: each thread's tiles are sized for its core's cache
    budget = options.tcm_budget or target.tcm_bytes or target.cache_tile_bytes * max_threads(target, options)
    db = db_planned(options, target) if double_buffer is None else double_buffer
    buffers = 2 if db else 1     # ping-pong sets count twice
    return budget, min(MAX_TILE_BYTES, budget // (max_threads(target, options) * buffers))


def pool_bytes(n: int) -> int:
    """What the runtime's pool takes for an n-byte buffer: 128-byte granules, and blocks of >= 4 KiB are
    2 KiB aligned (counted as a worst-case gap)."""
    r = -(-max(n, 1) // 128) * 128
    return r + 2048 if r >= 4096 else r


def group_tcm_bytes(plan: "Plan", root: OpPlan, tile: list[int], skip: frozenset = frozenset()) -> int:
    """TCM bytes one tile of `root` holds: its operands' slices and those of its fused producers.

    The tile's loop sizes are pushed from the root to its producers through the indexing maps (a producer
    computes the slice its consumers read; its other loops, reductions included, stay whole). Counted,
    each rounded like the runtime's pool: every operand read from outside the group (a TCM copy per op
    and operand, as promotion makes them), every op's result (tile-local, shared with its init when the
    init is a group op), and the root's result (its DDR copy-out buffer, besides its init's when a group op makes that).
    `skip`: (op id, operand index) pairs left out (resident_operands, on targets without a scratchpad)."""
    members = group_members(plan, root)
    ids = {q.id for q in members}
    sizes = {root.id: [t if t else n for t, n in zip(tile, root.loops)]}
    for q in members[1:]:
        qs = [0] * len(q.loops)
        out = q.operands[q.n_ins] if len(q.operands) > q.n_ins else None
        for c in members:
            if c.id not in sizes:
                continue
            for o in c.operands:          # inputs, and inits (a fill feeding a matmul's accumulator)
                if o.src != q.id or out is None:
                    continue
                sl = [sizes[c.id][d] if d is not None else o.shape[j] for j, d in enumerate(o.dims)]
                for j, d in enumerate(out.dims):
                    if d is not None and j < len(sl):
                        qs[d] = max(qs[d], min(sl[j], q.loops[d]))
        sizes[q.id] = [s if s else n for s, n in zip(qs, q.loops)]
    total = 0
    for q in members:
        s = sizes[q.id]
        for k, o in enumerate(q.operands):
            n = o.elem_bytes
            for j, d in enumerate(o.dims):
                n *= s[d] if d is not None else o.shape[j]
            if k < q.n_ins:
                if (o.src is None or o.src not in ids) and (q.id, k) not in skip:
                    total += pool_bytes(n)          # promoted copy of a DDR operand
            elif o.src is None or o.src not in ids or q is root:
                total += pool_bytes(n)              # the result's buffer (the root's: its copy-out)
    return total


def group_members(plan: "Plan", root: OpPlan) -> list[OpPlan]:
    """The root and its fused producers, consumers before their producers."""
    return [root] + sorted((q for q in plan.ops.values() if q.role == "producer" and q.root == root.id),
                           key=lambda q: -q.id)


def _root_deps(plan: "Plan", root: OpPlan, members: list[OpPlan]) -> dict[int, list[set[int]]]:
    """Per group op, per loop: the root loops it follows (through the consumers' indexing maps)."""
    deps = {root.id: [{d} for d in range(len(root.loops))]}
    for q in members[1:]:
        qd = [set() for _ in q.loops]
        out = q.operands[q.n_ins] if len(q.operands) > q.n_ins else None
        for c in members:
            if c.id not in deps or out is None:
                continue
            for o in c.operands:
                if o.src != q.id:
                    continue
                for j, d in enumerate(out.dims):
                    if d is not None and j < len(o.dims) and o.dims[j] is not None:
                        qd[d] |= deps[c.id][o.dims[j]]
        deps[q.id] = qd
    return deps


def kept_whole(plan: "Plan", root: OpPlan) -> set[int]:
    """Root loops a TCM tile must keep whole so that no fused producer is recomputed.

    A producer's slice follows the root's tile only along the root loops its consumers' indexing maps reach;
    if a root loop does not reach it (a row statistic under a row-wise root, a weight transpose under a
    matmul's rows, a GELU feeding the A operand of a matmul tiled along N), every tile along that loop would
    recompute the same slice. Producers without tensor inputs (fills) are free to recompute."""
    members = group_members(plan, root)
    deps = _root_deps(plan, root, members)
    keep = set()
    for q in members[1:]:
        if q.reads_tensors():
            qd = deps[q.id]
            reached = set().union(*qd) if qd else set()
            keep |= {d for d in range(len(root.loops))
                     if root.iterators[d] == "parallel" and root.loops[d] > 1 and d not in reached}
    return keep


def resident_operands(plan: "Plan", root: OpPlan, tile: list[int]) -> frozenset:
    """(op id, operand index) of the group's outside inputs that consecutive tiles read again.

    Tiles run innermost tiled loop first (on each thread too: a thread takes consecutive tiles), so an
    input whose slice does not follow that loop (attention's K^T and V under a block of query rows, a
    matmul's B under its rows) is the same for the next tile: without a scratchpad nothing is copied per
    tile, it stays in the core's cache and is re-read from there. Empty when the tile is the whole
    iteration space (nothing is re-read)."""
    tiled = [d for d, t in enumerate(tile) if t and t < root.loops[d]]
    if not tiled:
        return frozenset()
    inner = tiled[-1]
    members = group_members(plan, root)
    ids = {q.id for q in members}
    deps = _root_deps(plan, root, members)
    out = set()
    for q in members:
        for k, o in enumerate(q.operands[:q.n_ins]):
            if not o.shape or (o.src is not None and o.src in ids):
                continue
            if not any(d is not None and inner in deps[q.id][d] for d in o.dims):
                out.add((q.id, k))
    return frozenset(out)


def cache_resident(plan: "Plan", root: OpPlan) -> bool:
    """Operands that consecutive tiles re-read are charged once against the core's cache
    (`Target.cache_resident_bytes`) rather than per tile: targets without a scratchpad, groups holding a
    contraction (whose broadcast operand every row block reads whole: attention's K^T and V), with the
    planner's budget not overridden (`tcm_budget`, `tile_elems`)."""
    t, o = plan.target, plan.options
    return (not t.scratchpad and t.cache_resident_bytes > 0 and not o.tcm_budget and not o.tile_elems
            and any(is_contraction(q) for q in group_members(plan, root)))


def _streamed_bytes(plan: "Plan", root: OpPlan, tile: list[int]) -> int:
    """A tile's bytes with its resident operands left out while they fit the core's cache share; past it
    they count per tile again (a tile keeping more heads whole must not look cheaper for it)."""
    streamed, resident = split_bytes(plan, root, tile)
    return streamed if resident <= plan.target.cache_resident_bytes else streamed + resident


def split_bytes(plan: "Plan", root: OpPlan, tile: list[int]) -> tuple[int, int]:
    """(bytes one tile streams, bytes of the resident operands: cache_resident)."""
    res = resident_operands(plan, root, tile)
    streamed = group_tcm_bytes(plan, root, tile, res)
    return streamed, group_tcm_bytes(plan, root, tile) - streamed


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
                    producer_bytes: int = 0, threads: int = 1, keep: set[int] = frozenset(),
                    size=None) -> list[int]:
    """Largest tile (innermost dims whole first) whose working set fits `tile_budget`.

    `size(tile)` gives the working set (default: the op's own operands plus `producer_bytes` scaled by
    the tile's share of the parallel iterations).

    Reduction loops stay whole, so a reduction finishes inside one tile (row softmax, row sums, matmul K);
    so do the loops in `keep` (see kept_whole: tiling them would recompute a fused producer).
    The innermost tiled dim is a multiple of the vector lanes so only the last tile has a partial vector.
    """
    lanes = target.vector_lanes(p.elem_bytes)
    n = len(p.loops)
    tile = [0] * n                      # 0 = whole
    par = [d for d in range(n) if p.iterators[d] == "parallel"]
    # e.g. fused producers reducing along the root's inner dim (row softmax/RMSNorm): whole rows stay in a
    # tile even when one row exceeds the budget
    par = [d for d in par if d not in keep]
    if not par:
        return tile
    # Start from the smallest tile: all parallel dims 1, then grow from the innermost parallel dim out.
    for d in par:
        tile[d] = 1
    def fits(t):
        if size is not None:
            return size([x if x != p.loops[d] else 0 for d, x in enumerate(t)]) <= tile_budget
        return _footprint(p, t) + producer_bytes * _share(p, t) <= tile_budget

    if not fits(tile):
        return tile                     # even one row is too big; tile as small as possible
    cap_elems = tile_elems or 0
    pdims = [d for d in range(n) if p.iterators[d] == "parallel"]   # incl. the dims kept whole
    if not cap_elems and threads > 1:
        # enough tiles to spread over the threads (and pipeline), but not tiles so small that loop
        # overhead dominates
        total = 1
        for d in pdims:
            total *= p.loops[d]
        cap_elems = max(MIN_TILE_ELEMS, total // (4 * threads))
    for d in reversed(par):
        lo, hi = 1, p.loops[d]
        while lo < hi:                  # binary search the largest size that fits
            mid = (lo + hi + 1) // 2
            tile[d] = mid
            elems = 1
            for dd in pdims:
                elems *= tile[dd] if dd in par else p.loops[dd]
            if fits(tile) and (not cap_elems or elems <= cap_elems):
                lo = mid
            else:
                hi = mid - 1
        tile[d] = lo
        if lo < p.loops[d]:
            # the vectorized dim (innermost, or j of a contraction) in whole vectors: only the last tile
            # has a partial vector
            vec_d = n - 2 if (n >= 3 and p.iterators[-1] == "reduction" and p.iterators[-2] == "parallel") else n - 1
            if d == vec_d and lo >= lanes:
                tile[d] = lo - lo % lanes
            break
    return [0 if t == p.loops[d] else t for d, t in enumerate(tile)]


# Cost weights of the contraction tile search: a thread moves ~8 B per cycle between DDR and TCM and does one
# vector of multiply-adds per cycle, so a tile costs (bytes it holds) / 8 + (iterations) / lanes cycles.
COPY_BYTES_PER_CYCLE = 8
# A B^T operand that the contract stage packs (nn.Linear's weight read [n, k]) is transposed into the
# packing buffer by every tile that reads it, a strided read, shuffles and a store before the micro-kernel
# reads it again, where A is read by the micro-kernel in place: its bytes count this many times. With 1,
# square tiles won (the MLP's 256x256x1024 down projection: 64 x 64 on 16 threads, each weight panel
# transposed by 4 row tiles); measured at 1 thread on a 16-thread build (Zen 4, AVX-512), 128 x 32 tiles
# ran 6% and 256 x 16 8% faster over the MLP, and each thread transposes half the panel columns.
PACKED_BT_WEIGHT = 4


def packed_bt_operands(plan: "Plan", root: OpPlan, target: Target, options: Options) -> frozenset:
    """(op id, operand index) of the group's B^T operands that the contract stage will transpose into its
    packing buffer per tile: an input of a contraction whose innermost index is a reduction loop and that
    also spans the output's innermost loop (at least a vector of it: narrower ones are dot products,
    plan._dot_form). Empty where contract does not run (no FMA, vectorize or register_tiling off)."""
    if not (target.fma and options.vectorize and options.register_tiling):
        return frozenset()
    out = set()
    for q in group_members(plan, root):
        if not is_contraction(q) or len(q.operands) <= q.n_ins:
            continue
        res = q.operands[q.n_ins]
        n = res.dims[-1] if res.dims else None
        if n is None or q.loops[n] < target.vector_lanes(q.elem_bytes):
            continue
        for k, o in enumerate(q.operands[:q.n_ins]):
            last = o.dims[-1] if o.dims else None
            if last is not None and q.iterators[last] == "reduction" and n in o.dims:
                out.add((q.id, k))
    return frozenset(out)


def is_contraction(p: OpPlan) -> bool:
    """A reduction whose inputs do not all span its parallel loops (matmul, conv): tiles trade reuse."""
    return _misses_parallel(p.iterators, [p.footprint_dims[k] for k, o in enumerate(p.operands[:p.n_ins])
                                          if o.shape])


def generic_is_contraction(op) -> bool:
    """is_contraction for a linalg.generic op itself (before planning: the fusion stage)."""
    from torch_mlir import ir
    if op.name != "linalg.generic":
        return False
    _, iters, _, dims, _ = generic_info(op)
    n_in = len(op.operands) - len(op.results)
    return _misses_parallel(iters, [dims[i] for i in range(n_in)
                                    if isinstance(op.operands[i].type, ir.RankedTensorType)])


def _misses_parallel(iterators, input_dims) -> bool:
    """A reduction with an input (its loop dims given) that misses some parallel loop."""
    if "reduction" not in iterators:
        return False
    par = {d for d, it in enumerate(iterators) if it == "parallel"}
    return any(not par <= set(dims) for dims in input_dims)


def choose_reuse_tile(p: OpPlan, target: Target, tile_budget: int, threads: int, keep: set[int], size,
                      work: int, packed=None, at_least: dict | None = None) -> list[int]:
    """TCM tile of a group holding a contraction: the tile whose per-thread critical path is shortest.

    Growing one dim of a matmul tile re-reads less of the other operand, so "innermost whole first" (right
    for elementwise chains, where every tile size moves the same bytes) picks 1-row tiles that reload the
    whole weight slice per row. Candidates are powers of two, whole dims and even splits over the threads;
    each is costed as ceil(tiles / threads) x (its bytes / copy rate + the full tile's iterations / lanes,
    partial vectors counted whole), so tiles are both large (reuse) and numerous enough
    to keep every thread busy. `packed(tile)`: the bytes of the tile's B^T operands (packed_bt_operands),
    charged PACKED_BT_WEIGHT times. `at_least`: {loop: the smallest tile along it} (or the whole loop)."""
    import itertools
    lanes = target.vector_lanes(p.elem_bytes)
    n = len(p.loops)
    vec_d = n - 2 if (n >= 3 and p.iterators[-1] == "reduction" and p.iterators[-2] == "parallel") else n - 1
    par = [d for d in range(n) if p.iterators[d] == "parallel" and d not in keep and p.loops[d] > 1]
    narrow_min = lanes if target.fma and not target.scratchpad else 0
    cands = []
    for d in par:
        full = p.loops[d]
        # even splits over the threads (and twice as many) too: 33 rows on 2 threads as 17 + 16, where powers
        # of two give 32 + 1 or 16 + 16 + 1; the vectorized dim's rounded up to whole vectors
        step = lanes if d == vec_d else 1
        even = {min(full, -(-(-(-full // j)) // step) * step) for j in {threads, 2 * threads} if j > 1}
        c = {full} | even | {1 << i for i in range(full.bit_length()) if 1 << i < full}
        if d == vec_d and narrow_min:
            # the contract stage register-blocks only tiles of at least a vector of columns; a narrower
            # one falls back to plain vectorization (~6x slower per MAC), which the cost here (partial
            # vectors counted whole: equal iterations, fewer bytes) cannot see. 128 columns on 16 threads
            # took 8-column tiles whenever the rows were kept whole (LLaMA's k/v projections).
            c = {t for t in c if t >= narrow_min} or c
        if at_least and d in at_least:
            c = {t for t in c if t >= min(at_least[d], full)}
        cands.append(sorted(c))
    best, best_cost = None, None
    for combo in itertools.product(*cands):
        tile = [0] * n
        tiles = 1
        frac = 1.0
        for d, t in zip(par, combo):
            tile[d] = 0 if t == p.loops[d] else t
            tiles *= -(-p.loops[d] // t)
            frac *= t / p.loops[d]
        b = size(tile)
        if b > tile_budget and best is not None:
            continue
        iters = work * frac               # the largest (full) tile's: an uneven split's critical path
        if vec_d in par:                  # a vectorized dim not a multiple of the lanes wastes vector slots
            t = combo[par.index(vec_d)]
            iters *= -(-t // lanes) * lanes / t
        moved = b + ((PACKED_BT_WEIGHT - 1) * packed(tile) if packed is not None else 0)
        cost = -(-tiles // max(1, threads)) * (moved / COPY_BYTES_PER_CYCLE + iters / lanes)
        key = (b > tile_budget, cost)
        if best_cost is None or key < best_cost:
            best, best_cost = tile, key
    return best if best is not None else [0] * n


def _packed_bytes(plan: "Plan", root: OpPlan, target: Target, options: Options):
    """`packed` of choose_reuse_tile for this group, or None: no B^T operand the contract stage packs, or
    chained contractions (attention: its tile keeps the scores in cache, K^T resident)."""
    bt = packed_bt_operands(plan, root, target, options)
    if not bt or chained_contractions(group_members(plan, root)):
        return None
    return lambda t: group_tcm_bytes(plan, root, t) - group_tcm_bytes(plan, root, t, bt)


def _is_row_gather(op) -> bool:
    from .transforms.gather import row_gather
    return row_gather(op)


def choose_vec_tile(p: OpPlan, target: Target) -> list[int]:
    """Innermost parallel loop by the vector lanes, all others 1."""
    lanes = target.vector_lanes(p.elem_bytes)
    n = len(p.loops)
    if n == 0:
        return []
    tile = [1] * n
    if target.fma and _dot_form(p, lanes):
        tile[-1] = lanes
        return tile
    if p.iterators[-1] == "reduction" and n >= 3 and p.iterators[-2] == "parallel" and is_contraction(p):
        # contraction (i, j, k): j by lanes, i and k by 1, so each step is one broadcast-FMA and the
        # accumulator's transfers hoist out of the k loop
        tile[-2] = lanes
        return tile
    tile[-1] = lanes
    return tile


def _dot_form(p: OpPlan, lanes: int) -> bool:
    """A contraction with fewer output columns than a vector whose inputs both run along the reduction
    loop k innermost (an nn.Linear with few outputs reading its weight [n, k] in place, which
    contract.fold_transposes arranges): vectorized along k, as dot products with vector partial sums,
    instead of along the columns with a strided gather of the weight. FMA targets (the contract stage's)."""
    n = len(p.loops)
    if n < 3 or p.iterators[-1] != "reduction" or p.iterators[-2] != "parallel" or not is_contraction(p):
        return False
    ins = [o for o in p.operands[:p.n_ins] if o.shape]
    return p.loops[-2] < lanes and p.loops[-1] >= lanes and len(ins) == 2 \
        and all(o.dims and o.dims[-1] == n - 1 for o in ins)


def narrowed_vector(op, vec: list[int], target: Target) -> list[int]:
    """HVX: an elementwise integer op that narrows (e.g. i32 in, i8 out) steps by a full vector of its
    narrowest element: 128 int8 results are 4 i32 vectors packed into one by vpack, then one aligned store.
    Lanes of the widest element (32 of i32) would leave 32 bytes per step, which LLVM narrows through
    memory with scalar vtrunehb."""
    from torch_mlir import ir
    iters = [str(a).split("<")[-1].rstrip(">") for a in ir.ArrayAttr(op.attributes["iterator_types"])]
    if any(i != "parallel" for i in iters):
        return vec
    widths = [ir.ShapedType(v.type).element_type for v in op.operands
              if isinstance(v.type, (ir.RankedTensorType, ir.MemRefType))]
    if not widths or not all(isinstance(t, ir.IntegerType) for t in widths):
        return vec
    bits = [ir.IntegerType(t).width for t in widths]
    if bits[-1] >= max(bits) or bits[-1] % 8:
        return vec
    lanes = target.vector_bytes * 8 // bits[-1]
    return vec[:-1] + [lanes] if vec[-1] and vec[-1] < lanes else vec


# ---------------------------------------------------------------------------------------------- analysis

def generic_info(op):
    from torch_mlir import ir
    maps = [ir.AffineMapAttr(a).value for a in op.attributes["indexing_maps"]]
    iters = ["reduction" if "reduction" in str(a) else "parallel" for a in op.attributes["iterator_types"]]
    n = maps[0].n_dims
    loops = [None] * n
    dims_per_operand = []
    operands = []
    elem_bytes = 1
    for val, amap in zip(op.operands, maps):
        t = val.type
        dims = []
        shape = list(ir.ShapedType(t).shape) if isinstance(t, (ir.RankedTensorType, ir.MemRefType)) else []
        eb = 4
        if isinstance(t, (ir.RankedTensorType, ir.MemRefType)):
            et = ir.ShapedType(t).element_type
            eb = type_bytes(et)
            elem_bytes = max(elem_bytes, eb)
        else:
            eb = type_bytes(t)
        pos = []
        for k, e in enumerate(amap.results):
            if isinstance(e, ir.AffineDimExpr):
                d = e.position
                dims.append(d)
                pos.append(d)
                if (loops[d] is None or loops[d] < 0) and k < len(shape):
                    loops[d] = shape[k] if shape[k] >= 0 else -1     # -1: dynamic (a partial tile)
            else:
                pos.append(None)
        dims_per_operand.append(dims)
        operands.append(Operand(pos if len(pos) == len(shape) else [None] * len(shape),
                                [max(1, x) for x in shape], eb))
    return loops, iters, elem_bytes, dims_per_operand, operands


def type_bytes(t) -> int:
    from torch_mlir import ir
    if isinstance(t, ir.IntegerType):
        return max(1, t.width // 8)
    s = str(t)
    return {"f16": 2, "bf16": 2, "f32": 4, "f64": 8, "index": 8}.get(s, 4)   # index: 8 covers 32- and 64-bit targets


def build(module, target: Target, options: Options, tcm_scale: dict | None = None) -> Plan:
    """Tag every linalg.generic with an id and decide its role, TCM tile and vector tile.

    `tcm_scale` (root id -> factor) corrects the TCM model where the generated code was measured to take
    more than modelled (the driver re-plans once it has measured)."""
    from torch_mlir import ir
    from .errors import UnsupportedError
    from .ir import funcs, walk

    from .conversion.ttir import GRID_ATTR
    grid = GRID_ATTR in module.operation.attributes
    budget, per_tile = tile_budget(target, options)
    plan = Plan(target, options, budget, per_tile, max_threads(target, options))
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
        loops, iters, eb, dims, operands = generic_info(op)
        if any(n is None or n < 0 for n in loops):
            raise UnsupportedError("dynamic or unknown loop range", stage="plan", op=op.name,
                                   loc=str(op.location))
        p = OpPlan(len(plan.ops), op.name, loops, iters, eb, dims,
                   body_ops=max(1, len(op.regions[0].blocks[0].operations) - 1),
                   body_cost=body_cost(op, options),
                   operands=operands, n_ins=len(op.operands) - len(op.results))
        op.attributes[ID_ATTR] = ir.IntegerAttr.get(i64, p.id)
        plan.ops[p.id] = p
        by_op[op] = p
    # every op is known and loops/body_ops do not change: mt_threshold reads this sum instead of summing per
    # call (it is asked once or twice per root)
    plan.work = sum(q.work() for q in plan.ops.values())
    ids = {op: by_op[op].id for op in generics}
    for op in generics:                    # which operands another generic produces
        for o, v in zip(by_op[op].operands, op.operands):
            owner = v.owner
            owner = getattr(owner, "opview", owner) if not isinstance(owner, ir.Block) else None
            src = next((q for q in generics if owner is not None and q == owner), None)
            o.src = ids[src] if src is not None else None

    def consumers(op):
        return [u.owner for r in op.results for u in r.uses]

    def group(u):
        q = by_op[u]
        return q.root if q.role == "producer" else q.id

    for op in reversed(generics):          # consumers are decided before their producers
        p = by_op[op]
        users = consumers(op)
        # A producer read by two groups would be fused into the first one's tile loop only: upstream's
        # fuse_into_containing_op clones it there, and the original stays for the other group, a whole-size
        # op outside any tile loop (no threads; the GPT-2 block's output projection + residual ran twice,
        # once of them serially). Read by several groups, it is a root of its own: computed once. (Fills
        # are free to recompute, and the fusion stage gives each use its own anyway.)
        shared = len({group(u) for u in users if u in ids}) > 1 and any(
            isinstance(v.type, ir.RankedTensorType) for v in list(op.operands)[:p.n_ins])
        if options.fusion and users and not shared and \
                all(getattr(u, "name", "") == "linalg.generic" and u in ids for u in users):
            p.role = "producer"
            first = by_op[users[0]]
            p.root = first.root if first.role == "producer" else first.id
            if options.tcm_tiling:
                _unfuse_if_too_big(p, plan, target, options)
        else:
            p.role = "root"
        # Gathers (tensor.extract at computed indices, e.g. Triton loads through index tensors) become
        # memref.load after bufferization, which structured vectorization cannot handle: they stay scalar,
        # but for row gathers (an embedding's rows read along the innermost loop: transforms/gather.py)
        gather = any(o.operation.name == "tensor.extract" for o in op.regions[0].blocks[0].operations)
        row = gather and _is_row_gather(op)
        p.vec_tile = choose_vec_tile(p, target) if options.vectorize and (row or not gather) else []
        if row and p.vec_tile:
            # vectors of the rows' (the output's) elements, not of the i64 ids that pick the rows
            p.vec_tile[-1] = target.vector_lanes(p.operands[-1].elem_bytes)
        if p.vec_tile and target.hvx and not grid:      # (the grid pipeline has no HVX stage)
            p.vec_tile = narrowed_vector(op, p.vec_tile, target)
    blocks = _conv_blocks(generics, by_op, options.fusion)
    epilogues = _epilogue_sources(generics, by_op) if options.fusion and options.conv_epilogue else {}
    _set_group_costs(plan)                 # the roles are final here (but for plan_epilogue's)

    def plan_root(p):
        if p.role == "root" and options.tcm_tiling and not register_blocked(p, plan, target, options):
            plan_root_tcm(p, plan, target, options, (tcm_scale or {}).get(p.id, 1.0))
        elif p.role == "root" and options.multithread:
            plan_root_threads(p, plan, target, options)
            if options.tcm_tiling and p.threads > 1:
                p.tcm_note = "thread tiles (register-blocked contraction: the contract stage blocks for caches)"
    for p in plan.ops.values():
        if p.id in blocks:
            plan_conv_blocks(p, blocks[p.id], plan, target, options)
            continue
        left = plan_epilogue(p, epilogues[p.id], plan) if p.id in epilogues else None
        if left is None:
            plan_root(p)
            continue
        _set_group_costs(plan)
        for q in left:                     # (planned before as producers: ids below the consumer's)
            plan_root(q)
    return plan


def _conv_blocks(generics, by_op, fuse: bool) -> dict:
    """conv-im2col's matmuls over row blocks (attrs.CONV_BLOCKS): root id -> its leading block loops. With
    `fuse`, their window copies (attrs.WINDOW_COPY, read through a collapse_shape) become producers fused
    into them. (Tiled by blocks either way: contract blocks the matmul one block at a time.)"""
    from torch_mlir import ir
    from . import attrs
    out = {}
    for op in generics:
        if attrs.CONV_BLOCKS not in op.attributes:
            continue
        p = by_op[op]
        p.role, p.root = "root", None
        out[p.id] = ir.IntegerAttr(op.attributes[attrs.CONV_BLOCKS]).value
        view = op.operands[1].owner
        view = getattr(view, "opview", view)
        if not fuse:
            continue
        if isinstance(view, ir.Block) or view.operation.name != "tensor.collapse_shape":
            continue
        copy = view.operands[0].owner
        copy = getattr(copy, "opview", copy)
        if isinstance(copy, ir.Block) or attrs.WINDOW_COPY not in copy.operation.attributes \
                or copy not in by_op or len(list(copy.results[0].uses)) != 1:
            continue
        q = by_op[copy]
        q.role, q.root = "producer", p.id
    return out


def _epilogue_sources(generics, by_op) -> dict:
    """conv-epilogue's consumers (attrs.EPILOGUE): root id -> [(conv matmul id, the reshapes from the matmul's
    result to the consumer's operand as (kind, groups, source shape, result shape), operand index)]."""
    from torch_mlir import ir
    out = {}
    for e in generics:
        if attrs.EPILOGUE not in e.attributes:
            continue
        found = []
        for k, v in enumerate(list(e.operands)[:by_op[e].n_ins]):
            chain = []
            while True:
                o = v.owner
                o = None if isinstance(o, ir.Block) else getattr(o, "opview", o)
                if o is None or len(list(v.uses)) != 1:
                    break
                name = o.operation.name
                if name in ("tensor.expand_shape", "tensor.collapse_shape"):
                    groups = [[ir.IntegerAttr(i).value for i in ir.ArrayAttr(g)]
                              for g in ir.ArrayAttr(o.operation.attributes["reassociation"])]
                    chain.insert(0, ("expand" if name == "tensor.expand_shape" else "collapse", groups,
                                     list(ir.RankedTensorType(o.operands[0].type).shape),
                                     list(ir.RankedTensorType(v.type).shape)))
                    v = o.operands[0]
                    continue
                if name == "linalg.generic" and attrs.CONV_MATMUL in o.operation.attributes and o in by_op:
                    found.append((by_op[o].id, chain, k))
                break
        if found:
            out[by_op[e].id] = found
    return out


def _reshaped_tile(tile: list[int], chain) -> list[int] | None:
    """A tile (per dim, 0 = whole) of a tensor, as the tile of the same elements in its view through `chain`
    (conv-epilogue's reshapes, see _epilogue_sources); None where a tile's elements are no box there."""
    for kind, groups, src, dst in chain:
        norm = [0 if not t or t >= n else t for t, n in zip(tile, src)]
        new = []
        if kind == "expand":                          # src dim j -> dst dims groups[j]
            for j, g in enumerate(groups):
                t, sizes = norm[j], [dst[d] for d in g]
                if not t:
                    new += [0] * len(g)
                    continue
                for i in range(len(g) - 1, -1, -1):   # the innermost dim whose box holds the tile
                    inner = 1
                    for x in sizes[i + 1:]:
                        inner *= x
                    a = t // inner
                    # (a partial last tile only where no dim outside i is tiled: i is the outermost of extent > 1)
                    if t % inner == 0 and a <= sizes[i] and (sizes[i] % a == 0 or all(x == 1 for x in sizes[:i])):
                        new += [1] * i + [0 if a == sizes[i] else a] + [0] * (len(g) - i - 1)
                        break
                else:
                    return None
        else:                                         # src dims groups[j] -> dst dim j
            for g in groups:
                ts = [norm[d] for d in g]
                tiled = [i for i, t in enumerate(ts) if t]
                if not tiled:
                    new.append(0)
                    continue
                last = tiled[-1]
                if any(not ts[i] and src[g[i]] > 1 for i in range(last)) or \
                        any(ts[i] != 1 and src[g[i]] > 1 for i in range(last)):
                    return None                       # a whole (or wider) dim before the last tiled one
                if any(ts[i] == 1 and src[g[i]] > 1 for i in range(last)) and src[g[last]] % ts[last]:
                    return None                       # an uneven tile under tiled-by-1 dims: no uniform tiling
                inner = 1
                for d in g[last + 1:]:
                    inner *= src[d]
                new.append(ts[last] * inner)
        tile = [0 if not t or t >= n else t for t, n in zip(new, dst)]
    return tile


def _inverse(chain):
    return [("collapse" if k == "expand" else "expand", g, dst, src) for k, g, src, dst in reversed(chain)]


def _tiles(tile: list[int], shape: list[int]) -> int:
    n = 1
    for t, x in zip(tile, shape):
        n *= -(-x // t) if t and t < x else 1
    return n


def plan_epilogue(e: OpPlan, sources, plan: Plan) -> list[OpPlan] | None:
    """conv-epilogue: the consumer `e` of conv matmuls (already planned as roots) takes the largest one's
    tiles, mapped through the reshapes between them, and the matmuls whose tiles those are join its group
    (with their fills and window copies); tcm-tiling fuses them into its tile loop. Returns the producers
    of `e` that leave its group to be planned as roots: those that read tensors and do not follow every
    tiled loop (BatchNorm's per-channel 1 / sqrt(var + eps) under row blocks), which tiles would compute
    again (plan.kept_whole's rule; the consumer's own channel tiles kept it in before). None (every op stays as it was) where the tiles are no boxes in the other's view, or the
    matmul is one whole tile."""
    if e.role != "root":
        return None
    srcs = [(plan.ops[cid], chain, k) for cid, chain, k in sources if plan.ops[cid].role == "root"]
    if not srcs:
        return None
    c, chain, k = max(srcs, key=lambda s: s[0].work())
    if not any(c.tcm_tile):
        return None                                   # one tile: nothing to share
    out = c.operands[c.n_ins]
    c_tile = [c.tcm_tile[d] if d is not None else 0 for d in out.dims]
    view = _reshaped_tile(c_tile, chain)
    opnd = e.operands[k]
    if view is None or any(d is None for d in opnd.dims) or len(view) != len(opnd.dims):
        return None
    tile = [0] * len(e.loops)
    for t, d in zip(view, opnd.dims):
        tile[d] = 0 if not t or t >= e.loops[d] else t
    if _tiles(tile, e.loops) != _tiles(c_tile, out.shape):
        return None
    members = group_members(plan, e)
    deps = _root_deps(plan, e, members)
    tiled = {d for d, t in enumerate(tile) if t and e.loops[d] > 1}
    left = [q for q in members[1:] if q.reads_tensors() and not tiled <= set().union(*deps[q.id])]
    if any(o.src in {m.id for m in members} for q in left for o in q.operands[:q.n_ins]):
        return None                                   # (one with producers of its own: keep it simple)
    joined = []
    for q, qchain, qk in srcs:
        qo = e.operands[qk]
        if any(d is None for d in qo.dims):
            continue
        q_view = [tile[d] for d in qo.dims]          # the tile as q's view's, then as q's result's
        q_tile = _reshaped_tile(q_view, _inverse(qchain))
        if q_tile is None or _reshaped_tile(q_tile, qchain) != [0 if not t or t >= n else t
                                                                for t, n in zip(q_view, qo.shape)]:
            continue
        joined.append(q)
    if c not in joined:
        return None
    for q in left:
        q.role, q.root = "root", None
    e.tcm_tile, e.threads = tile, c.threads
    e.tile_bytes = c.tile_bytes + _footprint(e, tile)
    e.tcm_note = f"conv epilogue: #{c.id}'s tiles, {', '.join(f'#{q.id}' for q in joined)} fused in"
    for q in joined:
        for m in group_members(plan, q):
            m.role, m.root = "producer", e.id
            m.tcm_tile, m.threads, m.tile_bytes, m.tcm_note = [], 1, 0, ""
    return left


def plan_conv_blocks(p: OpPlan, k: int, plan: Plan, target: Target, options: Options) -> None:
    """A conv-im2col matmul over row blocks: one tile per block (its k leading loops), the block's window
    copy computed inside it (a cache tile's worth, conv._block_rows), the tiles spread over the threads."""
    p.tcm_tile = [1] * k + [0] * (len(p.loops) - k)
    blocks = 1
    for n in p.loops[:k]:
        blocks *= n
    nthr = max_threads(target, options)
    m = p.loops[k] if k < len(p.loops) and p.iterators[k] == "parallel" else 0
    if blocks < nthr and m:
        # fewer blocks than threads (conv._block_rows keeps at least MIN_BLOCK_VECTORS of pixels per block):
        # the output channels (the matmul's rows) split too, in divisors of M that are multiples of the
        # micro-kernel's rows: the largest giving a tile per thread, else the smallest. Each such tile
        # recomputes its block's window copy (K x pixels, against M/split x K x pixels MACs). Only even
        # splits: equal tiles per thread and no masked remainder tile (a partial one compiles and is correct:
        # test_convnet_host.test_uneven_channel_tiles_match_torch forces 67 as 23 + 23 + 21).
        sizes = [t for t in range(MIN_CONTRACTION_ROWS, m, MIN_CONTRACTION_ROWS) if m % t == 0]
        enough = [t for t in sizes if blocks * (m // t) >= nthr]
        if enough or sizes:
            p.tcm_tile[k] = max(enough) if enough else min(sizes)
    p.threads = choose_threads(p, plan, target, options)
    # the matmul's slices, the block's copy among them (group_tcm_bytes cannot see the copy through the
    # collapse_shape and would count it whole)
    p.tile_bytes = _footprint(p, p.tcm_tile)
    p.tcm_note = "row-block tiles (conv-im2col: the block's window copy fused in)"


def register_blocked(p: OpPlan, plan: Plan, target: Target, options: Options) -> bool:
    """A host contraction that the contract stage blocks for registers and caches itself (packed B panels
    in L2, MR x NR micro-tiles): it gets thread tiles only, as with tcm_tiling off. Cache-sized tiles with
    the whole k range are a few rows and columns, whose B panels are re-read from memory for every tile."""
    group = group_members(plan, p)
    return (not target.scratchpad and target.fma and options.vectorize and options.register_tiling
            and any(is_contraction(q) for q in group)
            and not (chained_contractions(group) and group_tcm_bytes(plan, p, [0] * len(p.loops)) > plan.tile_budget))


def chained_contractions(group: list[OpPlan]) -> bool:
    """A contraction that consumes, through the group, another's result (attention's S = Q K^T feeding
    softmax and P V): the group is fused to keep the first's result tile in cache, so unless the whole
    problem fits one tile it takes cache tiles (row blocks), not only thread tiles, whatever the thread
    count. Side-by-side contractions (SwiGLU's gate and up feeding one product) are not chained."""
    by_id = {q.id: q for q in group}

    def feeds_from_contraction(q, seen):
        for o in q.operands[:q.n_ins]:
            src = by_id.get(o.src)
            if src is None or src.id in seen:
                continue
            seen.add(src.id)
            if is_contraction(src) or feeds_from_contraction(src, seen):
                return True
        return False
    return any(is_contraction(q) and feeds_from_contraction(q, set()) for q in group)


def plan_root_threads(p: OpPlan, plan: Plan, target: Target, options: Options) -> None:
    """tcm_tiling off: the root's parallel loops are still split into tiles for the threads (no size budget,
    nothing staged), so threading does not depend on TCM tiles. Below the threshold it stays one loop."""
    nthr = max_threads(target, options)
    keep = kept_whole(plan, p)
    size = lambda t: group_tcm_bytes(plan, p, t)                      # noqa: E731
    unbounded = 1 << 62
    group = group_members(plan, p)
    if not options.tile_elems and any(is_contraction(q) for q in group):
        work = sum(q.work() for q in group)
        p.tcm_tile = choose_reuse_tile(p, target, unbounded, nthr, keep, size, work,
                                       _packed_bytes(plan, p, target, options))
    else:
        p.tcm_tile = choose_tcm_tile(p, target, unbounded, options.tile_elems or _costly_tile_cap(p, plan, nthr),
                                     0, nthr, keep, size=size)
    p.threads = choose_threads(p, plan, target, options)
    if p.threads <= 1:
        p.tcm_tile = [0] * len(p.loops)       # one thread: the loop nest stays whole
    else:
        p.tile_bytes = size(p.tcm_tile)
        p.tcm_note = "thread tiles (tcm_tiling off: nothing staged)"


def _unfuse_if_too_big(p: OpPlan, plan: Plan, target: Target, options: Options) -> None:
    """Fusion is bounded by TCM: a producer whose joining would grow the group's smallest tile (with the
    loops kept whole so nothing is recomputed) past one thread's tile budget becomes a root of its own,
    its result an intermediate in DDR. Without this, a Linear feeding a Linear fuses into one group whose
    every tile holds both weight matrices (a 256-1024-256 MLP: 4 MiB per row tile, one thread)."""
    root = plan.ops[p.root]
    if not p.reads_tensors():
        return                                # a fill: tile-local, it replaces a copy of its result
    size = lambda t: group_tcm_bytes(plan, root, t)                     # noqa: E731
    limit = tile_budget(target, options, False)[1]
    fused = smallest_tile_bytes(plan, root, target, size)
    if fused <= limit:
        return
    if cache_resident(plan, root):
        # no scratchpad: what every tile re-reads stays in the cache, so only the streamed part is a
        # tile's; attention's S = Q K^T row block joins the softmax and the P V matmul this way
        streamed, resident = split_bytes(plan, root, choose_tcm_tile(root, target, 0, keep=kept_whole(plan, root),
                                                                     size=size))
        if streamed <= limit and resident + _upstream_resident(plan, p) <= target.cache_resident_bytes:
            return
    p.role, p.root = "root", None
    if fused <= smallest_tile_bytes(plan, root, target, size):   # over budget anyway; p does not grow it
        p.role, p.root = "producer", root.id
        return
    p.tcm_note = f"not fused into #{root.id}: its smallest tile would hold {fused} B > {limit} B"


# Rows of the contract stage's register micro-kernel (its MAX_MR): a chained group's row block below it
# leaves the MR x NR FMA tile partly idle (one row is not register-blocked at all).
MIN_CONTRACTION_ROWS = 8


def _contraction_rows_loop(p: OpPlan, keep: set[int]) -> int | None:
    """The loop a chained group's micro-kernel rows run along: its innermost parallel loop that a tile may
    cut (attention's query rows; the innermost, the head dim, is kept whole)."""
    free = [d for d, it in enumerate(p.iterators) if it == "parallel" and d not in keep and p.loops[d] > 1]
    return free[-1] if free else None


def _at_least_micro_kernel_rows(p: OpPlan, size, per_tile: int) -> None:
    """Grow the innermost tiled loop of a chained group's tile to MIN_CONTRACTION_ROWS where it fits: the
    reuse cost is nearly flat in the row count there (the re-read operands are resident), and ties went to
    1-row tiles (the GPT-2 block's attention at (2, 128, 256))."""
    tiled = [d for d, t in enumerate(p.tcm_tile) if t]
    if not tiled:
        return
    d = tiled[-1]
    want = min(MIN_CONTRACTION_ROWS, p.loops[d])
    if p.tcm_tile[d] >= want:
        return
    t = list(p.tcm_tile)
    t[d] = want if want < p.loops[d] else 0
    if size(t) <= per_tile:
        p.tcm_tile = t


def _upstream_resident(plan: Plan, p: OpPlan) -> int:
    """Bytes the contractions feeding `p` (through generics not yet planned) would add as resident operands
    if they joined too: their inputs that miss their output's row loop (attention's K^T under S = Q K^T).
    A producer joins on the resident rule only if its whole chain can, else it would split a matmul from its
    epilogue (SwiGLU's silu(gate) * up into the down projection, the gate and up weights too large to follow)."""
    total, seen, todo = 0, set(), [p]
    while todo:
        q = todo.pop()
        for o in q.operands[:q.n_ins]:
            src = plan.ops.get(o.src) if o.src is not None else None
            if src is None or src.id in seen or src.id > p.id:
                continue
            seen.add(src.id)
            if is_contraction(src):
                out = src.operands[src.n_ins]
                rows = out.dims[-2] if len(out.dims) >= 2 else None
                ins = [i for i in src.operands[:src.n_ins] if i.shape]
                # batch loops (in every operand): a tile holds one batch's slice
                batch = {d for d in out.dims if d is not None and all(d in i.dims for i in ins)}
                for i in ins:
                    if rows not in i.dims:
                        n = i.elem_bytes
                        for d, x in zip(i.dims, i.shape):
                            n *= 1 if d in batch else x
                        total += pool_bytes(n)
            else:
                todo.append(src)
    return total


def smallest_tile_bytes(plan: Plan, root: OpPlan, target: Target, size, keep: set[int] | None = None) -> int:
    """`size` of the group's smallest legal tile: free parallel loops 1, the loops kept whole whole."""
    keep = kept_whole(plan, root) if keep is None else keep
    return size(choose_tcm_tile(root, target, 0, keep=keep, size=size))


def plan_root_tcm(p: OpPlan, plan: Plan, target: Target, options: Options, scale: float = 1.0) -> None:
    """TCM tile, threads and double buffering of one root, so that threads x one thread's TCM set fits.

    Try the planned mode (DB: two sets per thread); if even the smallest legal tile does not fit twice,
    drop DB for this op; if it does not fit once, cut the threads to what fits; if one tile alone exceeds
    the budget it runs anyway (the runtime's pool falls back to the heap, counted in tcm_failed)."""
    nthr = max_threads(target, options)
    keep = kept_whole(plan, p)
    size = lambda t: int(group_tcm_bytes(plan, p, t) * scale)         # noqa: E731
    resident = cache_resident(plan, p)
    if resident:
        size = lambda t: _streamed_bytes(plan, p, t)                 # noqa: E731
    budget = plan.budget
    db = db_planned(options, target)
    smallest = smallest_tile_bytes(plan, p, target, size, keep)
    notes = [f"model x{scale:.2f}: the generated code measured larger"] if scale != 1.0 else []
    if db and 2 * smallest * nthr > budget:
        db = False
        notes.append(f"DB off: smallest tile set {smallest} B x2 x {nthr} threads > {budget} B")
    per_tile = tile_budget(target, options, db)[1]
    group = group_members(plan, p)
    if (not target.scratchpad and target.reduction_tile_bytes and not options.tcm_budget
            and not options.tile_elems and any("reduction" in q.iterators for q in group)
            and not any(is_contraction(q) for q in group)):
        # a row-wise reduction group makes several passes over its tile (statistics, then the output):
        # sized for L1 they stay there, sized for L2 every pass streams from L2 (measured: LayerNorm,
        # softmax, RMSNorm 4096x1024 f32 at 1 thread 10-25% faster with one-row tiles than 14-row ones)
        per_tile = min(per_tile, target.reduction_tile_bytes)
    work = sum(q.work() for q in group)
    busy = nthr if options.multithread and work >= mt_threshold(plan, options) else 1
    if not options.tile_elems and any(is_contraction(q) for q in group):
        packed = _packed_bytes(plan, p, target, options)
        p.tcm_tile = choose_reuse_tile(p, target, per_tile, busy, keep, size, work, packed)
    else:
        p.tcm_tile = choose_tcm_tile(p, target, per_tile, options.tile_elems or _costly_tile_cap(p, plan, nthr),
                                     0, nthr, keep, size=size)
    if resident and target.fma and chained_contractions(group):
        chosen = p.tcm_tile
        _at_least_micro_kernel_rows(p, size, per_tile)
        if not options.tile_elems and _tiles(p.tcm_tile, p.loops) < min(busy, _tiles(chosen, p.loops)):
            # grown, the rows left threads idle: LLaMA's causal segments (2 x 4 heads x 16 rows) went from
            # 16 tiles of 2 rows to 4 of 8, on 4 of 16 threads (16 threads 14% slower than without the
            # segments); rows of a micro-kernel, the threads' tiles cut from the other loops instead
            rows = _contraction_rows_loop(p, keep)
            t = choose_reuse_tile(p, target, per_tile, busy, keep, size, work, packed,
                                  at_least={rows: MIN_CONTRACTION_ROWS})
            if size(t) <= per_tile and _tiles(t, p.loops) > _tiles(p.tcm_tile, p.loops):
                p.tcm_tile = t
    p.tile_bytes = size(p.tcm_tile)
    if resident and p.tile_bytes < group_tcm_bytes(plan, p, p.tcm_tile):
        notes.append(f"+ {split_bytes(plan, p, p.tcm_tile)[1]} B re-read by every tile (cache-resident)")
    p.double_buffer = db
    p.tcm_per_thread = p.tile_bytes * (2 if db else 1)
    p.threads = choose_threads(p, plan, target, options)
    if not target.scratchpad:                 # cache tiles: each core has its own, nothing to cut
        p.tcm_per_thread = 0
        p.tcm_note = "; ".join(([p.tcm_note] if p.tcm_note else []) + notes)
        return
    if p.threads > 1 and p.tcm_per_thread * p.threads > budget:
        fit = max(1, budget // p.tcm_per_thread)
        notes.append(f"threads {p.threads} -> {fit}: {p.tcm_per_thread} B/thread")
        p.threads = fit
    if p.tcm_per_thread * p.threads > budget:
        notes.append(f"one tile set ({p.tcm_per_thread} B) exceeds the TCM budget: heap fallback")
    p.tcm_note = "; ".join(([p.tcm_note] if p.tcm_note else []) + notes)


# Work (iterations x body ops) below which a loop stays single-threaded: waking the pool costs a few
# microseconds, i.e. tens of thousands of scalar ops. Option mt_threshold overrides it.
MT_THRESHOLD = 1 << 17
# In a kernel with this much work in all (a model: many parallel regions), the pool's workers spin between
# regions (the runtime's HEXMLIR_SPIN_US) and a region costs a few microseconds, no futex wake-up: the
# threshold drops to MT_THRESHOLD_WARM there (GPT-2's per-head copies of 65,536 elements, LLaMA's repeat_kv
# copies ran serially in hxk_main at 16 threads, ~20-40 us each). Small kernels keep MT_THRESHOLD.
KERNEL_WARM_WORK = 1 << 22
MT_THRESHOLD_WARM = 1 << 15
# A libm call (sin, cos, log, pow...: not made a polynomial by fast-math) costs about this many scalar ops
LIBM_WEIGHT = 16
_LIBM = {"sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "asinh", "acosh", "atanh",
         "log", "log1p", "log2", "log10", "powf", "fpowi", "cbrt", "expm1", "erfc",
         "exp", "exp2", "tanh", "erf"}
_FAST_MATH_POLY = {"exp", "exp2", "tanh", "erf"}      # fast_math.py's polynomial/rational forms


def body_cost(op, options: Options) -> int:
    """Scalar-op cost of a generic's body: each libm call LIBM_WEIGHT, every other op 1."""
    cost = 0
    for o in op.regions[0].blocks[0].operations:
        name = o.operation.name
        if name == "linalg.yield":
            continue
        fn = name[5:] if name.startswith("math.") else ""
        libm = fn in _LIBM and not (options.fast_math and fn in _FAST_MATH_POLY)
        cost += LIBM_WEIGHT if libm else 1
    return max(1, cost)


def _set_group_costs(plan: Plan) -> None:
    """Each root's body cost plus its producers' (one pass over the ops, not one per root asked)."""
    costs = {p.id: p.cost() for p in plan.ops.values() if p.role == "root"}
    for q in plan.ops.values():
        if q.role == "producer" and q.root in costs:
            costs[q.root] += q.cost()
    plan.group_costs = costs


def _group_cost(p: OpPlan, plan: Plan) -> int:
    return plan.group_costs[p.id]


def mt_threshold(plan: Plan, options: Options) -> int:
    """Work below which a root stays on one thread (see MT_THRESHOLD, KERNEL_WARM_WORK)."""
    if options.mt_threshold:
        return options.mt_threshold
    return MT_THRESHOLD_WARM if plan.work >= KERNEL_WARM_WORK else MT_THRESHOLD


def _costly_tile_cap(p: OpPlan, plan: Plan, threads: int) -> int:
    """Elements per tile for a threaded group whose body costs LIBM_WEIGHT ops or more per element (a libm
    call, a long scalar gather/mask body; 0: choose_tcm_tile's own cap): a tile of MIN_TILE_ELEMS / 8 still
    outweighs the loop overhead (LLaMA's RoPE cos/sin tables, 8,192 calls each, were one tile, never
    threaded)."""
    cost = _group_cost(p, plan)
    if threads <= 1 or cost < LIBM_WEIGHT:
        return 0
    total = iters = 1
    for d, n in enumerate(p.loops):
        iters *= n
        if p.iterators[d] == "parallel":
            total *= n
    if iters * cost < mt_threshold(plan, plan.options):
        return 0                        # stays on one thread: keep the usual tiles
    return max(MIN_TILE_ELEMS // 8, total // (4 * threads))


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
    if iters * _group_cost(p, plan) < mt_threshold(plan, options):
        return 1
    return max(1, min(options.num_threads or target.hw_threads, tiles))


def _share(p: OpPlan, tile: list[int]) -> float:
    full = tiled = 1
    for d, n in enumerate(p.loops):
        if p.iterators[d] == "parallel":
            full *= n
            tiled *= tile[d] if tile and tile[d] else n
    return tiled / full


# ------------------------------------------------------------------------------------------ the plan as IR
#
# The plan stage writes its decisions into the IR, and the later stages read them there (not from a Python
# object), so any stage can run alone on printed IR (`hexmlir opt`). Per planned op, `hexmlir.config`, a
# dictionary of typed attributes:
#   roots:     tile (TCM/cache/thread tile, 0 = whole dim), threads, tcm (tile operands staged in TCM),
#              buffers (1, or 2: ping-pong sets), vector (vector tile; empty: scalar), tile_bytes and
#              tcm_bytes (the model's bytes of one tile set and of one thread), work, note (optional)
#   producers: fused_into (the root's hexmlir.id), vector, work
# The threads stage copies its root's config onto each tile loop it makes (next to hexmlir.tile_loop), for
# the stages after vectorization, when the linalg ops are gone. Module-wide facts go in the module attribute
# `hexmlir.plan`: budget, tile_budget, threads (the compile-time bound) and the options planned with.

CONFIG_ATTR = attrs.CONFIG
PLAN_ATTR = attrs.PLAN
_ROOT_FIELDS = {"tile": list, "threads": int, "tcm": bool, "buffers": int, "vector": list, "tile_bytes": int,
                "tcm_bytes": int, "work": int}
_PRODUCER_FIELDS = {"fused_into": int, "vector": list, "work": int}


def _to_attr(v):
    from torch_mlir import ir
    if isinstance(v, bool):
        return ir.BoolAttr.get(v)
    if isinstance(v, int):
        return ir.IntegerAttr.get(ir.IntegerType.get_signless(64), v)
    if isinstance(v, str):
        return ir.StringAttr.get(v)
    if isinstance(v, (list, tuple)):
        return ir.DenseI64ArrayAttr.get([int(x) for x in v])
    if isinstance(v, dict):
        return ir.DictAttr.get({k: _to_attr(x) for k, x in v.items() if x is not None})
    raise TypeError(f"no attribute form for {v!r}")


def _from_attr(a):
    from torch_mlir import ir
    for cls, get in ((ir.BoolAttr, lambda x: x.value), (ir.IntegerAttr, lambda x: x.value),
                     (ir.StringAttr, lambda x: x.value), (ir.DenseI64ArrayAttr, list),
                     (ir.DictAttr, lambda x: {x[i].name: _from_attr(x[i].attr) for i in range(len(x))})):
        if isinstance(a, cls):
            return get(a)
    return a


def config_dict(p: OpPlan, target: Target, options: Options) -> dict:
    """One op's decisions, as `hexmlir.config` holds them."""
    if p.role == "producer":
        return {"fused_into": p.root, "vector": list(p.vec_tile), "work": p.work()}
    d = {"tile": list(p.tcm_tile) or [0] * len(p.loops), "threads": p.threads,
         "tcm": bool(target.scratchpad and options.tcm_tiling), "buffers": 2 if p.double_buffer else 1,
         "vector": list(p.vec_tile), "tile_bytes": p.tile_bytes, "tcm_bytes": p.tcm_per_thread, "work": p.work()}
    if p.tcm_note:
        d["note"] = p.tcm_note
    return d


def write(module, plan: Plan) -> None:
    """Put the plan into the IR: `hexmlir.config` on every planned op, `hexmlir.plan` on the module."""
    from .ir import ops_named
    for op in ops_named(module.operation, "linalg.generic"):
        pid = op_id(op)
        if pid is not None and pid in plan.ops:
            op.attributes[CONFIG_ATTR] = _to_attr(config_dict(plan.ops[pid], plan.target, plan.options))
    module.operation.attributes[PLAN_ATTR] = _to_attr(
        {"budget": plan.budget, "tile_budget": plan.tile_budget, "threads": plan.threads,
         "options": plan.options.key()})


MEASURED_ATTR = attrs.TCM_USAGE


def write_measured(module, usage: dict) -> None:
    """tcm-check's measurement (function -> per_thread, threads, total, roots) as a module attribute."""
    module.operation.attributes[MEASURED_ATTR] = _to_attr(usage)


def config(op) -> dict | None:
    """The `hexmlir.config` of an op (a generic, or a tile loop), as a Python dict; None if it has none."""
    attrs = op.attributes
    if CONFIG_ATTR not in attrs:
        return None
    d = _from_attr(attrs[CONFIG_ATTR])
    return d if isinstance(d, dict) else {"<not a dictionary>": True}


def config_attr(op):
    """The raw attribute (to copy it onto a loop)."""
    return op.attributes[CONFIG_ATTR] if CONFIG_ATTR in op.attributes else None


def configs(module) -> dict[int, dict]:
    """Plan id -> config of every configured generic (first instance of each id: clones share it)."""
    from .ir import ops_named
    out = {}
    for op in ops_named(module.operation, "linalg.generic"):
        pid = op_id(op)
        c = config(op)
        if pid is not None and c is not None and pid not in out:
            out[pid] = c
    return out


def module_facts(module) -> dict | None:
    """The module attribute `hexmlir.plan` as a dict (budget, tile_budget, threads, options), or None."""
    attrs = module.operation.attributes
    if PLAN_ATTR not in attrs:
        return None
    d = _from_attr(attrs[PLAN_ATTR])
    return d if isinstance(d, dict) else {}


def _analyze(module) -> tuple[list, dict]:
    """The planned generics (first instance per id) and their OpPlan analyses (no decisions)."""
    from torch_mlir import ir
    from .ir import funcs, ops_named
    generics, by_op = [], {}
    seen = set()
    for f in funcs(module):
        for op in ops_named(f, "linalg.generic"):
            pid = op_id(op)
            if pid is None or pid in seen:
                continue
            seen.add(pid)
            loops, iters, eb, dims, operands = generic_info(op)
            p = OpPlan(pid, op.name, [-1 if n is None else n for n in loops], iters, eb, dims,
                       body_ops=max(1, len(op.regions[0].blocks[0].operations) - 1),
                       operands=operands, n_ins=len(op.operands) - len(op.results))
            generics.append(op)
            by_op[op] = p
    for op in generics:
        for o, v in zip(by_op[op].operands, op.operands):
            owner = v.owner
            owner = getattr(owner, "opview", owner) if not isinstance(owner, ir.Block) else None
            src = next((q for q in generics if owner is not None and q == owner), None)
            o.src = by_op[src].id if src is not None else None
    return generics, by_op


def from_ir(module, target: Target, options: Options) -> Plan:
    """The plan as the IR states it (right after the `plan` stage): the analyses of the tagged ops, the
    decisions from their `hexmlir.config` and the module's `hexmlir.plan`. A read-only view, for
    `explain`, artifact metadata and the driver's TCM re-plan; the stages read the attributes."""
    return _view(module, target, options)[0]


def _view(module, target: Target, options: Options) -> tuple[Plan, dict]:
    facts = module_facts(module) or {}
    plan = Plan(target, options, facts.get("budget", 0), facts.get("tile_budget", 0), facts.get("threads", 1))
    generics, by_op = _analyze(module)
    for op in generics:
        p, c = by_op[op], config(op) or {}
        p.vec_tile = list(c.get("vector", []))
        if "fused_into" in c:
            p.role, p.root = "producer", c["fused_into"]
        else:
            p.role = "root"
            p.tcm_tile = list(c.get("tile", [0] * len(p.loops)))
            p.threads = c.get("threads", 1)
            p.double_buffer = c.get("buffers", 1) == 2
            p.tile_bytes = c.get("tile_bytes", 0)
            p.tcm_per_thread = c.get("tcm_bytes", 0)
            p.tcm_note = c.get("note", "")
        plan.ops[p.id] = p
    plan.ops = dict(sorted(plan.ops.items()))
    plan.work = sum(q.work() for q in plan.ops.values())
    _set_group_costs(plan)
    return plan, {by_op[g].id: g for g in generics}


def verify(module, target: Target, options: Options, stage: str = "plan", shapes: bool | None = None) -> None:
    """Check every `hexmlir.config` against its op and the target; a bad one raises PlanError naming the
    op (with its hexmlir.id) and the field.

    Checked: the fields and their types; tile and vector of the op's loop rank; tile sizes within the
    loop ranges, reduction loops whole; threads within 1..the plan's thread bound and no more than the
    tiles; buffers 1 or 2; no TCM or ping-pong sets on a target without a scratchpad / copy engine; vector
    lanes = target vector bytes / element size on the vectorized loop, 1 elsewhere; a producer fused into
    an existing root; and, with `shapes` (the ops still have the shapes they were planned on: right after
    `plan`; None: roots on tensors outside any tile loop), tiles within the loop ranges, threads no more than
    the tiles, and one tile set, modelled as the planner does, x buffers x threads within the TCM budget
    (a lone tile set over it runs on one thread from the heap, as the planner allows)."""
    from .errors import PlanError
    facts = module_facts(module)
    cfgs = configs(module)
    if facts is None:
        if cfgs:
            raise PlanError(f"ops carry {CONFIG_ATTR} but the module has no {PLAN_ATTR} attribute "
                            "(budget, threads, options)", stage=stage, op="builtin.module")
        return
    for k, t in (("budget", int), ("tile_budget", int), ("threads", int), ("options", dict)):
        if not isinstance(facts.get(k), t) or isinstance(facts.get(k), bool):
            raise PlanError(f"module attribute {PLAN_ATTR}: field '{k}' is missing or not "
                            f"{'an integer' if t is int else 'a dictionary'}", stage=stage, op="builtin.module")
    bound = facts["threads"]
    if not 1 <= bound <= max_threads(target, options):
        raise PlanError(f"module attribute {PLAN_ATTR}: field 'threads' = {bound}, not in "
                        f"1..{max_threads(target, options)} (the {target.name} target's thread bound)",
                        stage=stage, op="builtin.module")
    plan, ops = _view(module, target, options)

    def planned_shape(op) -> bool:
        if shapes is not None:
            return shapes
        from .ir import enclosing_loop
        return bool(op.results) and enclosing_loop(op) is None

    def bad(pid, field, msg):
        raise PlanError(f"{CONFIG_ATTR} of #{pid}: field '{field}': {msg}", stage=stage, op=ops[pid].name,
                        loc=str(ops[pid].location))

    for pid, c in sorted(cfgs.items()):
        p = plan.ops[pid]
        fields = _PRODUCER_FIELDS if "fused_into" in c else _ROOT_FIELDS
        for k, t in fields.items():
            v = c.get(k)
            if v is None:
                bad(pid, k, "missing")
            if not isinstance(v, t) or (t is int and isinstance(v, bool)):
                bad(pid, k, f"{v!r} is not {'a list of integers' if t is list else t.__name__}")
        extra = set(c) - set(fields) - {"note"}
        if extra:
            bad(pid, sorted(extra)[0], "unknown field")
        n = len(p.loops)
        vec = c["vector"]
        if vec:
            if len(vec) != n:
                bad(pid, "vector", f"{vec} has rank {len(vec)}, the op has {n} loops")
            lanes = target.vector_lanes(p.elem_bytes)
            # HVX's narrowing ops step by their narrowest element (narrowed_vector)
            ok = {lanes} | ({target.vector_lanes(o.elem_bytes) for o in p.operands if o.shape}
                            if target.hvx else set())
            # a row gather's vectors hold its rows' elements, not their i64 ids (asked only when it matters)
            rows = p.operands and max(vec) == target.vector_lanes(p.operands[-1].elem_bytes) \
                and _is_row_gather(ops[pid])
            if (max(vec) not in ok and not rows) or sorted(vec)[:-1] != [1] * (n - 1):
                bad(pid, "vector", f"{vec}: one loop of {lanes} lanes ({target.name}: {target.vector_bytes} B "
                                   f"vectors / {p.elem_bytes} B elements), the others 1")
        if "fused_into" in c:
            r = plan.ops.get(c["fused_into"])
            if (r is None and planned_shape(ops[pid])) or (r is not None and r.role != "root"):
                bad(pid, "fused_into", f"#{c['fused_into']} is not a planned root")
            continue
        whole = planned_shape(ops[pid])
        tile = c["tile"]
        if len(tile) != n:
            bad(pid, "tile", f"{tile} has rank {len(tile)}, the op has {n} loops")
        for d, (t, ext) in enumerate(zip(tile, p.loops)):
            if t < 0 or (whole and t > ext):
                bad(pid, "tile", f"{tile}: size {t} of loop {d} is outside 0..{ext}")
            if t and p.iterators[d] == "reduction":
                bad(pid, "tile", f"{tile}: loop {d} is a reduction and must stay whole (0)")
        tiles = 1
        for t, ext in zip(tile, p.loops):
            if t and ext > 0:
                tiles *= -(-ext // t)
        if not 1 <= c["threads"] <= bound:
            bad(pid, "threads", f"{c['threads']} is not in 1..{bound} (the plan's thread bound)")
        if c["threads"] > tiles and whole:
            bad(pid, "threads", f"{c['threads']} threads for {tiles} tile(s)")
        if c["buffers"] not in (1, 2):
            bad(pid, "buffers", f"{c['buffers']}: 1, or 2 (ping-pong sets)")
        if c["tcm"] and not target.scratchpad:
            bad(pid, "tcm", f"true, but {target.name} has no TCM (scratchpad)")
        if c["buffers"] == 2 and not (target.scratchpad and target.copy_engine and c["tcm"]):
            bad(pid, "buffers", f"2, but {target.name} has no TCM tiles moved by a copy engine here")
        if c["tcm"]:
            model = group_tcm_bytes(plan, p, tile) if whole else 0
            per_thread = max(c["tile_bytes"], model) * c["buffers"]
            if per_thread * c["threads"] > facts["budget"] and (c["threads"] > 1 or c["buffers"] > 1):
                field = "threads" if c["threads"] > 1 else "buffers"
                bad(pid, field if c["tile_bytes"] >= model else "tile",
                    f"tile {tile}: {max(c['tile_bytes'], model)} B per tile set x {c['buffers']} buffer(s) x "
                    f"{c['threads']} thread(s) = {per_thread * c['threads']} B > the TCM budget {facts['budget']} B")
