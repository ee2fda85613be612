// A check whose value is used (the gather's mask flows through it) is never pruned.
// RUN: hexmlir opt %S/../Inputs/grid_gather_assert.mlir -p asserts..asserts-prune | FileCheck %s

// CHECK: cf.assert %{{.*}}, "gather index out of range"
