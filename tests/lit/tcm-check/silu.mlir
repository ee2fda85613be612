// tcm-check measures the TCM the generated code takes (both DB sets: 4 x 3968 B per thread) into the plan
// (npu-emu; on host, which has no TCM, the stage is off and nothing is measured).
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option target=npu-emu --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling..double-buffer | hexmlir opt - -p tcm-check | FileCheck %s
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling..double-buffer | hexmlir opt - -p tcm-check 2>&1 | FileCheck %s --check-prefix=HOST

// CHECK: \22measured\22: {\22hxk_silu_par0\22: {\22per_thread\22: 15872, \22roots\22: [0], \22threads\22: 4, \22total\22: 63488}}
// HOST: \22measured\22: {}
// HOST: hexmlir opt: stage tcm-check: off (host has no copy_engine)
