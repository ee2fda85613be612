// npu-emu: DDR<->TCM copies become DMA starts + waits; TCM buffers come from the runtime's pool.
// host has no DMA engine (nor TCM): the stage is off there (Stage.needs) and says so on stderr.
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option target=npu-emu --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling..vectorize | hexmlir opt - -p dma | FileCheck %s
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option target=npu-emu --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 --option dma=false | hexmlir opt - -p tcm-tiling..dma | FileCheck %s --check-prefix=OFF
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling..vectorize | hexmlir opt - -p dma 2>&1 | FileCheck %s --check-prefix=HOST

// CHECK: func.func private @hxk_silu_par0
// CHECK-COUNT-2: call @hx_tcm_buffer(%{{.*}}) : (index) -> memref<?xi8, 1>
// CHECK: %[[IN:.*]] = func.call @hx_dma_start_2d({{.*}}) {hexmlir.ddr = "%arg0", hexmlir.dma = "in"}
// CHECK-NEXT: func.call @hx_dma_wait(%[[IN]])
// CHECK: %[[OUT:.*]] = func.call @hx_dma_start_2d({{.*}}) {hexmlir.ddr = "%arg1", hexmlir.dma = "out"}
// CHECK-NEXT: func.call @hx_dma_wait(%[[OUT]])
// CHECK-COUNT-2: call @hx_tcm_release
// OFF-NOT: hx_dma_start
// OFF: linalg.copy
// HOST-NOT: hx_dma_start
// HOST-NOT: hx_tcm_buffer
// HOST: hexmlir opt: stage dma: off (host has no copy_engine)
