// The grid kernel in the LLVM dialect: only the entry's C interface is exported, the runtime calls stay
// calls (npu-emu: DMA too).
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..plan --option target=npu-emu --option num_threads=4 | hexmlir opt - -p fast-math..dma | hexmlir opt - -p lower-to-llvm | FileCheck %s --check-prefixes=CHECK,NPU
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..plan --option num_threads=4 | hexmlir opt - -p fast-math..dma | hexmlir opt - -p lower-to-llvm | FileCheck %s --check-prefixes=CHECK,HOST

// CHECK: llvm.func internal @hxk_silu_k(
// CHECK: llvm.call @__hx_parallel_hxk_silu_k_par0
// CHECK: llvm.func @_mlir_ciface_hxk_silu_k(
// NPU: llvm.call @hx_dma_start_2d
// HOST-NOT: hx_dma
// CHECK-NOT: memref.
// CHECK-NOT: scf.
