"""hexmlir runtime: build the C runtime for host/Hexagon and load it with ctypes.

Imports only the standard library, so compiled artifacts can load the runtime
without MLIR or torch. See docs/runtime.md.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from hexmlir.errors import ToolchainError

__all__ = [
    "source_dir", "build_host", "build_hexagon", "hexagon_cflags", "zig_cc", "zig_libc_link_args",
    "link_hexagon_executable", "load_host", "stats", "reset_stats", "set_num_threads", "num_threads",
    "buf_trim", "set_buf_cache_bytes",
    "cache_dir", "loaded_path", "HxStats", "PARALLEL_FN",
]

CLANG = "clang-22"
_SOURCES = ("hexmlir_rt.c", "hexmlir_rt.h")
_HOST_FLAGS = ["-O2", "-fPIC", "-shared", "-pthread", "-Wall", "-Wextra"]
_SANITIZE = {
    "address": ["-fsanitize=address", "-fno-omit-frame-pointer", "-g", "-O1"],
    "thread": ["-fsanitize=thread", "-g", "-O1"],
    "undefined": ["-fsanitize=undefined", "-fno-sanitize-recover=all", "-g"],
}

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_lib_path: pathlib.Path | None = None
_newer: dict = {}       # newer runtime copies loaded besides an old _lib for the symbols it lacks (load_host)


def source_dir() -> pathlib.Path:
    """Directory holding hexmlir_rt.c / hexmlir_rt.h / stress.c."""
    return pathlib.Path(__file__).resolve().parent


def cache_dir() -> pathlib.Path:
    """Build cache: runtime/ under the compile cache ($HEXMLIR_CACHE_DIR or ~/.cache/hexmlir; a temporary
    one if that cannot be written)."""
    from hexmlir import cache
    return cache.cache_dir() / "runtime"


def _require_clang() -> str:
    exe = shutil.which(CLANG)
    if exe is None:
        raise ToolchainError(f"{CLANG} not found on PATH; the hexmlir runtime is built with it "
                             "(install clang-22, e.g. apt.llvm.org packages)", stage="runtime")
    return exe


def _tool_version(cmd: list[str]) -> str:
    """Output of a version command (part of the build cache key)."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise ToolchainError(f"cannot run {' '.join(cmd)}: {e}", stage="runtime") from e


def _key(parts: list[str | bytes]) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else p.encode())
        h.update(b"\0")
    return h.hexdigest()[:20]


def _sources_bytes(extra: tuple[str, ...] = ()) -> list[bytes]:
    return [(source_dir() / n).read_bytes() for n in _SOURCES + extra]


def _run(cmd: list[str], what: str) -> None:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        raise ToolchainError(f"{what}: cannot run {cmd[0]}: {e}", stage="runtime") from e
    if r.returncode != 0:
        raise ToolchainError(f"{what} failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr.strip()}",
                             stage="runtime")


def _build_cached(name: str, key: str, produce) -> pathlib.Path:
    """Returns cache_dir()/key/name, calling produce(tmp_path) to build it if missing.

    The result appears atomically (temp file + os.replace), so concurrent
    builders (pytest-xdist, several processes) never see a partial file."""
    out = cache_dir() / key / name
    if _sound_elf(out):
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=out.parent)
    os.close(fd)
    try:
        produce(pathlib.Path(tmp))
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def _sound_elf(p: pathlib.Path) -> bool:
    """A cached library worth trying: an ELF header and more than a header (a damaged one is rebuilt)."""
    try:
        with open(p, "rb") as f:
            return f.read(4) == b"\x7fELF" and os.fstat(f.fileno()).st_size > 64
    except OSError:
        return False


