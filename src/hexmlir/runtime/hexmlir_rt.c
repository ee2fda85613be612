/* hexmlir runtime: TCM pool, kernel buffers, DMA engine, thread pool, stats.
 *
 * One C11 + pthreads source for the host (x86-64/aarch64 Linux, emulating the
 * NPU) and hexagon-linux-musl. API and guarantees: hexmlir_rt.h and
 * docs/runtime.md.
 */
#define _GNU_SOURCE
#include "hexmlir_rt.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__) && !defined(HX_NO_FUTEX)
#include <sys/syscall.h>
#if defined(SYS_futex)
#define HX_USE_FUTEX 1
#endif
#endif

#define HX_TLS _Thread_local

static void register_fork_handler(void);

/* ======================================================================== */
/* Small helpers                                                             */
/* ======================================================================== */

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#else
  atomic_signal_fence(memory_order_seq_cst);
#endif
}

/* Integer from the environment; accepts a K/M/G suffix (powers of 1024). */
static int64_t env_int(const char *name, int64_t dflt) {
  const char *s = getenv(name);
  if (!s || !*s) return dflt;
  char *end = NULL;
  long long v = strtoll(s, &end, 0);
  if (end == s) return dflt;
  switch (*end) {
    case 'k': case 'K': v <<= 10; break;
    case 'm': case 'M': v <<= 20; break;
    case 'g': case 'G': v <<= 30; break;
    default: break;
  }
  return (int64_t)v;
}

static int online_cpus(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : (n > 1024 ? 1024 : (int)n);
}

/* Critical sections here are a few dozen instructions; sleeping in the kernel
 * on contention would cost far more than a short spin. */
static void mu_lock(pthread_mutex_t *m) {
  for (int k = 0; k < 200; k++) {
    if (pthread_mutex_trylock(m) == 0) return;
    cpu_relax();
  }
  pthread_mutex_lock(m);
}

/* How long waiters spin before sleeping; small kernels call the pool and DMA
 * often, and a futex round trip costs tens of microseconds. */
static int64_t spin_budget_ns(void) {
  static _Atomic int64_t cached = -1;
  int64_t v = atomic_load_explicit(&cached, memory_order_relaxed);
  if (v < 0) {
    v = env_int("HEXMLIR_SPIN_US", 50) * 1000;
    if (v < 0) v = 0;
    atomic_store_explicit(&cached, v, memory_order_relaxed);
  }
  return v;
}

/* Sleep/wake primitive: waiters sleep while `seq` still equals what they saw
 * before checking their condition; notifiers change state, then bump seq. The
 * sleepers count lets notifiers skip the syscall when nobody sleeps. */
typedef struct {
  _Atomic uint32_t seq;
  _Atomic int sleepers;
#ifndef HX_USE_FUTEX
  pthread_mutex_t mu;
  pthread_cond_t cv;
#endif
} hx_event_t;

#ifdef HX_USE_FUTEX
#define HX_EVENT_INIT {0, 0}
#else
#define HX_EVENT_INIT {0, 0, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER}
#endif

static inline uint32_t ev_seq(hx_event_t *e) { return atomic_load(&e->seq); }

static void ev_wait(hx_event_t *e, uint32_t seen) {
#ifdef HX_USE_FUTEX
  atomic_fetch_add(&e->sleepers, 1);
  /* FUTEX_WAIT | FUTEX_PRIVATE_FLAG; the kernel rechecks seq == seen. */
  syscall(SYS_futex, (void *)&e->seq, 0 | 128, seen, NULL, NULL, 0);
  atomic_fetch_sub(&e->sleepers, 1);
#else
  pthread_mutex_lock(&e->mu);
  atomic_fetch_add(&e->sleepers, 1);
  while (atomic_load(&e->seq) == seen) pthread_cond_wait(&e->cv, &e->mu);
  atomic_fetch_sub(&e->sleepers, 1);
  pthread_mutex_unlock(&e->mu);
#endif
}

static void ev_notify(hx_event_t *e, int n) {
  atomic_fetch_add(&e->seq, 1);
  if (atomic_load(&e->sleepers) == 0) return;
#ifdef HX_USE_FUTEX
  syscall(SYS_futex, (void *)&e->seq, 1 | 128, n, NULL, NULL, 0); /* FUTEX_WAKE_PRIVATE */
#else
  (void)n;
  pthread_mutex_lock(&e->mu);
  pthread_cond_broadcast(&e->cv);
  pthread_mutex_unlock(&e->mu);
#endif
}

/* Spins up to the budget waiting for seq to move away from `seen`, then
 * sleeps; may return spuriously (callers recheck their condition). */
static void ev_spin_wait(hx_event_t *e, uint32_t seen, int64_t budget_ns) {
  if (budget_ns > 0) {
    int64_t t0 = now_ns();
    for (unsigned k = 1;; k++) {
      if (ev_seq(e) != seen) return;
      cpu_relax();
      if ((k & 63) == 0 && now_ns() - t0 > budget_ns) break;
      if ((k & 127) == 0) sched_yield(); /* let the thread we wait for run if it shares our CPU */
    }
  }
  ev_wait(e, seen);
}

/* ======================================================================== */
/* Stats                                                                     */
/* ======================================================================== */

static struct {
  _Atomic int64_t tcm_high_water, tcm_live, tcm_failed, tcm_size;
  _Atomic int64_t dma_bytes, dma_copies, dma_ns;
  _Atomic int64_t pool_tasks, pool_dispatches;
} g_st;

/* ======================================================================== */
/* TCM pool                                                                  */
/* ======================================================================== */

/* Block metadata lives outside the arena, one slot per 128 B granule, valid
 * at the first granule of each block: free(p) is an O(1) lookup and the arena
 * itself keeps the alignment of the mapping. */
#define TCM_GRAN 128
#define TCM_BIG 4096       /* blocks this large get ... */
#define TCM_BIG_ALIGN 2048 /* ... this alignment */
#define TCM_DEFAULT (8 << 20)

typedef struct {
  int32_t size;         /* granules */
  int32_t prev;         /* previous block in address order, -1 at start */
  int32_t fprev, fnext; /* free list links, -1 terminated */
  uint8_t head, used;
} tcm_node_t;

static struct {
  pthread_mutex_t mu;
  char *base;
  intptr_t bytes;
  int32_t ngran;
  int32_t free_head;
  tcm_node_t *nodes;
  int created, mapped;
  int64_t live;
} g_tcm = {.mu = PTHREAD_MUTEX_INITIALIZER, .free_head = -1};

static intptr_t page_round(intptr_t b) {
  long pg = sysconf(_SC_PAGESIZE);
  if (pg < TCM_BIG_ALIGN) pg = TCM_BIG_ALIGN;
  return (b + pg - 1) / pg * pg;
}

static intptr_t tcm_default_bytes(void) {
  int64_t v = env_int("HEXMLIR_TCM_BYTES", TCM_DEFAULT);
  if (v <= 0) v = TCM_DEFAULT;
  if (v > INTPTR_MAX / 2) v = INTPTR_MAX / 2;
  return (intptr_t)v;
}

static void fl_insert(int32_t i) {
  tcm_node_t *n = g_tcm.nodes;
  n[i].fprev = -1;
  n[i].fnext = g_tcm.free_head;
  if (g_tcm.free_head >= 0) n[g_tcm.free_head].fprev = i;
  g_tcm.free_head = i;
}

static void fl_remove(int32_t i) {
  tcm_node_t *n = g_tcm.nodes;
  if (n[i].fprev >= 0) n[n[i].fprev].fnext = n[i].fnext;
  else g_tcm.free_head = n[i].fnext;
  if (n[i].fnext >= 0) n[n[i].fnext].fprev = n[i].fprev;
}

