// Slices read in place: the halves of x (17 = 34 / 2) through x viewed [33, 2, 17] at piece 0 and 1, a cut
// at offset 3 as d1 + 3; the slices go, and x's producer (exp) merges into every consumer.
// RUN: hexmlir opt %s -p fusion | FileCheck %s

// CHECK-DAG: #[[P0:.*]] = affine_map<(d0, d1) -> (d0, 0, d1)>
// CHECK-DAG: #[[P1:.*]] = affine_map<(d0, d1) -> (d0, 1, d1)>
// CHECK-DAG: #[[OFF:.*]] = affine_map<(d0, d1) -> (d0, d1 + 3)>
// CHECK-NOT: tensor.extract_slice
// CHECK-LABEL: func.func @halves
// CHECK: tensor.expand_shape %arg0 {{\[}}[0], [1, 2]]
// CHECK: linalg.generic {indexing_maps = [#[[P1]], #[[P0]], {{.*}}]
// CHECK: math.exp
// CHECK: math.exp
// CHECK: arith.subf
// CHECK-LABEL: func.func @offset
// CHECK: linalg.generic {indexing_maps = [#[[OFF]], {{.*}}]
// CHECK: math.exp
// CHECK-NOT: tensor.extract_slice
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @halves(%x: tensor<33x34xf32>) -> tensor<33x17xf32> {
  %e = tensor.empty() : tensor<33x34xf32>
  %ex = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<33x34xf32>) outs(%e : tensor<33x34xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.exp %a : f32
    linalg.yield %r : f32
  } -> tensor<33x34xf32>
  %lo = tensor.extract_slice %ex[0, 0] [33, 17] [1, 1] : tensor<33x34xf32> to tensor<33x17xf32>
  %hi = tensor.extract_slice %ex[0, 17] [33, 17] [1, 1] : tensor<33x34xf32> to tensor<33x17xf32>
  %e2 = tensor.empty() : tensor<33x17xf32>
  %d = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%hi, %lo : tensor<33x17xf32>, tensor<33x17xf32>) outs(%e2 : tensor<33x17xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.subf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<33x17xf32>
  return %d : tensor<33x17xf32>
}
func.func @offset(%x: tensor<33x34xf32>) -> tensor<33x20xf32> {
  %s = tensor.extract_slice %x[0, 3] [33, 20] [1, 1] : tensor<33x34xf32> to tensor<33x20xf32>
  %e = tensor.empty() : tensor<33x20xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%s : tensor<33x20xf32>) outs(%e : tensor<33x20xf32>) {
  ^bb0(%a: f32, %o: f32):
    %y = math.exp %a : f32
    linalg.yield %y : f32
  } -> tensor<33x20xf32>
  return %r : tensor<33x20xf32>
}
