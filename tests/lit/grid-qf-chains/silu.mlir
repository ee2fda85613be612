// Triton grid kernels on v79+: the same qf32 chains as Linalg kernels (the program's vector arithmetic as
// qf32 intrinsics, conversions where values leave the chain).
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..qf-chains --option target=hexagon --option arch=v79 \
// RUN:   --option multithread=false | FileCheck %s

// CHECK-DAG: llvm.call_intrinsic "llvm.hexagon.V6.vadd.qf32.mix.128B"
// CHECK-DAG: llvm.call_intrinsic "llvm.hexagon.V6.vconv.sf.qf32.128B"
// CHECK-NOT: llvm.fmul {{.*}} : vector<32xf32>
