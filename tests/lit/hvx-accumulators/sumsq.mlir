// A row's sum of squares: the vector accumulator becomes two rotating partial sums (a new block argument).
// HVX float targets carry them in qf32: x * x is vmpy.qf32.sf and the add vadd.qf32; the sum enters as
// vadd.sf(init, 0) and leaves (to the horizontal reduction) as vconv.sf.qf32 of the two partials' sum.
// The simulation build (no HVX float) rotates plain llvm.fadd partials, the second starting at -0.0.
// RUN: hexmlir opt %s -p check-input..hvx-accumulators --option target=hexagon --option arch=v73 \
// RUN:   --option multithread=false --option tcm_tiling=false | FileCheck %s --check-prefix=QF
// RUN: hexmlir opt %s -p check-input..hvx-accumulators --option target=hexagon-sim --option arch=v73 \
// RUN:   --option multithread=false --option tcm_tiling=false | FileCheck %s --check-prefix=SIM

// QF: ^bb{{[0-9]+}}(%{{[0-9]+}}: i32, %{{[0-9]+}}: vector<32xf32>, %{{[0-9]+}}: vector<32xf32>):
// QF: llvm.call_intrinsic "llvm.hexagon.V6.vmpy.qf32.sf.128B"
// QF-NEXT: llvm.call_intrinsic "llvm.hexagon.V6.vadd.qf32.128B"
// QF: llvm.call_intrinsic "llvm.hexagon.V6.vconv.sf.qf32.128B"
// QF: llvm.intr.vector.reduce.fadd
// SIM-NOT: qf32
// SIM: ^bb{{[0-9]+}}(%{{[0-9]+}}: i32, %{{[0-9]+}}: vector<32xf32>, %{{[0-9]+}}: vector<32xf32>):
// SIM: llvm.fmul {{.*}} : vector<32xf32>
// SIM-NEXT: llvm.fadd {{.*}} : vector<32xf32>
// SIM: llvm.fadd {{.*}} : vector<32xf32>
// SIM-NEXT: llvm.intr.vector.reduce.fadd
func.func @sumsq(%x: tensor<5x1000xf32>) -> tensor<5xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<5xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<5xf32>) -> tensor<5xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                       iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<5x1000xf32>) outs(%f : tensor<5xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %m = arith.mulf %a, %a : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<5xf32>
  return %r : tensor<5xf32>
}
