// tensor.concat becomes one insert_slice per operand.
// RUN: hexmlir opt %s -p decompose-concat | FileCheck %s

// CHECK-NOT: tensor.concat
// CHECK: tensor.insert_slice {{.*}}[0, 0] [33, 17] [1, 1]
// CHECK: tensor.insert_slice {{.*}}[0, 17] [33, 5] [1, 1]
func.func @cat(%a: tensor<33x17xf32>, %b: tensor<33x5xf32>) -> tensor<33x22xf32> {
  %r = tensor.concat dim(1) %a, %b : (tensor<33x17xf32>, tensor<33x5xf32>) -> tensor<33x22xf32>
  return %r : tensor<33x22xf32>
}
