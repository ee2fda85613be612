module attributes {hexmlir.grid} {
  func.func @silu_k(%a0: memref<?xf32>, %a1: memref<?xf32>, %a2: i32, %gx: i32, %gy: i32, %gz: i32) {
    %c0_f32 = arith.constant 0x3F800000 : f32
    %c1_i32 = arith.constant 1024 : i32
    %c2_f32 = arith.constant 0x00000000 : f32
    %c3_index = arith.constant 0 : index
    %c4_index = arith.constant 1024 : index
    %g1 = arith.index_cast %gx : i32 to index
    %g2 = arith.index_cast %gy : i32 to index
    %g3 = arith.index_cast %gz : i32 to index
    %i4 = arith.muli %g1, %g2 : index
    %i5 = arith.muli %i4, %g3 : index
    scf.forall (%p) in (%i5) {
      %pid6 = arith.remui %p, %g1 : index
      %pid7 = arith.divui %p, %g1 : index
      %pid8 = arith.remui %pid7, %g2 : index
      %pid9 = arith.divui %pid7, %g2 : index
      %pid10 = arith.index_cast %pid6 : index to i32
      %pid11 = arith.index_cast %pid8 : index to i32
      %pid12 = arith.index_cast %pid9 : index to i32
      %v13 = "arith.muli"(%pid10, %c1_i32) <{overflowFlags = #arith.overflow<none>}> : (i32, i32) -> i32
      %i14 = arith.index_cast %v13 : i32 to index
      %i15 = arith.index_cast %a2 : i32 to index
      %i16 = arith.subi %i15, %i14 : index
      %view17 = memref.reinterpret_cast %a0 to offset: [%i14], sizes: [1024], strides: [1] : memref<?xf32> to memref<1024xf32, strided<[1], offset: ?>>
      %buf18 = memref.alloc() {alignment = 128 : i64} : memref<1024xf32>
      linalg.fill ins(%c2_f32 : f32) outs(%buf18 : memref<1024xf32>)
      %i19 = arith.maxsi %i16, %c3_index : index
      %i20 = arith.minsi %i19, %c4_index : index
      %i21 = arith.maxsi %i20, %c3_index : index
      %sv22 = memref.subview %view17[0] [%i21] [1] : memref<1024xf32, strided<[1], offset: ?>> to memref<?xf32, strided<[1], offset: ?>>
      %sv23 = memref.subview %buf18[0] [%i21] [1] : memref<1024xf32> to memref<?xf32, strided<[1], offset: 0>>
      memref.copy %sv22, %sv23 : memref<?xf32, strided<[1], offset: ?>> to memref<?xf32, strided<[1], offset: 0>>
      %ld24 = bufferization.to_tensor %buf18 restrict writable : memref<1024xf32> to tensor<1024xf32>
      %e25 = tensor.empty() : tensor<1024xf32>
      %g26 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%ld24 : tensor<1024xf32>) outs(%e25 : tensor<1024xf32>) {
      ^bb0(%in26_0: f32, %out26: f32):
        %v27 = "arith.negf"(%in26_0) <{fastmath = #arith.fastmath<none>}> : (f32) -> f32
        linalg.yield %v27 : f32
      } -> tensor<1024xf32>
      %e28 = tensor.empty() : tensor<1024xf32>
      %g29 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%g26 : tensor<1024xf32>) outs(%e28 : tensor<1024xf32>) {
      ^bb0(%in29_0: f32, %out29: f32):
        %v30 = "math.exp"(%in29_0) <{fastmath = #arith.fastmath<none>}> : (f32) -> f32
        linalg.yield %v30 : f32
      } -> tensor<1024xf32>
      %e31 = tensor.empty() : tensor<1024xf32>
      %g32 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%g29 : tensor<1024xf32>) outs(%e31 : tensor<1024xf32>) {
      ^bb0(%in32_0: f32, %out32: f32):
        %v33 = "arith.addf"(%in32_0, %c0_f32) <{fastmath = #arith.fastmath<none>}> : (f32, f32) -> f32
        linalg.yield %v33 : f32
      } -> tensor<1024xf32>
      %e34 = tensor.empty() : tensor<1024xf32>
      %g35 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%ld24, %g32 : tensor<1024xf32>, tensor<1024xf32>) outs(%e34 : tensor<1024xf32>) {
      ^bb0(%in35_0: f32, %in35_1: f32, %out35: f32):
        %v36 = "arith.divf"(%in35_0, %in35_1) <{fastmath = #arith.fastmath<none>}> : (f32, f32) -> f32
        linalg.yield %v36 : f32
      } -> tensor<1024xf32>
      %view37 = memref.reinterpret_cast %a1 to offset: [%i14], sizes: [1024], strides: [1] : memref<?xf32> to memref<1024xf32, strided<[1], offset: ?>>
      %sv38 = memref.subview %view37[0] [%i21] [1] : memref<1024xf32, strided<[1], offset: ?>> to memref<?xf32, strided<[1], offset: ?>>
      %v39 = tensor.extract_slice %g35[0] [%i21] [1] : tensor<1024xf32> to tensor<?xf32>
      bufferization.materialize_in_destination %v39 in writable %sv38 : (tensor<?xf32>, memref<?xf32, strided<[1], offset: ?>>) -> ()
    }
    return
  }
}
