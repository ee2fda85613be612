/* Stress and micro-benchmark driver for the hexmlir runtime.
 *
 *   stress [all|tcm|buf|dma|pool|bench] [scale]
 *
 * Built together with hexmlir_rt.c, normally under ASan or TSan (see
 * tests/test_runtime.py); also runs under qemu-hexagon. Exit status 0 and a
 * final "OK" line mean every check passed.
 */
#define _GNU_SOURCE
#include "hexmlir_rt.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int g_scale = 1;
static _Atomic int g_errors;

#define CHECK(cond, ...)                                            \
  do {                                                              \
    if (!(cond)) {                                                  \
      if (atomic_fetch_add(&g_errors, 1) < 20) {                    \
        fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);        \
        fprintf(stderr, __VA_ARGS__);                               \
        fputc('\n', stderr);                                        \
      }                                                             \
    }                                                               \
  } while (0)

static uint64_t rnd(uint64_t *s) { /* xorshift64* */
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1DULL;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void run_threads(int n, void *(*fn)(void *)) {
  pthread_t th[16];
  for (intptr_t i = 0; i < n; i++) pthread_create(&th[i], NULL, fn, (void *)i);
  for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
}

/* ---- TCM churn: blocks are filled with an owner pattern and checked before
 * free, so any overlap between live blocks shows up as a corrupted pattern. */

typedef struct { unsigned char *p; intptr_t n; unsigned char tag; } held_t;

static void *tcm_worker(void *arg) {
  uint64_t s = 0x9E3779B97F4A7C15ULL * (uint64_t)((intptr_t)arg + 1);
  held_t held[32];
  int nh = 0;
  for (int it = 0; it < 4000 * g_scale; it++) {
    if (nh < 32 && (nh == 0 || rnd(&s) % 3 != 0)) {
      intptr_t n = rnd(&s) % 4 == 0 ? (intptr_t)(4096 + rnd(&s) % 28000) : (intptr_t)(rnd(&s) % 600);
      unsigned char *p = hx_tcm_alloc(n);
      if (!p) continue; /* full arena is legal under churn */
      uintptr_t a = (uintptr_t)p;
      CHECK(a % (n >= 4096 ? 2048 : 128) == 0, "misaligned %p for %ld bytes", (void *)p, (long)n);
      unsigned char tag = (unsigned char)(rnd(&s) | 1);
      memset(p, tag, (size_t)n);
      held[nh++] = (held_t){p, n, tag};
    } else {
      int k = (int)(rnd(&s) % (uint64_t)nh);
      for (intptr_t j = 0; j < held[k].n; j++)
        if (held[k].p[j] != held[k].tag) { CHECK(0, "TCM block %p overwritten at %ld", (void *)held[k].p, (long)j); break; }
      hx_tcm_free_addr((intptr_t)held[k].p);
      held[k] = held[--nh];
    }
  }
  while (nh) hx_tcm_free(held[--nh].p);
  return NULL;
}

static void test_tcm(void) {
  run_threads(4, tcm_worker);
  hx_stats_t st;
  hx_get_stats(&st);
  CHECK(st.tcm_live == 0, "tcm_live %lld after churn", (long long)st.tcm_live);
  intptr_t size = hx_tcm_size();
  void *all = hx_tcm_alloc(size); /* coalescing put the arena back together */
  CHECK(all != NULL, "full-arena alloc failed after churn");
  hx_tcm_free(all);
  int64_t failed = st.tcm_failed;
  CHECK(hx_tcm_alloc(size + 1) == NULL, "oversized alloc succeeded");
  hx_get_stats(&st);
  CHECK(st.tcm_failed == failed + 1, "failed counter");
  printf("tcm: ok (size %ld, high water %lld)\n", (long)size, (long long)st.tcm_high_water);
}

/* ---- Kernel buffers: blocks filled with an owner pattern, freed on another thread than the one that
 * allocated them (through a shared exchange) and inside pool loop bodies; the cache must never hand out a
 * live block twice. */

#define BUF_SLOTS 64
static struct { pthread_mutex_t mu; held_t slot[BUF_SLOTS]; int n; } g_xchg = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* One byte per 1 KiB and the last byte: enough to see two live blocks overlap, and cheap under TSan. */
#define BUF_STRIDE 1024
static void buf_mark(held_t h) {
  for (intptr_t j = 0; j < h.n; j += BUF_STRIDE) h.p[j] = h.tag;
  if (h.n) h.p[h.n - 1] = h.tag;
}

static int buf_check(held_t h) {
  for (intptr_t j = 0; j < h.n; j += BUF_STRIDE)
    if (h.p[j] != h.tag) return 0;
  return !h.n || h.p[h.n - 1] == h.tag;
}

static held_t buf_new(uint64_t *s) {
  uint64_t r = rnd(s) % 8;
  intptr_t n = r < 3 ? (intptr_t)(rnd(s) % 3000) : (intptr_t)(HX_BUF_CACHE_MIN - 4096 + rnd(s) % (300 << 10));
  unsigned char *p = hx_buf_alloc(n);
  CHECK(p && (uintptr_t)p % (n >= HX_BUF_CACHE_MIN ? HX_BUF_ALIGN : 8) == 0, "hx_buf_alloc(%ld) = %p", (long)n,
        (void *)p);
  unsigned char tag = (unsigned char)(rnd(s) | 1);
  held_t h = {p, n, tag};
  if (p) buf_mark(h);
  return h;
}

static void buf_drop(held_t h) {
  CHECK(buf_check(h), "kernel buffer %p (%ld bytes) overwritten while live", (void *)h.p, (long)h.n);
  hx_buf_free(h.p);
}

static void *buf_worker(void *arg) {
  uint64_t s = 0xD1B54A32D192ED03ULL * (uint64_t)((intptr_t)arg + 1);
  for (int it = 0; it < 3000 * g_scale; it++) {
    held_t h = buf_new(&s);
    if (!h.p) continue;
    pthread_mutex_lock(&g_xchg.mu);
    held_t other = {0};
    if (g_xchg.n == BUF_SLOTS || (g_xchg.n > 0 && rnd(&s) % 2)) { /* take someone's block, leave ours */
      int k = (int)(rnd(&s) % (uint64_t)g_xchg.n);
      other = g_xchg.slot[k];
      g_xchg.slot[k] = h;
    } else {
      g_xchg.slot[g_xchg.n++] = h;
    }
    pthread_mutex_unlock(&g_xchg.mu);
    if (other.p) buf_drop(other);
  }
  return NULL;
}

static void buf_body(void *ctx, intptr_t i) {
  (void)ctx;
  uint64_t s = 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 7);
  held_t a = buf_new(&s), b = buf_new(&s);
  if (a.p) buf_drop(a);
  if (b.p) buf_drop(b);
}

