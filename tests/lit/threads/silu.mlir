// The tile loop is outlined and launched on the runtime's pool (both targets: npu-emu's 14 TCM tiles
// in one chunk per thread, 4; host's 7 row tiles in up to 16 chunks per thread, so 7: its tiles own no TCM); with threading off it is a loop. Functions carry the symbols stage's
// hxk_ prefix. Threading off, npu-emu keeps a loop over its (3-row) TCM tiles; on host one thread's
// 64 KiB cache-tile budget holds all of 7x1001 f32, so the nest stays whole, with no loop at all.
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling,fast-math,bufferize,threads | FileCheck %s --check-prefixes=CHECK,HOST
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option target=npu-emu --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling,fast-math,bufferize,threads | FileCheck %s --check-prefixes=CHECK,NPU
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 --option multithread=false | hexmlir opt - -p tcm-tiling,fast-math,bufferize,threads | FileCheck %s --check-prefixes=OFF,HOSTOFF
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option target=npu-emu --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 --option multithread=false | hexmlir opt - -p tcm-tiling,fast-math,bufferize,threads | FileCheck %s --check-prefixes=OFF,NPUOFF

// CHECK: func.func @hxk_silu
// HOST: %[[N:.*]] = arith.constant 7 : index
// NPU: %[[N:.*]] = arith.constant 4 : index
// CHECK: call @__hx_parallel_hxk_silu_par0(%arg0, %arg1, %[[N]])
// CHECK: func.func private @hxk_silu_par0({{.*}}, %{{.*}}: index)
// CHECK: scf.for
// CHECK: func.func private @__hx_parallel_hxk_silu_par0
// OFF-NOT: hx_parallel
// OFF-NOT: scf.forall
// NPUOFF: scf.for
// HOSTOFF-NOT: scf.for
// HOSTOFF: linalg.generic {{.*}} ins(%arg0 : memref<7x1001xf32>) outs(%arg1 : memref<7x1001xf32>)
