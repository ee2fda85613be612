"""The Triton driver: activation on CPU-only machines, loading artifacts, launching a grid on CPU tensors."""
from __future__ import annotations

import json
import os
import statistics
import threading
import time
from pathlib import Path

from triton.backends.compiler import GPUTarget
from triton.backends.driver import DriverBase

from ...errors import HexmlirError, UnsupportedError
from . import options as hopts

BACKEND = "cpu"      # the entry-point name; Inductor asks triton for a "cpu" target


def _other_backend_active() -> bool:
    """Whether a GPU backend (nvidia, amd, ...) claims this machine."""
    from triton.backends import backends
    for name, b in backends.items():
        if name == BACKEND:
            continue
        try:
            if b.driver.is_active():
                return True
        except Exception:           # a GPU driver probing a machine without that GPU stack
            continue
    return False


# ---- loading ---------------------------------------------------------------------------------------------

_loaded: dict[str, object] = {}
_load_lock = threading.Lock()


def load_payload(payload: bytes | str):
    """The artifact Kernel for a stage payload (cached per kernel.json path; rebuilt if the hexmlir cache
    entry is gone)."""
    p = json.loads(payload)
    path = p["kernel_json"]
    with _load_lock:
        k = _loaded.get(path)
        if k is not None:
            return k
    from ...artifact import Kernel
    if Path(path).is_file():
        k = Kernel.load(path)
    else:                           # hexmlir cache cleared since triton cached the payload: rebuild
        from ... import driver
        from ...options import Options
        k = driver.compile(p["linalg"], Options(**p["options"]))
    with _load_lock:
        _loaded[path] = k
    return k


class _Utils:
    """What triton's CompiledKernel asks of `driver.active.utils`."""

    def load_binary(self, name, kernel, shared, device):
        k = load_payload(kernel)
        # (module, function, n_regs, n_spills, n_max_threads)
        return k, k, 0, 0, 1 << 30

    def unload_module(self, module):
        pass

    def get_device_properties(self, device):
        return {"max_shared_mem": 1 << 62, "multiprocessor_count": os.cpu_count() or 1,
                "max_num_regs": 1 << 30, "warpSize": 1}


# ---- launching -------------------------------------------------------------------------------------------

class HexmlirLauncher:
    """Called by triton with (gx, gy, gz, stream, function, packed_metadata, launch_metadata, enter_hook,
    exit_hook, *all kernel args); passes the runtime args (constexprs dropped) to Kernel.launch."""

    def __init__(self, src, metadata):
        sig = list(src.signature.values())
        for ty in sig:
            if isinstance(ty, tuple) or (isinstance(ty, str) and ty.startswith("tensordesc")):
                raise UnsupportedError(f"kernel argument of type {ty} (tuples, tensor descriptors)",
                                       stage="triton-launch")
        self.runtime = [i for i, ty in enumerate(sig) if ty != "constexpr"]
        self.name = metadata.name
        self.params = getattr(metadata, "hexmlir_params", None)

    def __call__(self, gx, gy, gz, stream, function, packed_metadata, launch_metadata, enter_hook, exit_hook,
                 *args):
        kernel = function
        if not kernel.runs_here and not kernel.simulated:   # hexagon-sim runs in qemu
            raise HexmlirError(f"{self.name} was compiled for {kernel.meta.get('target')} "
                               f"({kernel.path}); it cannot run on this host. Compile with "
                               f"kernel.warmup(..., target='hexagon') to build it without launching.",
                               stage="triton-launch")
        rt = [args[i] for i in self.runtime]
        if self.params is not None and len(rt) != len(self.params):
            raise HexmlirError(f"{self.name}: {len(rt)} runtime arguments for {len(self.params)} kernel "
                               f"parameters", stage="triton-launch")
        for i, a in enumerate(rt):
            dev = getattr(a, "device", None)
            if dev is not None and getattr(dev, "type", "cpu") != "cpu":
                raise HexmlirError(f"{self.name}: argument {i} is on {dev}; hexmlir runs on CPU tensors",
                                   stage="triton-launch")
        if gx * gy * gz == 0:
            return
        if enter_hook is not None:
            enter_hook(launch_metadata)
        kernel.launch(rt, (gx, gy, gz))
        if exit_hook is not None:
            exit_hook(launch_metadata)


# ---- benchmarking (autotune) -----------------------------------------------------------------------------

def do_bench(fn, warmup=3, rep=10, quantiles=None, return_mode="mean", **_):
    """Wall-clock benchmark for CPU kernels (ms): warm-up runs, then `rep` timed runs (at least 5)."""
    for _ in range(max(1, warmup)):
        fn()
    times = []
    for _ in range(max(5, rep)):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    if quantiles is not None:
        s = sorted(times)
        return [s[min(len(s) - 1, int(q * len(s)))] for q in quantiles]
    return {"mean": statistics.fmean, "median": statistics.median, "min": min, "max": max,
            "all": list}[return_mode](times)


class _CpuEvent:
    """torch.cuda.Event's timing interface on the CPU: kernels run synchronously, so recording a wall-clock
    time stamp is exact (triton.testing.do_bench times with these)."""

    def __init__(self, enable_timing: bool = True, **_):
        self.t = None

    def record(self, stream=None):
        self.t = time.perf_counter()

    def synchronize(self):
        pass

    def query(self):
        return True

    def elapsed_time(self, end: "_CpuEvent") -> float:
        """Milliseconds from this event to `end`."""
        if self.t is None or end.t is None:
            raise HexmlirError("elapsed_time on an event that was not recorded")
        return (end.t - self.t) * 1e3


class _CpuDeviceInterface:
    """The little of torch.cuda's interface triton's helpers touch."""

    Event = _CpuEvent

    @staticmethod
    def synchronize(*_):
        pass

    @staticmethod
    def current_device():
        return 0

    @staticmethod
    def device_count():
        return 1

    @staticmethod
    def is_available():
        return True


class HexmlirDriver(DriverBase):

    def __init__(self):
        super().__init__()
        self.utils = _Utils()
        self.launcher_cls = HexmlirLauncher

    @classmethod
    def is_active(cls):
        if os.environ.get("HEXMLIR_TRITON_DISABLE") == "1":
            return False
        if os.environ.get("TRITON_DEFAULT_BACKEND") == BACKEND:
            return True
        return not _other_backend_active()

    def get_current_target(self):
        return GPUTarget(BACKEND, "hexmlir", 1)

    def get_current_device(self):
        # The device id is the generation of the process-wide hexmlir defaults: triton keys its in-memory
        # kernel cache by device, so set_options() never returns a kernel built under other defaults.
        return hopts.generation()

    def set_current_device(self, device):
        pass

    def get_current_stream(self, device=None):
        return 0

    def get_active_torch_device(self):
        import torch
        return torch.device("cpu")

    def get_device_interface(self):
        return _CpuDeviceInterface()

    def map_python_to_cpp_type(self, ty: str) -> str:
        if ty.startswith("*"):
            return "void*"
        return {"i1": "bool", "i8": "int8_t", "i16": "int16_t", "i32": "int32_t", "i64": "int64_t",
                "u1": "bool", "u8": "uint8_t", "u16": "uint16_t", "u32": "uint32_t", "u64": "uint64_t",
                "fp16": "uint16_t", "bf16": "uint16_t", "fp32": "float", "fp64": "double"}[ty]

    def get_benchmarker(self):
        return do_bench

    def get_empty_cache_for_benchmark(self):
        import torch
        return torch.empty(1 << 20, dtype=torch.int8)

    def clear_cache(self, cache):
        cache.zero_()
