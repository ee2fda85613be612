// A 0-d generic (unit dims folded away) has no loops: its body reads its arguments and stays inside it
// (the stage once moved the add out, leaving it reading block arguments of the generic).
// RUN: hexmlir opt %s -p hoist-invariants | FileCheck %s

// CHECK: linalg.generic
// CHECK-NEXT: ^bb0
// CHECK-NEXT: arith.addf
// CHECK-NEXT: math.sqrt
// CHECK-NEXT: linalg.yield
#map = affine_map<() -> ()>
func.func @f(%a: tensor<f32>, %b: tensor<f32>) -> tensor<f32> {
  %e = tensor.empty() : tensor<f32>
  %r = linalg.generic {indexing_maps = [#map, #map, #map], iterator_types = []}
      ins(%a, %b : tensor<f32>, tensor<f32>) outs(%e : tensor<f32>) {
  ^bb0(%x: f32, %y: f32, %out: f32):
    %s = arith.addf %x, %y : f32
    %q = math.sqrt %s : f32
    linalg.yield %q : f32
  } -> tensor<f32>
  return %r : tensor<f32>
}
