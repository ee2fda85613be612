"""The machine a benchmark runs on: what it is (CPU, ISA, library versions) and its measured peaks (copy
bandwidth, FLOP/s), which the reports set the results against."""
from __future__ import annotations

import os
import platform
from pathlib import Path

from .timing import copy_bandwidth, peak_flops, torch_copy_bandwidth


def machine() -> dict:
    info = {"cpus": os.cpu_count(), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"), "platform": platform.platform(), "python": platform.python_version(),
            "cpu_model": platform.processor() or "?", "isa": "?"}
    try:
        txt = Path("/proc/cpuinfo").read_text()
        for line in txt.splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                fl = set(line.split(":", 1)[1].split())
                info["isa"] = " ".join(f for f in ("avx2", "fma", "f16c", "avx512f", "avx512_fp16", "amx_tile")
                                       if f in fl)
                break
    except OSError:
        pass
    import numpy
    info["numpy"] = numpy.__version__
    try:
        import torch
        info["torch"] = torch.__version__
    except ImportError:
        pass
    try:
        from importlib.metadata import version
        info["iree"] = version("iree-base-runtime")
    except Exception:
        pass
    return info


def fma_peaks(threads: int, art_dir=None) -> dict | None:
    """The CPU's vector-FMA ceiling in GFLOP/s on 1 and `threads` threads ({"1": .., "N": ..}), measured by the
    hexmlir runtime's probe (runtime.fma_peak): the one already loaded, else the one an artifact under
    `art_dir` ships, else one built here. None where none loads (no clang, an older runtime)."""
    from .. import runtime
    from ..errors import ToolchainError
    try:
        if runtime.loaded_path() is None:
            runtime.load_host(next(Path(art_dir).rglob("libhexmlir_rt.so"), None) if art_dir else None)
        f1, fN = runtime.fma_peak(1), runtime.fma_peak(threads)
    except (ToolchainError, OSError):
        return None
    return None if f1 is None or fN is None else {"1": f1 / 1e9, "N": fN / 1e9}


def peaks(threads: int, mib: int = 256, quick: bool = False, art_dir=None) -> dict:
    nb = (16 if quick else mib) << 20
    c1 = copy_bandwidth(nb)
    cands = {"numpy threads": copy_bandwidth(nb, threads=threads)}
    tc = torch_copy_bandwidth(nb, threads)
    if tc:
        cands["torch copy_"] = tc
    cN = max(max(cands.values()), c1)
    f1, src = peak_flops(1, 512 if quick else 2048)
    fN, _ = peak_flops(threads, 512 if quick else 2048)
    return {"copy_GBps": {"1": c1 / 1e9, "N": cN / 1e9}, "copy_sources": ["numpy copyto"] + list(cands),
            "copy_mib": nb >> 20, "GFLOPs": {"1": f1 / 1e9, "N": fN / 1e9}, "flops_source": src,
            "fma_GFLOPs": fma_peaks(threads, art_dir)}
