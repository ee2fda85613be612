"""Timing helpers shared by the benchmarks (numpy only, so they run where MLIR is absent)."""
from __future__ import annotations

import statistics
import time

import numpy as np


def measure(fns, warmup: int = 3, repeats: int = 15) -> dict:
    """Time a list of zero-argument callables used round-robin (one per rotated input set), so caches
    do not flatter small sizes. Returns median / min / max seconds and the relative spread (IQR/median)."""
    if callable(fns):
        fns = [fns]
    for i in range(warmup):
        fns[i % len(fns)]()
    ts = []
    for i in range(repeats):
        f = fns[i % len(fns)]
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    med = statistics.median(ts)
    q1, q3 = ts[len(ts) // 4], ts[(3 * len(ts)) // 4]
    return {"median": med, "min": ts[0], "max": ts[-1], "spread": (q3 - q1) / med if med else 0.0}


def rotation(nbytes: int, llc_bytes: int = 64 << 20) -> int:
    """How many input sets to rotate through so that the working set exceeds the last-level cache."""
    return max(1, min(8, -(-llc_bytes // max(1, nbytes))))


def copy_bandwidth(nbytes: int, repeats: int = 15) -> float:
    """Single-thread copy bandwidth in bytes/s (read + write counted), measured with numpy."""
    n = max(1, nbytes // 8)
    k = rotation(16 * n)
    srcs = [np.random.rand(n) for _ in range(k)]
    dsts = [np.empty_like(s) for s in srcs]
    fns = [lambda s=s, d=d: np.copyto(d, s) for s, d in zip(srcs, dsts)]
    t = measure(fns, repeats=repeats)["median"]
    return 2 * n * 8 / t
