// Triton grid kernels on Hexagon: the stage runs (the SiLU program has no vector accumulator, so
// its arithmetic is left as it is on v73, IEEE HVX float).
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..hvx-accumulators --option target=hexagon \
// RUN:   --option arch=v73 --option multithread=false | FileCheck %s

// CHECK: llvm.fmul {{.*}} : vector<32xf32>
// CHECK-NOT: qf32
