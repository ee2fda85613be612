// A 3x3 stride-2 convolution (NCHW, batch 2, 5 channels, 9x7 image) becomes a window copy into col
// [n, c, kh, kw, oh, ow] (unit stride along ow only when the stride is 1) and a batched matmul
// out[n, f, p] += w[f, k] * col[n, k, p] over collapsed views, which the contract stage register-blocks.
// npu-emu (no FMA) and register_tiling=false: the stage is off, the convolution stays one 7-loop generic.
// RUN: hexmlir opt %s -p check-input..conv-im2col | FileCheck %s
// RUN: hexmlir opt %s -p check-input..conv-im2col --option target=npu-emu | FileCheck %s --check-prefix=OFF
// RUN: hexmlir opt %s -p check-input..conv-im2col --option register_tiling=false | FileCheck %s --check-prefix=OFF

// CHECK-DAG: #[[WIN:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d4 * 2 + d2, d5 * 2 + d3)>
// CHECK-DAG: #[[A:.*]] = affine_map<(d0, d1, d2, d3) -> (d1, d3)>
// CHECK-DAG: #[[B:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>
// CHECK-DAG: #[[C:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @hxk_conv
// CHECK: linalg.generic {indexing_maps = {{\[}}#[[WIN]], {{.*}} outs(%{{.*}} : tensor<2x5x3x3x4x3xf32>)
// CHECK-DAG: tensor.collapse_shape {{.*}} into tensor<2x45x12xf32>
// CHECK-DAG: tensor.collapse_shape {{.*}} into tensor<11x45xf32>
// CHECK: linalg.generic {indexing_maps = {{\[}}#[[A]], #[[B]], #[[C]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME: outs(%{{.*}} : tensor<2x11x12xf32>)
// CHECK: tensor.expand_shape {{.*}} into tensor<2x11x4x3xf32>

// OFF-LABEL: func.func @hxk_conv
// OFF-NOT: tensor.collapse_shape
// OFF: iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]
func.func @conv(%x: tensor<2x5x9x7xf32>, %w: tensor<11x5x3x3xf32>) -> tensor<2x11x4x3xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x11x4x3xf32>
  %o = linalg.fill ins(%z : f32) outs(%e : tensor<2x11x4x3xf32>) -> tensor<2x11x4x3xf32>
  %r = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<2> : vector<2xi64>}
       ins(%x, %w : tensor<2x5x9x7xf32>, tensor<11x5x3x3xf32>) outs(%o : tensor<2x11x4x3xf32>) -> tensor<2x11x4x3xf32>
  return %r : tensor<2x11x4x3xf32>
}
