"""MT scaling over problem size (GELU f32 and vector add, 4K..16M elements, 1..N threads), the crossover size
where MT pays, and the overheads of the MT and DB mechanisms measured on their own.

Variants per size: vec (1 thread), vec+mt(t) for each t, vec+db (1 thread), vec+mt+db (N); TCM tiling with
synchronous DMA throughout (DB makes it asynchronous); torch eager at 1 and N threads on the same inputs.

Overhead probes (tiny vector add, N x 256 elements, so the work itself is negligible):
- fork/join: the same MT artifact with the runtime pool at t threads vs at 1 (inline) -> per parallel region;
- thread start-up: hx_set_num_threads(1 -> t) plus the first call, minus a steady call;
- DMA: (synchronous-DMA build - dma-off build) / DMA copies per call -> per copy; same for the DB build.
"""
from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import numpy as np

from .ladder import _compile, _update_index, prepare, time_artifact
from .registry import REGISTRY
from .timing import measure, progress, rotation

SIZES = [1 << k for k in (12, 14, 15, 16, 17, 18, 19, 20, 22, 24)]
THREADS = (2, 4, 8, 16)
KERNELS = ("gelu", "vector_add")


def _variants(threads, isa: str = "auto"):
    from .ladder import npu_options

    def Options(**kw):
        return npu_options(isa=isa, **kw)
    sync = dict(double_buffer=False)
    N = max(threads)
    v = [("vec", 1, Options(multithread=False, **sync)), ("vec+db", 1, Options(multithread=False))]
    v += [("vec+mt", t, Options(num_threads=t, mt_threshold=1, **sync)) for t in threads]
    v.append(("vec+mt+db", N, Options(num_threads=N, mt_threshold=1)))
    return v


def build(out_dir, sizes=SIZES, threads=THREADS, kernels=KERNELS, isa: str = "auto") -> list:
    from .ladder import npu_options

    def Options(**kw):
        return npu_options(isa=isa, **kw)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    variants = _variants(threads, isa)
    bar = progress(len(sizes) * len(kernels) * len(variants), "build mt-scaling")
    for name in kernels:
        for n in sizes:
            k = REGISTRY[name].kernel({"n": n})
            for rung, t, o in variants:
                f = f"mt-{name}-{n}-{rung.replace('+', '_')}-{t}.so"
                entries.append({"kernel": name, "n": n, "rung": rung, "threads": t, "file": f,
                                "error": _compile(k.mlir, o, out / f)})
                bar.update()
    bar.close()
    # overhead probes
    pn = max(threads) * 256
    k = REGISTRY["vector_add"].kernel({"n": pn})
    probes = [("nodma", 1, Options(multithread=False, dma=False, double_buffer=False)),
              ("dma", 1, Options(multithread=False, double_buffer=False)),
              ("db", 1, Options(multithread=False))]
    # 256-element TCM tiles: one tile per thread, so the MT probe really forks and joins
    probes += [("mt", t, Options(num_threads=t, mt_threshold=1, dma=False, double_buffer=False, tile_elems=256))
               for t in threads]
    pe = []
    for what, t, o in probes:
        f = f"probe-{what}-{t}.so"
        pe.append({"probe": what, "n": pn, "threads": t, "file": f, "error": _compile(k.mlir, o, out / f)})
    _update_index(out, "mt", entries, max(threads))
    _update_index(out, "probes", pe, max(threads))
    return entries


def run(art_dir, warmup: int = 5, repeats: int = 21, with_peers: bool = True, log=print) -> list[dict]:
    d = Path(art_dir)
    idx = json.loads((d / "index.json").read_text())
    entries = idx["mt"]
    N = idx["threads"]
    rows = []
    rng = np.random.default_rng()
    keys = list(dict.fromkeys((e["kernel"], e["n"]) for e in entries))
    bar = progress(len(entries), "mt-scaling")
    for name, n in keys:
        entry = REGISTRY[name]
        k = entry.kernel({"n": n})
        sets = [k.random_inputs(rng) for _ in range(rotation(k.bytes_moved))]
        refs = k.reference(*sets[0])
        for e in [e for e in entries if (e["kernel"], e["n"]) == (name, n)]:
            bar.set_postfix_str(f"{name} n={n} {e['rung']} t={e['threads']}")
            row = {k2: e[k2] for k2 in ("kernel", "n", "rung", "threads")}
            row["impl"] = "hexmlir"
            if e["error"]:
                row.update(ms=None, note=e["error"])
            else:
                m = time_artifact(d / e["file"], sets, refs, entry.dtype, warmup, repeats)
                row.update(ms=m["median"] * 1e3, spread=m["spread"], cpu=m["cpu"], err=m["err"], ok=m["ok"],
                           GBps=k.bytes_moved / m["median"] / 1e9, dma_copies=m["dma_copies"],
                           dma_ms=m["dma_ms"])
            rows.append(row)
            bar.update()
        if with_peers:
            from . import peers
            for t in (1, N):
                m = peers.torch_eager(entry, sets, t, warmup, repeats)
                if isinstance(m, dict):
                    rows.append({"kernel": name, "n": n, "rung": "torch eager", "threads": t, "impl": "torch eager",
                                 "ms": m["median"] * 1e3, "spread": m["spread"], "cpu": m["cpu"],
                                 "GBps": k.bytes_moved / m["median"] / 1e9})
        best = min((r["ms"] for r in rows if r["kernel"] == name and r["n"] == n and r["impl"] == "hexmlir"
                    and r["ms"]), default=None)
        log(f"{name:10s} n={n:>9} best hexmlir {best:.4f} ms" if best else f"{name} n={n}: no result")
    bar.close()
    return rows


