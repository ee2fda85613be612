"""Host and npu-emu targets: LLVM IR -> shared object with clang-22, loadable through ctypes.

`-march` is the target's x86-64 level (`Options.isa`: this CPU's level by default; pin x86-64-v3 or -v4
for artifacts that run on another machine; the artifact records it and refuses to load on a CPU without
it). Scalar builds turn LLVM's loop and SLP vectorizers off, so "scalar" means scalar.
"""
from __future__ import annotations

import platform
import re
from pathlib import Path

from .tools import run, tool

MARCH = "x86-64-v3" if platform.machine() in ("x86_64", "AMD64") else None   # the runtime's and tools' level


def cflags(vectorize: bool, opt_level: int = 3, march: str | None = MARCH, fp_contract: bool = False) -> list[str]:
    f = [f"-O{opt_level}", "-fPIC"]
    if march:
        f.append(f"-march={march}")
    if fp_contract:
        f.append("-ffp-contract=fast")
    if not vectorize:
        f += ["-fno-vectorize", "-fno-slp-vectorize"]
    return f


_FP_ARITH = re.compile(r"= (fmul|fadd|fsub) ")


def allow_contraction(llvm_ir: str) -> str:
    """Mark float multiplies/adds `contract`, so the backend fuses them into FMAs (the fast-math polynomials
    take about half the instructions). For IR input clang's -ffp-contract does not reach the backend; the
    per-instruction flag does."""
    return _FP_ARITH.sub(lambda m: f"= {m.group(1)} contract ", llvm_ir)


def build(llvm_ir: str, out_dir: Path, name: str, options, emit: set[str], target=None) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    ll = out_dir / f"{name}.ll"
    if target is not None and target.fma:
        llvm_ir = allow_contraction(llvm_ir)
    ll.write_text(llvm_ir)
    flags = cflags(options.vectorize, options.opt_level, target.cpu if target is not None else MARCH,
                   bool(target is not None and target.fma))
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
