// Hexagon: int8 row dots and matmuls become vrmpy helpers (one right after its zero fill starts from
// zero accumulators: the fill is dropped; the matmul's k loop multiplies B + 128 as unsigned bytes by a
// scalar word of A, vrmpybus); requantize's i64 rounding multiply becomes a
// 32-bit multiply-high. The host keeps the linalg ops (the stage does nothing there).
// RUN: hexmlir opt %s -p check-input..hvx-contract --option target=hexagon --option multithread=false \
// RUN:   --option tcm_tiling=false | FileCheck %s --check-prefix=HVX
// RUN: hexmlir opt %s -p check-input..hvx-contract --option multithread=false --option tcm_tiling=false \
// RUN:   | FileCheck %s --check-prefix=HOST

// HVX-DAG: func.func private @hx_vrmpy_rowdot_zero(
// HVX-DAG: func.func private @hx_vrmpy_matmul_zero(
// HVX-DAG: llvm.call_intrinsic "llvm.hexagon.V6.vrmpybv.acc.128B"
// HVX-DAG: llvm.call_intrinsic "llvm.hexagon.V6.vrmpybus.acc.128B"
// HVX-DAG: call @hx_vrmpy_rowdot_zero(
// HVX-DAG: call @hx_vrmpy_matmul_zero(
// HVX-DAG: arith.mulsi_extended {{.*}} : i32
// HVX-NOT: i64
// HOST-NOT: vrmpy
// HOST: arith.extsi {{.*}} : i32 to i64
func.func @q(%a: tensor<7x33xi8>, %b: tensor<7x33xi8>, %x: tensor<45xi32>, %bm: tensor<33x9xi8>)
    -> (tensor<7xi32>, tensor<45xi8>, tensor<7x9xi32>) {
  %z = arith.constant 0 : i32
  %e = tensor.empty() : tensor<7xi32>
  %f = linalg.fill ins(%z : i32) outs(%e : tensor<7xi32>) -> tensor<7xi32>
  %d = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>,
                                        affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]}
      ins(%a, %b : tensor<7x33xi8>, tensor<7x33xi8>) outs(%f : tensor<7xi32>) {
  ^bb0(%p: i8, %q: i8, %acc: i32):
    %p32 = arith.extsi %p : i8 to i32
    %q32 = arith.extsi %q : i8 to i32
    %m = arith.muli %p32, %q32 : i32
    %s = arith.addi %acc, %m : i32
    linalg.yield %s : i32
  } -> tensor<7xi32>
  %e8 = tensor.empty() : tensor<45xi8>
  %r = linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]}
      ins(%x : tensor<45xi32>) outs(%e8 : tensor<45xi8>) {
  ^bb0(%v: i32, %o: i8):
    %w = arith.extsi %v : i32 to i64
    %mul = arith.constant 1518500250 : i64
    %rnd = arith.constant 274877906944 : i64
    %sh = arith.constant 39 : i64
    %p = arith.muli %w, %mul : i64
    %t = arith.addi %p, %rnd : i64
    %u = arith.shrsi %t, %sh : i64
    %n = arith.trunci %u : i64 to i32
    %lo = arith.constant -128 : i32
    %hi = arith.constant 127 : i32
    %c1 = arith.maxsi %n, %lo : i32
    %c2 = arith.minsi %c1, %hi : i32
    %b8 = arith.trunci %c2 : i32 to i8
    linalg.yield %b8 : i8
  } -> tensor<45xi8>
  %ec = tensor.empty() : tensor<7x9xi32>
  %fc = linalg.fill ins(%z : i32) outs(%ec : tensor<7x9xi32>) -> tensor<7x9xi32>
  %a7 = tensor.extract_slice %a[0, 0] [7, 33] [1, 1] : tensor<7x33xi8> to tensor<7x33xi8>
  %mm = linalg.matmul ins(%a7, %bm : tensor<7x33xi8>, tensor<33x9xi8>) outs(%fc : tensor<7x9xi32>) -> tensor<7x9xi32>
  return %d, %r, %mm : tensor<7xi32>, tensor<45xi8>, tensor<7x9xi32>
}
