// The plan tags each generic with hexmlir.id and records its decisions (the hexmlir.plan module attribute
// carries them to later stages run alone, with the options it was made with, the target among them).
// npu-emu: rows of 992 f32 TCM tiles under a 64 KiB budget, 32-lane (128-byte) vectors, 4 threads, double
// buffering planned. tcm_tiling off: nothing staged, and 7x1001 is too little work to split into thread
// tiles (plan.MIN_TILE_ELEMS), so the nest stays whole ([0, 0]) on one thread.
// host (no TCM): a cache tile of one whole row (1001 f32, computed in place: no DMA, so no double
// buffering), vectors of the ISA level's width (x86-64-v3: 32 bytes, 8 f32; v4: 64 bytes, 16 f32).
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option target=npu-emu --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | FileCheck %s --check-prefix=NPU
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option target=npu-emu --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 --option tcm_tiling=false | FileCheck %s --check-prefix=NOTILE
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option isa=x86-64-v3 --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | FileCheck %s --check-prefixes=HOST,AVX2
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option isa=x86-64-v4 --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | FileCheck %s --check-prefixes=HOST,AVX512

// NPU: hexmlir.plan = "{\22budget\22: 65536,
// NPU-SAME: \22double_buffer\22: true
// NPU-SAME: \22tcm_tile\22: [1, 992]
// NPU-SAME: \22threads\22: 4
// NPU-SAME: \22vec_tile\22: [1, 32]
// NPU-SAME: \22target\22: \22npu-emu\22
// NPU: linalg.generic {{.*}} attrs = {hexmlir.id = 0 : i64}
// NOTILE: \22tcm_per_thread\22: 0, \22tcm_tile\22: [0, 0], \22threads\22: 1
// HOST: hexmlir.plan = "{\22budget\22: 65536,
// HOST-SAME: \22double_buffer\22: false
// HOST-SAME: \22tcm_per_thread\22: 0
// HOST-SAME: \22tcm_tile\22: [1, 0]
// HOST-SAME: \22threads\22: 4
// AVX2-SAME: \22vec_tile\22: [1, 8]
// AVX512-SAME: \22vec_tile\22: [1, 16]
// HOST-SAME: \22target\22: \22host\22
// HOST: linalg.generic {{.*}} attrs = {hexmlir.id = 0 : i64}
