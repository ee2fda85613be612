// npu-emu: a program's buffers live in TCM (memory space 1), hoisted out of the program loop, filled by
// linalg.copy. Off with tcm_tiling=false, and on host, which has no scratchpad (Stage.needs; said on stderr).
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..plan --option target=npu-emu --option num_threads=4 | hexmlir opt - -p fast-math,bufferize,threads | hexmlir opt - -p tcm-stage | FileCheck %s
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..plan --option target=npu-emu --option num_threads=4 --option tcm_tiling=false | hexmlir opt - -p fast-math,bufferize,threads,tcm-stage \
// RUN:   | FileCheck %s --check-prefix=OFF
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..plan --option num_threads=4 | hexmlir opt - -p fast-math,bufferize,threads | hexmlir opt - -p tcm-stage 2>&1 \
// RUN:   | FileCheck %s --check-prefixes=OFF,HOST

// CHECK: func.func private @hxk_silu_k_par0
// CHECK: memref.alloc() {{.*}} : memref<1024xf32, 1>
// CHECK: scf.for
// CHECK: linalg.copy {{.*}} outs(%{{.*}} : memref<?xf32, strided<[1]>, 1>)
// OFF-NOT: , 1>
// HOST: hexmlir opt: stage tcm-stage: off (host has no scratchpad)
