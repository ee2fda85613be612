"""Stage conv-im2col: 2-D convolutions as matmuls for the `contract` stage (float, FMA targets) or the
`hvx-contract` stage (int8 with int32 sums, HVX targets: its vrmpy matmul; one image, no row blocks).

torch-mlir imports `nn.Conv2d` (groups=1) as `linalg.conv_2d_nchw_fchw`; canonicalize generalizes it into a
generic whose innermost loop is the kernel width, so the vectorize stage works on vectors of 3 (or 1)
lanes and nothing register-blocks it. Here (after fusion, whose reshape propagation would undo the
collapses) a mul-add generic whose input has window/stride expressions becomes

    col[n, c, kh, kw, oh, ow] = x[n, c, oh*s + kh*d, ow*s + kw*d]      (a copy, unit stride along ow when s = 1)
    out[n, f, p] += w[f, k] * col[n, k, p]                              (k = (c, kh, kw), p = (oh, ow))

through collapse_shape views: a plain matmul (batch n) that `contract` tiles into its MR x NR micro-kernels,
f the rows and pixels the vector columns. A 1x1 stride-1 convolution needs no copy: its input already is
col. NHWC/HWCF is the same with pixels as rows and f as columns. With fewer pixels than a vector, NCHW is
turned around (pixels as rows, w read as B^T). Grouped and depthwise convolutions (the channel loop in all
three operands) keep the generic path.
"""
from __future__ import annotations

import re

import numpy as np

from torch_mlir import ir

from ..ir import ops_named, run_passes
from ..plan import max_threads, type_bytes

_FLOAT = ("f16", "bf16", "f32", "f64")
PIXEL_ROWS_BELOW = 1          # NCHW: pixels as rows below this many vectors of them (see _rewrite)


def _iters(kinds: str):
    return ir.ArrayAttr.get([ir.Attribute.parse(f"#linalg.iterator_type<{'parallel' if k == 'p' else 'reduction'}>")
                             for k in kinds])


def _maps(n_dims: int, results: list[list]) -> ir.ArrayAttr:
    return ir.ArrayAttr.get([ir.AffineMapAttr.get(ir.AffineMap.get(n_dims, 0, r)) for r in results])


def _generic(ins, out, maps, iters, body):
    """A linalg.generic on tensors: `body(block_args) -> yielded value` built at the block's end."""
    from torch_mlir.dialects import linalg
    op = linalg.GenericOp([out.type], ins, [out], maps, iters)
    types = [ir.ShapedType(v.type).element_type for v in [*ins, out]]
    block = op.regions[0].blocks.append(*types)
    with ir.InsertionPoint(block):
        linalg.YieldOp([body(list(block.arguments))])
    return op.results[0]


def _collapse(v, groups: list[list[int]]):
    from torch_mlir.dialects import tensor
    t = ir.RankedTensorType(v.type)
    shape = list(t.shape)
    new = []
    for g in groups:
        size = 1
        for d in g:
            size *= shape[d]
        new.append(size)
    rt = ir.RankedTensorType.get(new, t.element_type)
    return tensor.CollapseShapeOp(rt, v, ir.ArrayAttr.get(
        [ir.ArrayAttr.get([ir.IntegerAttr.get(ir.IntegerType.get_signless(64), d) for d in g]) for g in groups])).result


def _expand(v, shape: list[int], groups: list[list[int]]):
    from torch_mlir.dialects import tensor
    t = ir.RankedTensorType(v.type)
    rt = ir.RankedTensorType.get(shape, t.element_type)
    return tensor.ExpandShapeOp(rt, v, ir.ArrayAttr.get(
        [ir.ArrayAttr.get([ir.IntegerAttr.get(ir.IntegerType.get_signless(64), d) for d in g]) for g in groups]),
        [], shape).result


def _mul_add(a):
    from torch_mlir.dialects import arith
    return arith.AddFOp(a[2], arith.MulFOp(a[0], a[1]).result).result


def _int8_mul_add(a):
    """acc + extsi(x) * extsi(w): the body hvx-contract's vrmpy matmul matches."""
    from torch_mlir.dialects import arith
    i32 = a[2].type
    x, w = (arith.ExtSIOp(i32, v).result for v in a[:2])
    return arith.AddIOp(a[2], arith.MulIOp(x, w).result).result


