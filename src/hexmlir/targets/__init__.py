"""A target is data: what the machine has (scratchpad, copy engine, vector width, threads, caches) and how
code for it is built (triple, CPU, features). Stages read these fields; none branches on a target's name.

- `host`: this CPU as itself. Tiles sized for its caches and computed in place (no scratchpad, no copy
  engine), vectors at the width of the ISA level (`Options.isa`: the compiling CPU's x86-64 level by
  default, AVX-512 -> 64-byte vectors), threads = its cores.
- `npu-emu`: an NPU of `arch` emulated on this CPU: its TCM size as an arena (the runtime's pool), the DMA
  engine (runtime copy threads), 128-byte vectors, its HVX thread count. The mechanisms' ablation runs here.
- `hexagon` / `hexagon-sim`: the real NPU (cross-compiled; sim: run under qemu-hexagon).

A target also knows how to build an artifact (`Target.build`): its fields pick the code generator
(host.py for targets that run here, hexagon.py otherwise), the runtime a host artifact loads and the
simulation executable (sim.py). The driver calls it and never asks which target it has.
"""
from __future__ import annotations

import os
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import HexmlirError


@dataclass(frozen=True)
class Target:
    name: str                 # "host" | "npu-emu" | "hexagon" (hexagon-sim: "hexagon", simulated)
    arch: str                 # Hexagon arch ("v73", ...): the one emulated or compiled for
    tcm_bytes: int            # scratchpad size; 0: no scratchpad (tiles computed in place)
    vector_bytes: int         # 128 for HVX-128B; host: 64 (AVX-512), 32 (AVX2), 16 (SSE)
    hw_threads: int           # threads the target runs a tile loop on by default
    index_bits: int           # 64 on host, 32 on Hexagon
    triple: str | None        # None: the host's default triple
    cpu: str | None           # -mcpu / -march value (host: the x86-64 ISA level)
    features: tuple[str, ...] = ()
    copy_engine: bool = False  # a DMA engine moves tiles (the dma and double-buffer stages)
    cache_tile_bytes: int = 0  # no scratchpad: working-set bytes one thread's tile may take (cache-sized)
    runs_here: bool = False    # artifacts run in this process (ctypes), not on a device or simulator
    simulated: bool = False    # + a static executable for qemu-hexagon (targets/sim.py)
    fma: bool = False          # multiply-adds may be fused (the CPU's FMA units; HVX has no vector fma)
    hvx: bool = False          # HVX instructions (vrmpy, multiply-high, ...) may be used: the hvx-contract stage
    native_div: bool = False   # vector fdiv is one fast instruction (a CPU's divps), not scalarized (Hexagon):
                               # fast-math keeps divf instead of Newton-Raphson reciprocals
    streaming_store_bytes: int = 0  # element-wise outputs at least this large are stored non-temporally
                               # (aligned main loop); 0: never
    reduction_tile_bytes: int = 0  # no scratchpad: a reduction group's tile (several passes) sized for L1
    cache_resident_bytes: int = 0  # no scratchpad: bytes of a contraction group's operands that every tile
                               # re-reads whole (attention's K^T, V) kept in one core's cache beside its tile
    half_via_f32: bool = False  # no half-precision vector arithmetic (x86 below AVX512-FP16): f16/bf16
                               # element-wise bodies computed in f32, rounded once at the store

    @property
    def scratchpad(self) -> bool:
        """Tiles are staged into a separate local memory (TCM, memory space 1)."""
        return self.tcm_bytes > 0

    @property
    def shared_chunks(self) -> bool:
        """A parallel region's chunks are work items any pool thread takes (no per-thread TCM set): independent
        neighbouring regions can share one fork/join (merge-regions)."""
        return not self.scratchpad

    @property
    def conv_matmul(self) -> bool:
        """Convolutions pay as matmuls over a window copy (conv-im2col): a micro-kernel takes the matmul,
        contract's FMA one (float) or hvx-contract's vrmpy one (int8)."""
        return self.fma or self.hvx

    @property
    def qfloat_only(self) -> bool:
        """HVX float is qfloat only (v79+): arithmetic yields qf32, IEEE sf only by conversion (the qf-chains
        stage). v68-v75 builds add IEEE HVX float; simulation builds turn HVX float off."""
        return self.hvx and not ({"+hvx-ieee-fp", "-hvx-qfloat"} & set(self.features))

    @property
    def hvx_float(self) -> bool:
        """HVX float arithmetic (qfloat, and IEEE on v68-v75); simulation builds turn it off."""
        return self.hvx and "-hvx-qfloat" not in self.features

    def vector_lanes(self, elem_bytes: int) -> int:
        return self.vector_bytes // elem_bytes

    def describe(self) -> str:
        local = (f"TCM {self.tcm_bytes >> 10} KiB" if self.scratchpad
                 else f"cache tiles {self.cache_tile_bytes >> 10} KiB/thread")
        return (f"{self.name}/{self.arch if self.scratchpad else self.cpu or platform.machine()}: {local}, "
                f"vector {self.vector_bytes} B, {self.hw_threads} thread(s)"
                + (", DMA engine" if self.copy_engine else ""))

    # ---- behaviour: what the fields above mean for building and running an artifact

    def build(self, llvm_ir: str, out_dir: Path, options, signature: dict,
              uses_runtime: bool = False) -> tuple[dict[str, Path], dict]:
        """LLVM IR -> this target's files in `out_dir` ({kind: path}: ll, asm, obj, so, + the runtime a
        host artifact loads or the executable a simulated one runs) and the metadata the artifact needs to
        load and run them. signature: the kernel's {"entry", "args", "threads" (the plan's thread bound)}."""
        from . import hexagon, host
        if self.runs_here:
            files = host.build(llvm_ir, out_dir, "kernel", options, {"asm", "so"}, self)
            if uses_runtime:             # ship the runtime with the artifact (loaded once per process)
                from .. import runtime
                files["runtime"] = out_dir / "libhexmlir_rt.so"
                shutil.copyfile(runtime.build_host(), files["runtime"])
        else:
            files = hexagon.build(llvm_ir, out_dir, "kernel", options, self, {"asm", "obj", "so"})
        meta = {"target": self.name, "arch": self.arch, "features": list(self.features),
                "isa": self.cpu if self.runs_here else None, "runs_here": self.runs_here,
                "runtime": files["runtime"].name if "runtime" in files else None,
                # hvx.py declares the kernel's arguments noalias: the artifact keeps written ones apart
                "noalias_args": self.hvx}
        if self.hvx:
            meta["hvx_float"] = not self.simulated
        if self.simulated:
            files["sim"], sim_meta = self._simulator(files["obj"], out_dir, options, signature)
            meta.update(sim_meta)
        return files, meta

    def _simulator(self, obj: Path, out_dir: Path, options, signature: dict) -> tuple[Path, dict]:
        """A static executable running the kernel under qemu-hexagon (sim.py), and its metadata."""
        from . import sim
        entry, args = signature["entry"], signature["args"]
        if any(a["role"] == "grid" for a in args):      # a Triton grid kernel
            exe = sim.link([obj], sim.triton_stub(entry, args), out_dir / sim.EXE_NAME, self.arch)
        else:
            exe = sim.build_linalg(obj, {"entry": entry, "args": args, "arch": self.arch}, out_dir)
        return exe, {"simulator": sim.EXE_NAME, "hvx_float": False,
                     "sim_threads": signature.get("threads", 1),
                     "sim_note": "simulation build: HVX float off (-hvx-qfloat,-hvx-ieee-fp), float vector ops "
                                 "run as scalar code; target 'hexagon' keeps HVX float"}


