"""Route B of one bench model (one or more `bench models --build` directories) against Inductor's C++ backend
and eager, at 1 thread, interleaved in one process: rounds alternating the order, two timed calls per turn
after one untimed; medians of wall time, its 10th percentile, and of the calling thread's CPU time (at 1
thread every route runs on the caller, so CPU time drops what other processes on a shared machine take).

    PYTHONPATH=src python3 scripts/ab_inductor.py MODEL ART1[,ART2...] [ROUNDS]
    e.g. scripts/ab_inductor.py bert /tmp/art,/tmp/art_new 30"""
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import hexmlir  # noqa: E402
from hexmlir import runtime  # noqa: E402
from hexmlir.bench.models import _load, _model_output, _named_tensors, check  # noqa: E402


def main():
    name, arts = sys.argv[1], sys.argv[2].split(",")
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    torch.set_num_threads(1)
    _, _, m, xs = _load(arts[0], name)
    sd = {n: v.detach().contiguous().numpy() for n, v in _named_tensors(m).items()}
    with torch.inference_mode():
        ref = m(*xs).numpy()
    fns = {}
    for a in arts:
        e = _load(a, name)[1]
        d = Path(a) / name / e["B"]
        k = hexmlir.load(d / "kernel.so")
        desc = json.loads((d / "model.json").read_text())
        args = [sd[n] for n in desc["weights"]] + [x.numpy() for x in xs]
        print(f"B {a}: max error vs eager {check(_model_output(k(*args), args, desc), ref):.1e}")
        fns[f"B:{a}"] = lambda k=k, args=args: k(*args)
    runtime.set_num_threads(1)      # after an artifact loaded its runtime (no clang needed, as on the device)
    import torch._inductor.config as icfg
    icfg.cpp.threads = 1
    f = torch.compile(m, backend="inductor", dynamic=False)

    def inductor():
        with torch.inference_mode():
            return f(*xs)

    def eager():
        with torch.inference_mode():
            return m(*xs)
    inductor()
    fns["inductor"], fns["eager"] = inductor, eager
    wall, cpu = {n: [] for n in fns}, {n: [] for n in fns}
    for r in range(rounds):
        for n in (list(fns) if r % 2 else list(fns)[::-1]):
            fns[n]()
            c0, t0 = time.thread_time(), time.perf_counter()
            fns[n]()
            fns[n]()
            wall[n].append((time.perf_counter() - t0) / 2)
            cpu[n].append((time.thread_time() - c0) / 2)
            runtime.load_host().hx_quiesce()
    for label, ts, q in (("wall median", wall, None), ("wall p10", wall, 10), ("cpu median", cpu, None)):
        v = {n: (statistics.median(x) if q is None else sorted(x)[len(x) // q]) * 1e3 for n, x in ts.items()}
        print(f"{name} {label}: " + "  ".join(f"{n} {t:.3f} ms" for n, t in v.items()) + "  | inductor/B: "
              + "  ".join(f"{n} {v['inductor'] / t:.3f}" for n, t in v.items() if n.startswith("B:")))


if __name__ == "__main__":
    main()
