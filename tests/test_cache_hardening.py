"""Compile cache under fault injection (the default tier keeps one case of each kind; CI's slow slice runs
all of them): concurrent builders (processes and threads), damaged entries, an
unwritable cache directory. Damaged-library cases run in a fresh process: a library already loaded in this
one is found by path and never re-read, which would hide the damage."""
import json
import os
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

import hexmlir
from hexmlir import Options, cache
from hexmlir.kernels import linalg_suite as S

N = 1001
# A child compiles a kernel that uses the runtime (threads, TCM, DMA: the npu-emu target), runs it and checks it against numpy.
CHILD = r"""
import sys, warnings, numpy as np, hexmlir
from hexmlir.kernels import linalg_suite as S
seed = int(sys.argv[1])
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    k = hexmlir.compile(S.vector_add(%d).mlir, hexmlir.Options(target="npu-emu", num_threads=2, mt_threshold=1))
rng = np.random.default_rng(seed)
a, b = rng.random(%d, np.float32), rng.random(%d, np.float32)
np.testing.assert_array_equal(k(a, b), a + b)
print("WARN:" + "|".join(str(x.message) for x in w))
""" % (N, N, N)


def _child(cache_dir, seed=0, check=True):
    env = dict(os.environ, HEXMLIR_CACHE_DIR=str(cache_dir))
    r = subprocess.run([sys.executable, "-c", CHILD, str(seed)], capture_output=True, text=True, env=env,
                       timeout=300)
    if check:
        assert r.returncode == 0, f"seed {seed}: child failed:\n{r.stderr[-3000:]}"
    return r


def _leftovers(d):
    """Temporary names the cache must not leave behind (entries and runtime builds)."""
    return [str(p) for p in d.rglob(".*")]


def _entry(d):
    [e] = [p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name != "runtime"]
    return e


def _race(tmp_path, rounds, procs):
    for r in range(rounds):
        d = tmp_path / f"round{r}"
        ps = [subprocess.Popen([sys.executable, "-c", CHILD, str(r * 100 + i)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=dict(os.environ, HEXMLIR_CACHE_DIR=str(d)))
              for i in range(procs)]
        for i, p in enumerate(ps):
            out, err = p.communicate(timeout=600)
            assert p.returncode == 0, f"round {r}, process {i} failed:\n{err[-3000:]}"
        assert not _leftovers(d), f"round {r}: left behind {_leftovers(d)}"
        assert cache.damage(_entry(d)) is None


@pytest.mark.slow
def test_processes_racing_into_a_cold_cache(tmp_path):
    _race(tmp_path, rounds=1, procs=4)


@pytest.mark.slow
def test_processes_racing_into_a_cold_cache_many_rounds(tmp_path):
    _race(tmp_path, rounds=5, procs=8)


def test_threads_racing_into_a_cold_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HEXMLIR_CACHE_DIR", str(tmp_path))
    src = S.gelu_tanh((77,)).mlir
    errors, kernels = [], []

    def work():
        try:
            kernels.append(hexmlir.compile(src, Options(multithread=False, fast_math=False)))
        except Exception as e:                  # noqa: BLE001 - reported below
            errors.append(repr(e))
    ts = [threading.Thread(target=work) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    x = np.random.default_rng(7).uniform(-3, 3, 77).astype(np.float32)
    ref = kernels[0](x)
    for k in kernels[1:]:
        np.testing.assert_array_equal(k(x), ref)
    assert not _leftovers(tmp_path)


@pytest.mark.parametrize("damage", ["truncated_so"] + [pytest.param(d, marks=pytest.mark.slow) for d in (
    "empty_so", "garbage_so", "json_fields", "json_garbage", "runtime_copy", "runtime_build")])
def test_damaged_entry_is_rebuilt_with_a_warning(tmp_path, damage):
    _child(tmp_path, seed=1)
    e = _entry(tmp_path)
    so = e / "kernel.so"
    if damage == "truncated_so":
        so.write_bytes(so.read_bytes()[:300])
    elif damage == "empty_so":
        so.write_bytes(b"")
    elif damage == "garbage_so":
        so.write_bytes(os.urandom(4096))
    elif damage == "json_fields":
        meta = json.loads((e / "kernel.json").read_text())
        del meta["entry"]
        (e / "kernel.json").write_text(json.dumps(meta))
    elif damage == "json_garbage":
        (e / "kernel.json").write_text("{ not json")
    elif damage == "runtime_copy":
        (e / "libhexmlir_rt.so").write_bytes(b"\x7fELF" + os.urandom(500))
    else:
        [rt] = (tmp_path / "runtime").rglob("libhexmlir_rt.so")
        rt.write_bytes(b"\x7fELF" + os.urandom(500))
    r = _child(tmp_path, seed=2)                  # runs correctly (asserted in the child)
    if damage != "runtime_build":                 # the entry's own runtime copy is intact: only rebuilt quietly
        assert "damaged cache entry" in r.stdout, r.stdout
    assert cache.damage(_entry(tmp_path)) is None
    assert not _leftovers(tmp_path)
    r = _child(tmp_path, seed=3)                  # and the rebuilt entry is used as it is
    assert "damaged" not in r.stdout


def test_unwritable_cache_directory_falls_back_to_a_temporary_one(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory should be")
    r = _child(blocker / "cache", seed=4)
    assert "cannot be written" in r.stdout and "temporary cache" in r.stdout, r.stdout


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_cache_directory_falls_back_to_a_temporary_one(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o555)
    try:
        r = _child(d, seed=5)
        assert "cannot be written" in r.stdout, r.stdout
    finally:
        d.chmod(0o755)


def test_cache_warning_is_a_user_warning():
    assert issubclass(cache.CacheWarning, UserWarning)
    with warnings.catch_warnings(record=True):
        assert cache.damage(cache.cache_dir() / "no-such-entry") == "no metadata"


TRITON_CHILD = r"""
import os, sys, threading
sys.path.insert(0, sys.argv[1])
import torch, triton
import triton_plugin_kernels as K
errs = []
def work(i):
    try:
        g = torch.Generator().manual_seed(i)
        x, y = torch.randn(1000, generator=g), torch.randn(1000, generator=g)
        out = torch.empty(1000)
        K.add_kernel[(triton.cdiv(1000, 128),)](x, y, out, 1000, BLOCK=128)
        torch.testing.assert_close(out, x + y)
    except Exception as e:
        errs.append(repr(e))
ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
[t.start() for t in ts]
[t.join() for t in ts]
print("ERRORS", errs)
"""


@pytest.mark.slow
def test_threads_making_first_triton_launches_at_once(tmp_path):
    pytest.importorskip("triton")
    env = dict(os.environ, HEXMLIR_CACHE_DIR=str(tmp_path / "hx"), TRITON_CACHE_DIR=str(tmp_path / "tt"))
    r = subprocess.run([sys.executable, "-c", TRITON_CHILD, os.path.dirname(__file__)], capture_output=True,
                       text=True, env=env, timeout=300)
    assert r.returncode == 0 and "ERRORS []" in r.stdout, (r.stdout, r.stderr[-3000:])
    assert not _leftovers(tmp_path / "hx")