static void test_buf(void) {
  hx_stats_t st0, st;
  hx_get_stats(&st0);
  run_threads(4, buf_worker);
  while (g_xchg.n) buf_drop(g_xchg.slot[--g_xchg.n]);
  for (int r = 0; r < 20 * g_scale; r++) hx_parallel_for(64, buf_body, NULL);
  hx_get_stats(&st);
  CHECK(st.buf_live == st0.buf_live, "buf_live %lld after churn (was %lld)", (long long)st.buf_live,
        (long long)st0.buf_live);
  CHECK(st.buf_cached_blocks <= HX_BUF_CACHE_BLOCKS, "%lld cached blocks", (long long)st.buf_cached_blocks);
  CHECK(st.buf_hits > st0.buf_hits, "no cache hits under churn");
  intptr_t cached = (intptr_t)st.buf_cached, freed = hx_buf_trim();
  hx_get_stats(&st);
  CHECK(freed == cached && st.buf_cached == 0 && st.buf_cached_blocks == 0, "trim freed %ld of %ld",
        (long)freed, (long)cached);
  printf("buf: ok (hits %lld, misses %lld)\n", (long long)(st.buf_hits - st0.buf_hits),
         (long long)(st.buf_misses - st0.buf_misses));
}

/* ---- DMA streams */

typedef struct {
  unsigned char *dst, *ref;
  intptr_t len, token;
} copy_t;

static void fill(unsigned char *p, intptr_t n, uint64_t *s) {
  for (intptr_t i = 0; i < n; i++) p[i] = (unsigned char)rnd(s);
}

/* One random 1-D or 2-D copy into a fresh buffer; `ref` gets the expected
 * result computed with plain memcpy. */
