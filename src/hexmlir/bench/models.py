"""`hexmlir bench models`: the PyTorch models of hexmlir.kernels.torch_models, per route, at 1 and N threads.

Models: the synthetic ones written there (MLP, RMSNorm + SwiGLU, conv net, GPT-2 style block) and real models
of the model corpus at bench sizes (transformers GPT-2 and LLaMA with a padding mask, ViT, ResNet-18): where
the run has no torch-mlir, the run machine builds each model again from its spec (transformers config or the
corpus's CNN class) and loads the saved weights (all parameters and buffers, so versions that initialize
differently still compute the same model).

Routes: eager PyTorch; Inductor's own C++/OpenMP CPU backend ("inductor"); route A (Inductor -> Triton ->
hexmlir, needs MLIR and triton at launch); route B (torch-mlir -> Linalg -> one hexmlir kernel).

    build(DIR)        here (MLIR, torch-mlir): per model the weights and the input (npz), route B's saved artifact
                      (built with threads on, N = --threads), and, unless told not to, a run of every route on
                      this machine (route A can run nowhere else) into DIR/dev_results.json
    run(DIR, OUT)     anywhere with numpy + torch: eager, Inductor-CPU and route B (hexmlir.load + ctypes),
                      route A where MLIR and triton are present; every output checked against eager

Timing as in docs/benchmarks.md: warm-up calls excluded, repeated calls, median and spread (IQR / median). At N
threads eager and route B run in this process (route B's threads: the runtime's hx_set_num_threads) and Inductor
in a fresh one (it bakes the OpenMP thread count into its C++). At 1 thread every route runs in each of
`procs` fresh processes together (`_one_thread_child`): on the lent machine a process's 1-thread speed moves
as a whole from one process to the next, so routes compared across processes compare their processes' luck.
Route A compiles in a fresh process (its hexmlir options are process-wide). Compile time excluded.

Kernel counts: eager = ATen ops dispatched in one call (a TorchDispatchMode counter); Inductor and route A =
kernels in the generated code (cpp / triton) and extern calls (ATen, MKL) counted apart; route B = hexmlir
kernels (1: the whole graph).
"""
from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

from .timing import ROUNDS, measure, one_cpu, per_round, pin_process, time_in_rounds

ROUTES = ("eager", "inductor", "A", "B")
SEED = 1234
ONE_THREAD_ROUTES = ("eager", "inductor", "B")
# Fresh processes that each time every 1-thread route (2026-12-04, device: MLP's Inductor / route B at 1 thread
# 1.30, 1.00 and 0.98 in three processes that timed both interleaved, 1.19 and 0.97 in two bench runs)
ONE_THREAD_PROCS = 3


def _spec(name):
    from ..kernels.torch_models import ALL_MODELS
    return ALL_MODELS[name]


def _names(models):
    from ..kernels.torch_models import ALL_MODELS, DEFAULT, GROUPS
    names = list(dict.fromkeys(n for m in (models or DEFAULT) for n in GROUPS.get(m, (m,))))
    bad = [n for n in names if n not in ALL_MODELS]
    if bad:
        from ..errors import HexmlirError
        raise HexmlirError(f"unknown model(s) {', '.join(bad)}; known: {', '.join(ALL_MODELS)}")
    return names


# ---------------------------------------------------------------------------------------------------------
# Build (development machine)

