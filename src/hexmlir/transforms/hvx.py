"""Hexagon-only code generation facts the LLVM backend needs stated (the host path never calls this).

TCM buffers: the kernel gets them from the runtime's pool, which hands out 128-byte granules of a mapping
aligned to at least 2 KiB (its heap fallback is 2 KiB-aligned too, runtime/hexmlir_rt.c), and no two live
buffers overlap. The generic `hx_tcm_buffer` wrapper (MLIR's C interface: a descriptor written through a
pointer) hides both facts from LLVM, so on Hexagon its body calls `hx_tcm_ptr`, declared `noalias align 128`.
LLVM then proves, not assumes, which vector accesses are 128-byte aligned (aligned `vmem` instead of `vmemu`)
and that loads from one TCM buffer never see stores to another (so the loop can be scheduled across
iterations); accesses it cannot prove aligned (DDR arguments, odd offsets) stay unaligned.
"""
from __future__ import annotations

from torch_mlir import ir

from ..errors import CompileError
from . import memspace
from .bodies import arg_no as _arg_no, is_i8_product_sum, owner as _owner

TCM_ALIGN = 128             # runtime granule; the pool's base and heap fallback are aligned at least this much


def tcm_pointers(module, index_bits: int) -> None:
    """Give the LLVM-dialect `hx_tcm_buffer` wrapper a body from `hx_tcm_ptr` (noalias, align 128)."""
    wrapper = None
    for op in module.body.operations:
        if op.operation.name == "llvm.func" and ir.StringAttr(op.attributes["sym_name"]).value == "hx_tcm_buffer":
            wrapper = op
    if wrapper is None:
        return
    i = f"i{index_bits}"
    st = f"!llvm.struct<(ptr, ptr, {i}, array<1 x {i}>, array<1 x {i}>)>"
    text = f"""
    llvm.func @hx_tcm_ptr({i}) -> (!llvm.ptr {{llvm.noalias, llvm.align = {TCM_ALIGN} : i64}})
    llvm.func private @hx_tcm_buffer(%n: {i}) -> {st} {{
      %p = llvm.call @hx_tcm_ptr(%n) : ({i}) -> !llvm.ptr
      %z = llvm.mlir.constant(0 : {i}) : {i}
      %one = llvm.mlir.constant(1 : {i}) : {i}
      %u = llvm.mlir.poison : {st}
      %a = llvm.insertvalue %p, %u[0] : {st}
      %b = llvm.insertvalue %p, %a[1] : {st}
      %c = llvm.insertvalue %z, %b[2] : {st}
      %d = llvm.insertvalue %n, %c[3, 0] : {st}
      %e = llvm.insertvalue %one, %d[4, 0] : {st}
      llvm.return %e : {st}
    }}"""
    try:
        new = ir.Module.parse(text)
    except ir.MLIRError as e:
        raise CompileError(f"hx_tcm_buffer body does not parse: {e}", stage="lower-to-llvm",
                           op="llvm.func") from None
    for op in list(new.body.operations):
        op.operation.move_before(wrapper)
    wrapper.operation.erase()


# ---- int8 contractions through vrmpy ---------------------------------------------------------------------

# vrmpy multiplies 4 adjacent bytes of each 32-bit lane with 4 bytes of the other operand and adds the four
# products into that lane: 128 int8 MACs per instruction, accumulating in int32.
VRMPY_VV = "llvm.hexagon.V6.vrmpybv.acc.128B"        # Vx.w += vrmpy(Vu.b, Vv.b): both operands signed bytes
VRMPY_VS = "llvm.hexagon.V6.vrmpybus.acc.128B"       # Vx.w += vrmpy(Vu.ub, Rt.b): unsigned bytes by a word's signed ones
VROR = "llvm.hexagon.V6.vror.128B"                   # Vd = vror(Vu, Rt): rotate by Rt bytes
VSHUFF_VVR = "llvm.hexagon.V6.vshuffvdd.128B"        # Vdd = vshuff(Vu, Vv, Rt): interleave Vv|Vu, -Rt bytes at a time
DOT_HELPER = "hx_vrmpy_rowdot"


def _maps(op) -> list[str]:
    return [str(ir.AffineMapAttr(m).value) for m in ir.ArrayAttr(op.attributes["indexing_maps"])]


def _iters(op) -> list[str]:
    return [str(a).split("<")[-1].rstrip(">") for a in ir.ArrayAttr(op.attributes["iterator_types"])]


def _unit_inner_stride(t) -> bool:
    if not isinstance(t, ir.MemRefType):
        return False
    strides, _ = ir.MemRefType(t).get_strides_and_offset()
    return strides[-1] == 1


DOT_ROWS = 4                # rows per block: independent vrmpy chains and reduction trees the packets interleave
NO_UNROLL = "{loop_annotation = #llvm.loop_annotation<unroll = #llvm.loop_unroll<disable = true>>}"


def _dot_rows_block(a: str, y: str, zero_init: bool) -> str:
    """The dot helper's loop over blocks of DOT_ROWS rows: one vrmpy accumulator per row, one vector step
    (LLVM's unrolling of it cost more in short rows than it saved), the rows' masked tails, their sums."""
    R = range(DOT_ROWS)                                  # noqa: N806
    vt = "vector<32xi32>"
    rows = "\n".join(f"    %i{r} = arith.addi %i, %c{r}_r : index" for r in R)
    step = "\n".join(
        f"      %a{r} = vector.load %a[%i{r}, %j] : {a}, vector<128xi8>\n"
        f"      %b{r} = vector.load %b[%i{r}, %j] : {a}, vector<128xi8>\n"
        f"      %a{r}w = vector.bitcast %a{r} : vector<128xi8> to {vt}\n"
        f"      %b{r}w = vector.bitcast %b{r} : vector<128xi8> to {vt}\n"
        f'      %t{r} = llvm.call_intrinsic "{VRMPY_VV}"(%s{r}, %a{r}w, %b{r}w) : ({vt}, {vt}, {vt}) -> {vt}' for r in R)
    tail = "\n".join(
        f"      %ta{r} = vector.maskedload %a[%i{r}, %k1], %mask, %pad : {a}, vector<128xi1>, vector<128xi8> into vector<128xi8>\n"
        f"      %tb{r} = vector.maskedload %b[%i{r}, %k1], %mask, %pad : {a}, vector<128xi1>, vector<128xi8> into vector<128xi8>\n"
        f"      %ta{r}w = vector.bitcast %ta{r} : vector<128xi8> to {vt}\n"
        f"      %tb{r}w = vector.bitcast %tb{r} : vector<128xi8> to {vt}\n"
        f'      %u{r} = llvm.call_intrinsic "{VRMPY_VV}"(%p#{r}, %ta{r}w, %tb{r}w) : ({vt}, {vt}, {vt}) -> {vt}' for r in R)
    sums = "\n".join(
        (f"    %y{r} = arith.constant 0 : i32\n" if zero_init else f"    %y{r} = memref.load %y[%i{r}] : {y}\n")
        + f"    %v{r} = vector.reduction <add>, %q#{r}, %y{r} : {vt} into i32\n"
        + f"    memref.store %v{r}, %y[%i{r}] : {y}" for r in R)
    consts = "\n".join(f"  %c{r}_r = arith.constant {r} : index" for r in R)
    vts = ", ".join([vt] * DOT_ROWS)
    return f"""{consts}
  scf.for %i = %c0 to %mr step %c{DOT_ROWS} {{
{rows}
    %p:{DOT_ROWS} = scf.for %j = %c0 to %k1 step %c128 iter_args({", ".join(f"%s{r} = %zero" for r in R)}) -> ({vts}) {{
{step}
      scf.yield {", ".join(f"%t{r}" for r in R)} : {vts}
    }} {NO_UNROLL}
    %q:{DOT_ROWS} = scf.if %has_tail -> ({vts}) {{
{tail}
      scf.yield {", ".join(f"%u{r}" for r in R)} : {vts}
    }} else {{
      scf.yield {", ".join(f"%p#{r}" for r in R)} : {vts}
    }}
{sums}
  }}"""


