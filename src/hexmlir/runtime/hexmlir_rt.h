/* hexmlir runtime: TCM pool, kernel buffers, DMA engine, thread pool, stats.
 *
 * One C source serves both targets: the host CPU (which emulates the NPU) and
 * hexagon-linux-musl. Every size and address is intptr_t so MLIR `index` maps
 * onto it (64-bit on the host, 32-bit on Hexagon). See docs/runtime.md.
 */
#ifndef HEXMLIR_RT_H
#define HEXMLIR_RT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- TCM pool ------------------------------------------------------------
 * One arena per process, created lazily on first use with the size from
 * hx_tcm_init, else env HEXMLIR_TCM_BYTES (K/M/G suffix allowed), else 8 MiB.
 * Allocation is best fit over a coalescing free list. Blocks of >= 4 KiB are
 * 2 KiB aligned, smaller ones 128 B aligned (one HVX vector); sizes are rounded
 * up to 128 B. A request for 0 bytes returns a distinct 128 B block. All calls
 * are thread safe. */

/* Creates the arena with `bytes` (<= 0: default). No-op if it already has that
 * size; recreates it if the size differs and nothing is allocated; otherwise
 * keeps the old arena and prints one line to stderr. */
void hx_tcm_init(intptr_t bytes);
/* Arena size in bytes (creates the arena). */
intptr_t hx_tcm_size(void);
/* NULL on failure; then stats.tcm_failed++ and one line on stderr. */
void *hx_tcm_alloc(intptr_t bytes);
/* NULL is ignored; pointers not returned by hx_tcm_alloc are reported on
 * stderr and ignored. */
void hx_tcm_free(void *p);
/* Same as hx_tcm_alloc / hx_tcm_free with the address as an integer (0 on
 * failure); this is the form compiled kernels call. */
intptr_t hx_tcm_alloc_addr(intptr_t bytes);
void *hx_tcm_ptr(intptr_t bytes);   /* a TCM buffer's address, 128-byte aligned (heap fallback 2 KiB) */
/* The compiler's TCM buffers use MLIR's C interface on memref<?xi8> descriptors
 * ({allocated, aligned, offset, size, stride}): _mlir_ciface_hx_tcm_buffer(desc *out, intptr_t bytes) and
 * _mlir_ciface_hx_tcm_release(desc *buf). A request the pool cannot serve is reported (stderr, tcm_failed)
 * and served from the heap, so the kernel stays correct. */
void hx_tcm_free_addr(intptr_t addr);

/* ---- DMA engine ----------------------------------------------------------
 * Asynchronous copies. Each submitting thread has its own FIFO queue; copy
 * threads (env HEXMLIR_DMA_THREADS, default 1) serve the queues, at most one
 * copy thread per queue at a time. With 0 copy threads (or if none could be
 * started) a copy is done synchronously inside hx_dma_start_* and its token is
 * complete on return.
 *
 * Ordering guarantee: copies submitted by one thread complete in submission
 * order, so once copy t is complete every copy its submitting thread started
 * before t is complete too. Copies from different threads are unordered.
 *
 * Tokens: a process-wide counter starting at 1, 64-bit internally; every start
 * returns a new larger token (> 0). On 32-bit targets the returned token wraps
 * from INTPTR_MAX back to 1; a wait maps it to the most recent copy with those
 * low bits, which is the right copy unless it is more than INTPTR_MAX copies old
 * (and then both are long complete). At most 4096 copies are in flight per
 * process and 256 per thread; a start beyond that blocks until one completes.
 *
 * Overlapping src and dst is undefined. Zero or negative sizes/rows are a
 * no-op copy that still gets a token and keeps its place in the order. */
intptr_t hx_dma_start_1d(intptr_t dst, intptr_t src, intptr_t bytes);
/* rows x row_bytes; row r goes from src + r*src_stride to dst + r*dst_stride. */
intptr_t hx_dma_start_2d(intptr_t dst, intptr_t src, intptr_t row_bytes, intptr_t rows,
                         intptr_t dst_stride_bytes, intptr_t src_stride_bytes);
/* Returns once copy `token` is complete; any thread may wait on any token.
 * Returns at once for token <= 0, a complete copy, or an unknown token: one
 * larger than the last token issued in this process (never issued). */
void hx_dma_wait(intptr_t token);
/* Returns once every copy started by the calling thread is complete. */
void hx_dma_wait_all(void);
/* Test switch: every copy started afterwards is done no sooner than `us`
 * microseconds after its start, by a copy thread, even where the engine would
 * otherwise copy synchronously (inside a loop wider than its copy threads), so
 * a missing or misplaced wait reads or overwrites data deterministically.
 * 0 (default; env HEXMLIR_DMA_LATENCY_US) turns it off. Needs a copy thread. */
void hx_dma_set_latency_us(intptr_t us);

/* ---- Thread pool ---------------------------------------------------------
 * Persistent workers created on first use; pool size (including the caller)
 * defaults to the online CPU count, capped by env HEXMLIR_NUM_THREADS. */

/* Runs fn(ctx, i) for every i in [0, n) exactly once and returns when all are
 * done. The caller participates. Nested calls (from inside fn) run inline,
 * sequentially, on the calling thread. The pool serves one top-level loop at a
 * time: a call from another thread while it is busy runs inline on that thread
 * (never blocks on the pool, so it cannot deadlock). */
