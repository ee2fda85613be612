// Programs are split over the runtime's thread pool; off, they run in a loop.
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..plan --option num_threads=4 | hexmlir opt - -p fast-math,bufferize | hexmlir opt - -p threads | FileCheck %s
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..plan --option num_threads=4 --option multithread=false | hexmlir opt - -p fast-math,bufferize,threads \
// RUN:   | FileCheck %s --check-prefix=OFF

// CHECK: call @__hx_parallel_hxk_silu_k_par0(
// CHECK: func.func private @hxk_silu_k_par0(
// CHECK: scf.for
// OFF-NOT: hx_parallel
// OFF-NOT: scf.forall
// OFF: scf.for
