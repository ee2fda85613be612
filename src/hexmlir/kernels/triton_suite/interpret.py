"""Validate suite kernels and launchers with Triton's interpreter against PyTorch (no compiler involved).

    python3 -m hexmlir.kernels.triton_suite.interpret [NAME ...] [--seed N]

Prints one JSON line per (entry, dtype, size): {"name", "dtype", "size", "ok", "max_err", "error"}; exits 1
if any failed. TRITON_INTERPRET=1 must be set before triton decorates the kernels, so this runs as its own
process (the interpreter's language patches must not leak into processes that compile).

The interpreter has no libdevice (its stubs return None), so in this process the libdevice functions the
suite uses are replaced by numpy implementations (np.tanh, math.erf, ...).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys


def _patch_libdevice():
    import math

    import numpy as np
    import triton.language as tl
    from triton.runtime.interpreter import interpreter_builder as b

    from triton.language.extra import libdevice

    def unary(npfn):
        def fn(x, _semantic=None):
            return tl.tensor(b.unary_op(x.handle, npfn), x.type)
        fn.__module__ = libdevice.__name__    # Triton's dependency walk skips libdevice stubs
        return fn

    erf = np.vectorize(math.erf, otypes=[np.float64])
    for name, npfn in {"tanh": np.tanh, "exp": np.exp, "log": np.log, "sqrt": np.sqrt,
                       "rsqrt": lambda a: (1.0 / np.sqrt(a)).astype(a.dtype),
                       "erf": lambda a: erf(a).astype(a.dtype)}.items():
        setattr(libdevice, name, unary(npfn))


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*")
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args(argv)
    if os.environ.get("TRITON_INTERPRET") != "1":
        # the kernels were decorated before this ran (python -m imports the package first): start afresh
        env = dict(os.environ, TRITON_INTERPRET="1")
        return subprocess.call([sys.executable, "-m", "hexmlir.kernels.triton_suite.interpret",
                                *(argv if argv is not None else sys.argv[1:])], env=env)
    _patch_libdevice()
    from . import SUITE, torch_generator
    gen = torch_generator(a.seed)
    failed = 0
    for name in a.names or list(SUITE):
        e = SUITE[name]
        for dt in e.dtypes:
            for size in e.sizes:
                rec = {"name": name, "dtype": str(dt).replace("torch.", ""), "size": list(size)
                       if isinstance(size, tuple) else size, "ok": False, "max_err": None, "error": None}
                try:
                    x = e.make_inputs(gen, size, dt)
                    rec["max_err"] = e.check(e.run(*x), e.reference(*x), dt)
                    rec["ok"] = True
                except Exception as ex:    # report every failure, keep going
                    rec["error"] = f"{type(ex).__name__}: {ex}"[:2000]
                    failed += 1
                print(json.dumps(rec), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
