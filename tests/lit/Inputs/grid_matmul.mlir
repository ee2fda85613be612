#map = affine_map<(d0) -> (d0)>
#map1 = affine_map<(d0, d1) -> (d0, d1)>
#map2 = affine_map<(d0, d1) -> (d0)>
#map3 = affine_map<(d0, d1) -> (d1)>
module attributes {hexmlir.grid} {
  func.func @matmul_kernel(%arg0: memref<?xf32>, %arg1: memref<?xf32>, %arg2: memref<?xf32>, %arg3: i32, %arg4: i32, %arg5: i32, %arg6: i32, %arg7: i32, %arg8: i32, %arg9: i32, %arg10: i32, %arg11: i32) {
    %c31_i32 = arith.constant 31 : i32
    %c1_i32 = arith.constant 1 : i32
    %c0_i32 = arith.constant 0 : i32
    %c32_i32 = arith.constant 32 : i32
    %cst = arith.constant 0.000000e+00 : f32
    %c4_i32 = arith.constant 4 : i32
    %c0 = arith.constant 0 : index
    %c32 = arith.constant 32 : index
    %0 = arith.index_cast %arg9 : i32 to index
    %1 = arith.index_cast %arg10 : i32 to index
    %2 = arith.index_cast %arg11 : i32 to index
    %3 = arith.muli %0, %1 : index
    %4 = arith.muli %3, %2 : index
    %5 = bufferization.to_tensor %arg0 restrict : memref<?xf32> to tensor<?xf32>
    %6 = bufferization.to_tensor %arg1 restrict : memref<?xf32> to tensor<?xf32>
    scf.forall (%arg12) in (%4) {
      %7 = arith.remui %arg12, %0 : index
      %8 = arith.divui %arg12, %0 : index
      %9 = arith.remui %8, %1 : index
      %10 = arith.divui %8, %1 : index
      %11 = arith.index_cast %7 : index to i32
      %12 = arith.index_cast %9 : index to i32
      %13 = arith.index_cast %10 : index to i32
      %14 = arith.addi %arg3, %c31_i32 : i32
      %15 = arith.divsi %14, %c32_i32 : i32
      %16 = arith.addi %arg4, %c31_i32 : i32
      %17 = arith.divsi %16, %c32_i32 : i32
      %18 = arith.muli %17, %c4_i32 : i32
      %19 = arith.divsi %11, %18 : i32
      %20 = arith.muli %19, %c4_i32 : i32
      %21 = arith.subi %15, %20 : i32
      %22 = arith.minsi %21, %c4_i32 : i32
      %23 = arith.remsi %11, %18 : i32
      %24 = arith.remsi %23, %22 : i32
      %25 = arith.addi %20, %24 : i32
      %26 = arith.divsi %23, %22 : i32
      %27 = arith.muli %25, %c32_i32 : i32
      %28 = arith.index_cast %27 : i32 to index
      %29 = tensor.empty() : tensor<32xi32>
      %30 = linalg.generic {indexing_maps = [#map], iterator_types = ["parallel"]} outs(%29 : tensor<32xi32>) {
      ^bb0(%out: i32):
        %72 = linalg.index 0 : index
        %73 = arith.addi %28, %72 : index
        %74 = arith.index_cast %73 : index to i32
        %75 = arith.remsi %74, %arg3 : i32
        linalg.yield %75 : i32
      } -> tensor<32xi32>
      %31 = arith.muli %26, %c32_i32 : i32
      %32 = arith.index_cast %31 : i32 to index
      %33 = tensor.empty() : tensor<32xi32>
      %34 = linalg.generic {indexing_maps = [#map], iterator_types = ["parallel"]} outs(%33 : tensor<32xi32>) {
      ^bb0(%out: i32):
        %72 = linalg.index 0 : index
        %73 = arith.addi %32, %72 : index
        %74 = arith.index_cast %73 : index to i32
        %75 = arith.remsi %74, %arg4 : i32
        linalg.yield %75 : i32
      } -> tensor<32xi32>
      %expanded = tensor.expand_shape %30 [[0, 1]] output_shape [32, 1] : tensor<32xi32> into tensor<32x1xi32>
      %35 = arith.index_cast %arg6 : i32 to index
      %36 = tensor.empty() : tensor<32x1xi32>
      %37 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel"]} ins(%expanded : tensor<32x1xi32>) outs(%36 : tensor<32x1xi32>) {
      ^bb0(%in: i32, %out: i32):
        %72 = arith.muli %in, %arg6 : i32
        linalg.yield %72 : i32
      } -> tensor<32x1xi32>
      %collapsed = tensor.collapse_shape %37 [[0, 1]] : tensor<32x1xi32> into tensor<32xi32>
      %38 = tensor.empty() : tensor<32x32xi32>
      %39 = linalg.generic {indexing_maps = [#map2, #map1], iterator_types = ["parallel", "parallel"]} ins(%collapsed : tensor<32xi32>) outs(%38 : tensor<32x32xi32>) {
      ^bb0(%in: i32, %out: i32):
        linalg.yield %in : i32
      } -> tensor<32x32xi32>
      %40 = tensor.empty() : tensor<32x32xi32>
      %41 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel"]} ins(%39 : tensor<32x32xi32>) outs(%40 : tensor<32x32xi32>) {
      ^bb0(%in: i32, %out: i32):
        %72 = linalg.index 1 : index
        %73 = arith.index_cast %72 : index to i32
        %74 = arith.addi %in, %73 : i32
        linalg.yield %74 : i32
      } -> tensor<32x32xi32>
      %42 = arith.index_cast %arg7 : i32 to index
      %expanded_0 = tensor.expand_shape %34 [[0, 1]] output_shape [1, 32] : tensor<32xi32> into tensor<1x32xi32>
      %collapsed_1 = tensor.collapse_shape %expanded_0 [[0, 1]] : tensor<1x32xi32> into tensor<32xi32>
      %43 = tensor.empty() : tensor<32x32xi32>
      %44 = linalg.generic {indexing_maps = [#map3, #map1], iterator_types = ["parallel", "parallel"]} ins(%collapsed_1 : tensor<32xi32>) outs(%43 : tensor<32x32xi32>) {
      ^bb0(%in: i32, %out: i32):
        linalg.yield %in : i32
      } -> tensor<32x32xi32>
      %45 = tensor.empty() : tensor<32x32xi32>
      %46 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel"]} ins(%44 : tensor<32x32xi32>) outs(%45 : tensor<32x32xi32>) {
      ^bb0(%in: i32, %out: i32):
        %72 = linalg.index 0 : index
        %73 = arith.muli %72, %42 : index
        %74 = arith.index_cast %73 : index to i32
        %75 = arith.addi %74, %in : i32
        linalg.yield %75 : i32
      } -> tensor<32x32xi32>
      %47 = arith.addi %arg5, %c31_i32 : i32
      %48 = arith.divsi %47, %c32_i32 : i32
      %49 = tensor.empty() : tensor<32x32xindex>
      %50 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel"]} ins(%41 : tensor<32x32xi32>) outs(%49 : tensor<32x32xindex>) {
      ^bb0(%in: i32, %out: index):
        %72 = arith.index_cast %in : i32 to index
        linalg.yield %72 : index
      } -> tensor<32x32xindex>
      %51 = tensor.empty() : tensor<32x32xindex>
      %52 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel"]} ins(%46 : tensor<32x32xi32>) outs(%51 : tensor<32x32xindex>) {
      ^bb0(%in: i32, %out: index):
        %72 = arith.index_cast %in : i32 to index
        linalg.yield %72 : index
      } -> tensor<32x32xindex>
      %53 = tensor.empty() : tensor<32x32xf32>
      %54 = linalg.generic {indexing_maps = [#map1], iterator_types = ["parallel", "parallel"]} outs(%53 : tensor<32x32xf32>) {
      ^bb0(%out: f32):
        linalg.yield %cst : f32
      } -> tensor<32x32xf32>
      %55 = arith.index_cast %c0_i32 : i32 to index
      %56 = arith.index_cast %48 : i32 to index
      %57 = arith.index_cast %c1_i32 : i32 to index
      %58:3 = scf.for %arg13 = %55 to %56 step %57 iter_args(%arg14 = %50, %arg15 = %52, %arg16 = %54) -> (tensor<32x32xindex>, tensor<32x32xindex>, tensor<32x32xf32>) {
        %72 = arith.index_cast %arg13 : index to i32
        %73 = arith.muli %72, %c32_i32 : i32
        %74 = arith.subi %arg5, %73 : i32
        %75 = arith.index_cast %74 : i32 to index
        %76 = tensor.empty() : tensor<32x32xf32>
        %77 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel"]} ins(%arg14 : tensor<32x32xindex>) outs(%76 : tensor<32x32xf32>) {
        ^bb0(%in: index, %out: f32):
          %88 = linalg.index 1 : index
          %89 = arith.cmpi slt, %88, %75 : index
          %90 = arith.select %89, %in, %c0 : index
          %extracted = tensor.extract %5[%90] : tensor<?xf32>
          %91 = arith.select %89, %extracted, %cst : f32
          linalg.yield %91 : f32
        } -> tensor<32x32xf32>
        %78 = tensor.empty() : tensor<32x32xf32>
        %79 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel"]} ins(%arg15 : tensor<32x32xindex>) outs(%78 : tensor<32x32xf32>) {
        ^bb0(%in: index, %out: f32):
          %88 = linalg.index 0 : index
          %89 = arith.cmpi slt, %88, %75 : index
          %90 = arith.select %89, %in, %c0 : index
          %extracted = tensor.extract %6[%90] : tensor<?xf32>
          %91 = arith.select %89, %extracted, %cst : f32
          linalg.yield %91 : f32
        } -> tensor<32x32xf32>
        %80 = linalg.matmul ins(%77, %79 : tensor<32x32xf32>, tensor<32x32xf32>) outs(%arg16 : tensor<32x32xf32>) -> tensor<32x32xf32>
        %81 = arith.index_cast %c32_i32 : i32 to index
        %82 = arith.muli %arg7, %c32_i32 : i32
        %83 = arith.index_cast %82 : i32 to index
        %84 = tensor.empty() : tensor<32x32xindex>
        %85 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel"]} ins(%arg14 : tensor<32x32xindex>) outs(%84 : tensor<32x32xindex>) {
        ^bb0(%in: index, %out: index):
          %88 = arith.addi %81, %in : index
          linalg.yield %88 : index
        } -> tensor<32x32xindex>
        %86 = tensor.empty() : tensor<32x32xindex>
        %87 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel"]} ins(%arg15 : tensor<32x32xindex>) outs(%86 : tensor<32x32xindex>) {
        ^bb0(%in: index, %out: index):
          %88 = arith.addi %83, %in : index
          linalg.yield %88 : index
        } -> tensor<32x32xindex>
        scf.yield %85, %87, %80 : tensor<32x32xindex>, tensor<32x32xindex>, tensor<32x32xf32>
      }
      %59 = arith.index_cast %arg8 : i32 to index
      %60 = arith.muli %28, %59 : index
      %61 = arith.addi %60, %32 : index
      %62 = arith.index_cast %arg3 : i32 to index
      %63 = arith.subi %62, %28 : index
      %64 = arith.index_cast %arg4 : i32 to index
      %65 = arith.subi %64, %32 : index
      %reinterpret_cast = memref.reinterpret_cast %arg2 to offset: [%61], sizes: [32, 32], strides: [%59, 1] : memref<?xf32> to memref<32x32xf32, strided<[?, 1], offset: ?>>
      %66 = arith.maxsi %63, %c0 : index
      %67 = arith.minsi %66, %c32 : index
      %68 = arith.maxsi %67, %c0 : index
      %69 = arith.maxsi %65, %c0 : index
      %70 = arith.minsi %69, %c32 : index
      %71 = arith.maxsi %70, %c0 : index
      %subview = memref.subview %reinterpret_cast[0, 0] [%68, %71] [1, 1] : memref<32x32xf32, strided<[?, 1], offset: ?>> to memref<?x?xf32, strided<[?, 1], offset: ?>>
      %extracted_slice = tensor.extract_slice %58#2[0, 0] [%68, %71] [1, 1] : tensor<32x32xf32> to tensor<?x?xf32>
      bufferization.materialize_in_destination %extracted_slice in writable %subview : (tensor<?x?xf32>, memref<?x?xf32, strided<[?, 1], offset: ?>>) -> ()
    }
    return
  }
}
