// The plan tags each generic with hexmlir.id and writes its decisions on it as hexmlir.config (tile, threads,
// tcm, buffers, vector, ...); the hexmlir.plan module attribute holds the global facts (budget, thread bound,
// the options planned with, the target among them) for later stages run alone.
// npu-emu: rows of 992 f32 TCM tiles under a 64 KiB budget, 32-lane (128-byte) vectors, 4 threads, double
// buffering planned. tcm_tiling off: nothing staged, and 7x1001 is too little work to split into thread
// tiles (plan.MIN_TILE_ELEMS), so the nest stays whole ([0, 0]) on one thread.
// host (no TCM): a cache tile of one whole row (1001 f32, computed in place: no DMA, so no double
// buffering), vectors of the ISA level's width (x86-64-v3: 32 bytes, 8 f32; v4: 64 bytes, 16 f32).
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option target=npu-emu --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | FileCheck %s --check-prefix=NPU
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option target=npu-emu --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 --option tcm_tiling=false | FileCheck %s --check-prefix=NOTILE
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option isa=x86-64-v3 --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | FileCheck %s --check-prefixes=HOST,AVX2
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option isa=x86-64-v4 --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | FileCheck %s --check-prefixes=HOST,AVX512

// NPU: module attributes {hexmlir.plan = {budget = 65536 : i64,
// NPU-SAME: target = "npu-emu"
// NPU-SAME: threads = 4 : i64
// NPU: linalg.generic {{.*}} attrs = {hexmlir.config = {buffers = 2 : i64, tcm = true, tcm_bytes = {{[0-9]+}} : i64, threads = 4 : i64, tile = array<i64: 1, 992>, tile_bytes = {{[0-9]+}} : i64, vector = array<i64: 1, 32>, work = 28028 : i64}, hexmlir.id = 0 : i64}
// NOTILE: hexmlir.config = {buffers = 1 : i64, tcm = false, tcm_bytes = 0 : i64, threads = 1 : i64, tile = array<i64: 0, 0>
// HOST: module attributes {hexmlir.plan = {budget = 65536 : i64,
// HOST-SAME: target = "host"
// HOST: linalg.generic {{.*}} attrs = {hexmlir.config = {buffers = 1 : i64, tcm = false, tcm_bytes = 0 : i64, threads = 4 : i64, tile = array<i64: 1, 0>,
// AVX2-SAME: vector = array<i64: 1, 8>
// AVX512-SAME: vector = array<i64: 1, 16>
// HOST-SAME: hexmlir.id = 0 : i64}
