// f16 vectors are 64 lanes (128 bytes).
// RUN: hexmlir opt %s -p check-input..vectorize --option multithread=false --option tcm_tiling=false \
// RUN:   | FileCheck %s

// CHECK: arith.addf {{.*}} : vector<64xf16>
// CHECK-NOT: vector<32xf16>
func.func @add(%a: tensor<1000xf16>, %b: tensor<1000xf16>) -> tensor<1000xf16> {
  %e = tensor.empty() : tensor<1000xf16>
  %r = linalg.add ins(%a, %b : tensor<1000xf16>, tensor<1000xf16>) outs(%e : tensor<1000xf16>) -> tensor<1000xf16>
  return %r : tensor<1000xf16>
}