# TCM (VTCM) sizes and HVX contexts per arch. v73 has 8 MiB VTCM as the foundation issue states.
_HEXAGON = {
    "v68": (4 << 20, 4), "v69": (8 << 20, 4), "v73": (8 << 20, 4),
    "v75": (8 << 20, 4), "v79": (8 << 20, 4), "v81": (8 << 20, 4),
}
HEXAGON_ARCHS = tuple(_HEXAGON)
IEEE_HVX_ARCHS = ("v68", "v69", "v73", "v75")    # HVX with IEEE single/half float besides qfloat
NAMES = ("host", "npu-emu", "hexagon", "hexagon-sim")

# x86-64 micro-architecture levels (psABI) -> (CPU flags they need, vector bytes of generated code).
ISA_LEVELS = {
    "x86-64": ((), 16),
    "x86-64-v2": (("sse4_2", "popcnt", "ssse3"), 16),
    "x86-64-v3": (("avx2", "fma", "bmi2", "f16c", "movbe"), 32),
    "x86-64-v4": (("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"), 64),
}
ISAS = ("auto",) + tuple(ISA_LEVELS)
# Per-thread working set of a host tile: room in a 1-2 MiB L2 for the tile's inputs and outputs with the
# next lines prefetched; larger tiles only cut loop overhead, which is negligible at this size.
HOST_TILE_BYTES = 256 << 10
# Element-wise outputs from this size on are written with non-temporal stores on host: well past what a
# core's share of the last-level cache keeps for a consumer, so caching them only costs the
# read-for-ownership (measured: 1-thread vector add 4M f32 ~30% faster on the dev machine). Threaded
# kernels stream only in loops of at most 4 threads (runtime hx_stream_stores; 16-core Xeon: streaming
# faster at 1-4 threads, cached stores from 8, where bandwidth is the limit and the output stays in L3).
HOST_STREAM_BYTES = 8 << 20
# A row-wise reduction group (LayerNorm, softmax, RMSNorm) passes over its tile several times: one thread's
# tile is sized for L1 (48 KiB: Sapphire Rapids' L1d; measured best of 16/48/96 KiB on a 32 KiB-L1 Zen 4,
# 16 KiB splitting the group instead).
HOST_REDUCTION_TILE_BYTES = 48 << 10
# A core's L2 (the smaller of Zen 4's 1 MiB and Sapphire Rapids' 2 MiB) less one tile: what operands re-read
# by every tile of a contraction group (attention's K^T and V under its query-row blocks) may take.
HOST_L2_BYTES = 1 << 20
HOST_RESIDENT_BYTES = HOST_L2_BYTES - HOST_TILE_BYTES


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def is_x86() -> bool:
    return platform.machine() in ("x86_64", "AMD64")


