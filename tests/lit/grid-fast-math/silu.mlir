// exp becomes the polynomial; the divide stays one native divf on host, a reciprocal on the NPU; off, both stay.
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..plan --option num_threads=4 | hexmlir opt - -p fast-math | FileCheck %s
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..plan --option num_threads=4 --option fast_math=false | hexmlir opt - -p fast-math | FileCheck %s --check-prefix=OFF
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..plan --option target=npu-emu --option num_threads=4 | hexmlir opt - -p fast-math | FileCheck %s --check-prefix=NPU

// CHECK-DAG: arith.constant 0.166665152 : f32
// CHECK-DAG: arith.constant 1.44269502 : f32
// CHECK-NOT: math.exp
// CHECK: arith.divf
// CHECK-NOT: arith.divf
// NPU-DAG: arith.constant 1.44269502 : f32
// NPU-NOT: math.exp
// NPU-NOT: arith.divf
// OFF: math.exp
// OFF: arith.divf