def _is_int8_mul_add(op) -> bool:
    from .bodies import is_i8_product_sum
    return is_i8_product_sum(op.regions[0].blocks[0])


def _dims(expr) -> set[int]:
    return {int(d) for d in re.findall(r"d(\d+)", str(expr))}


def _is_mul_add(op) -> bool:
    ops = list(op.regions[0].blocks[0].operations)
    if [o.name for o in ops] != ["arith.mulf", "arith.addf", "linalg.yield"]:
        return False
    args = list(op.regions[0].blocks[0].arguments)
    mul, add = ops[0], ops[1]
    return {mul.operands[0], mul.operands[1]} == {args[0], args[1]} and \
        set(add.operands) == {mul.results[0], args[2]} and ops[2].operands[0] == add.results[0]


def _match(op, floats: bool = True, int8: bool = False):
    """A float mul-add generic (`floats`) or an int8 one accumulating in int32 (`int8`) that is a convolution
    (window or stride expressions in one input; without them only the NCHW form with several pixel or channel
    loops): the plan of the rewrite, else None."""
    if len(op.operands) != 3 or len(op.results) != 1:
        return None
    ts = [v.type for v in op.operands]
    if not all(isinstance(t, ir.RankedTensorType) and ir.ShapedType(t).has_static_shape for t in ts):
        return None
    elems = [str(ir.ShapedType(t).element_type) for t in ts]
    if int8 and elems == ["i8", "i8", "i32"] and _is_int8_mul_add(op):
        kind = "int8"
    elif floats and len(set(elems)) == 1 and elems[0] in _FLOAT and _is_mul_add(op):
        kind = "float"
    else:
        return None
    maps = [ir.AffineMapAttr(a).value for a in op.attributes["indexing_maps"]]
    iters = ["reduction" if "reduction" in str(a) else "parallel" for a in op.attributes["iterator_types"]]
    pure = [all(isinstance(e, ir.AffineDimExpr) for e in m.results) for m in maps]
    if not pure[2]:
        return None
    out = [e.position for e in maps[2].results]
    if out != sorted(out) or len(set(out)) != len(out):
        return None
    # X: the operand with window/stride expressions (without one, either); W: the other, indexed by plain dims
    for xi in [i for i in (0, 1) if not pure[i]] or [0, 1]:
        c = _classify(maps, iters, xi, out)
        if c is not None:
            c["int8"] = kind == "int8"
            return c
    return None


def _classify(maps, iters, xi: int, out: list[int]):
    """The rewrite's plan with operand `xi` as the image (X) and the other as the filter (W), else None."""
    nl = maps[0].n_dims
    wi = 1 - xi
    if not all(isinstance(e, ir.AffineDimExpr) for e in maps[wi].results):
        return None
    windowed = not all(isinstance(e, ir.AffineDimExpr) for e in maps[xi].results)
    xd = set().union(*(_dims(e) for e in maps[xi].results))
    wl = [e.position for e in maps[wi].results]
    wd = set(wl)
    kinds = {}
    for d in range(nl):
        o, x, w = d in out, d in xd, d in wd
        if iters[d] == "parallel":
            if not o or (x and w) or not (x or w):
                return None                                # grouped / broadcast: not a plain conv
            kinds[d] = "P" if x else "M"
        else:
            if o or not (x and w):
                return None
            kinds[d] = "K"
    # out = [batch (P)...] + G1 + G2, G1/G2 the P and M runs (G2 innermost)
    seq = [kinds[d] for d in out]
    g2 = [d for d in out[len(out) - _run(seq[::-1]):]]
    rest = out[:len(out) - len(g2)]
    g1 = rest[len(rest) - _run([kinds[d] for d in rest][::-1]):] if rest else []
    batch = rest[:len(rest) - len(g1)]
    if not g1 or any(kinds[d] != "P" for d in batch):
        return None
    ks = [d for d in wl if kinds[d] == "K"]
    ms = [d for d in wl if kinds[d] == "M"]
    if kinds[g2[0]] == "P":                                # NCHW-like: C[b, m, p] = W[m, k] col[b, k, p]
        ps, nchw = g2, True
        if ms != g1 or wl != ms + ks:
            return None
    else:                                                  # NHWC-like: C[p, m] = col[p, k] W[k, m]
        ps, nchw = batch + g1, False
        batch = []
        if ms != g2 or wl != ks + ms:
            return None
    # Without a window (a 1x1 stride-1 conv after unit dims are folded) only the NCHW form, channels before
    # pixels, which no Linear or attention product has: those keep their own path through contract.
    if not windowed and (not nchw or (len(ps) == 1 and len(ks) == 1)):
        return None
    return dict(x=xi, w=wi, maps=maps, batch=batch, ms=ms, ps=ps, ks=ks, nchw=nchw, n_loops=nl)