void hx_parallel_for(intptr_t n, void (*fn)(void *ctx, intptr_t i), void *ctx);
int hx_num_threads(void);
/* 1: large element-wise outputs stored non-temporally in the running loop (few threads), 0: cached */
int32_t hx_stream_stores(void);
/* Resizes the pool to n threads including the caller (clamped to 1..128).
 * Blocks while a loop runs; ignored when called from inside a loop body. */
void hx_set_num_threads(int n);
/* Returns once every DMA copy thread and pool worker sleeps (they spin for a while after their last
 * work): what runs next runs alone, as the qemu packet profiler's kernel window needs. */
void hx_quiesce(void);

/* FMA peak probe: `iters` rounds of 16 independent f32 vector FMAs of the widest vectors the CPU has (x86:
 * AVX-512, else AVX2 + FMA; aarch64: NEON), on the caller (parallel 0) or on every pool thread at once (parallel 1,
 * one loop each); returns the FLOP/s reached (2 per lane per FMA), 0 where the build has no vector FMA. */
double hx_fma_peak(int64_t iters, int32_t parallel);

/* ---- Region log (profiling) -----------------------------------------------
 * hx_region_log(cap) starts recording every top-level hx_parallel_for call of the process (those the pool
 * runs and those run inline), at most cap records, into a fresh log; cap 0 stops and frees it. Records
 * after the log is full are counted, not kept. hx_region_take copies out up to max records in call order,
 * returns how many it copied, sets *recorded (if not NULL) to how many were recorded (kept or not)
 * and empties the log. Off by default: a loop then costs one
 * relaxed load more. Start and stop while no kernel runs. */
typedef struct {
  int64_t t0_ns, t1_ns; /* CLOCK_MONOTONIC at the call's entry and return */
  int64_t n;            /* indices (chunks) of the loop */
  int64_t width;        /* threads that may take part (1: ran inline) */
  int64_t joined;       /* pool workers that ran a chunk (width - 1 at most; fewer: some came too late) */
} hx_region_t;
void hx_region_log(int64_t cap);
int64_t hx_region_take(hx_region_t *out, int64_t max, int64_t *recorded);

/* ---- Assertions ----------------------------------------------------------
 * Compiled `cf.assert`s call hx_assert_fail(id) when their condition is false (the kernel then goes on,
 * with its accesses clamped in bounds). The first failure wins (atomic); later ones are dropped. The flag
 * belongs to the thread that called the kernel: calls from pool workers inside a hx_parallel_for land in
 * the flag of the thread that started the loop. hx_assert_take returns the calling thread's first failed
 * id (or -1 when none failed) and clears it; the artifact loader calls it after each kernel call. */
void hx_assert_fail(int32_t id);
int32_t hx_assert_take(void);

/* ---- Kernel buffers --------------------------------------------------------
 * Compiled kernels allocate their intermediate buffers (memref.alloc / dealloc)
 * here instead of malloc / free. Blocks of at least HX_BUF_CACHE_MIN bytes are
 * HX_BUF_ALIGN aligned and kept on free in a small process-wide cache
 * (at most HX_BUF_CACHE_BLOCKS blocks and env HEXMLIR_BUF_CACHE_BYTES bytes,
 * default 256 MiB; 32 MiB on 32-bit targets; oldest evicted first) and handed
 * to a later request of a fitting size (capacity between the request and 5/4 of
 * it), so a kernel called again finds its intermediates resident instead of
 * page-faulting fresh memory from the OS on every call. Smaller blocks go to
 * malloc / free (malloc's alignment, as before). Env HEXMLIR_BUF_CACHE=0 (or HEXMLIR_BUF_CACHE_BYTES=0) turns
 * the cache off. All calls are thread safe; a block may be freed on another
 * thread than the one that allocated it. NULL on failure (as malloc). */
#define HX_BUF_ALIGN 128
#define HX_BUF_CACHE_MIN (64 << 10)
#define HX_BUF_CACHE_BLOCKS 64
void *hx_buf_alloc(intptr_t bytes);
/* NULL is ignored. Only pointers returned by hx_buf_alloc. */
void hx_buf_free(void *p);
/* Frees every cached block; returns the bytes released. */
intptr_t hx_buf_trim(void);
/* Sets the cache's byte limit (0: off), freeing cached blocks beyond it; returns the old limit. */
intptr_t hx_buf_set_cache_bytes(intptr_t bytes);

/* ---- Stats ---------------------------------------------------------------
 * Counters since process start or the last hx_reset_stats. tcm_live and
 * tcm_size are state, not counters: reset keeps them and sets tcm_high_water to
 * tcm_live. dma_* count completed copies; dma_ns is time spent copying.
 * pool_tasks counts fn calls of all hx_parallel_for calls, pool_dispatches the
 * calls that were handed to the worker threads (not run inline). buf_hits /
 * buf_misses count hx_buf_alloc requests of cacheable size served from the
 * cache / from malloc; buf_live (bytes of hx_buf_alloc blocks not yet freed,
 * capacities), buf_cached and buf_cached_blocks are state, not reset. */
typedef struct {
  int64_t tcm_high_water, tcm_live, tcm_failed, tcm_size;
  int64_t dma_bytes, dma_copies, dma_ns;
  int64_t pool_tasks, pool_dispatches;
  int64_t buf_hits, buf_misses, buf_live, buf_cached, buf_cached_blocks;
} hx_stats_t;

void hx_get_stats(hx_stats_t *out);
void hx_reset_stats(void);

#ifdef __cplusplus
}
#endif
#endif /* HEXMLIR_RT_H */
