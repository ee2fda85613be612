// The program's elementwise chain (neg, exp, add, div) becomes one generic; off, four stay.
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p canonicalize,fusion | FileCheck %s
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p canonicalize,fusion --option fusion=false \
// RUN:   | FileCheck %s --check-prefix=OFF

// CHECK: scf.forall
// CHECK: linalg.generic
// CHECK: arith.negf
// CHECK-NEXT: math.exp
// CHECK-NEXT: arith.addf
// CHECK-NEXT: arith.divf
// CHECK-NOT: linalg.generic
// OFF-COUNT-4: linalg.generic