static void tcm_destroy_locked(void) {
  if (g_tcm.base) {
    if (g_tcm.mapped) munmap(g_tcm.base, (size_t)g_tcm.bytes);
    else free(g_tcm.base);
  }
  free(g_tcm.nodes);
  g_tcm.base = NULL;
  g_tcm.nodes = NULL;
  g_tcm.bytes = 0;
  g_tcm.ngran = 0;
  g_tcm.free_head = -1;
  g_tcm.created = 0;
  atomic_store(&g_st.tcm_size, 0);
}

static void tcm_create_locked(intptr_t bytes) {
  register_fork_handler();
  bytes = page_round(bytes);
  g_tcm.created = 1; /* even on failure: do not retry (and spam) every call */
#if INTPTR_MAX > INT32_MAX
  /* granule indices are int32_t */
  if (bytes / TCM_GRAN > INT32_MAX / 2) bytes = (intptr_t)(INT32_MAX / 2) * TCM_GRAN;
#endif
  void *p = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  g_tcm.mapped = p != MAP_FAILED;
  if (!g_tcm.mapped) p = aligned_alloc(TCM_BIG_ALIGN, (size_t)bytes);
  tcm_node_t *nodes = p ? calloc((size_t)(bytes / TCM_GRAN), sizeof(tcm_node_t)) : NULL;
  if (!p || !nodes) {
    if (p && g_tcm.mapped) munmap(p, (size_t)bytes);
    else free(p);
    fprintf(stderr, "hexmlir_rt: cannot create TCM arena of %lld bytes; TCM allocations will fail\n",
            (long long)bytes);
    return;
  }
  /* Touch every page now so the first kernel does not pay page faults, and
   * pin it if allowed (RLIMIT_MEMLOCK is often small: failure is fine).
   * HEXMLIR_TCM_PREFAULT=0 skips the touch (simulators: 8 MiB of memset per run). */
  if (env_int("HEXMLIR_TCM_PREFAULT", 1)) memset(p, 0, (size_t)bytes);
  if (g_tcm.mapped) (void)mlock(p, (size_t)bytes);
  g_tcm.base = p;
  g_tcm.bytes = bytes;
  g_tcm.nodes = nodes;
  g_tcm.ngran = (int32_t)(bytes / TCM_GRAN);
  nodes[0] = (tcm_node_t){.size = g_tcm.ngran, .prev = -1, .head = 1, .used = 0};
  g_tcm.free_head = -1;
  fl_insert(0);
  atomic_store(&g_st.tcm_size, (int64_t)bytes);
}

static void tcm_ensure_locked(void) {
  if (!g_tcm.created) tcm_create_locked(tcm_default_bytes());
}

void hx_tcm_init(intptr_t bytes) {
  if (bytes <= 0) bytes = tcm_default_bytes();
  intptr_t want = page_round(bytes);
  pthread_mutex_lock(&g_tcm.mu);
  if (!g_tcm.created) {
    tcm_create_locked(want);
  } else if (g_tcm.bytes != want) {
    if (g_tcm.live == 0) {
      tcm_destroy_locked();
      tcm_create_locked(want);
    } else {
      fprintf(stderr, "hexmlir_rt: hx_tcm_init(%lld) ignored: arena of %lld bytes has %lld bytes live\n",
              (long long)bytes, (long long)g_tcm.bytes, (long long)g_tcm.live);
    }
  }
  pthread_mutex_unlock(&g_tcm.mu);
}

intptr_t hx_tcm_size(void) {
  pthread_mutex_lock(&g_tcm.mu);
  tcm_ensure_locked();
  intptr_t b = g_tcm.bytes;
  pthread_mutex_unlock(&g_tcm.mu);
  return b;
}

static int64_t tcm_largest_free_locked(void) {
  int64_t best = 0;
  for (int32_t i = g_tcm.free_head; i >= 0; i = g_tcm.nodes[i].fnext)
    if (g_tcm.nodes[i].size > best) best = g_tcm.nodes[i].size;
  return best * TCM_GRAN;
}

void *hx_tcm_alloc(intptr_t bytes) {
  pthread_mutex_lock(&g_tcm.mu);
  tcm_ensure_locked();
  tcm_node_t *n = g_tcm.nodes;
  int32_t best = -1, best_size = INT32_MAX, need = 0, align = 1;
  if (bytes >= 0 && n) {
    intptr_t g = bytes / TCM_GRAN + (bytes % TCM_GRAN != 0);
    if (g == 0) g = 1;
    if (g <= g_tcm.ngran) {
      need = (int32_t)g;
      align = (int64_t)need * TCM_GRAN >= TCM_BIG ? TCM_BIG_ALIGN / TCM_GRAN : 1;
      for (int32_t i = g_tcm.free_head; i >= 0; i = n[i].fnext) {
        int32_t a = (i + align - 1) / align * align;
        if ((int64_t)(a - i) + need <= n[i].size &&
            (n[i].size < best_size || (n[i].size == best_size && i < best))) {
          best = i;
          best_size = n[i].size;
        }
      }
    }
  }
  if (best < 0) {
    atomic_fetch_add(&g_st.tcm_failed, 1);
    fprintf(stderr, "hexmlir_rt: TCM alloc of %lld bytes failed (arena %lld, live %lld, largest free %lld)\n",
            (long long)bytes, (long long)g_tcm.bytes, (long long)g_tcm.live,
            (long long)(n ? tcm_largest_free_locked() : 0));
    pthread_mutex_unlock(&g_tcm.mu);
    return NULL;
  }
  int32_t i = best, size = n[i].size, end = i + size;
  int32_t a = (i + align - 1) / align * align, lead = a - i, tail = size - lead - need;
  fl_remove(i);
  int32_t before = n[i].prev;
  if (lead > 0) { /* alignment gap stays a free block */
    n[i].size = lead;
    fl_insert(i);
    before = i;
  }
  n[a] = (tcm_node_t){.size = need, .prev = before, .fprev = -1, .fnext = -1, .head = 1, .used = 1};
  int32_t last = a;
  if (tail > 0) {
    int32_t t = a + need;
    n[t] = (tcm_node_t){.size = tail, .prev = a, .head = 1, .used = 0};
    fl_insert(t);
    last = t;
  }
  if (end < g_tcm.ngran) n[end].prev = last;
  g_tcm.live += (int64_t)need * TCM_GRAN;
  atomic_store(&g_st.tcm_live, g_tcm.live);
  if (g_tcm.live > atomic_load(&g_st.tcm_high_water)) atomic_store(&g_st.tcm_high_water, g_tcm.live);
  void *p = g_tcm.base + (intptr_t)a * TCM_GRAN;
  pthread_mutex_unlock(&g_tcm.mu);
  return p;
}

void hx_tcm_free(void *p) {
  if (!p) return;
  pthread_mutex_lock(&g_tcm.mu);
  tcm_node_t *n = g_tcm.nodes;
  char *c = p;
  intptr_t off = n ? c - g_tcm.base : -1;
  int32_t i = (off >= 0 && off < g_tcm.bytes && off % TCM_GRAN == 0) ? (int32_t)(off / TCM_GRAN) : -1;
  if (i < 0 || !n[i].head || !n[i].used) {
    pthread_mutex_unlock(&g_tcm.mu);
    fprintf(stderr, "hexmlir_rt: hx_tcm_free(%p): not a live TCM block (ignored)\n", p);
    return;
  }
  n[i].used = 0;
  g_tcm.live -= (int64_t)n[i].size * TCM_GRAN;
  atomic_store(&g_st.tcm_live, g_tcm.live);
  int32_t nx = i + n[i].size;
  if (nx < g_tcm.ngran && !n[nx].used) { /* absorb the free successor */
    fl_remove(nx);
    n[i].size += n[nx].size;
    n[nx].head = 0;
    if (i + n[i].size < g_tcm.ngran) n[i + n[i].size].prev = i;
  }
  int32_t pv = n[i].prev;
  if (pv >= 0 && !n[pv].used) { /* merge into the free predecessor */
    n[pv].size += n[i].size;
    n[i].head = 0;
    if (pv + n[pv].size < g_tcm.ngran) n[pv + n[pv].size].prev = pv;
  } else {
    fl_insert(i);
  }
  pthread_mutex_unlock(&g_tcm.mu);
}

