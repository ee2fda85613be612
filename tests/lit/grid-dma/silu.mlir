// npu-emu: a program's DDR<->TCM copies become DMA starts and waits; TCM buffers come from the pool.
// host has no DMA engine: the stage is off (Stage.needs) and says so on stderr.
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..plan --option target=npu-emu --option num_threads=4 | hexmlir opt - -p fast-math..vectorize | hexmlir opt - -p dma | FileCheck %s
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..plan --option target=npu-emu --option num_threads=4 --option dma=false | hexmlir opt - -p fast-math..dma | FileCheck %s --check-prefix=OFF
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p symbols..plan --option num_threads=4 | hexmlir opt - -p fast-math..vectorize | hexmlir opt - -p dma 2>&1 | FileCheck %s --check-prefix=HOST

// CHECK: func.func private @hxk_silu_k_par0
// CHECK: call @hx_tcm_buffer
// CHECK: scf.for
// CHECK: %[[IN:.*]] = func.call @hx_dma_start_2d({{.*}}hexmlir.dma = "in"
// CHECK-NEXT: func.call @hx_dma_wait(%[[IN]])
// CHECK: %[[OUT:.*]] = func.call @hx_dma_start_2d({{.*}}hexmlir.dma = "out"
// CHECK-NEXT: func.call @hx_dma_wait(%[[OUT]])
// CHECK: call @hx_tcm_release
// OFF-NOT: hx_dma_start
// HOST-NOT: hx_dma_start
// HOST-NOT: hx_tcm_buffer
// HOST: hexmlir opt: stage dma: off (host has no copy_engine)
