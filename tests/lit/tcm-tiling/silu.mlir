// Roots are tiled with scf.forall by the planned TCM tile (1 x 992 of 7 x 1001: a partial last tile).
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 | hexmlir opt - -p tcm-tiling | FileCheck %s
// RUN: hexmlir opt %S/../Inputs/silu.mlir -p check-input..plan --option num_threads=4 --option tcm_budget=65536 --option mt_threshold=1 --option tcm_tiling=false | hexmlir opt - -p tcm-tiling | FileCheck %s --check-prefix=OFF

// CHECK: affine_map<(d0) -> (d0 * -992 + 1001, 992)>
// CHECK: scf.forall (%{{.*}}, %{{.*}}) in (7, 2)
// CHECK: tensor.extract_slice {{.*}} to tensor<1x?xf32>
// CHECK: linalg.generic
// CHECK: tensor.parallel_insert_slice
// OFF-NOT: scf.forall
