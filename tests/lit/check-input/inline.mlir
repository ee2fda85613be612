// The public entry's private callee is inlined; a dynamic shape is a typed error naming the stage.
// RUN: hexmlir opt %s -p check-input | FileCheck %s
// RUN: not hexmlir opt %S/../Inputs/dynamic.mlir -p check-input 2>&1 | FileCheck %s --check-prefix=ERR

// CHECK-LABEL: func.func @entry
// CHECK: linalg.add
// CHECK-NOT: call @helper
// CHECK-NOT: func.func private @helper
// ERR: hexmlir: error: [stage check-input]
// ERR-SAME: dynamic

func.func private @helper(%a: tensor<33x17xf32>, %b: tensor<33x17xf32>) -> tensor<33x17xf32> {
  %e = tensor.empty() : tensor<33x17xf32>
  %r = linalg.add ins(%a, %b : tensor<33x17xf32>, tensor<33x17xf32>) outs(%e : tensor<33x17xf32>) -> tensor<33x17xf32>
  return %r : tensor<33x17xf32>
}
func.func @entry(%a: tensor<33x17xf32>, %b: tensor<33x17xf32>) -> tensor<33x17xf32> {
  %r = func.call @helper(%a, %b) : (tensor<33x17xf32>, tensor<33x17xf32>) -> tensor<33x17xf32>
  return %r : tensor<33x17xf32>
}