def build_host(sanitize: str | None = None) -> pathlib.Path:
    """Builds libhexmlir_rt.so for the host with clang-22 (cached) and returns its path.

    sanitize: None, "address", "thread" or "undefined". A sanitized .so needs
    the sanitizer runtime preloaded to be loaded into Python."""
    clang = _require_clang()
    flags = list(_HOST_FLAGS)
    if sanitize:
        if sanitize not in _SANITIZE:
            raise ValueError(f"sanitize must be one of {sorted(_SANITIZE)}, not {sanitize!r}")
        flags += _SANITIZE[sanitize]
    key = _key(["host", *_sources_bytes(), *flags, _tool_version([clang, "--version"])])
    src = source_dir() / "hexmlir_rt.c"
    return _build_cached("libhexmlir_rt.so", key,
                         lambda tmp: _run([clang, *flags, str(src), "-o", str(tmp)], "building host runtime"))


# ---------------------------------------------------------------- Hexagon

def zig_cc() -> list[str]:
    """Command prefix for zig's C compiler/linker (PyPI ziglang)."""
    try:
        import ziglang  # noqa: F401
    except ImportError as e:
        raise ToolchainError("the ziglang package is needed for Hexagon builds (pip install ziglang)",
                             stage="runtime") from e
    return [sys.executable, "-m", "ziglang", "cc"]


def _mcpu(arch: str, hvx_float: bool) -> str:
    arch = arch.lower().removeprefix("hexagon").removeprefix("v")
    # zig spells CPU features with underscores; "-mhvx" crashes zig, so HVX
    # is requested through the CPU feature list instead.
    feats = [f"hvxv{arch}", "hvx_length128b"]
    if hvx_float and arch.isdigit() and int(arch) >= 68:  # qfloat HVX arrived with v68
        feats += ["hvx_qfloat"]
    return f"-mcpu=hexagonv{arch}+" + "+".join(feats)


def hexagon_cflags(arch: str = "v73", hvx_float: bool = True) -> list[str]:
    """Target flags for compiling Hexagon objects with `zig cc`."""
    return ["-target", "hexagon-linux-musl", _mcpu(arch, hvx_float)]


def zig_libc_link_args(arch: str = "v73", hvx_float: bool = True) -> list[str]:
    """Arguments (after zig_cc()) to link a static hexagon-linux-musl executable
    with musl + pthreads; append objects, the runtime archive and `-o out`."""
    return [*hexagon_cflags(arch, hvx_float), "-static", "-pthread"]


def build_hexagon(arch: str = "v73", hvx_float: bool = True) -> pathlib.Path:
    """Builds libhexmlir_rt.a (one object) for hexagon-linux-musl with zig cc.

    The first zig build compiles musl for the target (about a minute), later
    ones hit zig's cache."""
    cc = zig_cc()
    flags = [*hexagon_cflags(arch, hvx_float), "-O2", "-Wall", "-Wextra"]
    key = _key(["hexagon", *_sources_bytes(), *flags, _tool_version([sys.executable, "-m", "ziglang", "version"])])
    src = source_dir() / "hexmlir_rt.c"

    def produce(tmp: pathlib.Path) -> None:
        obj = tmp.with_name(tmp.name + ".o")
        try:
            _run([*cc, *flags, "-c", str(src), "-o", str(obj)], "building Hexagon runtime")
            tmp.unlink()  # ar appends to an existing file
            _run([sys.executable, "-m", "ziglang", "ar", "rcs", str(tmp), str(obj)], "archiving Hexagon runtime")
        finally:
            if obj.exists():
                obj.unlink()

    return _build_cached("libhexmlir_rt.a", key, produce)


def link_hexagon_executable(inputs: list[str | os.PathLike], out: str | os.PathLike, arch: str = "v73",
                            hvx_float: bool = True, extra: list[str] = ()) -> pathlib.Path:
    """Compiles/links C sources or objects plus the runtime into a static Hexagon executable."""
    lib = build_hexagon(arch, hvx_float)
    cmd = [*zig_cc(), *zig_libc_link_args(arch, hvx_float), "-O2", f"-I{source_dir()}",
           *map(str, inputs), str(lib), *extra, "-o", str(out)]
    _run(cmd, "linking Hexagon executable")
    return pathlib.Path(out)


