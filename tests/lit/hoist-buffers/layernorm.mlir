// A row reduction's 1-element accumulators (host: LayerNorm's mean and variance, per row) are allocated once,
// before the row loop, not per row inside it. On npu-emu with TCM tiles the stage does nothing (tcm-promote
// places those buffers).
// RUN: hexmlir opt %S/../Inputs/layernorm.mlir -p check-input..vectorize --option isa=x86-64-v4 \
// RUN:   --option multithread=false | hexmlir opt - -p hoist-buffers | FileCheck %s

// CHECK: func.func @hxk_layernorm
// CHECK-COUNT-4: memref.alloc() {{.*}} : memref<1xf32>
// CHECK: scf.for
// CHECK-NOT: memref.alloc
// CHECK: memref.dealloc
// CHECK: return
