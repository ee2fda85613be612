"""The contract stage's tuning constants swept on plain (A B) and nn.Linear-shaped (A W^T) f32 matmuls,
against torch's mm / F.linear in the same process: the instrument for the micro-kernel on a machine
without `perf` (session 28's sweep on the device's Xeon, docs/benchmarks/reading.md).

    # development machine (MLIR present): every variant x shape, for 1 and 16 threads
    PYTHONPATH=src python3 scripts/mm_sweep.py build ART
    # the machine to measure (numpy + torch): rounds alternate the order, two timed calls per turn
    PYTHONPATH=src python3 scripts/mm_sweep.py run ART [ROUNDS]

A variant patches module constants of transforms.contract for its builds (the compile cache is bypassed:
it does not see patches). `run` prints, per thread count and shape, each variant's median ms and torch's /
its (> 1: hexmlir faster) and the share of the CPU's vector-FMA peak (`runtime.fma_peak`); the 16-thread build of the default also runs at 1 thread ("default@16t", what a
16-thread artifact costs there). Between turns at 16 threads it sleeps 30 ms, so neither torch's OpenMP
threads nor the runtime's pool still spin into the next turn."""
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

VARIANTS = {
    "default": {},
    "kc48k": {"PACK_BYTES": 48 << 10, "PACK_MIN_BYTES": 8 << 10},
    "kc24k": {"PACK_BYTES": 24 << 10, "PACK_MIN_BYTES": 8 << 10},
    "mr6": {"MAX_MR": 6},
    "mr14nr2": {"MAX_MR": 14, "MAX_NR": 2},
}
SHAPES = [("mm", 512, 512, 512), ("mm", 256, 1024, 256), ("mm", 256, 256, 1024),
          ("bt", 256, 704, 256), ("bt", 256, 256, 704), ("bt", 256, 1024, 256), ("bt", 256, 256, 1024)]


def bt_mlir(m, n, k):
    """C = A W^T, W [n, k] as nn.Linear holds it."""
    return f"""
#a = affine_map<(i, j, l) -> (i, l)>
#b = affine_map<(i, j, l) -> (j, l)>
#c = affine_map<(i, j, l) -> (i, j)>
func.func @mmbt(%A: tensor<{m}x{k}xf32>, %W: tensor<{n}x{k}xf32>) -> tensor<{m}x{n}xf32> {{
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<{m}x{n}xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<{m}x{n}xf32>) -> tensor<{m}x{n}xf32>
  %r = linalg.generic {{indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}}
      ins(%A, %W : tensor<{m}x{k}xf32>, tensor<{n}x{k}xf32>) outs(%f : tensor<{m}x{n}xf32>) {{
    ^bb0(%x: f32, %y: f32, %acc: f32):
      %p = arith.mulf %x, %y : f32
      %s = arith.addf %acc, %p : f32
      linalg.yield %s : f32
  }} -> tensor<{m}x{n}xf32>
  return %r : tensor<{m}x{n}xf32>
}}"""


def case(kind: str, m: int, n: int, k: int):
    """Fixed inputs of a shape (A [m, k]; B [k, n], or W [n, k] for "bt"), their float64 product and torch's
    call on them (mm / F.linear): (a, b, ref, torch_fn)."""
    import numpy as np
    import torch
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n) if kind == "mm" else (n, k), dtype=np.float32)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    ref = a.astype(np.float64) @ (b if kind == "mm" else b.T)
    fn = (lambda: torch.mm(ta, tb)) if kind == "mm" else (lambda: torch.nn.functional.linear(ta, tb))
    return a, b, ref, fn


