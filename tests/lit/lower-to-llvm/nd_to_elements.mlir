// vector.to_elements of an n-D vector (canonicalize folds the row-by-row build of an n-D mask, a partial
// output-channel tile's vector<8x1x64xi1>, into from_elements of to_elements of each row) is unrolled to
// 1-D ones before the LLVM conversion: upstream's conversion of to_elements takes the converted source as one
// LLVM vector and, for an n-D source (an !llvm.array of vectors), made an invalid llvm.extractelement.
// RUN: hexmlir opt %s -p lower-to-llvm | FileCheck %s

// CHECK: llvm.func internal @hxk_nd_masks(
// CHECK-COUNT-8: llvm.extractelement %{{.*}}[%{{.*}} : i64] : vector<4xi1>
// CHECK-NOT: vector.
module attributes {hexmlir.plan = {budget = 262144 : i64, options = {arch = "v73", causal_skip = true, dma = true, double_buffer = true, fast_math = true, fusion = true, isa = "auto", mt_threshold = 0 : i64, multithread = false, num_threads = 0 : i64, opt_level = 3 : i64, pack_b = true, register_tiling = true, target = "host", tcm_budget = 0 : i64, tcm_tiling = false, tile_elems = 0 : i64, vectorize = true}, threads = 1 : i64, tile_budget = 262144 : i64}, hexmlir.signature = "{\22args\22: [{\22dtype\22: \22float32\22, \22role\22: \22in\22, \22shape\22: [2, 1, 4]}, {\22dtype\22: \22float32\22, \22role\22: \22out\22, \22shape\22: [2, 1, 4]}], \22name\22: \22nd_masks\22, \22results\22: [1], \22writes\22: []}"} {
  func.func @hxk_nd_masks(%arg0: memref<2x1x4xf32>, %arg1: memref<2x1x4xf32>) {
    %c0 = arith.constant 0 : index
    %pad = ub.poison : f32
    %zero = arith.constant dense<0.0> : vector<2x1x4xf32>
    %v = vector.transfer_read %arg0[%c0, %c0, %c0], %pad {in_bounds = [true, true, true]} : memref<2x1x4xf32>, vector<2x1x4xf32>
    %m = arith.cmpf ogt, %v, %zero : vector<2x1x4xf32>
    %e:8 = vector.to_elements %m : vector<2x1x4xi1>
    %r = vector.from_elements %e#7, %e#6, %e#5, %e#4, %e#3, %e#2, %e#1, %e#0 : vector<2x1x4xi1>
    %s = arith.select %r, %v, %zero : vector<2x1x4xi1>, vector<2x1x4xf32>
    vector.transfer_write %s, %arg1[%c0, %c0, %c0] {in_bounds = [true, true, true]} : vector<2x1x4xf32>, memref<2x1x4xf32>
    return
  }
}
