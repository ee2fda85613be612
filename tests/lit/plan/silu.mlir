// The plan tags each generic with hexmlir.id and records its decisions (the hexmlir.plan module attribute
// carries them to later stages run alone): rows of 992 f32 tiles under a 64 KiB budget, 32-lane vectors,
// 4 threads, double buffering planned.
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | FileCheck %s
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 --option tcm_tiling=false | FileCheck %s --check-prefix=NOTILE

// CHECK: hexmlir.plan = "{\22budget\22: 65536,
// CHECK-SAME: \22double_buffer\22: true
// CHECK-SAME: \22tcm_tile\22: [1, 992]
// CHECK-SAME: \22threads\22: 4
// CHECK-SAME: \22vec_tile\22: [1, 32]
// CHECK: linalg.generic {{.*}} attrs = {hexmlir.id = 0 : i64}
// NOTILE: \22tcm_tile\22: []
