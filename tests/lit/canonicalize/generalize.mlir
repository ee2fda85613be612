// Named ops are generalized: every later stage sees linalg.generic.
// RUN: hexmlir opt %s -p canonicalize | FileCheck %s

// CHECK-NOT: linalg.add
// CHECK-NOT: linalg.exp
// CHECK: linalg.generic
// CHECK: arith.addf
// CHECK: linalg.generic
// CHECK: math.exp
func.func @f(%a: tensor<1000xf32>, %b: tensor<1000xf32>) -> tensor<1000xf32> {
  %e = tensor.empty() : tensor<1000xf32>
  %s = linalg.add ins(%a, %b : tensor<1000xf32>, tensor<1000xf32>) outs(%e : tensor<1000xf32>) -> tensor<1000xf32>
  %x = linalg.exp ins(%s : tensor<1000xf32>) outs(%e : tensor<1000xf32>) -> tensor<1000xf32>
  return %x : tensor<1000xf32>
}
