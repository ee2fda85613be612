"""Compile cache: key = hash(input IR, options, target, tool versions, hexmlir sources).

Entries are directories written atomically (build in a temp dir, then rename). An entry whose metadata
does not parse or whose files are missing is treated as absent and rebuilt.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

_SRC_HASH: str | None = None


def cache_dir() -> Path:
    return Path(os.environ.get("HEXMLIR_CACHE_DIR", Path.home() / ".cache" / "hexmlir"))


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


def lookup(k: str, name: str) -> Path | None:
    d = cache_dir() / k
    meta = d / f"{name}.json"
    try:
        m = json.loads(meta.read_text())
        for f in m.get("files", []):
            if not (d / f).is_file():
                return None
        return d
    except (OSError, ValueError):
        return None


def store(k: str, build_dir: Path) -> Path:
    """Move a finished build directory into the cache atomically; returns the final entry path."""
    final = cache_dir() / k
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{k}."))
    shutil.rmtree(tmp)
    shutil.copytree(build_dir, tmp)
    if final.exists():                      # a corrupted or concurrent entry: replace it
        old = final.with_name(f".{k}.old.{os.getpid()}")
        os.replace(final, old)
        shutil.rmtree(old, ignore_errors=True)
    os.replace(tmp, final)
    return final


def build_dir(k: str) -> Path:
    cache_dir().mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=cache_dir(), prefix=f".build.{k}."))
