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
DOT_HELPER = "hx_vrmpy_rowdot"


def _is_i8_product_sum(block) -> bool:
    """The body is `out + extsi(a) * extsi(b)` with a, b the block's i8 arguments and out the i32 one."""
    ops = [o.operation for o in block.operations]
    if len(ops) != 5 or ops[-1].name != "linalg.yield":
        return False
    names = sorted(o.name for o in ops[:-1])
    if names != ["arith.addi", "arith.extsi", "arith.extsi", "arith.muli"]:
        return False
    args = list(block.arguments)
    i8, i32 = ir.IntegerType.get_signless(8), ir.IntegerType.get_signless(32)
    if [a.type for a in args] != [i8, i8, i32]:
        return False
    ext = [o for o in ops if o.name == "arith.extsi"]
    mul = next(o for o in ops if o.name == "arith.muli")
    add = next(o for o in ops if o.name == "arith.addi")
    if sorted(_arg_no(o.operands[0], block) for o in ext) != [0, 1] or any(o.results[0].type != i32 for o in ext):
        return False
    if any(not any(_owner(v) == e for e in ext) for v in mul.operands) or mul.operands[0] == mul.operands[1]:
        return False
    kinds = sorted("mul" if _owner(v) == mul else f"arg{_arg_no(v, block)}" for v in add.operands)
    return kinds == ["arg2", "mul"] and ops[-1].operands[0] == add.results[0]


def _arg_no(v, block):
    for i, a in enumerate(block.arguments):
        if v == a:
            return i
    return None


def _owner(v):
    o = v.owner
    return o.operation if hasattr(o, "operation") else o


def _maps(op) -> list[str]:
    return [str(ir.AffineMapAttr(m).value) for m in ir.ArrayAttr(op.attributes["indexing_maps"])]


def _iters(op) -> list[str]:
    return [str(a).split("<")[-1].rstrip(">") for a in ir.ArrayAttr(op.attributes["iterator_types"])]


def _unit_inner_stride(t) -> bool:
    if not isinstance(t, ir.MemRefType):
        return False
    strides, _ = ir.MemRefType(t).get_strides_and_offset()
    return strides[-1] == 1


def _dot_helper_text(space: str) -> str:
    sp = f", {space}" if space else ""
    a = f"memref<?x?xi8, strided<[?, 1], offset: ?>{sp}>"
    y = f"memref<?xi32, strided<[?], offset: ?>{sp}>"
    IOTA128 = ", ".join(map(str, range(128)))          # noqa: N806  (lane numbers; rem < 128 fits in i8)
    return f"""
func.func private @{DOT_HELPER}(%a: {a}, %b: {a}, %y: {y})
    attributes {{llvm.linkage = #llvm.linkage<internal>, passthrough = ["alwaysinline"]}} {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c128 = arith.constant 128 : index
  %c256 = arith.constant 256 : index
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
  scf.for %i = %c0 to %m step %c1 {{
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
      %lanes = arith.constant dense<[{IOTA128}]> : vector<128xi8>
      %rem8 = arith.index_cast %rem : index to i8
      %remv = vector.broadcast %rem8 : i8 to vector<128xi8>
      %mask = arith.cmpi slt, %lanes, %remv : vector<128xi8>
      %pad = arith.constant dense<0> : vector<128xi8>
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
    %y0 = memref.load %y[%i] : {y}
    %s = vector.reduction <add>, %both, %y0 : vector<32xi32> into i32
    memref.store %s, %y[%i] : {y}
  }}
  return
}}"""


def _space_text(t) -> str:
    ms = ir.MemRefType(t).memory_space
    return "" if ms is None else str(ir.IntegerAttr(ms).value)


def contract(module, cx) -> int:
    """Hexagon: int8 row dot products (`y[i] += sum_j ext(a[i, j]) * ext(b[i, j])`) become vrmpy loops
    (a private helper per memory space, inlined by LLVM). Returns how many ops were rewritten."""
    from torch_mlir.dialects import func, memref

    from ..ir import ops_named
    if cx.target.name != "hexagon":
        return 0
    n = 0
    helpers = {}
    for op in ops_named(module.operation, "linalg.generic"):
        ins, outs = list(op.operands)[:2], list(op.operands)[2:]
        if len(op.operands) != 3 or _iters(op) != ["parallel", "reduction"]:
            continue
        if _maps(op) != ["(d0, d1) -> (d0, d1)", "(d0, d1) -> (d0, d1)", "(d0, d1) -> (d0)"]:
            continue
        if not all(_unit_inner_stride(v.type) for v in ins) or not isinstance(outs[0].type, ir.MemRefType):
            continue
        spaces = {_space_text(v.type) for v in op.operands}
        if len(spaces) != 1 or not _is_i8_product_sum(op.regions[0].blocks[0]):
            continue
        space = spaces.pop()
        name = f"{DOT_HELPER}{space}"
        if name not in helpers:
            helper = ir.Module.parse(_dot_helper_text(space).replace(f"@{DOT_HELPER}(", f"@{name}("))
            fn = list(helper.body.operations)[0]
            fn.operation.move_before(list(module.body.operations)[0])
            helpers[name] = fn
        fty = helpers[name].type
        with ir.InsertionPoint(op), op.location:
            args = [memref.cast(t, v) for t, v in zip(fty.inputs, op.operands)]
            func.CallOp([], ir.FlatSymbolRefAttr.get(name), args)
        op.erase()
        n += 1
    return n
