"""A compiled kernel: <name>.so + <name>.json. Loads and runs with numpy + ctypes only (no MLIR).

Calling convention: `_mlir_ciface_hxk_<fn>(desc*...)` (meta "entry", transforms/symbols.py), one memref
descriptor per argument
({allocated, aligned, offset, sizes[r], strides[r]}); function results became trailing out-arguments.
"""
from __future__ import annotations

import ctypes
import json
import threading
from pathlib import Path

import numpy as np

_DESC_CACHE: dict[int, type] = {}


def _desc_type(rank: int):
    if rank not in _DESC_CACHE:
        fields = [("allocated", ctypes.c_void_p), ("aligned", ctypes.c_void_p), ("offset", ctypes.c_ssize_t)]
        if rank:
            fields += [("sizes", ctypes.c_ssize_t * rank), ("strides", ctypes.c_ssize_t * rank)]
        _DESC_CACHE[rank] = type(f"MemRef{rank}D", (ctypes.Structure,), {"_fields_": fields})
    return _DESC_CACHE[rank]


def _descriptor(a: np.ndarray):
    d = _desc_type(a.ndim)()
    d.allocated = d.aligned = a.ctypes.data
    d.offset = 0
    for i in range(a.ndim):
        d.sizes[i] = a.shape[i]
        d.strides[i] = a.strides[i] // a.itemsize
    return d


# scalar arguments of grid kernels, passed by value
_CTYPES = {"int8": ctypes.c_int8, "int16": ctypes.c_int16, "int32": ctypes.c_int32, "int64": ctypes.c_int64,
           "float32": ctypes.c_float, "float64": ctypes.c_double, "bool": ctypes.c_bool,
           "float16": ctypes.c_uint16, "bfloat16": ctypes.c_uint16}


def _pointer_descriptor(a, dtype: str, k: int, name: str):
    """A 1-D memref descriptor starting at a pointer argument's data: a numpy array, a torch tensor, or any
    object with `data_ptr()` and `dtype` (op libraries wrap tensors so; Triton itself needs no more)."""
    if isinstance(a, np.ndarray):
        got, addr, numel = str(a.dtype), a.ctypes.data, a.size
    elif hasattr(a, "data_ptr"):                     # torch.Tensor or a wrapper (torch not imported here)
        got = str(getattr(a, "dtype", "?")).replace("torch.", "")
        dev = getattr(a, "device", None)
        if dev is not None and getattr(dev, "type", "cpu") != "cpu":
            raise _error(f"{name}: argument {k} is on {dev}; hexmlir runs CPU tensors")
        addr = int(a.data_ptr())
        try:                                         # the extent, where the object tells it
            numel = a.untyped_storage().nbytes() // a.element_size() - a.storage_offset()
        except (AttributeError, TypeError):
            numel = (1 << 62) // 8                   # unknown: the kernel's own masks bound its accesses
    else:
        a = np.asarray(a)
        got, addr, numel = str(a.dtype), a.ctypes.data, a.size
    if got != dtype and not _same_storage(got, dtype):
        raise _error(f"{name}: pointer argument {k} must point to {dtype}, got {got}")
    d = _desc_type(1)()
    d.allocated = d.aligned = addr
    d.offset = 0
    d.sizes[0] = max(numel, 1)
    d.strides[0] = 1
    return d


INT32_MAX = (1 << 31) - 1
_INT_BYTES = {"bool": 1, "int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4, "int64": 8,
              "uint64": 8}


def _same_storage(got: str, want: str) -> bool:
    """Integer pointers of one width share a storage type (Triton's u8/i1 pointers are i8 memrefs)."""
    return got in _INT_BYTES and want in _INT_BYTES and _INT_BYTES[got] == _INT_BYTES[want]


def np_dtype(name: str) -> np.dtype:
    """numpy dtype of an argument. bfloat16 is ml_dtypes.bfloat16 where installed, else its raw bits as
    uint16 (numpy itself has no bfloat16)."""
    if name == "bfloat16":
        try:
            import ml_dtypes
            return np.dtype(ml_dtypes.bfloat16)
        except ImportError:
            return np.dtype(np.uint16)
    return np.dtype(name)


def _error(msg):
    from .errors import HexmlirError
    return HexmlirError(msg)


def _scalar(v, dtype: str):
    if dtype in ("float16", "bfloat16"):
        bits = np.array([v], dtype=np.float16 if dtype == "float16" else np.float32).view(np.uint16 if dtype == "float16" else np.uint32)[0]
        return int(bits) if dtype == "float16" else int(bits) >> 16
    if dtype.startswith("float"):
        return float(v)
    return int(v)


