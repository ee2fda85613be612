// math.exp becomes a polynomial (Horner steps with its coefficients); the divide stays a native divf on host
// (Target.native_div) and becomes a Newton reciprocal on the NPU.
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p fast-math | FileCheck %s
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 --option fast_math=false | hexmlir opt - -p fast-math | FileCheck %s --check-prefix=OFF
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option target=npu-emu --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p fast-math | FileCheck %s --check-prefix=NPU

// CHECK-LABEL: func.func @hxk_silu
// CHECK-DAG: arith.constant 0.166665152 : f32
// CHECK-DAG: arith.constant 0.00138131576 : f32
// CHECK-NOT: math.exp
// CHECK: arith.divf
// CHECK-NOT: arith.divf
// CHECK: linalg.yield
// NPU-LABEL: func.func @hxk_silu
// NPU-DAG: arith.constant 0.166665152 : f32
// NPU-NOT: math.exp
// NPU-NOT: arith.divf
// NPU: linalg.yield
// OFF: math.exp
// OFF: arith.divf
