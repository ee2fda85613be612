// Inference BatchNorm + ReLU as torch-mlir fuses it: 1 / sqrt(var + eps) and its cf.assert depend on the
// channel (d1) alone. They move into a generic over the 19 channels that the element-wise op reads through
// (d1); the op keeps only per-element work (no sqrt, divide or assert), so it vectorizes. The eps
// truncation (constants alone) moves in front. With fusion off the stage is skipped.
// RUN: hexmlir opt %s -p hoist-invariants | FileCheck %s
// RUN: hexmlir opt %s -p hoist-invariants --option fusion=false | FileCheck %s --check-prefix=OFF

// CHECK: arith.truncf
// CHECK: linalg.generic {indexing_maps = [#[[ID1:map[0-9]*]], #[[ID1]]], iterator_types = ["parallel"]} ins(%arg2 : tensor<19xf32>) outs(%{{.*}} : tensor<19xf32>)
// CHECK: math.sqrt
// CHECK: cf.assert
// CHECK: arith.divf
// CHECK: -> tensor<19xf32>
// CHECK: linalg.generic
// CHECK-SAME: tensor<2x19x33x17xf32>
// CHECK-NOT: math.sqrt
// CHECK-NOT: cf.assert
// CHECK-NOT: arith.divf
// CHECK: arith.subf
// CHECK: return
// OFF-COUNT-1: linalg.generic
// OFF: math.sqrt
// OFF: cf.assert
// OFF-NOT: linalg.generic
#map = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#ch = affine_map<(d0, d1, d2, d3) -> (d1)>
func.func @f(%x: tensor<2x19x33x17xf32>, %mean: tensor<19xf32>, %var: tensor<19xf32>, %w: tensor<19xf32>,
             %b: tensor<19xf32>) -> tensor<2x19x33x17xf32> {
  %eps = arith.constant 1.0e-05 : f64
  %one = arith.constant 1.0 : f32
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x19x33x17xf32>
  %r = linalg.generic {indexing_maps = [#map, #ch, #ch, #ch, #ch, #map],
                       iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %mean, %var, %w, %b : tensor<2x19x33x17xf32>, tensor<19xf32>, tensor<19xf32>, tensor<19xf32>, tensor<19xf32>)
      outs(%e : tensor<2x19x33x17xf32>) {
  ^bb0(%in: f32, %m: f32, %v: f32, %ww: f32, %bb: f32, %out: f32):
    %d = arith.subf %in, %m : f32
    %t = arith.truncf %eps : f64 to f32
    %a = arith.addf %v, %t : f32
    %s = math.sqrt %a : f32
    %ok = arith.cmpf one, %s, %z : f32
    cf.assert %ok, "unimplemented: tensor with zero element"
    %r0 = arith.divf %one, %s : f32
    %y = arith.mulf %d, %r0 : f32
    %y1 = arith.mulf %y, %ww : f32
    %y2 = arith.addf %y1, %bb : f32
    %c = arith.cmpf ugt, %y2, %z : f32
    %o = arith.select %c, %y2, %z : f32
    linalg.yield %o : f32
  } -> tensor<2x19x33x17xf32>
  return %r : tensor<2x19x33x17xf32>
}
