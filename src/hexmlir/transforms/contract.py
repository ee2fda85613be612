"""Register blocking of float contractions (matmul, batch matmul, tl.dot, generic mul-add reductions whose
C's innermost loop is B's innermost and absent from A) on FMA targets.

Inside each thread's tile the op is tiled by NR vectors of columns (k in chunks when B's panel would not
fit the packing buffer), a full column panel of B is packed into a contiguous, aligned stack buffer when
its rows are far apart and enough row blocks reuse it (`structured.promote`; one buffer per function, at its
entry), then tiled by MR rows. A micro-tile with static rows and columns (a full one, or a static edge)
is written out at the target's vector width (_emit_micro_kernel): each row of C is NR vector<lanes>
accumulators (the last one masked when the columns end mid-vector), carried across the k loop in
registers; per k, the row of B is loaded as NR vectors and A[i, k] broadcast once per row: MR x NR FMAs,
the outer product a unit-k `vector.contract` lowers to, with nothing wider than a register for LLVM to
legalize. MR x NR independent FMA chains hide the FMA latency that one accumulator vector exposes. A tile
with a dynamic row or column count (a partial thread tile) is the same micro-kernel vectorized by upstream
with masks (`vector_sizes`, columns rounded up to a power of two of vectors) and its C tile hoisted out
of k (vectorize._hoist_accumulators); what upstream cannot vectorize keeps its plan id for the vectorize
stage.

B^T contractions (B indexed [..., n, k]: nn.Linear's weight, K^T) take the same path with B always packed:
each panel is transposed into the buffer (_pack_transposed). The frontend's weight transpose is folded into
its contraction on tensors, before tiling and threads (fold_transposes, the fold-transposes stage); one
left after bufferization is folded by _fold_transposes, and the remaining transposing copies are blocked
lanes x lanes.

MR and NR are data: the target's vector width and register count (`VECTOR_REGS`): MR x NR accumulators,
NR vectors of B and one broadcast of A fit the register file; among those, micro_kernel takes the fewest
FMA cycles over the tile's full and edge micro-tiles, then the most accumulators, then the most rows
(AVX-512: 8 x 3 on large tiles, 6 x 4 where the columns are 4 vectors; AVX2: 6 x 2).
"""
from __future__ import annotations

import contextlib
import math

from ..ir import apply_transform, defining_op as _owner, ir, ops_named, run_passes
from ..plan import config, generic_info, op_id, type_bytes
from .. import attrs
from .vectorize import _hoist_accumulators

# Vector registers per ISA level (target.cpu): AVX-512 has 32 zmm, AVX2 and SSE 16 ymm/xmm.
VECTOR_REGS = {"x86-64-v4": 32}
DEFAULT_VECTOR_REGS = 16
MAX_NR = 4                     # vectors of B per k step: more gives fewer rows (less reuse of each B load)
MAX_MR = 8                     # 8 independent FMA chains already cover 2 FMA ports x 4 cycles of latency
PACK_BYTES = 256 << 10        # a packed B panel lives on the stack (thread pool stacks are >= 4 MiB)
PACK_MIN_BYTES = 32 << 10     # a smaller panel stays in L1 unpacked: the copy would not pay
PACK_MIN_REUSE = 4            # row blocks that read each packed panel
PACK_MIN_STRIDE = 2048        # B's row stride in bytes from which packing pays (measured: 1024^3 and 1000^3
                              # gain 25% and 6%; with rows 1-1.5 KiB apart the copy costs 3-7% more than it
                              # saves): rows this far apart fall into few L1 sets, a new page every row or two
_OLD_ALLOCA = attrs.NOT_PACKING   # marks the stack buffers that existed before packing
MK_ATTR = attrs.MICRO_KERNEL         # marks the ops this stage tiles (and the full micro-tiles it vectorizes)

_FLOAT = ("f16", "bf16", "f32", "f64")


def vector_regs(target) -> int:
    return VECTOR_REGS.get(target.cpu or "", DEFAULT_VECTOR_REGS)