def build(out: Path) -> None:
    from hexmlir import driver
    from hexmlir.kernels.linalg_suite import matmul
    from hexmlir.options import Options
    from hexmlir.transforms import contract
    out.mkdir(parents=True, exist_ok=True)
    names = sorted({k for p in VARIANTS.values() for k in p})
    base = {k: getattr(contract, k) for k in names}
    index = []
    try:
        for kind, m, n, k in SHAPES:
            text = matmul(m, n, k).mlir if kind == "mm" else bt_mlir(m, n, k)
            for v, patch in VARIANTS.items():
                for name, val in {**base, **patch}.items():
                    setattr(contract, name, val)
                os.environ["HEXMLIR_CACHE_DIR"] = tempfile.mkdtemp()
                for threads in (1, 16):
                    kern = driver.compile(text, Options(target="host", isa="x86-64-v4", num_threads=threads))
                    d = out / f"{kind}_{m}x{n}x{k}" / f"{v}_t{threads}"
                    d.mkdir(parents=True, exist_ok=True)
                    for f in ("kernel.json", "kernel.so", "libhexmlir_rt.so"):
                        if (kern.path.parent / f).exists():
                            shutil.copy(kern.path.parent / f, d / f)
                    index.append(dict(kind=kind, m=m, n=n, k=k, variant=v, threads=threads,
                                      dir=str(d.relative_to(out))))
                print(kind, m, n, k, v, flush=True)
    finally:
        for name, val in base.items():
            setattr(contract, name, val)
    (out / "index.json").write_text(json.dumps(index, indent=1))


def run(root: Path, rounds: int) -> None:
    import numpy as np
    import torch
    from hexmlir import runtime
    from hexmlir.artifact import Kernel
    idx = json.loads((root / "index.json").read_text())
    kernels = {(e["kind"], e["m"], e["n"], e["k"], e["variant"], e["threads"]): Kernel.load(root / e["dir"] / "kernel.json")
               for e in idx}
    for threads in (1, 16):
        fma = runtime.fma_peak(threads)       # the ceiling: 16 independent vector-FMA chains per thread
        print(f"t{threads}: vector-FMA peak {fma / 1e9:.0f} GFLOP/s" if fma else f"t{threads}: no FMA probe", flush=True)
        torch.set_num_threads(threads)
        runtime.set_num_threads(threads)
        for kind, m, n, k in sorted({(e["kind"], e["m"], e["n"], e["k"]) for e in idx}):
            a, b, ref, torch_fn = case(kind, m, n, k)
            fns = [("torch", torch_fn)]
            for key, kern in kernels.items():
                if key[:4] != (kind, m, n, k) or not (key[5] == threads or (threads == 1 and key[4] == "default")):
                    continue
                got = kern(a, b)
                err = float(np.abs(got - ref).max() / np.abs(ref).max())
                assert err < 1e-5, (key, err)
                fns.append((key[4] + ("@16t" if key[5] != threads else ""), lambda kk=kern: kk(a, b)))
            ts = {name: [] for name, _ in fns}
            for _ in range(3):
                for _, f in fns:
                    f()
            for r in range(rounds):
                for name, f in (fns if r % 2 == 0 else fns[::-1]):
                    if threads > 1:
                        time.sleep(0.03)
                    f()
                    t0 = time.perf_counter()
                    f()
                    f()
                    ts[name].append((time.perf_counter() - t0) / 2)
            ref_t = statistics.median(ts["torch"])
            gf = {name: 2 * m * n * k / statistics.median(v) / 1e9 for name, v in ts.items()}
            cells = " ".join(f"{name} {statistics.median(v) * 1e3:.3f} ({ref_t / statistics.median(v):.2f}"
                             + (f", {100 * gf[name] * 1e9 / fma:.0f}% peak)" if fma else ")")
                             for name, v in ts.items())
            print(f"t{threads} {kind} {m}x{n}x{k} (torch {gf['torch']:.0f} GFLOP/s): {cells}", flush=True)


if __name__ == "__main__":
    what, art = sys.argv[1], Path(sys.argv[2])
    if what == "build":
        build(art)
    else:
        run(art, int(sys.argv[3]) if len(sys.argv) > 3 else 25)
