"""Runs compiled kernels in a separate worker process, so a crash (double free, SIGSEGV) or a hang in a
kernel is reported as a failure of that case instead of killing the test session.

The worker needs only numpy and `hexmlir.artifact` (no MLIR, no torch): compiling stays in the caller.
"""
from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = r"""
import pickle, struct, sys
from hexmlir.artifact import Kernel
inp, out = sys.stdin.buffer, sys.stdout.buffer
cache = {}
while True:
    h = inp.read(8)
    if len(h) < 8:
        break
    req = pickle.loads(inp.read(struct.unpack("<Q", h)[0]))
    try:
        if req.get("triton"):
            import importlib.util, numpy as np, torch
            mod = cache.get(req["triton"])
            if mod is None:
                s = importlib.util.spec_from_file_location("_fuzz_kernels_%d" % len(cache), req["triton"])
                mod = importlib.util.module_from_spec(s)
                s.loader.exec_module(mod)
                cache[req["triton"]] = mod
            args = [torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in req["args"]]
            getattr(mod, req["fn"])[tuple(req["grid"])](*args, **req["constexprs"], **req["options"])
            res = ("ok", [a.numpy() if isinstance(a, torch.Tensor) else a for a in args])
            b = pickle.dumps(res)
            out.write(struct.pack("<Q", len(b)) + b)
            out.flush()
            continue
        k = cache.get(req["path"]) or Kernel.load(req["path"])
        cache[req["path"]] = k
        if req["grid"] is None:
            r = k(*req["args"])
            res = ("ok", list(r) if isinstance(r, tuple) else [r])
        else:
            args = req["args"]
            k.launch(args, req["grid"])
            res = ("ok", args)
    except Exception as e:
        res = ("error", f"{type(e).__name__}: {e}")
    b = pickle.dumps(res)
    out.write(struct.pack("<Q", len(b)) + b)
    out.flush()
"""


class KernelCrash(Exception):
    """The worker died or hung while running a kernel."""


class Worker:
    def __init__(self, timeout: float = 120):
        self.timeout = timeout
        self.proc = None
        self.err = None

    def _start(self):
        import hexmlir
        env = dict(os.environ)
        src = str(Path(hexmlir.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err, env=env)

    def close(self):
        if self.proc is not None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except Exception:
                self.proc.kill()
            self.proc = None

    def run(self, path, args, grid=None):
        """Call the artifact at `path` on `args` (grid=None: Linalg kernel, returns its results) or launch
        it over `grid` (grid kernel, returns the arguments after the run)."""
        return self._request({"path": str(path), "args": list(args), "grid": grid})

    def triton(self, module_path, fn, args, grid, constexprs, options):
        """Compile (Triton's `cpu` backend) and launch `fn` of the kernel file `module_path` in the worker;
        returns the arguments after the run."""
        return self._request({"triton": str(module_path), "fn": fn, "args": list(args), "grid": list(grid),
                              "constexprs": constexprs, "options": options})

    def _request(self, req):
        import threading
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        b = pickle.dumps(req)
        box = {}

        def talk():
            try:
                self.proc.stdin.write(struct.pack("<Q", len(b)) + b)
                self.proc.stdin.flush()
                h = self.proc.stdout.read(8)
                if len(h) == 8:
                    box["res"] = pickle.loads(self.proc.stdout.read(struct.unpack("<Q", h)[0]))
            except (BrokenPipeError, OSError):
                pass
        t = threading.Thread(target=talk, daemon=True)
        t.start()
        t.join(self.timeout)
        if "res" not in box:
            hung = t.is_alive()
            if hung:
                self.proc.kill()
            rc = self.proc.wait()
            self.err.seek(0)
            tail = self.err.read().decode(errors="replace")[-2000:]
            self.proc = None
            what = f"hung for {self.timeout:.0f} s" if hung else f"died (exit status {rc})"
            raise KernelCrash(f"kernel run {what}; worker stderr:\n{tail}")
        status, val = box["res"]
        if status != "ok":
            raise RuntimeError(val)
        return val
