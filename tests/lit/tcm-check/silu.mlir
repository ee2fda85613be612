// tcm-check measures the TCM the generated code takes (both DB sets: 4 x 3968 B per thread) into the module attribute
// hexmlir.tcm_usage
// (npu-emu; on host, which has no TCM, the stage is off and nothing is measured).
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option target=npu-emu --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling..double-buffer | hexmlir opt - -p tcm-check | FileCheck %s
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling..double-buffer | hexmlir opt - -p tcm-check 2>&1 | FileCheck %s --check-prefix=HOST

// CHECK: hexmlir.tcm_usage = {hxk_silu_par0 = {per_thread = 15872 : i64, roots = array<i64: 0>, threads = 4 : i64, total = 63488 : i64}}
// HOST-NOT: hexmlir.tcm_usage
// HOST: hexmlir opt: stage tcm-check: off (host has no copy_engine)
