// A per-row index value (an embedding's token id, checked and clamped) stays in the body: the stage
// makes no tensor of index.
// RUN: hexmlir opt %s -p hoist-invariants | FileCheck %s

// CHECK-NOT: xindex>
// CHECK-COUNT-1: linalg.generic
// CHECK-NOT: linalg.generic
#row = affine_map<(d0, d1) -> (d0)>
#map = affine_map<(d0, d1) -> (d0, d1)>
func.func @f(%ids: tensor<7xi64>, %table: tensor<50x33xf32>) -> tensor<7x33xf32> {
  %c50 = arith.constant 50 : index
  %c0 = arith.constant 0 : i64
  %e = tensor.empty() : tensor<7x33xf32>
  %r = linalg.generic {indexing_maps = [#row, #map], iterator_types = ["parallel", "parallel"]}
      ins(%ids : tensor<7xi64>) outs(%e : tensor<7x33xf32>) {
  ^bb0(%id: i64, %out: f32):
    %i = arith.index_cast %id : i64 to index
    %lt = arith.cmpi slt, %i, %c50 : index
    cf.assert %lt, "index must be smaller than dim size"
    %ge = arith.cmpi sge, %id, %c0 : i64
    cf.assert %ge, "index must be larger or equal to 0"
    %j = linalg.index 1 : index
    %v = tensor.extract %table[%i, %j] : tensor<50x33xf32>
    linalg.yield %v : f32
  } -> tensor<7x33xf32>
  return %r : tensor<7x33xf32>
}
