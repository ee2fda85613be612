// Equal pieces (rotate_half's cat(-x2, x1)): one generic over the result viewed [.., 2, 17] that selects
// piece n, collapsed back; no insert_slice copies.
// RUN: hexmlir opt %s -p decompose-concat | FileCheck %s

// CHECK-NOT: tensor.concat
// CHECK-NOT: tensor.insert_slice
// CHECK: linalg.generic {{.*}}ins(%arg0, %arg1 : tensor<33x17xf32>, tensor<33x17xf32>) outs({{.*}} : tensor<33x2x17xf32>)
// CHECK: linalg.index 1
// CHECK: arith.select
// CHECK: tensor.collapse_shape {{.*}} {{\[}}[0], [1, 2]] : tensor<33x2x17xf32> into tensor<33x34xf32>
func.func @cat(%a: tensor<33x17xf32>, %b: tensor<33x17xf32>) -> tensor<33x34xf32> {
  %r = tensor.concat dim(1) %a, %b : (tensor<33x17xf32>, tensor<33x17xf32>) -> tensor<33x34xf32>
  return %r : tensor<33x34xf32>
}
