"""GELU f32 on the host: what each pipeline mechanism buys, against torch and a copy-bandwidth floor.

Rows: scalar vs vectorized, fused vs unfused, with vs without TCM tiling, all single-threaded;
torch.nn.functional.gelu(approximate="tanh") with torch.set_num_threads(1); the bandwidth floor is
bytes moved (read x + write y) / single-thread copy bandwidth measured in the same run.
"""
from __future__ import annotations

import numpy as np

from .timing import copy_bandwidth, measure, resident_empty, rotation

ST = dict(multithread=False, dma=False, double_buffer=False)
VARIANTS = {
    "scalar (vectorize off)": dict(vectorize=False, **ST),
    "vectorized": dict(**ST),
    "vectorized, unfused": dict(fusion=False, **ST),
    "vectorized, no TCM tiling": dict(tcm_tiling=False, **ST),
    "vectorized, no fast-math": dict(fast_math=False, **ST),
}


def run(sizes, repeats: int = 15, log=print) -> list[dict]:
    import hexmlir
    from hexmlir import Options
    from hexmlir.kernels import linalg_suite as S
    rows = []
    for n in sizes:
        k = S.gelu_tanh((n,), "float32")
        nbytes = 2 * 4 * n
        rot = rotation(nbytes)
        xs = [np.random.default_rng().uniform(-6, 6, n).astype(np.float32) for _ in range(rot)]
        ys = [resident_empty(x.shape, x.dtype) for x in xs]
        bw = copy_bandwidth(nbytes, repeats)
        floor = nbytes / bw
        res = {}
        for name, kw in VARIANTS.items():
            kern = hexmlir.compile(k.mlir, Options(**kw))
            calls = [kern.prepared([x, y]) for x, y in zip(xs, ys)]
            res[name] = measure(calls, repeats=repeats)
            log(f"  n={n:>9} {name:28s} {res[name]['median'] * 1e3:9.3f} ms")
        try:
            import torch
            torch.set_num_threads(1)
            txs = [torch.from_numpy(x) for x in xs]
            res["torch gelu(tanh), 1 thread"] = measure(
                [lambda t=t: torch.nn.functional.gelu(t, approximate="tanh") for t in txs], repeats=repeats)
        except ImportError:
            pass
        res["copy floor (1 thread)"] = {"median": floor, "min": floor, "max": floor, "spread": 0.0}
        base = res["vectorized"]["median"]
        for name, r in res.items():
            rows.append({"n": n, "variant": name, "ms": r["median"] * 1e3, "spread": r["spread"],
                         "vectorized_speedup": r["median"] / base, "GBps": nbytes / r["median"] / 1e9,
                         "x_floor": r["median"] / floor})
    return rows


def table(rows) -> str:
    out = ["| n | variant | median ms | spread | time / vectorized | GB/s | time / copy floor |",
           "|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['n']} | {r['variant']} | {r['ms']:.3f} | {r['spread']:.0%} | "
                   f"{r['vectorized_speedup']:.2f} | {r['GBps']:.2f} | {r['x_floor']:.2f} |")
    return "\n".join(out)


def main(sizes=(1 << 20, 1 << 24), repeats: int = 15) -> None:
    rows = run(sizes, repeats)
    print(table(rows))