def _dot_helper_text(space: str, zero_init: bool = False) -> str:
    sp = f", {space}" if space else ""
    a = f"memref<?x?xi8, strided<[?, 1], offset: ?>{sp}>"
    y = f"memref<?xi32, strided<[?], offset: ?>{sp}>"
    IOTA128 = ", ".join(map(str, range(128)))          # noqa: N806  (lane numbers; rem < 128 fits in i8)
    # zero_init: the zero fill of y before the dot is dropped (LLVM made it a scalar memset call)
    y0 = "%y0 = arith.constant 0 : i32" if zero_init else f"%y0 = memref.load %y[%i] : {y}"
    # Row blocks only outside TCM: there LLVM knows the rows' relative alignment (aligned base, row stride)
    # and its realignment of the block's loads shifts twice (valign by the stride, then by the base) per load:
    # 3776 -> 6972 packets on the 97x1031 bench (TCM build), where the DDR build goes 6840 -> 3353.
    if space:
        blocked = "  %mr = arith.constant 0 : index"
    else:
        blocked = (f"  %mq = arith.divui %m, %c{DOT_ROWS} : index\n  %mr = arith.muli %mq, %c{DOT_ROWS} : index\n"
                   + _dot_rows_block(a, y, zero_init))
    return f"""
func.func private @{DOT_HELPER}(%a: {a}, %b: {a}, %y: {y})
    attributes {{llvm.linkage = #llvm.linkage<internal>, passthrough = ["alwaysinline"]}} {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  %c256 = arith.constant 256 : index
  %c{DOT_ROWS} = arith.constant {DOT_ROWS} : index
  %z8 = arith.constant 0 : i8
  %zero = arith.constant dense<0> : vector<32xi32>
  %m = memref.dim %a, %c0 : {a}
  %k = memref.dim %a, %c1 : {a}
  %k256 = arith.muli %c256, %c256 : index
  %kq2 = arith.divui %k, %c256 : index
  %k2 = arith.muli %kq2, %c256 : index
  %kq1 = arith.divui %k, %c128 : index
  %k1 = arith.muli %kq1, %c128 : index
  %rem = arith.subi %k, %k1 : index
  %has_tail = arith.cmpi ne, %rem, %c0 : index
  %lanes = arith.constant dense<[{IOTA128}]> : vector<128xi8>
  %rem8 = arith.index_cast %rem : index to i8
  %remv = vector.broadcast %rem8 : i8 to vector<128xi8>
  %mask = arith.cmpi slt, %lanes, %remv : vector<128xi8>
  %pad = arith.constant dense<0> : vector<128xi8>
{blocked}
  scf.for %i = %mr to %m step %c1 {{
    // two accumulators: consecutive vrmpy.acc into one register would wait on each other
    %p:2 = scf.for %j = %c0 to %k2 step %c256 iter_args(%s0 = %zero, %s1 = %zero) -> (vector<32xi32>, vector<32xi32>) {{
      %j1 = arith.addi %j, %c128 : index
      %a0 = vector.load %a[%i, %j] : {a}, vector<128xi8>
      %b0 = vector.load %b[%i, %j] : {a}, vector<128xi8>
      %a1 = vector.load %a[%i, %j1] : {a}, vector<128xi8>
      %b1 = vector.load %b[%i, %j1] : {a}, vector<128xi8>
      %a0w = vector.bitcast %a0 : vector<128xi8> to vector<32xi32>
      %b0w = vector.bitcast %b0 : vector<128xi8> to vector<32xi32>
      %a1w = vector.bitcast %a1 : vector<128xi8> to vector<32xi32>
      %b1w = vector.bitcast %b1 : vector<128xi8> to vector<32xi32>
      %t0 = llvm.call_intrinsic "{VRMPY_VV}"(%s0, %a0w, %b0w) : (vector<32xi32>, vector<32xi32>, vector<32xi32>) -> vector<32xi32>
      %t1 = llvm.call_intrinsic "{VRMPY_VV}"(%s1, %a1w, %b1w) : (vector<32xi32>, vector<32xi32>, vector<32xi32>) -> vector<32xi32>
      scf.yield %t0, %t1 : vector<32xi32>, vector<32xi32>
    }}
    %q = scf.for %j = %k2 to %k1 step %c128 iter_args(%s0 = %p#0) -> (vector<32xi32>) {{
      %a0 = vector.load %a[%i, %j] : {a}, vector<128xi8>
      %b0 = vector.load %b[%i, %j] : {a}, vector<128xi8>
      %a0w = vector.bitcast %a0 : vector<128xi8> to vector<32xi32>
      %b0w = vector.bitcast %b0 : vector<128xi8> to vector<32xi32>
      %t0 = llvm.call_intrinsic "{VRMPY_VV}"(%s0, %a0w, %b0w) : (vector<32xi32>, vector<32xi32>, vector<32xi32>) -> vector<32xi32>
      scf.yield %t0 : vector<32xi32>
    }}
    // the last partial vector: masked loads (zeros past the row's end), never a read past it
    %r = scf.if %has_tail -> (vector<32xi32>) {{
      %a0 = vector.maskedload %a[%i, %k1], %mask, %pad : {a}, vector<128xi1>, vector<128xi8> into vector<128xi8>
      %b0 = vector.maskedload %b[%i, %k1], %mask, %pad : {a}, vector<128xi1>, vector<128xi8> into vector<128xi8>
      %a0w = vector.bitcast %a0 : vector<128xi8> to vector<32xi32>
      %b0w = vector.bitcast %b0 : vector<128xi8> to vector<32xi32>
      %t0 = llvm.call_intrinsic "{VRMPY_VV}"(%q, %a0w, %b0w) : (vector<32xi32>, vector<32xi32>, vector<32xi32>) -> vector<32xi32>
      scf.yield %t0 : vector<32xi32>
    }} else {{
      scf.yield %q : vector<32xi32>
    }}
    %both = arith.addi %r, %p#1 : vector<32xi32>
    {y0}
    %s = vector.reduction <add>, %both, %y0 : vector<32xi32> into i32
    memref.store %s, %y[%i] : {y}
  }}
  return
}}"""


def _space_text(t) -> str:
    ms = ir.MemRefType(t).memory_space
    return "" if ms is None else str(ir.IntegerAttr(ms).value)


_CONTRACTIONS = {
    (("parallel", "reduction"), ("(d0, d1) -> (d0, d1)", "(d0, d1) -> (d0, d1)", "(d0, d1) -> (d0)")): "dot",
    (("parallel", "parallel", "reduction"),
     ("(d0, d1, d2) -> (d0, d2)", "(d0, d1, d2) -> (d2, d1)", "(d0, d1, d2) -> (d0, d1)")): "matmul",
}


def contract(module, cx) -> int:
    """Hexagon: int8 row dot products (`y[i] += sum_j ext(a[i, j]) * ext(b[i, j])`) and int8 matmuls
    (`C[i, j] += sum_k ext(A[i, k]) * ext(B[k, j])`) become vrmpy loops, f16 matmuls into f32
    (`C[i, j] += sum_k extf(A[i, k]) * extf(B[k, j])`) register-blocked widening multiply-accumulates (a
    private helper per memory space, inlined by LLVM). Returns how many ops were rewritten."""
    from ..ir import ops_named
    if not cx.target.hvx:
        return 0
    n = requantize(module)      # (narrowing elementwise ops step by whole narrow vectors: plan.narrowed_vector)
    helpers = {}
    for op in ops_named(module.operation, "linalg.generic"):
        ins, outs = list(op.operands)[:2], list(op.operands)[2:]
        if len(op.operands) != 3 or not all(isinstance(v.type, ir.MemRefType) for v in op.operands):
            continue
        kind = _CONTRACTIONS.get((tuple(_iters(op)), tuple(_maps(op))))
        if kind is None or not all(_unit_inner_stride(v.type) for v in (ins if kind == "dot" else op.operands)):
            continue
        spaces = {_space_text(v.type) for v in op.operands}
        if len(spaces) != 1:
            continue
        space = spaces.pop()
        if kind == "matmul" and _is_f16_product_sum(op.regions[0].blocks[0]):
            mode = hvx_float_mode(cx.target)
            name = f"{HMATMUL_HELPER}{space}_{mode}"
            if name not in helpers:
                src = _hmatmul_kpair_helper_text(space, mode).replace(f"@{HMATMUL_HELPER}(", f"@{name}(")
                parsed = ir.Module.parse(src)          # keep the module alive while its op moves out
                fn = list(parsed.body.operations)[0]
                fn.operation.move_before(list(module.body.operations)[0])
                helpers[name] = fn
            _call_helper(op, helpers[name], name)
            n += 1
            continue
        if not is_i8_product_sum(op.regions[0].blocks[0]):
            continue
        base, text = (DOT_HELPER, _dot_helper_text) if kind == "dot" else (MATMUL_HELPER, _matmul_helper_text)
        fill = _zero_fill_before(op)
        name = f"{base}{space}" + ("_zero" if fill is not None else "")
        if name not in helpers:
            src = text(space, zero_init=True) if fill is not None else text(space)
            helper = ir.Module.parse(src.replace(f"@{base}(", f"@{name}("))
            fn = list(helper.body.operations)[0]
            fn.operation.move_before(list(module.body.operations)[0])
            helpers[name] = fn
        _call_helper(op, helpers[name], name)
        if fill is not None:
            fill.erase()
        n += 1
    return n


def _call_helper(op, fn, name: str) -> None:
    """Replace the linalg op by a call of `fn` on its operands (cast to the helper's dynamic memref types)."""
    from torch_mlir.dialects import func, memref
    with ir.InsertionPoint(op), op.location:
        args = [memref.cast(t, v) for t, v in zip(fn.type.inputs, op.operands)]
        func.CallOp([], ir.FlatSymbolRefAttr.get(name), args)
    op.erase()


_VIEW_OPS = {"memref.collapse_shape", "memref.expand_shape", "memref.cast", "memref.subview", "memref.view",
             "memref.reinterpret_cast"}


def _zero_fill_before(op):
    """The op right before `op` when it only writes zeros into `op`'s output (the matmul or dot then starts
    from zero accumulators instead of reading C or y; LLVM turned that fill into scalar memset calls)."""
    ops = [o.operation for o in op.operation.block.operations]
    i = next(k for k, o in enumerate(ops) if o == op.operation)
    # views and copies into other buffers in between leave C alone (conv-im2col's collapse of the window copy
    # sat between the output's fill and its matmul, a tile's copies of A and B into TCM do: the fill stayed, a
    # byte-wise memset of the whole output, 0.058 packets per MAC)
    c_buf = memspace.root_buffer(op.operands[2])
    while i > 0 and (ops[i - 1].name in _VIEW_OPS or ops[i - 1].name == "linalg.copy"
                     and all(memspace.root_buffer(v) != c_buf for v in ops[i - 1].operands)):
        i -= 1
    if i == 0:
        return None
    prev = ops[i - 1]
    if prev.name != "linalg.generic" or len(prev.operands) != 1 or prev.operands[0] != op.operands[2]:
        return None
    body = [o.operation for o in prev.regions[0].blocks[0].operations]
    if len(body) != 1 or body[0].name != "linalg.yield" or _const_int(body[0].operands[0]) != 0:
        return None
    if any(i != "parallel" for i in _iters(prev)):
        return None
    return prev


MATMUL_HELPER = "hx_vrmpy_matmul"
MM_ROWS = 4                 # rows of A per register block: 4 accumulators (128 columns) per row


def _row_blocks(block, rows: int, masked: bool) -> list[str]:
    """A matmul helper's row loops: blocks of `rows` rows up to %MR, then the remaining rows one by one
    (`block(nrows, masked, row0)` emits one block's text)."""
    L = [f"scf.for %mb = %c0 to %MR step %c{rows} {{"]
    L += ["  " + x for x in block(rows, masked, "%mb")] + ["}"]
    L += ["scf.for %mt = %MR to %M step %c1 {"]
    L += ["  " + x for x in block(1, masked, "%mt")] + ["}"]
    return L


MM_KCHUNK = 128             # quads of k whose interleaved B rows one column block packs at a time (64 KiB)
                            # and whose bytes of A a row block copies (512 per row)


