// A gather after cf.assert: the guarded tensor.extract gets its index clamped into bounds (the assert stays,
// to become a runtime check at lower-to-llvm).
// RUN: hexmlir opt %s -p asserts | FileCheck %s

// CHECK: cf.assert
// CHECK: arith.maxsi
// CHECK: arith.minsi
// CHECK: tensor.extract
#map = affine_map<(d0, d1) -> (d0)>
#map1 = affine_map<(d0, d1) -> (d0, d1)>
func.func @gather(%tab: tensor<10x33xf32>, %ids: tensor<17xi64>) -> tensor<17x33xf32> {
  %c10 = arith.constant 10 : index
  %e = tensor.empty() : tensor<17x33xf32>
  %r = linalg.generic {indexing_maps = [#map, #map1], iterator_types = ["parallel", "parallel"]}
      ins(%ids : tensor<17xi64>) outs(%e : tensor<17x33xf32>) {
  ^bb0(%in: i64, %out: f32):
    %i = arith.index_cast %in : i64 to index
    %j = linalg.index 1 : index
    %lt = arith.cmpi slt, %i, %c10 : index
    cf.assert %lt, "index must be smaller than dim size"
    %x = tensor.extract %tab[%i, %j] : tensor<10x33xf32>
    linalg.yield %x : f32
  } -> tensor<17x33xf32>
  return %r : tensor<17x33xf32>
}
