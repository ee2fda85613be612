// Register micro-kernels: MR rows x NR vectors of C carried across k (iter_args), A broadcast per row, B a
// row of NR vectors. AVX-512 (isa v4, 32 registers): 4 x 4 vectors of 16 f32 (4 divides the 64 rows), the
// 256 x 64 B panels (rows 2400 bytes apart) packed into one stack buffer (64 KiB, at the function's entry)
// by row copies; the
// 24-column edge is a masked micro-tile. AVX2 (v3, 16 registers): 4 x 2 vectors of 8, panels (16 KiB) stay
// in L1 unpacked. npu-emu (no FMA) and register_tiling=false: the stage is off, nothing vectorized here.
// RUN: hexmlir opt %s -p check-input..threads --option isa=x86-64-v4 --option multithread=false | hexmlir opt - -p contract | FileCheck %s --check-prefix=V4
// RUN: hexmlir opt %s -p check-input..threads --option isa=x86-64-v3 --option multithread=false | hexmlir opt - -p contract | FileCheck %s --check-prefix=V3
// RUN: hexmlir opt %s -p check-input..threads --option target=npu-emu --option multithread=false | hexmlir opt - -p contract | FileCheck %s --check-prefix=OFF
// RUN: hexmlir opt %s -p check-input..threads --option register_tiling=false --option multithread=false | hexmlir opt - -p contract | FileCheck %s --check-prefix=OFF

// V4: func.func @hxk_mm
// V4-NOT: scf.for
// V4: memref.alloca() {alignment = 64 : i64} : memref<65536xi8>
// V4: memref.view {{.*}} to memref<256x64xf32>
// V4: scf.for %{{.*}} = %c0 to %c256 step %c1
// V4: vector.transfer_read {{.*}} vector<1x64xf32>
// V4: vector.transfer_write {{.*}} memref<1x64xf32, strided<[64, 1]
// V4: scf.for %{{.*}} = %c0 to %c64 step %c4
// V4: vector.transfer_read {{.*}} vector<4x64xf32>
// V4: scf.for {{.*}} iter_args({{.*}}) -> (vector<4x64xf32>)
// V4: memref<1x64xf32, strided<[64, 1]{{.*}} vector<4x64x1xf32>
// V4: arith.addf {{.*}} : vector<4x64xf32>
// V4: vector.transfer_write {{.*}} : vector<4x64xf32>, memref<4x64xf32
// V4: vector.transfer_read {{.*}} : memref<4x24xf32{{.*}}, vector<4x64xf32>
// V4: vector.transfer_write {{.*}} : vector<4x64xf32>, memref<4x24xf32

// V3-NOT: memref.alloca
// V3: scf.for {{.*}} iter_args({{.*}}) -> (vector<4x16xf32>)
// V3: vector.transfer_read {{.*}} : memref<4x8xf32{{.*}}, vector<4x16xf32>

// OFF-NOT: vector<
// OFF: linalg.generic
// OFF-NOT: vector<
func.func @mm(%a: tensor<64x256xf32>, %b: tensor<256x600xf32>) -> tensor<64x600xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<64x600xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<64x600xf32>) -> tensor<64x600xf32>
  %r = linalg.matmul ins(%a, %b : tensor<64x256xf32>, tensor<256x600xf32>) outs(%f : tensor<64x600xf32>) -> tensor<64x600xf32>
  return %r : tensor<64x600xf32>
}
