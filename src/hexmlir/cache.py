"""Compile cache: key = hash(input IR, options, target, tool versions, hexmlir sources).

Safe across processes and threads: an entry is built in a private directory and renamed into place; a
valid entry is never replaced, so a reader never sees files vanish under it. When two builders race, the
first rename wins and the loser's build is discarded. A damaged entry (metadata that does not parse or
lacks fields, missing files, a library that does not load) is moved aside, rebuilt and announced with a
CacheWarning. A cache directory that cannot be written is replaced by a temporary one for this process.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import uuid
import warnings
from pathlib import Path

_SRC_HASH: str | None = None
_lock = threading.Lock()
_fallback: dict[str, Path] = {}          # configured dir -> the temporary dir used instead (unwritable)
_writable: set[str] = set()              # configured dirs found writable (probed once per process)

#: Fields kernel.json must carry for the artifact to load (artifact.Kernel reads them).
REQUIRED = {"name": str, "entry": str, "args": list, "results": list, "target": str, "files": list}


class CacheWarning(UserWarning):
    """The compile cache was damaged or unwritable and hexmlir worked around it."""


def _configured() -> Path:
    return Path(os.environ.get("HEXMLIR_CACHE_DIR", Path.home() / ".cache" / "hexmlir"))


def cache_dir() -> Path:
    """The cache directory: the configured one if it can be written, else a per-process temporary one."""
    d = _configured()
    with _lock:
        if str(d) in _fallback:
            return _fallback[str(d)]
        if str(d) in _writable and d.is_dir():
            return d
        try:
            d.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=d, prefix=".probe.")
            os.close(fd)
            os.unlink(probe)
            _writable.add(str(d))
            return d
        except OSError as e:
            tmp = Path(tempfile.mkdtemp(prefix="hexmlir-cache-"))
            _fallback[str(d)] = tmp
            warnings.warn(f"hexmlir: cache directory {d} cannot be written ({e.strerror or e}); compiling into "
                          f"the temporary cache {tmp} for this process", CacheWarning, stacklevel=3)
            return tmp


def _sources_hash() -> str:
    """Hash of hexmlir's own sources: a compiler change invalidates the cache."""
    global _SRC_HASH
    if _SRC_HASH is None:
        h = hashlib.sha256()
        root = Path(__file__).parent
        for p in sorted(root.rglob("*")):
            if p.suffix in (".py", ".c", ".h") and "__pycache__" not in p.parts:
                h.update(p.read_bytes())
        _SRC_HASH = h.hexdigest()[:16]
    return _SRC_HASH


def key(ir_text: str, options_key: dict, target_name: str, tool_versions: str) -> str:
    h = hashlib.sha256()
    for part in (ir_text, json.dumps(options_key, sort_keys=True), target_name, tool_versions, _sources_hash()):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


def damage(entry: Path, name: str = "kernel") -> str | None:
    """Why the entry cannot be used (None: it looks sound). Loading the library is the caller's check."""
    try:
        m = json.loads((entry / f"{name}.json").read_text())
    except OSError:
        return "no metadata"
    except ValueError:
        return "metadata is not JSON"
    if not isinstance(m, dict):
        return "metadata is not an object"
    for f, t in REQUIRED.items():
        if not isinstance(m.get(f), t):
            return f"metadata field {f!r} missing or not a {t.__name__}"
    for f in m["files"]:
        p = entry / str(f)
        if not p.is_file() or p.stat().st_size == 0:
            return f"file {f} missing or empty"
    return None


def lookup(k: str, name: str) -> Path | None:
    """The entry for key `k` if it exists and looks sound; a damaged one is discarded (with a warning)."""
    d = cache_dir() / k
    if not d.exists():
        return None
    why = damage(d, name)
    if why is None:
        return d
    discard(k, why)
    return None


def discard(k: str, why: str) -> None:
    """Move a damaged entry aside (atomic rename, so concurrent readers see it whole or not at all), then delete."""
    final = cache_dir() / k
    aside = final.with_name(f".{k}.damaged.{uuid.uuid4().hex[:8]}")
    try:
        os.rename(final, aside)
    except FileNotFoundError:
        return                              # another process discarded it first
    warnings.warn(f"hexmlir: damaged cache entry {final} ({why}); rebuilding it", CacheWarning, stacklevel=3)
    shutil.rmtree(aside, ignore_errors=True)


def store(k: str, build_dir: Path) -> Path:
    """Move a finished build into the cache; returns the entry path. If a sound entry is already there
    (a concurrent builder won), that one is kept and this build is dropped."""
    final = cache_dir() / k
    tmp = final.with_name(f".{k}.{uuid.uuid4().hex[:8]}")
    try:
        shutil.copytree(build_dir, tmp)
        for _ in range(3):
            try:
                os.rename(tmp, final)
                return final
            except OSError:                 # ENOTEMPTY/EEXIST: an entry is there
                if not final.exists():
                    continue
                why = damage(final)
                if why is None:
                    return final            # the winner's entry
                discard(k, why)
        raise OSError(f"hexmlir: could not store cache entry {final}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def build_dir(k: str) -> Path:
    return Path(tempfile.mkdtemp(dir=cache_dir(), prefix=f".build.{k}."))
