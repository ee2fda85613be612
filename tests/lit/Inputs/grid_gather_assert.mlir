module attributes {hexmlir.grid} {
  func.func @gather_assert_kernel(%a0: memref<?xi32>, %a1: memref<?xf32>, %a2: memref<?xf32>, %a3: i32, %a4: i32, %gx: i32, %gy: i32, %gz: i32) {
    %c0_f32 = arith.constant 0x40000000 : f32
    %c1_i1 = arith.constant 1 : i1
    %c2_i32 = arith.constant 0 : i32
    %c3_i32 = arith.constant 64 : i32
    %c4_index = arith.constant 0 : index
    %c5_index = arith.constant 64 : index
    %c6_index = arith.constant 1 : index
    %c7_i8 = arith.constant 0 : i8
    %c8_f32 = arith.constant 0x00000000 : f32
    %g1 = arith.index_cast %gx : i32 to index
    %g2 = arith.index_cast %gy : i32 to index
    %g3 = arith.index_cast %gz : i32 to index
    %i4 = arith.muli %g1, %g2 : index
    %i5 = arith.muli %i4, %g3 : index
    %argt1 = bufferization.to_tensor %a1 restrict : memref<?xf32> to tensor<?xf32>
    scf.forall (%p) in (%i5) {
      %pid6 = arith.remui %p, %g1 : index
      %pid7 = arith.divui %p, %g1 : index
      %pid8 = arith.remui %pid7, %g2 : index
      %pid9 = arith.divui %pid7, %g2 : index
      %pid10 = arith.index_cast %pid6 : index to i32
      %pid11 = arith.index_cast %pid8 : index to i32
      %pid12 = arith.index_cast %pid9 : index to i32
      %v13 = "arith.muli"(%pid10, %c3_i32) <{overflowFlags = #arith.overflow<none>}> : (i32, i32) -> i32
      %i14 = arith.index_cast %v13 : i32 to index
      %i15 = arith.index_cast %a3 : i32 to index
      %i16 = arith.subi %i15, %i14 : index
      %view17 = memref.reinterpret_cast %a0 to offset: [%i14], sizes: [64], strides: [1] : memref<?xi32> to memref<64xi32, strided<[1], offset: ?>>
      %buf18 = memref.alloc() {alignment = 128 : i64} : memref<64xi32>
      linalg.fill ins(%c2_i32 : i32) outs(%buf18 : memref<64xi32>)
      %i19 = arith.maxsi %i16, %c4_index : index
      %i20 = arith.minsi %i19, %c5_index : index
      %i21 = arith.maxsi %i20, %c4_index : index
      %sv22 = memref.subview %view17[0] [%i21] [1] : memref<64xi32, strided<[1], offset: ?>> to memref<?xi32, strided<[1], offset: ?>>
      %sv23 = memref.subview %buf18[0] [%i21] [1] : memref<64xi32> to memref<?xi32, strided<[1], offset: 0>>
      memref.copy %sv22, %sv23 : memref<?xi32, strided<[1], offset: ?>> to memref<?xi32, strided<[1], offset: 0>>
      %ld24 = bufferization.to_tensor %buf18 restrict writable : memref<64xi32> to tensor<64xi32>
      %e25 = tensor.empty() : tensor<64xi1>
      %g26 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%ld24 : tensor<64xi32>) outs(%e25 : tensor<64xi1>) {
      ^bb0(%in26_0: i32, %out26: i1):
        %v27 = "arith.cmpi"(%in26_0, %c2_i32) <{predicate = 5 : i64}> : (i32, i32) -> i1
        linalg.yield %v27 : i1
      } -> tensor<64xi1>
      %e28 = tensor.empty() : tensor<64xi1>
      %g29 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%ld24 : tensor<64xi32>) outs(%e28 : tensor<64xi1>) {
      ^bb0(%in29_0: i32, %out29: i1):
        %v30 = "arith.cmpi"(%in29_0, %a4) <{predicate = 2 : i64}> : (i32, i32) -> i1
        linalg.yield %v30 : i1
      } -> tensor<64xi1>
      %e31 = tensor.empty() : tensor<64xi1>
      %g32 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%g26, %g29 : tensor<64xi1>, tensor<64xi1>) outs(%e31 : tensor<64xi1>) {
      ^bb0(%in32_0: i1, %in32_1: i1, %out32: i1):
        %v33 = "arith.andi"(%in32_0, %in32_1)  : (i1, i1) -> i1
        linalg.yield %v33 : i1
      } -> tensor<64xi1>
      %e34 = tensor.empty() : tensor<64xi1>
      %g35 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} outs(%e34 : tensor<64xi1>) {
      ^bb0(%out35: i1):
        %ix36 = linalg.index 0 : index
        %v37 = arith.cmpi slt, %ix36, %i16 : index
        %v38 = "arith.xori"(%v37, %c1_i1)  : (i1, i1) -> i1
        linalg.yield %v38 : i1
      } -> tensor<64xi1>
      %e39 = tensor.empty() : tensor<64xi1>
      %g40 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%g32, %g35 : tensor<64xi1>, tensor<64xi1>) outs(%e39 : tensor<64xi1>) {
      ^bb0(%in40_0: i1, %in40_1: i1, %out40: i1):
        %v41 = "arith.ori"(%in40_0, %in40_1)  : (i1, i1) -> i1
        linalg.yield %v41 : i1
      } -> tensor<64xi1>
      %e42 = tensor.empty() : tensor<64xi8>
      %g43 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%g40 : tensor<64xi1>) outs(%e42 : tensor<64xi8>) {
      ^bb0(%in43_0: i1, %out43: i8):
        %v44 = arith.extui %in43_0 : i1 to i8
        linalg.yield %v44 : i8
      } -> tensor<64xi8>
      scf.for %iv45 = %c4_index to %c5_index step %c6_index {
        %v46 = tensor.extract %g43[%iv45] : tensor<64xi8>
        %v47 = arith.cmpi ne, %v46, %c7_i8 : i8
        cf.assert %v47, "gather index out of range" {hexmlir.loc = "tests/triton_assert_kernels.py:13"}
      }
      %e48 = tensor.empty() : tensor<64xf32>
      %g49 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%ld24 : tensor<64xi32>) outs(%e48 : tensor<64xf32>) {
      ^bb0(%in49_0: i32, %out49: f32):
        %ix50 = linalg.index 0 : index
        %v51 = arith.cmpi slt, %ix50, %i16 : index
        %i52 = arith.index_cast %in49_0 : i32 to index
        %i53 = arith.select %v51, %i52, %c4_index : index
        %i54 = tensor.dim %argt1, %c4_index : tensor<?xf32>
        %i55 = arith.subi %i54, %c6_index : index
        %i56 = arith.maxsi %i53, %c4_index : index
        %i57 = arith.minsi %i56, %i55 : index
        %v58 = tensor.extract %argt1[%i57] : tensor<?xf32>
        %v59 = arith.select %v51, %v58, %c8_f32 : f32
        linalg.yield %v59 : f32
      } -> tensor<64xf32>
      %e60 = tensor.empty() : tensor<64xf32>
      %g61 = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} ins(%g49 : tensor<64xf32>) outs(%e60 : tensor<64xf32>) {
      ^bb0(%in61_0: f32, %out61: f32):
        %v62 = "arith.mulf"(%in61_0, %c0_f32) <{fastmath = #arith.fastmath<none>}> : (f32, f32) -> f32
        linalg.yield %v62 : f32
      } -> tensor<64xf32>
      %view63 = memref.reinterpret_cast %a2 to offset: [%i14], sizes: [64], strides: [1] : memref<?xf32> to memref<64xf32, strided<[1], offset: ?>>
      %sv64 = memref.subview %view63[0] [%i21] [1] : memref<64xf32, strided<[1], offset: ?>> to memref<?xf32, strided<[1], offset: ?>>
      %v65 = tensor.extract_slice %g61[0] [%i21] [1] : tensor<64xf32> to tensor<?xf32>
      bufferization.materialize_in_destination %v65 in writable %sv64 : (tensor<?xf32>, memref<?xf32, strided<[1], offset: ?>>) -> ()
    }
    return
  }
}
