// Everything becomes the LLVM dialect with a C interface on the entry; the runtime calls stay calls.
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling..tcm-check | hexmlir opt - -p lower-to-llvm | FileCheck %s

// CHECK: llvm.func @silu(
// CHECK-SAME: llvm.emit_c_interface
// CHECK: llvm.call @__hx_parallel_silu_par0
// CHECK: llvm.func @_mlir_ciface_silu
// CHECK: llvm.call @hx_dma_start_2d
// CHECK: llvm.call @hx_dma_wait
// CHECK-NOT: memref.
// CHECK-NOT: scf.
