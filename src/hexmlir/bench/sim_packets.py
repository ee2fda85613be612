"""Packets per element under qemu-hexagon: hexmlir builds vs. C peers (clang-22 -O3 auto-HVX; HVX intrinsics).

    PYTHONPATH=src python3 -m hexmlir.bench.sim_packets [--quick] [--json out.json]   (or: hexmlir bench packets)

For each kernel (int8 saturating add, int32 add, int8 row dot, int8 matmul and 3x3 convolution (per MAC),
requantize int32 -> int8, GELU in the scalar-float simulation build) and each build (scalar: all mechanisms
off; vectorized: vectorize+fusion+fast-math; vectorized+TCM/DMA/DB: everything on except threads, so counts are deterministic)
it runs the kernel once under qemu-hexagon,
checks the output against NumPy and counts executed packets between the harness's kernel markers on all
threads. "compiled" counts only the functions of the kernel object (what the compiler emitted), "all"
adds the runtime it calls (TCM pool, DMA engine: a software copy thread under QEMU, where real DMA
costs no packets). The C peer is the same kernel written as a plain loop, compiled by clang-22 -O3
-mhvx -mllvm -hexagon-autohvx (GELU: HVX float off, tanhf from musl), linked with the same harness. The
integer kernels also have a hand-written HVX intrinsics peer (`hvx_peers.py`, clang-22 -O3 without the
auto-vectorizer), run and checked the same way.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

C_SOURCES = {
    "add_sat_i8": """
#include <stdint.h>
void ref(const int8_t *a, const int8_t *b, int8_t *c, int32_t n) {
  for (int32_t i = 0; i < n; i++) { int s = a[i] + b[i]; c[i] = s > 127 ? 127 : (s < -128 ? -128 : s); }
}""",
    "add_i32": """
#include <stdint.h>
void ref(const int32_t *a, const int32_t *b, int32_t *c, int32_t n) {
  for (int32_t i = 0; i < n; i++) c[i] = (int32_t)((uint32_t)a[i] + (uint32_t)b[i]);
}""",
    "dot_i8": """
#include <stdint.h>
void ref(const int8_t *a, const int8_t *b, int32_t *y, int32_t m, int32_t k) {
  for (int32_t i = 0; i < m; i++) {
    int32_t s = 0;
    for (int32_t j = 0; j < k; j++) s += (int32_t)a[i * k + j] * (int32_t)b[i * k + j];
    y[i] = s;
  }
}""",
    "matmul_i8": """
#include <stdint.h>
void ref(const int8_t *restrict a, const int8_t *restrict b, int32_t *restrict c, int32_t m, int32_t n, int32_t k) {
  for (int32_t i = 0; i < m; i++) {
    for (int32_t j = 0; j < n; j++) c[i * n + j] = 0;
    for (int32_t p = 0; p < k; p++) {
      int32_t av = a[i * k + p];
      for (int32_t j = 0; j < n; j++) c[i * n + j] += av * (int32_t)b[p * n + j];
    }
  }
}""",
    "conv_i8": """
#include <stdint.h>
void ref(const int8_t *restrict x, const int8_t *restrict w, int32_t *restrict out, int32_t n, int32_t c, int32_t h,
         int32_t wd, int32_t f, int32_t k, int32_t s) {
  int32_t oh = (h - k) / s + 1, ow = (wd - k) / s + 1;
  for (int32_t b = 0; b < n; b++)
    for (int32_t fi = 0; fi < f; fi++) {
      int32_t *o = out + ((intptr_t)b * f + fi) * oh * ow;
      for (int32_t q = 0; q < oh * ow; q++) o[q] = 0;
      for (int32_t ci = 0; ci < c; ci++)
        for (int32_t i = 0; i < k; i++)
          for (int32_t j = 0; j < k; j++) {
            int32_t wv = w[((fi * c + ci) * k + i) * k + j];
            const int8_t *xc = x + ((intptr_t)b * c + ci) * h * wd;
            for (int32_t r = 0; r < oh; r++)
              for (int32_t q = 0; q < ow; q++) o[r * ow + q] += wv * (int32_t)xc[(r * s + i) * wd + q * s + j];
          }
    }
}""",
    "requantize": """
#include <stdint.h>
void ref(const int32_t *restrict x, int8_t *restrict y, int32_t n, int32_t mult, int32_t shift, int32_t zp) {
  for (int32_t i = 0; i < n; i++) {
    int64_t v = (((int64_t)x[i] * mult + ((int64_t)1 << (31 + shift))) >> (32 + shift)) + zp;
    y[i] = v > 127 ? 127 : (v < -128 ? -128 : (int8_t)v);
  }
}""",
    "gelu_f32": """
