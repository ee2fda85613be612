"""Route B artifacts of one model from several `bench models` directories, timed interleaved in one
process (numpy only): per thread count, rounds alternating the order, two timed calls per turn after one
untimed, medians. Outputs are checked equal to the first directory's within 1e-4 of the largest.

    python3 scripts/ab_models.py MODEL THREADS ART1,ART2[,...] [ROUNDS]
    e.g. python3 scripts/ab_models.py resnet18 1,16 /tmp/art,/tmp/art_thr 40"""
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from region_profile import load  # noqa: E402
from hexmlir import runtime  # noqa: E402


def main():
    name, threads, arts = sys.argv[1], [int(t) for t in sys.argv[2].split(",")], sys.argv[3].split(",")
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 40
    ks = {}
    for a in arts:
        k, args = load(Path(a), name)
        ks[a] = (k, args, np.asarray(k(*args), np.float64))
    ref = ks[arts[0]][2]
    for a, (_, _, out) in ks.items():
        err = float(np.max(np.abs(out - ref)) / max(1.0, float(np.max(np.abs(ref)))))
        print(f"{a}: max error vs {arts[0]} {err:.1e}" + ("  MISMATCH" if err > 1e-4 else ""))
    for t in threads:
        runtime.set_num_threads(t)
        ts = {a: [] for a in ks}
        for r in range(rounds):
            order = list(ks) if r % 2 else list(ks)[::-1]
            for a in order:
                k, args, _ = ks[a]
                k(*args)                      # wakes this variant's pool after the previous one's
                t0 = time.perf_counter()
                k(*args)
                k(*args)
                ts[a].append((time.perf_counter() - t0) / 2)
        print(f"{t} threads: " + "  ".join(f"{a} {statistics.median(v) * 1e3:.3f} ms" for a, v in ts.items()))


if __name__ == "__main__":
    main()
