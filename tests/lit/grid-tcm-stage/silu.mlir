// A program's buffers live in TCM (memory space 1), hoisted out of the program loop, filled by linalg.copy.
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p asserts..plan --option num_threads=4 | hexmlir opt - -p fast-math,bufferize,threads | hexmlir opt - -p tcm-stage | FileCheck %s
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p asserts..plan --option num_threads=4 --option tcm_tiling=false | hexmlir opt - -p fast-math,bufferize,threads,tcm-stage \
// RUN:   | FileCheck %s --check-prefix=OFF

// CHECK: func.func private @silu_k_par0
// CHECK: memref.alloc() {{.*}} : memref<1024xf32, 1>
// CHECK: scf.for
// CHECK: linalg.copy {{.*}} outs(%{{.*}} : memref<?xf32, strided<[1]>, 1>)
// OFF-NOT: , 1>
