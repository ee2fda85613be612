// A program's DDR<->TCM copies become DMA starts and waits; TCM buffers come from the pool.
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p asserts..plan --option num_threads=4 | hexmlir opt - -p fast-math..vectorize | hexmlir opt - -p dma | FileCheck %s
// RUN: hexmlir opt %S/../Inputs/grid_silu.mlir -p asserts..plan --option num_threads=4 --option dma=false | hexmlir opt - -p fast-math..dma | FileCheck %s --check-prefix=OFF

// CHECK: func.func private @silu_k_par0
// CHECK: call @hx_tcm_buffer
// CHECK: scf.for
// CHECK: %[[IN:.*]] = func.call @hx_dma_start_2d({{.*}}hexmlir.dma = "in"
// CHECK-NEXT: func.call @hx_dma_wait(%[[IN]])
// CHECK: %[[OUT:.*]] = func.call @hx_dma_start_2d({{.*}}hexmlir.dma = "out"
// CHECK-NEXT: func.call @hx_dma_wait(%[[OUT]])
// CHECK: call @hx_tcm_release
// OFF-NOT: hx_dma_start
