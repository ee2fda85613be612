"""The backend's options: the fields Triton's frontend reads plus hexmlir's Options.

Resolution order (later wins): hexmlir.Options defaults < env HEXMLIR_TRITON_TARGET < set_options(...)
< per-launch kwargs / triton.Config kwargs.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
from dataclasses import dataclass

from ...errors import HexmlirError
from ...options import Options

# hexmlir options a launch may set (dump_dir is not part of the code, so not an option here).
HEX_FIELDS = tuple(f.name for f in dataclasses.fields(Options) if f.name != "dump_dir")


@dataclass(frozen=True)
class HexmlirTritonOptions:
    # Fields Triton's frontend and JIT read (found by trial, see docs/triton.md).
    num_warps: int = 1
    num_ctas: int = 1
    num_stages: int = 1
    warp_size: int = 1
    enable_fp_fusion: bool = True
    supported_fp8_dtypes: tuple = ()
    deprecated_fp8_dot_operand_dtypes: tuple = ()
    default_dot_input_precision: str = "ieee"      # no tf32 on a CPU/NPU: dots are exact fp32
    allowed_dot_input_precisions: tuple = ("ieee",)
    max_num_imprecise_acc_default: int = 0
    extern_libs: tuple = ()
    debug: bool = False
    backend_name: str = "cpu"
    sanitize_overflow: bool = False
    instrumentation_mode: str = ""
    fpsan_homomorphic_casts: bool = False
    launch_cooperative_grid: bool = False
    launch_pdl: bool = False
    ir_override: str | None = None
    # hexmlir.Options (same names, same defaults).
    target: str = Options.target
    arch: str = Options.arch
    isa: str = Options.isa
    fusion: bool = Options.fusion
    tcm_tiling: bool = Options.tcm_tiling
    vectorize: bool = Options.vectorize
    register_tiling: bool = Options.register_tiling
    pack_b: bool = Options.pack_b
    fast_math: bool = Options.fast_math
    multithread: bool = Options.multithread
    merge_regions: bool = Options.merge_regions
    num_threads: int = Options.num_threads
    mt_threshold: int = Options.mt_threshold
    dma: bool = Options.dma
    double_buffer: bool = Options.double_buffer
    causal_skip: bool = Options.causal_skip
    conv_epilogue: bool = Options.conv_epilogue
    tcm_budget: int = Options.tcm_budget
    tile_elems: int = Options.tile_elems
    opt_level: int = Options.opt_level

    def hash(self) -> str:
        key = "_".join(f"{k}-{v}" for k, v in sorted(self.__dict__.items()))
        return hashlib.sha256(key.encode()).hexdigest()

    def hexmlir(self) -> Options:
        """The hexmlir.Options these launch options select."""
        return Options(**{k: getattr(self, k) for k in HEX_FIELDS})


assert set(HEX_FIELDS) <= {f.name for f in dataclasses.fields(HexmlirTritonOptions)}, \
    "hexmlir.Options gained a field the Triton options do not carry"

_FIELDS = {f.name: f for f in dataclasses.fields(HexmlirTritonOptions)}
_lock = threading.Lock()
_defaults: dict | None = None
_generations: list[dict] = []


def _env_defaults() -> dict:
    d = {}
    t = os.environ.get("HEXMLIR_TRITON_TARGET")
    if t:
        d["target"] = t
    return d


def _check(opts: dict) -> dict:
    unknown = set(opts) - set(HEX_FIELDS)
    if unknown:
        raise HexmlirError(f"unknown hexmlir option(s): {', '.join(sorted(unknown))}; "
                           f"known: {', '.join(HEX_FIELDS)}")
    Options().replace(**opts)       # Options validates every value (names, types, ranges)
    return opts


def defaults() -> dict:
    """The process-wide hexmlir option defaults (env, then set_options)."""
    global _defaults
    with _lock:
        if _defaults is None:
            _defaults = _check(_env_defaults())
        return dict(_defaults)


def set_options(**opts) -> None:
    """Set process-wide hexmlir defaults for Triton launches (a launch's own kwargs still win).

    `set_options()` with no arguments resets to the environment defaults.
    """
    global _defaults
    new = _check(dict(opts)) if opts else None
    with _lock:
        _defaults = None if new is None else {**_check(_env_defaults()), **new}


def generation() -> int:
    """An index for the current defaults; the driver reports it as the device id, so the JIT's per-device
    kernel cache never returns a kernel compiled under different defaults."""
    d = defaults()
    with _lock:
        if d not in _generations:
            _generations.append(d)
        return _generations.index(d)


def parse(opts: dict) -> HexmlirTritonOptions:
    """Build the options object from a launch's kwargs (unknown keys are the JIT's to reject)."""
    args = defaults()
    args.update({k: v for k, v in opts.items() if k in _FIELDS and v is not None})
    for k in ("supported_fp8_dtypes", "deprecated_fp8_dot_operand_dtypes", "allowed_dot_input_precisions"):
        if k in args:
            args[k] = tuple(args[k])
    libs = args.pop("extern_libs", None)       # hashable form; no extern library is ever linked here
    if libs:
        args["extern_libs"] = tuple(sorted(dict(libs).items()))
    if args.get("default_dot_input_precision", "ieee") != "ieee":
        raise HexmlirError("hexmlir computes dots in IEEE precision only (input_precision='ieee')")
    args["allowed_dot_input_precisions"] = ("ieee",)
    _check({k: args[k] for k in HEX_FIELDS if k in args})
    return HexmlirTritonOptions(**args)