def cpu_isa_level(flags: set[str] | None = None) -> str:
    """The highest x86-64 level this CPU supports (cumulative: each level needs the ones below)."""
    flags = _cpu_flags() if flags is None else flags
    best = "x86-64"
    for level, (need, _) in ISA_LEVELS.items():
        if not all(f in flags for f in need):
            break
        best = level
    return best


def isa_supported(level: str, flags: set[str] | None = None) -> bool:
    """Whether this CPU can run code built for `level`."""
    if level not in ISA_LEVELS:
        return True                       # not an x86 level (another host architecture): nothing to check
    levels = list(ISA_LEVELS)
    return levels.index(level) <= levels.index(cpu_isa_level(flags))


def resolve_isa(isa: str) -> str | None:
    """`Options.isa` -> the x86-64 level code is built for (None on a non-x86 host)."""
    if not is_x86():
        return None
    return cpu_isa_level() if isa == "auto" else isa


def hexagon_target(arch: str = "v73", *, simulate: bool = False) -> Target:
    if arch not in _HEXAGON:
        raise HexmlirError(f"unknown Hexagon arch {arch!r}; known: {', '.join(HEXAGON_ARCHS)}")
    tcm, threads = _HEXAGON[arch]
    feats = [f"+hvx{arch}", "+hvx-length128b"]
    if arch in IEEE_HVX_ARCHS and not simulate:  # IEEE sf/hf HVX arithmetic: no qf32 -> sf conversion per op
        feats.append("+hvx-ieee-fp")
    if simulate:  # qemu-hexagon cannot execute HVX float instructions: keep integer HVX only
        feats += ["-hvx-qfloat", "-hvx-ieee-fp"]
    return Target("hexagon", arch, tcm, 128, threads, 32,
                  "hexagon-unknown-linux-musl", f"hexagon{arch}", tuple(feats), copy_engine=True,
                  simulated=simulate, hvx=True)


def npu_emu_target(arch: str = "v73", isa: str = "auto") -> Target:
    """This CPU emulating an NPU of `arch`: its TCM as the runtime's arena, DMA by the runtime's copy
    threads, 128-byte vectors, the arch's thread count."""
    if arch not in _HEXAGON:
        raise HexmlirError(f"unknown Hexagon arch {arch!r}; known: {', '.join(HEXAGON_ARCHS)}")
    tcm, threads = _HEXAGON[arch]
    return Target("npu-emu", arch, tcm, 128, threads, 64, None, resolve_isa(isa), (), copy_engine=True,
                  runs_here=True, half_via_f32=True)


def host_target(arch: str = "v73", isa: str = "auto") -> Target:
    """This CPU as itself: cache-sized tiles computed in place, its vector width, its cores."""
    level = resolve_isa(isa)
    vbytes = ISA_LEVELS[level][1] if level else 16
    fma = level is not None and list(ISA_LEVELS).index(level) >= list(ISA_LEVELS).index("x86-64-v3")
    return Target("host", arch, 0, vbytes, os.cpu_count() or 1, 64, None, level, (),
                  cache_tile_bytes=HOST_TILE_BYTES, runs_here=True, fma=fma, native_div=True,
                  streaming_store_bytes=HOST_STREAM_BYTES, reduction_tile_bytes=HOST_REDUCTION_TILE_BYTES,
                  cache_resident_bytes=HOST_RESIDENT_BYTES,
                  half_via_f32=True)


def get(name: str, arch: str = "v73", isa: str = "auto") -> Target:
    if name == "host":
        return host_target(arch, isa)
    if name == "npu-emu":
        return npu_emu_target(arch, isa)
    if name in ("hexagon", "hexagon-sim"):
        return hexagon_target(arch, simulate=name == "hexagon-sim")
    raise HexmlirError(f"unknown target {name!r}; known: {', '.join(NAMES)}")


def runs_here(name: str) -> bool:
    """Artifacts of target `name` run in this process (ctypes)."""
    return name in NAMES and get(name).runs_here
