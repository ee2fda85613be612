// f16 vectors are as wide as the target's vectors: npu-emu 128 bytes (64 lanes; 1000 = 15 x 64 + a
// 40-lane tail), host at isa x86-64-v4 64 bytes (32 lanes; 1000 = 31 x 32 + an 8-lane tail). Both compute
// the f16 add in f32 (the `half` stage: no half vector arithmetic on the CPU), over the same lanes.
// RUN: hexmlir opt %s -p check-input..vectorize --option target=npu-emu --option multithread=false \
// RUN:   --option tcm_tiling=false | FileCheck %s --check-prefix=NPU
// RUN: hexmlir opt %s -p check-input..vectorize --option isa=x86-64-v4 --option multithread=false \
// RUN:   --option tcm_tiling=false | FileCheck %s --check-prefix=HOST

// NPU: arith.addf {{.*}} : vector<64xf32>
// NPU-NOT: vector<32xf16>
// NPU: arith.addf {{.*}} : vector<40xf32>
// HOST: arith.addf {{.*}} : vector<32xf32>
// HOST-NOT: vector<64xf16>
// HOST: arith.addf {{.*}} : vector<8xf32>
func.func @add(%a: tensor<1000xf16>, %b: tensor<1000xf16>) -> tensor<1000xf16> {
  %e = tensor.empty() : tensor<1000xf16>
  %r = linalg.add ins(%a, %b : tensor<1000xf16>, tensor<1000xf16>) outs(%e : tensor<1000xf16>) -> tensor<1000xf16>
  return %r : tensor<1000xf16>
}
