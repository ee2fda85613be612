"""Timing helpers shared by the benchmarks (numpy only, so they run where MLIR is absent)."""
from __future__ import annotations

import os
import statistics
import sys
import time

import numpy as np


def resident_empty(shape, dtype) -> np.ndarray:
    """An output buffer whose pages are already mapped. `np.empty` of a large array maps pages lazily, so the
    first call writing it pays a page fault (and the kernel's zeroing) per page inside the timed region; with
    more rotated sets than warm-up calls most timed calls did. Peers that allocate per call reuse freed
    memory through the allocator, so they never paid this."""
    a = np.empty(shape, dtype=dtype)
    a.fill(0)
    return a


def measure(fns, warmup: int = 3, repeats: int = 15) -> dict:
    """Time a list of zero-argument callables used round-robin (one per rotated input set), so caches
    do not flatter small sizes. Warm-up calls are excluded. Returns median / min / max seconds, the relative
    spread (IQR/median) and `cpu`, process CPU time over wall time during the timed calls (how many cores
    were busy: checks the thread count a peer or a rung really used)."""
    if callable(fns):
        fns = [fns]
    for i in range(warmup):
        fns[i % len(fns)]()
    ts = []
    c0, w0 = time.process_time(), time.perf_counter()
    for i in range(repeats):
        f = fns[i % len(fns)]
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    wall = time.perf_counter() - w0
    cpu = (time.process_time() - c0) / max(1e-12, wall)
    return dict(_stats(ts), cpu=cpu, wall=wall, calls=warmup + repeats)


