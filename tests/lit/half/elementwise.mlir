// Element-wise f16 bodies are computed in f32 on targets without half vector arithmetic (host, npu-emu):
// each input converted once, the result rounded once, the f16 constants now f32. Reductions and the
// Hexagon targets (HVX has half arithmetic) keep f16.
// RUN: hexmlir opt %s -p half --option isa=x86-64-v4 | FileCheck %s
// RUN: hexmlir opt %s -p half --option target=hexagon | FileCheck %s --check-prefix=HEX

// CHECK-LABEL: func.func @f
// CHECK: arith.constant 0.0447{{[0-9]*}} : f32
// CHECK: linalg.generic
// CHECK: ^bb0(%[[X:.*]]: f16, %{{.*}}: f16):
// CHECK-NEXT: %[[W:.*]] = arith.extf %[[X]] fastmath<contract> : f16 to f32
// CHECK-NEXT: arith.mulf %[[W]], %[[W]] : f32
// CHECK-NOT: f16
// CHECK: arith.truncf {{.*}} fastmath<contract> : f32 to f16
// CHECK-NEXT: linalg.yield
// CHECK: linalg.generic
// CHECK: arith.addf {{.*}} : f16
// HEX-LABEL: func.func @f
// HEX-NOT: arith.extf
// HEX: arith.mulf {{.*}} : f16
func.func @f(%x: tensor<33x17xf16>, %acc: tensor<33xf16>) -> (tensor<33x17xf16>, tensor<33xf16>) {
  %c = arith.constant 0.044715 : f16
  %e = tensor.empty() : tensor<33x17xf16>
  %y = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<33x17xf16>) outs(%e : tensor<33x17xf16>) {
  ^bb0(%a: f16, %o: f16):
    %sq = arith.mulf %a, %a : f16
    %cu = arith.mulf %sq, %a : f16
    %t = arith.mulf %cu, %c : f16
    %s = arith.addf %t, %a : f16
    linalg.yield %s : f16
  } -> tensor<33x17xf16>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                       iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<33x17xf16>) outs(%acc : tensor<33xf16>) {
  ^bb0(%a: f16, %o: f16):
    %s = arith.addf %a, %o : f16
    linalg.yield %s : f16
  } -> tensor<33xf16>
  return %y, %r : tensor<33x17xf16>, tensor<33xf16>
}
