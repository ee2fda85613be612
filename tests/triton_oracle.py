"""Reference oracle: run a Triton kernel under Triton's interpreter (TRITON_INTERPRET=1) in a subprocess.

The interpreter patches triton.language in-process and those patches leak into real compiles, so it runs in a
fresh interpreter. Arrays travel as .npy files, scalars and constexprs as JSON. `libdevice.*` calls run as
numpy (float64) functions there: the interpreter has no libdevice of its own.

    outs = run_interpreted("tests/triton_plugin_kernels.py", "add_kernel", [x, y, out, n], (4,), BLOCK=256)

returns the arguments after the run (arrays as numpy, scalars unchanged), in argument order.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

_RUNNER = r"""
import importlib.util, json, sys
import numpy as np
import torch
d = sys.argv[1]
spec = json.load(open(d + "/spec.json"))

# Triton's interpreter cannot run libdevice (its functions are stubs for a backend's module map), so give
# the stub module numpy implementations, computed in float64: an oracle independent of hexmlir's libdevice.
import math
import triton.language as tl
import triton.language.extra.libdevice as _ld
from triton.runtime.interpreter import TensorHandle

def _numpy_fn(f, pred=False):
    def fn(*args):
        ts = [a for a in args if isinstance(a, tl.tensor)]
        ref = max(ts, key=lambda t: t.handle.data.ndim)
        vals = [a.handle.data.astype(np.float64) if isinstance(a, tl.tensor) else np.float64(a) for a in args]
        with np.errstate(all="ignore"):
            r = np.asarray(f(*vals))
        if pred:
            ty = tl.block_type(tl.int32, ref.type.shape) if ref.type.is_block() else tl.int32
            return tl.tensor(TensorHandle(r.astype(np.int32), tl.int32), ty)
        return tl.tensor(TensorHandle(r.astype(ref.handle.data.dtype), ref.handle.dtype), ref.type)
    return fn

_erf = np.vectorize(math.erf)
_erfc = np.vectorize(math.erfc)
_NUMPY = {
    "exp": np.exp, "exp2": np.exp2, "exp10": lambda x: 10.0 ** x, "expm1": np.expm1, "log": np.log,
    "log2": np.log2, "log10": np.log10, "log1p": np.log1p, "sqrt": np.sqrt, "rsqrt": lambda x: 1 / np.sqrt(x),
    "cbrt": np.cbrt, "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos,
    "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "asinh": np.arcsinh,
    "acosh": np.arccosh, "atanh": np.arctanh, "erf": _erf, "erfc": _erfc, "floor": np.floor, "ceil": np.ceil,
    "trunc": np.trunc, "rint": np.rint, "nearbyint": np.rint, "round": lambda x: np.sign(x) * np.floor(np.abs(x) + 0.5),
    "abs": np.abs, "pow": np.power, "powf": np.power, "powi": np.power, "atan2": np.arctan2, "fmod": np.fmod,
    "hypot": np.hypot, "copysign": np.copysign, "fmax": np.fmax, "fmin": np.fmin, "fma": lambda a, b, c: a * b + c,
    "div_rn": np.divide, "mul_rn": np.multiply, "fast_expf": np.exp, "fast_logf": np.log, "fast_tanhf": np.tanh,
    "fast_powf": np.power, "fast_dividef": np.divide,
}
for _n, _f in _NUMPY.items():
    setattr(_ld, _n, _numpy_fn(_f))
for _n, _f in {"isnan": np.isnan, "isinf": np.isinf, "signbit": np.signbit}.items():
    setattr(_ld, _n, _numpy_fn(_f, pred=True))

if spec["module"].endswith(".py"):
    s = importlib.util.spec_from_file_location("_oracle_kernels", spec["module"])
    mod = importlib.util.module_from_spec(s)
    sys.modules["_oracle_kernels"] = mod
    s.loader.exec_module(mod)
else:
    mod = importlib.import_module(spec["module"])
for run in spec["runs"]:
    fn = getattr(mod, run["fn"])
    args = []
    for a in run["args"]:
        if a["kind"] == "array":
            t = torch.from_numpy(np.load(d + "/" + a["file"]))
            args.append(t.to(torch.bfloat16) if a.get("bf16") else t)
        else:
            args.append(a["value"])
    fn[tuple(run["grid"])](*args, **run["constexprs"])
    for a, t in zip(run["args"], args):
        if a["kind"] == "array":
            np.save(d + "/out_" + a["file"], (t.float() if a.get("bf16") else t).numpy())
"""


def _to_numpy(a):
    if isinstance(a, np.ndarray):
        return a, False
    import torch
    if isinstance(a, torch.Tensor):
        if a.dtype == torch.bfloat16:
            return a.float().numpy(), True
        return a.detach().cpu().numpy(), False
    return None, False


def run_interpreted(kernel_module: str, fn_name: str, args, grid, timeout: float = 120, **constexprs):
    """Run `fn_name` from `kernel_module` (a .py path or an importable module name) under the interpreter.

    args: numpy arrays / CPU torch tensors (pointer arguments) and Python scalars, in the kernel's order.
    grid: a tuple of up to three ints. constexprs: the launch's keyword arguments (JSON-serialisable).
    Returns the arguments after the run: arrays as numpy arrays (bf16 as float32), scalars as given.
    """
    return run_interpreted_many(kernel_module, [(fn_name, args, grid, constexprs)], timeout)[0]


def run_interpreted_many(kernel_module: str, runs, timeout: float = 120):
    """Several runs [(fn_name, args, grid, constexprs), ...] in one subprocess (one torch/triton import);
    returns one argument list per run."""
    module = str(Path(kernel_module).resolve()) if kernel_module.endswith(".py") else kernel_module
    with tempfile.TemporaryDirectory(prefix="triton-oracle-") as d:
        spec_runs = []
        for r_i, (fn_name, args, grid, constexprs) in enumerate(runs):
            grid = tuple(grid) if isinstance(grid, (tuple, list)) else (grid, )
            spec_args = []
            for i, a in enumerate(args):
                arr, bf16 = _to_numpy(a)
                if arr is None:
                    spec_args.append({"kind": "scalar", "value": a})
                else:
                    np.save(f"{d}/r{r_i}a{i}.npy", np.ascontiguousarray(arr))
                    spec_args.append({"kind": "array", "file": f"r{r_i}a{i}.npy", "bf16": bf16})
            spec_runs.append({"fn": fn_name, "args": spec_args, "grid": list(grid), "constexprs": constexprs})
        Path(d, "spec.json").write_text(json.dumps({"module": module, "runs": spec_runs}))
        env = dict(os.environ, TRITON_INTERPRET="1")
        r = subprocess.run([sys.executable, "-c", _RUNNER, d], env=env, capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode != 0:
            names = ", ".join(run[0] for run in runs)
            raise RuntimeError(f"interpreted run of {names} failed:\n{r.stderr[-4000:]}")
        outs = []
        for (_, args, _, _), sr in zip(runs, spec_runs):
            outs.append([np.load(f"{d}/out_{s['file']}") if s["kind"] == "array" else a
                         for a, s in zip(args, sr["args"])])
        return outs