static copy_t random_copy(const unsigned char *src, intptr_t src_len, uint64_t *s, int use_tcm) {
  copy_t c;
  intptr_t rows = (intptr_t)(rnd(s) % 4 == 0 ? 0 : rnd(s) % 40);
  intptr_t row = (intptr_t)(rnd(s) % 300);
  intptr_t sstride = row + (intptr_t)(rnd(s) % 64), dstride = row + (intptr_t)(rnd(s) % 64);
  if (rnd(s) % 3 == 0) { rows = 1; row = (intptr_t)(rnd(s) % 20000); sstride = dstride = row; }
  if (rows * sstride > src_len) rows = src_len / (sstride ? sstride : 1);
  c.len = rows * dstride + 1;
  c.dst = use_tcm ? hx_tcm_alloc(c.len) : malloc((size_t)c.len);
  if (!c.dst) c.dst = malloc((size_t)c.len), use_tcm = 0;
  c.ref = malloc((size_t)c.len);
  fill(c.dst, c.len, s);
  memcpy(c.ref, c.dst, (size_t)c.len);
  for (intptr_t r = 0; r < rows; r++) memcpy(c.ref + r * dstride, src + r * sstride, (size_t)row);
  if (rows == 1 && rnd(s) % 2)
    c.token = hx_dma_start_1d((intptr_t)c.dst, (intptr_t)src, row);
  else
    c.token = hx_dma_start_2d((intptr_t)c.dst, (intptr_t)src, row, rows, dstride, sstride);
  CHECK(c.token > 0, "bad token %ld", (long)c.token);
  c.len = use_tcm ? -c.len : c.len; /* remember how to free */
  return c;
}

static void check_copy(copy_t *c) {
  intptr_t n = c->len < 0 ? -c->len : c->len;
  CHECK(memcmp(c->dst, c->ref, (size_t)n) == 0, "DMA result differs (len %ld)", (long)n);
  if (c->len < 0) hx_tcm_free(c->dst);
  else free(c->dst);
  free(c->ref);
}

static _Atomic intptr_t g_handoff_token;
static unsigned char g_handoff_dst[65536], g_handoff_src[65536];

static void *dma_worker(void *arg) {
  intptr_t id = (intptr_t)arg;
  uint64_t s = 0xD1B54A32D192ED03ULL * (uint64_t)(id + 7);
  enum { SRC = 1 << 16, BATCH = 24 };
  unsigned char *src = malloc(SRC);
  fill(src, SRC, &s);
  intptr_t prev_token = 0;
  for (int round = 0; round < 40 * g_scale; round++) {
    copy_t c[BATCH];
    for (int i = 0; i < BATCH; i++) c[i] = random_copy(src, SRC, &s, (int)(rnd(&s) % 2));
    CHECK(c[0].token > prev_token, "tokens not increasing");
    prev_token = c[BATCH - 1].token;
    /* Wait on a random subset in random order; the rest via ordering. */
    int mode = (int)(rnd(&s) % 3);
    if (mode == 0) {
      hx_dma_wait_all();
    } else if (mode == 1) {
      hx_dma_wait(c[BATCH - 1].token); /* implies all earlier copies of this thread */
    } else {
      for (int i = BATCH - 1; i >= 0; i--) hx_dma_wait(c[(i * 7) % BATCH].token);
    }
    for (int i = 0; i < BATCH; i++) check_copy(&c[i]);
    hx_dma_wait(c[0].token); /* finished token */
    hx_dma_wait(0);
    hx_dma_wait(-5);
  }
  /* Ordering: the same destination written twice; waiting on the second
   * copy must show the first one's bytes where the second did not write. */
  unsigned char *a = malloc(4096), *b = malloc(4096), *d = malloc(4096);
  memset(a, 1, 4096);
  memset(b, 2, 4096);
  for (int it = 0; it < 50 * g_scale; it++) {
    memset(d, 0, 4096);
    hx_dma_start_1d((intptr_t)d, (intptr_t)a, 4096);
    intptr_t t = hx_dma_start_2d((intptr_t)d, (intptr_t)b, 16, 64, 64, 16);
    hx_dma_wait(t);
    int bad = 0;
    for (int i = 0; i < 4096; i++) bad |= d[i] != ((i % 64) < 16 ? 2 : 1);
    CHECK(!bad, "DMA ordering violated");
  }
  free(a), free(b), free(d), free(src);
  return NULL;
}

/* Cross-thread wait: thread 0 hands a token to thread 1 through an atomic. */
static void *handoff_producer(void *arg) {
  (void)arg;
  for (int i = 0; i < 65536; i++) g_handoff_src[i] = (unsigned char)(i * 31 + 7);
  intptr_t t = hx_dma_start_2d((intptr_t)g_handoff_dst, (intptr_t)g_handoff_src, 1024, 64, 1024, 1024);
  atomic_store(&g_handoff_token, t);
  return NULL;
}