def _matmul_helper_text(space: str, rows: int = MM_ROWS, zero_init: bool = False) -> str:
    """C[m, n] += sum_k A[m, k] * B[k, n] (int8 -> int32) by vrmpy, 128 columns x `rows` rows at a time.

    Per column block and chunk of MM_KCHUNK quads of k, B is packed once into an aligned stack buffer: per 4 k,
    4 vectors whose 32-bit lane i holds B[k..k+3, n0 + i] xor 0x80 (4 rows interleaved by two byte and two
    halfword shuffles). Per row block, the chunk's bytes of its rows of A are copied into a 4 x 512-byte stack
    buffer (zeros past K), and each step of 4 k loads the 4 B vectors (aligned) and per row one word
    A[m, k..k+3], and one `vrmpy(Vu.ub, Rt.b)` per 32 columns adds the four products into C's lane: the
    scalar operand needs no vsplat, which costs a multiply slot as vrmpy does (10 packets for a step's 16
    vrmpy with 4 splats, 8 without). B's unsigned bytes are B + 128, so each lane holds
    sum (B + 128) * A = C + 128 * sum A: the row's -128 * sum A comes from the same copies of A (vrmpy by
    bytes of -128, then rotate-and-add so every lane holds the sum) and starts the chunk's accumulators.
    Rows past K hold 0x80, multiplied by A's zero bytes. Tails: the last column block computes only the
    32-column vectors that hold columns (1-4), its C stores are masked, and its B rows are read whole while
    the 128 bytes stay inside B's extent (lanes past N are never stored), masked after that; the rows past
    the last full block run as one block whose missing rows repeat row M-1 and are not stored. zero_init: C
    is not read by the first chunk (the zero fill before it was dropped).

    Stack: 64 KiB of packed B (MM_KCHUNK; 32 KiB chunks cost 8% more packets on 64x256x600) and 2 KiB of A,
    whatever the shapes. The runtime's pool workers have 4 MiB stacks; a caller's thread needs ~70 KiB free."""
    sp = f", {space}" if space else ""
    a = f"memref<?x?xi8, strided<[?, 1], offset: ?>{sp}>"
    c = f"memref<?x?xi32, strided<[?, 1], offset: ?>{sp}>"
    v8, v32, v64 = "vector<128xi8>", "vector<32xi32>", "vector<64xi32>"
    vr = f"({v32}, {v32}, {v32}) -> {v32}"
    vrs = f"({v32}, {v32}, i32) -> {v32}"
    apt = f"memref<{rows * MM_KCHUNK + 32}xi32>"     # + the word the last step reads ahead (a vector)
    iota8 = ", ".join(map(str, range(128)))
    iota32 = ", ".join(map(str, range(32)))
    uid = [0]

    def fresh(p):
        uid[0] += 1
        return f"%{p}{uid[0]}"

    def dowhile(lo: str, hi: str, body, init: list[str], tys: list[str]) -> tuple[list[str], list[str]]:
        """lo <= q < hi (lo < hi) as a do-while: scf.for lowers to a loop tested at the top, which LLVM's
        rotation left alone here (header over its size limit), and Hexagon's hardware loops (which its
        software pipeliner needs) want the test at the bottom and a trip count (a unit step: scf's
        `k += 4` has no nsw). body(q, carried) -> (lines, results)."""
        q, qn, more, lp = fresh("q"), fresh("qn"), fresh("more"), fresh("lp")
        car = [fresh("cr") for _ in init]
        after = [fresh("o") for _ in range(len(init) + 1)]
        b, res = body(q, car)
        ty = ", ".join(["index"] + tys)
        iters = ", ".join([f"{q} = {lo}"] + [f"{x} = {i}" for x, i in zip(car, init)])
        L = [f"{lp}:{len(init) + 1} = scf.while ({iters}) : ({ty}) -> ({ty}) {{"]
        L += ["  " + x for x in b]
        L += [f"  {qn} = arith.addi {q}, %c1 overflow<nsw, nuw> : index",
              f"  {more} = arith.cmpi ult, {qn}, {hi} : index",
              f"  scf.condition({more}) {', '.join([qn] + res)} : {ty}",
              "} do {",
              f"^bb0({', '.join(f'{x}: {t}' for x, t in zip(after, ['index'] + tys))}):",
              f"  scf.yield {', '.join(after)} : {ty}",
              "}"]
        return L, [f"{lp}#{i + 1}" for i in range(len(init))]

    def pack() -> list[str]:
        """B rows 4 kc .. 4 kce - 1 of the column block into %bp, interleaved, xor 0x80. Two loops: the quads
        whose 4 rows are read whole (below %kfit) with plain loads, then the rest row by row (masked or zeros)."""
        def body(q, _, checked: bool):
            S = [f"%pk{q[1:]} = arith.muli {q}, %c4 : index"]
            bw = []
            for j in range(4):
                kj, bj, w, inf, ink = fresh("k"), fresh("b"), fresh("bw"), fresh("fit"), fresh("in")
                S.append(f"{kj} = arith.addi %pk{q[1:]}, %c{j} : index")
                if not checked:
                    S.append(f"{bj} = vector.load %B[{kj}, %n0] : {a}, {v8}")
                else:
                    S += [f"{inf} = arith.cmpi ult, {kj}, %kfit : index",
                          f"{bj} = scf.if {inf} -> ({v8}) {{",
                          f"  %t{bj[1:]} = vector.load %B[{kj}, %n0] : {a}, {v8}", f"  scf.yield %t{bj[1:]} : {v8}",
                          "} else {",
                          f"  {ink} = arith.cmpi ult, {kj}, %K : index",
                          f"  %u{bj[1:]} = scf.if {ink} -> ({v8}) {{",
                          f"    %m{bj[1:]} = vector.maskedload %B[{kj}, %n0], %bm, %z8 : {a}, vector<128xi1>, {v8} into {v8}",
                          f"    scf.yield %m{bj[1:]} : {v8}",
                          "  } else {", f"    scf.yield %z8 : {v8}", "  }",
                          f"  scf.yield %u{bj[1:]} : {v8}", "}"]
                # (rows past K: 0x80, times A's zero bytes)
                S += [f"{w}r = vector.bitcast {bj} : {v8} to {v32}",
                      f"{w} = arith.xori {w}r, %flip : {v32}"]
                bw.append(w)

            # the interleave as HVX vshuff (bytes of rows 0|1 and 2|3, then halfwords of those): 4 permutes
            # where LLVM's lowering of the equivalent vector.shuffle took 8, and opaque to LLVM, which
            # otherwise narrowed the B loads of a narrow block to scalar words put together lane by lane
            def shuff(u: str, v: str, rt: str) -> tuple[str, str]:
                pr, lo, hi = fresh("pr"), fresh("lo"), fresh("hi")
                S.extend([f'{pr} = llvm.call_intrinsic "{VSHUFF_VVR}"({u}, {v}, {rt}) : ({v32}, {v32}, i32) -> {v64}',
                          f"{lo} = vector.extract_strided_slice {pr} {{offsets = [0], sizes = [32], strides = [1]}} : {v64} to {v32}",
                          f"{hi} = vector.extract_strided_slice {pr} {{offsets = [32], sizes = [32], strides = [1]}} : {v64} to {v32}"])
                return lo, hi
            l01, h01 = shuff(bw[1], bw[0], "%rtb")
            l23, h23 = shuff(bw[3], bw[2], "%rtb")
            pw = [*shuff(l23, l01, "%rth"), *shuff(h23, h01, "%rth")]
            lq, base = fresh("lq"), fresh("bo")
            S += [f"{lq} = arith.subi {q}, %kc : index", f"{base} = arith.muli {lq}, %c128 : index"]
            for s in range(4):
                o = fresh("bo")
                S += [f"{o} = arith.addi {base}, %c{32 * s} : index",
                      f"vector.store {pw[s]}, %bp[{o}] : memref<?xi32>, {v32}"]
            return S, []
        fast, _ = dowhile("%kc", "%pqf", lambda q, c: body(q, c, False), [], [])
        slow, _ = dowhile("%pqf", "%kce", lambda q, c: body(q, c, True), [], [])
        L = ["%pq0 = arith.divui %kfit, %c4 : index",
             "%pq1 = arith.minui %pq0, %kce : index",
             "%pqf = arith.maxui %pq1, %kc : index",
             "%pfast = arith.cmpi ult, %kc, %pqf : index",
             "%pslow = arith.cmpi ult, %pqf, %kce : index"]
        L += ["scf.if %pfast {", *["  " + x for x in fast], "}"]
        L += ["scf.if %pslow {", *["  " + x for x in slow], "}"]
        return L

    def block(nrows: int, masked: bool, m0: str, nvec: int = 4, clamp: bool = False) -> list[str]:
        L = []
        rowv, live = [], []
        for r in range(nrows):
            mr = fresh("m")
            L.append(f"{mr} = arith.addi {m0}, %c{r} : index" if r else f"{mr} = arith.addi {m0}, %c0 : index")
            if clamp and r:         # a row past M computes row M-1 again and is not stored
                lv, mc = fresh("live"), fresh("m")
                L += [f"{lv} = arith.cmpi ult, {mr}, %M : index", f"{mc} = arith.minui {mr}, %Mlast : index"]
                live.append(lv)
                mr = mc
            else:
                live.append(None)
            rowv.append(mr)
        # the chunk's bytes of the block's rows of A into %ap (MM_KCHUNK words per row): 128-byte copies, the
        # row's last one masked (zeros past K), so each step reads A[m, k..k+3] as one aligned word instead of
        # 4 bytes put together; the same vectors give the row's correction for B's +128 (see the docstring)
        corr, abase = [], []
        for r in range(nrows):
            ab, sr, tr = fresh("ab"), fresh("cs"), fresh("ct")
            L.append(f"{ab} = arith.constant {r * MM_KCHUNK} : index")
            j, cs, v, w, jw, d, cs2 = "%j" + ab[1:], fresh("cs"), fresh("v"), fresh("w"), fresh("jw"), fresh("d"), fresh("cs")
            L += [f"{sr} = scf.for {j} = %kb0 to %kb1 step %c128 iter_args({cs} = %z32) -> ({v32}) {{",
                  f"  {v} = vector.load %A[{rowv[r]}, {j}] : {a}, {v8}",
                  f"  {w} = vector.bitcast {v} : {v8} to {v32}",
                  f"  %o{jw[1:]} = arith.subi {j}, %kb0 : index",
                  f"  {jw} = arith.divui %o{jw[1:]}, %c4 : index",
                  f"  {d} = arith.addi {jw}, {ab} : index",
                  f"  vector.store {w}, %ap[{d}] : {apt}, {v32}",
                  f'  {cs2} = llvm.call_intrinsic "{VRMPY_VV}"({cs}, {w}, %flip) : {vr}',
                  f"  scf.yield {cs2} : {v32}", "}"]
            v, w, d, cs2 = fresh("v"), fresh("w"), fresh("d"), fresh("cs")
            L += [f"{tr} = scf.if %ctail -> ({v32}) {{",
                  f"  {v} = vector.maskedload %A[{rowv[r]}, %K128], %am, %z8 : {a}, vector<128xi1>, {v8} into {v8}",
                  f"  {w} = vector.bitcast {v} : {v8} to {v32}",
                  f"  {d} = arith.addi %tailw, {ab} : index",
                  f"  vector.store {w}, %ap[{d}] : {apt}, {v32}",
                  f'  {cs2} = llvm.call_intrinsic "{VRMPY_VV}"({sr}, {w}, %flip) : {vr}',
                  f"  scf.yield {cs2} : {v32}",
                  "} else {", f"  scf.yield {sr} : {v32}", "}"]
            # every lane the sum of all (rotate by half and add): -128 * (the chunk's sum of A's row)
            cur = tr
            for sh in (64, 32, 16, 8, 4):
                rot, nxt = fresh("rot"), fresh("cs")
                L += [f'{rot} = llvm.call_intrinsic "{VROR}"({cur}, %rot{sh}) : ({v32}, i32) -> {v32}',
                      f"{nxt} = arith.addi {cur}, {rot} : {v32}"]
                cur = nxt
            corr.append(cur)
            abase.append(ab)
        accs = []
        for r in range(nrows):
            for s in range(nvec):
                v, col = fresh("acc"), fresh("col")
                L.append(f"{col} = arith.addi %n0, %c{32 * s} : index")
                load = (f"vector.maskedload %C[{rowv[r]}, {col}], %cm{s}, %z32 : {c}, vector<32xi1>, {v32} into {v32}"
                        if masked else f"vector.load %C[{rowv[r]}, {col}] : {c}, {v32}")
                if zero_init:       # C holds nothing before the first chunk
                    L += [f"{v} = scf.if %first -> ({v32}) {{", f"  scf.yield {corr[r]} : {v32}", "} else {",
                          f"  {v}l = {load}", f"  {v}c = arith.addi {v}l, {corr[r]} : {v32}",
                          f"  scf.yield {v}c : {v32}", "}"]
                else:
                    L += [f"{v}l = {load}", f"{v} = arith.addi {v}l, {corr[r]} : {v32}"]
                accs.append(v)

        # A's words are loaded one step ahead (carried into the next step): a scalar load's result is not
        # ready in its own packet, and LLVM's pipeliner found no schedule for this loop (9 packets a step
        # with the loads at its top, against 8 for the 16 vrmpy)
        a0 = []
        for r in range(nrows):
            ae = fresh("a")
            L.append(f"{ae} = memref.load %ap[{abase[r]}] : {apt}")
            a0.append(ae)

        def step(q: str, car: list[str]) -> tuple[list[str], list[str]]:
            accs_in, words = car[:len(accs)], car[len(accs):]
            lq, lq1, base = fresh("lq"), fresh("lq"), fresh("bo")
            S = [f"{lq} = arith.subi {q}, %kc : index", f"{base} = arith.muli {lq}, %c128 : index",
                 f"{lq1} = arith.addi {lq}, %c1 : index"]
            pw = []
            for s in range(nvec):
                o, b = fresh("bo"), fresh("pb")
                S += [f"{o} = arith.addi {base}, %c{32 * s} : index",
                      f"{b} = vector.load %bp[{o}] : memref<?xi32>, {v32}"]
                pw.append(b)
            outs, nxt = [], []
            for r in range(nrows):
                ai, ae = fresh("ai"), fresh("a")
                # A[m, k+4..k+7] from the packed row: one aligned word (bytes past K are zeros; past the
                # chunk, read and not used)
                S += [f"{ai} = arith.addi {lq1}, {abase[r]} : index",
                      f"{ae} = memref.load %ap[{ai}] : {apt}"]
                nxt.append(ae)
                for s in range(nvec):
                    t = fresh("t")
                    S.append(f'{t} = llvm.call_intrinsic "{VRMPY_VS}"({accs_in[nvec * r + s]}, {pw[s]}, {words[r]}) : {vrs}')
                    outs.append(t)
            return S, outs + nxt

        body, cur = dowhile("%kc", "%kce", step, accs + a0, [v32] * len(accs) + ["i32"] * nrows)
        L += body
        for r in range(nrows):
            st = []
            for s in range(nvec):
                col = fresh("col")
                st.append(f"{col} = arith.addi %n0, %c{32 * s} : index")
                v = cur[nvec * r + s]
                if masked:
                    st.append(f"vector.maskedstore %C[{rowv[r]}, {col}], %cm{s}, {v} : {c}, vector<32xi1>, {v32}")
                else:
                    st.append(f"vector.store {v}, %C[{rowv[r]}, {col}] : {c}, {v32}")
            L += [f"scf.if {live[r]} {{", *["  " + x for x in st], "}"] if live[r] else st
        return L

    def row_blocks(masked: bool, nvec: int = 4) -> list[str]:
        """Blocks of `rows` rows up to %MR, then one clamped block for the rest."""
        L = [f"scf.for %mb = %c0 to %MR step %c{rows} {{"]
        L += ["  " + x for x in block(rows, masked, "%mb", nvec)] + ["}"]
        if rows > 1:
            L += ["scf.if %has_mtail {"] + ["  " + x for x in block(rows, masked, "%MR", nvec, clamp=True)] + ["}"]
        return L

    consts = "\n".join(f"  %c{v} = arith.constant {v} : index"
                       for v in sorted({0, 1, 2, 3, 4, 128, rows, MM_KCHUNK, *range(0, 128, 32), *range(rows)}))
    out = [f"func.func private @{MATMUL_HELPER}(%A: {a}, %B: {a}, %C: {c})",
           '    attributes {llvm.linkage = #llvm.linkage<internal>, passthrough = ["alwaysinline"]} {',
           consts,
           f"  %z8 = arith.constant dense<0> : {v8}",
           f"  %z32 = arith.constant dense<0> : {v32}",
           f"  %iota8 = arith.constant dense<[{iota8}]> : {v8}",
           f"  %iota32 = arith.constant dense<[{iota32}]> : vector<32xi32>",
           "  %rtb = arith.constant -1 : i32",
           "  %rth = arith.constant -2 : i32",
           f"  %M = memref.dim %A, %c0 : {a}",
           f"  %K = memref.dim %A, %c1 : {a}",
           f"  %N = memref.dim %B, %c1 : {a}",
           "  %kqt = arith.ceildivui %K, %c4 : index",
           f"  %mq = arith.divui %M, %c{rows} : index",
           f"  %MR = arith.muli %mq, %c{rows} : index",
           "  %has_mtail = arith.cmpi ult, %MR, %M : index",
           # packed rows of A: ceil(K/4) words + one vector of slack (whole-vector copies), 128-byte aligned
           "  %kq128 = arith.divui %K, %c128 : index",
           "  %K128 = arith.muli %kq128, %c128 : index",

           "  %has_atail = arith.cmpi ult, %K128, %K : index",
           "  %arem = arith.subi %K, %K128 : index",
           "  %arem8 = arith.index_cast %arem : index to i8",
           f"  %aremv = vector.broadcast %arem8 : i8 to {v8}",
           f"  %am = arith.cmpi slt, %iota8, %aremv : {v8}",
           f"  %ap = memref.alloca() {{alignment = 128 : i64}} : {apt}",
           # B's bytes xor 0x80 (+128: unsigned for vrmpy(Vu.ub, Rt.b)); as A's bytes, -128 each
           f"  %flip = arith.constant dense<{-0x7f7f7f80}> : {v32}",
           *[f"  %rot{sh} = arith.constant {sh} : i32" for sh in (64, 32, 16, 8, 4)],
           # interleaved B of one chunk: 4 vectors (128 words) per quad of k
           f"  %bpn = arith.constant {MM_KCHUNK * 128} : index",
           "  %bp = memref.alloca(%bpn) {alignment = 128 : i64} : memref<?xi32>",
           "  %Mlast = arith.subi %M, %c1 : index",
           f"  %bbase, %boff, %bsz:2, %bstr:2 = memref.extract_strided_metadata %B : {a} -> memref<i8{sp}>, index, index, index, index, index",
           "  %bstr1 = arith.maxui %bstr#0, %c1 : index",
           "  scf.for %n0 = %c0 to %N step %c128 {",
           "    %nrem0 = arith.subi %N, %n0 : index",
           "    %full = arith.cmpi sge, %nrem0, %c128 : index",
           "    %nrem = arith.minui %nrem0, %c128 : index",
           # lane i of a B row is valid when i < nrem (the i8 compare only matters for nrem < 128);
           # C's 32-lane block s when i < nrem - 32 s
           "    %nrem8 = arith.index_cast %nrem : index to i8",
           f"    %nremv = vector.broadcast %nrem8 : i8 to {v8}",
           f"    %bm = arith.cmpi slt, %iota8, %nremv : {v8}",
           "    %nrem32 = arith.index_cast %nrem : index to i32"]
    for s in range(4):
        out += [f"    %off{s} = arith.constant {32 * s} : i32",
                f"    %lim{s} = arith.subi %nrem32, %off{s} : i32",
                f"    %limv{s} = vector.broadcast %lim{s} : i32 to vector<32xi32>",
                f"    %cm{s} = arith.cmpi slt, %iota32, %limv{s} : vector<32xi32>"]
    # whole B rows (n0 .. n0+127) stay inside B's extent for rows k < K-d, d = ceil((128 - nrem) / stride)
    out += ["    %bneed = arith.subi %c128, %nrem : index",
            "    %bd = arith.ceildivui %bneed, %bstr1 : index",
            "    %bfits = arith.cmpi ugt, %K, %bd : index",
            "    %bkd = arith.subi %K, %bd : index",
            "    %kfit = arith.select %bfits, %bkd, %c0 : index",
            f"    scf.for %kc = %c0 to %kqt step %c{MM_KCHUNK} {{",
            f"      %kcn = arith.addi %kc, %c{MM_KCHUNK} : index",
            "      %kce = arith.minui %kcn, %kqt : index",
            "      %first = arith.cmpi eq, %kc, %c0 : index",
            # the chunk's bytes of A: whole vectors from kb0 to kb1, the last chunk's masked one at K128
            "      %kb0 = arith.muli %kc, %c4 : index",
            "      %kbe = arith.muli %kce, %c4 : index",
            "      %kb1 = arith.minui %kbe, %K128 : index",
            "      %clast = arith.cmpi eq, %kce, %kqt : index",
            "      %ctail = arith.andi %clast, %has_atail : i1",
            "      %tailb = arith.subi %K128, %kb0 : index",
            "      %tailw = arith.divui %tailb, %c4 : index"]
    out += ["      " + x for x in pack()]
    out += ["      scf.if %full {"]
    out += ["        " + x for x in row_blocks(False)]
    out += ["      } else {"]
    # only the 32-column vectors that hold columns: nrem <= 32, 64, 96, else all four
    depth = 0
    for nv in (1, 2, 3):
        ind = "        " + "  " * depth
        out += [f"{ind}%le{nv} = arith.cmpi ule, %nrem, %c{32 * nv} : index", f"{ind}scf.if %le{nv} {{"]
        out += [ind + "  " + x for x in row_blocks(True, nv)] + [f"{ind}}} else {{"]
        depth += 1
    ind = "        " + "  " * depth
    out += [ind + x for x in row_blocks(True, 4)]
    for d in range(depth - 1, -1, -1):
        out.append("        " + "  " * d + "}")
    out += ["      }", "    }", "  }", "  return", "}"]
    return "\n".join(out)


