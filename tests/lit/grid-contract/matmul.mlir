// tl.dot on a program's 32 x 32 blocks (Inputs/grid_matmul.mlir): 8 x 2 vectors of 16 f32 at isa v4, 16
// vector<16xf32> accumulators (NR capped by the 32 columns, MR 8 divides the 32 rows); the panels (4 KiB) are not packed.
// RUN: hexmlir opt %S/../Inputs/grid_matmul.mlir -p symbols..hoist-buffers --option isa=x86-64-v4 --option num_threads=2 | hexmlir opt - -p contract | FileCheck %s
// RUN: hexmlir opt %S/../Inputs/grid_matmul.mlir -p symbols..hoist-buffers --option target=npu-emu --option num_threads=2 | hexmlir opt - -p contract | FileCheck %s --check-prefix=OFF

// CHECK-NOT: memref.alloca
// CHECK: scf.for %{{.*}} = %c0 to %c32 step %c8
// CHECK: vector.load {{.*}} : memref<8x32xf32{{.*}}, vector<16xf32>
// CHECK: %{{.*}}:16 = scf.for %{{.*}} = %c0 to %c32 step %c1 iter_args({{.*}}) -> (vector<16xf32>{{(, vector<16xf32>)+}})
// CHECK: arith.addf {{.*}} : vector<16xf32>
// CHECK: vector.store {{.*}} : memref<8x32xf32{{.*}}, vector<16xf32>

// OFF-NOT: vector<16xf32>
