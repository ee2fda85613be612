// v79+ (qfloat only): SiLU's 32 x f32 adds, subtracts and multiplies become qf32 HVX intrinsics on qf32
// operands; values are converted to sf (vconv.sf.qf32) only where they leave the chain (the select, the
// integer bit tricks, the store), and its long chain's loop is unrolled by 2 for LLVM to interleave. v73
// (IEEE HVX float) and the simulation build keep llvm.fadd/fmul (the stage is off there).
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..qf-chains --option target=hexagon --option arch=v79 \
// RUN:   --option multithread=false --option tcm_tiling=false | FileCheck %s --check-prefix=QF
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..qf-chains --option target=hexagon --option arch=v73 \
// RUN:   --option multithread=false --option tcm_tiling=false | FileCheck %s --check-prefix=IEEE

// QF-DAG: llvm.call_intrinsic "llvm.hexagon.V6.vmpy.qf32.128B"
// QF-DAG: llvm.call_intrinsic "llvm.hexagon.V6.vadd.qf32.mix.128B"
// QF-DAG: llvm.call_intrinsic "llvm.hexagon.V6.vconv.sf.qf32.128B"
// QF-DAG: #llvm.loop_unroll<count = 2 : i64>
// QF-NOT: llvm.fmul {{.*}} : vector<32xf32>
// QF-NOT: llvm.fadd {{.*}} : vector<32xf32>
// IEEE-NOT: vmpy.qf32
// IEEE: llvm.fmul {{.*}} : vector<32xf32>