def build(art_dir, threads: int = 16, tiny: bool = False, models=None, dev_run: bool = True, warmup: int = 3,
          repeats: int = 15, log=print) -> dict:
    """Weights, inputs and route B's artifact per model into art_dir (index.json); then, with dev_run, every
    route timed here at 1 and os.cpu_count() threads into art_dir/dev_results.json."""
    import torch
    import warnings
    import hexmlir
    from ..frontends.torch import FallbackWarning
    out = Path(art_dir)
    out.mkdir(parents=True, exist_ok=True)
    size = "test" if tiny else "bench"
    idx = {"threads": threads, "size": size, "models": []}
    old = out / "index.json"
    if old.exists():                 # building some models again: keep the others (same size and threads)
        prev = json.loads(old.read_text())
        if (prev["threads"], prev["size"]) == (threads, size):
            idx["models"] = [e for e in prev["models"] if e["name"] not in _names(models)]
    from ..kernels.torch_models import ALL_MODELS
    for name in sorted(_names(models), key=list(ALL_MODELS).index):   # a model before those reusing its weights
        spec = _spec(name)
        m, xs = spec.example(size, SEED)
        d = out / name
        d.mkdir(exist_ok=True)
        w = {k: v.detach().numpy() for k, v in _named_tensors(m).items()}
        e = {"name": name, "label": spec.label, "shape": list(xs[0].shape),
             "inputs": [[str(x.dtype).replace("torch.", ""), list(x.shape)] for x in xs], "B": None, "B_error": None}
        other = getattr(spec, "weights_of", None)
        if other and _same_weights(out / other / "weights.npz", w):   # the same model: its weights not twice
            e["weights"] = f"{other}/weights.npz"
            (d / "weights.npz").unlink(missing_ok=True)
        else:
            np.savez(d / "weights.npz", **w)
        np.savez(d / "inputs.npz", **{f"x{i}": x.numpy() for i, x in enumerate(xs)})
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FallbackWarning)   # a model that falls back is reported as not built
            c = hexmlir.compile_model(m, xs, num_threads=threads)
        e["B_compile_s"] = round(time.perf_counter() - t0, 2)
        if c.compiled:
            c.save(d / "B")
            e["B"] = "B"
        else:
            e["B_error"] = c.eager_reason[:300]
        log(f"{name}: route B {'built' if e['B'] else 'not built: ' + e['B_error']} ({e['B_compile_s']} s)")
        idx["models"].append(e)
    order = list(ALL_MODELS)
    idx["models"].sort(key=lambda e: order.index(e["name"]))
    (out / "index.json").write_text(json.dumps(idx, indent=1))
    mib = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2 ** 20
    log(f"built into {out} ({mib:.1f} MiB)")
    if dev_run:
        res = run(out, None, warmup=warmup, repeats=repeats, log=log)
        (out / "dev_results.json").write_text(json.dumps(res, indent=1))
    return idx


# ---------------------------------------------------------------------------------------------------------
# Run (anywhere with numpy + torch)

def _named_tensors(m) -> dict:
    """Every parameter and buffer by name, as compile_model passes them to the kernel (tied weights once,
    non-persistent buffers such as rotary frequencies included: state_dict has the former twice, the latter
    not at all)."""
    return dict(list(m.named_parameters()) + list(m.named_buffers()))


def _same_weights(path, w) -> bool:
    """Whether the npz at `path` holds exactly the tensors `w` (name -> array)."""
    if not path.exists():
        return False
    f = np.load(path)
    return set(f.files) == set(w) and all(f[k].dtype == v.dtype and np.array_equal(f[k], v) for k, v in w.items())


def _set_weights(m, w, name) -> None:
    """Load the saved tensors `w` (name -> array) into `m`; the names must be the same set (another library
    version that names or ties them differently fails here, not as a silent mismatch)."""
    import torch
    from ..errors import HexmlirError
    have = _named_tensors(m)
    missing, extra = sorted(set(have) - set(w.files)), sorted(set(w.files) - set(have))
    if missing or extra:
        raise HexmlirError(f"{name}: the model built here does not have the saved weights' names (not saved: "
                           f"{missing[:4]}, not in the model: {extra[:4]}); library versions differ?")
    with torch.no_grad():
        for k, t in have.items():
            v = torch.from_numpy(np.array(w[k]))           # a copy; 0-d stays 0-d (BatchNorm counters)
            if tuple(v.shape) != tuple(t.shape) or v.dtype != t.dtype:
                raise HexmlirError(f"{name}: weight {k} saved as {v.dtype}{tuple(v.shape)}, the model built here "
                                   f"has {t.dtype}{tuple(t.shape)}")
            t.copy_(v)


