// The plan verifier (plan.verify) runs when `hexmlir opt` reads IR: a hand-edited config is a typed error
// naming the op and the field. This host plan was edited to tcm = true (host has no TCM); read for npu-emu
// instead, its 8-lane vector is the wrong width (npu-emu: 128-byte vectors, 32 f32 lanes).
// RUN: not hexmlir opt %s -p tcm-tiling 2>&1 | FileCheck %s --check-prefix=TCM
// RUN: not hexmlir opt %s -p tcm-tiling --option target=npu-emu 2>&1 | FileCheck %s --check-prefix=VEC

// TCM: hexmlir: error: [stage opt] [op linalg.generic] [at {{.*}}] hexmlir.config of #0: field 'tcm': true, but host has no TCM (scratchpad)
// VEC: hexmlir: error: [stage opt] [op linalg.generic] [at {{.*}}] hexmlir.config of #0: field 'vector': [8]: one loop of 32 lanes
#map = affine_map<(d0) -> (d0)>
module attributes {hexmlir.plan = {budget = 524288 : i64, options = {arch = "v73", dma = true, double_buffer = true, fast_math = true, fusion = true, isa = "x86-64-v3", mt_threshold = 0 : i64, multithread = true, num_threads = 2 : i64, opt_level = 3 : i64, target = "host", tcm_budget = 0 : i64, tcm_tiling = true, tile_elems = 0 : i64, vectorize = true}, threads = 2 : i64, tile_budget = 262144 : i64}} {
  func.func @hxk_add_exp(%arg0: tensor<1000xf32>, %arg1: tensor<1000xf32>) -> tensor<1000xf32> {
    %0 = tensor.empty() : tensor<1000xf32>
    %1 = linalg.generic {indexing_maps = [#map, #map, #map], iterator_types = ["parallel"]} ins(%arg0, %arg1 : tensor<1000xf32>, tensor<1000xf32>) outs(%0 : tensor<1000xf32>) attrs =  {hexmlir.config = {buffers = 1 : i64, tcm = true, tcm_bytes = 0 : i64, threads = 1 : i64, tile = array<i64: 0>, tile_bytes = 18432 : i64, vector = array<i64: 8>, work = 2000 : i64}, hexmlir.id = 0 : i64} {
    ^bb0(%in: f32, %in_0: f32, %out: f32):
      %2 = arith.addf %in, %in_0 : f32
      %3 = math.exp %2 : f32
      linalg.yield %3 : f32
    } -> tensor<1000xf32>
    return %1 : tensor<1000xf32>
  }
}
