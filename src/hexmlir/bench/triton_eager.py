"""The Triton suite on the host target against PyTorch eager, same inputs and the same thread count.

    python3 -m hexmlir.bench.triton_eager [--threads 1 2] [--scale 0.25] [--out docs/results/triton_eager.json]

Each kernel is launched through the Triton plugin (kernel[grid](...)) with all mechanisms on; the peer is
the natural eager PyTorch expression of the same computation (same dtype). Warm-up runs are excluded,
inputs rotate so caches do not flatter, medians are reported. Also: cold and cached compile time.
"""
from __future__ import annotations

import argparse
import json
import time

# Eager peers, same arguments as the suite entry's inputs.
_EAGER = {
    "add_1d": lambda x, y: x + y,
    "gelu_tanh": lambda x: _F().gelu(x, approximate="tanh"),
    "gelu_erf": lambda x: _F().gelu(x),
    "silu": lambda x: _F().silu(x),
    "softmax": lambda x: x.softmax(-1),
    "softmax_online": lambda x: x.softmax(-1),
    "rmsnorm": lambda x, w: _F().rms_norm(x, (x.shape[-1],), w, 1e-6),
    "layernorm": lambda x, w, b: _F().layer_norm(x, (x.shape[-1],), w, b),
    "row_sum": lambda x: x.sum(1),
    "matmul": lambda a, b: a @ b,
    "flash_attention": lambda q, k, v: _F().scaled_dot_product_attention(q, k, v),
}


def _F():
    import torch.nn.functional as F
    return F


def _scaled(size, scale: float):
    if isinstance(size, int):
        return max(1, int(size * scale))
    s = list(size)
    s[0] = max(1, int(s[0] * scale))
    return tuple(s)


def run(threads=(1,), scale: float = 0.25, names=None, repeats: int = 9) -> dict:
    import torch

    from ..kernels.triton_suite import SUITE, torch_generator
    from .timing import measure, rotation
    rows = []
    names = names or list(_EAGER)
    for n in names:
        e = SUITE[n]
        size = _scaled(e.bench_size or e.sizes[-1], scale)
        sets = None
        for t in threads:
            torch.set_num_threads(t)
            if sets is None:
                x0 = e.make_inputs(torch_generator(0), size, torch.float32)
                nbytes = sum(a.numel() * a.element_size() for a in x0 if hasattr(a, "numel"))
                sets = [x0] + [e.make_inputs(torch_generator(i + 1), size, torch.float32)
                               for i in range(rotation(nbytes) - 1)]
                t0 = time.perf_counter()
                got = e.run(*sets[0], num_threads=t)        # cold (unless the caches already hold it)
                first = time.perf_counter() - t0
                e.check(got, e.reference(*sets[0]), torch.float32)
            t0 = time.perf_counter()
            e.run(*sets[0], num_threads=t)
            cached = time.perf_counter() - t0
            hx = measure([lambda s=s: e.run(*s, num_threads=t) for s in sets], repeats=repeats)
            eager = measure([lambda s=s: _EAGER[n](*s) for s in sets], repeats=repeats)
            rows.append({"kernel": n, "size": list(size) if not isinstance(size, int) else [size], "threads": t,
                         "hexmlir_s": hx["median"], "eager_s": eager["median"],
                         "speedup_vs_eager": eager["median"] / hx["median"], "spread": hx.get("spread"),
                         "first_launch_s": first, "cached_launch_s": cached})
            print(f"{n:16s} {str(size):22s} t={t}  hexmlir {hx['median'] * 1e3:8.3f} ms  eager "
                  f"{eager['median'] * 1e3:8.3f} ms  x{eager['median'] / hx['median']:.2f}", flush=True)
    return {"rows": rows, "date": time.strftime("%Y-%m-%d"), "threads": list(threads), "scale": scale}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1])
    ap.add_argument("--scale", type=float, default=0.25, help="fraction of each entry's bench_size (dim 0)")
    ap.add_argument("--kernels", nargs="*")
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    res = run(tuple(a.threads), a.scale, a.kernels)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