def _load(art_dir, name):
    """(index, its entry, the model with the saved weights, its inputs as a tuple)."""
    import torch
    idx = json.loads((Path(art_dir) / "index.json").read_text())
    e = next(m for m in idx["models"] if m["name"] == name)
    m = _spec(name).make(idx["size"])
    _set_weights(m, np.load(Path(art_dir) / e.get("weights", f"{name}/weights.npz")), name)
    f = np.load(Path(art_dir) / name / "inputs.npz")
    keys = ["x"] if "x" in f.files else [f"x{i}" for i in range(len(f.files))]   # "x": artifacts of one input
    return idx, e, m, tuple(torch.from_numpy(f[k]) for k in keys)


def check(got, ref) -> float:
    """Max abs error over the output's magnitude (f32; summation orders differ)."""
    ref = np.asarray(ref, np.float64)
    return float(np.max(np.abs(np.asarray(got, np.float64) - ref)) / max(1.0, float(np.max(np.abs(ref)))))


TOL = 1e-4


def count_aten_ops(m, xs) -> int:
    """ATen ops dispatched by one eager call (inference mode)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            Count.n += 1
            return func(*args, **(kwargs or {}))
    with torch.inference_mode(), Count():
        m(*xs)
    return Count.n


def count_kernels(code: str) -> dict:
    """Kernels defined in Inductor's generated code (cpp / triton) and extern calls in it (comments skipped)."""
    lines = [ln for ln in code.splitlines() if not ln.lstrip().startswith("#")]
    src = "\n".join(lines)
    cpp = set(re.findall(r"^(cpp_\w+) = async_compile\.cpp", src, re.M))
    tri = set(re.findall(r"^(triton_\w+) = async_compile\.triton", src, re.M))
    ext = re.findall(r"(extern_kernels\.\w+|torch\.ops\.\w+\.\w+)(?:\.\w+)?\(", src)
    return {"cpp": len(cpp), "triton": len(tri), "extern": len(ext), "extern_ops": sorted(set(ext))}


def _eager(m, xs, t):
    """(head, timer) of eager PyTorch at t threads."""
    import torch

    def timer(warmup, repeats):
        torch.set_num_threads(t)
        with torch.inference_mode():
            return measure(lambda: m(*xs), warmup, repeats)
    return {"kernels": {"aten": count_aten_ops(m, xs)}}, timer


def _route_b(art_dir, e, m, xs, t):
    """(head with the first call's output, timer) of route B's artifact at t threads, or why not."""
    import hexmlir
    from .. import runtime
    if not e.get("B"):
        return f"route B not built: {e.get('B_error')}", None
    d = Path(art_dir) / e["name"] / e["B"]
    k = hexmlir.load(d / "kernel.so")
    desc = json.loads((d / "model.json").read_text())
    sd = {n: v.detach().contiguous().numpy() for n, v in _named_tensors(m).items()}
    args = [sd[n] for n in desc["weights"]] + [x.numpy() for x in xs]
    runtime.set_num_threads(t)
    out = np.asarray(_model_output(k(*args), args, desc)).copy()

    def timer(warmup, repeats):
        runtime.set_num_threads(t)
        r = measure(lambda: k(*args), warmup, repeats)
        # the pool's workers and DMA copy threads spin a while after their last work: let them sleep before
        # the next row is timed (on few cores their spinning starves torch's OpenMP threads)
        runtime.load_host().hx_quiesce()
        return r
    return {"outputs": out, "kernels": {"hexmlir": 1}}, timer


def _model_output(res, args, desc):
    """The model's (first) output among the kernel's results, as model.json's layout says."""
    (kind, i), = desc.get("outputs", [{"result": 0}])[0].items()
    if kind == "argument":
        return args[i]
    if kind != "result":
        from ..errors import HexmlirError
        raise HexmlirError(f"route B: the model's output is a {kind}, not a kernel result")
    return res[i] if isinstance(res, tuple) else res