intptr_t hx_tcm_alloc_addr(intptr_t bytes) { return (intptr_t)hx_tcm_alloc(bytes); }

/* Compiler-facing TCM buffers: MLIR's C interface for `func.func @hx_tcm_buffer(index) -> memref<?xi8>`
 * and `@hx_tcm_release(memref<?xi8>)`. When the pool cannot serve a request (already reported on stderr
 * and counted in tcm_failed) the buffer comes from the heap so the kernel stays correct; release tells the
 * two apart by address. */
typedef struct { char *allocated, *aligned; intptr_t offset, size, stride; } hx_memref_i8_t;

/* The buffer's address alone (Hexagon kernels declare it `noalias align 128`, transforms/hvx.py): at least
 * 128-byte aligned (pool granule; the heap fallback is TCM_BIG_ALIGN) and distinct from every live buffer. */
void *hx_tcm_ptr(intptr_t bytes) {
  char *p = hx_tcm_alloc(bytes);
  if (!p) {
    void *h = NULL;
    if (posix_memalign(&h, TCM_BIG_ALIGN, bytes > 0 ? (size_t)bytes : 1) != 0) h = NULL;
    p = h;
  }
  return p;
}

void _mlir_ciface_hx_tcm_buffer(hx_memref_i8_t *out, intptr_t bytes) {
  char *p = hx_tcm_ptr(bytes);
  *out = (hx_memref_i8_t){p, p, 0, bytes, 1};
}

void _mlir_ciface_hx_tcm_release(hx_memref_i8_t *m) {
  char *p = m->allocated;
  if (g_tcm.base && p >= g_tcm.base && p < g_tcm.base + g_tcm.bytes)
    hx_tcm_free(p);
  else
    free(p);
}
void hx_tcm_free_addr(intptr_t addr) { hx_tcm_free((void *)addr); }

/* ======================================================================== */
/* Kernel buffers                                                            */
/* ======================================================================== */

/* Kernels free their intermediates at the end of every call. Through malloc/free the large ones go back to
 * the OS (glibc: mmap threshold, heap trimming), and the next call page-faults them in again, zeroed: half
 * of a ResNet-18 call measured on the host. A small cache of large blocks keeps them mapped; a header in
 * front of each block carries its capacity, since memref.dealloc passes the pointer alone. */
/* The header sits right before the block; the block starts BUF_HDR_BIG (large blocks: HX_BUF_ALIGN aligned)
 * or BUF_HDR_SMALL (small blocks from malloc, which is about 3x cheaper than posix_memalign: malloc's own 16-byte
 * alignment) after what the allocator returned. A block's capacity tells which. */
#define BUF_HDR_BIG HX_BUF_ALIGN
#define BUF_HDR_SMALL 16
#define BUF_HDR(cap) ((cap) >= HX_BUF_CACHE_MIN ? BUF_HDR_BIG : BUF_HDR_SMALL)
#define BUF_MAGIC ((uintptr_t)0x68786275u)  /* header check of a live block ... */
#define BUF_CACHED ((uintptr_t)0x68786263u) /* ... and of a cached one */
#if INTPTR_MAX > INT32_MAX
#define BUF_CACHE_DEFAULT ((int64_t)256 << 20)
#else
#define BUF_CACHE_DEFAULT ((int64_t)32 << 20)
#endif

typedef struct { intptr_t cap; uintptr_t check; } buf_hdr_t;
typedef struct { char *p; intptr_t cap; } buf_slot_t;   /* p: the block as handed out */

static struct {
  pthread_once_t once;
  pthread_mutex_t mu;
  _Atomic int64_t limit;              /* bytes the cache may hold; 0: off */
  buf_slot_t slot[HX_BUF_CACHE_BLOCKS]; /* oldest first */
  int n;
  int64_t bytes;
} g_buf = {.once = PTHREAD_ONCE_INIT, .mu = PTHREAD_MUTEX_INITIALIZER};

static _Atomic int64_t g_buf_hits, g_buf_misses, g_buf_live, g_buf_cached, g_buf_cached_blocks;

static void buf_init(void) {
  register_fork_handler();
  int64_t lim = env_int("HEXMLIR_BUF_CACHE", 1) ? env_int("HEXMLIR_BUF_CACHE_BYTES", BUF_CACHE_DEFAULT) : 0;
  atomic_store(&g_buf.limit, lim < 0 ? 0 : lim);
}

/* Capacity of a block for `bytes`: cacheable sizes round up to 1/8 of their power of two (at least a page),
 * so requests that differ a little share blocks, at most 12.5% wasted. */
static intptr_t buf_capacity(intptr_t bytes) {
  if (bytes < HX_BUF_CACHE_MIN) return bytes < 1 ? 1 : bytes;
  intptr_t step = 4096;
  while (step < bytes / 8 && step < INTPTR_MAX / 4) step <<= 1;
  return bytes > INTPTR_MAX - step ? bytes : (bytes + step - 1) / step * step;
}

static void buf_set_stats_locked(void) {
  atomic_store(&g_buf_cached, g_buf.bytes);
  atomic_store(&g_buf_cached_blocks, g_buf.n);
}

static void buf_remove_locked(int i) {
  g_buf.bytes -= g_buf.slot[i].cap;
  memmove(&g_buf.slot[i], &g_buf.slot[i + 1], (size_t)(g_buf.n - i - 1) * sizeof(buf_slot_t));
  g_buf.n--;
}

static inline buf_hdr_t *buf_hdr(char *p) { return (buf_hdr_t *)p - 1; }

/* Frees blocks (their user pointers). */
static void buf_release(char **blocks, int n) {
  for (int i = 0; i < n; i++) {
    buf_hdr_t *h = buf_hdr(blocks[i]);
    intptr_t cap = h->cap;
    h->check = 0;   /* a later free of it is reported, not passed to free() */
    free(blocks[i] - BUF_HDR(cap));
  }
}

static char *buf_take(intptr_t cap) {
  char *p = NULL;
  mu_lock(&g_buf.mu);
  int best = -1;
  /* Best fit, among equals the most recently freed (warmest); at most 1/4 larger than asked: a much larger
   * block would be held by a small request while the next large one mallocs anew. */
  for (int i = g_buf.n - 1; i >= 0; i--) {
    intptr_t c = g_buf.slot[i].cap;
    if (c >= cap && c - cap <= cap / 4 && (best < 0 || c < g_buf.slot[best].cap)) best = i;
  }
  if (best >= 0) {
    p = g_buf.slot[best].p;
    buf_hdr(p)->check = BUF_MAGIC ^ (uintptr_t)g_buf.slot[best].cap;
    buf_remove_locked(best);
    buf_set_stats_locked();
  }
  pthread_mutex_unlock(&g_buf.mu);
  return p;
}

