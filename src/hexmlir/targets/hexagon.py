"""Hexagon target: LLVM IR -> .s / .o / .so with clang-22 (Hexagon backend) and ld.lld-22.

HVX 128-byte mode with the arch's HVX version. Scalar builds keep the same features but turn the
vectorizers off (Hexagon auto-HVX is also off unless -hexagon-autohvx), so no HVX instruction appears.
"""
from __future__ import annotations

from pathlib import Path

from .tools import run, tool


def cflags(target, vectorize: bool, opt_level: int = 3) -> list[str]:
    f = [f"--target={target.triple}", f"-mcpu={target.cpu}", f"-O{opt_level}", "-fPIC"]
    for feat in target.features:
        f += ["-Xclang", "-target-feature", "-Xclang", feat]
    if not vectorize:
        f += ["-fno-vectorize", "-fno-slp-vectorize"]
    return f


def build(llvm_ir: str, out_dir: Path, name: str, options, target, emit: set[str]) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    ll = out_dir / f"{name}.ll"
    ll.write_text(llvm_ir)
    flags = cflags(target, options.vectorize, options.opt_level)
    out = {"ll": ll}
    if "asm" in emit:
        out["asm"] = out_dir / f"{name}.s"
        run([tool("clang"), *flags, "-S", "-x", "ir", str(ll), "-o", str(out["asm"])], "hexagon-codegen")
    if emit & {"obj", "so"}:
        out["obj"] = out_dir / f"{name}.o"
        run([tool("clang"), *flags, "-c", "-x", "ir", str(ll), "-o", str(out["obj"])], "hexagon-codegen")
    if "so" in emit:
        out["so"] = out_dir / f"{name}.so"
        run([tool("ld.lld"), "-shared", str(out["obj"]), "-o", str(out["so"])], "hexagon-link")
    return out
