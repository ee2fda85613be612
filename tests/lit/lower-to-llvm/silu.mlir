// Everything becomes the LLVM dialect; the entry's C interface `_mlir_ciface_hxk_silu` (symbols.py) is the
// one exported function, the others are internal. The kernel name lower-to-llvm needs comes from the
// signature bufferize records, which travels with the IR as hexmlir.signature when stages run one call at a
// time. npu-emu: the runtime's DMA calls stay calls; host has none.
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option target=npu-emu --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling..tcm-check | hexmlir opt - -p lower-to-llvm | FileCheck %s --check-prefixes=CHECK,NPU
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling..tcm-check | hexmlir opt - -p lower-to-llvm | FileCheck %s --check-prefixes=CHECK,HOST

// CHECK: hexmlir.signature = "{\22args\22:
// CHECK-SAME: \22name\22: \22silu\22
// CHECK: llvm.func internal @hxk_silu(
// CHECK-SAME: llvm.emit_c_interface
// CHECK: llvm.call @__hx_parallel_hxk_silu_par0
// CHECK: llvm.func @_mlir_ciface_hxk_silu(
// CHECK: llvm.func internal @hxk_silu_par0(
// NPU: llvm.call @hx_dma_start_2d
// NPU: llvm.call @hx_dma_wait
// HOST-NOT: hx_dma
// HOST-NOT: hx_tcm
// CHECK-NOT: memref.
// CHECK-NOT: scf.