void *hx_buf_alloc(intptr_t bytes) {
  if (bytes < 0 || bytes > INTPTR_MAX - 2 * BUF_HDR_BIG) return NULL;
  pthread_once(&g_buf.once, buf_init);
  intptr_t cap = buf_capacity(bytes);
  int cacheable = cap >= HX_BUF_CACHE_MIN && atomic_load_explicit(&g_buf.limit, memory_order_relaxed) > 0;
  char *p = cacheable ? buf_take(cap) : NULL;
  if (p) {
    cap = buf_hdr(p)->cap;   /* may be up to 1/4 more than asked */
    atomic_fetch_add_explicit(&g_buf_hits, 1, memory_order_relaxed);
  } else {
    void *m = NULL;
    if (cap >= HX_BUF_CACHE_MIN) {
      if (posix_memalign(&m, HX_BUF_ALIGN, (size_t)(cap + BUF_HDR_BIG)) != 0) m = NULL;
    } else {
      m = malloc((size_t)(cap + BUF_HDR_SMALL));
    }
    if (!m) return NULL;
    p = (char *)m + BUF_HDR(cap);
    buf_hdr(p)->cap = cap;
    buf_hdr(p)->check = BUF_MAGIC ^ (uintptr_t)cap;
    if (cacheable) atomic_fetch_add_explicit(&g_buf_misses, 1, memory_order_relaxed);
  }
  atomic_fetch_add_explicit(&g_buf_live, cap, memory_order_relaxed);
  return p;
}

void hx_buf_free(void *ptr) {
  if (!ptr) return;
  char *p = ptr;
  buf_hdr_t *h = buf_hdr(p);
  if (((uintptr_t)p % _Alignof(buf_hdr_t)) != 0 || (h->check ^ (uintptr_t)h->cap) != BUF_MAGIC) {
    fprintf(stderr, "hexmlir_rt: hx_buf_free(%p): not a live kernel buffer (ignored)\n", p);
    return;
  }
  intptr_t cap = h->cap;
  atomic_fetch_sub_explicit(&g_buf_live, cap, memory_order_relaxed);
  /* Evicted blocks are freed after the lock is dropped: free() of a large block is a munmap. */
  char *evict[HX_BUF_CACHE_BLOCKS + 1];
  int ne = 0;
  if (cap < HX_BUF_CACHE_MIN || cap > atomic_load_explicit(&g_buf.limit, memory_order_relaxed)) {
    evict[ne++] = p;
  } else {
    mu_lock(&g_buf.mu);
    int64_t lim = atomic_load(&g_buf.limit);   /* again under the lock: hx_buf_set_cache_bytes may lower it */
    if (cap > lim) {
      evict[ne++] = p;
    } else {
      while (g_buf.n > 0 && (g_buf.n == HX_BUF_CACHE_BLOCKS || g_buf.bytes + cap > lim)) {
        evict[ne++] = g_buf.slot[0].p;
        buf_remove_locked(0);
      }
      h->check = BUF_CACHED ^ (uintptr_t)cap;   /* a free of a cached block is reported, not cached twice */
      g_buf.slot[g_buf.n++] = (buf_slot_t){p, cap};
      g_buf.bytes += cap;
      buf_set_stats_locked();
    }
    pthread_mutex_unlock(&g_buf.mu);
  }
  buf_release(evict, ne);
}

/* Frees the cached blocks until at most `keep` bytes are cached (oldest first); returns the bytes freed. */
static intptr_t buf_shrink(int64_t keep) {
  pthread_once(&g_buf.once, buf_init);
  char *evict[HX_BUF_CACHE_BLOCKS];
  int ne = 0;
  intptr_t freed = 0;
  mu_lock(&g_buf.mu);
  while (g_buf.n > 0 && g_buf.bytes > keep) {
    freed += g_buf.slot[0].cap;
    evict[ne++] = g_buf.slot[0].p;
    buf_remove_locked(0);
  }
  buf_set_stats_locked();
  pthread_mutex_unlock(&g_buf.mu);
  buf_release(evict, ne);
  return freed;
}

intptr_t hx_buf_trim(void) { return buf_shrink(0); }

intptr_t hx_buf_set_cache_bytes(intptr_t bytes) {
  pthread_once(&g_buf.once, buf_init);
  if (bytes < 0) bytes = 0;
  intptr_t old = (intptr_t)atomic_exchange(&g_buf.limit, (int64_t)bytes);
  buf_shrink(bytes);
  return old;
}

/* ======================================================================== */
/* DMA engine                                                                */
/* ======================================================================== */

#define DMA_QCAP 256       /* copies in flight per submitting thread */
#define DMA_INFLIGHT 4096  /* copies in flight per process */
#define DMA_MAX_THREADS 64

typedef struct {
  int64_t token;
  char *dst;
  const char *src;
  intptr_t row, rows, dstride, sstride;
  int64_t due_ns; /* injected latency: not copied before this time (0: at once) */
} dma_desc_t;

/* Per-submitting-thread FIFO. ring[head..tail) are pending; ring[head] may be
 * in progress (busy). Only the owner appends; a copy thread that claimed the
 * queue (busy) pops. All fields under g_dma.mu except last_token (owner only). */
typedef struct dma_queue {
  dma_desc_t ring[DMA_QCAP];
  uint32_t head, tail;
  int busy, orphan;
  int64_t last_token;
  struct dma_queue *next;
} dma_queue_t;

static struct {
  pthread_once_t once;
  pthread_mutex_t mu;
  pthread_cond_t work_cv, space_cv;
  int ncopy, idle, space_waiters;
  dma_queue_t *queues, *rr;
  pthread_key_t key;
} g_dma = {.once = PTHREAD_ONCE_INIT, .mu = PTHREAD_MUTEX_INITIALIZER,
           .work_cv = PTHREAD_COND_INITIALIZER, .space_cv = PTHREAD_COND_INITIALIZER};

/* Last token issued, and per slot the largest complete token with that
 * residue. Slot t % DMA_INFLIGHT only ever grows, and a start waits until the
 * token DMA_INFLIGHT before it is complete, so "done[t % N] >= t" is an exact,
 * lock-free completion test for every token ever issued. */
static _Atomic int64_t g_dma_counter;
static _Atomic int64_t g_dma_done[DMA_INFLIGHT];
static _Atomic uint64_t g_dma_submits; /* lets idle copy threads spin on new work */
static hx_event_t g_dma_ev = HX_EVENT_INIT;
static HX_TLS dma_queue_t *tls_queue;

static intptr_t tok_ext(int64_t t) {
#if INTPTR_MAX >= INT64_MAX
  return (intptr_t)t;
#else
  return (intptr_t)((t - 1) % INTPTR_MAX + 1);
#endif
}

/* External token -> internal token, 0 if it names no issued copy. */
static int64_t tok_int(intptr_t e, int64_t last) {
  if (e <= 0) return 0;
  if (last < (int64_t)INTPTR_MAX) return (int64_t)e > last ? 0 : (int64_t)e;
  int64_t m = INTPTR_MAX, le = (last - 1) % m + 1;
  return last - (((le - (int64_t)e) % m + m) % m);
}

/* Injected latency (tests): -1 until HEXMLIR_DMA_LATENCY_US is read. */
static _Atomic int64_t g_dma_latency_ns = -1;

static int64_t dma_latency_ns(void) {
  int64_t v = atomic_load_explicit(&g_dma_latency_ns, memory_order_relaxed);
  if (v < 0) {
    int64_t e = env_int("HEXMLIR_DMA_LATENCY_US", 0) * 1000, unset = -1;
    atomic_compare_exchange_strong(&g_dma_latency_ns, &unset, e < 0 ? 0 : e);
    v = atomic_load_explicit(&g_dma_latency_ns, memory_order_relaxed);
  }
  return v;
}

void hx_dma_set_latency_us(intptr_t us) {
  atomic_store(&g_dma_latency_ns, us > 0 ? (int64_t)us * 1000 : 0);
}

static void dma_sleep_until(int64_t due) {
  for (int64_t w; due && (w = due - now_ns()) > 0;) {
    struct timespec ts = {(time_t)(w / 1000000000), (long)(w % 1000000000)};
    nanosleep(&ts, NULL);
  }
}

static int64_t dma_do_copy(const dma_desc_t *d) {
  if (d->row <= 0 || d->rows <= 0) return 0;
  if (d->rows == 1 || (d->dstride == d->row && d->sstride == d->row)) {
    memcpy(d->dst, d->src, (size_t)d->row * (size_t)d->rows);
  } else {
    char *dp = d->dst;
    const char *sp = d->src;
    for (intptr_t r = 0; r < d->rows; r++, dp += d->dstride, sp += d->sstride) memcpy(dp, sp, (size_t)d->row);
  }
  return (int64_t)d->row * d->rows;
}

