"""MT scaling of GELU f32 (and a copy kernel as the bandwidth limit) over problem size and threads.

`build(out_dir)` compiles the artifacts here (needs MLIR); `run(artifacts)` times them with numpy + ctypes
only, so the sweep can run on a bigger machine without MLIR (carry the directory there).
Rungs: scalar -> +Vec -> +Vec+MT(t) -> +Vec+MT(t)+DB, TCM tiling with synchronous DMA at every rung (DB
makes it asynchronous). Medians of repeats after warm-up, inputs rotated.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .timing import measure, rotation

SIZES = [1 << k for k in (12, 14, 15, 16, 17, 18, 19, 20, 22, 24)]

COPY = """
#map = affine_map<(d0) -> (d0)>
func.func @copy(%x: tensor<{n}xf32>) -> tensor<{n}xf32> {{
  %e = tensor.empty() : tensor<{n}xf32>
  %r = linalg.generic {{indexing_maps = [#map, #map], iterator_types = ["parallel"]}}
       ins(%x : tensor<{n}xf32>) outs(%e : tensor<{n}xf32>) {{
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }} -> tensor<{n}xf32>
  return %r : tensor<{n}xf32>
}}"""


def build(out_dir, sizes=SIZES, threads=(2, 4, 8, 16)) -> None:
    import hexmlir
    from hexmlir import Options
    from hexmlir.kernels import linalg_suite as S
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    index = []
    for n in sizes:
        gelu = S.gelu_tanh((n,)).mlir
        # TCM tiling with synchronous DMA at every rung; DB is the last rung
        sync = dict(double_buffer=False)
        variants = [("gelu", "scalar", 1, gelu, Options(vectorize=False, multithread=False, **sync)),
                    ("gelu", "vec", 1, gelu, Options(multithread=False, **sync)),
                    ("gelu", "vec+db", 1, gelu, Options(multithread=False)),
                    ("copy", "vec", 1, COPY.format(n=n), Options(multithread=False, **sync))]
        for t in threads:
            variants.append(("gelu", "vec+mt", t, gelu, Options(num_threads=t, mt_threshold=1, **sync)))
            variants.append(("gelu", "vec+mt+db", t, gelu, Options(num_threads=t, mt_threshold=1)))
            variants.append(("copy", "vec+mt", t, COPY.format(n=n), Options(num_threads=t, mt_threshold=1, **sync)))
        for kname, rung, t, src, o in variants:
            name = f"{kname}-{n}-{rung}-{t}"
            hexmlir.compile(src, o, emit="so", output=str(out / f"{name}.so"))
            index.append({"file": f"{name}.so", "kernel": kname, "n": n, "rung": rung, "threads": t})
    (out / "index.json").write_text(json.dumps(index, indent=1))


def run(artifacts, repeats: int = 21, log=print) -> list[dict]:
    from hexmlir.artifact import Kernel
    d = Path(artifacts)
    index = json.loads((d / "index.json").read_text())
    rows = []
    for i, e in enumerate(index):
        k = Kernel.load(d / e["file"])
        n = e["n"]
        rot = rotation(8 * n)
        sets = [[np.random.default_rng().uniform(-6, 6, n).astype(np.float32), np.empty(n, np.float32)]
                for _ in range(rot)]
        r = measure([k.prepared(s) for s in sets], warmup=5, repeats=repeats)
        row = {**e, "ms": r["median"] * 1e3, "spread": r["spread"], "GBps": 8 * n / r["median"] / 1e9}
        rows.append(row)
        log(f"[{i + 1}/{len(index)}] {e['kernel']:5s} n={n:>9} {e['rung']:7s} t={e['threads']:>2} "
            f"{row['ms']:9.4f} ms {row['GBps']:7.2f} GB/s")
    return rows


def table(rows) -> str:
    by = {(r["kernel"], r["n"], r["rung"], r["threads"]): r for r in rows}
    threads = sorted({r["threads"] for r in rows if r["rung"] == "vec+mt"})
    sizes = sorted({r["n"] for r in rows})
    head = ("| n | scalar ms | vec ms | vec/scalar | DB x vec (1t) | " +
            " | ".join(f"MT{t} x vec | +DB{t} x MT{t}" for t in threads) + " | best GB/s | copy GB/s | best / copy |")
    out = [head, "|" + "---:|" * (head.count("|") - 1)]
    for n in sizes:
        g = lambda rung, t=1: by[("gelu", n, rung, t)]["ms"]  # noqa: E731
        s, v = g("scalar"), g("vec")
        cells = []
        for t in threads:
            cells += [f"{v / g('vec+mt', t):.2f}", f"{g('vec+mt', t) / g('vec+mt+db', t):.2f}"]
        best = min([v, g("vec+db")] + [g(r, t) for t in threads for r in ("vec+mt", "vec+mt+db")])
        copy = min([by[("copy", n, "vec", 1)]["ms"]] + [by[("copy", n, "vec+mt", t)]["ms"] for t in threads])
        out.append(f"| {n} | {s:.3f} | {v:.3f} | {s / v:.1f}x | {v / g('vec+db'):.2f} | " + " | ".join(cells) +
                   f" | {8 * n / best / 1e6:.1f} | {8 * n / copy / 1e6:.1f} | {copy / best:.2f} |")
    return "\n".join(out)


def main(argv=None) -> None:
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
    else:
        rows = run(a.dir, a.repeats)
        print(table(rows))
        if a.json:
            Path(a.json).write_text(json.dumps({"rows": rows, "cpus": os.cpu_count()}, indent=1))


if __name__ == "__main__":
    main()
