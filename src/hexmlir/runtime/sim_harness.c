/* hexmlir simulation harness: the main() of a static Hexagon executable run under qemu-hexagon.
 *
 * It reads an argument manifest (argv[1], text, one line per item), loads input buffers from files,
 * calls the kernel through hx_sim_invoke() (a few lines of C generated per kernel by hexmlir/targets/sim.py:
 * it builds memref descriptors or passes pointers, scalars and grid ids), and writes output buffers to files.
 *
 * Manifest lines (order of `buf` lines = buffer index, order of `int`/`float` lines = scalar index):
 *   threads N                     thread-pool size (hx_set_num_threads) before the kernel runs
 *   buf BYTES IN_PATH|- OUT_PATH|-    one buffer, 128-byte aligned; read before, written after the call
 *   int VALUE | float VALUE       one scalar argument
 *   grid X Y Z                    launch grid (Triton-style kernels; Linalg kernels ignore it)
 *
 * Test hook HEXMLIR_SIM_GUARD (environment): each buffer is placed right before a PROT_NONE page, so a
 * kernel that touches memory past a buffer's end faults (SIGSEGV) instead of reading the heap:
 *   end     the buffer's last byte is the last byte before the page (the start is then aligned only to
 *           the element size the byte count allows: what a sliced DDR argument can look like);
 *   block   the start is 128-byte aligned and the 128-byte block holding the last byte ends at the page.
 *
 * hx_sim_kernel_begin / hx_sim_kernel_end bracket the call: the packet profiler counts only what runs
 * between them in its kernel-only mode (harness I/O and pool start-up are outside).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hexmlir_rt.h"
#include "sim_harness.h"

#define MAX_ITEMS 256

__attribute__((noinline, used)) void hx_sim_kernel_begin(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline, used)) void hx_sim_kernel_end(void) { __asm__ volatile("" ::: "memory"); }

/* The executable's memcpy (kernels call it for copies, the runtime's DMA engine for every transfer). zig's
 * compiler_rt one, built with HVX, reads 64-byte pieces with 128-byte vmemu loads: up to 64 bytes past the
 * source's end, a fault when it ends at a page boundary (tests/test_hexagon_guard.py). This one reads only
 * the source's bytes: 128-byte unaligned vectors, then single bytes. no_builtin keeps the loops from being
 * turned back into a memcpy call. */
typedef char hx_v128u_t __attribute__((vector_size(128), aligned(1)));
__attribute__((no_builtin("memcpy"))) void *memcpy(void *restrict dst, const void *restrict src, size_t n) {
  char *d = dst;
  const char *s = src;
  size_t i = 0;
  for (; i + 128 <= n; i += 128) *(hx_v128u_t *)(d + i) = *(const hx_v128u_t *)(s + i);
  for (; i < n; i++) ((volatile char *)d)[i] = ((const volatile char *)s)[i];
  return dst;
}

static void die(const char *what, const char *arg) {
  fprintf(stderr, "hexmlir-sim: %s %s\n", what, arg ? arg : "");
  exit(3);
}

/* One tiny DMA copy: starts the copy thread and creates the calling thread's queue (one-time runtime
 * set-up that would otherwise land in the first kernel call). */
static void warm_dma(void) {
  static char src[128], dst[128 * 128];
  static int slot;
  int k = __atomic_fetch_add(&slot, 1, __ATOMIC_RELAXED) & 127;
  hx_dma_wait(hx_dma_start_1d((intptr_t)(dst + 128 * k), (intptr_t)src, 128));
}

static void warm_task(void *ctx, intptr_t i) { (void)ctx; (void)i; warm_dma(); }

/* HEXMLIR_SIM_GUARD: 0 off, 1 "end", 2 "block" */
static int guard_mode(void) {
  const char *g = getenv("HEXMLIR_SIM_GUARD");
  if (!g || !*g || !strcmp(g, "0")) return 0;
  if (!strcmp(g, "end")) return 1;
  if (!strcmp(g, "block")) return 2;
  die("HEXMLIR_SIM_GUARD must be end or block, not", g);
  return 0;
}

/* A buffer of `nbytes` ending right before a PROT_NONE page (see guard_mode); never freed. */
static void *guarded_alloc(size_t nbytes, int mode) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t span = mode == 2 ? (nbytes + 127) & ~(size_t)127 : nbytes;
  size_t pages = (span + page - 1) / page + 1;
  char *base = mmap(NULL, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) die("guard: mmap failed", NULL);
  if (mprotect(base + (pages - 1) * page, page, PROT_NONE) != 0) die("guard: mprotect failed", NULL);
  return base + (pages - 1) * page - span;
}

/* Test hook HEXMLIR_SIM_OFFSET=N (without a guard): buffer k starts (k * N) % 128 bytes past a 128-byte
   aligned address, so kernels see argument pointers of mixed alignment (views into larger arrays).
   A list HEXMLIR_SIM_OFFSET=A,B,C,... places buffer 0 at A, 1 at B, ..., the last value repeating for the
   rest ("64,64": every buffer 64 bytes past a boundary, the shared misalignment of views into one array). */