def _stats(ts) -> dict:
    ts = sorted(ts)
    med = statistics.median(ts)
    q1, q3 = ts[len(ts) // 4], ts[(3 * len(ts)) // 4]
    return {"median": med, "min": ts[0], "max": ts[-1], "spread": (q3 - q1) / med if med else 0.0,
            "samples": ts}


def pooled(ms: list[dict]) -> dict:
    """One measure from several `measure` results of the same callable (rounds): the median and spread of all
    their timed calls, `cpu` weighted by wall time, calls summed."""
    wall = sum(m["wall"] for m in ms)
    return dict(_stats([t for m in ms for t in m["samples"]]), wall=wall, calls=sum(m["calls"] for m in ms),
                cpu=sum(m["cpu"] * m["wall"] for m in ms) / max(1e-12, wall))


def llc_bytes() -> int:
    """Twice the last-level cache as sysfs reports it (at least 64 MiB): the working set to exceed."""
    size = 0
    for idx in range(8):
        try:
            txt = open(f"/sys/devices/system/cpu/cpu0/cache/index{idx}/size").read().strip()
        except OSError:
            continue
        mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(txt[-1:], 1)
        size = max(size, int(txt.rstrip("KMG")) * mult)
    return max(64 << 20, 2 * size)


_LLC = llc_bytes()


def rotation(nbytes: int, llc_bytes: int | None = None) -> int:
    """How many input sets to rotate through so that the working set exceeds the last-level cache."""
    return max(1, min(32, -(-(llc_bytes or _LLC) // max(1, nbytes))))


def copy_bandwidth(nbytes: int, repeats: int = 15, threads: int = 1) -> float:
    """Copy bandwidth in bytes/s (read + write counted) with numpy, on `threads` Python threads each copying
    a contiguous slice (numpy releases the GIL inside the copy loop)."""
    n = max(threads, nbytes // 8)
    k = rotation(16 * n)
    srcs = [np.random.rand(n) for _ in range(k)]
    dsts = [resident_empty(s.shape, s.dtype) for s in srcs]
    if threads == 1:
        fns = [lambda s=s, d=d: np.copyto(d, s) for s, d in zip(srcs, dsts)]
        t = measure(fns, repeats=repeats)["median"]
    else:
        from concurrent.futures import ThreadPoolExecutor
        pool = ThreadPoolExecutor(threads)
        cuts = np.linspace(0, n, threads + 1).astype(int)

        def par(s, d):
            list(pool.map(lambda i: np.copyto(d[cuts[i]:cuts[i + 1]], s[cuts[i]:cuts[i + 1]]), range(threads)))
        t = measure([lambda s=s, d=d: par(s, d) for s, d in zip(srcs, dsts)], repeats=repeats)["median"]
        pool.shutdown()
    return 2 * n * 8 / t


def torch_copy_bandwidth(nbytes: int, threads: int, repeats: int = 15) -> float | None:
    """Copy bandwidth (bytes/s, read + write) of torch's parallel copy_ at `threads` threads; None without torch."""
    try:
        import torch
    except ImportError:
        return None
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        n = max(1, nbytes // 4)
        k = rotation(8 * n)
        srcs = [torch.rand(n) for _ in range(k)]
        dsts = [torch.empty_like(s) for s in srcs]
        t = measure([lambda s=s, d=d: d.copy_(s) for s, d in zip(srcs, dsts)], repeats=repeats)["median"]
        return 2 * n * 4 / t
    finally:
        torch.set_num_threads(old)


def peak_flops(threads: int, n: int = 2048, repeats: int = 7) -> tuple[float, str]:
    """Measured f32 GFLOP/s peak: a large matmul through torch (MKL/oneDNN) at `threads` threads, else numpy
    BLAS (thread count not controlled). Returns (flop/s, what measured it)."""
    try:
        import torch
        old = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            a, b = torch.rand(n, n), torch.rand(n, n)
            t = measure(lambda: a @ b, warmup=2, repeats=repeats)["median"]
            return 2 * n ** 3 / t, f"torch matmul {n}^3 f32, {threads} threads"
        finally:
            torch.set_num_threads(old)
    except ImportError:
        a, b = np.random.rand(n, n).astype(np.float32), np.random.rand(n, n).astype(np.float32)
        t = measure(lambda: a @ b, warmup=2, repeats=repeats)["median"]
        return 2 * n ** 3 / t, f"numpy matmul {n}^3 f32 (BLAS threads not controlled)"


class _Bar:
    """Minimal progress bar on stderr (used when tqdm is not installed)."""

    def __init__(self, total: int, desc: str = ""):
        self.total, self.n, self.desc, self.t0 = total, 0, desc, time.time()
        self.post = ""
        self._draw()

    def _draw(self):
        w = 30
        done = int(w * self.n / max(1, self.total))
        sys.stderr.write(f"\r{self.desc} [{'#' * done}{'.' * (w - done)}] {self.n}/{self.total} "
                         f"{time.time() - self.t0:5.0f}s {self.post[:40]:40s}")
        sys.stderr.flush()

    def set_postfix_str(self, s: str):
        self.post = s
        self._draw()

    def update(self, k: int = 1):
        self.n += k
        self._draw()

    def close(self):
        sys.stderr.write("\n")


def progress(total: int, desc: str = ""):
    """A progress bar: tqdm if installed, else a small stderr fallback. HEXMLIR_NO_PROGRESS=1 silences it."""
    if os.environ.get("HEXMLIR_NO_PROGRESS"):
        class _Null:
            def update(self, k=1): pass
            def set_postfix_str(self, s): pass
            def close(self): pass
        return _Null()
    try:
        from tqdm import tqdm
        return tqdm(total=total, desc=desc, leave=False)
    except ImportError:
        return _Bar(total, desc)


ROUNDS = 3              # each row's timed calls are spread over this many rounds, interleaved with the others'
# between rows in a round, so that the previous row's threads have stopped spinning: libgomp's (torch eager,
# Inductor) spin GOMP_SPINCOUNT = 300000 pauses, ~10-20 ms at ~140 cycles per pause; ours 50 us (HEXMLIR_SPIN_US)
ROUND_GAP_S = 0.05


def per_round(repeats: int, rounds: int = ROUNDS) -> int:
    """Timed calls per round for `repeats` over `rounds` (a parked peer is started with it: its go() times
    that many, whatever `time_in_rounds` passes)."""
    return max(1, -(-repeats // rounds))


PIN_ENV = "HEXMLIR_BENCH_PIN"      # "0": time 1-thread rows wherever the scheduler puts them


def one_cpu() -> int | None:
    """The CPU that a run's 1-thread rows share (`pin_process`, `time_in_rounds`'s `cpus`): the last one this
    process may use; None where affinity is not supported or HEXMLIR_BENCH_PIN=0.

    On the lent KVM guest the 1-thread speed moves with the machine's state (2026-12-04 probe: route B and
    eager interleaved in one process kept their ratio within +-7% while both moved 7.4 <-> 12.2 ms from
    process to process, pinned or not), and Inductor is timed in a process of its own: on one CPU every
    route's 1-thread row runs where the others do. (Four bench runs that day, two pinned, two not, gave the
    same run-to-run range of ratios: pinning removes a variable, it did not remove the spread.)"""
    if os.environ.get(PIN_ENV, "1") == "0" or not hasattr(os, "sched_getaffinity"):
        return None
    return max(os.sched_getaffinity(0))


def pin_process(pid: int, cpus: set) -> None:
    """Every thread of process `pid` (a parked peer serving one thread count) on `cpus`; threads it starts
    later inherit their creator's affinity."""
    import glob
    for task in glob.glob(f"/proc/{pid}/task/*"):
        try:
            os.sched_setaffinity(int(task.rsplit("/", 1)[1]), cpus)
        except OSError:                 # a thread that ended meanwhile
            pass


class on_cpus:
    """The calling thread on `cpus` inside the block (None: unchanged), its affinity restored after."""

    def __init__(self, cpus):
        self.cpus, self.old = cpus, None

    def __enter__(self):
        if self.cpus is not None:
            self.old = os.sched_getaffinity(0)
            os.sched_setaffinity(0, self.cpus)

    def __exit__(self, *exc):
        if self.old is not None:
            os.sched_setaffinity(0, self.old)


def time_in_rounds(timers, warmup: int, repeats: int, rounds: int = ROUNDS, seed: int = 0, cpus=None) -> list:
    """Time every (head, timer) of `timers` in `rounds` rounds, each row once per round in a shuffled order
    (warmup + repeats/rounds calls each time); a row's result pools its rounds (`pooled`) with its head
    (err, ok, compile_s). A head that is a string (why the row cannot run) is passed through.

    Rows timed one after the other each see the machine as it was then: on the shared device a load that
    came and went (2026-12-03: the same 1-thread rung 2.89 ms in one run and 3.71 ms in the next, its peers
    the other way round) moved whole rows. Interleaved, a passing load is spread over every row.
    `cpus[i]` (a set, or None) is the affinity of the calling thread while row i is timed (`one_cpu`)."""
    per = per_round(repeats, rounds)
    got = [[] for _ in timers]
    order = [i for i, (head, _) in enumerate(timers) if not isinstance(head, str)]
    rng = np.random.default_rng(seed)
    for _ in range(rounds):
        rng.shuffle(order)
        for i in order:
            if isinstance(got[i], str):
                continue
            time.sleep(ROUND_GAP_S)
            with on_cpus(cpus[i] if cpus else None):
                m = timers[i][1](warmup, per)
            got[i] = m if isinstance(m, str) else got[i] + [m]      # a peer process died: the row says why
    out = []
    for (head, _), ms in zip(timers, got):
        if isinstance(head, str) or isinstance(ms, str):
            out.append(head if isinstance(head, str) else ms)
            continue
        r = pooled(ms)
        for key in ("dma_copies", "dma_ms", "dma_bytes"):
            if key in ms[0]:
                r[key] = sum(m[key] for m in ms) / len(ms)
        out.append({**r, **{k_: v for k_, v in head.items() if k_ not in r}})
    return out
