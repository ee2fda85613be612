// Two matmuls read the same A and write their own results (output parameters): their regions become one
// launch of a body that sends chunks 0-3 to the first region's body and 4-7 (less 4) to the second's. With the
// option off, or without threads, they stay two launches (or none).
// RUN: hexmlir opt %s -p check-input..threads --option num_threads=4 --option mt_threshold=1 | hexmlir opt - -p merge-regions | FileCheck %s
// RUN: hexmlir opt %s -p check-input..threads --option num_threads=4 --option mt_threshold=1 --option merge_regions=false | hexmlir opt - -p merge-regions | FileCheck %s --check-prefix=OFF

// CHECK: func.func @hxk_two
// CHECK: %[[N:.*]] = arith.constant 8 : index
// CHECK: call @__hx_parallel_hxk_two_parM0({{.*}}, %[[N]])
// CHECK-NOT: call @__hx_parallel
// CHECK: return
// CHECK: func.func private @hxk_two_parM0
// CHECK: arith.cmpi ult
// CHECK: scf.if
// CHECK: func.call @hxk_two_par0
// CHECK: arith.subi
// CHECK: func.call @hxk_two_par1
// OFF: call @__hx_parallel_hxk_two_par0
// OFF: call @__hx_parallel_hxk_two_par1
// OFF-NOT: parM
func.func @two(%a: tensor<67x45xf32>, %b: tensor<45x33xf32>, %c: tensor<45x33xf32>)
    -> (tensor<67x33xf32>, tensor<67x33xf32>) {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<67x33xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<67x33xf32>) -> tensor<67x33xf32>
  %x = linalg.matmul ins(%a, %b : tensor<67x45xf32>, tensor<45x33xf32>) outs(%f : tensor<67x33xf32>) -> tensor<67x33xf32>
  %e2 = tensor.empty() : tensor<67x33xf32>
  %f2 = linalg.fill ins(%z : f32) outs(%e2 : tensor<67x33xf32>) -> tensor<67x33xf32>
  %y = linalg.matmul ins(%a, %c : tensor<67x45xf32>, tensor<45x33xf32>) outs(%f2 : tensor<67x33xf32>) -> tensor<67x33xf32>
  return %x, %y : tensor<67x33xf32>, tensor<67x33xf32>
}
