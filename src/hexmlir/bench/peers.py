"""Peers timed in the same run on the same inputs: PyTorch eager, torch.compile (Inductor's C++ CPU backend),
NumPy, and IREE llvm-cpu on the same Linalg. Each returns a `measure` result or a string saying why not.

IREE: `build_iree` compiles the kernel's Linalg here (iree-base-compiler; named ops generalized with our MLIR
first, since IREE's parser no longer knows the elementwise named ops) to a .vmfb for the x86-64 level of
hexmlir's artifacts (`bench ... --isa`, default x86-64-v3); `IreeRunner` runs it with iree-base-runtime only.

Inductor: compiling a kernel takes tens of seconds (C++ build of the generated code), once per thread count,
in a process of its own (Inductor bakes the thread count in). `park_inductor` starts one process per (kernel,
thread count), all compiling in parallel before anything is timed; each process then waits, compiled, on its
stdin (`Parked`), and is timed when the run reaches it: nothing depends on Inductor's on-disk cache, which the
device's torch 2.11 did not hit from a second process (session 21: a full 44-54 s compile in every timed
process). Their first call's time is reported as `compile_s`.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

from .timing import measure, rotation

IREE_CPU = "x86-64-v3"


def _torch():
    try:
        import torch
        return torch
    except ImportError:
        return None


def input_sets(k, seed: int):
    """The rotated input sets of a kernel, reproducible from `seed` (a subprocess peer rebuilds them)."""
    rng = np.random.default_rng(seed)
    return [k.random_inputs(rng) for _ in range(rotation(k.bytes_moved))]


def in_subprocess(impl: str, name: str, size: dict, threads: int, warmup: int, repeats: int, seed: int,
                  vmfb=None, timeout: int = 300):
    """Run one peer ("inductor" | "iree") in a fresh Python process; returns a measure dict (with err/ok) or a
    string saying why not."""
    return run_child(_cmd(impl, name, size, threads, warmup, repeats, seed, vmfb), threads, timeout, impl)


def _cmd(impl, name, size, threads, warmup, repeats, seed, vmfb=None) -> list[str]:
    return [sys.executable, "-m", "hexmlir.bench.peers", impl, name, json.dumps(size), str(threads), str(warmup),
            str(repeats), str(seed), str(vmfb or "")]


PARK_ENV = "HEXMLIR_PARK"


class Parked:
    """A child process that compiles, reports `{"parked": seconds}` and waits on stdin (`park`); `go()` lets
    it time and returns its measure dict (or a string saying why not), as `run_child` does; an Inductor peer
    then waits for another go (timed again) until `close()`."""

    def __init__(self, cmd, threads: int, label: str, extra_env: dict | None = None):
        import tempfile
        self.label, self.err = label, tempfile.TemporaryFile(mode="w+")
        env = child_env(threads, {**(extra_env or {}), PARK_ENV: "1"})
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err,
                                  text=True, env=env)

    def _line(self, timeout: float) -> dict | str:
        """The child's next JSON line (a killed or failed child: why, from its stderr)."""
        import threading
        timer = threading.Timer(timeout, self.p.kill)
        timer.start()
        try:
            for ln in self.p.stdout:
                if ln.startswith("{"):
                    return json.loads(ln)
        finally:
            timer.cancel()
        self.p.wait()
        if self.p.returncode == -9:
            return f"{self.label} timed out after {timeout:.0f} s"
        self.err.seek(0)
        return f"{self.label} subprocess failed: {(self.err.read().strip().splitlines() or ['?'])[-1][:160]}"

    def wait_parked(self, timeout: float) -> float | str:
        r = self._line(timeout)
        if isinstance(r, dict) and "parked" not in r:
            r = r.get("why", "?")
        if isinstance(r, str):
            self.close()
            return r
        self.compile_s = r["parked"]
        self.head = {k: v for k, v in r.items() if k != "parked"}      # err, ok, compile_s: merged into go()'s
        return self.compile_s

    def go(self, timeout: float) -> dict | str:
        try:
            self.p.stdin.write("go\n")
            self.p.stdin.flush()
        except OSError:
            pass                                # it died: _line says why
        r = self._line(timeout)
        if isinstance(r, str) or "median" not in r:
            self.close()
            return r if isinstance(r, str) else r.get("why", "?")
        return {**r, **self.head}

    def close(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        if not self.err.closed:
            self.err.close()


def park_all(starts: dict, workers: int | None = None, timeout: float = 400) -> dict:
    """Start a `Parked` child per key of `starts` (key -> (cmd, threads, label, extra_env)), at most `workers`
    compiling at once (default: one per core); returns {key: Parked, or a string saying why not} once every
    child is compiled. Compiles keep every core busy: call it before timing anything."""
    from concurrent.futures import ThreadPoolExecutor

    def one(key):
        cmd, threads, label, env = starts[key]
        c = Parked(cmd, threads, label, env)
        r = c.wait_parked(timeout)
        return key, (r if isinstance(r, str) else c)
    workers = max(1, min(len(starts) or 1, workers or os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:     # threads only wait on their child process
        return dict(pool.map(one, list(starts)))


def park_inductor(jobs, seed: int, warmup: int, repeats: int, cache_dir, workers: int | None = None,
                  timeout: float = 400) -> dict:
    """The Inductor peer of every (name, size, threads) of `jobs`, compiled in parallel and parked (see
    `park_all`); {(name, threads): Parked or why not}; each go() times warmup + repeats calls.
    cache_dir: Inductor's on-disk cache for this run."""
    return park_all({(name, t): (_cmd("inductor", name, size, t, warmup, repeats, seed), t, "inductor",
                                 {"TORCHINDUCTOR_CACHE_DIR": str(cache_dir)})
                     for name, size, t in jobs}, workers, timeout)


def park_iree(name: str, size: dict, vmfb, threads, seed: int, warmup: int, repeats: int) -> dict:
    """The IREE peer of one kernel at each of `threads`, loaded and parked; {threads: Parked or why not}."""
    return park_all({t: (_cmd("iree", name, size, t, warmup, repeats, seed, vmfb), t, "iree", None)
                     for t in threads}, timeout=120)


def run_child(cmd, threads: int, timeout: int, label: str, extra_env: dict | None = None):
    """Run a measuring child process; its last stdout line starting with "{" is a JSON measure dict (or
    {"why": ...}). Returns the dict, or a string saying why not."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=child_env(threads, extra_env))
    except subprocess.TimeoutExpired:
        return f"{label} timed out after {timeout} s"
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode or not lines:
        return f"{label} subprocess failed: {(p.stderr.strip().splitlines() or ['?'])[-1][:160]}"
    r = json.loads(lines[-1])
    return r if "median" in r else r.get("why", "?")


def child_env(threads: int, extra_env: dict | None = None) -> dict:
    # OMP_NUM_THREADS: Inductor's kernels may link a libgomp other than torch's, which set_num_threads
    # does not reach; one compile worker: the pool's start-up would dominate these small compiles
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), TORCHINDUCTOR_COMPILE_THREADS="1", **(extra_env or {}))
    # the child imports this very hexmlir, not whichever one is installed
    from pathlib import Path
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def _child(argv) -> None:
    """A peer in its own process: set up (Inductor: compile), check the first call's outputs, then time. Parked
    (PARK_ENV, started by `Parked`): report `{"parked": compile seconds, err, ok}` and time once per line read
    from stdin, until stdin closes."""
    import contextlib
    from .registry import REGISTRY, check, tolerance
    impl, name, size, threads, warmup, repeats, seed, vmfb = argv
    threads, warmup, repeats = int(threads), int(warmup), int(repeats)
    entry = REGISTRY[name]
    k = entry.kernel(json.loads(size))
    sets = input_sets(k, int(seed))
    torch = _torch() if impl == "inductor" else None
    with torch.inference_mode() if torch is not None else contextlib.nullcontext():
        r = inductor_calls(entry, sets, threads) if impl == "inductor" else iree_calls(vmfb, k.name, sets, threads)
        if isinstance(r, str):
            print(json.dumps({"why": r}))
            return
        outs, calls, head = r
        head["err"] = check(outs, k.reference(*sets[0]), entry.dtype)
        head["ok"] = head["err"] <= tolerance(entry.dtype)
        serve(head, lambda: measure(calls, warmup, repeats))


def serve(head: dict, timer) -> None:
    """A peer child's output once set up and checked: parked (PARK_ENV, started by `Parked`), report
    `{"parked": compile seconds, **head}` and print `timer()` once per line read from stdin until stdin
    closes; otherwise print `timer()` with the head, once."""
    if os.environ.get(PARK_ENV):
        print(json.dumps({"parked": head.get("compile_s", 0.0), **head}), flush=True)
        while sys.stdin.readline():
            print(json.dumps(timer()), flush=True)
        return
    print(json.dumps({**timer(), **head}))


def torch_eager(entry, sets, threads: int, warmup: int, repeats: int):
    torch = _torch()
    if torch is None or entry.torch_fn is None:
        return "torch not installed" if torch is None else "no torch form"
    torch.set_num_threads(threads)
    tsets = [[torch.from_numpy(a) for a in s] for s in sets]
    fn = entry.torch_fn
    with torch.inference_mode():
        return measure([lambda ts=ts: fn(torch, *ts) for ts in tsets], warmup, repeats)


def inductor_calls(entry, sets, threads: int):
    """torch.compile(backend="inductor") on CPU for `threads` (Inductor bakes the OpenMP thread count into the
    generated C++), compiled by a first call: (outputs, one call per input set, {"compile_s"}) or why not.
    Call under torch.inference_mode()."""
    torch = _torch()
    if torch is None or entry.torch_fn is None:
        return "torch not installed" if torch is None else "no torch form"
    try:
        torch.set_num_threads(threads)
        import torch._inductor.config as icfg
        icfg.cpp.threads = threads            # `#pragma omp parallel num_threads(threads)` in the kernels
        torch._dynamo.reset()
        fn = entry.torch_fn
        cf = torch.compile(lambda *ts: fn(torch, *ts), backend="inductor", dynamic=False)
        tsets = [[torch.from_numpy(a) for a in s] for s in sets]
        t0 = time.perf_counter()
        out = cf(*tsets[0])
        compile_s = time.perf_counter() - t0
        outs = [o.numpy() for o in (out if isinstance(out, (tuple, list)) else [out])]
        return outs, [lambda ts=ts: cf(*ts) for ts in tsets], {"compile_s": compile_s}
    except Exception as e:     # a missing C++ compiler etc.: report, do not abort the run
        return f"inductor failed: {type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"


def numpy_peer(entry, sets, warmup: int, repeats: int):
    if entry.numpy_fn is None:
        return "no numpy form"
    fn = entry.numpy_fn
    return measure([lambda s=s: fn(*s) for s in sets], warmup, repeats)


def generalized(mlir: str) -> str:
    """The module with named linalg ops rewritten as linalg.generic (needs our MLIR bindings)."""
    from .. import ir as hir
    with hir.context(), hir.ir.Location.unknown():
        m = hir.parse(mlir)
        hir.run_passes(m, "func.func(linalg-generalize-named-ops)", "iree-prep")
        return str(m)


def build_iree(mlir: str, out_path, cpu: str | None = None) -> str | None:
    """Compile for IREE llvm-cpu (x86-64 level `cpu`, default IREE_CPU); returns None on success or the reason
    it could not."""
    try:
        import iree.compiler as ic
    except ImportError:
        return "iree-base-compiler not installed"
    try:
        vm = ic.compile_str(generalized(mlir), target_backends=["llvm-cpu"],
                            extra_args=[f"--iree-llvmcpu-target-cpu={cpu or IREE_CPU}"])
    except Exception as e:
        return f"iree-compile failed: {str(e).splitlines()[3] if len(str(e).splitlines()) > 3 else e}"
    with open(out_path, "wb") as f:
        f.write(vm)
    return None


def iree_calls(vmfb_path, func: str, sets, threads: int):
    """The IREE module on `threads` task-system workers (--task_topology_group_count), inputs uploaded to the
    (host) device once, the result buffer allocated per call as in torch eager: (outputs of the first call, one
    call per input set, {}) or why not."""
    try:
        import iree.runtime as rt
    except ImportError:
        return "iree-base-runtime not installed"
    try:
        rt.flags.parse_flags(f"--task_topology_group_count={threads}")
        dev = rt.get_driver("local-task").create_default_device()
        ctx = rt.SystemContext(config=rt.Config(device=dev))
        with open(vmfb_path, "rb") as f:
            ctx.add_vm_module(rt.VmModule.copy_buffer(ctx.instance, f.read()))
        fn = ctx.modules.module[func]
        dsets = [[rt.asdevicearray(dev, a) for a in s] for s in sets]
        out = fn(*dsets[0])
        outs = [o.to_host() for o in (out if isinstance(out, (tuple, list)) else [out])]
        return outs, [lambda d=d: fn(*d) for d in dsets], {}
    except Exception as e:
        return f"iree run failed: {type(e).__name__}: {str(e)[:160]}"


if __name__ == "__main__":
    _child(sys.argv[1:])
