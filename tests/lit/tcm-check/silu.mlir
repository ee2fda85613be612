// tcm-check measures the TCM the generated code takes (both DB sets: 4 x 3968 B per thread) into the plan.
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling..double-buffer | hexmlir opt - -p tcm-check | FileCheck %s

// CHECK: \22measured\22: {\22silu_par0\22: {\22per_thread\22: 15872, \22roots\22: [0], \22threads\22: 4, \22total\22: 63488}}
