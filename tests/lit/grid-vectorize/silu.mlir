// The program body runs on 128-byte vectors (32 x f32).
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p asserts..plan --option num_threads=4 | hexmlir opt - -p fast-math..tcm-stage | hexmlir opt - -p vectorize | FileCheck %s
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p asserts..plan --option num_threads=4 --option vectorize=false | hexmlir opt - -p fast-math..vectorize | FileCheck %s --check-prefix=OFF

// CHECK: vector.transfer_read {{.*}} vector<32xf32>
// CHECK: arith.negf {{.*}} : vector<32xf32>
// OFF-NOT: vector<
