"""Where a route-B model's call goes, parallel loop by parallel loop, at several thread counts (numpy only).

    python3 scripts/region_profile.py ART MODEL THREADS [CALLS]
    e.g. python3 scripts/region_profile.py /tmp/art resnet18 1,2,4,8,16 40

ART is a `hexmlir bench models --build --artifacts ART` directory. The runtime's region log
(hx_region_log) records every top-level hx_parallel_for of the kernel; per thread count the script prints
the call's median time through kernel(*arrays) (with its Python side), the same with every descriptor built
anew (as before 1065915) and through a prepared call (no Python side),
the regions' summed medians, the rest (serial code between them), buffer-cache misses per call, and one
line per region: chunks, width, pool workers that joined it (median; width - 1 when all came), median us, its speed-up over the first thread count, the serial time
between it and the region before. Load this artifact's
runtime first in the process (it has the log): run one artifact per process."""
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from hexmlir import runtime  # noqa: E402
from hexmlir.artifact import Kernel, _descriptor  # noqa: E402
import ctypes  # noqa: E402


def load(art: Path, name: str):
    idx = json.loads((art / "index.json").read_text())
    e = next(m for m in idx["models"] if m["name"] == name)
    d = art / name
    w = np.load(art / e["weights"] if e.get("weights") else d / "weights.npz")
    xs = np.load(d / "inputs.npz")
    desc = json.loads((d / e["B"] / "model.json").read_text())
    k = Kernel.load(d / e["B"] / "kernel.so")
    keys = ["x"] if "x" in xs.files else [f"x{i}" for i in range(len(xs.files))]
    args = [np.array(w[n]) for n in desc["weights"]] + [xs[k] for k in keys]      # np.array: 0-d stays 0-d
    return k, args


def main():
    art, name, threads = Path(sys.argv[1]), sys.argv[2], [int(t) for t in sys.argv[3].split(",")]
    calls = int(sys.argv[4]) if len(sys.argv) > 4 else 40
    k, args = load(art, name)
    full = k._args(args)                  # (the npz arrays are contiguous; _check would make 0-d 1-d)
    prepared = k.prepared(full)

    def fresh_descriptors():
        """kernel(*arrays) as before 1065915: every argument's descriptor built on every call."""
        a = k._args(k._check(args))
        ds = [_descriptor(x) for x in a]
        k._fn(*[ctypes.addressof(d) for d in ds])
        k._check_asserts()
        return k._results(a)

    base = None
    for t in threads:
        runtime.set_num_threads(t)
        for _ in range(5):
            k(*args)
        runtime.reset_stats()
        wall, prep, fresh = [], [], []
        for _ in range(calls):            # interleaved: a passing load hits all three alike
            for f, ts in ((k, wall), (prepared, prep), (fresh_descriptors, fresh)):
                t0 = time.perf_counter()
                f(*args) if f is k else f()
                ts.append(time.perf_counter() - t0)
        misses = runtime.stats()["buf_misses"] / (3 * calls)
        runtime.region_log(1 << 16)
        per_call, inside, ends = [], [], []
        for _ in range(calls):
            t0 = time.monotonic_ns()
            prepared()
            t1 = time.monotonic_ns()
            recs, total = runtime.regions()
            per_call.append(recs)
            inside.append((t1 - t0) / 1e3)
            ends.append(((recs[0]["t0_ns"] - t0) / 1e3, (t1 - recs[-1]["t1_ns"]) / 1e3))
        runtime.region_log(0)
        R = len(per_call[0])
        assert all(len(r) == R for r in per_call), "a varying number of regions per call"
        med = [statistics.median((c[i]["t1_ns"] - c[i]["t0_ns"]) / 1e3 for c in per_call) for i in range(R)]
        # serial code before region i (from the previous region's return; before r0: from the call's start)
        gap = [statistics.median((c[i]["t0_ns"] - c[i - 1]["t1_ns"]) / 1e3 for c in per_call) for i in range(1, R)]
        print(f"\n== {name} at {t} threads: call {statistics.median(wall) * 1e3:.3f} ms (kernel(*arrays)), "
              f"{statistics.median(fresh) * 1e3:.3f} ms with fresh descriptors (before 1065915), "
              f"{statistics.median(prep) * 1e3:.3f} ms prepared; logged calls {statistics.median(inside):.0f} us: "
              f"{R} regions {sum(med):.0f} us, rest (serial between them) {statistics.median(inside) - sum(med):.0f} us; "
              f"buffer-cache misses per call {misses:.1f}")
        print(f"  serial: before the first region {statistics.median(e[0] for e in ends):.1f} us (with the ctypes "
              f"call), between regions {sum(gap):.1f} us, after the last {statistics.median(e[1] for e in ends):.1f} us")
        for i in range(R):
            r = per_call[0][i]
            up = f"  x{base[i] / med[i]:.2f} vs {threads[0]}t" if base else ""
            before = f"  after {gap[i - 1]:6.1f} us serial" if i else ""
            joined = statistics.median(c[i]["joined"] for c in per_call)
            print(f"  r{i:<3d} chunks {r['n']:4d} width {r['width']:3d} joined {joined:4.1f} {med[i]:9.1f} us{up}{before}")
        if base is None:
            base = med


if __name__ == "__main__":
    main()