static void dma_complete(int64_t t) {
  /* Release: the copied bytes are visible to whoever sees the token done. */
  atomic_store_explicit(&g_dma_done[t % DMA_INFLIGHT], t, memory_order_release);
  ev_notify(&g_dma_ev, INT_MAX);
}

static int dma_is_done(int64_t t) {
  return atomic_load_explicit(&g_dma_done[t % DMA_INFLIGHT], memory_order_acquire) >= t;
}

static void dma_wait_internal(int64_t t) {
  if (t <= 0 || dma_is_done(t)) return;
  int64_t budget = spin_budget_ns();
  for (;;) {
    uint32_t s = ev_seq(&g_dma_ev);
    if (dma_is_done(t)) return;
    ev_spin_wait(&g_dma_ev, s, budget);
  }
}

static void dma_account(int64_t bytes, int64_t ns) {
  atomic_fetch_add_explicit(&g_st.dma_bytes, bytes, memory_order_relaxed);
  atomic_fetch_add_explicit(&g_st.dma_copies, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&g_st.dma_ns, ns, memory_order_relaxed);
}

/* Next queue with pending work that no copy thread holds, round robin so one
 * busy thread cannot starve the others. */
static dma_queue_t *dma_claim_locked(void) {
  dma_queue_t *start = g_dma.rr && g_dma.rr->next ? g_dma.rr->next : g_dma.queues;
  dma_queue_t *q = start;
  while (q) {
    if (!q->busy && q->head != q->tail) {
      g_dma.rr = q;
      q->busy = 1;
      return q;
    }
    q = q->next ? q->next : g_dma.queues;
    if (q == start) break;
  }
  return NULL;
}

static void *dma_copy_main(void *arg) {
  (void)arg;
  int64_t budget = spin_budget_ns() / 2;
  mu_lock(&g_dma.mu);
  for (;;) {
    dma_queue_t *q = dma_claim_locked();
    if (!q) {
      /* Spin a little outside the lock for the next submission, then sleep. */
      uint64_t s = atomic_load(&g_dma_submits);
      pthread_mutex_unlock(&g_dma.mu);
      int64_t t0 = now_ns();
      for (unsigned k = 1; atomic_load(&g_dma_submits) == s; k++) {
        cpu_relax();
        if ((k & 63) == 0 && now_ns() - t0 > budget) break;
        if ((k & 127) == 0) sched_yield();
      }
      mu_lock(&g_dma.mu);
      q = dma_claim_locked();
      if (!q) {
        g_dma.idle++;
        pthread_cond_wait(&g_dma.work_cv, &g_dma.mu);
        g_dma.idle--;
        continue;
      }
    }
    dma_desc_t d = q->ring[q->head % DMA_QCAP];
    pthread_mutex_unlock(&g_dma.mu);
    dma_sleep_until(d.due_ns); /* later copies of this queue are due later: the latency does not add up */
    int64_t t0 = now_ns();
    int64_t bytes = dma_do_copy(&d);
    dma_account(bytes, now_ns() - t0);
    /* Complete before releasing the queue: keeps per-thread completion order. */
    dma_complete(d.token);
    mu_lock(&g_dma.mu);
    q->head++;
    q->busy = 0;
    if (g_dma.space_waiters) pthread_cond_broadcast(&g_dma.space_cv);
  }
  return NULL;
}

static void dma_thread_exit(void *p) {
  dma_queue_t *q = p;
  mu_lock(&g_dma.mu);
  q->orphan = 1; /* copy threads still drain it; an empty one gets reused */
  pthread_mutex_unlock(&g_dma.mu);
}

static void dma_init(void) {
  register_fork_handler();
  int64_t n = env_int("HEXMLIR_DMA_THREADS", 1);
  if (n < 0) n = 0;
  if (n > DMA_MAX_THREADS) n = DMA_MAX_THREADS;
  pthread_key_create(&g_dma.key, dma_thread_exit);
  int started = 0;
  for (int i = 0; i < n; i++) {
    pthread_t th;
    if (pthread_create(&th, NULL, dma_copy_main, NULL) != 0) break;
    pthread_detach(th);
    started++;
  }
  if (started < n)
    fprintf(stderr, "hexmlir_rt: started %d of %lld DMA copy threads%s\n", started, (long long)n,
            started ? "" : "; copies run synchronously");
  g_dma.ncopy = started;
}

static dma_queue_t *dma_my_queue(void) {
  if (tls_queue) return tls_queue;
  mu_lock(&g_dma.mu);
  dma_queue_t *q = g_dma.queues;
  while (q && !(q->orphan && q->head == q->tail && !q->busy)) q = q->next;
  if (q) {
    q->orphan = 0;
  } else if ((q = calloc(1, sizeof *q)) != NULL) {
    q->next = g_dma.queues;
    g_dma.queues = q;
  }
  pthread_mutex_unlock(&g_dma.mu);
  if (q) {
    tls_queue = q;
    pthread_setspecific(g_dma.key, q);
  }
  return q;
}

static int dma_no_spare_core(void);

static intptr_t dma_submit(dma_desc_t d) {
  pthread_once(&g_dma.once, dma_init);
  /* Copy threads only pay when each compute thread has one, on a core of its own: otherwise the issuing
   * thread copies synchronously (measured on 16 cores: compute threads sharing one copy thread reached
   * ~3x where synchronous copies reach ~12x). Injected latency always takes the asynchronous path: it is
   * there to make misplaced waits fail. */
  int64_t lat = dma_latency_ns();
  dma_queue_t *q = g_dma.ncopy > 0 && (lat > 0 || !dma_no_spare_core()) ? dma_my_queue() : NULL;
  int64_t t = atomic_fetch_add(&g_dma_counter, 1) + 1;
  d.token = t;
  d.due_ns = lat > 0 ? now_ns() + lat : 0;
  if (t > DMA_INFLIGHT) dma_wait_internal(t - DMA_INFLIGHT); /* frees slot t % N */
  if (!q) { /* no copy thread (or no memory for a queue): copy now */
    int64_t t0 = now_ns();
    int64_t bytes = dma_do_copy(&d);
    dma_account(bytes, now_ns() - t0);
    dma_complete(t);
    return tok_ext(t);
  }
  mu_lock(&g_dma.mu);
  while (q->tail - q->head == DMA_QCAP) {
    g_dma.space_waiters++;
    pthread_cond_wait(&g_dma.space_cv, &g_dma.mu);
    g_dma.space_waiters--;
  }
  q->ring[q->tail % DMA_QCAP] = d;
  q->tail++;
  q->last_token = t;
  atomic_fetch_add(&g_dma_submits, 1);
  if (g_dma.idle) pthread_cond_signal(&g_dma.work_cv);
  pthread_mutex_unlock(&g_dma.mu);
  return tok_ext(t);
}

intptr_t hx_dma_start_1d(intptr_t dst, intptr_t src, intptr_t bytes) {
  return dma_submit((dma_desc_t){0, (char *)dst, (const char *)src, bytes, 1, bytes, bytes, 0});
}

intptr_t hx_dma_start_2d(intptr_t dst, intptr_t src, intptr_t row_bytes, intptr_t rows,
                         intptr_t dst_stride_bytes, intptr_t src_stride_bytes) {
  return dma_submit((dma_desc_t){0, (char *)dst, (const char *)src, row_bytes, rows, dst_stride_bytes,
                                 src_stride_bytes, 0});
}

void hx_dma_wait(intptr_t token) {
  if (token <= 0) return;
  dma_wait_internal(tok_int(token, atomic_load(&g_dma_counter)));
}

