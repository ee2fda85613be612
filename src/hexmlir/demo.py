"""`hexmlir demo`: compile real kernels, check them against NumPy, and show what each mechanism buys.

For each kernel: the full pipeline vs the same pipeline with one mechanism switched off (median of
repeats, host target), plus a Hexagon build to show HVX in the emitted object.
"""
from __future__ import annotations

import numpy as np

from .bench.timing import measure


def main(quick: bool = False) -> None:
    import hexmlir
    from hexmlir import Options
    from hexmlir.kernels import linalg_suite as S
    n = 1 << 18 if quick else 1 << 22
    kernels = [S.gelu_tanh((n,)), S.softmax_rows(512, 1001), S.rmsnorm(512, 1001), S.matmul(128, 129, 257)]
    base = Options()                      # every mechanism on, all hardware threads
    variants = {"all on": base, "no vectorize": base.replace(vectorize=False),
                "no fusion": base.replace(fusion=False), "no TCM tiling": base.replace(tcm_tiling=False),
                "no fast-math": base.replace(fast_math=False), "no multithread": base.replace(multithread=False),
                "no double-buffer": base.replace(double_buffer=False)}
    rng = np.random.default_rng()
    import os
    print(f"hexmlir demo: host target (emulated v73 NPU), {os.cpu_count()} hardware threads, median of repeats\n")
    for k in kernels:
        ins = k.random_inputs(rng)
        ref = k.reference(*ins)
        shape = "x".join(map(str, k.inputs[0][0]))
        print(f"{k.name} [{shape}]")
        times = {}
        for name, o in variants.items():
            kern = hexmlir.compile(k.mlir, o)
            out = kern(*ins)
            err = float(np.max(np.abs(np.asarray(out, np.float64) - ref[0].astype(np.float64))))
            args = [*ins, *[np.empty(s, d) for s, d in k.outputs]]
            times[name] = measure(kern.prepared(args), repeats=7 if quick else 15)["median"]
            print(f"  {name:16s} {times[name] * 1e3:9.3f} ms   max|err| {err:.2e}")
        t0 = times["all on"]
        bought = ", ".join(f"{m.removeprefix('no ')} {times[m] / t0:.1f}x" for m in variants if m != "all on")
        print(f"  what each mechanism buys (time without / time with): {bought}\n")
    k = S.gelu_tanh((4096,))
    import subprocess
    import tempfile
    from .targets.tools import tool
    with tempfile.TemporaryDirectory() as d:
        for vec in (True, False):
            obj = hexmlir.compile(k.mlir, Options(target="hexagon", arch="v73", vectorize=vec), emit="obj",
                                  output=f"{d}/gelu.o")
            dis = subprocess.run([tool("llvm-objdump"), "-d", str(obj)], capture_output=True, text=True).stdout
            hvx = sum(1 for line in dis.splitlines() if "vmem(" in line or ".qf32" in line or ".sf)" in line)
            print(f"hexagon v73 gelu ({'vectorized' if vec else 'scalar'}): {hvx} HVX instruction lines in the object")