static void *handoff_consumer(void *arg) {
  (void)arg;
  intptr_t t;
  while ((t = atomic_load(&g_handoff_token)) == 0) sched_yield();
  hx_dma_wait(t);
  CHECK(memcmp(g_handoff_dst, g_handoff_src, sizeof g_handoff_dst) == 0, "cross-thread wait");
  return NULL;
}

static void test_dma(void) {
  hx_stats_t st0, st1;
  hx_get_stats(&st0);
  run_threads(6, dma_worker);
  pthread_t p, c;
  pthread_create(&c, NULL, handoff_consumer, NULL);
  pthread_create(&p, NULL, handoff_producer, NULL);
  pthread_join(p, NULL);
  pthread_join(c, NULL);
  hx_dma_wait(INTPTR_MAX); /* never issued: returns at once */
  hx_get_stats(&st1);
  printf("dma: ok (%lld copies, %lld bytes)\n", (long long)(st1.dma_copies - st0.dma_copies),
         (long long)(st1.dma_bytes - st0.dma_bytes));
}

/* ---- Thread pool */

typedef struct {
  _Atomic int *count;
  intptr_t inner;
} pf_ctx_t;

static void count_fn(void *ctx, intptr_t i) { atomic_fetch_add(&((pf_ctx_t *)ctx)->count[i], 1); }

static void nested_inner(void *ctx, intptr_t j) {
  pf_ctx_t *c = ctx;
  atomic_fetch_add(&c->count[j], 1);
}

static void nested_outer(void *ctx, intptr_t i) {
  pf_ctx_t *c = ctx;
  pf_ctx_t in = {c->count + i * c->inner, 0};
  hx_parallel_for(c->inner, nested_inner, &in); /* must run inline, not deadlock */
}

static void check_counts(_Atomic int *count, intptr_t n, const char *what) {
  for (intptr_t i = 0; i < n; i++)
    if (atomic_load(&count[i]) != 1) { CHECK(0, "%s: index %ld ran %d times", what, (long)i, atomic_load(&count[i])); return; }
}

static void run_counted(intptr_t n) {
  _Atomic int *count = calloc((size_t)n + 1, sizeof *count);
  pf_ctx_t c = {count, 0};
  hx_parallel_for(n, count_fn, &c);
  check_counts(count, n, "parallel_for");
  free(count);
}

/* Loop bodies that use DMA and TCM themselves, as compiled kernels do. */
static void dma_body(void *ctx, intptr_t i) {
  (void)ctx;
  unsigned char src[512], *dst = hx_tcm_alloc(512);
  if (!dst) return;
  memset(src, (int)(i & 0xff), sizeof src);
  hx_dma_start_2d((intptr_t)dst, (intptr_t)src, 64, 8, 64, 64);
  hx_dma_wait_all();
  int bad = 0;
  for (int k = 0; k < 512; k++) bad |= dst[k] != (unsigned char)(i & 0xff);
  CHECK(!bad, "DMA inside parallel_for");
  hx_tcm_free(dst);
}

static void *pool_caller(void *arg) {
  intptr_t id = (intptr_t)arg;
  for (int it = 0; it < 30 * g_scale; it++) {
    run_counted(17 + id * 13 + it);
    enum { O = 6, I = 40 };
    _Atomic int *count = calloc(O * I, sizeof *count);
    pf_ctx_t c = {count, I};
    hx_parallel_for(O, nested_outer, &c);
    check_counts(count, O * I, "concurrent nested");
    free(count);
    hx_parallel_for(8, dma_body, NULL);
  }
  return NULL;
}

static _Atomic int g_resizing;
static void *resizer(void *arg) {
  (void)arg;
  for (int k = 0; atomic_load(&g_resizing); k++) {
    hx_set_num_threads(1 + k % 4);
    sched_yield();
  }
  return NULL;
}

static void test_pool(void) {
  static const int threads[] = {1, 2, 4, 8};
  static const intptr_t sizes[] = {0, 1, 3, 17, 1000};
  for (int t = 0; t < 4; t++) {
    hx_set_num_threads(threads[t]);
    CHECK(hx_num_threads() == threads[t], "num_threads %d != %d", hx_num_threads(), threads[t]);
    for (int r = 0; r < 5 * g_scale; r++)
      for (int k = 0; k < 5; k++) run_counted(sizes[k]);
    enum { O = 9, I = 33 };
    _Atomic int *count = calloc(O * I, sizeof *count);
    pf_ctx_t c = {count, I};
    hx_parallel_for(O, nested_outer, &c);
    check_counts(count, O * I, "nested");
    free(count);
  }
  /* Several top-level callers at once, while another thread resizes. */
  hx_set_num_threads(4);
  run_threads(4, pool_caller);
  atomic_store(&g_resizing, 1);
  pthread_t rz;
  pthread_create(&rz, NULL, resizer, NULL);
  run_threads(3, pool_caller);
  atomic_store(&g_resizing, 0);
  pthread_join(rz, NULL);
  printf("pool: ok\n");
}

