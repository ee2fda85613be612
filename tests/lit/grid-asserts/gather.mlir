// Triton's device_assert on a gather index: the gather after it reads at a clamped index.
// RUN: hexmlir opt %S/../Inputs/grid_gather_assert.mlir -p asserts | FileCheck %s

// CHECK: module attributes {hexmlir.grid}
// CHECK: cf.assert %{{.*}}, "gather index out of range"
// CHECK: %[[LO:.*]] = arith.maxsi
// CHECK: %[[I:.*]] = arith.minsi %[[LO]],
// CHECK: tensor.extract %{{.*}}[%[[I]]] : tensor<?xf32>
