// The program body runs on vectors of the target's width: npu-emu 128 bytes (32 x f32), host at isa
// x86-64-v3 32 bytes (8 x f32). (tcm-stage is off on host, which has no scratchpad.)
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..plan --option target=npu-emu --option num_threads=4 | hexmlir opt - -p fast-math..tcm-stage | hexmlir opt - -p vectorize | FileCheck %s --check-prefix=NPU
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..plan --option isa=x86-64-v3 --option num_threads=4 | hexmlir opt - -p fast-math..tcm-stage | hexmlir opt - -p vectorize | FileCheck %s --check-prefix=HOST
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..plan --option target=npu-emu --option num_threads=4 --option vectorize=false | hexmlir opt - -p fast-math..vectorize | FileCheck %s --check-prefix=OFF
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..plan --option num_threads=4 --option vectorize=false | hexmlir opt - -p fast-math..vectorize | FileCheck %s --check-prefix=OFF

// NPU: vector.transfer_read {{.*}} vector<32xf32>
// NPU: arith.negf {{.*}} : vector<32xf32>
// HOST-NOT: vector<32xf32>
// HOST: vector.transfer_read {{.*}} vector<8xf32>
// HOST: arith.negf {{.*}} : vector<8xf32>
// OFF-NOT: vector<