# ---- f16 matmul: widening f16 products accumulated in f32 vector registers ---------------------------------

# Vxx.sf += vmpy(Vu.hf, Vv.hf): 64 f16 products added into 64 f32 lanes held in a register pair, the even
# lanes of the product in the pair's low vector and the odd ones in its high vector (LLVM's own lowering of a
# widening f16 multiply un-shuffles that pair with vshuff; so does this kernel, once per C block).
VMPY_SF_HF_ACC = "llvm.hexagon.V6.vmpy.sf.hf.acc.128B"
# qfloat (v79+, no IEEE HVX float): the products as a qf32 pair, qf32 adds, conversions at the block's ends
VMPY_QF32_HF = "llvm.hexagon.V6.vmpy.qf32.hf.128B"      # Vdd.qf32 = vmpy(Vu.hf, Vv.hf)
VADD_QF32 = "llvm.hexagon.V6.vadd.qf32.128B"            # Vd.qf32 = vadd(Vu.qf32, Vv.qf32)
QF_FROM_SF = "llvm.hexagon.V6.vadd.sf.128B"             # Vd.qf32 = vadd(Vu.sf, Vv.sf)
SF_FROM_QF32 = "llvm.hexagon.V6.vconv.sf.qf32.128B"     # Vd.sf = Vu.qf32
HMATMUL_HELPER = "hx_hvx_hmatmul"


