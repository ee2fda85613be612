// B^T (B indexed [n, k], nn.Linear's weight): each 48-column panel of B (48 x 256 rows of k) is transposed
// in 16 x 16 blocks into one stack buffer at the function's entry, viewed as the [k, n] panel the 8 x 3-vector
// micro-kernel streams. The block loop steps along k innermost (the weight rows' unit stride); each block is
// read row by row and transposed by upstream's 16 x 16 shuffle network (AVX-512: 64 shuffles).
// register_tiling=false: the stage is off.
// RUN: hexmlir opt %s -p check-input..threads --option isa=x86-64-v4 --option multithread=false | hexmlir opt - -p contract | FileCheck %s --check-prefix=V4
// RUN: hexmlir opt %s -p check-input..threads --option register_tiling=false --option multithread=false | hexmlir opt - -p contract | FileCheck %s --check-prefix=OFF

// V4: func.func @hxk_bt
// V4: memref.alloca() {alignment = 64 : i64} : memref<49152xi8>
// V4: memref.view {{.*}} to memref<256x48xf32>
// V4: scf.for {{.*}} to %c48 step %c16
// V4-NEXT: scf.for {{.*}} to %c256 step %c16
// V4: vector.transfer_read {{.*}} : memref<16x16xf32, strided<[256, 1]{{.*}}, vector<16x16xf32>
// V4-NOT: permutation_map
// V4: vector.shuffle {{.*}} [0, 16, 1, 17, 4, 20, 5, 21, 8, 24, 9, 25, 12, 28, 13, 29] : vector<16xf32>, vector<16xf32>
// V4: vector.transfer_write {{.*}} : vector<16x16xf32>, memref<16x16xf32, strided<[48, 1]
// V4: %{{.*}}:24 = scf.for {{.*}} iter_args({{.*}}) -> (vector<16xf32>{{(, vector<16xf32>)+}})
// V4: vector.load %view{{.*}} : memref<256x48xf32>, vector<16xf32>
// V4: arith.addf {{.*}} : vector<16xf32>

// OFF-NOT: vector.
// OFF-NOT: memref.alloca
// OFF: linalg.generic
func.func @bt(%a: tensor<64x256xf32>, %b: tensor<128x256xf32>) -> tensor<64x128xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<64x128xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<64x128xf32>) -> tensor<64x128xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (j, k)>,
                                        affine_map<(i, j, k) -> (i, j)>],
                       iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<64x256xf32>, tensor<128x256xf32>) outs(%f : tensor<64x128xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<64x128xf32>
  return %r : tensor<64x128xf32>
}
