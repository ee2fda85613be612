"""The ablation ladder: scalar -> +Vec -> +Vec+MT -> +Vec+MT+DB per kernel (plus +Vec+DB single-threaded),
with peers and a roofline position, at fixed problem sizes.

TCM tiling with synchronous DMA is on at every rung (tiles staged DDR -> TCM -> DDR by the runtime's DMA
engine, each copy started and waited at once); DB turns the same copies asynchronous (ping-pong sets).
`build(dir)` compiles the artifacts (needs MLIR; IREE .vmfb too when iree-base-compiler is installed);
`run(dir)` needs numpy only (torch / iree-base-runtime for those peers), so it runs on a machine without MLIR.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from . import peers
from .registry import REGISTRY, check, tolerance
from .timing import ROUNDS, measure, per_round, progress, resident_empty, time_in_rounds

#: rung -> (Options keywords, uses the N-thread count)
RUNGS = {
    "scalar": (dict(vectorize=False, multithread=False, double_buffer=False), False),
    "vec": (dict(multithread=False, double_buffer=False), False),
    "vec+db": (dict(multithread=False), False),
    "vec+mt": (dict(mt_threshold=1, double_buffer=False), True),
    "vec+mt+db": (dict(mt_threshold=1), True),
    # side rungs: TCM tiling kept, tiles copied by inline loops on the compute thread instead of the DMA
    # engine (on a CPU the emulated engine is a thread handing data across cores; on the NPU it is hardware)
    "vec/nodma": (dict(multithread=False, dma=False, double_buffer=False), False),
    "vec+mt/nodma": (dict(mt_threshold=1, dma=False, double_buffer=False), True),
}
#: the host target (the CPU as itself, default options) at 1 and N threads: the peers view, not the ladder
HOST_RUNGS = {
    "host": (dict(target="host", multithread=False), False),
    "host+mt": (dict(target="host"), True),
}
RUNGS.update(HOST_RUNGS)
NPU_RUNGS = [r for r in RUNGS if r not in HOST_RUNGS]
LADDER = ["scalar", "vec", "vec+mt", "vec+mt+db"]      # the published ladder; vec+db is the side rung


#: the ladder measures the NPU's mechanisms, so its rungs build for the emulated NPU
TARGET = "npu-emu"


def npu_options(**kw):
    """Options for the emulated NPU (the ladder's and the MT sweep's target)."""
    from .. import Options
    return Options(**{"target": TARGET, **kw})


def rung_options(rung: str, threads: int, **extra):
    from .. import Options
    kw, mt = RUNGS[rung]
    return Options(**{"target": TARGET, **kw, **({"num_threads": threads} if mt else {}), **extra})


def _compile(mlir, opts, out: Path) -> str | None:
    """Compile one artifact; returns an error string instead of raising (the run reports it)."""
    import hexmlir
    from ..errors import HexmlirError
    try:
        hexmlir.compile(mlir, opts, emit="so", output=str(out))
        return None
    except HexmlirError as e:
        return f"{type(e).__name__}: {str(e)[:200]}"


def build(out_dir, kernels=None, threads: int = 16, tiny: bool = False, iree: bool = True, log=None,
          rungs=None, isa: str = "auto") -> list:
    """Compile the rungs (default: every rung) of every kernel into out_dir; returns the index entries (also
    in index.json, merged with entries already there). `isa` pins the x86-64 level of the artifacts (and of
    IREE's build) for the machine they will run on."""
    names = kernels or list(REGISTRY)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        from ..errors import HexmlirError
        raise HexmlirError(f"unknown bench kernel(s) {', '.join(unknown)}; known: {', '.join(REGISTRY)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    bar = progress(len(names) * len(rungs or RUNGS), "build ladder")
    for name in names:
        e = REGISTRY[name]
        size = e.tiny_size if tiny else e.ladder_size
        k = e.kernel(size)
        for rung in rungs or RUNGS:
            t = threads if RUNGS[rung][1] else 1
            f = f"ladder-{name}-{rung.replace('+', '_').replace('/', '-')}-{t}.so"
            err = _compile(k.mlir, rung_options(rung, t, isa=isa), out / f)
            entries.append({"kernel": name, "size": size, "rung": rung, "threads": t, "file": f, "error": err})
            bar.update()
        if iree:
            vf = f"iree-{name}.vmfb"
            err = peers.build_iree(k.mlir, out / vf, None if isa == "auto" else isa)
            entries.append({"kernel": name, "size": size, "rung": "iree", "threads": 0, "file": vf, "error": err})
    bar.close()
    _update_index(out, "ladder", entries, threads, isa)
    return entries


def _update_index(out: Path, key: str, entries, threads: int, isa: str | None = None) -> None:
    p = out / "index.json"
    idx = json.loads(p.read_text()) if p.exists() else {}
    if key == "ladder" and idx.get(key) and idx.get("threads") == threads:   # a second build adds rungs
        new = {(e["kernel"], e["rung"]) for e in entries}
        entries = [e for e in idx[key] if (e["kernel"], e["rung"]) not in new] + entries
    idx[key] = entries
    idx["threads"] = threads
    if isa:
        idx["isa"] = isa                 # the reports name the ISA level the artifacts were built for
    p.write_text(json.dumps(idx, indent=1))


# ---------------------------------------------------------------------------------------------------------
# Running artifacts (numpy + ctypes)


def prepare(kernel, sets, shared_outputs: bool = False):
    """Per input set: (call, outputs) with the outputs preallocated in signature order. shared_outputs:
    one output set for all calls, so each call writes the block the previous one wrote. That is what the
    peers (eager, Inductor, IREE) get: they allocate per call, and the allocator hands back the block just
    freed, still in the last-level cache; rotated outputs are cold, so every store first reads its line
    from DRAM (device, 2026-12-03: exp series 3.2 -> 2.2 ms at 1 thread from this alone). Allocating per
    call with numpy instead (np.empty) paid page faults on the device's glibc (vector add 2.9 -> 7.2 ms)."""
    specs = kernel.meta["args"]

    def outputs():
        return [resident_empty(sp["shape"], sp["dtype"]) for sp in specs if sp["role"] != "in"]
    shared = outputs() if shared_outputs else None
    calls = []
    for s in sets:
        ins, outs = iter(s), iter(shared or outputs())
        args = [next(ins) if sp["role"] == "in" else next(outs) for sp in specs]
        calls.append((kernel.prepared(args), [args[i] for i in kernel.meta["results"]]))
    return calls


def artifact_timer(path, sets, refs, dtype, shared_outputs: bool = False):
    """Load, check against the reference on the first input set; returns (err, ok) and `timer(warmup, repeats)`
    (a `measure` result with DMA stats per call). shared_outputs: see `prepare`."""
    from ..artifact import Kernel
    from .. import runtime
    kern = Kernel.load(path)
    calls = prepare(kern, sets, shared_outputs)
    calls[0][0]()
    err = check(calls[0][1], refs, dtype)
    # a kernel that uses no thread pool, TCM or DMA ships no runtime: nothing to count (and building one
    # would need clang on the machine that only runs artifacts)
    has_rt = runtime.loaded_path() is not None

    def timer(warmup, repeats):
        if has_rt:
            runtime.reset_stats()
        m = measure([c for c, _ in calls], warmup, repeats)
        st = runtime.stats() if has_rt else {"dma_copies": 0, "dma_ns": 0, "dma_bytes": 0}
        m.update(dma_copies=st["dma_copies"] / m["calls"], dma_ms=st["dma_ns"] / m["calls"] / 1e6,
                 dma_bytes=st["dma_bytes"] / m["calls"])
        return m
    return {"err": err, "ok": err <= tolerance(dtype)}, timer


def time_artifact(path, sets, refs, dtype, warmup, repeats, shared_outputs: bool = False) -> dict:
    """Load, check against the reference on the first input set, time; DMA stats per call."""
    head, timer = artifact_timer(path, sets, refs, dtype, shared_outputs)
    return {**timer(warmup, repeats), **head}


def _row(entry, k, impl, rung, threads, m, note=""):
    if isinstance(m, str):
        return {"kernel": entry.name, "label": entry.label, "impl": impl, "rung": rung, "threads": threads,
                "ms": None, "note": m}
    sec = m["median"]
    return {"kernel": entry.name, "label": entry.label, "impl": impl, "rung": rung, "threads": threads,
            "ms": sec * 1e3, "spread": m["spread"], "cpu": m["cpu"], "err": m.get("err"), "ok": m.get("ok"),
            "GBps": k.bytes_moved / sec / 1e9, "GFLOPs": k.flops / sec / 1e9,
            "dma_copies": m.get("dma_copies"), "dma_ms": m.get("dma_ms"), "note": note,
            **({"compile_s": m["compile_s"]} if "compile_s" in m else {})}


PEER_NAMES = ("eager", "inductor", "iree")
BLAS_IDLE_S = 0.5      # > OpenBLAS's spin timeout (2^28 cycles) before timing after a NumPy reference


def run(art_dir, warmup: int = 3, repeats: int = 15, with_peers: bool = True, log=print, rows=None,
        checkpoint=None, kernels=None, peer_set=PEER_NAMES, inductor_cache=None) -> list[dict]:
    """Time every rung and peer; rows are appended to `rows` and `checkpoint()` is called after each kernel
    (so a run cut short still leaves its finished kernels on disk). With the Inductor peer, every (kernel,
    thread count) is first compiled in a parallel process of its own that then waits to be timed
    (`peers.park_inductor`; `inductor_cache`: Inductor's on-disk cache, default a temporary directory);
    nothing is timed until all compiles are done."""
    d = Path(art_dir)
    idx = json.loads((d / "index.json").read_text())
    N = idx["threads"]
    entries = idx["ladder"]
    names = [n for n in dict.fromkeys(e["kernel"] for e in entries) if not kernels or n in kernels]
    entries = [e for e in entries if e["kernel"] in names]
    rows = [] if rows is None else rows
    seed = int(np.random.default_rng().integers(1 << 31))
    per = per_round(repeats)                     # what a parked peer's go() times (see `time_in_rounds`)
    tmp_cache, parked = None, {}
    if with_peers and "inductor" in peer_set:
        if inductor_cache is None:
            import tempfile
            inductor_cache = tmp_cache = tempfile.mkdtemp(prefix="hexmlir-inductor-")
        jobs = [(n, next(e["size"] for e in entries if e["kernel"] == n), t) for n in names
                if REGISTRY[n].torch_fn is not None for t in dict.fromkeys((1, N))]
        t0 = time.perf_counter()
        parked = peers.park_inductor(jobs, seed, warmup, per, inductor_cache)
        failed = {k: v for k, v in parked.items() if isinstance(v, str)}
        secs = [v.compile_s for v in parked.values() if not isinstance(v, str)]
        log(f"inductor: compiled {len(secs)} of {len(jobs)} (kernel, threads) in parallel in "
            f"{time.perf_counter() - t0:.0f} s"
            + (f" (first call {min(secs):.0f}-{max(secs):.0f} s each)" if secs else "")
            + "".join(f"\n  {k}: {v}" for k, v in failed.items()))
    bar = progress(len(entries) + (len(names) * 7 if with_peers else 0), "ladder")
    for name in names:
        entry = REGISTRY[name]
        mine = [e for e in entries if e["kernel"] == name]
        k = entry.kernel(mine[0]["size"])
        sets = peers.input_sets(k, seed)
        refs = k.reference(*sets[0])
        # every row of the kernel (rungs, peers at 1 and N threads): (impl, rung, threads, head, timer);
        # set up first (loaded, checked, peers parked in their processes), then timed in interleaved rounds
        timers = []
        for e in mine:
            if e["rung"] == "iree":
                continue
            # host rungs write their outputs as the peers they are compared with do (see `prepare`)
            head, timer = (e["error"], None) if e["error"] else artifact_timer(
                d / e["file"], sets, refs, entry.dtype, shared_outputs=e["rung"] in HOST_RUNGS)
            timers.append(("hexmlir", e["rung"], e["threads"], head, timer))
        iree_parked = {}
        if with_peers:          # without peers a kernel is still summarized and checkpointed below
            ie = next((e for e in mine if e["rung"] == "iree"), None)
            if "iree" in peer_set and ie is not None and not ie["error"]:
                iree_parked = peers.park_iree(name, mine[0]["size"], d / ie["file"], (1, N), seed, warmup, per)
            for t in (1, N):
                if "eager" in peer_set:
                    timers.append(("torch eager", "peer", t, {} if entry.torch_fn else "no torch form",
                                   lambda w, r, t=t: peers.torch_eager(entry, sets, t, w, r)))
                # Inductor and IREE fix their thread count when first compiled / created in a process: each
                # thread count waits, set up, in a process of its own (same seeded inputs) to be timed
                for impl, pk, want in (("torch inductor", parked.get((name, t), "no torch form"), "inductor"),
                                       ("IREE llvm-cpu", iree_parked.get(t, ie["error"] if ie and ie["error"]
                                                                         else "not built"), "iree")):
                    if want in peer_set:
                        timers.append((impl, "peer", t, pk if isinstance(pk, str) else pk.head,
                                       None if isinstance(pk, str) else lambda w, r, pk=pk: pk.go(timeout=300)))
        bar.set_postfix_str(f"{name}: {len(timers)} rows x {ROUNDS} rounds")
        # NumPy's BLAS threads (a matmul reference) spin-wait on every core for ~0.1 s after a call: timed
        # right after, matmul and attention ran against 16 spinning threads (device run 2026-12-03: the
        # 1-thread rung showed 16 cores busy, the 16-thread rung 1.8 ms for a 0.3 ms peer)
        time.sleep(BLAS_IDLE_S)
        for (impl, rung, t, _, _), m in zip(timers, time_in_rounds([x[3:] for x in timers], warmup, repeats,
                                                                     seed=seed)):
            rows.append(_row(entry, k, impl, rung, t, m))
        bar.update(len(timers))
        if with_peers:          # last: the BLAS threads of its matmul would spin into the next row's time
            rows.append(_row(entry, k, "numpy", "peer", 1, peers.numpy_peer(entry, sets, warmup, repeats),
                             note="numpy ufuncs are single-threaded (matmul: BLAS threads)"))
            try:
                import torch
                torch.set_num_threads(os.cpu_count() or 1)
            except ImportError:
                pass
        for c in [parked.pop((name, t), None) for t in (1, N)] + list(iree_parked.values()):
            if c is not None and not isinstance(c, str):
                c.close()
        log(_summary(rows, name))
        if checkpoint:
            checkpoint()
    bar.close()
    for c in parked.values():           # a run limited to some kernels / cut short: stop the rest
        if not isinstance(c, str):
            c.close()
    if tmp_cache:
        import shutil
        shutil.rmtree(tmp_cache, ignore_errors=True)
    return rows


def _summary(rows, name) -> str:
    out = [f"{name}:"]
    for r in rows:
        if r["kernel"] == name:
            ms = "   n/a   " if r["ms"] is None else f"{r['ms']:9.3f}"
            out.append(f"  {r['impl']:15s} {r['rung']:10s} t={r['threads']:>2} {ms} ms "
                       f"{'' if r.get('ok', True) is not False else 'WRONG'} {r.get('note') or ''}"
                       + (f" (first call {r['compile_s']:.1f} s)" if r.get("compile_s") is not None else ""))
    return "\n".join(out)
