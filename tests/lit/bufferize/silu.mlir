// Tensors become memrefs; the result becomes a trailing out-parameter (the kernel is @hxk_silu after the
// symbols stage).
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling,fast-math | hexmlir opt - -p bufferize | FileCheck %s

// CHECK: func.func @hxk_silu(%arg0: memref<7x1001xf32>, %arg1: memref<7x1001xf32>) {
// CHECK-NOT: tensor<
// CHECK: scf.forall
// CHECK: return
