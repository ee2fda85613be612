// Causal attention (Q K^T, `j - i <= 0 ? 0 : -inf` added, softmax, P V) over 64 query rows: four segments
// of 16 rows, segment [a, a + 16) reading K^T and V columns [0, a + 16) only, its row index shifted by a,
// each result inserted into the output; no 64x64 score matrix is left. A mask that keeps the upper
// triangle (@upper) is left whole.
// RUN: hexmlir opt %s -p causal-skip | FileCheck %s
// RUN: hexmlir opt %s -p causal-skip --option causal_skip=false | FileCheck %s --check-prefix=OFF

// CHECK-LABEL: func.func @attn
// CHECK-NOT: tensor<64x64xf32>
// CHECK: tensor.extract_slice {{.*}}[0, 0] [8, 16] [1, 1] : tensor<8x64xf32> to tensor<8x16xf32>
// CHECK: arith.cmpi sle
// CHECK: tensor.insert_slice {{.*}}[0, 0] [16, 8] [1, 1]
// CHECK: tensor.extract_slice {{.*}}[0, 0] [8, 32] [1, 1] : tensor<8x64xf32> to tensor<8x32xf32>
// CHECK: arith.addi %{{.*}}, %c16 : index
// CHECK: tensor.insert_slice {{.*}}[16, 0] [16, 8] [1, 1]
// CHECK: tensor.extract_slice {{.*}}[0, 0] [8, 48] [1, 1] : tensor<8x64xf32> to tensor<8x48xf32>
// CHECK: arith.addi %{{.*}}, %c32 : index
// CHECK: tensor.insert_slice {{.*}}[32, 0] [16, 8] [1, 1]
// CHECK: tensor<16x64xf32>
// CHECK: arith.addi %{{.*}}, %c48 : index
// CHECK: tensor.insert_slice {{.*}}[48, 0] [16, 8] [1, 1]
// CHECK-NOT: tensor<64x64xf32>
// CHECK-LABEL: func.func @upper
// CHECK-NOT: tensor.insert_slice
// CHECK: tensor<64x64xf32>
// CHECK-NOT: tensor.insert_slice
// OFF-LABEL: func.func @attn
// OFF-NOT: tensor.insert_slice
// OFF: tensor<64x64xf32>