void hx_dma_wait_all(void) {
  if (tls_queue) dma_wait_internal(tls_queue->last_token);
}

/* ======================================================================== */
/* Thread pool                                                               */
/* ======================================================================== */

/* One job slot. `state` packs: bits 0-7 workers inside the job, bits 8-15 how
 * many may join, bit 16 open, bits 17+ generation. Workers join with a CAS
 * that requires "open, same generation, room left", so a late worker can never
 * join a finished job or one being set up; the caller closes the job once all
 * indices are claimed and waits for the joined workers to leave. */
#define POOL_MAX 128
#define ST_ACTIVE(s) ((unsigned)((s) & 0xffu))
#define ST_LIMIT(s) ((unsigned)(((s) >> 8) & 0xffu))
#define ST_OPEN ((uint64_t)1 << 16)
#define ST_GEN_SHIFT 17

/* The fields every worker writes (state: joins and leaves; next: chunk claims) and the one the idle
 * workers poll (wake.seq) each get their own lines: sharing one, each claim invalidates the line under
 * every spinning worker (a region's fork/join grows by ~0.25 us per thread on the 16-core Xeon; apart,
 * MobileNetV3's 16 regions at 16 threads took 151 us instead of 165, four processes each).
 * HX_LINE is two 64-byte lines: x86's adjacent-line prefetcher moves them in pairs. */
#define HX_LINE 128
static struct {
  pthread_once_t once;
  pthread_mutex_t mu; /* held by the one top-level loop running, and by resize */
  _Atomic int nthreads;
  int ncpu, nworkers, started;
  pthread_t workers[POOL_MAX];
  /* the running loop, written by its caller before it opens `state` (read-only while open) */
  _Alignas(HX_LINE) void (*fn)(void *, intptr_t);
  void *ctx;
  _Atomic int32_t *assert_flag; /* the loop owner's assertion flag (see hx_assert_fail) */
  intptr_t n, chunk;
  int count_joined; /* the region log wants `joined` */
  _Atomic int stop;
  _Alignas(HX_LINE) _Atomic uint64_t state;
  _Alignas(HX_LINE) hx_event_t wake;
  _Alignas(HX_LINE) _Atomic intptr_t next;
  _Alignas(HX_LINE) _Atomic int joined; /* workers that ran a chunk of the running loop (the region log's) */
} g_pool = {.once = PTHREAD_ONCE_INIT, .mu = PTHREAD_MUTEX_INITIALIZER, .wake = HX_EVENT_INIT};

static HX_TLS int tls_in_loop; /* set on workers and on a caller inside its loop */

/* Failed assertions: each thread that calls a kernel has its own flag (first failed id + 1, 0: none), so
 * kernels called concurrently from several threads never see each other's failures; a pool worker running
 * a loop's chunks records into the flag of the thread that started the loop (g_pool.assert_flag). */
static HX_TLS _Atomic int32_t tls_assert_flag;
static HX_TLS _Atomic int32_t *tls_assert_target;

static _Atomic int32_t *assert_flag(void) { return tls_assert_target ? tls_assert_target : &tls_assert_flag; }

void hx_assert_fail(int32_t id) {
  int32_t none = 0;
  atomic_compare_exchange_strong(assert_flag(), &none, id < 0 || id == INT32_MAX ? INT32_MAX : id + 1);
}

int32_t hx_assert_take(void) { return atomic_exchange(&tls_assert_flag, 0) - 1; }
static _Atomic int g_loop_width;   /* threads taking part in the running top-level loop (0: none) */

/* Whether full-vector stores of a large element-wise output should bypass the cache (host kernels ask per
 * tile). A core alone is limited by the read-for-ownership of every line it stores, which non-temporal
 * stores skip; with many cores writing, memory bandwidth is the limit and a cached output stays in the
 * last-level cache for its consumer, where streaming would push it out to DRAM. Device (16-core Xeon,
 * 4M f32, shared output, 2026-12-03): streaming faster at 1-4 threads (vector add 2.82 vs 3.93 ms at 1,
 * 0.88 vs 0.97 at 4), cached faster from 8 (GELU 0.49 vs 0.58 ms at 8, 0.34 vs 0.39 at 16). */
#define HX_STREAM_MAX_THREADS 4
int32_t hx_stream_stores(void) {
  int w = tls_in_loop ? atomic_load(&g_loop_width) : 1;
  return w <= HX_STREAM_MAX_THREADS;
}

static int dma_no_spare_core(void) {
  /* inside a loop, copy threads help only if there is one per compute thread and a core for each */
  int w = atomic_load(&g_loop_width);
  return tls_in_loop && (w > g_dma.ncopy || w + g_dma.ncopy > g_pool.ncpu);
}

/* Runs chunks of the open loop until none is left; returns 1 when it ran any. */
static int pool_run_chunks(void) {
  intptr_t n = g_pool.n, chunk = g_pool.chunk;
  void (*fn)(void *, intptr_t) = g_pool.fn;
  void *ctx = g_pool.ctx;
  int ran = 0;
  for (;;) {
    /* (a read first: once all chunks are claimed, late joiners leave without a write to the line) */
    if (atomic_load_explicit(&g_pool.next, memory_order_relaxed) >= n) break;
    intptr_t i = atomic_fetch_add_explicit(&g_pool.next, chunk, memory_order_relaxed);
    if (i >= n) break;
    intptr_t e = n - i > chunk ? i + chunk : n;
    for (; i < e; i++) fn(ctx, i);
    ran = 1;
  }
  return ran;
}

static void pool_try_join(void) {
  uint64_t s = atomic_load_explicit(&g_pool.state, memory_order_acquire);
  do {
    if (!(s & ST_OPEN) || ST_ACTIVE(s) >= ST_LIMIT(s)) return;
  } while (!atomic_compare_exchange_weak_explicit(&g_pool.state, &s, s + 1, memory_order_acq_rel,
                                                  memory_order_acquire));
  tls_assert_target = g_pool.assert_flag;
  /* counted when it ran a chunk: a worker woken late can join the same open loop a second time, with
   * nothing left to take (it left the first time because nothing was) */
  if (pool_run_chunks() && g_pool.count_joined) atomic_fetch_add_explicit(&g_pool.joined, 1, memory_order_relaxed);
  tls_assert_target = NULL;
  atomic_fetch_sub_explicit(&g_pool.state, 1, memory_order_release);
}

static int64_t pool_spin_ns(void) {
  /* Oversubscribed spinning only steals the CPU from the thread we wait for. */
  return atomic_load(&g_pool.nthreads) > g_pool.ncpu ? 0 : spin_budget_ns();
}

static void *pool_worker_main(void *arg) {
  (void)arg;
  tls_in_loop = 1;
  for (;;) {
    uint32_t s = ev_seq(&g_pool.wake);
    if (atomic_load(&g_pool.stop)) break;
    pool_try_join();
    ev_spin_wait(&g_pool.wake, s, pool_spin_ns());
  }
  return NULL;
}

static void pool_init(void) {
  register_fork_handler();
  g_pool.ncpu = online_cpus();
  int64_t n = g_pool.ncpu;
  int64_t e = env_int("HEXMLIR_NUM_THREADS", 0);
  if (e > 0 && e < n) n = e;
  if (n > POOL_MAX) n = POOL_MAX;
  atomic_store(&g_pool.nthreads, (int)n);
}