# ---------------------------------------------------------------- host loading

class HxStats(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int64) for n in (
        "tcm_high_water", "tcm_live", "tcm_failed", "tcm_size",
        "dma_bytes", "dma_copies", "dma_ns", "pool_tasks", "pool_dispatches",
        "buf_hits", "buf_misses", "buf_live", "buf_cached", "buf_cached_blocks")]


class HxRegion(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int64) for n in ("t0_ns", "t1_ns", "n", "width", "joined")]


PARALLEL_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_ssize_t)


def _declare(lib: ctypes.CDLL) -> None:
    ip, vp = ctypes.c_ssize_t, ctypes.c_void_p  # intptr_t == ssize_t on Linux
    sigs = {
        "hx_tcm_init": ([ip], None), "hx_tcm_size": ([], ip),
        "hx_tcm_alloc": ([ip], vp), "hx_tcm_free": ([vp], None),
        "hx_tcm_alloc_addr": ([ip], ip), "hx_tcm_free_addr": ([ip], None),
        "hx_dma_start_1d": ([ip, ip, ip], ip), "hx_dma_start_2d": ([ip] * 6, ip),
        "hx_dma_wait": ([ip], None), "hx_dma_wait_all": ([], None),
        "hx_parallel_for": ([ip, PARALLEL_FN, vp], None),
        "hx_num_threads": ([], ctypes.c_int), "hx_set_num_threads": ([ctypes.c_int], None),
        "hx_get_stats": ([ctypes.POINTER(HxStats)], None), "hx_reset_stats": ([], None),
        "hx_assert_fail": ([ctypes.c_int32], None), "hx_assert_take": ([], ctypes.c_int32),
        "hx_dma_set_latency_us": ([ip], None),
        "hx_buf_alloc": ([ip], vp), "hx_buf_free": ([vp], None), "hx_buf_trim": ([], ip),
        "hx_buf_set_cache_bytes": ([ip], ip),
        "hx_region_log": ([ctypes.c_int64], None),
        "hx_fma_peak": ([ctypes.c_int64, ctypes.c_int32], ctypes.c_double),
        "hx_region_take": ([ctypes.POINTER(HxRegion), ctypes.c_int64, ctypes.POINTER(ctypes.c_int64)],
                           ctypes.c_int64),
    }
    for name, (args, res) in sigs.items():
        f = getattr(lib, name, None)
        if f is None and name.startswith(("hx_assert_", "hx_dma_set_latency", "hx_buf_", "hx_region_", "hx_fma_")):   # a runtime saved before them
            continue
        f = getattr(lib, name) if f is None else f
        f.argtypes, f.restype = args, res


def load_host(path: str | os.PathLike | None = None) -> ctypes.CDLL:
    """Loads the host runtime once per process (RTLD_GLOBAL, so kernel .so files
    resolve their hx_* symbols against it) and returns it.

    path: a prebuilt libhexmlir_rt.so (artifacts ship one); default builds it.
    Later calls return the already loaded library whatever path they pass (when that one lacks the kernel
    buffer calls, the path's copy is loaded besides it for them)."""
    global _lib, _lib_path
    with _lock:
        if _lib is None:
            p = pathlib.Path(path) if path is not None else build_host()
            try:
                lib = ctypes.CDLL(str(p), mode=ctypes.RTLD_GLOBAL)
            except OSError:
                if path is not None:
                    raise                   # an artifact's own copy: its owner (the compile cache) rebuilds
                p.unlink(missing_ok=True)   # a damaged build in the runtime cache: build it again
                lib = ctypes.CDLL(str(build_host()), mode=ctypes.RTLD_GLOBAL)
            _declare(lib)
            _lib, _lib_path = lib, p
        elif path is not None and not hasattr(_lib, "hx_buf_alloc") and pathlib.Path(path) not in _newer:
            # The runtime loaded first predates kernel buffers (an older saved artifact's copy): load this
            # artifact's newer copy too, so its kernel resolves hx_buf_* there (all else stays bound to the first).
            _newer[pathlib.Path(path)] = ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
        return _lib


