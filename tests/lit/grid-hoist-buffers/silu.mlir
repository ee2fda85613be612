// Program buffers not staged in TCM are still allocated once per thread, outside the program loop: on host
// (no scratchpad) by default, and on npu-emu with tcm_tiling=false. On npu-emu with tcm_tiling on the stage
// does nothing (tcm-stage places and hoists those buffers; here it did not run, so they stay in the loop).
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..plan --option num_threads=4 | hexmlir opt - -p fast-math,bufferize,threads \
// RUN:   | hexmlir opt - -p hoist-buffers | FileCheck %s
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..plan --option target=npu-emu --option num_threads=4 --option tcm_tiling=false | hexmlir opt - -p fast-math,bufferize,threads \
// RUN:   | hexmlir opt - -p hoist-buffers | FileCheck %s
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..plan --option target=npu-emu --option num_threads=4 | hexmlir opt - -p fast-math,bufferize,threads \
// RUN:   | hexmlir opt - -p hoist-buffers | FileCheck %s --check-prefix=NPU

// CHECK: func.func private @hxk_silu_k_par0
// CHECK: memref.alloc() {{.*}} : memref<1024xf32>
// CHECK: scf.for
// CHECK-NOT: memref.alloc()
// CHECK: return
// NPU: func.func private @hxk_silu_k_par0
// NPU-NOT: memref.alloc()
// NPU: scf.for
// NPU: memref.alloc() {{.*}} : memref<1024xf32>
