"""How close 1-thread f32 matmuls come to the CPU's vector-FMA ceiling: in one pinned process, rounds of the FMA
probe (`runtime.fma_peak`), torch's mm at 2048^3 and, per shape of an `mm_sweep.py build` directory, torch's
mm / F.linear and hexmlir's default kernel; medians in GFLOP/s and as a share of the probe (numpy + torch).

    python3 scripts/fma_ceiling.py RUNTIME_SO MM_SWEEP_ART [CPU] [ROUNDS]

RUNTIME_SO: a libhexmlir_rt.so with hx_fma_peak (any artifact built since it), loaded before the kernels."""
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import numpy as np  # noqa: E402
import torch  # noqa: E402
from hexmlir import runtime  # noqa: E402
from hexmlir.artifact import Kernel  # noqa: E402
sys.path.insert(0, str(Path(__file__).resolve().parent))
from mm_sweep import case  # noqa: E402

rt, art = Path(sys.argv[1]), Path(sys.argv[2])
cpu = int(sys.argv[3]) if len(sys.argv) > 3 else 3
rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 7
os.sched_setaffinity(0, {cpu})
torch.set_num_threads(1)
runtime.load_host(rt)
runtime.set_num_threads(1)


def gflops(fn, flop, calls=3):
    fn()
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return flop * calls / (time.perf_counter() - t0) / 1e9


big = torch.rand(2048, 2048), torch.rand(2048, 2048)
cases = {"torch mm 2048^3": (lambda: torch.mm(*big), 2 * 2048 ** 3)}
for e in json.loads((art / "index.json").read_text()):
    if e["variant"] != "default" or e["threads"] != 1:
        continue
    kind, m, n, k = e["kind"], e["m"], e["n"], e["k"]
    a, b, ref, torch_fn = case(kind, m, n, k)
    kern = Kernel.load(art / e["dir"] / "kernel.json")
    assert np.abs(kern(a, b) - ref).max() <= 1e-4 * np.abs(ref).max()
    name = f"{'A B' if kind == 'mm' else 'A W^T'} {m}x{n}x{k}"
    cases[f"torch {name}"] = (torch_fn, 2 * m * n * k)
    cases[f"hexmlir {name}"] = (lambda kern=kern, a=a, b=b: kern(a, b), 2 * m * n * k)
got = {c: [] for c in ["FMA probe", *cases]}
for r in range(rounds):
    got["FMA probe"].append(runtime.fma_peak(1, seconds=0.05, repeats=1) / 1e9)
    for c, (fn, flop) in cases.items():
        got[c].append(gflops(fn, flop))
peak = statistics.median(got["FMA probe"])
for c, v in got.items():
    g = statistics.median(v)
    print(f"{c:32s} {g:7.1f} GFLOP/s  {100 * g / peak:5.1f}% of the probe  (range {min(v):.0f}-{max(v):.0f})")
