// An elementwise chain becomes one generic; with fusion off the stage is skipped and two remain.
// RUN: hexmlir opt %S/../Inputs/add_exp.mlir -p canonicalize,fusion | FileCheck %s
// RUN: hexmlir opt %S/../Inputs/add_exp.mlir -p canonicalize,fusion --option fusion=false \
// RUN:   | FileCheck %s --check-prefix=OFF

// CHECK: linalg.generic
// CHECK: arith.addf
// CHECK-NEXT: math.exp
// CHECK-NOT: linalg.generic
// OFF-COUNT-2: linalg.generic
