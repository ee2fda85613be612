// f16: the per-channel values stay in the body. The half stage computes an f16 body in f32 and rounds
// once at the store; a hoisted value would be rounded to f16 on the way (an extra rounding).
// RUN: hexmlir opt %s -p hoist-invariants | FileCheck %s

// CHECK-COUNT-1: linalg.generic
// CHECK: math.sqrt
// CHECK: cf.assert
// CHECK-NOT: linalg.generic
#map = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#ch = affine_map<(d0, d1, d2, d3) -> (d1)>
func.func @f(%x: tensor<2x19x33x17xf16>, %mean: tensor<19xf16>, %var: tensor<19xf16>, %w: tensor<19xf16>,
             %b: tensor<19xf16>) -> tensor<2x19x33x17xf16> {
  %eps = arith.constant 1.0e-05 : f64
  %one = arith.constant 1.0 : f16
  %z = arith.constant 0.0 : f16
  %e = tensor.empty() : tensor<2x19x33x17xf16>
  %r = linalg.generic {indexing_maps = [#map, #ch, #ch, #ch, #ch, #map],
                       iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %mean, %var, %w, %b : tensor<2x19x33x17xf16>, tensor<19xf16>, tensor<19xf16>, tensor<19xf16>, tensor<19xf16>)
      outs(%e : tensor<2x19x33x17xf16>) {
  ^bb0(%in: f16, %m: f16, %v: f16, %ww: f16, %bb: f16, %out: f16):
    %d = arith.subf %in, %m : f16
    %t = arith.truncf %eps : f64 to f16
    %a = arith.addf %v, %t : f16
    %s = math.sqrt %a : f16
    %ok = arith.cmpf one, %s, %z : f16
    cf.assert %ok, "unimplemented: tensor with zero element"
    %r0 = arith.divf %one, %s : f16
    %y = arith.mulf %d, %r0 : f16
    %y1 = arith.mulf %y, %ww : f16
    %y2 = arith.addf %y1, %bb : f16
    %c = arith.cmpf ugt, %y2, %z : f16
    %o = arith.select %c, %y2, %z : f16
    linalg.yield %o : f16
  } -> tensor<2x19x33x17xf16>
  return %r : tensor<2x19x33x17xf16>
}
