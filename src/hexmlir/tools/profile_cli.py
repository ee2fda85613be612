"""`hexmlir profile`: compile a kernel for hexagon-sim, run it once under the packet profiler
(profile.py), print the counts."""
from __future__ import annotations

from ..errors import HexmlirError


def _suite_kernel(spec: str):
    from ..kernels.linalg_suite import INT_SUITE, SUITE
    name, _, rest = spec.partition(":")
    builders = {**SUITE, **INT_SUITE}
    if name not in builders:
        raise HexmlirError(f"unknown suite kernel {name!r}; known: {', '.join(sorted(builders))}")
    args = [int(x) if x.lstrip("-").isdigit() else x for x in rest.split(",") if x]
    try:
        return builders[name](*args)
    except (TypeError, ValueError) as e:
        raise HexmlirError(f"suite kernel {spec!r}: {e}") from e


def random_inputs(meta: dict, rng) -> list:
    """Inputs for a compiled kernel from its metadata: integers over their whole range, floats in [-4, 4]."""
    import numpy as np
    out = []
    for a in meta["args"]:
        if a["role"] != "in":
            continue
        dt = np.dtype(a["dtype"])
        if dt.kind in "iu":
            info = np.iinfo(dt)
            out.append(rng.integers(info.min, info.max, size=a["shape"], endpoint=True).astype(dt))
        else:
            out.append(rng.uniform(-4, 4, size=a["shape"]).astype(dt))
    return out


def main(a, options) -> None:
    """`hexmlir profile`: compile for hexagon-sim, run once under the profiler, print the counts."""
    import json

    import numpy as np

    from .. import targets
    from ..driver import compile as hcompile
    if not targets.get(options.target, options.arch).simulated:
        raise HexmlirError("profile runs under qemu-hexagon: use --target hexagon-sim")
    if bool(a.file) == bool(a.suite):
        raise HexmlirError("profile: give a .mlir file or --suite NAME:ARGS (one of them)")
    rng = np.random.default_rng()
    kern = _suite_kernel(a.suite) if a.suite else None
    k = hcompile(kern.mlir if kern else a.file, options)
    ins = kern.random_inputs(rng) if kern else random_inputs(k.meta, rng)
    out, prof = k.profile(*ins, kernel_only=not a.whole, threads=a.threads or None)
    print(f"{k.name}: target {k.meta['target']}-sim/{k.meta['arch']}, threads {a.threads or k.meta['sim_threads']}")
    if kern:
        outs = out if isinstance(out, tuple) else (out,)
        ok = True
        for g, r in zip(outs, kern.reference(*ins)):
            tol = 0 if r.dtype.kind in "iu" else 1e-4
            ok &= bool(np.allclose(g.astype(np.float64), r.astype(np.float64), rtol=tol, atol=tol))
        print(f"output matches the NumPy reference: {'yes' if ok else 'NO'}")
    print(prof.format(a.top))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(prof.to_dict(), f, indent=1)
