// Register micro-kernels at the native vector width: MR rows x NR vectors of C, each row NR separate
// vector<lanes> accumulators carried across k (iter_args), A broadcast once per row, B a row of NR vectors.
// AVX-512 (isa v4, 32 registers): 8 x 3 vectors of 16 f32 (24 accumulators, 8 divides the 64 rows), the
// 256 x 48 B panels (rows 2400 bytes apart) packed into one stack buffer (48 KiB, at the function's entry)
// by row copies; the 24-column edge is one vector and one masked vector per row; C, zero-filled right
// before, starts from zero registers (no load of C, the fill gone). AVX2 (v3, 16 registers):
// 6 x 2 vectors of 8, panels (32 KiB) stay in L1 unpacked. npu-emu (no FMA) and register_tiling=false: the
// stage is off, nothing vectorized here.
// RUN: hexmlir opt %s -p check-input..threads --option isa=x86-64-v4 --option multithread=false | hexmlir opt - -p contract | FileCheck %s --check-prefix=V4
// RUN: hexmlir opt %s -p check-input..threads --option isa=x86-64-v3 --option multithread=false | hexmlir opt - -p contract | FileCheck %s --check-prefix=V3
// RUN: hexmlir opt %s -p check-input..threads --option target=npu-emu --option multithread=false | hexmlir opt - -p contract | FileCheck %s --check-prefix=OFF
// RUN: hexmlir opt %s -p check-input..threads --option register_tiling=false --option multithread=false | hexmlir opt - -p contract | FileCheck %s --check-prefix=OFF

// V4: func.func @hxk_mm
// V4: %[[Z:.*]] = arith.constant dense<0.000000e+00> : vector<16xf32>
// V4-NOT: scf.for
// V4: memref.alloca() {alignment = 64 : i64} : memref<49152xi8>
// V4: memref.view {{.*}} to memref<256x48xf32>
// V4: scf.for %{{.*}} = %c0 to %c256 step %c1
// V4: vector.transfer_read {{.*}} vector<1x48xf32>
// V4: vector.transfer_write {{.*}} memref<1x48xf32, strided<[48, 1]
// V4: scf.for %{{.*}} = %c0 to %c64 step %c8
// V4-NOT: vector.load {{.*}} : memref<8x48xf32
// V4: %{{.*}}:24 = scf.for {{.*}} iter_args(%{{.*}} = %[[Z]], {{.*}}) -> (vector<16xf32>{{(, vector<16xf32>)+}})
// V4: vector.load %view[%{{.*}}, %c32] : memref<256x48xf32>, vector<16xf32>
// V4: memref.load {{.*}} : memref<8x256xf32
// V4: vector.broadcast {{.*}} : f32 to vector<16xf32>
// V4: arith.addf {{.*}} : vector<16xf32>
// V4: vector.store {{.*}} : memref<8x48xf32, strided<[600, 1]{{.*}}, vector<16xf32>
// V4-NOT: vector.maskedload {{.*}} : memref<8x24xf32
// V4: %{{.*}}:16 = scf.for {{.*}} iter_args(%{{.*}} = %[[Z]], {{.*}}) -> (vector<16xf32>{{(, vector<16xf32>)+}})
// V4: vector.maskedstore {{.*}} : memref<8x24xf32{{.*}}, vector<16xi1>, vector<16xf32>
// V4-NOT: vector<{{[0-9]+}}x{{[0-9]+}}xf32>
// V4-NOT: linalg.generic

// V3-NOT: memref.alloca
// V3: %{{.*}}:12 = scf.for {{.*}} iter_args({{.*}}) -> (vector<8xf32>{{(, vector<8xf32>)+}})
// V3: vector.load {{.*}} : memref<256x16xf32, strided<[600, 1]{{.*}}, vector<8xf32>
// V3: memref.load {{.*}} : memref<6x256xf32

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
