// Fusion copies a check into its consumer and leaves the producer as a result-less generic holding the
// cf.assert, which upstream tiling cannot take; asserts-prune drops it (the consumer keeps the check).
// RUN: hexmlir opt %s -p canonicalize,fusion | FileCheck %s --check-prefix=BEFORE
// RUN: hexmlir opt %s -p canonicalize,fusion,asserts-prune | FileCheck %s

// BEFORE: linalg.generic {indexing_maps = [#map], iterator_types = ["parallel"]} ins(%arg0 : tensor<1000xf32>) {
// BEFORE: cf.assert
// CHECK-LABEL: func.func @f
// CHECK-COUNT-1: cf.assert
// CHECK-NOT: cf.assert
#map = affine_map<(d0) -> (d0)>
func.func @f(%a: tensor<1000xf32>, %b: tensor<1000xf32>) -> tensor<1000xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1000xf32>
  %c = linalg.generic {indexing_maps = [#map, #map], iterator_types = ["parallel"]}
      ins(%a : tensor<1000xf32>) outs(%e : tensor<1000xf32>) {
  ^bb0(%in: f32, %out: f32):
    %ok = arith.cmpf oge, %in, %z : f32
    cf.assert %ok, "negative input"
    linalg.yield %in : f32
  } -> tensor<1000xf32>
  %r = linalg.add ins(%c, %b : tensor<1000xf32>, tensor<1000xf32>) outs(%e : tensor<1000xf32>) -> tensor<1000xf32>
  return %r : tensor<1000xf32>
}