def _inductor_here(m, xs, t, ref):
    """(head, timer) of Inductor's C++ backend compiled in this process for t threads (compile time in the
    head, excluded from the timer)."""
    import torch
    from torch._inductor.utils import run_and_get_code
    import torch._inductor.config as icfg
    icfg.cpp.threads = t                          # `#pragma omp parallel num_threads(t)` in the kernels
    f = torch.compile(m, backend="inductor", dynamic=False)
    with torch.inference_mode():
        t0 = time.perf_counter()
        out, code = run_and_get_code(f, *xs)
        head = {"compile_s": time.perf_counter() - t0, "kernels": count_kernels("\n".join(code)),
                "err": check(out.numpy(), ref)}

    def timer(warmup, repeats):
        torch.set_num_threads(t)
        with torch.inference_mode():
            return measure(lambda: f(*xs), warmup, repeats)
    return head, timer


def _one_thread_child(art_dir, name, routes, warmup, repeats) -> None:
    """In a fresh process: every route of `routes` (eager, inductor, B) at 1 thread, set up and checked here,
    then timed once per go (`peers.serve`), one round of all of them in a shuffled order
    (`timing.time_in_rounds`). Answers {"median": 0, "routes": {route: measure or why not}}."""
    import torch
    from .peers import serve
    idx, e, m, xs = _load(art_dir, name)
    torch.set_num_threads(1)
    torch._dynamo.reset()
    with torch.inference_mode():
        ref = m(*xs).numpy()
    timers = {}
    for route in routes:
        try:
            if route == "eager":
                timers[route] = _eager(m, xs, 1)
            elif route == "inductor":
                timers[route] = _inductor_here(m, xs, 1, ref)
            else:
                timers[route] = _route_b(art_dir, e, m, xs, 1)
        except Exception as ex:          # this route's row says why; the others are still timed
            timers[route] = (f"{route} failed: {type(ex).__name__}: {(str(ex).strip().splitlines() or [''])[0][:200]}",
                             None)
        head = timers[route][0]
        if isinstance(head, dict) and "outputs" in head:
            head["err"] = check(head.pop("outputs"), ref)
    heads = {r: h for r, (h, _) in timers.items()}
    goes = [0]

    def one_round():
        goes[0] += 1
        got = time_in_rounds(list(timers.values()), warmup, repeats, rounds=1, seed=goes[0])
        return {"median": 0.0, "routes": dict(zip(timers, got))}
    ind = heads.get("inductor")
    serve({"heads": heads, "compile_s": ind.get("compile_s", 0.0) if isinstance(ind, dict) else 0.0}, one_round)


def _compiled_child(route, art_dir, name, t, warmup, repeats) -> None:
    """In a fresh process: compile with Inductor (C++) or route A for t threads, count, check, then time
    (`peers.serve`: once, or parked, once per go)."""
    import torch
    from torch._inductor.utils import run_and_get_code
    from .peers import serve
    idx, e, m, xs = _load(art_dir, name)
    torch.set_num_threads(t)
    torch._dynamo.reset()
    if route == "inductor":
        with torch.inference_mode():
            ref = m(*xs).numpy()
        head, timer = _inductor_here(m, xs, t, ref)
        serve(head, lambda: timer(warmup, repeats))
        return
    from .. import runtime
    from ..frontends.torch import make_backend
    runtime.set_num_threads(t)
    f = torch.compile(m, backend=make_backend(route="inductor", num_threads=t), dynamic=False)
    with torch.inference_mode():
        t0 = time.perf_counter()
        out, code = run_and_get_code(f, *xs)
        comp = time.perf_counter() - t0
        ref = m(*xs)
        head = {"compile_s": comp, "kernels": count_kernels("\n".join(code)), "err": check(out.numpy(), ref.numpy())}
        serve(head, lambda: measure(lambda: f(*xs), warmup, repeats))


def _cmd(route, art_dir, name, t, warmup, repeats) -> list[str]:
    return [sys.executable, "-m", "hexmlir.bench.models", route, str(art_dir), name, str(t), str(warmup),
            str(repeats)]