#map = affine_map<(d0, d1) -> ()>
#map1 = affine_map<(d0, d1) -> (d0, d1)>
#map2 = affine_map<(d0, d1, d2) -> (d0, d2)>
#map3 = affine_map<(d0, d1, d2) -> (d2, d1)>
#map4 = affine_map<(d0, d1, d2) -> (d0, d1)>
#map5 = affine_map<(d0) -> ()>
#map6 = affine_map<(d0) -> (d0)>
#map7 = affine_map<(d0, d1) -> (d0)>
func.func @attn(%arg0: tensor<1x64x8xf32>, %arg1: tensor<1x8x64xf32>, %arg2: tensor<1x64x8xf32>) -> tensor<1x64x8xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %cst_0 = arith.constant 0xFF800000 : f32
  %c0_i64 = arith.constant 0 : i64
  %0 = tensor.empty() : tensor<64x64xf32>
  %1 = linalg.generic {indexing_maps = [#map, #map1], iterator_types = ["parallel", "parallel"]} ins(%cst : f32) outs(%0 : tensor<64x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<64x64xf32>
  %collapsed = tensor.collapse_shape %arg0 [[0, 1], [2]] : tensor<1x64x8xf32> into tensor<64x8xf32>
  %collapsed_1 = tensor.collapse_shape %arg1 [[0, 1], [2]] : tensor<1x8x64xf32> into tensor<8x64xf32>
  %2 = linalg.generic {indexing_maps = [#map2, #map3, #map4], iterator_types = ["parallel", "parallel", "reduction"]} ins(%collapsed, %collapsed_1 : tensor<64x8xf32>, tensor<8x64xf32>) outs(%1 : tensor<64x64xf32>) {
  ^bb0(%in: f32, %in_3: f32, %out: f32):
    %14 = arith.mulf %in, %in_3 : f32
    %15 = arith.addf %out, %14 : f32
    linalg.yield %15 : f32
  } -> tensor<64x64xf32>
  %3 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel"]} ins(%2 : tensor<64x64xf32>) outs(%0 : tensor<64x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %14 = linalg.index 0 : index
    %15 = linalg.index 1 : index
    %16 = arith.index_cast %14 : index to i64
    %17 = arith.index_cast %15 : index to i64
    %18 = arith.subi %17, %16 : i64
    %19 = arith.cmpi sle, %18, %c0_i64 : i64
    %20 = arith.select %19, %cst, %cst_0 : f32
    %21 = arith.addf %in, %20 : f32
    linalg.yield %21 : f32
  } -> tensor<64x64xf32>
  %4 = tensor.empty() : tensor<64xf32>
  %5 = linalg.generic {indexing_maps = [#map5, #map6], iterator_types = ["parallel"]} ins(%cst_0 : f32) outs(%4 : tensor<64xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<64xf32>
  %6 = linalg.generic {indexing_maps = [#map1, #map7], iterator_types = ["parallel", "reduction"]} ins(%3 : tensor<64x64xf32>) outs(%5 : tensor<64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %14 = arith.maximumf %in, %out : f32
    linalg.yield %14 : f32
  } -> tensor<64xf32>
  %7 = linalg.generic {indexing_maps = [#map1, #map7, #map1], iterator_types = ["parallel", "parallel"]} ins(%3, %6 : tensor<64x64xf32>, tensor<64xf32>) outs(%0 : tensor<64x64xf32>) {
  ^bb0(%in: f32, %in_3: f32, %out: f32):
    %14 = arith.subf %in, %in_3 : f32
    %15 = math.exp %14 : f32
    linalg.yield %15 : f32
  } -> tensor<64x64xf32>
  %8 = linalg.generic {indexing_maps = [#map5, #map6], iterator_types = ["parallel"]} ins(%cst : f32) outs(%4 : tensor<64xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<64xf32>
  %9 = linalg.generic {indexing_maps = [#map1, #map7], iterator_types = ["parallel", "reduction"]} ins(%7 : tensor<64x64xf32>) outs(%8 : tensor<64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %14 = arith.addf %in, %out : f32
    linalg.yield %14 : f32
  } -> tensor<64xf32>
  %10 = linalg.generic {indexing_maps = [#map1, #map7, #map1], iterator_types = ["parallel", "parallel"]} ins(%7, %9 : tensor<64x64xf32>, tensor<64xf32>) outs(%0 : tensor<64x64xf32>) {
  ^bb0(%in: f32, %in_3: f32, %out: f32):
    %14 = arith.divf %in, %in_3 : f32
    linalg.yield %14 : f32
  } -> tensor<64x64xf32>
  %11 = tensor.empty() : tensor<64x8xf32>
  %12 = linalg.generic {indexing_maps = [#map, #map1], iterator_types = ["parallel", "parallel"]} ins(%cst : f32) outs(%11 : tensor<64x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<64x8xf32>
  %collapsed_2 = tensor.collapse_shape %arg2 [[0, 1], [2]] : tensor<1x64x8xf32> into tensor<64x8xf32>
  %13 = linalg.generic {indexing_maps = [#map2, #map3, #map4], iterator_types = ["parallel", "parallel", "reduction"]} ins(%10, %collapsed_2 : tensor<64x64xf32>, tensor<64x8xf32>) outs(%12 : tensor<64x8xf32>) {
  ^bb0(%in: f32, %in_3: f32, %out: f32):
    %14 = arith.mulf %in, %in_3 : f32
    %15 = arith.addf %out, %14 : f32
    linalg.yield %15 : f32
  } -> tensor<64x8xf32>
  %expanded = tensor.expand_shape %13 [[0, 1], [2]] output_shape [1, 64, 8] : tensor<64x8xf32> into tensor<1x64x8xf32>
  return %expanded : tensor<1x64x8xf32>
}

func.func @upper(%arg0: tensor<1x64x8xf32>, %arg1: tensor<1x8x64xf32>, %arg2: tensor<1x64x8xf32>) -> tensor<1x64x8xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %cst_0 = arith.constant 0xFF800000 : f32
  %c0_i64 = arith.constant 0 : i64
  %0 = tensor.empty() : tensor<64x64xf32>
  %1 = linalg.generic {indexing_maps = [#map, #map1], iterator_types = ["parallel", "parallel"]} ins(%cst : f32) outs(%0 : tensor<64x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<64x64xf32>
  %collapsed = tensor.collapse_shape %arg0 [[0, 1], [2]] : tensor<1x64x8xf32> into tensor<64x8xf32>
  %collapsed_1 = tensor.collapse_shape %arg1 [[0, 1], [2]] : tensor<1x8x64xf32> into tensor<8x64xf32>
  %2 = linalg.generic {indexing_maps = [#map2, #map3, #map4], iterator_types = ["parallel", "parallel", "reduction"]} ins(%collapsed, %collapsed_1 : tensor<64x8xf32>, tensor<8x64xf32>) outs(%1 : tensor<64x64xf32>) {
  ^bb0(%in: f32, %in_3: f32, %out: f32):
    %14 = arith.mulf %in, %in_3 : f32
    %15 = arith.addf %out, %14 : f32
    linalg.yield %15 : f32
  } -> tensor<64x64xf32>
  %3 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel"]} ins(%2 : tensor<64x64xf32>) outs(%0 : tensor<64x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %14 = linalg.index 0 : index
    %15 = linalg.index 1 : index
    %16 = arith.index_cast %14 : index to i64
    %17 = arith.index_cast %15 : index to i64
    %18 = arith.subi %17, %16 : i64
    %19 = arith.cmpi sge, %18, %c0_i64 : i64
    %20 = arith.select %19, %cst, %cst_0 : f32
    %21 = arith.addf %in, %20 : f32
    linalg.yield %21 : f32
  } -> tensor<64x64xf32>
  %4 = tensor.empty() : tensor<64xf32>
  %5 = linalg.generic {indexing_maps = [#map5, #map6], iterator_types = ["parallel"]} ins(%cst_0 : f32) outs(%4 : tensor<64xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<64xf32>
  %6 = linalg.generic {indexing_maps = [#map1, #map7], iterator_types = ["parallel", "reduction"]} ins(%3 : tensor<64x64xf32>) outs(%5 : tensor<64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %14 = arith.maximumf %in, %out : f32
    linalg.yield %14 : f32
  } -> tensor<64xf32>
  %7 = linalg.generic {indexing_maps = [#map1, #map7, #map1], iterator_types = ["parallel", "parallel"]} ins(%3, %6 : tensor<64x64xf32>, tensor<64xf32>) outs(%0 : tensor<64x64xf32>) {
  ^bb0(%in: f32, %in_3: f32, %out: f32):
    %14 = arith.subf %in, %in_3 : f32
    %15 = math.exp %14 : f32
    linalg.yield %15 : f32
  } -> tensor<64x64xf32>
  %8 = linalg.generic {indexing_maps = [#map5, #map6], iterator_types = ["parallel"]} ins(%cst : f32) outs(%4 : tensor<64xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<64xf32>
  %9 = linalg.generic {indexing_maps = [#map1, #map7], iterator_types = ["parallel", "reduction"]} ins(%7 : tensor<64x64xf32>) outs(%8 : tensor<64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %14 = arith.addf %in, %out : f32
    linalg.yield %14 : f32
  } -> tensor<64xf32>
  %10 = linalg.generic {indexing_maps = [#map1, #map7, #map1], iterator_types = ["parallel", "parallel"]} ins(%7, %9 : tensor<64x64xf32>, tensor<64xf32>) outs(%0 : tensor<64x64xf32>) {
  ^bb0(%in: f32, %in_3: f32, %out: f32):
    %14 = arith.divf %in, %in_3 : f32
    linalg.yield %14 : f32
  } -> tensor<64x64xf32>
  %11 = tensor.empty() : tensor<64x8xf32>
  %12 = linalg.generic {indexing_maps = [#map, #map1], iterator_types = ["parallel", "parallel"]} ins(%cst : f32) outs(%11 : tensor<64x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<64x8xf32>
  %collapsed_2 = tensor.collapse_shape %arg2 [[0, 1], [2]] : tensor<1x64x8xf32> into tensor<64x8xf32>
  %13 = linalg.generic {indexing_maps = [#map2, #map3, #map4], iterator_types = ["parallel", "parallel", "reduction"]} ins(%10, %collapsed_2 : tensor<64x64xf32>, tensor<64x8xf32>) outs(%12 : tensor<64x8xf32>) {
  ^bb0(%in: f32, %in_3: f32, %out: f32):
    %14 = arith.mulf %in, %in_3 : f32
    %15 = arith.addf %out, %14 : f32
    linalg.yield %15 : f32
  } -> tensor<64x8xf32>
  %expanded = tensor.expand_shape %13 [[0, 1], [2]] output_shape [1, 64, 8] : tensor<64x8xf32> into tensor<1x64x8xf32>
  return %expanded : tensor<1x64x8xf32>
}
