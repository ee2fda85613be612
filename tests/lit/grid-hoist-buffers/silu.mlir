// Without TCM staging the program buffers are still allocated once per thread, outside the program loop.
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p asserts..plan --option num_threads=4 --option tcm_tiling=false | hexmlir opt - -p fast-math,bufferize,threads \
// RUN:   | hexmlir opt - -p hoist-buffers | FileCheck %s
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p asserts..plan --option num_threads=4 | hexmlir opt - -p fast-math,bufferize,threads,hoist-buffers 2>&1 | FileCheck %s --check-prefix=ON

// CHECK: func.func private @silu_k_par0
// CHECK: memref.alloc() {{.*}} : memref<1024xf32>
// CHECK: scf.for
// CHECK-NOT: memref.alloc()
// CHECK: return
// ON: stage hoist-buffers: off
