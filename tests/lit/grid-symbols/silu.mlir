// A Triton grid kernel's function gets the hxk_ prefix too (the grid pipeline's first stage); the grid
// marker stays.
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols | FileCheck %s

// CHECK: module attributes {hexmlir.grid}
// CHECK: func.func @hxk_silu_k(%arg0: memref<?xf32>, %arg1: memref<?xf32>, %arg2: i32
// CHECK-NOT: @silu_k