static void pool_start_locked(void) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  size_t ss = 0;
  /* musl's default thread stack is 128 KiB; kernels may keep buffers on it. */
  if (pthread_attr_getstacksize(&attr, &ss) == 0 && ss < ((size_t)4 << 20))
    pthread_attr_setstacksize(&attr, (size_t)4 << 20);
  int want = atomic_load(&g_pool.nthreads) - 1;
  g_pool.nworkers = 0;
  for (int i = 0; i < want; i++) {
    if (pthread_create(&g_pool.workers[i], &attr, pool_worker_main, NULL) != 0) break;
    g_pool.nworkers++;
  }
  pthread_attr_destroy(&attr);
  if (g_pool.nworkers < want) {
    fprintf(stderr, "hexmlir_rt: started %d of %d pool workers\n", g_pool.nworkers, want);
    atomic_store(&g_pool.nthreads, g_pool.nworkers + 1);
  }
  g_pool.started = 1;
}

static void pool_stop_locked(void) {
  if (!g_pool.started) return;
  atomic_store(&g_pool.stop, 1);
  ev_notify(&g_pool.wake, INT_MAX);
  for (int i = 0; i < g_pool.nworkers; i++) pthread_join(g_pool.workers[i], NULL);
  atomic_store(&g_pool.stop, 0);
  g_pool.nworkers = 0;
  g_pool.started = 0;
}

static void run_inline(intptr_t n, void (*fn)(void *, intptr_t), void *ctx) {
  for (intptr_t i = 0; i < n; i++) fn(ctx, i);
}

/* Region log (hx_region_log): where a model's time goes, loop by loop, on the machine that runs it. */
static struct {
  pthread_mutex_t mu;
  hx_region_t *rec;
  int64_t cap;
  _Atomic int64_t next;
} g_rlog = {.mu = PTHREAD_MUTEX_INITIALIZER};
static _Atomic int g_rlog_on;
static HX_TLS int tls_rlogging;

void hx_region_log(int64_t cap) {
  pthread_mutex_lock(&g_rlog.mu);
  atomic_store(&g_rlog_on, 0);
  free(g_rlog.rec);
  g_rlog.rec = NULL;
  g_rlog.cap = 0;
  atomic_store(&g_rlog.next, 0);
  if (cap > 0 && (g_rlog.rec = calloc((size_t)cap, sizeof(hx_region_t))) != NULL) {
    g_rlog.cap = cap;
    atomic_store(&g_rlog_on, 1);
  }
  pthread_mutex_unlock(&g_rlog.mu);
}

int64_t hx_region_take(hx_region_t *out, int64_t max, int64_t *recorded) {
  pthread_mutex_lock(&g_rlog.mu);
  int64_t n = atomic_exchange(&g_rlog.next, 0);
  int64_t kept = n < g_rlog.cap ? n : g_rlog.cap;
  if (kept > max) kept = max;
  if (!out || !g_rlog.rec || kept < 0) kept = 0;
  if (kept) memcpy(out, g_rlog.rec, (size_t)kept * sizeof(hx_region_t));
  pthread_mutex_unlock(&g_rlog.mu);
  if (recorded) *recorded = n;
  return kept;
}

static void parallel_for(intptr_t n, void (*fn)(void *, intptr_t), void *ctx, int64_t *width, int64_t *joined);

void hx_parallel_for(intptr_t n, void (*fn)(void *ctx, intptr_t i), void *ctx) {
  if (n <= 0 || !fn) return;
  atomic_fetch_add_explicit(&g_st.pool_tasks, n, memory_order_relaxed);
  /* Nested loops run inline: a worker waiting on its own pool would deadlock,
   * and the outer loop already occupies every thread. */
  if (tls_in_loop) { run_inline(n, fn, ctx); return; }
  if (tls_rlogging || !atomic_load_explicit(&g_rlog_on, memory_order_relaxed)) {
    parallel_for(n, fn, ctx, NULL, NULL);
    return;
  }
  int64_t width = 1, joined = 0, t0 = now_ns();
  tls_rlogging = 1; /* a loop inside an inline one is part of it, not a record of its own */
  parallel_for(n, fn, ctx, &width, &joined);
  tls_rlogging = 0;
  int64_t t1 = now_ns();
  /* under the log's mutex: hx_region_log from another thread may free or replace the array meanwhile */
  pthread_mutex_lock(&g_rlog.mu);
  int64_t i = atomic_fetch_add(&g_rlog.next, 1);
  if (g_rlog.rec && i < g_rlog.cap) g_rlog.rec[i] = (hx_region_t){t0, t1, (int64_t)n, width, joined};
  pthread_mutex_unlock(&g_rlog.mu);
}

static void parallel_for(intptr_t n, void (*fn)(void *, intptr_t), void *ctx, int64_t *width, int64_t *joined) {
  if (n == 1) { run_inline(n, fn, ctx); return; }
  pthread_once(&g_pool.once, pool_init);
  if (atomic_load(&g_pool.nthreads) <= 1 || pthread_mutex_trylock(&g_pool.mu) != 0) {
    /* Pool busy with another thread's loop: run here rather than block. */
    run_inline(n, fn, ctx);
    return;
  }
  if (!g_pool.started) pool_start_locked();
  intptr_t nw = g_pool.nworkers < n - 1 ? g_pool.nworkers : n - 1;
  if (nw <= 0) {
    pthread_mutex_unlock(&g_pool.mu);
    run_inline(n, fn, ctx);
    return;
  }
  if (width) *width = nw + 1;
  g_pool.fn = fn;
  g_pool.ctx = ctx;
  g_pool.assert_flag = assert_flag();
  g_pool.n = n;
  /* Chunks of ~1/8 of a participant's share: few atomics for cheap bodies,
   * still some balancing for uneven ones. */
  intptr_t chunk = n / ((nw + 1) * 8);
  g_pool.chunk = chunk < 1 ? 1 : chunk;
  atomic_store_explicit(&g_pool.next, 0, memory_order_relaxed);
  atomic_store_explicit(&g_pool.joined, 0, memory_order_relaxed);
  g_pool.count_joined = joined != NULL;
  uint64_t gen = (atomic_load(&g_pool.state) >> ST_GEN_SHIFT) + 1;
  atomic_store_explicit(&g_pool.state, (gen << ST_GEN_SHIFT) | ST_OPEN | ((uint64_t)nw << 8),
                        memory_order_release);
  atomic_store(&g_loop_width, (int)nw + 1);
  ev_notify(&g_pool.wake, (int)nw);
  tls_in_loop = 1;
  pool_run_chunks();
  tls_in_loop = 0;
  atomic_fetch_and(&g_pool.state, ~ST_OPEN);
  /* Joined workers are running their last chunk; wait for them to leave. */
  for (unsigned k = 0; ST_ACTIVE(atomic_load_explicit(&g_pool.state, memory_order_acquire)) != 0; k++) {
    if (k < 2000) cpu_relax();
    else sched_yield();
  }
  atomic_store(&g_loop_width, 0);
  if (joined) *joined = atomic_load_explicit(&g_pool.joined, memory_order_relaxed);
  atomic_fetch_add_explicit(&g_st.pool_dispatches, 1, memory_order_relaxed);
  pthread_mutex_unlock(&g_pool.mu);
}

int hx_num_threads(void) {
  pthread_once(&g_pool.once, pool_init);
  return atomic_load(&g_pool.nthreads);
}

void hx_set_num_threads(int n) {
  if (tls_in_loop) return; /* would wait on the loop that is running us */
  pthread_once(&g_pool.once, pool_init);
  if (n < 1) n = 1;
  if (n > POOL_MAX) n = POOL_MAX;
  pthread_mutex_lock(&g_pool.mu);
  if (n != atomic_load(&g_pool.nthreads) || (g_pool.started && g_pool.nworkers != n - 1)) {
    pool_stop_locked();
    atomic_store(&g_pool.nthreads, n); /* workers start on the next loop */
  }
  pthread_mutex_unlock(&g_pool.mu);
}