/* ---- Benchmarks (printed, never asserted) */

static _Atomic long g_sink;
static void noop_fn(void *ctx, intptr_t i) { (void)ctx; atomic_fetch_add_explicit(&g_sink, (long)i, memory_order_relaxed); }

/* Every index waits until all n have started, so all threads must take part:
 * the loop then costs one full wake-up and join of every worker. */
static _Atomic long g_arrived;
static void barrier_fn(void *ctx, intptr_t i) {
  (void)i;
  long target = (long)(intptr_t)ctx;
  atomic_fetch_add(&g_arrived, 1);
  for (unsigned k = 1; atomic_load(&g_arrived) < target; k++)
    if ((k & 255) == 0) sched_yield();
}

static double time_loop(int iters, intptr_t n, void (*fn)(void *, intptr_t), int barrier) {
  double t0 = now_s();
  for (int i = 0; i < iters; i++) {
    atomic_store(&g_arrived, 0);
    hx_parallel_for(n, fn, barrier ? (void *)n : NULL);
  }
  return (now_s() - t0) / iters * 1e6;
}

static void bench(void) {
  int iters = 20000 * g_scale;
  for (int t = 1; t <= 4; t *= 2) {
    hx_set_num_threads(t);
    time_loop(1000, t, barrier_fn, 1); /* start and warm the workers */
    double triv = time_loop(iters, t, noop_fn, 0);
    double all = time_loop(iters, t, barrier_fn, 1);
    double n64 = time_loop(iters, 64, noop_fn, 0);
    printf("bench pool threads=%d us/call: n=threads trivial %.3f, n=threads all-join %.3f, n=64 trivial %.3f\n",
           t, triv, all, n64);
  }
  enum { BIG = 8 << 20 };
  unsigned char *a = malloc(BIG), *b = malloc(BIG);
  memset(a, 3, BIG);
  memset(b, 0, BIG);
  hx_stats_t s0, s1;
  hx_get_stats(&s0);
  int reps = 40;
  double t0 = now_s();
  for (int i = 0; i < reps; i++) hx_dma_wait(hx_dma_start_1d((intptr_t)b, (intptr_t)a, BIG));
  double dt = now_s() - t0;
  hx_get_stats(&s1);
  printf("bench dma 1d 8MiB: %.2f GB/s wall, %.2f GB/s copy-thread\n", (double)BIG * reps / dt / 1e9,
         (double)(s1.dma_bytes - s0.dma_bytes) / (double)(s1.dma_ns - s0.dma_ns));
  t0 = now_s();
  for (int i = 0; i < reps; i++) hx_dma_wait(hx_dma_start_2d((intptr_t)b, (intptr_t)a, 1024, 4096, 2048, 2048));
  dt = now_s() - t0;
  printf("bench dma 2d 4096x1KiB: %.2f GB/s wall\n", 4096.0 * 1024 * reps / dt / 1e9);
  int small = 20000 * g_scale;
  t0 = now_s();
  for (int i = 0; i < small; i++) hx_dma_wait(hx_dma_start_1d((intptr_t)b, (intptr_t)a, 256));
  printf("bench dma 256B start+wait: %.3f us\n", (now_s() - t0) / small * 1e6);
  free(a), free(b);
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "all";
  if (argc > 2) g_scale = atoi(argv[2]) > 0 ? atoi(argv[2]) : 1;
  int all = strcmp(mode, "all") == 0;
  if (all || !strcmp(mode, "tcm")) test_tcm();
  if (all || !strcmp(mode, "buf")) test_buf();
  if (all || !strcmp(mode, "dma")) test_dma();
  if (all || !strcmp(mode, "pool")) test_pool();
  if (!strcmp(mode, "bench")) bench();
  int e = atomic_load(&g_errors);
  if (e) {
    fprintf(stderr, "%d check(s) failed\n", e);
    return 1;
  }
  printf("OK\n");
  return 0;
}