def micro_kernel(target, elem_bytes: int, m: int | None, n: int | None) -> tuple[int, int]:
    """(MR rows, NR vectors) for a C tile of m x n (None: dynamic, sized as many rows or columns). MR x NR
    accumulators + NR B vectors + one broadcast A value fit the registers. Among those, the fewest FMA
    cycles per k step over the whole tile (_tile_cycles: edge tiles included; within CYCLES_SLACK of the
    fastest), the most accumulators (the model's latency bound has no margin: 8 accumulators on 2 FMA ports
    of latency 4 stall at any delay), then the most rows: the fewest B bytes per FMA (B's panel is the
    operand that comes from L2; measured at 1 thread on Zen 4, AVX2 6 x 2 runs 4-8% ahead of 4 x 3, while
    AVX-512 8 x 3 and 6 x 4 are within 2-4%, where Intel's two 512-bit FMA ports double the B bytes per
    cycle that 6 x 4 needs)."""
    lanes = target.vector_lanes(elem_bytes)
    regs = vector_regs(target)
    rows = m if m is not None and m > 0 else 840              # divisible by every MR
    cols = n if n is not None and n > 0 else 24 * lanes       # by every NR
    cands = {(mr, nr): _tile_cycles(rows, cols, mr, nr, lanes)
             for nr in range(1, min(MAX_NR, -(-cols // lanes)) + 1)
             for mr in range(1, min(MAX_MR, rows) + 1) if mr * nr + nr + 1 <= regs}
    fastest = min(cands.values())
    return max((mr * nr, mr, -nr) + (mr, nr) for (mr, nr), c in cands.items()
               if c <= fastest * (1 + CYCLES_SLACK))[3:]


FMA_PORTS = 2                  # vector FMAs issued per cycle (Intel AVX-512 and AVX2 cores)
FMA_LATENCY = 4                # cycles: a k step of a tile takes at least this (each accumulator is a chain)
CYCLES_SLACK = 0.03            # micro-kernels this close to the fastest count as equally fast
LOAD_PORTS = 2                 # vector loads per cycle: NR rows of B and MR broadcasts of A per k step


def _tile_cycles(m: int, n: int, mr: int, nr: int, lanes: int) -> float:
    """FMA cycles per k step of an m x n tile in MR x NR-vector micro-tiles: full tiles, the column edge
    (its vectors rounded up) and the row edge, each bound by its FMAs, the FMA latency or its loads."""
    def step(r, v):
        return max(r * v / FMA_PORTS, FMA_LATENCY, (r + v) / LOAD_PORTS) if r and v else 0.0
    w = nr * lanes
    col_tiles = [(n // w, nr), (1, -(-(n % w) // lanes))]
    row_tiles = [(m // mr, mr), (1, m % mr)]
    return sum(cn * rn * step(r, v) for cn, v in col_tiles for rn, r in row_tiles)


def contraction_dims(op, b_transposed: bool = False):
    """For a float mul-add contraction generic: (m loop, n loop, k loop, other parallel loops, other
    reduction loops), else None. n is the output's innermost (unit-stride) loop, also B's innermost and
    absent from A; m is in A and C, not B; k is in A and B. With `b_transposed`: the same, but B is
    indexed [..., n, k] (k its innermost: nn.Linear's weight, Q K^T)."""
    if op.name != "linalg.generic" or len(op.results) > 1:
        return None
    names = [o.name for o in op.regions[0].blocks[0].operations]
    if sorted(n for n in names if n not in ("arith.extf",)) != ["arith.addf", "arith.mulf", "linalg.yield"]:
        return None
    loops, iters, _, dims, _ = generic_info(op)
    if len(dims) != 3 or len(op.operands) != 3:
        return None
    a, b, c = dims
    for v in op.operands:
        t = v.type
        if not isinstance(t, ir.MemRefType) or str(ir.ShapedType(t).element_type) not in _FLOAT:
            return None
        if ir.ShapedType(t).rank and ir.MemRefType(t).get_strides_and_offset()[0][-1] != 1:
            return None
    if not c or len(set(c)) != len(c) or any(iters[d] != "parallel" for d in c):
        return None
    n = c[-1]
    if b_transposed:
        if len(b) < 2 or b[-2] != n or n in a or b[-1] not in a or iters[b[-1]] != "reduction":
            return None
    elif not b or b[-1] != n or n in a:
        return None
    ms = [d for d in c if d in a and d not in b]
    ks = [d for d in a if d in b and iters[d] == "reduction"]
    if b_transposed and ks:
        ks.remove(b[-1])
        ks.append(b[-1])
    if not ms or not ks:
        return None
    m, k = ms[-1], ks[-1]
    rest_par = [d for d in range(len(loops)) if iters[d] == "parallel" and d not in (m, n)]
    rest_red = [d for d in range(len(loops)) if iters[d] == "reduction" and d != k]
    if any(d not in c for d in rest_par):          # a parallel loop absent from C would race on it
        return None
    return m, n, k, rest_par, rest_red


def _tile_and_peel(tag: int, sizes: list[int], peel: list[int]) -> list[str]:
    """Script lines: tile the op marked `tag` by `sizes`, peel the tile loops of dims `peel`."""
    tiled = [d for d in range(len(sizes)) if sizes[d]]
    names = {d: f"%l{tag}_{d}" for d in tiled}
    anys = ", ".join(["!transform.any_op"] * (len(tiled) + 1))
    lines = [
        f"%g{tag} = transform.structured.match attributes{{{MK_ATTR} = {tag}}} in %root : (!transform.any_op) -> !transform.any_op",
        f"%t{tag}, {', '.join(names.values())} = transform.structured.tile_using_for %g{tag} tile_sizes "
        f"[{', '.join(map(str, sizes))}] : (!transform.any_op) -> ({anys})",
    ]
    for d in peel:
        lines += [
            f"%c{tag}_{d} = transform.cast {names[d]} : !transform.any_op to !transform.op<\"scf.for\">",
            f"%p{tag}_{d}, %r{tag}_{d} = transform.loop.peel %c{tag}_{d} : (!transform.op<\"scf.for\">) "
            "-> (!transform.any_op, !transform.any_op)",
        ]
    return lines


_CANON = ['%fn = transform.structured.match ops{["func.func"]} in %root : (!transform.any_op) -> !transform.any_op',
          "transform.apply_patterns to %fn {\n transform.apply_patterns.canonicalization\n"
          " transform.apply_patterns.linalg.tiling_canonicalization\n} : !transform.any_op"]


def _mark(op, tag: int) -> None:
    op.attributes[MK_ATTR] = ir.IntegerAttr.get(ir.IntegerType.get_signless(64), tag)


def _static_extents(op) -> list:
    return [None if x is None or x < 0 else x for x in generic_info(op)[0]]


MAX_VERSIONS = 4              # static copies of a contraction whose thread tile has a dynamic extent
MAX_TILE_INDEX = 4096         # tile indices an extent's affine.min is evaluated at


def _affine_eval(e, x: int) -> int:
    """An AffineExpr of one dim (d0 = x, no symbols) as an integer."""
    if isinstance(e, ir.AffineConstantExpr):
        return e.value
    if isinstance(e, ir.AffineDimExpr):
        return x
    if isinstance(e, ir.AffineBinaryExpr):
        a, b = _affine_eval(e.lhs, x), _affine_eval(e.rhs, x)
        if isinstance(e, ir.AffineAddExpr):
            return a + b
        if isinstance(e, ir.AffineMulExpr):
            return a * b
        if isinstance(e, ir.AffineModExpr):
            return a % b
        if isinstance(e, ir.AffineFloorDivExpr):
            return a // b
        if isinstance(e, ir.AffineCeilDivExpr):
            return -(-a // b)
    raise ValueError(f"affine expression {e}")


def _extent_values(v) -> list[int] | None:
    """The positive values a thread tile's extent `v` takes: `v` an affine.min of one tile index (from 0 up,
    while the extent stays positive), e.g. min(48, 704 - 48 i) -> [48, 32]; None when it is not that form
    or takes more than MAX_VERSIONS values."""
    o = _owner(v)
    if o is None or o.name != "affine.min" or len(o.operands) != 1:
        return None
    amap = ir.AffineMapAttr(o.attributes["map"]).value
    if amap.n_dims != 1 or amap.n_symbols != 0:
        return None
    vals = set()
    try:
        for x in range(MAX_TILE_INDEX):
            e = min(_affine_eval(r, x) for r in amap.results)
            if e <= 0:
                break
            vals.add(e)
            if len(vals) > MAX_VERSIONS:
                return None
        else:
            return None
    except (ValueError, ZeroDivisionError):
        return None
    return sorted(vals, reverse=True)


def _dynamic_sizes(v) -> list | None:
    """The SSA values of memref `v`'s dynamic dims (in order), from the subview or alloc that makes it."""
    o = _owner(v)
    if o is None:
        return None
    if o.name == "memref.subview":
        return list(o.opview.sizes)
    if o.name == "memref.alloc":
        return list(o.opview.dynamicSizes)
    return None


def _static_view(v, shape: list[int], ip):
    """memref `v` with the static `shape` it has at run time, as a reinterpret_cast (a memref.cast would not
    do: tiling asks its dims, and memref.dim of a cast folds to the dynamic source's)."""
    from torch_mlir.dialects import memref
    t = ir.MemRefType(v.type)
    dyn = ir.ShapedType.get_dynamic_size()
    if isinstance(t.layout, ir.AffineMapAttr) and \
            ir.AffineMapAttr(t.layout).value == ir.AffineMap.get_identity(len(shape)):
        # identity layout: contiguous in the static shape
        strides, off = [1] * len(shape), 0
        for i in range(len(shape) - 2, -1, -1):
            strides[i] = strides[i + 1] * shape[i + 1]
    else:
        strides, off = t.get_strides_and_offset()
    md = memref.ExtractStridedMetadataOp(v, ip=ip) if off == dyn or dyn in strides else None
    rt = ir.MemRefType.get(shape, t.element_type, layout=ir.StridedLayoutAttr.get(off, strides),
                           memory_space=t.memory_space)
    return memref.ReinterpretCastOp(rt, v, [md.offset] if off == dyn else [], [],
                                    [md.strides[i] for i, x in enumerate(strides) if x == dyn],
                                    [off], shape, strides, ip=ip).result


def _version_partial_tiles(module) -> None:
    """A contraction whose thread tile has a dynamic extent (the last tile of 704 columns in 48s is 32 wide)
    is versioned on that extent: `scf.if` per value the tile's affine.min takes, each branch the op (and the
    zero fill just before it) on memref.casts to static shapes, the dynamic op last. Every tile then gets
    static micro-kernels; without this a dynamic tile's column edge went through upstream's masked vectorizer
    (about half the FMA rate) and its C through a memset."""
    from torch_mlir.dialects import arith, scf
    work = []
    for op in ops_named(module.operation, "linalg.generic"):
        cfg = config(op) or {}
        if op_id(op) is None or not cfg.get("vector"):
            continue
        if contraction_dims(op) is None and contraction_dims(op, b_transposed=True) is None:
            continue
        loops, _, _, dims, _ = generic_info(op)
        if all(x is not None and x >= 0 for x in loops):
            continue
        maps = [ir.AffineMapAttr(a).value for a in op.attributes["indexing_maps"]]
        size_of = {}                                    # loop dim -> (SSA extent, its values)
        ok = True
        for v, mp in zip(op.operands, maps):
            t = ir.MemRefType(v.type)
            dyn = [j for j, x in enumerate(t.shape) if x == ir.ShapedType.get_dynamic_size()]
            if not dyn:
                continue
            sizes = _dynamic_sizes(v)
            if sizes is None or len(sizes) != len(dyn):
                ok = False
                break
            for j, sv in zip(dyn, sizes):
                r = mp.results[j]
                if not isinstance(r, ir.AffineDimExpr):
                    ok = False
                    break
                d = r.position
                if d not in size_of:
                    vals = _extent_values(sv)
                    if vals is None:
                        ok = False
                        break
                    size_of[d] = (sv, vals)
            if not ok:
                break
        if not ok or not size_of or any((x is None or x < 0) and d not in size_of for d, x in enumerate(loops)):
            continue
        combos = [{}]
        for d, (_, vals) in size_of.items():
            combos = [{**c, d: x} for c in combos for x in vals]
        if len(combos) > MAX_VERSIONS:
            continue
        work.append((op, size_of, combos, maps))
    for op, size_of, combos, maps in work:
        fill = _zero_fill_before(op)
        idx = ir.IndexType.get()
        ip = ir.InsertionPoint(fill if fill is not None else op)
        with op.location:
            for combo in combos:
                cond = None
                for d, x in combo.items():
                    c = arith.CmpIOp(arith.CmpIPredicate.eq, size_of[d][0],
                                     arith.ConstantOp(idx, ir.IntegerAttr.get(idx, x), ip=ip).result, ip=ip).result
                    cond = c if cond is None else arith.AndIOp(cond, c, ip=ip).result
                branch = scf.IfOp(cond, [], has_else=True, ip=ip)
                tip = ir.InsertionPoint(branch.then_block)
                casts = []
                for v, mp in zip(op.operands, maps):
                    t = ir.MemRefType(v.type)
                    shape = [combo[mp.results[j].position] if x == ir.ShapedType.get_dynamic_size() else x
                             for j, x in enumerate(t.shape)]
                    casts.append(v if shape == list(t.shape) else _static_view(v, shape, tip))
                if fill is not None:
                    f = fill.clone(tip)
                    f.operands[0] = casts[-1]
                c = op.clone(tip)
                for i, v in enumerate(casts):
                    c.operands[i] = v
                scf.YieldOp([], ip=tip)
                y = scf.YieldOp([], ip=ir.InsertionPoint(branch.else_block))
                ip = ir.InsertionPoint(y)               # the next version (or the dynamic op) before it
        if fill is not None:
            fill.move_before(y)
        op.move_before(y)


def run(module, cx) -> None:
    target = cx.target
    _fold_transposes(module, target)
    _transposing_copies(module)
    _version_partial_tiles(module)
    lines, cands = [], []
    for op in ops_named(module.operation, "linalg.generic"):
        pid = op_id(op)
        cfg = config(op) or {}
        if pid is None or not cfg.get("vector"):
            continue
        dims = contraction_dims(op)
        bt = dims is None
        if bt:
            dims = contraction_dims(op, b_transposed=True)
        if dims is None:
            continue
        m, n, k, rest_par, rest_red = dims
        loops, _, eb, _, _ = generic_info(op)
        ext = [None if x is None or x < 0 else x for x in loops]
        # A dynamic extent is a partial thread tile: size the micro-kernel for the planned (full) tile.
        tile = list(cfg.get("tile", []))
        bound = [e if e is not None else (tile[d] if d < len(tile) and tile[d] else None)
                 for d, e in enumerate(ext)]
        mr, nr = micro_kernel(target, eb, bound[m], bound[n])
        lanes = target.vector_lanes(eb)
        if (ext[n] is not None and ext[n] < lanes) or (ext[m] is not None and ext[m] < 2):
            continue                                     # a row or a sliver: nothing to block
        # Columns (and batch) first, rows second, k whole: the peeled remainders keep their k loop for the
        # vectorize stage, which carries their accumulators across it; only micro-tiles step k (below).
        # Between the two, a full column panel of B (K x NR vectors) may be packed into a contiguous
        # buffer that every row block of the tile then streams with unit stride.
        sizes = [0] * len(loops)
        sizes[m], sizes[n] = mr, nr * lanes
        for d in rest_par:
            sizes[d] = 1
        ksizes = [0] * len(loops)
        for d in [k, *rest_red]:
            ksizes[d] = 1
        first = [x if d != m else 0 for d, x in enumerate(sizes)]
        peel = [n] if ext[n] is None or ext[n] % sizes[n] else []
        # k in chunks whose B panel still fits the packing buffer (the C micro-tile is then re-read once
        # per chunk, against chunk x MR x NR FMAs)
        kc = k_chunk(bound[k], sizes[n] * eb)
        bt_bounds = None
        if bt:
            # B^T is always packed (transposed), panel by panel: its static bounds size the stack buffer
            b_loops = generic_info(op)[3][1]
            bt_bounds = [(min(kc, bound[d]) if bound[d] else None) if d == k else (first[d] or bound[d])
                         for d in b_loops]
            if any(x is None for x in bt_bounds):
                continue
        tag = len(cands)
        chunked = (cx.options.pack_b or bt) and (bound[k] or 0) > kc
        cands.append(dict(sizes=sizes, ksizes=ksizes, m=m, n=n, k=k, eb=eb, bound_m=bound[m] or 0, bt=bt_bounds,
                          zero_fill=None if chunked else _zero_fill_before(op)))
        _mark(op, tag)
        if chunked:
            first[k] = kc
            if ext[k] is None or ext[k] % kc:
                peel = [k] + peel                            # inner loop first: peeling the outer clones it
        lines += _tile_and_peel(tag, first, peel)
    if not cands:
        _vectorize_transposes(module, target)
        return
    apply_transform(module, "\n".join(lines + _CANON), "contract")
    _pack_transposed(module, cands)
    _vectorize_transposes(module, target)
    # Pack B's full column panels, then tile the rows. Every copy gets its own tag from here on.
    ops = []
    for op in ops_named(module.operation, "linalg.generic"):
        if MK_ATTR in op.attributes:
            c = cands[ir.IntegerAttr(op.attributes[MK_ATTR]).value]
            ops.append((op, c))
    lines, kept, packs = [], [], []
    for i, (op, c) in enumerate(ops):
        ext = _static_extents(op)
        _mark(op, len(cands) + i)
        panel = (ext[c["k"]] or 0) * (ext[c["n"]] or 0) * c["eb"]
        rows = ext[c["m"]] or c["bound_m"]
        if cx.options.pack_b and ext[c["n"]] == c["sizes"][c["n"]] and PACK_MIN_BYTES <= panel <= PACK_BYTES \
                and rows >= PACK_MIN_REUSE * c["sizes"][c["m"]] and _b_strided(op, c["eb"]):
            packs.append(len(cands) + i)
    if packs:
        for tag in packs:
            lines += [
                f"%q{tag} = transform.structured.match attributes{{{MK_ATTR} = {tag}}} in %root : (!transform.any_op) -> !transform.any_op",
                f"%pq{tag} = transform.structured.promote %q{tag} {{operands_to_promote = [1], use_alloca, "
                f"alignment = {max(64, target.vector_bytes)}}} "   # whole vectors never straddle cache lines
                ": (!transform.any_op) -> !transform.any_op",
            ]
        for a in ops_named(module.operation, "memref.alloca"):    # buffers that are not ours
            a.attributes[_OLD_ALLOCA] = ir.UnitAttr.get()
        apply_transform(module, "\n".join(lines + _CANON), "contract")
        _vectorize_pack_copies(module)
        for a in ops_named(module.operation, "memref.alloca"):
            if _OLD_ALLOCA in a.attributes:
                del a.attributes[_OLD_ALLOCA]
    base = len(cands) + len(ops)
    lines = []
    for i, (op, c) in enumerate(ops):
        ext = _static_extents(op)
        m = c["m"]
        sizes = [c["sizes"][m] if d == m else 0 for d in range(len(ext))]
        tag = base + i
        _mark(op, tag)
        lines += _tile_and_peel(tag, sizes, [m] if ext[m] is None or ext[m] % sizes[m] else [])
        kept.append((tag, c))
    apply_transform(module, "\n".join(lines + _CANON), "contract")
    tagged = dict(kept)
    n_tags = base + len(ops)
    # The full micro-tiles (static, exactly the micro-kernel's rows and columns) step k by one and are
    # vectorized here; the others drop the mark and keep their plan id for the vectorize stage.
    lines = []
    for op in ops_named(module.operation, "linalg.generic"):
        if MK_ATTR not in op.attributes:
            continue
        c = tagged[ir.IntegerAttr(op.attributes[MK_ATTR]).value]
        if _emit_micro_kernel(op, c, target.vector_lanes(c["eb"])):
            continue
        if c.get("zero_fill") is not None:
            # a tile upstream vectorizes reads its C: zero it alone, so the whole tile's fill can still go
            # (a thread tile with a partial column edge, 704 = 14 x 48 + 32 on 15 threads, kept a memset
            # of every tile's C and read the zeros back in every micro-tile)
            _fill_like(c["zero_fill"], op)
        loops = generic_info(op)[0]
        sizes, ksizes = c["sizes"], c["ksizes"]
        full = all(v is not None and v >= 0 for v in loops) and all(v == s for v, s in zip(loops, sizes) if s)
        tag = n_tags
        n_tags += 1
        _mark(op, tag)
        nk = sum(1 for x in ksizes if x)
        anys = ", ".join(["!transform.any_op"] * (nk + 1))
        # (a dynamic tile, masked: its columns as a power of two of vectors, which LLVM splits into whole
        # registers; it scalarizes a loop-carried <48 x float>)
        lanes = target.vector_lanes(c["eb"])
        vsz = [max(1, x) for x in sizes]
        vsz[c["n"]] = lanes << (-(-sizes[c["n"]] // lanes) - 1).bit_length()
        vs = "" if full else " vector_sizes [" + ", ".join(map(str, vsz)) + "]"
        lines += [
            "transform.sequence %root : !transform.any_op failures(suppress) {",
            "^bb0(%r: !transform.any_op):",
            f"  %vv = transform.structured.match attributes{{{MK_ATTR} = {tag}}} in %r : (!transform.any_op) -> !transform.any_op",
            f"  %kt, {', '.join(f'%k{i}' for i in range(nk))} = transform.structured.tile_using_for %vv tile_sizes "
            f"[{', '.join(map(str, ksizes))}] : (!transform.any_op) -> ({anys})",
            f"  transform.structured.vectorize %kt{vs} : !transform.any_op",
            "}",
        ]
    for c in cands:
        if c.get("zero_fill") is not None:             # every micro-tile starts from zero accumulators
            c["zero_fill"].erase()
    if lines:
        apply_transform(module, "\n".join(lines), "contract")
        apply_transform(module, """
    %f = transform.structured.match ops{["func.func"]} in %root : (!transform.any_op) -> !transform.any_op
    transform.apply_patterns to %f {
      transform.apply_patterns.vector.lower_masked_transfers
    } : !transform.any_op""", "contract")
        # canonicalize: a masked elementwise op becomes a select; cse: one mask value for it and the store
        run_passes(module, "canonicalize, cse", "contract")
        _drop_selects_under_write_mask(module)
    # What upstream could not vectorize goes back to the vectorize stage's per-op tiles.
    for op in ops_named(module.operation, "linalg.generic"):
        if MK_ATTR in op.attributes:
            del op.attributes[MK_ATTR]
    # The C tile's view is made inside the k loop by tiling; hoist it so the accumulator transfers are
    # loop-invariant, then carry the tile across k in registers (masked edge tiles too: their n-D masks are
    # unrolled to rows below, after which the read and the write would no longer share one mask value).
    run_passes(module, "canonicalize, loop-invariant-code-motion, cse", "contract")
    if _hoist_accumulators(module):
        run_passes(module, "canonicalize, cse", "contract")
    _row_masks_as_broadcasts(module)
    _lower_masks(module)


def k_chunk(k: int | None, row_bytes: int) -> int:
    """k steps per packed B panel (row_bytes per k step): all of k when the panel fits PACK_BYTES, else the
    fewest chunks that fit, of equal length where a divisor of k allows (a remainder chunk is a peeled
    copy of the loop; 1024 in chunks of 341 left a 1-step remainder), else as even as they can be."""
    cap = max(1, PACK_BYTES // row_bytes)
    if k is None or k <= cap:
        return cap if k is None else k
    c = -(-k // cap)
    return next((k // d for d in range(c, 2 * c + 1) if k % d == 0), -(-k // c))


def _emit_micro_kernel(op, c, lanes: int) -> bool:
    """A micro-tile with static rows and columns (a full one or a static edge) as native-width vector code:
    each row of C is ceil(columns / lanes) vector<lanes> accumulators (the last one masked if partial),
    carried across the reduction loops; per k step, the row of B is loaded as that many vectors, A[i, k] is
    broadcast once per row, and the generic's body (mulf, addf, extf) is applied per accumulator. Nothing
    wider than the target's vector reaches LLVM, so any NR lowers to plain FMAs (a loop-carried
    <48 x float> row is scalarized by LLVM's x86 backend). False (nothing changed): the tile has a dynamic
    extent, or the op is not this plain form; upstream's masked vectorizer takes it."""
    from torch_mlir.dialects import arith, memref, scf, vector
    loops, _, _, dims, _ = generic_info(op)
    maps = [ir.AffineMapAttr(a).value for a in op.attributes["indexing_maps"]]
    if any(len(d) != len(mp.results) for d, mp in zip(dims, maps)):
        return False                                   # a constant index somewhere
    m, n, k = c["m"], c["n"], c["k"]
    if any(x is None or x < 1 for x in loops):
        return False                                   # a partial tile (dynamic extents)
    rows, cols = loops[m], loops[n]
    red = [d for d in range(len(loops)) if d not in dims[2] and d != k] + [k]   # k innermost: the long loop
    if any(loops[d] != 1 for d in dims[2] if d not in (m, n)):
        return False                                   # a batch dim the column tiling left wider than one
    a_dims, b_dims, c_dims = dims
    if n in a_dims or b_dims[-1] != n or c_dims[-1] != n:
        return False
    blk = op.regions[0].blocks[0]
    body = list(blk.operations)
    args = list(blk.arguments)
    known = set(args[i] for i in range(3))
    for o in body[:-1]:
        if any(v not in known for v in o.operands) or len(o.results) != 1:
            return False                               # a value from outside the body
        known.add(o.results[0])
    nv = -(-cols // lanes)
    a_buf, b_buf, c_buf = op.operands
    et = [ir.ShapedType(v.type).element_type for v in op.operands]
    idx_t = ir.IndexType.get()
    i1 = ir.IntegerType.get_signless(1)

    def cidx(x):
        return arith.ConstantOp(idx_t, ir.IntegerAttr.get(idx_t, x)).result

    def vec(t):
        return ir.VectorType.get([lanes], t)

    with ir.InsertionPoint(op), op.location, contextlib.ExitStack() as nest:
        consts = {}

        def const(x):
            if x not in consts:
                consts[x] = cidx(x)
            return consts[x]

        def index(ds, i=None, j=None, ivs=None):
            out = []
            for d in ds:
                if d == m:
                    out.append(const(i))
                elif d == n:
                    out.append(const(j * lanes))
                elif ivs is not None and d in ivs:
                    out.append(ivs[d])
                else:
                    out.append(const(0))
            return out

        mask = None
        if cols % lanes:
            mask = arith.ConstantOp(ir.VectorType.get([lanes], i1), ir.DenseElementsAttr.get(
                [ir.BoolAttr.get(x < cols % lanes) for x in range(lanes)], type=ir.VectorType.get([lanes], i1))).result
        zeros = {}

        def load(buf, t, ids, j):
            if mask is None or j != nv - 1:
                return vector.LoadOp(vec(t), buf, ids).result
            if t not in zeros:
                zeros[t] = arith.ConstantOp(vec(t), ir.DenseElementsAttr.get_splat(
                    vec(t), ir.FloatAttr.get(t, 0.0))).result
            return vector.MaskedLoadOp(vec(t), buf, ids, mask, zeros[t]).result

        if c.get("zero_fill") is not None:            # C was zero-filled just before: skip the fill's reads
            zero = arith.ConstantOp(vec(et[2]), ir.DenseElementsAttr.get_splat(
                vec(et[2]), ir.FloatAttr.get(et[2], 0.0))).result
            accs = [zero] * (rows * nv)
        else:
            accs = [load(c_buf, et[2], index(c_dims, i, j), j) for i in range(rows) for j in range(nv)]
        ivs = {}
        fors = []
        for d in red:
            f = scf.ForOp(const(0), const(loops[d]), const(1), accs)
            fors.append(f)
            ivs[d] = f.induction_variable
            accs = list(f.inner_iter_args)
            nest.enter_context(ir.InsertionPoint(f.body))
        bv = [load(b_buf, et[1], index(b_dims, 0, j, ivs), j) for j in range(nv)]
        new = []
        for i in range(rows):
            av = vector.BroadcastOp(vec(et[0]), memref.LoadOp(a_buf, index(a_dims, i, 0, ivs)).result).result
            for j in range(nv):
                vals = {args[0]: av, args[1]: bv[j], args[2]: accs[i * nv + j]}
                for o in body[:-1]:
                    r = ir.Operation.create(o.name, results=[vec(o.results[0].type)],
                                            operands=[vals[v] for v in o.operands],
                                            attributes={a: o.attributes[a] for a in o.attributes})
                    vals[o.results[0]] = r.results[0]
                new.append(vals[body[-1].operands[0]])
        nest.close()
        for f in reversed(fors):
            scf.YieldOp(new, ip=ir.InsertionPoint(f.body))
            new = list(f.results)
        for i in range(rows):
            for j in range(nv):
                ids = index(c_dims, i, j)
                if mask is None or j != nv - 1:
                    vector.StoreOp(new[i * nv + j], c_buf, ids)
                else:
                    vector.MaskedStoreOp(c_buf, ids, mask, new[i * nv + j])
    op.erase()
    return True


def _fill_like(fill, op) -> None:
    """A copy of `fill` (a zero fill, _zero_fill_before) on `op`'s C operand, right before `op`."""
    f = fill.clone(ir.InsertionPoint(op))
    f.operands[0] = op.operands[len(op.operands) - 1]


def _zero_fill_before(op):
    """The op right before contraction `op` when it is a fill of `op`'s C buffer with 0.0 (the zero init of a
    matmul, in its tile), else None. With k whole, every micro-tile then starts from zero accumulators instead
    of loading the zeros, and the fill (a memset of the tile: attention's 8 x s scores) goes."""
    prev = None
    for o in op.operation.block.operations:
        if o.operation == op.operation:
            break
        prev = o.operation
    if prev is None or prev.name != "linalg.generic" or len(prev.operands) != 1 or len(prev.results):
        return None
    if prev.operands[0] != op.operands[len(op.operands) - 1]:
        return None
    if ir.AffineMapAttr(prev.attributes["indexing_maps"][0]).value != ir.AffineMap.get_identity(
            ir.MemRefType(prev.operands[0].type).rank):
        return None
    body = list(prev.regions[0].blocks[0].operations)
    if len(body) != 1:
        return None
    cst = _owner(body[0].operands[0])
    if cst is None or cst.name != "arith.constant" or not isinstance(cst.attributes["value"], ir.FloatAttr):
        return None
    v = ir.FloatAttr(cst.attributes["value"]).value
    return prev if v == 0.0 and math.copysign(1.0, v) > 0 else None      # -0.0 + 0.0 would be +0.0


def _lower_masks(module, transfers: bool = False) -> None:
    """Masks to explicit vector ops (with `transfers`: masked transfers to loads/stores first), then
    canonicalize."""
    first = ("    transform.apply_patterns to %f {\n      transform.apply_patterns.vector.lower_masked_transfers\n"
             "    } : !transform.any_op\n") if transfers else ""
    apply_transform(module, """
    %f = transform.structured.match ops{["func.func"]} in %root : (!transform.any_op) -> !transform.any_op
""" + first + """    transform.apply_patterns to %f {
      transform.apply_patterns.vector.lower_masks
    } : !transform.any_op
    transform.apply_patterns to %f {
      transform.apply_patterns.vector.materialize_masks
    } : !transform.any_op""", "contract")
    run_passes(module, "canonicalize, cse", "contract")


def _func_of(op):
    p = op.operation.parent
    while p is not None and p.name != "func.func":
        p = p.parent
    return p


def _read_b_transposed(op, b) -> None:
    """Make contraction `op` read `b` as its B operand with B's last two indices swapped (B^T)."""
    maps = [ir.AffineMapAttr(a).value for a in op.attributes["indexing_maps"]]
    res = list(maps[1].results)
    res[-2], res[-1] = res[-1], res[-2]
    maps[1] = ir.AffineMap.get(maps[1].n_dims, maps[1].n_symbols, res)
    op.attributes["indexing_maps"] = ir.ArrayAttr.get([ir.AffineMapAttr.get(m) for m in maps])
    op.operands[1] = b


def _pack_transposed(module, cands) -> None:
    """B^T contractions (B indexed [..., n, k]: nn.Linear's weight, Q K^T), tiled to one column panel (and
    k chunk): the panel is transposed into a stack buffer [..., k, n] that the micro-kernels then stream
    like a packed B panel. O(K x N) moves, once per panel, against the M x K x N FMAs of the row blocks
    that read it; a dot-product kernel (vector over k) would need MR x NR horizontal sums per tile and
    twice the loads per FMA. One buffer per function, at its entry, sized for the largest panel."""
    from torch_mlir.dialects import linalg, memref
    todo = []
    for op in ops_named(module.operation, "linalg.generic"):
        if MK_ATTR in op.attributes:
            c = cands[ir.IntegerAttr(op.attributes[MK_ATTR]).value]
            if c["bt"] is not None:
                todo.append((op, c))
    bufs = {}
    for op, c in todo:
        f = _func_of(op)
        nbytes = c["eb"]
        for x in c["bt"]:
            nbytes *= x
        bufs[f] = max(bufs.get(f, 0), nbytes)
    allocas = {}
    for f, nbytes in bufs.items():
        entry = f.regions[0].blocks[0]
        with ir.InsertionPoint.at_block_begin(entry), ir.Location.unknown():
            allocas[f] = memref.alloca(ir.MemRefType.get([nbytes], ir.IntegerType.get_signless(8)), [], [],
                                       alignment=64)
    for op, c in todo:
        b = op.operands[1]
        bt = ir.MemRefType(b.type)
        shape = list(ir.ShapedType(bt).shape)
        r = len(shape)
        perm = list(range(r - 2)) + [r - 1, r - 2]
        et = ir.ShapedType(bt).element_type
        dyn = ir.ShapedType.get_dynamic_size()
        full = [c["bt"][p] for p in perm]
        with ir.InsertionPoint(op), op.location:
            idx = ir.IndexType.get()
            zero = ir.Operation.create("arith.constant", results=[idx],
                                       attributes={"value": ir.IntegerAttr.get(idx, 0)}).result
            view = memref.view(ir.MemRefType.get(full, et), allocas[_func_of(op)], zero, [])
            if any(shape[p] == dyn or shape[p] != full[i] for i, p in enumerate(perm)):
                sizes = []
                for p in perm:
                    if shape[p] == dyn:
                        cp = ir.Operation.create("arith.constant", results=[idx],
                                                 attributes={"value": ir.IntegerAttr.get(idx, p)}).result
                        sizes.append(memref.dim(b, cp))
                static = [shape[p] for p in perm]
                strides = [1] * r
                for i in range(r - 2, -1, -1):
                    strides[i] = strides[i + 1] * full[i + 1]
                st = ir.MemRefType.get(static, et, ir.StridedLayoutAttr.get(0, strides))
                view = memref.SubViewOp(st, view, [], sizes, [], [0] * r, static, [1] * r).result
            tr = linalg.transpose(b, outs=[view], permutation=perm)
        tr = tr.owner if hasattr(tr, "owner") else tr
        _read_b_transposed(op, view)


def _user_ops(v):
    for u in v.uses:
        o = u.owner
        yield (o.operation if hasattr(o, "operation") else o), u.operand_number


def _root(v):
    """The buffer a chain of subviews views, and whether it is a function argument."""
    o = _owner(v)
    while o is not None and o.name == "memref.subview":
        v = o.operands[0]
        o = _owner(v)
    return v


def _read_only(v) -> bool:
    """v (and its subviews) only read: linalg inputs, subviews, dims."""
    for o, i in _user_ops(v):
        if o.name == "memref.subview":
            if not _read_only(o.results[0]):
                return False
        elif o.name == "memref.dim":
            continue
        elif o.name.startswith("linalg.") and hasattr(o.opview, "inputs"):
            if i >= len(o.opview.inputs):
                return False
        else:
            return False
    return True


def _blockable(op, target) -> bool:
    """A contraction that run() register-blocks (planned, vectorized, at least two rows and a vector of
    columns): folding a transpose into one it would leave to the vectorize stage (a row times a matrix)
    would trade a blocked transpose for strided gathers."""
    dims = contraction_dims(op)
    if dims is None or op_id(op) is None or not (config(op) or {}).get("vector"):
        return False
    m, n = dims[0], dims[1]
    ext = _static_extents(op)
    return (ext[n] is None or ext[n] >= target.vector_lanes(generic_info(op)[2])) and (ext[m] is None or ext[m] >= 2)


def _fold_transposes(module, target) -> None:
    """A transposing copy (the torch frontend's nn.Linear weight transpose, whole or in row slabs) of a
    read-only function argument into a buffer that only contractions read, as a whole, as B: they read
    the argument as B^T instead (packed panel by panel, _pack_transposed) and the copies go, with the
    full-matrix round trip through memory they cost."""
    done = set()
    for t in ops_named(module.operation, "linalg.generic"):
        if not _is_transpose_copy(t):
            continue
        d = _root(t.operands[1])
        alloc = _owner(d)
        if alloc is None or alloc.name != "memref.alloc" or ir.ShapedType(d.type).rank != 2 or id(alloc) in done:
            continue
        src = _root(t.operands[0])
        if not isinstance(src, ir.BlockArgument) or src.owner.owner.operation.name != "func.func" \
                or list(ir.ShapedType(src.type).shape) != list(ir.ShapedType(d.type).shape)[::-1] \
                or not _read_only(src):
            continue
        copies, users, ok = [], [], True
        for o, i in _user_ops(d):
            if o.name == "memref.dealloc":
                continue
            if o.name == "memref.subview":
                sub = list(_user_ops(o.results[0]))
                if all(_is_transpose_copy(s.opview) and i2 == 1 and _root(s.operands[0]) == src for s, i2 in sub):
                    copies += [s for s, _ in sub]
                    continue
            elif o.name == "linalg.generic" and _is_transpose_copy(o.opview) and i == 1 \
                    and _root(o.operands[0]) == src:
                copies.append(o)
                continue
            elif o.name == "linalg.generic" and i == 1 and _blockable(o.opview, target):
                users.append(o)
                continue
            ok = False
            break
        if not ok or not users or not copies:
            continue
        for o in users:
            _read_b_transposed(o, src)
        for c in copies:        # the slab loops, subviews and the buffer are dead now: canonicalize drops them
            c.erase()
        done.add(id(alloc))


def _transposing_copies(module) -> None:
    """A memref.copy whose source is column-major (a K^T block that Triton loads with transposed strides,
    flash attention's `k`) into a row-major buffer: a linalg.transpose of the source's transposed (unit
    stride) view, which _vectorize_transposes blocks, instead of a scalar gather loop (lower.py)."""
    from torch_mlir.dialects import linalg, memref
    for cp in ops_named(module.operation, "memref.copy"):
        src, dst = cp.operands[0], cp.operands[1]
        if not all(isinstance(v.type, ir.MemRefType) and ir.ShapedType(v.type).rank == 2 for v in (src, dst)):
            continue
        if str(ir.ShapedType(src.type).element_type) not in _FLOAT:
            continue
        (s0, s1), off = ir.MemRefType(src.type).get_strides_and_offset()
        if s0 != 1 or s1 == 1 or ir.MemRefType(dst.type).get_strides_and_offset()[0][-1] != 1:
            continue
        shape = list(ir.ShapedType(src.type).shape)
        tt = ir.MemRefType.get(shape[::-1], ir.ShapedType(src.type).element_type,
                               ir.StridedLayoutAttr.get(off, [s1, s0]))
        perm = ir.AffineMap.get_permutation([1, 0])
        with ir.InsertionPoint(cp), cp.location:
            view = memref.TransposeOp(tt, src, ir.AffineMapAttr.get(perm)).result
            linalg.transpose(view, outs=[dst], permutation=[1, 0])
        cp.erase()


def _is_transpose_copy(op) -> bool:
    """A float copy whose input is indexed by the output's loops with the last two swapped (the torch
    frontend's weight transpose, _transpose_b's linalg.transpose)."""
    if op.name == "linalg.transpose":
        perm = list(_ir_dense(op.attributes["permutation"]))
        r = len(perm)
        return r >= 2 and perm == list(range(r - 2)) + [r - 1, r - 2]
    if op.name != "linalg.generic" or len(op.operands) != 2 or op_id(op) is None:
        return False
    body = list(op.regions[0].blocks[0].operations)
    if len(body) != 1 or body[0].operands[0] != op.regions[0].blocks[0].arguments[0]:
        return False
    maps = [ir.AffineMapAttr(a).value for a in op.attributes["indexing_maps"]]
    ins, out = [str(e) for e in maps[0].results], [str(e) for e in maps[1].results]
    r = len(out)
    if r < 2 or len(ins) != r or maps[1] != ir.AffineMap.get_identity(r) or "reduction" in str(op.attributes["iterator_types"]):
        return False
    for v in op.operands:
        if not isinstance(v.type, ir.MemRefType) or str(ir.ShapedType(v.type).element_type) not in _FLOAT \
                or ir.MemRefType(v.type).get_strides_and_offset()[0][-1] != 1:
            return False
    return ins == out[:r - 2] + [out[r - 1], out[r - 2]]


def _is_transposing_map(op) -> bool:
    """An element-wise float generic whose first input is read transposed: a permutation of the output's
    loops whose unit-stride dim is the output's row dim (r-2) while the output's unit-stride dim (r-1) is
    further out, e.g. attention's K^T = (K + bias) * scale from [b, s, h, d] into [b, h, d, s]. Other inputs
    may be read through any projection (a bias broadcast along the rows)."""
    if op.name != "linalg.generic" or op_id(op) is None or len(op.results) or len(op.operands) < 2:
        return False
    if "reduction" in str(op.attributes["iterator_types"]):
        return False
    blk = op.regions[0].blocks[0]
    if any(not (o.name.startswith("arith.") or o.name.startswith("math.") or o.name == "linalg.yield")
           or len(o.regions) for o in blk.operations):
        return False
    maps = [ir.AffineMapAttr(a).value for a in op.attributes["indexing_maps"]]
    r = maps[-1].n_dims
    if r < 2 or maps[-1] != ir.AffineMap.get_identity(r):
        return False
    for v in op.operands:                  # f32: 16 x 16 blocks take upstream's shuffle network (AVX-512)
        if not isinstance(v.type, ir.MemRefType) or str(ir.ShapedType(v.type).element_type) != "f32":
            return False
        if ir.MemRefType(v.type).rank == 0 or ir.MemRefType(v.type).get_strides_and_offset()[0][-1] != 1:
            return False
    first = [str(e) for e in maps[0].results]
    dims = [f"d{i}" for i in range(r)]
    return sorted(first) == sorted(dims) and first[-1] == dims[r - 2] and dims[r - 1] in first


def _ir_dense(attr):
    return [int(x) for x in str(attr).split(":", 1)[-1].replace("array<i64", "").strip(" >").split(",") if x.strip()]


def _vectorize_transposes(module, target) -> None:
    """Transposing copies in lanes x lanes blocks: a block is read row by row (unit stride), transposed in
    registers and written row by row, instead of a strided gather per output vector."""
    lines, vec, n, lanes_seen = [], [], 0, set()
    for op in ops_named(module.operation, "linalg.transpose") + ops_named(module.operation, "linalg.generic"):
        if not (_is_transpose_copy(op) or _is_transposing_map(op)):
            continue
        t = op.operands[-1].type
        r = ir.ShapedType(t).rank
        lanes = target.vector_lanes(type_bytes(ir.ShapedType(t).element_type))
        if type_bytes(ir.ShapedType(t).element_type) == 4:
            lanes_seen.add(lanes)
        op.attributes[attrs.TPACK] = ir.IntegerAttr.get(ir.IntegerType.get_signless(64), n)
        sizes = ", ".join(["1"] * (r - 2) + [str(lanes)] * 2)
        anys = ", ".join(["!transform.any_op"] * (r + 1))
        ext = list(ir.ShapedType(t).shape)
        # The output's last two dims swapped in the loop nest: blocks step along the source's rows (its unit
        # stride dim, the output's dim r-2) innermost, so each block load continues the stream the previous
        # block's load at the same row began (hardware prefetch); with the output's order the inner loop
        # jumps lanes source rows per block and a B^T panel read cold from memory stalls on every block.
        order = list(range(r - 2)) + [r - 1, r - 2]
        # peel the partial blocks (inner loop first: peeling the outer clones it) so full blocks are unmasked
        peel = [d for d in reversed(order[-2:]) if ext[d] < 0 or ext[d] % lanes]
        lines += [
            "transform.sequence %root : !transform.any_op failures(suppress) {",
            "^bb0(%r: !transform.any_op):",
            f"  %c = transform.structured.match attributes{{{attrs.TPACK} = {n}}} in %r : (!transform.any_op) -> !transform.any_op",
            f"  %ct, {', '.join(f'%l{i}' for i in range(r))} = transform.structured.tile_using_for %c tile_sizes [{sizes}] "
            f"interchange = [{', '.join(map(str, order))}] : (!transform.any_op) -> ({anys})",
        ]
        for d in peel:
            li = order.index(d)
            lines += [
                f"  %pc{d} = transform.cast %l{li} : !transform.any_op to !transform.op<\"scf.for\">",
                f"  %pp{d}, %pr{d} = transform.loop.peel %pc{d} : (!transform.op<\"scf.for\">) -> (!transform.any_op, !transform.any_op)",
            ]
        lines += ["}"]
        vec += [
            "transform.sequence %root : !transform.any_op failures(suppress) {",
            "^bb0(%r: !transform.any_op):",
            f"  %c = transform.structured.match attributes{{{attrs.TPACK} = {n}}} in %r : (!transform.any_op) -> !transform.any_op",
            f"  transform.structured.vectorize %c vector_sizes [{sizes}] : !transform.any_op",
            "}",
        ]
        n += 1
    if not lines:
        return
    apply_transform(module, "\n".join(lines + _CANON), "contract")
    apply_transform(module, "\n".join(vec), "contract")
    _lower_masks(module, transfers=True)
    if 16 in lanes_seen:
        # Unmasked 16 x 16 f32 blocks (AVX-512): upstream's 4-stage unpack/shuffle network, 64 two-source
        # shuffles per block. Left to lower-to-llvm's default (element-wise), LLVM's backend built each row
        # from vpermt2ps/vpermt2pd chains: ~170 shuffles per block, on Intel the port the second FMA uses.
        apply_transform(module, """
    %f = transform.structured.match ops{["func.func"]} in %root : (!transform.any_op) -> !transform.any_op
    transform.apply_patterns to %f {
      transform.apply_patterns.vector.transfer_permutation_patterns
      transform.apply_patterns.vector.lower_transpose lowering_strategy = "shuffle_16x16"
    } : !transform.any_op""", "contract")
    for op in ops_named(module.operation, "linalg.generic") + ops_named(module.operation, "linalg.transpose"):
        if attrs.TPACK in op.attributes:
            del op.attributes[attrs.TPACK]


def _drop_selects_under_write_mask(module) -> None:
    """The masked vectorizer keeps the old value in the masked-off lanes (`select(mask, new, old)`) before a
    store under that same mask: those lanes are never stored, so the select only costs a blend per vector
    per k step (and hides the accumulator from hoisting)."""
    for sel in ops_named(module.operation, "arith.select"):
        uses = list(sel.results[0].uses)
        if len(uses) != 1:
            continue
        w = uses[0].owner
        w = w.operation if hasattr(w, "operation") else w
        if w.name != "vector.transfer_write" or uses[0].operand_number != 0:
            continue
        rank = ir.ShapedType(w.operands[1].type).rank
        if len(w.operands) != 3 + rank or w.operands[2 + rank] != sel.operands[0]:
            continue
        w.operands[0] = sel.operands[1]
        sel.erase()


def _b_strided(op, eb: int) -> bool:
    """B's rows are far apart (PACK_MIN_STRIDE), not already a contiguous panel."""
    t = ir.MemRefType(op.operands[1].type)
    strides = t.get_strides_and_offset()[0]
    return len(strides) >= 2 and strides[-2] != ir.ShapedType(t).shape[-1] and strides[-2] * eb >= PACK_MIN_STRIDE


def _vectorize_pack_copies(module) -> None:
    """The packing copies (linalg.copy into a stack buffer that promote made, an alloca without
    `_OLD_ALLOCA`): one buffer per function, the largest, at the function's entry (an alloca in a loop
    would grow the stack per iteration; the panels of successive ops never live at the same time), and
    each copy moves a row per vector op."""
    from ..ir import funcs
    n, lines = 0, []
    for f in funcs(module):
        if not len(f.regions[0].blocks):                      # a declaration (runtime call)
            continue
        new = [a for a in ops_named(f, "memref.alloca") if _OLD_ALLOCA not in a.attributes
               and ir.MemRefType(a.results[0].type).has_static_shape]
        if not new:
            continue
        keep = max(new, key=lambda a: ir.ShapedType(a.results[0].type).shape[0])
        keep.move_before(list(f.regions[0].blocks[0].operations)[0])
        for a in new:
            if a != keep:
                for u in list(a.results[0].uses):
                    u.owner.operands[u.operand_number] = keep.results[0]
                a.erase()
        for cp in ops_named(f, "linalg.copy"):
            dst = cp.operands[1].owner
            dst = dst.operation if hasattr(dst, "operation") else None
            while dst is not None and dst.name in ("memref.subview", "memref.view"):
                src = dst.operands[0].owner
                dst = src.operation if hasattr(src, "operation") else None
            if dst != keep.operation or not all(_static_type(v.type) for v in cp.operands):
                continue
            rank = ir.ShapedType(cp.operands[1].type).rank
            cp.attributes[attrs.PACK] = ir.IntegerAttr.get(ir.IntegerType.get_signless(64), n)
            loops = ", ".join(f"%pl{n}_{i}" for i in range(rank - 1))
            anys = ", ".join(["!transform.any_op"] * rank)
            lines += [
                "transform.sequence %root : !transform.any_op failures(suppress) {",
                "^bb0(%r: !transform.any_op):",
                f"  %c = transform.structured.match attributes{{{attrs.PACK} = {n}}} in %r : (!transform.any_op) -> !transform.any_op",
                f"  %ct, {loops} = transform.structured.tile_using_for %c tile_sizes [{', '.join(['1'] * (rank - 1) + ['0'])}] "
                f": (!transform.any_op) -> ({anys})",
                "  transform.structured.vectorize %ct : !transform.any_op",
                "}",
            ]
            n += 1
    if lines:
        apply_transform(module, "\n".join(lines), "contract")


def _static_type(t) -> bool:
    return not isinstance(t, ir.MemRefType) or ir.ShapedType(t).has_static_shape


def _row_masks_as_broadcasts(module) -> None:
    """A column-edge tile's mask keeps every row (`create_mask %MR, %n`): make it one row mask broadcast,
    which the row-by-row unrolling of the transfers folds back to that row mask. lower_masks would build
    it lane by lane (MR x NR*lanes scalar inserts per tile, and as much IR to compile)."""
    from ..ir import ir as _ir
    for cm in ops_named(module.operation, "vector.create_mask"):
        vt = _ir.VectorType(cm.results[0].type)
        if vt.rank != 2 or vt.scalable:
            continue
        first = cm.operands[0].owner
        first = first.operation if hasattr(first, "operation") else None
        if first is None or first.name != "arith.constant" or "value" not in first.attributes:
            continue
        if _ir.IntegerAttr(first.attributes["value"]).value < vt.shape[0]:
            continue
        row_t = _ir.VectorType.get(vt.shape[1:], vt.element_type)
        with _ir.InsertionPoint(cm), cm.location:
            row = _ir.Operation.create("vector.create_mask", results=[row_t], operands=[cm.operands[1]]).result
            b = _ir.Operation.create("vector.broadcast", results=[vt], operands=[row]).result
        cm.results[0].replace_all_uses_with(b)
        cm.erase()


# --- Tensor level (the fold-transposes stage, before plan, tiling, threads and bufferization) ---

def fold_transposes(module, cx) -> None:
    """The torch frontend imports nn.Linear as a transpose of the weight argument + a matmul. Where the
    contract stage will register-block that matmul as B^T (transposing B panel by panel into its packing
    buffer), the matmul reads the argument directly with B's last two indices swapped and the transpose
    goes: no per-call copy of the weight remains at any thread count. On tensors, before tiling, so the
    fold sees the whole matmul (after tiling and threading, the copy is a per-tile slab inside an outlined
    thread body, which _fold_transposes cannot match)."""
    lanes = cx.target.vector_lanes
    for t in ops_named(module.operation, "linalg.generic"):
        if not _arg_transpose(t):
            continue
        src = t.operands[0]
        for o, i in list(_user_ops(t.results[0])):
            if i != 1 or not (_tensor_bt_blockable(o, lanes) or _tensor_dot_form(o, lanes)):
                continue
            _read_b_transposed(o, src)
        if not list(t.results[0].uses):
            init = _owner(t.operands[1])
            t.erase()
            if init is not None and init.name == "tensor.empty" and not list(init.results[0].uses):
                init.erase()


def _float_tensor(v) -> bool:
    return isinstance(v.type, ir.RankedTensorType) and ir.ShapedType(v.type).has_static_shape \
        and str(ir.ShapedType(v.type).element_type) in _FLOAT


def _arg_transpose(t) -> bool:
    """A tensor generic copying a read-only function argument with its last two dims swapped (the
    generalized linalg.transpose the frontend emits for an nn.Linear weight)."""
    if t.name != "linalg.generic" or len(t.operands) != 2 or len(t.results) != 1:
        return False
    blk = t.regions[0].blocks[0]
    body = list(blk.operations)
    if len(body) != 1 or body[0].name != "linalg.yield" or body[0].operands[0] != blk.arguments[0]:
        return False
    if "reduction" in str(t.attributes["iterator_types"]) or not all(_float_tensor(v) for v in t.operands):
        return False
    maps = [ir.AffineMapAttr(a).value for a in t.attributes["indexing_maps"]]
    r = maps[1].n_dims
    if r < 2 or maps[1] != ir.AffineMap.get_identity(r) or len(maps[0].results) != r:
        return False
    if [str(e) for e in maps[0].results] != [f"d{d}" for d in list(range(r - 2)) + [r - 1, r - 2]]:
        return False
    src = t.operands[0]
    if not isinstance(src, ir.BlockArgument) or src.owner.owner.operation.name != "func.func":
        return False
    # read only: every use an input of a linalg op (a destination would be written in place)
    for o, i in _user_ops(src):
        if not o.name.startswith("linalg.") or i >= len(o.operands) - len(o.results):
            return False
    return True


def _tensor_kn_contraction(o):
    """A float mul-add contraction generic (tensors, static) reading B as [..., k, n] (n: C's innermost
    loop, k a reduction loop of A): (loops, element bytes, A's, B's and C's loop dims), else None."""
    if o.name != "linalg.generic" or len(o.operands) != 3 or len(o.results) != 1:
        return None
    names = sorted(x.name for x in o.regions[0].blocks[0].operations if x.name != "arith.extf")
    if names != ["arith.addf", "arith.mulf", "linalg.yield"] or not all(_float_tensor(v) for v in o.operands):
        return None
    loops, iters, eb, dims, _ = generic_info(o)
    a, b, c = dims
    maps = [ir.AffineMapAttr(x).value for x in o.attributes["indexing_maps"]]
    if any(len(d) != len(m.results) for d, m in zip(dims, maps)):
        return None                                   # a constant index: not a plain contraction
    if not c or len(set(c)) != len(c) or any(iters[d] != "parallel" for d in c):
        return None
    n = c[-1]
    if len(b) < 2 or b[-1] != n or n in a or b[-2] not in a or iters[b[-2]] != "reduction":
        return None
    return loops, eb, a, b, c


def _tensor_bt_blockable(o, lanes) -> bool:
    """A [..., k, n]-B contraction (_tensor_kn_contraction) with at least two rows and a vector of columns: the
    contract stage blocks it as B^T once B's last two indices are swapped (contraction_dims(b_transposed=True))."""
    got = _tensor_kn_contraction(o)
    if got is None:
        return False
    loops, eb, a, b, c = got
    ms = [d for d in c if d in a and d not in b]
    return bool(ms) and loops[ms[-1]] >= 2 and loops[c[-1]] >= lanes(eb)


# A dot ends in a horizontal reduction per output: with a short k the transposed copy, read along n, is cheaper
DOT_FORM_MIN_K = 4


def _tensor_dot_form(o, lanes) -> bool:
    """A [..., k, n]-B contraction (_tensor_kn_contraction) with fewer columns than a vector, k its innermost
    loop and A's innermost index (a Linear with few outputs: the conv net's classifier): read as B^T, both
    inputs run along k, which the plan vectorizes as dot products (plan._dot_form), instead of a copy of the
    weight read along n."""
    got = _tensor_kn_contraction(o)
    if got is None:
        return False
    loops, eb, a, b, c = got
    n, k = c[-1], b[-2]
    return a[-1] == k and k == len(loops) - 1 and n == len(loops) - 2 and loops[n] < lanes(eb) \
        and loops[k] >= DOT_FORM_MIN_K * lanes(eb)