def _in_subprocess(route, art_dir, name, t, warmup, repeats, timeout=900):
    from .peers import run_child
    return run_child(_cmd(route, art_dir, name, t, warmup, repeats), t, timeout, route, {"HEXMLIR_NO_PROGRESS": "1"})


def park_inductor(art_dir, jobs, warmup: int, repeats: int, cache_dir, workers: int | None = None) -> dict:
    """The processes that `run` times, compiled in parallel (one per core at most) and then waiting to be timed
    (`peers.park_all`): per job (model, threads) the Inductor route, per job (model, 1, i, routes) the i-th
    1-thread process of those routes (`_one_thread_child`). Returns {job: Parked or why not}."""
    from .peers import park_all
    env = {"HEXMLIR_NO_PROGRESS": "1", "TORCHINDUCTOR_CACHE_DIR": str(cache_dir)}

    def start(job):
        route = "inductor" if len(job) == 2 else "one-thread:" + ",".join(job[3])
        return _cmd(route, art_dir, job[0], job[1], warmup, repeats), job[1], route.split(":")[0], env
    return park_all({j: start(j) for j in jobs}, workers, timeout=900)


def _one_thread_rows(children, routes, rounds: int) -> dict:
    """Every 1-thread route timed in each parked `_one_thread_child` (`children`, pinned by the caller),
    `rounds` goes each, the processes taking turns: {route: pooled measure with the head and `procs_ms`
    (the median in each process), or why not}."""
    from .timing import pooled
    per = {c: {r: [] for r in routes} for c in children}
    heads, fails, why = {}, {}, {}        # a route's head (err, kernels, compile_s); why it did not run
    for _ in range(rounds):
        for c in children:
            if c in why:
                continue
            got = c.go(timeout=900)
            if isinstance(got, str):              # the process died: its rounds so far still count
                why[c] = got
                continue
            for r, h in got["heads"].items():
                (heads if isinstance(h, dict) else fails).setdefault(r, h)
            for r, g in got["routes"].items():
                if isinstance(g, str):
                    fails.setdefault(r, g)
                else:
                    per[c][r].append(g)
    out = {}
    for r in routes:
        ms = [per[c][r] for c in children if per[c][r]]
        if not ms:
            out[r] = fails.get(r) or next(iter(why.values()), "not timed")
            continue
        row = pooled([m for x in ms for m in x])
        row["procs_ms"] = [pooled(x)["median"] * 1e3 for x in ms]
        out[r] = {**row, **{k: v for k, v in heads.get(r, {}).items() if k not in row}}
    return out


def route_a_available() -> str | None:
    """None when route A can run here, else why not (it compiles Triton kernels with MLIR at launch)."""
    try:
        import triton  # noqa: F401
        import torch_mlir  # noqa: F401    (stands in for "MLIR bindings present": both ship with the dev stack)
        from .. import ir  # noqa: F401
    except Exception as ex:
        return f"route A needs MLIR and triton at launch ({type(ex).__name__}: {str(ex)[:80]})"
    return None


def _row(spec_e, route, t, m, ref=None):
    row = {"model": spec_e["name"], "label": spec_e["label"], "route": route, "threads": t}
    if isinstance(m, str):
        return dict(row, ms=None, note=m)
    if "outputs" in m:
        m["err"] = check(m.pop("outputs"), ref)
    row.update(ms=m["median"] * 1e3, spread=m["spread"], cpu=m["cpu"], kernels=m.get("kernels"),
               err=m.get("err"), ok=None if m.get("err") is None else m["err"] <= TOL,
               compile_s=m.get("compile_s"), note="")
    if m.get("procs_ms"):
        row["procs_ms"] = m["procs_ms"]
    return row


