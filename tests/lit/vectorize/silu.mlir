// The innermost loop runs on vectors of the target's width; the peeled tail is the remainder.
// npu-emu: 128-byte vectors (32 x f32) over 992-wide TCM tiles; the tail of the partial last tile (dynamic
// size, < 32 elements) stays a scalar linalg.generic.
// host (isa x86-64-v3: 32-byte vectors, 8 x f32) over whole 1001-wide rows: 125 vectors and a static
// 1-element tail at column 1000.
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option target=npu-emu --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling..tcm-promote | hexmlir opt - -p vectorize | FileCheck %s --check-prefix=NPU
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option isa=x86-64-v3 --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling..tcm-promote | hexmlir opt - -p vectorize | FileCheck %s --check-prefix=HOST
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option target=npu-emu --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 --option vectorize=false | hexmlir opt - -p tcm-tiling..vectorize | FileCheck %s --check-prefix=OFF
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 --option vectorize=false | hexmlir opt - -p tcm-tiling..vectorize | FileCheck %s --check-prefix=OFF

// NPU: func.func private @hxk_silu_par0
// NPU: vector.transfer_read {{.*}} vector<1x32xf32>
// NPU: arith.negf {{.*}} : vector<1x32xf32>
// NPU: vector.transfer_write
// NPU: linalg.generic {{.*}} ins(%{{.*}} : memref<1x?xf32
// HOST: func.func private @hxk_silu_par0
// HOST-NOT: vector<1x32xf32>
// HOST: scf.for %{{.*}} = %c0 to %c1000 step %c8
// HOST: vector.transfer_read {{.*}} vector<1x8xf32>
// HOST: arith.negf {{.*}} : vector<1x8xf32>
// HOST: vector.transfer_write
// HOST: memref.subview %{{.*}}[0, 1000] [1, 1] [1, 1]
// OFF-NOT: vector<
