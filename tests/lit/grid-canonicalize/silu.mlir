// Canonicalization of a converted Triton kernel keeps the grid marker and the program loop
// (the masked load's fill and the four elementwise ops are generics).
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p canonicalize | FileCheck %s

// CHECK: module attributes {hexmlir.grid}
// CHECK: scf.forall (%{{.*}}) in (%{{.*}})
// CHECK-COUNT-5: linalg.generic
// CHECK-NOT: linalg.generic