def overheads(art_dir, warmup: int = 20, repeats: int = 201, log=print) -> dict:
    """The MT and DB mechanisms' own costs (see the module docstring). Microseconds."""
    from ..artifact import Kernel
    from .. import runtime
    d = Path(art_dir)
    idx = json.loads((d / "index.json").read_text())
    probes = {(p["probe"], p["threads"]): p for p in idx["probes"] if not p["error"]}
    if not probes:
        return {"error": "no probe artifacts"}
    pn = next(iter(probes.values()))["n"]
    k = REGISTRY["vector_add"].kernel({"n": pn})
    sets = [k.random_inputs() for _ in range(2)]
    refs = k.reference(*sets[0])

    def tm(key):
        return time_artifact(d / probes[key]["file"], sets, refs, "float32", warmup, repeats)

    Kernel.load(d / next(iter(probes.values()))["file"])        # loads the runtime
    pool0 = runtime.num_threads()
    res = {"probe_elems": pn, "pool_threads": pool0, "mt": {}, "dma": {}}
    base = tm(("nodma", 1))
    res["vec_nodma_us"] = base["median"] * 1e6
    for what in ("dma", "db"):
        if (what, 1) in probes:
            m = tm((what, 1))
            per = m["dma_copies"] or float("nan")
            res["dma"][what] = {"call_us": m["median"] * 1e6, "copies_per_call": m["dma_copies"],
                                "per_copy_us": (m["median"] - base["median"]) * 1e6 / per}
    for (what, t), p in sorted(probes.items(), key=lambda kv: kv[0][1]):
        if what != "mt":
            continue
        kern = Kernel.load(d / p["file"])
        calls = prepare(kern, sets)
        fns = [c for c, _ in calls]
        runtime.set_num_threads(1)
        inline = measure(fns, warmup, repeats)["median"]
        runtime.set_num_threads(t)
        pooled = measure(fns, warmup, repeats)["median"]
        starts = []
        for _ in range(7):
            runtime.set_num_threads(1)
            t0 = time.perf_counter()
            runtime.set_num_threads(t)
            fns[0]()
            starts.append(time.perf_counter() - t0 - pooled)
        res["mt"][t] = {"inline_us": inline * 1e6, "pooled_us": pooled * 1e6,
                        "forkjoin_us": (pooled - inline) * 1e6, "startup_us": statistics.median(starts) * 1e6}
    runtime.set_num_threads(pool0)
    log(json.dumps(res, indent=1))
    return res


def main(argv=None) -> None:
    """`python -m hexmlir.bench.mt_scaling build|run DIR` (kept for docs/results.md; `hexmlir bench` is the CLI)."""
    import argparse
    ap = argparse.ArgumentParser(prog="python -m hexmlir.bench.mt_scaling")
    ap.add_argument("mode", choices=["build", "run"])
    ap.add_argument("dir")
    ap.add_argument("--threads", default="2,4,8,16")
    ap.add_argument("--repeats", type=int, default=21)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    if a.mode == "build":
        build(a.dir, threads=tuple(int(t) for t in a.threads.split(",")))
        return
    from .machine import peaks
    from .report import crossover, mt_table
    idx = json.loads((Path(a.dir) / "index.json").read_text())
    res = {"mt": run(a.dir, repeats=a.repeats), "threads": idx["threads"], "peaks": peaks(idx["threads"])}
    for k in dict.fromkeys(r["kernel"] for r in res["mt"]):
        print(f"\n{k}: crossover n = {crossover(res['mt'], k)}\n" + mt_table(res, k))
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
