"""Ladder rungs for Triton-suite kernels (hexmlir.kernels.triton_suite), launched through hexmlir's Triton
backend in-process: `entry.run(*inputs, **options)` compiles (cached) with the rung's Options and launches.

Uses the suite's documented API: SUITE[name] with make_inputs(gen, size, dtype), run(*inputs, **launch_kw)
(launch_kw are compiler options), reference(*inputs), check(got, ref, dtype), bench_size, dtypes; and
torch_generator(seed). Needs MLIR, torch and triton on the machine (no artifacts mode: a launch compiles).
Rows have the same fields as the Linalg ladder's (kernel "triton:<name>"), so the report tables take them.
"""
from __future__ import annotations

from .ladder import RUNGS
from .timing import measure


def rows(names, threads: int, warmup: int = 3, repeats: int = 15, seed: int = 0, log=print) -> list[dict]:
    try:
        import torch
        from ..kernels.triton_suite import SUITE, torch_generator
    except ImportError as e:
        from ..errors import UnsupportedError
        raise UnsupportedError(f"Triton-suite bench needs torch, triton and hexmlir.kernels.triton_suite: {e}") from e
    out = []
    for name in names:
        e = SUITE[name]
        dtype = e.dtypes[0]
        inputs = e.make_inputs(torch_generator(seed), e.bench_size, dtype)
        ref = e.reference(*inputs)
        tensors = [x for x in inputs if isinstance(x, torch.Tensor)]
        nbytes = sum(x.numel() * x.element_size() for x in tensors)
        for rung, (kw, mt) in RUNGS.items():
            opts = dict(kw, **({"num_threads": threads} if mt else {}))
            row = {"kernel": f"triton:{name}", "label": f"{name} (Triton) {str(dtype).replace('torch.', '')}",
                   "impl": "hexmlir", "rung": rung, "threads": threads if mt else 1}
            try:
                got = e.run(*inputs, **opts)
                err = float(e.check(got, ref, dtype))
                m = measure(lambda: e.run(*inputs, **opts), warmup, repeats)
            except AssertionError as bad:
                row.update(ms=None, ok=False, note=f"wrong output: {str(bad)[:120]}")
            except Exception as fail:          # a frontend refusal: report it, keep going
                row.update(ms=None, note=f"{type(fail).__name__}: {str(fail)[:160]}")
            else:
                # bytes: inputs + one output of the first input's size (an estimate for elementwise/row kernels)
                row.update(ms=m["median"] * 1e3, spread=m["spread"], cpu=m["cpu"], err=err, ok=True,
                           GBps=(nbytes + tensors[0].numel() * tensors[0].element_size()) / m["median"] / 1e9,
                           GFLOPs=0.0)
            out.append(row)
            log(f"triton {name:12s} {rung:12s} {row['ms'] if row['ms'] is None else round(row['ms'], 3)} ms")
    return out