# The file (device, inode) each library path was first loaded from in this process. dlopen hands back the
# library already loaded under a path, so a new artifact written to the same path (a rename: a new inode)
# would silently run the old code: it is loaded from a private copy instead.
_LOADED: dict[str, tuple[int, int]] = {}


def _dlopen(path: Path) -> ctypes.CDLL:
    import shutil
    import tempfile
    st = path.stat()
    ident = (st.st_dev, st.st_ino)
    if _LOADED.setdefault(str(path.resolve()), ident) == ident:
        return ctypes.CDLL(str(path))
    d = Path(tempfile.mkdtemp(prefix="hexmlir-reload-"))
    try:
        shutil.copyfile(path, d / path.name)
        return ctypes.CDLL(str(d / path.name))
    finally:                            # a mapped library outlives its file
        shutil.rmtree(d, ignore_errors=True)


class Kernel:
    """A loaded artifact. `kernel(*inputs)` returns the outputs as new numpy arrays."""

    def __init__(self, so_path: Path, meta: dict):
        self.path, self.meta = Path(so_path), meta
        self.name = meta["name"]
        self.simulated = bool(meta.get("simulator"))   # hexagon-sim: runs under qemu-hexagon (targets/sim.py)
        self._rt = None                                 # the host runtime (assertion flag), if linked
        self._specs = self._keep = self._plan = None    # _in_specs, _keepable, _arg_plan (on first use)
        self._tls = threading.local()                   # _addresses' reused descriptors, per calling thread
        if not self.runs_here:
            self._fn = None
            return
        isa = meta.get("isa")
        if isa:
            from .targets import isa_supported
            if not isa_supported(isa):      # would die of SIGILL at the first call
                raise _error(f"{self.name} ({self.path}) was built for {isa}, which this CPU does not "
                             f"support; compile it with Options(isa=...) at this CPU's level or lower")
        rt = meta.get("runtime")
        if rt:
            from . import runtime
            self._rt = runtime.load_host(self.path.parent / rt)
        self._lib = _dlopen(self.path)
        self._fn = getattr(self._lib, meta["entry"])
        self._fn.restype = None
        self._fn.argtypes = [_CTYPES[a["dtype"]] if a["role"] in ("scalar", "grid") else ctypes.c_void_p
                             for a in meta["args"]]

    @property
    def runs_here(self) -> bool:
        """Runs in this process through ctypes (host, npu-emu); artifacts older than the field: host only."""
        return bool(self.meta.get("runs_here", self.meta["target"] == "host"))

    @classmethod
    def load(cls, path) -> "Kernel":
        p = Path(path)
        meta_path = p.with_suffix(".json") if p.suffix in (".so", ".json", "") else p
        meta = json.loads(meta_path.read_text())
        return cls(meta_path.with_suffix(".so"), meta)

    @property
    def inputs(self):
        return [a for a in self.meta["args"] if a["role"] == "in"]

    def _check(self, arrays):
        specs = self._in_specs()
        if len(arrays) != len(specs):
            from .errors import HexmlirError
            raise HexmlirError(f"{self.name} takes {len(specs)} inputs, got {len(arrays)}")
        return [self._check_one(k, a, shape, dtype) for k, (a, (shape, dtype)) in enumerate(zip(arrays, specs))]

    def _in_specs(self):
        """(shape tuple, numpy dtype) of each input, computed once (a call checks every argument)."""
        if self._specs is None:
            self._specs = [(tuple(a["shape"]), np_dtype(a["dtype"])) for a in self.inputs]
        return self._specs

    def _arg_plan(self):
        """Per signature argument: ("in", copy it?) or ("out", shape, dtype), computed once."""
        if self._plan is None:
            written = set(self.meta["results"]) | set(self.meta.get("writes", ()))
            self._plan = [("in", i in written) if spec["role"] == "in"
                          else ("out", tuple(spec["shape"]), np_dtype(spec["dtype"]))
                          for i, spec in enumerate(self.meta["args"])]
        return self._plan

    def __call__(self, *arrays):
        """Run on fresh copies of the inputs that the kernel writes (DPS outputs), return the results."""
        if self.simulated or self._fn is None:
            args = self._args(self._check(arrays))
            self.run_unchecked(args)                       # built by _check/_args to the signature
        else:
            args, addrs = self._call_args(arrays)
            self._fn(*addrs)
            self._check_asserts()
        res = self._results(args)
        return res[0] if len(res) == 1 else tuple(res)

    def _call_args(self, arrays):
        """_check, _args and _addresses in one pass: (arguments, descriptor addresses). An input passed again
        (the same object, a model's weights) that is still C-contiguous, of its shape and of the very dtype
        object it had keeps its check and its descriptor: ~0.2 us an argument instead of ~0.6 (MobileNetV3,
        135 arguments: 28 us of Python a call, 85 before). Only inputs the kernel never writes are kept (holding
        one keeps its data pointer fixed: numpy refuses to resize a referenced array)."""
        specs, plan = self._in_specs(), self._arg_plan()
        if len(arrays) != len(specs):
            self._check(arrays)                            # raises the count error
        c = self._tls.__dict__
        if "call" not in c:
            n = len(plan)
            c["call"] = ([None] * n, [None] * n, [0] * n)  # kept input, its descriptor, its address
        kept, descs, addrs = c["call"]
        keep = self._keepable()
        args = []
        k = 0
        for i, p in enumerate(plan):
            if p[0] == "in":
                given, (shape, dtype) = arrays[k], specs[k]
                if given is kept[i] and given.shape == shape and given.dtype is dtype and given.flags.c_contiguous:
                    args.append(given)
                    k += 1
                    continue
                a = self._check_one(k, given, shape, dtype)
                k += 1
                if p[1]:
                    a = a.copy()
                kept[i] = a if i in keep and a is given else None
            else:
                a = np.empty(p[1], dtype=p[2])
                kept[i] = None
            d = _descriptor(a)
            descs[i], addrs[i] = d, ctypes.addressof(d)
            args.append(a)
        return args, addrs

    def _check_one(self, k: int, a, shape, dtype):
        """Input k as the kernel reads it (C-contiguous, its shape and dtype), or a HexmlirError naming it."""
        if a.__class__ is not np.ndarray or a.shape != shape or a.dtype != dtype:
            a = np.asarray(a)
            if a.shape != shape or a.dtype != dtype:
                from .errors import HexmlirError
                spec = self.inputs[k]
                raise HexmlirError(f"{self.name}: input {k} must be {spec['dtype']}{spec['shape']}, "
                                   f"got {a.dtype}{list(a.shape)}")
        return a if a.flags.c_contiguous else np.ascontiguousarray(a)

    def _results(self, args):
        """Result r lives in argument results[r]; a result that repeats an earlier one is a copy of it."""
        res, seen = [], set()
        for i in self.meta["results"]:
            res.append(args[i].copy() if i in seen else args[i])
            seen.add(i)
        return res

    def _args(self, ins):
        # The kernel may write the arguments results live in and those listed in `writes` (DPS
        # destinations); it runs on copies of them, so the caller's arrays never change.
        args = []
        k = 0
        for p in self._arg_plan():
            if p[0] == "in":
                a = ins[k]
                k += 1
                args.append(a.copy() if p[1] else a)
            else:
                args.append(np.empty(p[1], dtype=p[2]))
        return args

    def _sim_run(self, args: list[np.ndarray], profile: str | None = None, threads: int | None = None):
        from .targets import sim
        specs = self.meta["args"]
        outs = sorted({i for i, s in enumerate(specs) if s["role"] == "out"} | set(self.meta["results"]))
        ins = [i for i, s in enumerate(specs) if s["role"] == "in"]
        stdout, prof = sim.run(self.path.parent / self.meta["simulator"], args, inputs=ins, outputs=outs,
                               threads=threads or self.meta.get("sim_threads"), arch=self.meta["arch"],
                               profile=profile)
        self._check_asserts(stdout)
        return prof

    def profile(self, *arrays, kernel_only: bool = True, threads: int | None = None):
        """hexagon-sim only: run under qemu-hexagon with the packet profiler; returns (outputs, Profile).
        Profile.elements is the size of the largest argument."""
        if not self.simulated:
            from .errors import HexmlirError
            raise HexmlirError(f"{self.name}: profiling needs a target='hexagon-sim' build")
        args = self._args(self._check(arrays))
        prof = self._sim_run(args, "kernel" if kernel_only else "all", threads)
        prof.elements = max(int(np.prod(s["shape"])) for s in self.meta["args"])
        res = self._results(args)
        return (res[0] if len(res) == 1 else tuple(res)), prof

    def check_args(self, args: list) -> None:
        """Every argument (inputs and outputs, signature order) a C-contiguous numpy array of exactly the
        signature's shape and dtype: the kernel reads neither strides nor sizes, so anything else would be read
        wrongly or overrun."""
        specs = self.meta["args"]
        if len(args) != len(specs):
            raise _error(f"{self.name}.run takes {len(specs)} arrays (inputs then outputs), got {len(args)}")
        for k, (a, spec) in enumerate(zip(args, specs)):
            want = f"{spec['dtype']}{list(spec['shape'])}"
            if not isinstance(a, np.ndarray):
                raise _error(f"{self.name}.run: argument {k} must be a numpy array {want}, got {type(a).__name__}")
            if tuple(a.shape) != tuple(spec["shape"]) or a.dtype != np_dtype(spec["dtype"]):
                raise _error(f"{self.name}.run: argument {k} ({spec['role']}) must be {want}, "
                             f"got {a.dtype}{list(a.shape)}")
            if not a.flags.c_contiguous:
                raise _error(f"{self.name}.run: argument {k} is not C-contiguous (strides {a.strides}); "
                             "pass np.ascontiguousarray(a)")
            if spec["role"] == "out" and not a.flags.writeable:
                raise _error(f"{self.name}.run: output argument {k} is read-only")
        # An output parameter must not share memory with any other argument (merge-regions runs a region
        # writing it beside others that read the inputs); Hexagon kernels declare every argument noalias
        # (transforms/hvx.py), so there no argument the kernel writes may overlap another.
        written = {i for i, s in enumerate(specs) if s["role"] == "out"}
        if self.meta.get("noalias_args"):
            written |= set(self.meta.get("results", ())) | set(self.meta.get("writes", ()))
        for i in sorted(written):
            for j in range(len(args)):
                if j != i and np.may_share_memory(args[i], args[j]):
                    raise _error(f"{self.name}.run: argument {i} is written by the kernel and overlaps argument "
                                 f"{j}; pass separate arrays (or call the kernel, which copies what it writes)")

    def run(self, args: list[np.ndarray]) -> None:
        """Low-level call on preallocated arrays (all arguments incl. outputs, in signature order), checked
        (shape, dtype, contiguity); `run_unchecked` skips the checks (benchmarks)."""
        self.check_args(args)
        self.run_unchecked(args)

    def run_unchecked(self, args: list[np.ndarray]) -> None:
        """`run` without the argument checks: wrong shapes, dtypes or strides are read wrongly or overrun, and
        an argument the kernel writes that overlaps another one is undefined behaviour on Hexagon (noalias)."""
        if self.simulated:
            self._sim_run(args)
            return
        if self._fn is None:
            from .errors import HexmlirError
            raise HexmlirError(f"{self.name} was built for {self.meta['target']}; it cannot run on this host "
                               "(compile with target='hexagon-sim' to run it under qemu-hexagon)")
        self._fn(*self._addresses(args))
        self._check_asserts()

    def _addresses(self, args) -> list[int]:
        """Descriptor addresses for a call. A descriptor is reused (per argument position and calling thread)
        while the same array object comes back with the same shape and strides: a model's weights, passed on
        every call, cost no ctypes work (ResNet-18 route B: 124 arguments, ~250 us of descriptors a call
        before, on the order of its 16-thread kernel time / 10). Only arguments the kernel never writes are
        kept: holding one keeps its data pointer fixed (numpy refuses to resize a referenced array) and an
        output is a fresh array every call anyway."""
        c = self._tls.__dict__
        if "arrays" not in c:
            n = len(args)
            c["arrays"], c["shapes"], c["strides"], c["descs"], c["addrs"] = ([None] * n, [None] * n, [None] * n,
                                                                            [None] * n, [0] * n)
        arrays, shapes, strides, descs, addrs = c["arrays"], c["shapes"], c["strides"], c["descs"], c["addrs"]
        if len(arrays) != len(args):       # run_unchecked with a wrong count (ctypes raises): no reuse
            c["other"] = [_descriptor(a) for a in args]
            return [ctypes.addressof(d) for d in c["other"]]
        keep = self._keepable()
        for i, a in enumerate(args):
            if a is arrays[i] and a.shape == shapes[i] and a.strides == strides[i]:
                continue
            d = _descriptor(a)
            descs[i], addrs[i] = d, ctypes.addressof(d)
            arrays[i], shapes[i], strides[i] = (a, a.shape, a.strides) if i in keep else (None, None, None)
        return addrs

    def _keepable(self) -> frozenset:
        """Argument positions the kernel only reads (inputs not among its results or `writes`)."""
        if self._keep is None:
            written = set(self.meta["results"]) | set(self.meta.get("writes", ()))
            self._keep = frozenset(i for i, a in enumerate(self.meta["args"])
                                   if a["role"] == "in" and i not in written)
        return self._keep

    # ---- runtime checks (cf.assert / tl.device_assert): transforms/asserts.py, runtime hx_assert_take
    def _check_asserts(self, sim_stdout: str | None = None) -> None:
        """Raise KernelAssertionError if a check failed during the call that just returned on this thread
        (the runtime keeps the first failure per calling thread; taking it clears it). hexagon-sim: the
        harness prints the simulated process's `assert_failed=<id>`."""
        table = self.meta.get("asserts")
        if not table:
            return
        if sim_stdout is not None:
            import re
            m = re.search(r"assert_failed=(-?\d+)", sim_stdout)
            i = int(m.group(1)) if m else -1
        elif self._rt is not None:
            i = self._rt.hx_assert_take()
        else:
            return
        if i < 0:
            return
        from .errors import KernelAssertionError
        entry = table[i] if i < len(table) else {"message": f"unknown check #{i}", "loc": None}
        raise KernelAssertionError(entry["message"], kernel=self.name, loc=entry.get("loc"))

    def launch(self, args: list, grid) -> None:
        """Run a grid kernel (Triton): pointer args as torch tensors or numpy arrays (written in place),
        scalars as Python numbers, grid as up to three program counts."""
        if self.simulated:
            return self._sim_launch(args, grid)
        if self._fn is None:
            raise _error(f"{self.name} was built for {self.meta['target']}; it cannot run on this host")
        specs = [a for a in self.meta["args"] if a["role"] != "grid"]
        if len(args) != len(specs):
            raise _error(f"{self.name} takes {len(specs)} arguments, got {len(args)}")
        g = self._grid(grid)
        call, keep = [], []
        for k, (a, spec) in enumerate(zip(args, specs)):
            if spec["role"] == "ptr":
                d = _pointer_descriptor(a, spec["dtype"], k, self.name)
                keep.append(d)
                call.append(ctypes.addressof(d))
            else:
                call.append(_scalar(a, spec["dtype"]))
        if g[0] * g[1] * g[2] == 0:
            return
        self._fn(*call, *g)
        self._check_asserts()

    def _grid(self, grid) -> tuple:
        """Three program counts. Triton program ids are int32 and the program loop runs over their product in
        the target's index type (32-bit on Hexagon), so larger grids are refused rather than wrapped."""
        g = tuple(int(x) for x in grid) + (1,) * (3 - len(tuple(grid)))
        if len(g) != 3 or min(g) < 0:
            raise _error(f"{self.name}: grid must be up to three non-negative counts, got {grid!r}")
        if max(g) > INT32_MAX:
            raise _error(f"{self.name}: grid {g} has a dimension above 2^31-1; Triton program ids are 32-bit")
        limit = INT32_MAX if not self.runs_here else (1 << 62)
        if g[0] * g[1] * g[2] > limit:
            raise _error(f"{self.name}: grid {g} has {g[0] * g[1] * g[2]} programs, more than the "
                         f"{self.meta['target']} target's index can count ({limit})")
        return g

    def _sim_launch(self, args: list, grid) -> None:
        """hexagon-sim: the whole grid runs in one qemu-hexagon process; pointer buffers are copied in and
        back (so they must be contiguous: the simulated process sees only the buffers it is given)."""
        from .targets import sim
        specs = [a for a in self.meta["args"] if a["role"] != "grid"]
        if len(args) != len(specs):
            raise _error(f"{self.name} takes {len(specs)} arguments, got {len(args)}")
        bufs, scalars = [], []
        for k, (a, spec) in enumerate(zip(args, specs)):
            if spec["role"] == "ptr":
                arr = a.detach().numpy() if hasattr(a, "detach") else a
                if not isinstance(arr, np.ndarray) or not arr.flags.c_contiguous:
                    raise _error(f"{self.name}: simulated launches need contiguous CPU tensors (argument {k})")
                if str(arr.dtype) != spec["dtype"] and not _same_storage(str(arr.dtype), spec["dtype"]):
                    raise _error(f"{self.name}: pointer argument {k} must point to {spec['dtype']}, got {arr.dtype}")
                bufs.append(arr)
            else:
                scalars.append(_scalar(a, spec["dtype"]))
        g = self._grid(grid)
        if g[0] * g[1] * g[2] == 0:
            return
        stdout, _ = sim.run(self.path.parent / self.meta["simulator"], bufs, outputs=range(len(bufs)),
                            scalars=scalars, grid=g, threads=self.meta.get("sim_threads"), arch=self.meta["arch"])
        self._check_asserts(stdout)

    def prepared(self, args: list[np.ndarray]):
        """A zero-argument callable running on fixed arrays (benchmarks: no per-call descriptor set-up)."""
        self.check_args(args)                              # once, at set-up
        descs = [_descriptor(a) for a in args]
        ptrs = [ctypes.addressof(d) for d in descs]
        fn = self._fn

        def call():
            fn(*ptrs)
        call._keep = (descs, args)
        return call
