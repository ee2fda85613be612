// Roots are tiled with scf.forall by the planned tile. npu-emu: the TCM tile, 1 x 992 of 7 x 1001 (a partial
// last tile). host: the cache tile, one whole row (1 x 1001, seven static tiles).
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option target=npu-emu --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling | FileCheck %s --check-prefix=NPU
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling | FileCheck %s --check-prefix=HOST
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option target=npu-emu --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 --option tcm_tiling=false | hexmlir opt - -p tcm-tiling | FileCheck %s --check-prefix=OFF
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 --option tcm_tiling=false | hexmlir opt - -p tcm-tiling | FileCheck %s --check-prefix=OFF

// NPU: affine_map<(d0) -> (d0 * -992 + 1001, 992)>
// NPU: scf.forall (%{{.*}}, %{{.*}}) in (7, 2)
// NPU: tensor.extract_slice {{.*}} to tensor<1x?xf32>
// NPU: linalg.generic
// NPU: tensor.parallel_insert_slice
// HOST: scf.forall (%[[R:.*]]) in (7)
// HOST: tensor.extract_slice %arg0[%[[R]], 0] [1, 1001] [1, 1] : tensor<7x1001xf32> to tensor<1x1001xf32>
// HOST: linalg.generic
// HOST: tensor.parallel_insert_slice
// OFF-NOT: scf.forall