def _is_f16_product_sum(block) -> bool:
    """The body is `out + extf(a) * extf(b)` with a, b the block's f16 arguments and out the f32 one."""
    ops = [o.operation for o in block.operations]
    if len(ops) != 5 or ops[-1].name != "linalg.yield":
        return False
    if sorted(o.name for o in ops[:-1]) != ["arith.addf", "arith.extf", "arith.extf", "arith.mulf"]:
        return False
    f16, f32 = ir.F16Type.get(), ir.F32Type.get()
    args = list(block.arguments)
    if [a.type for a in args] != [f16, f16, f32]:
        return False
    ext = [o for o in ops if o.name == "arith.extf"]
    mul = next(o for o in ops if o.name == "arith.mulf")
    add = next(o for o in ops if o.name == "arith.addf")
    if sorted(str(_arg_no(o.operands[0], block)) for o in ext) != ['0', '1'] or any(o.results[0].type != f32 for o in ext):
        return False
    if any(not any(_owner(v) == e for e in ext) for v in mul.operands):
        return False
    if mul.operands[0] == mul.operands[1] or ops[-1].operands[0] != add.results[0]:
        return False
    return (sorted(str(_arg_no(v, block)) for v in add.operands) == ["2", "None"]
            and any(_owner(v) == mul for v in add.operands if _arg_no(v, block) is None))


HMM2_ROWS = 4               # rows per block of the k-pair kernel: 4 rows x 2 accumulator pairs = 16 vectors


def _hmatmul_kpair_helper_text(space: str, mode: str, rows: int = HMM2_ROWS) -> str:
    """C[m, n] += sum_k A[m, k] * B[k, n] (f16 inputs, f32 C), two k per step, 64 columns x `rows` rows.

    A splat costs a multiply slot (vsplat is a VX instruction, like vmpy), so each splat feeds two
    multiplies: rows k and k+1 of B are interleaved by halfword (one vshuff, shared by the block's rows),
    A[m, k] and A[m, k+1] are splat together as one word, and `sf += vmpy(hf, hf)` puts the k products of
    columns n0 + i in lane i of the pair's low vector and the k+1 products in its high vector (even and
    odd halfword lanes). Per row two pairs (columns 0-31, 32-63); C enters the low vectors, and low + high
    is C's result in column order. An odd K's last k pairs with zeros. mode "ieee" (v68-v75): IEEE
    `sf += vmpy(hf, hf)`; "qf32" (v79+, qfloat only): `qf32 = vmpy(hf, hf)` pairs and qf32 adds, C
    converted to qf32 and back once per block; "generic" (no HVX float: the simulation build) computes the
    same lanes in the same order with plain vector arithmetic (f16 x f16 products are exact in f32, so
    "ieee" rounds the same)."""
    sp = f", {space}" if space else ""
    a = f"memref<?x?xf16, strided<[?, 1], offset: ?>{sp}>"
    c = f"memref<?x?xf32, strided<[?, 1], offset: ?>{sp}>"
    vh, vf, vp, vw, vq = "vector<64xf16>", "vector<64xf32>", "vector<64xi32>", "vector<32xi32>", "vector<32xf32>"
    ieee = mode != "generic"                 # accumulators as HVX register pairs (vector<64xi32>)
    qf = mode == "qf32"
    acc_t = vp if ieee else vf
    inter = ", ".join(f"{i}, {64 + i}" for i in range(64))                         # B rows k, k+1 by halfword
    deal = ", ".join(map(str, list(range(0, 64, 2)) + list(range(1, 64, 2))))
    iota = ", ".join(map(str, range(64)))
    pat = ", ".join(["0"] * 32 + ["1"] * 32)
    uid = [0]

    def fresh(p):
        uid[0] += 1
        return f"%{p}{uid[0]}"

    def sl(L, v, off, n, t_in, t_out):
        r = fresh("s")
        L.append(f"{r} = vector.extract_strided_slice {v} {{offsets = [{off}], sizes = [{n}], strides = [1]}} : {t_in} to {t_out}")
        return r

    def call(L, name, args, res_t=vw):
        r = fresh("q")
        L.append(f'{r} = llvm.call_intrinsic "{name}"({", ".join(args)}) : ({", ".join([vw] * len(args))}) -> {res_t}')
        return r

    def step(k: str, tail: bool, masked: bool, rowv, its) -> tuple[list[str], list[str]]:
        S = []

        def load_b(kr):
            b = fresh("b")
            S.append(f"{b} = vector.maskedload %B[{kr}, %n0], %bm, %zh : {a}, vector<64xi1>, {vh} into {vh}" if masked
                     else f"{b} = vector.load %B[{kr}, %n0] : {a}, {vh}")
            return b
        b0 = load_b(k)
        if tail:
            b1 = "%zh"
        else:
            k1 = fresh("k")
            S.append(f"{k1} = arith.addi {k}, %c1 : index")
            b1 = load_b(k1)
        bi = fresh("bi")
        S.append(f"{bi} = vector.shuffle {b0}, {b1} [{inter}] : {vh}, {vh}")
        bps = [sl(S, bi, 0, 64, "vector<128xf16>", vh), sl(S, bi, 64, 64, "vector<128xf16>", vh)]
        ops = []
        for bp in bps:
            if ieee:
                w = fresh("bw")
                S.append(f"{w} = vector.bitcast {bp} : {vh} to {vw}")
                ops.append(w)
            else:
                d, e = fresh("bd"), fresh("be")
                S += [f"{d} = vector.shuffle {bp}, {bp} [{deal}] : {vh}, {vh}", f"{e} = arith.extf {d} : {vh} to {vf}"]
                ops.append(e)
        outs = []
        for r, row in enumerate(rowv):
            x2 = fresh("x")
            if tail:
                x = fresh("x")
                S += [f"{x} = memref.load %A[{row}, {k}] : {a}", f"{x2} = vector.from_elements {x}, %zs : vector<2xf16>"]
            else:
                S.append(f"{x2} = vector.load %A[{row}, {k}] : {a}, vector<2xf16>")
            if ieee:
                xw, xi, xs = fresh("xw"), fresh("xi"), fresh("xs")
                S += [f"{xw} = vector.bitcast {x2} : vector<2xf16> to vector<1xi32>",
                      f"{xi} = vector.extract {xw}[0] : i32 from vector<1xi32>",
                      f"{xs} = vector.broadcast {xi} : i32 to {vw}"]
                for j in range(2):
                    t = fresh("t")
                    if qf:         # qf32 product pair, added half by half into the qf32 accumulators
                        pr = call(S, VMPY_QF32_HF, [ops[j], xs], vp)
                        acc = its[2 * r + j]
                        halves = [(sl(S, acc, h, 32, vp, vw), sl(S, pr, h, 32, vp, vw)) for h in (0, 32)]
                        sums = [call(S, VADD_QF32, [x, y]) for x, y in halves]
                        S.append(f"{t} = vector.shuffle {sums[0]}, {sums[1]} [{iota}] : {vw}, {vw}")
                    else:
                        S.append(f'{t} = llvm.call_intrinsic "{VMPY_SF_HF_ACC}"({its[2 * r + j]}, {ops[j]}, {xs}) : ({vp}, {vw}, {vw}) -> {vp}')
                    outs.append(t)
            else:
                xe, xs = fresh("xe"), fresh("xs")
                S += [f"{xe} = arith.extf {x2} : vector<2xf16> to vector<2xf32>",
                      f"{xs} = vector.shuffle {xe}, {xe} [{pat}] : vector<2xf32>, vector<2xf32>"]
                for j in range(2):
                    pr, t = fresh("pr"), fresh("t")
                    S += [f"{pr} = arith.mulf {ops[j]}, {xs} : {vf}", f"{t} = arith.addf {its[2 * r + j]}, {pr} : {vf}"]
                    outs.append(t)
        return S, outs

    def block(nrows: int, masked: bool, m0: str) -> list[str]:
        L, rowv, accs = [], [], []
        for r in range(nrows):
            mr = fresh("m")
            L.append(f"{mr} = arith.addi {m0}, %c{r} : index")
            rowv.append(mr)
        for r in range(nrows):
            cv = fresh("cv")
            if masked:
                L.append(f"{cv} = vector.maskedload %C[{rowv[r]}, %n0], %bm, %zf : {c}, vector<64xi1>, {vf} into {vf}")
            else:
                L.append(f"{cv} = vector.load %C[{rowv[r]}, %n0] : {c}, {vf}")
            for j in range(2):            # C's 32 columns in the low vector, zeros in the high one
                h, v = sl(L, cv, 32 * j, 32, vf, vq), fresh("acc")
                L.append(f"{v} = vector.shuffle {h}, %zq [{iota}] : {vq}, {vq}")
                if ieee:
                    w = fresh("aw")
                    L.append(f"{w} = vector.bitcast {v} : {vf} to {vp}")
                    v = w
                if qf:             # sf + 0 -> qf32, once per block
                    hs = [call(L, QF_FROM_SF, [sl(L, v, h, 32, vp, vw), "%zw"]) for h in (0, 32)]
                    v = fresh("aq")
                    L.append(f"{v} = vector.shuffle {hs[0]}, {hs[1]} [{iota}] : {vw}, {vw}")
                accs.append(v)
        n = len(accs)
        tys = ", ".join([acc_t] * n)
        kl = fresh("kl")
        its = [f"%i{kl[1:]}_{i}" for i in range(n)]
        body, res = step("%kk", False, masked, rowv, its)
        L.append(f"{kl}:{n} = scf.for %kk = %c0 to %K2 step %c2 iter_args("
                 + ", ".join(f"{its[i]} = {accs[i]}" for i in range(n)) + f") -> ({tys}) {{")
        L += ["  " + x for x in body] + [f"  scf.yield {', '.join(res)} : {tys}", "}"]
        tl = fresh("tl")
        tbody, tres = step("%K2", True, masked, rowv, [f"{kl}#{i}" for i in range(n)])
        L.append(f"{tl}:{n} = scf.if %has_ktail -> ({tys}) {{")
        L += ["  " + x for x in tbody] + [f"  scf.yield {', '.join(tres)} : {tys}", "} else {",
                                           f"  scf.yield {', '.join(f'{kl}#{i}' for i in range(n))} : {tys}", "}"]
        for r in range(nrows):
            sums = []
            for j in range(2):
                v = f"{tl}#{2 * r + j}"
                if qf:             # low + high in qf32, then one conversion to sf
                    q = call(L, VADD_QF32, [sl(L, v, 0, 32, vp, vw), sl(L, v, 32, 32, vp, vw)])
                    sm = fresh("sum")
                    L.append(f"{sm} = vector.bitcast {call(L, SF_FROM_QF32, [q])} : {vw} to {vq}")
                    sums.append(sm)
                    continue
                if ieee:
                    w = fresh("vf")
                    L.append(f"{w} = vector.bitcast {v} : {vp} to {vf}")
                    v = w
                lo, hi, sm = sl(L, v, 0, 32, vf, vq), sl(L, v, 32, 32, vf, vq), fresh("sum")
                L.append(f"{sm} = arith.addf {lo}, {hi} : {vq}")
                sums.append(sm)
            o = fresh("o")
            L.append(f"{o} = vector.shuffle {sums[0]}, {sums[1]} [{iota}] : {vq}, {vq}")
            if masked:
                L.append(f"vector.maskedstore %C[{rowv[r]}, %n0], %bm, {o} : {c}, vector<64xi1>, {vf}")
            else:
                L.append(f"vector.store {o}, %C[{rowv[r]}, %n0] : {c}, {vf}")
        return L

    consts = "\n".join(f"  %c{v} = arith.constant {v} : index" for v in sorted({0, 1, 2, 64, rows, *range(rows)}))
    out = [f"func.func private @{HMATMUL_HELPER}(%A: {a}, %B: {a}, %C: {c})",
           '    attributes {llvm.linkage = #llvm.linkage<internal>, passthrough = ["alwaysinline"]} {',
           consts,
           f"  %zh = arith.constant dense<0.0> : {vh}",
           f"  %zf = arith.constant dense<0.0> : {vf}",
           f"  %zq = arith.constant dense<0.0> : {vq}",
           "  %zs = arith.constant 0.0 : f16",
           f"  %zw = arith.constant dense<0> : {vw}",
           f"  %iota = arith.constant dense<[{iota}]> : vector<64xi32>",
           f"  %M = memref.dim %A, %c0 : {a}",
           f"  %K = memref.dim %A, %c1 : {a}",
           f"  %N = memref.dim %B, %c1 : {a}",
           "  %kq = arith.divui %K, %c2 : index",
           "  %K2 = arith.muli %kq, %c2 : index",
           "  %has_ktail = arith.cmpi ne, %K2, %K : index",
           f"  %mq = arith.divui %M, %c{rows} : index",
           f"  %MR = arith.muli %mq, %c{rows} : index",
           "  scf.for %n0 = %c0 to %N step %c64 {",
           "    %nrem = arith.subi %N, %n0 : index",
           "    %full = arith.cmpi sge, %nrem, %c64 : index",
           "    scf.if %full {"]
    out += ["      " + x for x in _row_blocks(block, rows, False)]
    out += ["    } else {",
            "      %nrem32 = arith.index_cast %nrem : index to i32",
            "      %nremv = vector.broadcast %nrem32 : i32 to vector<64xi32>",
            "      %bm = arith.cmpi slt, %iota, %nremv : vector<64xi32>"]
    out += ["      " + x for x in _row_blocks(block, rows, True)]
    out += ["    }", "  }", "  return", "}"]
    return "\n".join(out)


