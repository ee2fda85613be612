// Fewer output pixels than a vector (9 < 16 f32 lanes) and at least a vector of output channels (48): the
// pixels become the matmul's rows and the channels its columns, w read as B^T [f, k]; the accumulator is
// transposed into [p, f] and the result back into [f, p].
// RUN: hexmlir opt %s -p check-input..conv-im2col --option isa=x86-64-v4 | FileCheck %s

// CHECK-DAG: #[[T:.*]] = affine_map<(d0, d1) -> (d1, d0)>
// CHECK-DAG: #[[A:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[B:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[C:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @hxk_deep
// CHECK: outs(%{{.*}} : tensor<3x3x32x3x3xf32>)
// CHECK: linalg.generic {indexing_maps = {{\[}}#[[T]], {{.*}} outs(%{{.*}} : tensor<9x48xf32>)
// CHECK: linalg.generic {indexing_maps = {{\[}}#[[A]], #[[B]], #[[C]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%{{.*}}, %{{.*}} : tensor<9x288xf32>, tensor<48x288xf32>) outs(%{{.*}} : tensor<9x48xf32>)
// CHECK: linalg.generic {indexing_maps = {{\[}}#[[T]], {{.*}} outs(%{{.*}} : tensor<48x9xf32>)
func.func @deep(%x: tensor<1x32x5x5xf32>, %w: tensor<48x32x3x3xf32>) -> tensor<1x48x3x3xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x48x3x3xf32>
  %o = linalg.fill ins(%z : f32) outs(%e : tensor<1x48x3x3xf32>) -> tensor<1x48x3x3xf32>
  %r = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
       ins(%x, %w : tensor<1x32x5x5xf32>, tensor<48x32x3x3xf32>) outs(%o : tensor<1x48x3x3xf32>) -> tensor<1x48x3x3xf32>
  return %r : tensor<1x48x3x3xf32>
}
