// The tile loop is outlined per thread and launched on the runtime's pool; with threading off it is a loop.
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling,fast-math,bufferize,threads | FileCheck %s
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 --option multithread=false | hexmlir opt - -p tcm-tiling,fast-math,bufferize,threads | FileCheck %s --check-prefix=OFF

// CHECK: func.func @silu
// CHECK: %[[N:.*]] = arith.constant 4 : index
// CHECK: call @__hx_parallel_silu_par0(%arg0, %arg1, %[[N]])
// CHECK: func.func private @silu_par0({{.*}}, %{{.*}}: index)
// CHECK: scf.for
// CHECK: func.func private @__hx_parallel_silu_par0
// OFF-NOT: hx_parallel
// OFF-NOT: scf.forall
// OFF: scf.for
