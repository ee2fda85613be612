"""Host target: LLVM IR -> shared object with clang-22, loadable through ctypes.

The ISA baseline is x86-64-v3 (AVX2 + FMA) so artifacts built here run on other x86 machines (the
benchmark machine). Scalar builds turn LLVM's loop and SLP vectorizers off, so "scalar" means scalar.
"""
from __future__ import annotations

import platform
from pathlib import Path

from .tools import run, tool

MARCH = "x86-64-v3" if platform.machine() in ("x86_64", "AMD64") else None


def cflags(vectorize: bool, opt_level: int = 3) -> list[str]:
    f = [f"-O{opt_level}", "-fPIC"]
    if MARCH:
        f.append(f"-march={MARCH}")
    if not vectorize:
        f += ["-fno-vectorize", "-fno-slp-vectorize"]
    return f


def build(llvm_ir: str, out_dir: Path, name: str, options, emit: set[str]) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    ll = out_dir / f"{name}.ll"
    ll.write_text(llvm_ir)
    flags = cflags(options.vectorize, options.opt_level)
    out = {"ll": ll}
    if "asm" in emit:
        out["asm"] = out_dir / f"{name}.s"
        run([tool("clang"), *flags, "-S", "-x", "ir", str(ll), "-o", str(out["asm"])], "host-codegen")
    if "obj" in emit or "so" in emit:
        out["obj"] = out_dir / f"{name}.o"
        # with the .s at hand, assemble it (same instructions, only alignment NOPs encoded differently)
        # instead of optimizing and generating code a second time: that is most of a cold compile
        src = ["-x", "assembler", str(out["asm"])] if "asm" in out else [*flags, "-x", "ir", str(ll)]
        run([tool("clang"), "-c", *src, "-o", str(out["obj"])], "host-codegen")
    if "so" in emit:
        out["so"] = out_dir / f"{name}.so"
        run([tool("clang"), "-shared", "-fPIC", str(out["obj"]), "-lm", "-o", str(out["so"])], "host-link")
    return out
