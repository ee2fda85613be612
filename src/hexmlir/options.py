"""All compiler options in one dataclass. Every mechanism has a switch; a switch that is off is off in the code."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, asdict


@dataclass(frozen=True)
class Options:
    target: str = "host"            # "host" (this CPU) | "npu-emu" (an NPU emulated on it) | "hexagon" | "hexagon-sim"
    arch: str = "v73"               # Hexagon arch; npu-emu emulates its TCM size and thread count
    isa: str = "auto"               # host/npu-emu x86-64 level: "auto" (this CPU's) or x86-64-v2/-v3/-v4 for
                                    # artifacts that travel (v4: AVX-512, 64-byte host vectors)
    # Mechanisms (the ablation switches)
    fusion: bool = True             # elementwise/producer fusion into one loop nest per output
    tcm_tiling: bool = True         # tile to the TCM budget (host: to the cache), operands promoted to TCM
                                    # where the target has one
    vectorize: bool = True          # target-width vectors; False also turns LLVM's loop/SLP vectorizers off
    register_tiling: bool = True    # FMA targets: contractions tiled to MR x NR register micro-kernels of
                                    # outer-product FMAs (transforms/contract.py); needs vectorize
    pack_b: bool = True             # register_tiling: copy B's column panels to contiguous stack buffers
    fast_math: bool = True          # polynomial tanh/exp/erf/sigmoid, reciprocal instead of vector fdiv
    multithread: bool = True        # distribute the outer parallel loop over hardware threads
    num_threads: int = 0            # 0: the target's hardware thread count
    merge_regions: bool = True      # consecutive independent parallel regions run as one (targets without TCM)
    mt_threshold: int = 0           # work (trip count x body cost) below which no threading; 0: derived
    dma: bool = True                # TCM buffers from the runtime pool, copies by its DMA engine (targets
                                    # with a copy engine; no effect on host)
    double_buffer: bool = True      # ping-pong TCM sets: DMA of tile i+1 and write-back of i-1 overlap tile i
    causal_skip: bool = True        # causal attention: row segments skip the key columns masked in all their rows
    conv_epilogue: bool = True      # FMA targets: a convolution's element-wise consumer (BatchNorm, ReLU, residual
                                    # add) computed in the convolution's tiles, on its output tile (needs fusion)
    # Budgets and overrides
    tcm_budget: int = 0             # bytes; 0: derived from the target (v73: 8 MiB)
    tile_elems: int = 0             # override the planner's elements per TCM tile (0: planner decides)
    opt_level: int = 3
    dump_dir: str | None = field(default=None, compare=False)   # IR after each stage; env HEXMLIR_DUMP_DIR

    def __post_init__(self):
        _validate(self)

    def replace(self, **kw) -> "Options":
        unknown = set(kw) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            from .errors import HexmlirError
            raise HexmlirError(f"unknown option(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **kw)

    def key(self) -> dict:
        """The options that change emitted code (for the compile cache and artifact metadata)."""
        d = asdict(self)
        d.pop("dump_dir")
        return d

    @staticmethod
    def all_off(**kw) -> "Options":
        return Options(fusion=False, tcm_tiling=False, vectorize=False, fast_math=False,
                       multithread=False, dma=False, double_buffer=False).replace(**kw)


from .targets import NAMES as TARGETS  # noqa: E402  (one list of target names)
_BOOLS = ("fusion", "tcm_tiling", "vectorize", "register_tiling", "pack_b", "fast_math", "multithread",
          "merge_regions", "dma", "double_buffer", "causal_skip", "conv_epilogue")
# (lowest, highest) for the integer fields; 0 means "derived" where the comment above says so.
_RANGES = {"num_threads": (0, 1024), "mt_threshold": (0, 1 << 62), "opt_level": (0, 3),
           "tcm_budget": (0, 1 << 30), "tile_elems": (0, 1 << 31)}
MIN_TCM_BUDGET = 4096           # below one 4 KiB page no tile plus its double-buffer twin fits
TILE_ELEMS_MULTIPLE = 32        # one f32 HVX vector: tiles in whole vectors


def _validate(o: Options) -> None:
    """Every field checked, with the allowed range in the message (a bad option never reaches a pass)."""
    from .errors import HexmlirError

    def bad(name, allowed):
        raise HexmlirError(f"option {name}={getattr(o, name)!r} is invalid: {allowed}")
    if o.target not in TARGETS:
        bad("target", f"one of {', '.join(TARGETS)}")
    from .targets import HEXAGON_ARCHS
    if o.arch not in HEXAGON_ARCHS:
        bad("arch", f"one of {', '.join(HEXAGON_ARCHS)}")
    from .targets import ISAS
    if o.isa not in ISAS:
        bad("isa", f"one of {', '.join(ISAS)}")
    for name in _BOOLS:
        if not isinstance(getattr(o, name), bool):
            bad(name, "True or False")
    for name, (lo, hi) in _RANGES.items():
        v = getattr(o, name)
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            bad(name, f"an integer from {lo} to {hi}")
    if 0 < o.tcm_budget < MIN_TCM_BUDGET:
        bad("tcm_budget", f"0 (the target's TCM size) or at least {MIN_TCM_BUDGET} bytes")
    if o.tile_elems % TILE_ELEMS_MULTIPLE:
        bad("tile_elems", f"0 (the planner decides) or a positive multiple of {TILE_ELEMS_MULTIPLE}")
    if o.dump_dir is not None and not isinstance(o.dump_dir, (str, __import__("os").PathLike)):
        bad("dump_dir", "a directory path or None")
