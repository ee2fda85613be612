// The target's index width: memref descriptors and loop indices are i32 on Hexagon, i64 on the host.
// Hexagon: the data (aligned) pointer of each memref argument is noalias (transforms/hvx.py).
// RUN: hexmlir opt %S/../Inputs/add_exp.mlir -p check-input..lower-to-llvm --option target=hexagon \
// RUN:   --option multithread=false --option tcm_tiling=false | FileCheck %s --check-prefix=HVX
// RUN: hexmlir opt %S/../Inputs/add_exp.mlir -p check-input..lower-to-llvm \
// RUN:   --option multithread=false --option tcm_tiling=false | FileCheck %s --check-prefix=HOST

// HVX: llvm.func internal @hxk_add_exp(%arg0: !llvm.ptr, %arg1: !llvm.ptr {llvm.noalias}, %arg2: i32, %arg3: i32, %arg4: i32,
// HVX: llvm.mlir.constant(992 : index) : i32
// HVX: llvm.getelementptr %{{.*}} : (!llvm.ptr, i32) -> !llvm.ptr, f32
// HVX-NOT: (!llvm.ptr, i64)
// HOST: llvm.func internal @hxk_add_exp(%arg0: !llvm.ptr, %arg1: !llvm.ptr, %arg2: i64, %arg3: i64, %arg4: i64,
// HOST: llvm.getelementptr %{{.*}} : (!llvm.ptr, i64) -> !llvm.ptr, f32
