"""Host and npu-emu targets: LLVM IR -> shared object with clang-22, loadable through ctypes.

`-march` is the target's x86-64 level (`Options.isa`: this CPU's level by default; pin x86-64-v3 or -v4
for artifacts that run on another machine; the artifact records it and refuses to load on a CPU without
it). Scalar builds turn LLVM's loop and SLP vectorizers off, so "scalar" means scalar.
"""
from __future__ import annotations

import platform
from pathlib import Path

from .tools import run, tool

MARCH = "x86-64-v3" if platform.machine() in ("x86_64", "AMD64") else None   # the runtime's and tools' level


def cflags(vectorize: bool, opt_level: int = 3, march: str | None = MARCH) -> list[str]:
    f = [f"-O{opt_level}", "-fPIC"]
    if march:
        f.append(f"-march={march}")
    if not vectorize:
        f += ["-fno-vectorize", "-fno-slp-vectorize"]
    return f


def build(llvm_ir: str, out_dir: Path, name: str, options, emit: set[str], target=None) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    ll = out_dir / f"{name}.ll"
    ll.write_text(llvm_ir)
    flags = cflags(options.vectorize, options.opt_level, target.cpu if target is not None else MARCH)
    out = {"ll": ll}
    if "asm" in emit:
        out["asm"] = out_dir / f"{name}.s"
        run([tool("clang"), *flags, "-S", "-x", "ir", str(ll), "-o", str(out["asm"])], "host-codegen")
    if "obj" in emit or "so" in emit:
        out["obj"] = out_dir / f"{name}.o"
        run([tool("clang"), *flags, "-c", "-x", "ir", str(ll), "-o", str(out["obj"])], "host-codegen")
    if "so" in emit:
        out["so"] = out_dir / f"{name}.so"
        run([tool("clang"), "-shared", "-fPIC", str(out["obj"]), "-lm", "-o", str(out["so"])], "host-link")
    return out
