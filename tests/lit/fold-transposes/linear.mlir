// nn.Linear as the torch frontend imports it (weight transpose + matmul): on an FMA target the matmul reads
// the weight argument as B^T (map (d1, d2)) and the transpose is gone; with register_tiling=false the stage
// is off and the transpose stays (fusion's barrier keeps it out of the matmul).
// RUN: hexmlir opt %s -p check-input..fold-transposes --option isa=x86-64-v3 | FileCheck %s
// RUN: hexmlir opt %s -p check-input..fold-transposes --option register_tiling=false | FileCheck %s --check-prefix=OFF

// CHECK-DAG: #[[BT:.+]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-LABEL: func.func @hxk_linear
// CHECK-NOT: tensor<67x45xf32>
// CHECK: linalg.generic {indexing_maps = [#{{.+}}, #[[BT]], #{{.+}}]{{.*}} ins(%arg1, %arg0 : tensor<33x67xf32>, tensor<45x67xf32>)

// OFF-LABEL: func.func @hxk_linear
// OFF: tensor<67x45xf32>
func.func @linear(%w: tensor<45x67xf32>, %x: tensor<33x67xf32>) -> tensor<33x45xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<67x45xf32>
  %t = linalg.transpose ins(%w : tensor<45x67xf32>) outs(%e : tensor<67x45xf32>) permutation = [1, 0]
  %o = tensor.empty() : tensor<33x45xf32>
  %f = linalg.fill ins(%z : f32) outs(%o : tensor<33x45xf32>) -> tensor<33x45xf32>
  %r = linalg.matmul ins(%x, %t : tensor<33x67xf32>, tensor<67x45xf32>) outs(%f : tensor<33x45xf32>) -> tensor<33x45xf32>
  return %r : tensor<33x45xf32>
}