def run(art_dir, out_dir=None, routes=None, threads=None, models=None, warmup: int = 3, repeats: int = 15,
        log=print, procs: int = ONE_THREAD_PROCS) -> dict:
    """Time every route of every model at 1 and N = os.cpu_count() threads; rows under res["models"]. The
    1-thread rows of eager, Inductor and route B come from `procs` fresh processes that each time all of them
    (0: eager and route B here, Inductor in a process of its own, as at N threads). With out_dir,
    results.json there is updated (other parts kept) and tables.md / models.csv rewritten."""
    import torch
    from .machine import fma_peaks, machine
    idx = json.loads((Path(art_dir) / "index.json").read_text())
    models = _names(models) if models else None           # groups ("corpus") expanded
    N = os.cpu_count() or 1
    threads = threads or sorted({1, N})
    routes = list(routes or ROUTES)
    why_a = route_a_available() if "A" in routes else None
    rows = []
    cache, done = None, {}
    # the FMA ceiling first: later, torch's OpenMP threads spin after each 16-thread call and share the CPUs
    fma = fma_peaks(N, art_dir)
    pin = one_cpu()             # every route's 1-thread rows on this one CPU (`timing.one_cpu` says why)
    one = [r for r in ONE_THREAD_ROUTES if r in routes] if 1 in threads and procs > 0 else []
    jobs = [(e["name"], t) for e in idx["models"] if not models or e["name"] in models for t in threads
            if "inductor" in routes and not (t == 1 and one)]
    jobs += [(e["name"], 1, i, tuple(one)) for e in idx["models"] if not models or e["name"] in models
             for i in range(procs if one else 0)]
    if jobs:
        import tempfile
        if out_dir is not None:
            Path(out_dir).mkdir(parents=True, exist_ok=True)
        cache = tempfile.mkdtemp(prefix="inductor-cache-", dir=out_dir)
        t0 = time.perf_counter()
        # each go() of a parked process times one round's calls, as the other routes' timers do; a model's
        # further 1-thread processes start once its first one compiled (they find Inductor's code in the cache)
        first = [j for j in jobs if len(j) == 2 or j[2] == 0]
        done = park_inductor(art_dir, first, warmup, per_round(repeats), cache)
        done.update(park_inductor(art_dir, [j for j in jobs if j not in first], warmup, per_round(repeats), cache))
        secs = [v.compile_s for v in done.values() if not isinstance(v, str)]
        log(f"parked: {len(secs)} of {len(jobs)} processes (Inductor per thread count, {procs} per model for the "
            f"1-thread rows) compiled in parallel in {time.perf_counter() - t0:.0f} s"
            + (f" (first call {min(secs):.0f}-{max(secs):.0f} s each)" if secs else "")
            + "".join(f"\n  {k[:2]}: {v}" for k, v in done.items() if isinstance(v, str)))
    for e in idx["models"]:
        if models and e["name"] not in models:
            continue
        try:
            _, _, m, xs = _load(art_dir, e["name"])
            with torch.inference_mode():
                ref = m(*xs).numpy()
        except Exception as ex:          # e.g. transformers missing, or naming the weights otherwise: every row n/a
            why = f"model not built here: {type(ex).__name__}: {(str(ex).strip().splitlines() or [''])[0][:200]}"
            for t in threads:
                for route in routes:
                    rows.append(_row(e, route, t, why))
                    log(f"{e['name']:15s} {route:8s} t={t:<3d}    n/a  {why}")
            for k in [k for k in done if k[0] == e["name"]]:
                c = done.pop(k)
                if not isinstance(c, str):
                    c.close()
            continue
        # every (threads, route) of the model set up first (loaded, checked, Inductor parked in its process),
        # then timed in interleaved rounds (`timing.time_in_rounds`); route A compiles at launch: timed alone
        keys, timers, alone, parked, cpus = [], [], {}, [], []
        for t in threads:
            for route in routes:
                if t == 1 and route in one:
                    continue                  # timed in the 1-thread processes below
                if route == "eager":
                    ht = _eager(m, xs, t)
                elif route == "B":
                    try:
                        ht = _route_b(art_dir, e, m, xs, t)
                    except Exception as ex:   # an artifact that does not load or run here: a row that says so
                        ht = (f"route B failed: {type(ex).__name__}: {str(ex)[:200]}", None)
                elif route == "inductor":     # compiled and waiting in its own process (`park_inductor`)
                    c = done.pop((e["name"], t), "not compiled")
                    ht = (c, None) if isinstance(c, str) else (c.head, lambda w, r, c=c: c.go(timeout=900))
                    parked += [] if isinstance(c, str) else [c]
                    if t == 1 and pin is not None and not isinstance(c, str):
                        pin_process(c.p.pid, {pin})
                else:
                    alone[(t, route)] = why_a or _in_subprocess(route, art_dir, e["name"], t, warmup, repeats)
                    continue
                keys.append((t, route))
                timers.append(ht)
                cpus.append({pin} if t == 1 and pin is not None else None)
        timed = dict(zip(keys, time_in_rounds(timers, warmup, repeats, seed=len(rows), cpus=cpus)))
        if one:
            kids = [done.pop((e["name"], 1, i, tuple(one)), "not started") for i in range(procs)]
            live = [c for c in kids if not isinstance(c, str)]
            for c in live:
                if pin is not None:
                    pin_process(c.p.pid, {pin})
            got = _one_thread_rows(live, one, ROUNDS) if live else {r: kids[0] for r in one}
            timed.update({(1, r): g for r, g in got.items()})
            parked += live
        for c in parked:                  # this model's parked processes
            c.close()
        for t in threads:
            for route in routes:
                r = timed.get((t, route), alone.get((t, route)))
                rows.append(_row(e, route, t, r, ref))
                rr = rows[-1]
                log(f"{e['name']:15s} {route:8s} t={t:<3d} " + (f"{rr['ms']:9.3f} ms  {rr['kernels']}"
                    + (f"  (first call {rr['compile_s']:.1f} s)" if rr.get("compile_s") is not None else "")
                    + ("" if rr.get("ok") is not False else f"  WRONG ({rr['err']:.1e})")
                    if rr["ms"] is not None else f"   n/a  {rr['note']}"))
        torch.set_num_threads(N)
    for c in done.values():             # models left out of this run: stop their processes
        if not isinstance(c, str):
            c.close()
    if cache:
        import shutil
        shutil.rmtree(cache, ignore_errors=True)
    res = {"models": rows, "models_machine": machine(), "models_threads": threads,
           "models_meta": {"size": idx["size"], "build_threads": idx["threads"], "warmup": warmup, "rounds": ROUNDS,
                           "one_thread_cpu": pin, "one_thread_procs": procs if one else 0,
                           "fma_GFLOPs": fma,
                           "repeats": repeats, "artifacts": str(art_dir),
                           "build": [{k: e.get(k) for k in ("name", "shape", "inputs", "B_compile_s", "B_error")}
                                     for e in idx["models"]],
                           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}}
    dev = Path(art_dir) / "dev_results.json"
    if dev.exists():                 # the development machine's run (route A) travels with the artifacts
        d = json.loads(dev.read_text())
        res.update(models_dev=d["models"], models_dev_machine=d["models_machine"])
    if out_dir is not None:
        from . import report
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        p = out / "results.json"
        full = json.loads(p.read_text()) if p.exists() else {}
        full.update(res)
        report.write_outputs(full, out)
    return res


if __name__ == "__main__":            # the child of _in_subprocess: route art_dir name threads warmup repeats
    _route, _art, _name, _t, _w, _r = sys.argv[1:7]
    try:
        if _route.startswith("one-thread:"):      # one-thread:eager,inductor,B
            _one_thread_child(_art, _name, _route.split(":", 1)[1].split(","), int(_w), int(_r))
        else:
            _compiled_child(_route, _art, _name, int(_t), int(_w), int(_r))
    except Exception as _e:           # a missing C++ compiler, a compile failure: report, do not abort the run
        print(json.dumps({"why": f"{type(_e).__name__}: {(str(_e).strip().splitlines() or [''])[0][:200]}"}))
