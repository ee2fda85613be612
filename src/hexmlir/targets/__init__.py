"""A target is data: TCM size, vector bytes, hardware threads, DMA, LLVM triple and features."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import HexmlirError


@dataclass(frozen=True)
class Target:
    name: str                 # "host" | "hexagon"
    arch: str                 # "v73", ... (the host emulates this arch's NPU resources)
    tcm_bytes: int            # scratchpad size
    vector_bytes: int         # 128 for HVX-128B
    hw_threads: int           # hardware threads sharing the HVX units
    index_bits: int           # 64 on host, 32 on Hexagon
    triple: str | None        # None: the host's default triple
    cpu: str | None
    features: tuple[str, ...] = ()

    def vector_lanes(self, elem_bytes: int) -> int:
        return self.vector_bytes // elem_bytes


# TCM (VTCM) sizes and HVX contexts per arch. v73 has 8 MiB VTCM as the foundation issue states.
_HEXAGON = {
    "v68": (4 << 20, 4), "v69": (8 << 20, 4), "v73": (8 << 20, 4),
    "v75": (8 << 20, 4), "v79": (8 << 20, 4), "v81": (8 << 20, 4),
}
HEXAGON_ARCHS = tuple(_HEXAGON)


def hexagon_target(arch: str = "v73", *, simulate: bool = False) -> Target:
    if arch not in _HEXAGON:
        raise HexmlirError(f"unknown Hexagon arch {arch!r}; known: {', '.join(HEXAGON_ARCHS)}")
    tcm, threads = _HEXAGON[arch]
    feats = [f"+hvx{arch}", "+hvx-length128b"]
    if simulate:  # qemu-hexagon cannot execute HVX float instructions: keep integer HVX only
        feats += ["-hvx-qfloat", "-hvx-ieee-fp"]
    return Target("hexagon", arch, tcm, 128, threads, 32, "hexagon-unknown-linux-musl", f"hexagon{arch}",
                  tuple(feats))


def host_target(arch: str = "v73") -> Target:
    """The host CPU emulating an NPU of `arch`: same TCM size and vector width, host thread count."""
    import os
    tcm, _ = _HEXAGON.get(arch, _HEXAGON["v73"])
    return Target("host", arch, tcm, 128, os.cpu_count() or 1, 64, None, None, ())


def get(name: str, arch: str = "v73") -> Target:
    if name == "host":
        return host_target(arch)
    if name == "hexagon":
        return hexagon_target(arch)
    if name == "hexagon-sim":
        return hexagon_target(arch, simulate=True)
    raise HexmlirError(f"unknown target {name!r}; known: host, hexagon, hexagon-sim")
