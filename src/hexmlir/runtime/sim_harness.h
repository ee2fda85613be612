/* Interface between the simulation harness (sim_harness.c) and the per-kernel call stub that
 * hexmlir/targets/sim.py generates. See sim_harness.c for the manifest format. */
#ifndef HEXMLIR_SIM_HARNESS_H
#define HEXMLIR_SIM_HARNESS_H

#include <stdint.h>

typedef union {
  int64_t i;
  double f;
} hx_sim_scalar_t;

typedef struct {
  int grid[3];                 /* launch grid (1,1,1 unless the manifest says otherwise) */
  int nbufs, nscalars;
  void **bufs;                 /* buffer k: 128-byte aligned, manifest order */
  const hx_sim_scalar_t *scalars;
  const long *nbytes;          /* size of buffer k in bytes */
} hx_sim_launch_t;

/* Generated per kernel: calls the kernel entry once (Linalg) or over the grid (Triton). */
void hx_sim_invoke(const hx_sim_launch_t *launch);

#endif
