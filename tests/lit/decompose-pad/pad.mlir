// tensor.pad with a constant value becomes fill + insert_slice.
// RUN: hexmlir opt %s -p decompose-pad | FileCheck %s

// CHECK-NOT: tensor.pad
// CHECK: linalg.fill
// CHECK: tensor.insert_slice {{.*}}[1, 2] [33, 17] [1, 1]
func.func @pad(%a: tensor<33x17xf32>) -> tensor<36x21xf32> {
  %z = arith.constant 0.0 : f32
  %r = tensor.pad %a low[1, 2] high[2, 2] {
  ^bb0(%i: index, %j: index):
    tensor.yield %z : f32
  } : tensor<33x17xf32> to tensor<36x21xf32>
  return %r : tensor<36x21xf32>
}