def ieee_hvx(target) -> bool:
    """The target's HVX does IEEE single/half float arithmetic (v68-v75 with +hvx-ieee-fp)."""
    return "+hvx-ieee-fp" in target.features


def hvx_float_mode(target) -> str:
    """How the f16 matmul accumulates: "ieee" (IEEE HVX float), "qf32" (qfloat only: v79+), "generic"
    (no HVX float: the simulation build)."""
    if ieee_hvx(target):
        return "ieee"
    return "generic" if "-hvx-qfloat" in target.features else "qf32"


# ---- requantize: the 64-bit rounding multiply as a 32-bit multiply-high ------------------------------------

def _const_int(v):
    o = _owner(v)
    if getattr(o, "name", None) != "arith.constant":
        return None
    try:
        return ir.IntegerAttr(o.attributes["value"]).value
    except (ValueError, TypeError):
        return None


def requantize(module) -> int:
    """`trunci((extsi(x : i32) * M + 2^(31+s)) >> (32+s))` with M an i32 constant and s >= 1 is exactly
    `(mulhi(x, M) + 2^(s-1)) >> s` in 32 bits: with x*M = hi*2^32 + lo (0 <= lo < 2^32), the rounding constant
    is 2^(s-1) * 2^32, so the shifted sum is floor((hi + 2^(s-1) + lo/2^32) / 2^s) and lo/2^32 < 1 never
    crosses a multiple of 2^s; |hi| < 2^30 leaves no overflow. HVX has the 32x32 multiply-high (vmpye/vmpyo);
    64-bit lanes it has not, so the i64 chain ran mostly as scalar code."""
    from ..ir import ops_named
    i32, i64 = ir.IntegerType.get_signless(32), ir.IntegerType.get_signless(64)
    n = 0
    for tr in ops_named(module.operation, "arith.trunci"):
        if tr.operands[0].type != i64 or tr.results[0].type != i32:
            continue
        sh = _owner(tr.operands[0])
        if getattr(sh, "name", None) != "arith.shrsi" or _const_int(sh.operands[1]) is None:
            continue
        add = _owner(sh.operands[0])
        if getattr(add, "name", None) != "arith.addi":
            continue
        s = _const_int(sh.operands[1]) - 32
        mul, rnd = None, None
        for a, b in ((0, 1), (1, 0)):
            if getattr(_owner(add.operands[a]), "name", None) == "arith.muli" and _const_int(add.operands[b]) is not None:
                mul, rnd = _owner(add.operands[a]), _const_int(add.operands[b])
        if mul is None or not 1 <= s <= 30 or rnd != 1 << (31 + s):
            continue
        x, m = None, None
        for a, b in ((0, 1), (1, 0)):
            ext = _owner(mul.operands[a])
            if getattr(ext, "name", None) == "arith.extsi" and ext.operands[0].type == i32 \
                    and _const_int(mul.operands[b]) is not None:
                x, m = ext.operands[0], _const_int(mul.operands[b])
        if x is None or not -(1 << 31) <= m < (1 << 31):
            continue
        from torch_mlir.dialects import arith
        with ir.InsertionPoint(tr), tr.location:
            mc = arith.ConstantOp(i32, m).result
            hi = arith.MulSIExtendedOp(x, mc).results[1]
            r = arith.AddIOp(hi, arith.ConstantOp(i32, 1 << (s - 1)).result).result
            q = arith.ShRSIOp(r, arith.ConstantOp(i32, s).result).result
        tr.results[0].replace_all_uses_with(q)
        tr.erase()
        for dead in (sh, add, mul, _owner(mul.operands[0]), _owner(mul.operands[1])):
            if getattr(dead, "name", None) != "arith.constant" and not list(dead.results[0].uses):
                dead.erase()
        n += 1
    return n


# ---- requantize narrowing: HVX rounding shift and saturating packs ---------------------------------------

def _splat(v):
    """The integer a splat `llvm.mlir.constant` (or a sext of one) holds, else None."""
    o = _owner(v)
    if getattr(o, "name", None) == "llvm.sext":
        return _splat(o.operands[0])
    if getattr(o, "name", None) != "llvm.mlir.constant":
        return None
    a = o.attributes["value"]
    if isinstance(a, ir.IntegerAttr):
        return ir.IntegerAttr(a).value
    try:
        d = ir.DenseIntElementsAttr(a)
    except (ValueError, TypeError):
        return None
    return ir.IntegerAttr(d.get_splat_value()).value if d.is_splat else None


def _operand_pair(op, name: str, pred):
    """For a commutative `op` named `name`: (the operand whose splat satisfies pred, its value, the other)."""
    if getattr(op, "name", None) != name:
        return None
    for a, b in ((0, 1), (1, 0)):
        c = _splat(op.operands[b])
        if c is not None and pred(c):
            return c, op.operands[a]
    return None


def _requantize_chain(tr):
    """(x, M, s, zp) when `tr` is trunc<128 x i32 -> i8>(smin(smax(((mulhi(x, M) + 2^(s-1)) >> s) [+ zp],
    -128), 127)) with mulhi(x, M) = trunc(lshr(mul(sext x, sext M), 32)) as lower-to-llvm writes the
    `requantize` rewrite, and 1 <= s <= 15 (vasr's shift), else None."""
    def v128(t, bits: int) -> bool:
        try:
            vt = ir.VectorType(t)
        except (ValueError, TypeError):
            return False
        return vt.shape == [128] and vt.element_type == ir.IntegerType.get_signless(bits)
    if not (v128(tr.operands[0].type, 32) and v128(tr.results[0].type, 8)):
        return None
    mn = _operand_pair(_owner(tr.operands[0]), "llvm.intr.smin", lambda c: c == 127)
    mx = mn and _operand_pair(_owner(mn[1]), "llvm.intr.smax", lambda c: c == -128)
    if not mx:
        return None
    zp, q = 0, mx[1]
    z = _operand_pair(_owner(q), "llvm.add", lambda c: -128 <= c <= 127)
    if z:
        zp, q = z
    sh = _owner(q)
    if getattr(sh, "name", None) != "llvm.ashr" or _splat(sh.operands[1]) is None:
        return None
    s = _splat(sh.operands[1])
    if not 1 <= s <= 15:
        return None
    r = _operand_pair(_owner(sh.operands[0]), "llvm.add", lambda c: c == 1 << (s - 1))
    hi = r and _owner(r[1])
    if getattr(hi, "name", None) != "llvm.trunc" or not v128(hi.operands[0].type, 64):
        return None
    lsr = _owner(hi.operands[0])
    if getattr(lsr, "name", None) != "llvm.lshr" or _splat(lsr.operands[1]) != 32:
        return None
    mul = _operand_pair(_owner(lsr.operands[0]), "llvm.mul", lambda c: -(1 << 31) <= c < (1 << 31))
    if not mul:
        return None
    ext = _owner(mul[1])
    if getattr(ext, "name", None) != "llvm.sext" or not v128(ext.operands[0].type, 32):
        return None
    return ext.operands[0], mul[0], s, zp


