// npu-emu: DDR tiles are copied into TCM (memory space 1) buffers, hoisted out of the tile loop, by
// linalg.copy. host has no scratchpad: the stage is off there (Stage.needs, as in compile) and says so on
// stderr; nothing moves to memory space 1.
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option target=npu-emu --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling,fast-math,bufferize,threads | hexmlir opt - -p tcm-promote | FileCheck %s
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling,fast-math,bufferize,threads | hexmlir opt - -p tcm-promote 2>&1 | FileCheck %s --check-prefix=HOST

// CHECK: func.func private @hxk_silu_par0
// CHECK: memref.alloc() {{.*}} : memref<3968xi8, 1>
// CHECK: scf.for
// CHECK: memref.view {{.*}} to memref<1x992xf32, 1>
// CHECK: linalg.copy ins(%{{.*}} : memref<1x?xf32, strided<[1001, 1], offset: ?>>) outs(%{{.*}}, 1>)
// CHECK: linalg.generic
// CHECK: linalg.copy ins(%{{.*}}, 1>) outs(%{{.*}} : memref<1x?xf32, strided<[1001, 1], offset: ?>>)
// HOST-NOT: , 1>
// HOST-NOT: linalg.copy
// HOST: hexmlir opt: stage tcm-promote: off (host has no scratchpad)