def _run(kinds: list) -> int:
    """Length of the leading run of equal kinds."""
    n = 1 if kinds else 0
    while n < len(kinds) and kinds[n] == kinds[0]:
        n += 1
    return n


def _groups(sizes: list[int]) -> list[list[int]]:
    out, i = [], 0
    for s in sizes:
        out.append(list(range(i, i + s)))
        i += s
    return out


def _transpose_last2(v, lead: int):
    """v[..., i, j] -> t[..., j, i] (a copy generic; lead = the leading dims kept in place)."""
    from torch_mlir.dialects import tensor
    D = ir.AffineDimExpr.get
    t = ir.RankedTensorType(v.type)
    shape = list(t.shape)
    shape[lead], shape[lead + 1] = shape[lead + 1], shape[lead]
    empty = tensor.EmptyOp(shape, t.element_type).result
    r = lead + 2
    ident = [D(i) for i in range(r)]
    swapped = ident[:lead] + [D(lead + 1), D(lead)]
    return _generic([v], empty, _maps(r, [swapped, ident]), _iters("p" * r), lambda a: a[0])


def _extents(op, c) -> dict:
    """Loop -> its size, read off the operands that index it by a plain dim."""
    ext = {}
    for v, m in zip(op.operands, c["maps"]):
        for e, n in zip(m.results, ir.RankedTensorType(v.type).shape):
            if isinstance(e, ir.AffineDimExpr):
                ext[e.position] = n
    return ext


