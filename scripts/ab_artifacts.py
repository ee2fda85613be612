"""A/B of host artifact variants against torch eager, interleaved in one process (numpy + torch only).

    python3 scripts/ab_artifacts.py ROOT VARIANTS KERNELS [THREADS]

ROOT/VARIANT/ holds `hexmlir bench host-build` artifacts of one code variant (VARIANTS comma-separated);
the 16-thread artifact is timed for THREADS > 1 (the pool's width set by the machine), the 1-thread one
otherwise. Rounds in a shuffled order; per round and variant a 3 ms sleep (the previous variant's spinning
threads go to sleep), one untimed call, three timed calls on rotated inputs (> 2x LLC); shared outputs;
median ms per variant. Used for docs/benchmarks/chunks_s21.txt."""
import sys, json, statistics, time
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from hexmlir.artifact import Kernel
from hexmlir.bench.timing import rotation, resident_empty
from hexmlir.bench.registry import REGISTRY
import torch
root = Path(sys.argv[1]); variants = sys.argv[2].split(","); kernels = sys.argv[3].split(",")
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 16
torch.set_num_threads(threads)
res = {}
for name in kernels:
    bk = REGISTRY[name]; lk = bk.kernel()
    rng = np.random.default_rng(0)
    one = lk.random_inputs(rng)
    nbytes = sum(a.nbytes for a in one) + sum(int(np.prod(s)) * np.dtype(d).itemsize for s, d in lk.outputs)
    R = rotation(nbytes)
    sets = [one] + [lk.random_inputs(rng) for _ in range(R - 1)]
    outs = [resident_empty(s, np.dtype(d)) for s, d in lk.outputs]
    ref = lk.reference(*sets[0])
    time.sleep(0.5)  # let BLAS threads of the reference go idle
    fns = {}
    for v in variants:
        k = Kernel.load(root / v / (f"ladder-{name}-host_mt-16.so" if threads > 1 else f"ladder-{name}-host-1.so"))
        k.run(list(sets[0]) + outs)
        err = max(float(np.max(np.abs(o.astype(np.float64) - r))) for o, r in zip(outs, ref))
        fns[v] = [k.prepared(list(s) + outs) for s in sets]
        print(name, v, "err", err, flush=True)
    ts_ = [[torch.from_numpy(a) for a in s] for s in sets]
    fns["eager"] = [lambda s=s: bk.torch_fn(torch, *s) for s in ts_]
    ts = {k: [] for k in fns}
    order = list(fns)
    prng = np.random.default_rng(1)
    for rnd in range(30):
        prng.shuffle(order)      # no variant always follows the same one
        for v in order:
            calls = fns[v]
            time.sleep(0.003)    # the previous variant's spinning threads go to sleep first
            for j in range(4):   # the first call of a group wakes this variant's threads: not timed
                c = calls[(rnd * 4 + j) % R]
                t0 = time.perf_counter(); c(); dt = time.perf_counter() - t0
                if rnd >= 2 and j: ts[v].append(dt)
    for v in ts:
        res[f"{name}/{v}"] = statistics.median(ts[v]) * 1e3
        print(f"{name:12s} {v:8s} {res[f'{name}/{v}']:.3f} ms", flush=True)
print(json.dumps(res))
