"""`hexmlir demo`: compile real kernels, check them against NumPy, and show what each mechanism buys.

For each kernel, on the host target (the CPU as itself) and then on the emulated NPU (npu-emu: TCM arena,
DMA engine, 128-byte vectors): the full pipeline vs the same pipeline with one mechanism switched off (median
of repeats), plus a Hexagon build to show HVX in the emitted object.
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
    from hexmlir import targets
    host = targets.get("host")
    npu = targets.get("npu-emu")
    # The host target is the CPU as itself (no TCM, no DMA: those switches change nothing there); the NPU's
    # mechanisms are ablated on the emulated NPU, where they exist.
    hb = Options(target="host")
    nb = Options(target="npu-emu")
    sections = [
        (f"host target (the CPU as itself): {host.describe()}",
         {"all on": hb, "no vectorize": hb.replace(vectorize=False), "no fusion": hb.replace(fusion=False),
          "no cache tiling": hb.replace(tcm_tiling=False), "no fast-math": hb.replace(fast_math=False),
          "no multithread": hb.replace(multithread=False)}),
        (f"npu-emu target (the NPU's mechanisms, emulated): {npu.describe()}",
         {"all on": nb, "no vectorize": nb.replace(vectorize=False), "no fusion": nb.replace(fusion=False),
          "no TCM tiling": nb.replace(tcm_tiling=False), "no fast-math": nb.replace(fast_math=False),
          "no multithread": nb.replace(multithread=False), "no DMA": nb.replace(dma=False),
          "no double-buffer": nb.replace(double_buffer=False)}),
    ]
    rng = np.random.default_rng()
    for title, variants in sections:
        print(f"hexmlir demo: {title}; median of repeats\n")
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