def _rewrite(op, c, lanes: int, cache_bytes: int = 0, threads: int = 1) -> None:
    from torch_mlir.dialects import tensor
    D = ir.AffineDimExpr.get
    x, w, acc = op.operands[c["x"]], op.operands[c["w"]], op.operands[2]
    ext = _extents(op, c)
    b, ms, ps, ks = c["batch"], c["ms"], c["ps"], c["ks"]
    prod = lambda ds: int(np.prod([ext[d] for d in ds]))  # noqa: E731
    # NCHW with fewer pixels than PIXEL_ROWS_BELOW vectors (the deep layers of a CNN on a small image): the
    # pixels become the matmul's rows and the output channels its vector columns, reading w as B^T, with
    # out transposed in and back (P x F elements each), instead of a micro-kernel one vector (or less) wide.
    transposed = c["nchw"] and prod(ps) < PIXEL_ROWS_BELOW * lanes and prod(ms) >= lanes and not c["int8"]
    body = _int8_mul_add if c["int8"] else _mul_add
    if c["nchw"] and not transposed and not c["int8"]:
        rows = _block_rows(c, ext, lanes, type_bytes(ir.RankedTensorType(x.type).element_type), cache_bytes,
                           threads)
        if rows:
            _rewrite_blocked(op, c, ext, rows)
            return
    if c["int8"] and _rewrite_flat_rows(op, c, ext):
        return
    col_loops = (b + ps + ks if transposed else b + ks + ps) if c["nchw"] else ps + ks
    elem = ir.RankedTensorType(x.type).element_type
    nb = len(b)
    B = [D(i) for i in range(nb)]
    with ir.InsertionPoint(op), op.location:
        xmap = c["maps"][c["x"]]
        where = {d: i for i, d in enumerate(col_loops)}
        q = ir.AffineMap.get(len(col_loops), 0, [D(where[d]) if d in where else ir.AffineConstantExpr.get(0)
                                                  for d in range(c["n_loops"])])
        in_map = [e.compose(q).maybe_downcast() for e in xmap.results]
        if [e.position if isinstance(e, ir.AffineDimExpr) else None for e in in_map] == list(range(len(col_loops))):
            col = x                                        # already laid out as col (a 1x1 stride-1 conv)
        else:
            empty = tensor.EmptyOp([ext[d] for d in col_loops], elem).result
            r = len(col_loops)
            col = _generic([x], empty, _maps(r, [in_map, [D(i) for i in range(r)]]), _iters("p" * r), lambda a: a[0])
        shape = list(ir.RankedTensorType(acc.type).shape)
        if c["nchw"]:
            out_groups = _groups([1] * nb + [len(ms), len(ps)])
            wk = _collapse(w, _groups([len(ms), len(ks)]))
            cc = _collapse(acc, out_groups)
            if transposed:
                # (b, p, m, k): col[b, p, k] * w[m, k] -> outT[b, p, m]
                col = _collapse(col, _groups([1] * nb + [len(ps), len(ks)]))
                p_, m_, k_ = D(nb), D(nb + 1), D(nb + 2)
                res = _generic([col, wk], _transpose_last2(cc, nb),
                               _maps(nb + 3, [B + [p_, k_], [m_, k_], B + [p_, m_]]), _iters("p" * (nb + 2) + "r"),
                               body)
                res = _transpose_last2(res, nb)
            else:
                # (b, m, p, k): w[m, k] * col[b, k, p] -> out[b, m, p]
                col = _collapse(col, _groups([1] * nb + [len(ks), len(ps)]))
                m_, p_, k_ = D(nb), D(nb + 1), D(nb + 2)
                res = _generic([wk, col], cc, _maps(nb + 3, [[m_, k_], B + [k_, p_], B + [m_, p_]]),
                               _iters("p" * (nb + 2) + "r"), body)
                _tag_matmul(res, c)
            res = _expand(res, shape, out_groups)
        else:
            col = _collapse(col, _groups([len(ps), len(ks)]))
            wk = _collapse(w, _groups([len(ks), len(ms)]))
            cc = _collapse(acc, _groups([len(ps), len(ms)]))
            p_, m_, k_ = D(0), D(1), D(2)
            res = _generic([col, wk], cc, _maps(3, [[p_, k_], [k_, m_], [p_, m_]]), _iters("ppr"), body)
            _tag_matmul(res, c)
            res = _expand(res, shape, _groups([len(ps), len(ms)]))
    op.results[0].replace_all_uses_with(res)
    op.erase()


def _is_zero_fill(v) -> bool:
    """`v` is a generic that writes the constant 0 into a tensor.empty."""
    op = v.owner
    op = getattr(op, "operation", op)
    if getattr(op, "name", None) != "linalg.generic" or len(op.operands) != 1:
        return False
    body = list(op.regions[0].blocks[0].operations)
    if len(body) != 1 or isinstance(body[0].operands[0], ir.BlockArgument):
        return False
    cst = body[0].operands[0].owner
    cst = getattr(cst, "operation", cst)
    return getattr(cst, "name", None) == "arith.constant" and isinstance(cst.attributes["value"], ir.IntegerAttr) \
        and ir.IntegerAttr(cst.attributes["value"]).value == 0


