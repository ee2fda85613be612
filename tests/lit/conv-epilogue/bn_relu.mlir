// A 3x3 convolution (2 images, 5 -> 13 channels, 36x29 output) followed by inference BatchNorm + ReLU as
// one element-wise generic. conv-im2col makes the convolution a matmul over row blocks whose result the
// BatchNorm reads through expand/collapse_shape; conv-epilogue marks the BatchNorm (hexmlir.epilogue), the
// plan gives it the matmul's tiles (1 image x 18 rows) and fuses the matmul, its window copy and zero fill
// into it, and tcm-tiling computes each block's convolution and BatchNorm in one tile loop.
// conv_epilogue=false or fusion=false: nothing is marked, the matmul stays a root of its own.
// RUN: hexmlir opt %s -p check-input..conv-epilogue --option num_threads=3 | FileCheck %s
// RUN: hexmlir opt %s -p check-input..plan --option num_threads=3 | FileCheck %s --check-prefix=PLAN
// RUN: hexmlir opt %s -p check-input..tcm-tiling --option num_threads=3 | FileCheck %s --check-prefix=TILE
// RUN: hexmlir opt %s -p check-input..conv-epilogue --option num_threads=3 --option conv_epilogue=false | FileCheck %s --check-prefix=OFF
// RUN: hexmlir opt %s -p check-input..conv-epilogue --option num_threads=3 --option fusion=false | FileCheck %s --check-prefix=OFF

// CHECK-LABEL: func.func @hxk_conv_bn_relu
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]
// CHECK-SAME: hexmlir.conv_blocks = 2 : i64, hexmlir.conv_matmul
// CHECK: tensor.expand_shape
// CHECK: tensor.collapse_shape
// CHECK: linalg.generic
// CHECK-SAME: hexmlir.epilogue
// CHECK: arith.select

// PLAN: linalg.generic {{.*}}"reduction"]{{.*}}fused_into = [[E:[0-9]+]] : i64{{.*}}hexmlir.conv_matmul
// PLAN: linalg.generic {{.*}}note = "conv epilogue: #{{[0-9]+}}'s tiles, {{.*}}tile = array<i64: 1, 0, 18, 0>{{.*}}hexmlir.epilogue, hexmlir.id = [[E]] : i64

// TILE: scf.forall (%{{.*}}, %{{.*}}) in (2, 2)
// TILE: hexmlir.window_copy
// TILE: "reduction"]
// TILE: arith.select
// TILE: scf.forall.in_parallel
// TILE-NOT: scf.forall

// OFF-NOT: hexmlir.epilogue
#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#ch = affine_map<(d0, d1, d2, d3) -> (d1)>
func.func @conv_bn_relu(%x: tensor<2x5x38x31xf32>, %w: tensor<13x5x3x3xf32>, %s: tensor<13xf32>,
                        %b: tensor<13xf32>) -> tensor<2x13x36x29xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x13x36x29xf32>
  %o = linalg.fill ins(%z : f32) outs(%e : tensor<2x13x36x29xf32>) -> tensor<2x13x36x29xf32>
  %c = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
       ins(%x, %w : tensor<2x5x38x31xf32>, tensor<13x5x3x3xf32>) outs(%o : tensor<2x13x36x29xf32>) -> tensor<2x13x36x29xf32>
  %r = linalg.generic {indexing_maps = [#id, #ch, #ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%c, %s, %b : tensor<2x13x36x29xf32>, tensor<13xf32>, tensor<13xf32>) outs(%e : tensor<2x13x36x29xf32>) {
  ^bb0(%v: f32, %sc: f32, %sh: f32, %out: f32):
    %y = arith.mulf %v, %sc : f32
    %y1 = arith.addf %y, %sh : f32
    %p = arith.cmpf ugt, %y1, %z : f32
    %q = arith.select %p, %y1, %z : f32
    linalg.yield %q : f32
  } -> tensor<2x13x36x29xf32>
  return %r : tensor<2x13x36x29xf32>
}