#include <stdint.h>
float tanhf(float);
void ref(const float *x, float *y, int32_t n) {
  for (int32_t i = 0; i < n; i++) {
    float v = x[i];
    y[i] = 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
  }
}""",
}


# requantize's constants (the Linalg kernel's defaults), passed to both C peers as scalars
RQ_MULT, RQ_SHIFT, RQ_ZP = 1518500250, 7, -3

SIZES = {"full": {"n": 100003, "dot": (97, 1031), "matmul": (67, 133, 130), "conv": (1, 16, 34, 34, 32, 3, 1),
                  "gelu": 20011},
         "quick": {"n": 4099, "dot": (5, 1031), "matmul": (6, 133, 29), "conv": (1, 5, 13, 11, 7, 3, 1),
                   "gelu": 1031}}
PER_MAC = ("matmul_i8", "conv_i8")          # counted per multiply-accumulate


def _kernels(quick: bool):
    """(label, kernel, C key, elements (MACs for the matmul), C scalars)."""
    from ..kernels.linalg_suite import gelu_tanh, int8_conv2d, int8_dot, int8_matmul, int_add, int_add_sat, requantize
    sz = SIZES["quick" if quick else "full"]
    n, (m, k), (mm, mn, mk), g = sz["n"], sz["dot"], sz["matmul"], sz["gelu"]
    cv = sz["conv"]
    cn, cc, ch, cw, cf, ck, cs = cv
    conv_macs = cn * cf * ((ch - ck) // cs + 1) * ((cw - ck) // cs + 1) * cc * ck * ck
    return [
        ("int8 add (sat)", int_add_sat(n, "int8"), "add_sat_i8", n, [n]),
        ("int32 add", int_add(n, "int32"), "add_i32", n, [n]),
        ("int8 dot (rows)", int8_dot(m, k), "dot_i8", m * k, [m, k]),
        ("int8 matmul (per MAC)", int8_matmul(mm, mn, mk), "matmul_i8", mm * mn * mk, [mm, mn, mk]),
        (f"int8 conv {ck}x{ck} (per MAC)", int8_conv2d(*cv), "conv_i8", conv_macs, list(cv)),
        ("requantize i32 -> i8", requantize(n, RQ_MULT, RQ_SHIFT, RQ_ZP), "requantize", n,
         [n, RQ_MULT, RQ_SHIFT, RQ_ZP]),
        ("GELU f32 (scalar-float sim build)", gelu_tanh((g,), "float32"), "gelu_f32", g, [g]),
    ]


def _builds():
    from ..options import Options
    return [
        ("scalar", Options.all_off(target="hexagon-sim")),
        ("vectorized", Options.all_off(target="hexagon-sim", vectorize=True, fusion=True, fast_math=True)),
        ("vectorized+TCM/DMA/DB", Options(target="hexagon-sim", multithread=False)),
    ]


def _defined_functions(obj: Path) -> set[str]:
    from ..targets.tools import tool
    out = subprocess.run([tool("llvm-nm"), "--defined-only", str(obj)], capture_output=True, text=True,
                         check=True).stdout
    return {ln.split()[-1] for ln in out.splitlines() if len(ln.split()) == 3 and ln.split()[1] in "Tt"}


def _compiled_packets(prof, names: set[str]) -> int:
    return sum(c.packets for f, c in prof.functions.items() if f in names)


def c_reference(key: str, arrays: list[np.ndarray], scalars: list[int], out_index: int, workdir: Path,
                arch: str = "v73", peer: str = "autohvx"):
    """Build and run a C peer (`peer`: "autohvx", the plain loop of C_SOURCES; "intrinsics", the hand-written
    HVX of hvx_peers.SOURCES); returns (output array, Profile, compiled-code packets). Scalars go as int32."""
    from ..targets import sim
    from ..targets.tools import run, tool
    from .hvx_peers import SOURCES
    if peer not in ("autohvx", "intrinsics"):
        raise ValueError(f"peer must be 'autohvx' or 'intrinsics', not {peer!r}")
    name = f"{key}_{peer}"
    src = workdir / f"{name}.c"
    src.write_text(C_SOURCES[key] if peer == "autohvx" else SOURCES[key])
    obj = workdir / f"{name}.o"
    flags = ["-O3", "--target=hexagon-unknown-linux-musl", f"-mcpu=hexagon{arch}", f"-mhvx={arch}",
             "-mhvx-length=128b", "-ffreestanding"]
    # the intrinsics peers are the vector code themselves (and pun vectors with words: no strict aliasing)
    flags += ["-mllvm", "-hexagon-autohvx"] if peer == "autohvx" else ["-fno-strict-aliasing"]
    if "f32" in key:                     # QEMU cannot run HVX float: the same flags as hexagon-sim builds
        flags += ["-mno-hvx-qfloat", "-mno-hvx-ieee-fp"]
    run([tool("clang"), *flags, "-c", str(src), "-o", str(obj)], "c-reference")
    exe = sim.link([obj], sim.grid_stub("ref", ["ptr"] * len(arrays) + ["int32_t"] * len(scalars), ()),
                   workdir / f"{name}.sim", arch)
    _, prof = sim.run(exe, arrays, inputs=[i for i in range(len(arrays)) if i != out_index],
                      outputs=[out_index], scalars=scalars, threads=1, arch=arch, profile="kernel")
    return arrays[out_index], prof, _compiled_packets(prof, _defined_functions(obj))


def run_peer(key: str, inputs: list[np.ndarray], out_like: np.ndarray, scalars: list[int], workdir: Path,
             peer: str, arch: str = "v73"):
    """c_reference on fresh copies of `inputs` and a zeroed output like `out_like`."""
    arrays = [np.ascontiguousarray(a).copy() for a in inputs] + [np.zeros_like(out_like)]
    return c_reference(key, arrays, scalars, len(arrays) - 1, Path(workdir), arch, peer)


def _counts(prof, comp) -> dict:
    return {"packets": prof.packets, "hvx": prof.hvx, "compiled_packets": comp}


def measure(quick: bool = False, kernels: list[str] | None = None, hexmlir: bool = True, log=None) -> list[dict]:
    """Rows of the packets table; `kernels`: a subset of C keys (default all); hexmlir=False runs only the peers."""
    from ..driver import compile as hcompile
    from .hvx_peers import SOURCES
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory(prefix="hexmlir-packets-") as td:
        for label, kern, ckey, elems, scalars in _kernels(quick):
            if kernels is not None and ckey not in kernels:
                continue
            ins = kern.random_inputs(rng)
            ref = kern.reference(*ins)[0]
            tol = 1e-4 if ref.dtype.kind == "f" else 0
            nsize = {"matmul_i8": 3, "conv_i8": 7, "dot_i8": 2}.get(ckey, 1)
            row = {"kernel": label, "key": ckey, "elements": elems, "per": "MAC" if ckey in PER_MAC else "element",
                   "size": [int(s) for s in scalars[:nsize]], "builds": {}}
            for bname, opts in (_builds() if hexmlir else []):
                k = hcompile(kern.mlir, opts)
                out, prof = k.profile(*ins)
                np.testing.assert_allclose(out, ref, rtol=tol, atol=tol, err_msg=f"{label} {bname}")
                names = _defined_functions(k.path.parent / "kernel.o")
                row["builds"][bname] = _counts(prof, _compiled_packets(prof, names))
            for peer, col in [("autohvx", "c_autohvx"), ("intrinsics", "intrinsics")]:
                if peer == "intrinsics" and ckey not in SOURCES:
                    continue
                out, prof, comp = run_peer(ckey, ins, ref, scalars, Path(td), peer)
                np.testing.assert_allclose(out, ref, rtol=tol, atol=tol, err_msg=f"{label} C {peer}")
                row[col] = _counts(prof, comp)
            if log:
                log(f"{label}: done")
            rows.append(row)
    return rows


def _ratio(a: dict | None, b: dict | None, key: str = "packets") -> str:
    return f"{a[key] / b[key]:.2f}" if a and b and b[key] else "–"


def table(rows: list[dict]) -> str:
    builds = [b for b, _ in _builds()]
    head = ("| kernel | elements | " + " | ".join(builds) + " | C -O3 autohvx | HVX intrinsics | vec / intrinsics "
            "| TCM compiled / intrinsics | HVX insns (vec / C / intrinsics) |\n"
            "|---|---:|" + "---:|" * len(builds) + "---:|---:|---:|---:|---:|")
    out = [head]
    for r in rows:
        n = r["elements"]

        def cell(d):
            if not d:
                return "–"
            s = f"{d['packets'] / n:.3f}" if d["packets"] / n >= 0.1 else f"{d['packets'] / n:.4f}"
            if d["compiled_packets"] != d["packets"]:
                s += f" ({d['compiled_packets'] / n:.4f})" if d["compiled_packets"] / n < 0.1 else \
                     f" ({d['compiled_packets'] / n:.3f})"
            return s
        b = r["builds"]
        intr = r.get("intrinsics")
        cells = [cell(b.get(x)) for x in builds]
        hv = " / ".join(str(d["hvx"]) if d else "–" for d in (b.get("vectorized"), r.get("c_autohvx"), intr))
        tcm = b.get("vectorized+TCM/DMA/DB")
        out.append(f"| {r['kernel']} | {n} | " + " | ".join(cells) + f" | {cell(r.get('c_autohvx'))} | {cell(intr)} "
                   f"| {_ratio(b.get('vectorized'), intr)} | {_ratio(tcm, intr, 'compiled_packets')} | {hv} |")
    return "\n".join(out)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes")
    ap.add_argument("--json", default=None, help="also write the raw counts here")
    ap.add_argument("--kernels", default=None, help="comma-separated subset of " + ",".join(C_SOURCES))
    ap.add_argument("--peers-only", action="store_true", help="run only the C peers (no hexmlir builds)")
    a = ap.parse_args(argv)
    rows = measure(a.quick, a.kernels.split(",") if a.kernels else None, hexmlir=not a.peers_only)
    print("packets per element (int8 matmul and conv: per MAC), kernel only, single thread (all threads' packets in "
          "the call; in parentheses: only the compiled kernel's functions, where the runtime adds some)")
    print(table(rows))
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
