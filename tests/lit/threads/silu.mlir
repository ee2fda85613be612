// The tile loop is outlined per thread and launched on the runtime's pool (both targets: host's 7 row
// tiles, npu-emu's 14 TCM tiles); with threading off it is a loop. Functions carry the symbols stage's
// hxk_ prefix. Threading off, npu-emu keeps a loop over its (3-row) TCM tiles; on host one thread's
// 64 KiB cache-tile budget holds all of 7x1001 f32, so the nest stays whole, with no loop at all.
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling,fast-math,bufferize,threads | FileCheck %s
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option target=npu-emu --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling,fast-math,bufferize,threads | FileCheck %s
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 --option multithread=false | hexmlir opt - -p tcm-tiling,fast-math,bufferize,threads | FileCheck %s --check-prefixes=OFF,HOSTOFF
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option target=npu-emu --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 --option multithread=false | hexmlir opt - -p tcm-tiling,fast-math,bufferize,threads | FileCheck %s --check-prefixes=OFF,NPUOFF

// CHECK: func.func @hxk_silu
// CHECK: %[[N:.*]] = arith.constant 4 : index
// CHECK: call @__hx_parallel_hxk_silu_par0(%arg0, %arg1, %[[N]])
// CHECK: func.func private @hxk_silu_par0({{.*}}, %{{.*}}: index)
// CHECK: scf.for
// CHECK: func.func private @__hx_parallel_hxk_silu_par0
// OFF-NOT: hx_parallel
// OFF-NOT: scf.forall
// NPUOFF: scf.for
// HOSTOFF-NOT: scf.for
// HOSTOFF: linalg.generic {{.*}} ins(%arg0 : memref<7x1001xf32>) outs(%arg1 : memref<7x1001xf32>)
