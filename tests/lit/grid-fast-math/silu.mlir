// exp becomes the polynomial, the divide a reciprocal; off, both stay.
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..plan --option num_threads=4 | hexmlir opt - -p fast-math | FileCheck %s
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..plan --option num_threads=4 --option fast_math=false | hexmlir opt - -p fast-math | FileCheck %s --check-prefix=OFF

// CHECK-DAG: arith.constant 0.166665152 : f32
// CHECK-DAG: arith.constant 1.44269502 : f32
// CHECK-NOT: math.exp
// CHECK-NOT: arith.divf
// OFF: math.exp
// OFF: arith.divf
