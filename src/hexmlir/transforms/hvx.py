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
