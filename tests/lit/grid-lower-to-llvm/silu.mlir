// The grid kernel in the LLVM dialect, with a C interface and the runtime calls.
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p asserts..plan --option num_threads=4 | hexmlir opt - -p fast-math..dma | hexmlir opt - -p lower-to-llvm | FileCheck %s

// CHECK: llvm.func @silu_k(
// CHECK: llvm.call @__hx_parallel_silu_k_par0
// CHECK: llvm.func @_mlir_ciface_silu_k
// CHECK: llvm.call @hx_dma_start_2d
// CHECK-NOT: memref.
// CHECK-NOT: scf.
