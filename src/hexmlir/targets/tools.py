"""Locate the pinned LLVM 22 tools (clang-22, llc-22, ld.lld-22, mlir-translate-22) and report versions."""
from __future__ import annotations

import functools
import shutil
import subprocess

from ..errors import ToolchainError

VERSION = "22"


@functools.lru_cache(None)
def tool(name: str) -> str:
    for cand in (f"{name}-{VERSION}", f"/usr/lib/llvm-{VERSION}/bin/{name}"):
        p = shutil.which(cand)
        if p:
            return p
    raise ToolchainError(f"{name}-{VERSION} not found; run scripts/setup.sh (installs clang-22, lld-22, "
                         f"llvm-22, mlir-22-tools)")


@functools.lru_cache(None)
def versions() -> str:
    out = []
    for t in ("clang", "llc"):
        try:
            out.append(subprocess.run([tool(t), "--version"], capture_output=True, text=True).stdout.split("\n")[0])
        except ToolchainError:
            out.append(f"{t}: missing")
    return "; ".join(out)


def run(cmd: list[str], stage: str, input: str | None = None) -> str:
    r = subprocess.run(cmd, input=input, capture_output=True, text=True)
    if r.returncode != 0:
        raise ToolchainError(f"{' '.join(cmd[:3])} ... failed:\n{r.stderr.strip()[:3000]}", stage=stage)
    return r.stdout
