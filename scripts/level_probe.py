"""Route B and eager PyTorch at 1 thread, one call each in turn, in this one process: their medians, ratio,
the CPUs the thread ran on, minor page faults per route-B call, the CPU's MHz and the process's transparent
huge pages (numpy, torch; no MLIR). Run it in several processes one after another to tell a machine-wide
level (both routes move, the ratio stays) from something of route B's own (only route B moves).

    python3 scripts/level_probe.py ART MODEL[,MODEL...] PIN_CPU|-1 ROUNDS
    e.g. for p in -1 3 -1 12; do python3 scripts/level_probe.py /tmp/art qwen2,bert $p 30; done

ART is a `hexmlir bench models --build` directory. With T16=MODEL[,...] in the environment (and no pin),
those models are also timed at 16 threads, route B and eager in turn (eager's OpenMP threads spin into the
next route-B call there: read those rows as an upper bound). Prints one JSON line."""
import json, os, resource, statistics, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import numpy as np
art, models, pin, rounds = Path(sys.argv[1]), sys.argv[2].split(","), int(sys.argv[3]), int(sys.argv[4])
if pin >= 0:
    os.sched_setaffinity(0, {pin})
import torch
from region_profile import load
from hexmlir import runtime
from hexmlir.bench.models import _load

def cpu_now():
    return int(Path("/proc/thread-self/stat").read_text().rsplit(")", 1)[1].split()[36])

def mhz(c):
    blk = Path("/proc/cpuinfo").read_text().split("\n\n")
    for b in blk:
        if f"processor\t: {c}\n" in b + "\n":
            for l in b.splitlines():
                if l.startswith("cpu MHz"):
                    return float(l.split(":")[1])

def ahp():
    for l in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if l.startswith("AnonHugePages"):
            return int(l.split()[1])

torch.set_num_threads(1)
out = {"pin": pin, "pid": os.getpid(), "models": {}}
for name in models:
    k, args = load(art, name)
    _, _, m, xs = _load(art, name)
    runtime.set_num_threads(1)
    for _ in range(5):
        k(*args)
        with torch.inference_mode(): m(*xs)
    tb, te, cpus, flt = [], [], set(), []
    for r in range(rounds):
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t0 = time.perf_counter(); k(*args); t1 = time.perf_counter()
        flt.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
        cpus.add(cpu_now())
        with torch.inference_mode():
            t2 = time.perf_counter(); m(*xs); t3 = time.perf_counter()
        tb.append(t1 - t0); te.append(t3 - t2)
    mb, me = statistics.median(tb) * 1e3, statistics.median(te) * 1e3
    out["models"][name] = dict(B=round(mb, 3), Bmin=round(min(tb) * 1e3, 3), eager=round(me, 3),
                               emin=round(min(te) * 1e3, 3), ratio=round(me / mb, 3), cpus=sorted(cpus),
                               flt=statistics.median(flt), mhz=mhz(cpu_now()), ahp_kb=ahp())
if pin < 0 and os.environ.get("T16"):
    for name in os.environ["T16"].split(","):
        k, args = load(art, name); _, _, m, xs = _load(art, name)
        torch.set_num_threads(16); runtime.set_num_threads(16)
        for _ in range(5):
            k(*args)
            with torch.inference_mode(): m(*xs)
        tb, te = [], []
        for r in range(rounds):
            t0 = time.perf_counter(); k(*args); t1 = time.perf_counter()
            runtime.load_host().hx_quiesce()
            with torch.inference_mode():
                t2 = time.perf_counter(); m(*xs); t3 = time.perf_counter()
            tb.append(t1 - t0); te.append(t3 - t2)
        q = sorted(tb)
        out["models"][name + "@16"] = dict(B=round(statistics.median(tb) * 1e3, 3), Bq=[round(q[len(q)//4]*1e3,3), round(q[3*len(q)//4]*1e3,3)],
                                           eager=round(statistics.median(te) * 1e3, 3))
print(json.dumps(out))