def _rewrite_flat_rows(op, c, ext) -> bool:
    """An int8 NCHW convolution with stride and dilation 1 as one matmul over whole input rows: the window
    copy's row (c, kh, kw) holds, per image n, channel c of x[n] flattened from kh*W + kw on, NP = (OH-1)*W + OW
    bytes (one contiguous copy each: a copy per output row of OW bytes took 7 packets for 32 bytes); the matmul
    o[F, N*NP] = w[F, K] @ col[K, N*NP] computes W/OW more pixels than needed, the images side by side (a batch
    is no loop around vrmpy's 3-loop matmul); a strided copy keeps the valid ones,
    out[n, f, oh, ow] = o[f, n*NP + oh*W + ow] (+ the accumulator unless it is a zero fill).
    Returns False (nothing changed) for other convolutions."""
    from torch_mlir.dialects import arith, tensor
    D = ir.AffineDimExpr.get
    b, ms, ps, ks = c["batch"], c["ms"], c["ps"], c["ks"]
    nb = len(b)
    if not c["nchw"] or nb > 1 or len(ms) != 1 or len(ps) != 2 or len(ks) != 3:
        return False
    x, w, acc = op.operands[c["x"]], op.operands[c["w"]], op.operands[2]
    xshape = list(ir.RankedTensorType(x.type).shape)
    lead = len(xshape) - 3 - nb                  # unit dims before (n,) c, h, w
    col_loops = b + ks + ps
    r = len(col_loops)
    where = {d: i for i, d in enumerate(col_loops)}
    q = ir.AffineMap.get(r, 0, [D(where[d]) if d in where else ir.AffineConstantExpr.get(0)
                                for d in range(c["n_loops"])])
    got = [e.compose(q) for e in c["maps"][c["x"]].results]
    want = ir.AffineMap.get(r, 0, [D(i) for i in range(nb)] + [D(nb), D(nb + 1) + D(nb + 3), D(nb + 2) + D(nb + 4)])
    if lead < 0 or any(xshape[i] != 1 for i in range(lead)) or any(str(e) != "0" for e in got[:lead]) \
            or str(ir.AffineMap.get(r, 0, got[lead:])) != str(want):
        return False
    N = xshape[lead] if nb else 1
    C, H, W = xshape[-3:]
    F, OH, OW, KH, KW = ext[ms[0]], ext[ps[0]], ext[ps[1]], ext[ks[1]], ext[ks[2]]
    NP = (OH - 1) * W + OW
    i8, i32 = ir.RankedTensorType(x.type).element_type, ir.RankedTensorType(acc.type).element_type
    with ir.InsertionPoint(op), op.location:
        xf = _collapse(x, [list(range(lead + 1))] + [[lead + 1 + i] for i in range(nb)] + [[len(xshape) - 2,
                                                                                           len(xshape) - 1]])
        xf = xf if nb else _expand(xf, [1, C, H * W], [[0, 1], [2]])              # [N, C, H*W]
        col = _generic([xf], tensor.EmptyOp([C, KH, KW, N, NP], i8).result,
                       _maps(5, [[D(3), D(0), D(1) * W + D(2) + D(4)], [D(i) for i in range(5)]]), _iters("ppppp"),
                       lambda a: a[0])
        col = _collapse(col, [[0, 1, 2], [3, 4]])                                  # [K, N*NP]
        wk = _collapse(w, [[0], [1, 2, 3]])                                        # [F, K]
        zero = arith.ConstantOp(i32, ir.IntegerAttr.get(i32, 0)).result
        o = _generic([], tensor.EmptyOp([F, N * NP], i32).result, _maps(2, [[D(0), D(1)]]), _iters("pp"),
                     lambda a: zero)
        m_, p_, k_ = D(0), D(1), D(2)
        o = _generic([wk, col], o, _maps(3, [[m_, k_], [k_, p_], [m_, p_]]), _iters("ppr"), _int8_mul_add)
        # out [(n,) f, oh, ow]: o[f, n*NP + oh*W + ow]
        n_ = D(0) if nb else ir.AffineConstantExpr.get(0)
        f_, oh_, ow_ = D(nb), D(nb + 1), D(nb + 2)
        maps = _maps(nb + 3, [[f_, n_ * NP + oh_ * W + ow_], [D(i) for i in range(nb + 3)]])
        shape = list(ir.RankedTensorType(acc.type).shape)
        if _is_zero_fill(acc):              # written whole: the zero fill goes (a byte-wise memset)
            res = _generic([o], tensor.EmptyOp(shape, i32).result, maps, _iters("p" * (nb + 3)), lambda a: a[0])
        else:
            res = _generic([o], acc, maps, _iters("p" * (nb + 3)), lambda a: arith.AddIOp(a[1], a[0]).result)
    op.results[0].replace_all_uses_with(res)
    op.erase()
    return True


def _tag_matmul(res, c) -> None:
    """Mark a float convolution's matmul for conv-epilogue (its element-wise consumer may join its tiles)."""
    from .. import attrs
    if not c["int8"]:
        res.owner.attributes[attrs.CONV_MATMUL] = ir.UnitAttr.get()


# A row block's pixels, at least this many vectors: fewer leave the micro-kernel's columns mostly edge tiles
MIN_BLOCK_VECTORS = 8


