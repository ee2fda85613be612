"""Packets per element under qemu-hexagon: hexmlir builds vs. a C reference (clang-22 -O3 -hexagon-autohvx).

    PYTHONPATH=src python3 -m hexmlir.bench.sim_packets [--quick] [--json out.json]   (or: hexmlir bench packets)

For each kernel (int8 saturating add, int32 add, int8 row dot, GELU in the scalar-float simulation build)
and each build (scalar: all mechanisms off; vectorized: vectorize+fusion+fast-math; vectorized+TCM/DMA/DB:
everything on except threads, so counts are deterministic) it runs the kernel once under qemu-hexagon,
checks the output against NumPy and counts executed packets between the harness's kernel markers on all
threads. "compiled" counts only the functions of the kernel object (what the compiler emitted), "all"
adds the runtime it calls (TCM pool, DMA engine: a software copy thread under QEMU, where real DMA
costs no packets). The C peer is the same kernel written as a plain loop, compiled by clang-22 -O3
-mhvx -mllvm -hexagon-autohvx (GELU: HVX float off, tanhf from musl), linked with the same harness.
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


def _kernels(quick: bool):
    from ..kernels.linalg_suite import gelu_tanh, int8_dot, int_add, int_add_sat
    n = 4099 if quick else 100003
    m, k = (5, 1031) if quick else (97, 1031)
    g = 1031 if quick else 20011
    return [
        ("int8 add (sat)", int_add_sat(n, "int8"), "add_sat_i8", n),
        ("int32 add", int_add(n, "int32"), "add_i32", n),
        ("int8 dot (rows)", int8_dot(m, k), "dot_i8", m * k),
        ("GELU f32 (scalar-float sim build)", gelu_tanh((g,), "float32"), "gelu_f32", g),
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
                arch: str = "v73"):
    """Build and run the C peer; returns (output array, Profile, compiled-code packets)."""
    from ..targets import sim
    from ..targets.tools import run, tool
    src = workdir / f"{key}.c"
    src.write_text(C_SOURCES[key])
    obj = workdir / f"{key}.o"
    flags = ["-O3", "--target=hexagon-unknown-linux-musl", f"-mcpu=hexagon{arch}", f"-mhvx={arch}",
             "-mhvx-length=128b", "-mllvm", "-hexagon-autohvx", "-ffreestanding"]
    if "f32" in key:                     # QEMU cannot run HVX float: the same flags as hexagon-sim builds
        flags += ["-mno-hvx-qfloat", "-mno-hvx-ieee-fp"]
    run([tool("clang"), *flags, "-c", str(src), "-o", str(obj)], "c-reference")
    exe = sim.link([obj], sim.grid_stub("ref", ["ptr"] * len(arrays) + ["int32_t"] * len(scalars), ()),
                   workdir / f"{key}.sim", arch)
    _, prof = sim.run(exe, arrays, inputs=[i for i in range(len(arrays)) if i != out_index],
                      outputs=[out_index], scalars=scalars, threads=1, arch=arch, profile="kernel")
    return arrays[out_index], prof, _compiled_packets(prof, _defined_functions(obj))


def measure(quick: bool = False) -> list[dict]:
    from ..driver import compile as hcompile
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory(prefix="hexmlir-packets-") as td:
        for label, kern, ckey, elems in _kernels(quick):
            ins = kern.random_inputs(rng)
            ref = kern.reference(*ins)[0]
            tol = 1e-4 if ref.dtype.kind == "f" else 0
            row = {"kernel": label, "elements": elems, "builds": {}}
            for bname, opts in _builds():
                k = hcompile(kern.mlir, opts)
                out, prof = k.profile(*ins)
                np.testing.assert_allclose(out, ref, rtol=tol, atol=tol, err_msg=f"{label} {bname}")
                names = _defined_functions(k.path.parent / "kernel.o")
                row["builds"][bname] = {"packets": prof.packets, "hvx": prof.hvx,
                                        "compiled_packets": _compiled_packets(prof, names)}
            # C peer: the same inputs, flat buffers, sizes as scalars
            arrays = [np.ascontiguousarray(a) for a in ins] + [np.zeros_like(ref)]
            scalars = [kern.inputs[0][0][0], kern.inputs[0][0][1]] if ckey == "dot_i8" else [elems]
            out, prof, comp = c_reference(ckey, arrays, scalars, len(arrays) - 1, Path(td))
            np.testing.assert_allclose(out, ref, rtol=tol, atol=tol, err_msg=f"{label} C reference")
            row["c_autohvx"] = {"packets": prof.packets, "hvx": prof.hvx, "compiled_packets": comp}
            rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    builds = [b for b, _ in _builds()]
    head = ("| kernel | elements | " + " | ".join(builds) + " | C -O3 autohvx | HVX insns (vec / C) |\n"
            "|---|---:|" + "---:|" * len(builds) + "---:|---:|")
    out = [head]
    for r in rows:
        n = r["elements"]

        def cell(d):
            s = f"{d['packets'] / n:.3f}"
            if d["compiled_packets"] != d["packets"]:
                s += f" ({d['compiled_packets'] / n:.3f})"
            return s
        cells = [cell(r["builds"][b]) for b in builds]
        hv = f"{r['builds']['vectorized']['hvx']} / {r['c_autohvx']['hvx']}"
        out.append(f"| {r['kernel']} | {n} | " + " | ".join(cells) + f" | {cell(r['c_autohvx'])} | {hv} |")
    return "\n".join(out)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes")
    ap.add_argument("--json", default=None, help="also write the raw counts here")
    a = ap.parse_args(argv)
    rows = measure(a.quick)
    print("packets per element, kernel only, single thread (all threads' packets in the call; "
          "in parentheses: only the compiled kernel's functions, where the runtime adds some)")
    print(table(rows))
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
