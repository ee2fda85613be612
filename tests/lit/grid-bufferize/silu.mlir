// Program blocks become buffers inside the program loop; the pointer arguments stay memrefs.
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..plan --option num_threads=4 | hexmlir opt - -p fast-math | hexmlir opt - -p bufferize | FileCheck %s

// CHECK: func.func @hxk_silu_k(%arg0: memref<?xf32>, %arg1: memref<?xf32>, %arg2: i32
// CHECK: scf.forall
// CHECK: memref.alloc() {{.*}} : memref<1024xf32>
// CHECK-NOT: tensor<
// CHECK: memref.copy