def _block_rows(c, ext, lanes: int, eb: int, cache_bytes: int, threads: int = 1) -> int:
    """Output rows per block of an NCHW convolution whose window copy outgrows a cache tile (0: no blocks):
    the most rows (a divisor of the output height) whose block of the copy (K x rows x width) fits
    `cache_bytes`, with at least MIN_BLOCK_VECTORS vectors of pixels. With fewer blocks (x batch) than
    `threads`, fewer rows while a block keeps MIN_BLOCK_VECTORS vectors: the blocks are the thread tiles,
    and smaller ones cost nothing extra (the stem of a 64x64 ResNet took 4 tiles on 16 threads)."""
    b, ps, ks = c["batch"], c["ps"], c["ks"]
    if not cache_bytes or len(ps) < 2:
        return 0
    k = int(np.prod([ext[d] for d in ks]))
    width = int(np.prod([ext[d] for d in ps[1:]]))
    height = ext[ps[0]]
    images = int(np.prod([ext[d] for d in b] or [1]))
    if k * height * width * eb * images <= cache_bytes:
        return 0                                   # the whole copy fits: one block
    fits = [r for r in range(height, 0, -1) if height % r == 0 and k * r * width * eb <= cache_bytes
            and r * width >= MIN_BLOCK_VECTORS * lanes]
    if not fits:
        return 0
    rows = fits[0]
    for r in fits[1:]:
        if images * (height // rows) >= threads:
            break
        rows = r
    return rows


def _rewrite_blocked(op, c, ext, rows: int) -> None:
    """NCHW, the output height in blocks of `rows` rows: a window copy per block and batch image,
    col[b, hb, k, p] (p: the block's rows x width), and a matmul whose leading loops (b, hb) are the
    blocks (attrs.CONV_BLOCKS), out[b, m, hb, p] += w[m, k] col[b, hb, k, p]. The plan gives each block a
    tile and fuses its copy into it (attrs.WINDOW_COPY): the copy then lives in the cache, not in memory."""
    from torch_mlir.dialects import tensor
    from .. import attrs
    D = ir.AffineDimExpr.get
    x, w, acc = op.operands[c["x"]], op.operands[c["w"]], op.operands[2]
    b, ms, ps, ks = c["batch"], c["ms"], c["ps"], c["ks"]
    nb, h = len(b), ext[ps[0]]
    # copy loops: b..., hb, ks..., hi, ps[1:]...
    col_loops = b + ["hb"] + ks + ["hi"] + ps[1:]
    where = {d: i for i, d in enumerate(col_loops)}
    r = len(col_loops)
    subst = []
    for d in range(c["n_loops"]):
        if d == ps[0]:
            subst.append(D(where["hb"]) * rows + D(where["hi"]))
        else:
            subst.append(D(where[d]) if d in where else ir.AffineConstantExpr.get(0))
    q = ir.AffineMap.get(r, 0, subst)
    sizes = [h // rows if d == "hb" else rows if d == "hi" else ext[d] for d in col_loops]
    elem = ir.RankedTensorType(x.type).element_type
    shape = list(ir.RankedTensorType(acc.type).shape)
    B = [D(i) for i in range(nb)]
    with ir.InsertionPoint(op), op.location:
        in_map = [e.compose(q).maybe_downcast() for e in c["maps"][c["x"]].results]
        empty = tensor.EmptyOp(sizes, elem).result
        col = _generic([x], empty, _maps(r, [in_map, [D(i) for i in range(r)]]), _iters("p" * r), lambda a: a[0])
        col.owner.attributes[attrs.WINDOW_COPY] = ir.UnitAttr.get()
        col = _collapse(col, _groups([1] * nb + [1, len(ks), len(ps)]))
        wk = _collapse(w, _groups([len(ms), len(ks)]))
        # out [b, ms, h, ps[1:]] -> [b, ms, hb, hi, ps[1:]] -> [b, m, hb, p]
        ex_shape = shape[:nb + len(ms)] + [h // rows, rows] + shape[nb + len(ms) + 1:]
        ex_groups = _groups([1] * (nb + len(ms)) + [2] + [1] * (len(ps) - 1))
        cc = _collapse(_expand(acc, ex_shape, ex_groups), _groups([1] * nb + [len(ms), 1, len(ps)]))
        hb, m_, p_, k_ = D(nb), D(nb + 1), D(nb + 2), D(nb + 3)
        res = _generic([wk, col], cc, _maps(nb + 4, [[m_, k_], B + [hb, k_, p_], B + [m_, hb, p_]]),
                       _iters("p" * (nb + 3) + "r"), _mul_add)
        res.owner.attributes[attrs.CONV_BLOCKS] = ir.IntegerAttr.get(ir.IntegerType.get_signless(64), nb + 1)
        _tag_matmul(res, c)
        res = _collapse(_expand(res, ex_shape, _groups([1] * nb + [len(ms), 1, len(ps)])), ex_groups)
    op.results[0].replace_all_uses_with(res)
    op.erase()


def _fills_next_to_int8_matmuls(module) -> None:
    """The zero fill of an int8 matmul's accumulator (and its tensor.empty) moved right before the matmul:
    the window copy and its collapse sat between them, which kept hvx-contract from dropping the fill (a
    byte-wise memset of the whole output, 3/4 of the conv's packets) and kept the TCM plan from fusing it."""
    for op in ops_named(module.operation, "linalg.generic"):
        if len(op.operands) != 3 or not _is_int8_mul_add(op):
            continue
        fill = op.operands[2].owner
        fill = getattr(fill, "operation", fill)
        if getattr(fill, "name", None) != "linalg.generic" or len(fill.operands) != 1 \
                or len(list(fill.results[0].uses)) != 1:
            continue
        empty = fill.operands[0].owner
        empty = getattr(empty, "operation", empty)
        body = list(fill.regions[0].blocks[0].operations)
        if getattr(empty, "name", None) != "tensor.empty" or len(list(empty.results[0].uses)) != 1 \
                or len(body) != 1 or isinstance(body[0].operands[0], ir.BlockArgument):
            continue
        empty.move_before(op)
        fill.move_before(op)


def run(module, cx) -> None:
    done = 0
    for op in ops_named(module.operation, "linalg.generic"):
        # float convolutions for contract's FMA micro-kernels; int8 ones (int32 sums) for hvx-contract's vrmpy
        # matmul, which takes a plain 3-loop matmul: NCHW with batch loops (more than one image) stays a conv
        c = _match(op, floats=cx.target.fma, int8=cx.target.hvx)
        if c is not None and c["int8"] and c["nchw"] and c["batch"]:
            # several images: only as one matmul over the images' pixels side by side (stride 1)
            done += _rewrite_flat_rows(op, c, _extents(op, c))
            c = None
        if c is not None:
            _rewrite(op, c, cx.target.vector_lanes(type_bytes(ir.ShapedType(op.operands[2].type).element_type)),
                     cx.target.cache_tile_bytes, max_threads(cx.target, cx.options))
            done += 1
    if done:                                  # fold the reshape chains the rewrite leaves (collapse of expand)
        run_passes(module, "canonicalize, cse", "conv-im2col")
        # A Linear whose output view the fusion stage folded in (LLaMA's q/k/v projections viewed as heads:
        # a matmul reading the weight's transpose through an expand_shape) is a plain matmul only now;
        # fold-transposes ran before and could not see it: its per-call weight transpose stayed, fused into
        # the matmul's tiles, which kept the rows whole (only narrow column tiles were left for the threads).
        from .contract import fold_transposes
        fold_transposes(module, cx)
        # The rewrite reads the accumulator's zero init through a collapse_shape: that kept the fill a root of
        # its own (a whole-size serial fill per call) and every matmul tile copied its slice of the zeros
        # (LLaMA's q/k/v projections). A fill of the collapsed shape, one per use, fuses into the tiles
        # (as the fusion stage does for torch-mlir's own views of fills).
        from .fusion import _fill_reshapes, _unshare_fills
        _fill_reshapes(module)
        _unshare_fills(module)
        if cx.target.hvx:
            _fills_next_to_int8_matmuls(module)
    # after the fills are unshared: a padded input's fill then feeds its pad alone
    from .pad import write_in_place
    write_in_place(module)                    # the padded input written in place, not copied (pad.py)