void hx_quiesce(void) {
  /* Copy threads and pool workers spin for a while after their last work; a caller that wants the
   * next region to run alone (the packet profiler's window) waits until every one of them sleeps. */
  for (;;) {
    mu_lock(&g_dma.mu);
    int dma_busy = g_dma.idle < g_dma.ncopy;
    pthread_mutex_unlock(&g_dma.mu);
    int pool_busy = g_pool.started && atomic_load(&g_pool.wake.sleepers) < g_pool.nworkers;
    if (!dma_busy && !pool_busy) break;
    sched_yield();
  }
  /* The sleeper counts move just before the sleeping call: give that call time to be entered. */
  struct timespec ts = {0, 2000000};
  nanosleep(&ts, NULL);
}

/* ======================================================================== */
/* FMA peak probe (benchmarks: the compute ceiling a matmul is set against)  */
/* ======================================================================== */

/* HX_FMA_CHAINS independent multiply-add chains: more than latency x ports (4 x 2 on current x86 cores),
 * so the loop runs at the FMA ports' throughput. The chains converge (|a| < 1), so no value grows to inf. */
#define HX_FMA_CHAINS 16
#define HX_FMA_LOOP(T, LANES)                                                        \
  {                                                                                  \
    T acc[HX_FMA_CHAINS], a = (T){0} + g_fma_a, b = (T){0} + g_fma_b;                 \
    for (int c = 0; c < HX_FMA_CHAINS; c++) acc[c] = (T){0} + (float)c;              \
    for (int64_t i = 0; i < iters; i++)                                              \
      for (int c = 0; c < HX_FMA_CHAINS; c++) acc[c] = acc[c] * a + b; /* contracted */ \
    float s = 0;                                                                     \
    for (int c = 0; c < HX_FMA_CHAINS; c++)                                          \
      for (int l = 0; l < LANES; l++) s += acc[c][l];                                \
    g_fma_sink = s;                                                                  \
    return LANES;                                                                    \
  }
#if (defined(__x86_64__) || defined(__aarch64__)) && defined(__clang__)
static volatile float g_fma_a = 0.999f, g_fma_b = 1e-3f, g_fma_sink; /* volatile: not folded */
#endif

#if defined(__x86_64__) && defined(__clang__)
typedef float hx_v16f __attribute__((vector_size(64)));
typedef float hx_v8f __attribute__((vector_size(32)));
__attribute__((target("avx512f"))) static int fma_loop_512(int64_t iters) HX_FMA_LOOP(hx_v16f, 16)
__attribute__((target("avx2,fma"))) static int fma_loop_256(int64_t iters) HX_FMA_LOOP(hx_v8f, 8)
#endif
#if defined(__aarch64__) && defined(__clang__)
typedef float hx_v4f __attribute__((vector_size(16)));
static int fma_loop_128(int64_t iters) HX_FMA_LOOP(hx_v4f, 4)
#endif

/* iters x HX_FMA_CHAINS vector FMAs of the widest vectors this CPU has; returns the f32 lanes per vector
 * (0: no vector FMA in this build, e.g. x86 without AVX2 + FMA, Hexagon). */
static int fma_loop(int64_t iters) {
#if defined(__x86_64__) && defined(__clang__)
  if (__builtin_cpu_supports("avx512f")) return fma_loop_512(iters);
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return fma_loop_256(iters);
#elif defined(__aarch64__) && defined(__clang__)
  return fma_loop_128(iters);
#endif
  (void)iters;
  return 0;
}

static void fma_chunk(void *ctx, intptr_t i) {
  (void)i;
  fma_loop(*(int64_t *)ctx);
}

double hx_fma_peak(int64_t iters, int32_t parallel) {
  if (iters < 1) iters = 1;
  int lanes = fma_loop(1);
  if (lanes == 0) return 0.0;
  int64_t n = parallel ? hx_num_threads() : 1;
  int64_t t0 = now_ns();
  if (parallel) hx_parallel_for((intptr_t)n, fma_chunk, &iters);
  else fma_loop(iters);
  int64_t dt = now_ns() - t0;
  return dt > 0 ? 2.0 * lanes * HX_FMA_CHAINS * (double)iters * (double)n / ((double)dt * 1e-9) : 0.0;
}

/* ======================================================================== */
/* fork()                                                                    */
/* ======================================================================== */

/* Only the forking thread survives in the child: no copy threads, no workers,
 * and locks other threads held stay locked. Reset so the child works: DMA
 * becomes synchronous, the pool restarts its workers on first use, and copies
 * in flight at the fork are abandoned (marked complete so no wait hangs). */
static void reset_event(hx_event_t *e) {
  atomic_store(&e->sleepers, 0);
#ifndef HX_USE_FUTEX
  pthread_mutex_init(&e->mu, NULL);
  pthread_cond_init(&e->cv, NULL);
#endif
}

static void after_fork_child(void) {
  pthread_mutex_init(&g_tcm.mu, NULL);
  pthread_mutex_init(&g_buf.mu, NULL);
  pthread_mutex_init(&g_dma.mu, NULL);
  pthread_cond_init(&g_dma.work_cv, NULL);
  pthread_cond_init(&g_dma.space_cv, NULL);
  g_dma.ncopy = g_dma.idle = g_dma.space_waiters = 0;
  for (dma_queue_t *q = g_dma.queues; q; q = q->next) q->head = q->tail, q->busy = 0;
  int64_t last = atomic_load(&g_dma_counter);
  for (int64_t i = 0; i < DMA_INFLIGHT; i++) {
    int64_t t = last - (((last - i) % DMA_INFLIGHT) + DMA_INFLIGHT) % DMA_INFLIGHT;
    if (t > 0) atomic_store(&g_dma_done[i], t);
  }
  reset_event(&g_dma_ev);
  pthread_mutex_init(&g_pool.mu, NULL);
  pthread_mutex_init(&g_rlog.mu, NULL);
  g_pool.started = 0;
  g_pool.nworkers = 0;
  atomic_store(&g_pool.stop, 0);
  atomic_store(&g_pool.state, atomic_load(&g_pool.state) & ~(ST_OPEN | 0xffffu));
  reset_event(&g_pool.wake);
}

static void fork_once(void) { pthread_atfork(NULL, NULL, after_fork_child); }

static void register_fork_handler(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, fork_once);
}

/* ======================================================================== */
/* Stats                                                                     */
/* ======================================================================== */

void hx_get_stats(hx_stats_t *out) {
  if (!out) return;
  out->tcm_high_water = atomic_load(&g_st.tcm_high_water);
  out->tcm_live = atomic_load(&g_st.tcm_live);
  out->tcm_failed = atomic_load(&g_st.tcm_failed);
  out->tcm_size = atomic_load(&g_st.tcm_size);
  out->dma_bytes = atomic_load(&g_st.dma_bytes);
  out->dma_copies = atomic_load(&g_st.dma_copies);
  out->dma_ns = atomic_load(&g_st.dma_ns);
  out->pool_tasks = atomic_load(&g_st.pool_tasks);
  out->pool_dispatches = atomic_load(&g_st.pool_dispatches);
  out->buf_hits = atomic_load(&g_buf_hits);
  out->buf_misses = atomic_load(&g_buf_misses);
  out->buf_live = atomic_load(&g_buf_live);
  out->buf_cached = atomic_load(&g_buf_cached);
  out->buf_cached_blocks = atomic_load(&g_buf_cached_blocks);
}

void hx_reset_stats(void) {
  pthread_mutex_lock(&g_tcm.mu);
  atomic_store(&g_st.tcm_high_water, g_tcm.live);
  atomic_store(&g_st.tcm_failed, 0);
  pthread_mutex_unlock(&g_tcm.mu);
  atomic_store(&g_st.dma_bytes, 0);
  atomic_store(&g_st.dma_copies, 0);
  atomic_store(&g_st.dma_ns, 0);
  atomic_store(&g_st.pool_tasks, 0);
  atomic_store(&g_st.pool_dispatches, 0);
  atomic_store(&g_buf_hits, 0);
  atomic_store(&g_buf_misses, 0);
}
