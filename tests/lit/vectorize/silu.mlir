// The innermost loop runs on 128-byte vectors (32 x f32); the peeled tail (< 32 elements) stays scalar.
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling..tcm-promote | hexmlir opt - -p vectorize | FileCheck %s
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 --option vectorize=false | hexmlir opt - -p tcm-tiling..vectorize | FileCheck %s --check-prefix=OFF

// CHECK: func.func private @silu_par0
// CHECK: vector.transfer_read {{.*}} vector<1x32xf32>
// CHECK: arith.negf {{.*}} : vector<1x32xf32>
// CHECK: vector.transfer_write
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : memref<1x?xf32
// OFF-NOT: vector<
