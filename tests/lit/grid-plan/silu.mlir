// The plan of a program: its block (1024) is the tile; vectors of the target's width: npu-emu 128 bytes
// (32 f32), host the ISA level's (x86-64-v3: 32 bytes, 8 f32).
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..plan --option target=npu-emu --option num_threads=4 | FileCheck %s --check-prefixes=CHECK,NPU
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..plan --option isa=x86-64-v3 --option num_threads=4 | FileCheck %s --check-prefixes=CHECK,HOST

// CHECK: module attributes {hexmlir.grid, hexmlir.plan = {budget =
// CHECK: linalg.generic {{.*}} attrs = {hexmlir.config = {{{.*}} work = 1024 : i64}, hexmlir.id = 0 : i64}
// CHECK: linalg.generic {{.*}} attrs = {hexmlir.config = {{{.*}} tile = array<i64: 0>,
// NPU-SAME: vector = array<i64: 32>
// HOST-SAME: vector = array<i64: 8>
// CHECK-SAME: hexmlir.id = 1 : i64}