static long buffer_offset(int k) {
  const char *o = getenv("HEXMLIR_SIM_OFFSET");
  if (!o || !*o) return 0;
  if (!strchr(o, ',')) return ((k * strtol(o, NULL, 0)) % 128 + 128) % 128;
  long v = 0;
  for (int i = 0; i <= k && *o; i++) {
    char *end;
    v = strtol(o, &end, 0);
    if (end == o) die("HEXMLIR_SIM_OFFSET: bad list", o);
    o = *end == ',' ? end + 1 : end;
  }
  return (v % 128 + 128) % 128;
}

int main(int argc, char **argv) {
  if (argc != 2) die("usage: harness MANIFEST", NULL);
  FILE *m = fopen(argv[1], "r");
  if (!m) die("cannot open manifest", argv[1]);
  static void *buf[MAX_ITEMS];
  static long nbytes[MAX_ITEMS];
  static char out_path[MAX_ITEMS][512];
  static hx_sim_scalar_t scal[MAX_ITEMS];
  hx_sim_launch_t launch = {{1, 1, 1}, 0, 0, buf, scal, nbytes};
  int threads = 0, guard = guard_mode();
  char kind[16], a[512], b[512];
  while (fscanf(m, "%15s", kind) == 1) {
    if (!strcmp(kind, "threads")) {
      if (fscanf(m, "%d", &threads) != 1) die("bad threads line", NULL);
    } else if (!strcmp(kind, "grid")) {
      if (fscanf(m, "%d %d %d", &launch.grid[0], &launch.grid[1], &launch.grid[2]) != 3) die("bad grid", NULL);
    } else if (!strcmp(kind, "int") || !strcmp(kind, "float")) {
      if (launch.nscalars == MAX_ITEMS) die("too many scalars", NULL);
      if (fscanf(m, "%511s", a) != 1) die("bad scalar", NULL);
      if (kind[0] == 'i') scal[launch.nscalars].i = strtoll(a, NULL, 0);
      else scal[launch.nscalars].f = strtod(a, NULL);
      launch.nscalars++;
    } else if (!strcmp(kind, "buf")) {
      int k = launch.nbufs;
      if (k == MAX_ITEMS) die("too many buffers", NULL);
      if (fscanf(m, "%ld %511s %511s", &nbytes[k], a, b) != 3) die("bad buf line", NULL);
      /* 128-byte aligned (one HVX vector), at least one vector so empty tensors get a valid pointer */
      size_t sz = ((size_t)nbytes[k] + 127) & ~(size_t)127;
      if (guard) {
        buf[k] = guarded_alloc((size_t)nbytes[k], guard);    /* mmap'd: already zero */
      } else {
        size_t off = (size_t)buffer_offset(k);
        if (posix_memalign(&buf[k], 128, (sz ? sz : 128) + (off ? 128 : 0)) != 0) die("out of memory for buffer", a);
        buf[k] = (char *)buf[k] + off;
        memset(buf[k], 0, sz ? sz : 128);
      }
      if (strcmp(a, "-")) {
        FILE *f = fopen(a, "rb");
        if (!f || fread(buf[k], 1, (size_t)nbytes[k], f) != (size_t)nbytes[k]) die("cannot read", a);
        fclose(f);
      }
      snprintf(out_path[k], sizeof out_path[k], "%s", b);
      launch.nbufs++;
    } else {
      die("unknown manifest item", kind);
    }
  }
  fclose(m);
  (void)hx_tcm_size(); /* create the TCM arena outside the profiled window */
  warm_dma();
  if (threads > 0) {
    hx_set_num_threads(threads);
    /* start the pool's workers outside the profiled window */
    hx_parallel_for(threads, warm_task, NULL);
  }
  hx_quiesce(); /* warm-up spinning would otherwise land in the profiled window */
  hx_sim_kernel_begin();
  hx_sim_invoke(&launch);
  hx_sim_kernel_end();
  for (int k = 0; k < launch.nbufs; k++) {
    if (!strcmp(out_path[k], "-")) continue;
    FILE *f = fopen(out_path[k], "wb");
    if (!f || fwrite(buf[k], 1, (size_t)nbytes[k], f) != (size_t)nbytes[k]) die("cannot write", out_path[k]);
    fclose(f);
  }
  hx_stats_t st;
  hx_get_stats(&st);
  printf("hexmlir-sim: threads=%d pool_tasks=%lld pool_dispatches=%lld dma_copies=%lld dma_bytes=%lld "
         "tcm_high_water=%lld tcm_failed=%lld assert_failed=%d OK\n", hx_num_threads(), (long long)st.pool_tasks,
         (long long)st.pool_dispatches, (long long)st.dma_copies, (long long)st.dma_bytes,
         (long long)st.tcm_high_water, (long long)st.tcm_failed, (int)hx_assert_take());
  return 0;
}
