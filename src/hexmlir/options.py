"""All compiler options in one dataclass. Every mechanism has a switch; a switch that is off is off in the code."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, asdict


@dataclass(frozen=True)
class Options:
    target: str = "host"            # "host" | "hexagon"
    arch: str = "v73"               # Hexagon arch; the host target emulates its TCM size and thread count
    # Mechanisms (the ablation switches)
    fusion: bool = True             # elementwise/producer fusion into one loop nest per output
    tcm_tiling: bool = True         # tile to the TCM budget, operands promoted to memory space 1
    vectorize: bool = True          # 128-byte vectors; False also turns LLVM's loop/SLP vectorizers off
    fast_math: bool = True          # polynomial tanh/exp/erf/sigmoid, reciprocal instead of vector fdiv
    multithread: bool = True        # distribute the outer parallel loop over hardware threads
    num_threads: int = 0            # 0: the target's hardware thread count
    mt_threshold: int = 0           # work (trip count x body cost) below which no threading; 0: derived
    dma: bool = True                # TCM buffers from the runtime pool, copies by its DMA engine
    double_buffer: bool = True      # ping-pong TCM sets: DMA of tile i+1 and write-back of i-1 overlap tile i
    # Budgets and overrides
    tcm_budget: int = 0             # bytes; 0: derived from the target (v73: 8 MiB)
    tile_elems: int = 0             # override the planner's elements per TCM tile (0: planner decides)
    opt_level: int = 3
    dump_dir: str | None = field(default=None, compare=False)   # IR after each stage; env HEXMLIR_DUMP_DIR

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
