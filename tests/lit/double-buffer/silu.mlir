// Ping-pong TCM sets: twice the buffers, the first tile's input DMA before the loop, tile i+1's inside it
// (under scf.if), and the output DMA's token kept in a per-set slot instead of being waited for at once.
// npu-emu: the stage needs a DMA engine (Stage.needs); on host it is off, and says so on stderr.
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option target=npu-emu --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling..dma | hexmlir opt - -p double-buffer | FileCheck %s
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option target=npu-emu --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling..dma | hexmlir opt - -p double-buffer --option double_buffer=false \
// RUN:   | FileCheck %s --check-prefix=OFF
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling..dma | hexmlir opt - -p double-buffer 2>&1 \
// RUN:   | FileCheck %s --check-prefix=HOST

// CHECK: func.func private @hxk_silu_par0
// CHECK-COUNT-4: call @hx_tcm_buffer
// CHECK: memref.alloca() : memref<2xindex>
// CHECK: hx_dma_start_2d({{.*}}hexmlir.dma = "in"
// CHECK: scf.for
// CHECK: scf.if
// CHECK: hx_dma_start_2d({{.*}}hexmlir.dma = "in"
// CHECK: %[[OUT:.*]] = func.call @hx_dma_start_2d({{.*}}hexmlir.dma = "out"
// CHECK-NEXT: memref.store %[[OUT]],
// OFF-NOT: memref<2xindex>
// OFF-COUNT-2: call @hx_tcm_buffer
// OFF-NOT: call @hx_tcm_buffer
// HOST-NOT: memref<2xindex>
// HOST: hexmlir opt: stage double-buffer: off (host has no copy_engine)
