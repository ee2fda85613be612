// The plan of a program: its block (1024) is the tile, vectors of 32 f32.
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p asserts..plan --option num_threads=4 | FileCheck %s

// CHECK: module attributes {hexmlir.grid, hexmlir.plan = "{\22budget\22:
// CHECK-SAME: \22loops\22: [1024]
// CHECK-SAME: \22vec_tile\22: [32]
// CHECK: linalg.generic {{.*}} attrs = {hexmlir.id = 1 : i64}