def requantize_narrowing(module) -> int:
    """The requantize tail on 128 int32 lanes (`_requantize_chain`) as HVX code: per 32 lanes the exact high
    word of the 64-bit product (vmpye + vmpyo on pairs; LLVM's own mulhs added a predicated sign fix per
    vector), then per two vectors one `vasr:rnd:sat` to halfwords (the rounding add, the shift and a 16-bit
    clamp that the later 8-bit one subsumes), a saturating halfword add of zp, and one `vpack:sat` to bytes
    for all 128 (LLVM: 4 rounding adds, 4 shifts, 4 max, 4 min, 3 vpacke). vasr and vpack interleave their
    inputs; pairing vectors 0 with 2 and 1 with 3 leaves one byte `vdeal` to restore the element order."""
    from torch_mlir.dialects import llvm

    from ..ir import walk
    found = []
    walk(module.operation, lambda o: found.append(o) if o.name == "llvm.trunc" else None)
    i32 = ir.IntegerType.get_signless(32)
    v32, v64 = ir.VectorType.get([32], i32), ir.VectorType.get([64], i32)
    n = 0
    for tr in found:
        m = _requantize_chain(tr)
        if m is None:
            continue
        x, mult, s, zp = m
        with ir.InsertionPoint(tr), tr.location:
            def const(t, val):
                return llvm.ConstantOp(t, val).result

            def call(name, t, *args):
                return llvm.CallIntrinsicOp(t, f"llvm.hexagon.V6.{name}.128B", list(args), [], []).result
            vm = const(v32, ir.DenseIntElementsAttr.get_splat(v32, ir.IntegerAttr.get(i32, mult)))
            half = (zp & 0xFFFF) * 0x10001 - (1 << 32 if zp < 0 else 0)
            vzp = const(v32, ir.DenseIntElementsAttr.get_splat(v32, ir.IntegerAttr.get(i32, half)))
            rs = const(i32, ir.IntegerAttr.get(i32, s))
            his = []
            for k in range(4):
                xk = llvm.ShuffleVectorOp(v32, x, x, list(range(32 * k, 32 * k + 32))).result
                prod = call("vmpyowh.64.acc", v64, call("vmpyewuh.64", v64, xk, vm), xk, vm)
                his.append(llvm.ShuffleVectorOp(v32, prod, prod, list(range(32, 64))).result)
            h02 = call("vaddhsat", v32, call("vasrwhrndsat", v32, his[2], his[0], rs), vzp)
            h13 = call("vaddhsat", v32, call("vasrwhrndsat", v32, his[3], his[1], rs), vzp)
            out = call("vdealb", v32, call("vpackhb.sat", v32, h13, h02))
            res = llvm.BitcastOp(tr.results[0].type, out).result
        tr.results[0].replace_all_uses_with(res)
        block = tr.block
        tr.erase()
        _no_unroll_latch(block)
        n += 1
    return n


NO_UNROLL_ATTR = "#llvm.loop_annotation<unroll = #llvm.loop_unroll<disable = true>>"
# what aligned_loop_versions puts on its loops for exact_loop_exits (they are counted loops: mustProgress holds)
HW_LOOP_ATTR = "#llvm.loop_annotation<unroll = #llvm.loop_unroll<disable = true>, mustProgress = true>"
_ICMP_NE, _ICMP_SLT = 1, 2                  # LLVM dialect ICmpPredicate values


def _no_unroll_latch(block, marked: bool = False) -> bool:
    """When `block` is a whole loop body (it branches back to a header whose conditional branch enters it),
    the loop as a Hexagon hardware loop LLVM can pipeline. With a constant bound, LLVM unrolled it by 2 with an
    exit test between the copies (odd trip counts), and its `i < C` test, C a multiple of 512, became
    `(i >> 9) < C / 512` in instruction selection, which the hardware-loop pass does not recognize: the
    requantize loop over TCM took 11 packets per 128 elements (14 without the unroll) against 8. So: no
    unrolling, and a loop from a constant lb by a constant step to a constant ub it reaches exactly tests
    `i != ub` (the same iterations). `marked`: only a loop whose latch has HW_LOOP_ATTR (else: none).
    Returns whether the test became `i != ub`."""
    term = list(block.operations)[-1]
    if term.name != "llvm.br" or len(term.successors) != 1:
        return False
    if ("loop_annotation" in term.attributes) != marked or \
            (marked and str(term.attributes["loop_annotation"]) != str(ir.Attribute.parse(HW_LOOP_ATTR))):
        return False
    header = term.successors[0]
    cbr = list(header.operations)[-1]
    if cbr.name != "llvm.cond_br" or not cbr.successors[0] == block:
        return False
    cmp = _owner(cbr.operands[0])
    if getattr(cmp, "name", None) != "llvm.icmp" or ir.IntegerAttr(cmp.attributes["predicate"]).value != _ICMP_SLT:
        return False
    args = list(header.arguments)
    k = next((i for i, a in enumerate(args) if cmp.operands[0] == a), None)
    ub = _splat(cmp.operands[1])
    nxt = _operand_pair(_owner(term.operands[k]), "llvm.add", lambda c: c > 0) if k is not None else None
    if ub is None or nxt is None or nxt[1] != args[k] or len(list(cmp.results[0].uses)) != 1:
        return False
    step = nxt[0]
    entries = []
    for b in header.region.blocks:
        t = list(b.operations)[-1] if len(list(b.operations)) else None
        if t is not None and not b == block:
            entries += [_successor_operands(t, i) for i, s in enumerate(t.successors) if s == header]
    if len(entries) != 1 or entries[0] is None:
        return False
    lb = _splat(entries[0][k])
    # without the exact test the unrolled loop was the faster one (14 packets per 128 against 11)
    if lb is not None and lb <= ub and (ub - lb) % step == 0:
        cmp.attributes["predicate"] = ir.IntegerAttr.get(ir.IntegerType.get_signless(64), _ICMP_NE)
        term.attributes["loop_annotation"] = ir.Attribute.parse(HW_LOOP_ATTR if marked else NO_UNROLL_ATTR)
        return True
    return False


def exact_loop_exits(module) -> int:
    """The loops aligned_loop_versions marked (HW_LOOP_ATTR), after lowering to the LLVM dialect: their exit
    tests `i != ub` where that is exact (`_no_unroll_latch`). The unaligned element-wise loops then pipeline
    as hardware loops: int32 add at mixed offsets 0.144 -> 0.094 packets/element, int8 saturating add 0.031
    -> 0.024, requantize 0.122 -> 0.071."""
    from ..ir import walk
    blocks = []
    walk(module.operation, lambda o: blocks.append(o.block) if o.name == "llvm.br" and "loop_annotation" in o.attributes
         else None)
    return sum(_no_unroll_latch(b, marked=True) for b in blocks)


def _successor_operands(term, i: int):
    """The values `term` (llvm.br / llvm.cond_br) passes to its successor i, else None."""
    ops = list(term.operands)
    if term.name == "llvm.br":
        return ops
    if term.name != "llvm.cond_br":
        return None
    sizes = list(ir.DenseI32ArrayAttr(term.attributes["operandSegmentSizes"]))
    return ops[1:1 + sizes[1]] if i == 0 else ops[1 + sizes[1]:]


# ---- horizontal reductions as HVX trees -------------------------------------------------------------------

_MINMAX = {"llvm.intr.vector.reduce.fmaximum": "llvm.intr.maximum", "llvm.intr.vector.reduce.fminimum": "llvm.intr.minimum"}


def reduction_trees(module) -> int:
    """One horizontal reduction per row (after the vector accumulator loop) as log2(lanes) whole-vector
    steps (rotate by half, combine) instead of a serial chain of scalar ops on a spilled vector.

    fmaximum/fminimum (NaN-propagating) are associative and commutative, so the tree gives the same value;
    LLVM has no HVX expansion for their reduction intrinsics and went scalar. The float sum is marked
    `reassoc`, which LLVM expands as the same kind of tree: the accumulation before it already sums
    lane-wise partial sums, so the order was never the sequential one."""
    from ..ir import walk
    found = []
    walk(module.operation, lambda o: found.append(o) if o.name in _MINMAX or
         o.name == "llvm.intr.vector.reduce.fadd" else None)
    n = 0
    for op in found:
        if op.name == "llvm.intr.vector.reduce.fadd":
            op.attributes["fastmathFlags"] = ir.Attribute.parse("#llvm.fastmath<reassoc>")
            n += 1
            continue
        v = op.operands[0]
        lanes = ir.VectorType(v.type).shape[0]
        if lanes & (lanes - 1) or len(ir.VectorType(v.type).shape) != 1:
            continue
        with ir.InsertionPoint(op), op.location:
            half = lanes // 2
            while half:
                mask = ir.DenseI32ArrayAttr.get([(i + half) % lanes for i in range(lanes)])
                rot = ir.Operation.create("llvm.shufflevector", results=[v.type], operands=[v, v],
                                          attributes={"mask": mask}).results[0]
                v = ir.Operation.create(_MINMAX[op.name], results=[v.type], operands=[v, rot]).results[0]
                half //= 2
            i32 = ir.IntegerType.get_signless(32)
            zero = ir.Operation.create("llvm.mlir.constant", results=[i32],
                                       attributes={"value": ir.IntegerAttr.get(i32, 0)}).results[0]
            s = ir.Operation.create("llvm.extractelement", results=[op.results[0].type], operands=[v, zero])
        op.results[0].replace_all_uses_with(s.results[0])
        op.erase()
        n += 1
    return n


# ---- kernel arguments -------------------------------------------------------------------------------------

def noalias_positions(module) -> dict:
    """Where the data pointers of a Linalg kernel's memref arguments will be in its LLVM function (each memref
    becomes allocated pointer, aligned pointer, offset, sizes, strides): {function name: [positions]}.
    The artifact guarantees that no argument the kernel writes overlaps another argument: `Kernel.__call__`
    runs on fresh copies of the written ones, `Kernel.run` refuses overlapping arrays (artifact.py), and the
    simulation harness allocates each buffer apart. Arguments that are only read may alias each other
    (noalias only orders accesses against writes). Triton grid kernels are left alone: a Triton program may
    load and store through one pointer argument, in place."""
    from ..ir import funcs
    from ..conversion.ttir import is_grid
    if is_grid(module):
        return {}
    out = {}
    for f in funcs(module):
        if "sym_visibility" in f.attributes or not len(f.regions[0].blocks):
            continue
        pos, k = [], 0
        for a in f.regions[0].blocks[0].arguments:
            if isinstance(a.type, ir.MemRefType):
                pos.append(k + 1)                      # the aligned pointer: the one every access uses
                k += 3 + 2 * ir.MemRefType(a.type).rank
            else:
                k += 1
        out[ir.StringAttr(f.attributes["sym_name"]).value] = pos
    return out