def loaded_path() -> pathlib.Path | None:
    """Path the runtime was loaded from, or None if not loaded yet."""
    return _lib_path


def stats() -> dict[str, int]:
    """Runtime counters as a dict (see hx_stats_t)."""
    s = HxStats()
    load_host().hx_get_stats(ctypes.byref(s))
    return {name: int(getattr(s, name)) for name, _ in HxStats._fields_}


def reset_stats() -> None:
    load_host().hx_reset_stats()


def region_log(capacity: int) -> None:
    """Start recording every top-level parallel loop (hx_region_log; at most `capacity` records, 0: stop)."""
    load_host().hx_region_log(int(capacity))


def regions(capacity: int = 1 << 16) -> tuple[list[dict], int]:
    """The recorded loops in call order (t0_ns, t1_ns, n chunks, width: threads that could take part, joined:
    pool workers that did) and
    how many were recorded in all (more than returned when the log filled up); empties the log."""
    buf, total = (HxRegion * capacity)(), ctypes.c_int64()
    kept = int(load_host().hx_region_take(buf, capacity, ctypes.byref(total)))
    return [{f: int(getattr(r, f)) for f, _ in HxRegion._fields_} for r in buf[:kept]], int(total.value)


def set_num_threads(n: int) -> None:
    load_host().hx_set_num_threads(int(n))


def set_dma_latency_us(us: int) -> None:
    """Test switch: DMA copies complete no sooner than `us` microseconds after their start, always on a copy
    thread (0: off; env HEXMLIR_DMA_LATENCY_US). A misplaced wait then gives wrong results reliably."""
    load_host().hx_dma_set_latency_us(int(us))


def buf_trim() -> int:
    """Frees the kernel buffers the runtime keeps cached between calls (hx_buf_trim); returns the bytes freed."""
    return int(load_host().hx_buf_trim())


def set_buf_cache_bytes(n: int) -> int:
    """Bytes of freed kernel buffers the runtime may keep for reuse (0: none; env HEXMLIR_BUF_CACHE_BYTES,
    HEXMLIR_BUF_CACHE=0); frees cached blocks beyond it. Returns the previous limit."""
    return int(load_host().hx_buf_set_cache_bytes(int(n)))


def fma_peak(threads: int = 1, seconds: float = 0.05, repeats: int = 7) -> float | None:
    """The CPU's f32 vector-FMA peak in FLOP/s (hx_fma_peak: 16 independent FMA chains of its widest vectors),
    median of `repeats` runs of about `seconds`, on one thread or on `threads` pool threads at once (the pool is
    resized to it and back). None when the loaded runtime predates the probe or has no vector FMA."""
    lib = load_host()
    if not hasattr(lib, "hx_fma_peak") or lib.hx_fma_peak(1, 0) <= 0:
        return None
    old = num_threads()
    par = int(threads > 1)
    set_num_threads(max(1, threads))
    try:
        lib.hx_fma_peak(1000, par)              # warm-up (pool start, frequency)
        iters, dt = 1000, 0.0
        while dt < seconds / 4:                 # calibrate the round count to about `seconds`
            iters *= 4
            t0 = time.perf_counter()
            lib.hx_fma_peak(iters, par)
            dt = time.perf_counter() - t0
        iters = max(1, int(iters * seconds / dt))
        return statistics.median(lib.hx_fma_peak(iters, par) for _ in range(repeats))
    finally:
        set_num_threads(old)


def num_threads() -> int:
    return int(load_host().hx_num_threads())
