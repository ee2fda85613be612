// A 1x1 stride-1 convolution needs no window copy: its input already is col [c, h*w] (batch 1 folded away),
// so the stage only collapses the views and writes the matmul out[f, p] += w[f, c] * x[c, p].
// RUN: hexmlir opt %s -p check-input..conv-im2col | FileCheck %s

// CHECK-LABEL: func.func @hxk_pointwise
// CHECK-NOT: tensor.empty() : tensor<16x7x9xf32>
// CHECK: tensor.collapse_shape %{{.*}} into tensor<16x63xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-SAME: outs(%{{.*}} : tensor<8x63xf32>)
func.func @pointwise(%x: tensor<1x16x7x9xf32>, %w: tensor<8x16x1x1xf32>) -> tensor<1x8x7x9xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x8x7x9xf32>
  %o = linalg.fill ins(%z : f32) outs(%e : tensor<1x8x7x9xf32>) -> tensor<1x8x7x9xf32>
  %r = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
       ins(%x, %w : tensor<1x16x7x9xf32>, tensor<8x16x1x1xf32>) outs(%o : tensor<1x8x7x9xf32>) -> tensor<1x8x7x9xf32>
  return %r : tensor<1x8x7x9xf32>
}