def noalias_args(module, positions: dict) -> int:
    """Put `llvm.noalias` on the data pointers found by `noalias_positions` (LLVM-dialect functions)."""
    n = 0
    for op in module.body.operations:
        if op.operation.name != "llvm.func":
            continue
        name = ir.StringAttr(op.attributes["sym_name"]).value
        if name not in positions:
            continue
        nargs = len(op.regions[0].blocks[0].arguments) if len(op.regions[0].blocks) else 0
        if not positions[name] or max(positions[name]) >= nargs:
            continue
        old = ir.ArrayAttr(op.attributes["arg_attrs"]) if "arg_attrs" in op.attributes else None
        attrs = []
        for i in range(nargs):
            d = {na.name: na.attr for na in ir.DictAttr(old[i])} if old is not None else {}
            if i in positions[name]:
                d["llvm.noalias"] = ir.UnitAttr.get()
                n += 1
            attrs.append(ir.DictAttr.get(d))
        op.attributes["arg_attrs"] = ir.ArrayAttr.get(attrs)
    return n


# ---- loops over kernel arguments: an aligned version ------------------------------------------------------

HVX_BYTES = 128


def _const_index(v):
    """The value of an `arith.constant` index, else None."""
    return _const_int(v) if isinstance(v.type, ir.IndexType) else None


def _aligned_access(op, iv):
    """(function argument, element bytes) when `op` is a 1-D in-bounds unmasked transfer of whole HVX vectors
    at [0] of a unit-stride subview at [iv] of a rank-1 identity-layout function argument: its address
    is 128-byte aligned in every iteration when the argument's is (the loop's bounds checked by the caller)."""
    if op.name not in ("vector.transfer_read", "vector.transfer_write"):
        return None
    read = op.name == "vector.transfer_read"
    vt = ir.VectorType(op.results[0].type if read else op.operands[0].type)
    src = op.operands[0 if read else 1]
    idx = op.operands[1 if read else 2]
    et = vt.element_type
    if vt.rank != 1 or not isinstance(et, (ir.IntegerType, ir.FloatType)) or et.width % 8 or (vt.shape[0] * et.width // 8) % HVX_BYTES:
        return None
    if len(op.operands) != 3 or _const_index(idx) != 0:
        return None
    if "in_bounds" not in op.attributes or str(op.attributes["in_bounds"]) != "[true]":
        return None
    if "permutation_map" in op.attributes and str(op.attributes["permutation_map"]) != "affine_map<(d0) -> (d0)>":
        return None
    if not isinstance(src, ir.OpResult):
        return None
    sv = _owner(src)
    if sv.name != "memref.subview" or len(sv.operands) != 2 or sv.operands[1] != iv:
        return None
    if str(sv.attributes["static_strides"]) != "array<i64: 1>":
        return None
    base = sv.operands[0]
    if not isinstance(base, ir.BlockArgument) or not isinstance(base.type, ir.MemRefType):
        return None
    mt = ir.MemRefType(base.type)
    if mt.rank != 1 or str(mt.layout) != "affine_map<(d0) -> (d0)>" or mt.element_type != et:
        return None
    return base, et.width // 8


# ops a peeled loop's body may hold besides its qualifying transfers: pure, no memory access
_PURE_DIALECTS = ("arith.", "math.", "ub.")
_VECTOR_MEMORY = ("vector.transfer_read", "vector.transfer_write", "vector.load", "vector.store",
                  "vector.maskedload", "vector.maskedstore", "vector.gather", "vector.scatter",
                  "vector.expandload", "vector.compressstore", "vector.print")


def _overlap_safe(loop, iv) -> bool:
    """Running an iteration of `loop` again (or two that overlap) leaves memory as one run does: every access
    is a qualifying transfer at [iv] (`_aligned_access`), every other op pure, and no argument written is
    read. Then each iteration's stores are a function of loop-invariant inputs only."""
    reads, writes, ok = set(), set(), [True]

    def visit(op):
        name = op.name
        if name in ("vector.transfer_read", "vector.transfer_write"):
            a = _aligned_access(op, iv)
            if a is None:
                ok[0] = False
            else:
                (reads if name == "vector.transfer_read" else writes).add(a[0])
        elif name.startswith("vector."):
            ok[0] = ok[0] and name not in _VECTOR_MEMORY
        elif not (name.startswith(_PURE_DIALECTS) or name in ("memref.subview", "scf.yield")):
            ok[0] = False
    from ..ir import walk
    walk(loop, visit)
    return ok[0] and bool(writes) and not (reads & writes)


def aligned_loop_versions(module) -> int:
    """Loops over whole HVX vectors of kernel arguments get a second version, taken at run time when every
    argument they access is 128-byte aligned, whose transfers are `vector.load`/`vector.store` stated
    `alignment = 128` (aligned `vmem`, no realignment). The other version keeps the unaligned accesses (LLVM
    realigns loads from the aligned blocks that hold the bytes; stores are `vmemu`): arguments may be views at
    any offset. Only loops at a function's top level whose accesses step whole vectors from an aligned start.

    Arguments that share one misalignment (views into arrays at the same element offset) take the aligned
    version too, after a peel: with p the elements up to the first index where every argument is aligned
    (the same p for all, else the unaligned version), the loop's first iteration runs unaligned, the aligned
    version covers [lb + p, ub - step + p) and the last iteration runs unaligned. The peeled iterations
    overlap the aligned ones, so this needs iterations that may run twice (`_overlap_safe`) and arguments
    whose written ones overlap no other (public functions of a Linalg kernel: `noalias_positions`)."""
    from torch_mlir.dialects import arith, memref, scf
    from ..conversion.ttir import is_grid
    from ..ir import walk
    n = 0
    grid = is_grid(module)
    for f in (op.operation for op in module.body.operations if op.operation.name == "func.func"):
        if not len(f.regions[0].blocks):
            continue
        public = not grid and "sym_visibility" not in f.attributes
        for loop in [o for o in f.regions[0].blocks[0].operations if o.operation.name == "scf.for"]:
            loop = loop.operation
            if len(loop.results):
                continue
            lb, ub, step = (_const_index(loop.operands[i]) for i in range(3))
            if lb is None or step is None:
                continue
            iv = loop.regions[0].blocks[0].arguments[0]
            found = []

            def visit(op):
                a = _aligned_access(op, iv)
                if a is not None and (lb * a[1]) % HVX_BYTES == 0 and (step * a[1]) % HVX_BYTES == 0:
                    found.append(a)
            walk(loop, visit)
            if not found:
                continue
            esize = dict(found)
            args = list(esize)
            # two or more iterations: the peel then costs two unaligned ones of at least three
            peel = public and ub is not None and ub - lb >= 2 * step and (ub - lb) % step == 0 \
                and _overlap_safe(loop, iv)
            idx = ir.IndexType.get()
            with ir.InsertionPoint(loop), loop.location:
                def c(v):
                    return arith.ConstantOp(idx, v).result
                mask, zero = c(HVX_BYTES - 1), c(0)
                ptr = {a: memref.ExtractAlignedPointerAsIndexOp(a).result for a in args}
                p = zero
                if peel:
                    # elements to the first index where the narrowest argument is aligned; the test below
                    # checks that every argument (that one included) is aligned there
                    first = min(args, key=lambda a: esize[a])
                    gap = arith.AndIOp(arith.SubIOp(c(HVX_BYTES), arith.AndIOp(ptr[first], mask).result).result,
                                       mask).result
                    p = arith.DivUIOp(gap, c(esize[first])).result
                bits = None
                for a in args:
                    q = arith.AddIOp(ptr[a], arith.MulIOp(p, c(esize[a])).result).result if peel else ptr[a]
                    bits = q if bits is None else arith.OrIOp(bits, q).result
                low = arith.AndIOp(bits, mask).result
                cond = arith.CmpIOp(arith.CmpIPredicate.eq, low, zero).result
                branch = scf.IfOp(cond, [], has_else=True)
            with ir.InsertionPoint(branch.then_block):
                y = scf.YieldOp([])
            if peel:
                with ir.InsertionPoint(y), loop.location:
                    peeled = arith.CmpIOp(arith.CmpIPredicate.ne, p, zero).result
                    start = arith.AddIOp(c(lb), p).result
                    last = c(ub - step)
                    end = arith.SelectOp(peeled, arith.AddIOp(last, p).result, c(ub)).result
                    first_end = c(lb + step)
                    head = scf.IfOp(peeled, [], has_else=False)
                with ir.InsertionPoint(head.then_block):
                    one = loop.clone(ip=ir.InsertionPoint(scf.YieldOp([])))
                one.operands[1] = first_end
            fast = loop.clone(ip=ir.InsertionPoint(y))
            # LLVM unrolled this loop by 2 when its trip count was a constant, with an exit test between the
            # copies: no hardware loop, no software pipelining (requantize: 22 packets per 2 x 128 elements
            # against 8 per 128 pipelined)
            fast.attributes["loop_annotation"] = ir.Attribute.parse(HW_LOOP_ATTR)
            if peel:
                fast.operands[0], fast.operands[1] = start, end
                with ir.InsertionPoint(y), loop.location:
                    tail = scf.IfOp(peeled, [], has_else=False)
                with ir.InsertionPoint(tail.then_block):
                    one = loop.clone(ip=ir.InsertionPoint(scf.YieldOp([])))
                one.operands[0] = last
            with ir.InsertionPoint(branch.else_block):
                scf.YieldOp([])
            loop.move_before(branch.else_block.operations[0])
            if ub is not None and ub >= lb and (ub - lb) % step == 0:
                loop.attributes["loop_annotation"] = ir.Attribute.parse(HW_LOOP_ATTR)    # exact_loop_exits
            _state_aligned(fast, args)
            n += 1
    return n


def _state_aligned(loop, args) -> None:
    """The qualifying transfers of `loop` as vector.load/store with alignment 128."""
    from ..ir import walk
    found = []

    def visit(op):
        a = _aligned_access(op, loop.regions[0].blocks[0].arguments[0])
        if a is not None and a[0] in args:
            found.append(op)
    walk(loop, visit)
    align = ir.IntegerAttr.get(ir.IntegerType.get_signless(64), HVX_BYTES)
    for op in found:
        with ir.InsertionPoint(op), op.location:
            if op.name == "vector.transfer_read":
                new = ir.Operation.create("vector.load", results=[op.results[0].type],
                                          operands=[op.operands[0], op.operands[1]], attributes={"alignment": align})
                op.results[0].replace_all_uses_with(new.results[0])
            else:
                ir.Operation.create("vector.store", results=[], operands=[op.operands[0], op.operands[1], op.operands[2]],
                                    attributes={"alignment": align})
        op.erase()
