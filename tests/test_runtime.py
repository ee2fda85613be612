"""Tests for the C runtime (src/hexmlir/runtime): TCM pool, DMA engine, thread pool.

Fast tests load the host .so through ctypes; the `sanitizers` tier builds
stress.c under ASan/TSan; the `slow` tier runs a program under qemu-hexagon.
"""
from __future__ import annotations

import bisect
import ctypes
import os
import pathlib
import random
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from hexmlir import runtime
from hexmlir.errors import ToolchainError

RT_DIR = runtime.source_dir()


@pytest.fixture(scope="module")
def rt():
    return runtime.load_host()


def _u8_view(addr: int, n: int) -> np.ndarray:
    return np.ctypeslib.as_array((ctypes.c_uint8 * max(n, 1)).from_address(addr))[:n]


def _in_thread(fn, timeout=10.0):
    """Runs fn in a thread; fails the test instead of hanging if it blocks."""
    t = threading.Thread(target=fn, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"{fn} did not return within {timeout}s"


# ------------------------------------------------------------------ build / load

def test_build_host_cached_and_atomic(tmp_path, monkeypatch):
    monkeypatch.setenv("HEXMLIR_CACHE_DIR", str(tmp_path))
    p1 = runtime.build_host()
    assert p1.is_file() and p1.name == "libhexmlir_rt.so" and tmp_path in p1.parents
    mtime = p1.stat().st_mtime_ns
    assert runtime.build_host() == p1 and p1.stat().st_mtime_ns == mtime  # cache hit
    assert not [f for f in p1.parent.iterdir() if f.name.startswith(".")]  # no temp files left
    p1.unlink()
    assert runtime.build_host() == p1 and p1.is_file()  # rebuilt when missing


def test_missing_clang_raises_toolchain_error(monkeypatch):
    monkeypatch.setattr(runtime, "CLANG", "clang-22-does-not-exist")
    with pytest.raises(ToolchainError, match="clang-22-does-not-exist"):
        runtime.build_host()


def test_load_once_per_process(rt):
    assert runtime.load_host() is rt
    assert runtime.load_host(runtime.build_host()) is rt  # an explicit path does not load twice
    assert runtime.loaded_path() is not None


def test_runtime_import_needs_no_compiler_stack():
    code = ("import sys, hexmlir.runtime; "
            "bad = [m for m in ('torch', 'mlir', 'torch_mlir', 'triton') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------ TCM

def _arena(rt):
    """(base, size) of the arena, found by allocating all of it (must be empty)."""
    if runtime.stats()["tcm_live"] != 0:
        pytest.skip("TCM arena not empty (something else in this process holds blocks)")
    size = rt.hx_tcm_size()
    base = rt.hx_tcm_alloc_addr(size)
    assert base, "full-arena allocation failed on an empty arena"
    rt.hx_tcm_free_addr(base)
    return base, size


def test_tcm_random_alloc_free(rt, capfd):
    base, size = _arena(rt)
    rng = random.Random(1234)
    starts: list[int] = []           # sorted starts of live blocks
    live: dict[int, int] = {}        # start -> rounded size
    failed0 = runtime.stats()["tcm_failed"]
    failures = 0
    for _ in range(4000):
        if live and (rng.random() < 0.45 or len(live) > 300):
            a = rng.choice(starts)
            rt.hx_tcm_free_addr(a)
            starts.remove(a)
            del live[a]
            continue
        n = rng.choice([rng.randrange(0, 600), rng.randrange(600, 4096), rng.randrange(4096, 300_000)])
        a = rt.hx_tcm_alloc_addr(n)
        if a == 0:
            failures += 1
            continue
        assert a % (2048 if n >= 4096 else 128) == 0, (hex(a), n)
        r = max(128, -(-n // 128) * 128)
        assert base <= a and a + r <= base + size
        i = bisect.bisect(starts, a)
        assert i == 0 or starts[i - 1] + live[starts[i - 1]] <= a, "overlaps previous live block"
        assert i == len(starts) or a + r <= starts[i], "overlaps next live block"
        starts.insert(i, a)
        live[a] = r
        assert runtime.stats()["tcm_live"] == sum(live.values())
    for a in starts:
        rt.hx_tcm_free_addr(a)
    st = runtime.stats()
    assert st["tcm_live"] == 0
    assert st["tcm_failed"] == failed0 + failures
    # Coalescing: everything merged back into one block.
    whole = rt.hx_tcm_alloc_addr(size)
    assert whole == base
    rt.hx_tcm_free_addr(whole)
    capfd.readouterr()


def test_tcm_failure_reported(rt, capfd):
    _, size = _arena(rt)
    f0 = runtime.stats()["tcm_failed"]
    assert rt.hx_tcm_alloc(size + 1) is None
    assert rt.hx_tcm_alloc_addr(-5) == 0
    assert runtime.stats()["tcm_failed"] == f0 + 2
    err = capfd.readouterr().err
    assert err.count("TCM alloc") == 2 and err.count("\n") == 2
    a = rt.hx_tcm_alloc_addr(size // 2 + 4096)
    assert a and rt.hx_tcm_alloc_addr(size // 2) == 0  # not enough left
    rt.hx_tcm_free_addr(a)
    capfd.readouterr()


def test_tcm_zero_null_and_bogus_free(rt, capfd):
    a, b = rt.hx_tcm_alloc_addr(0), rt.hx_tcm_alloc_addr(0)
    assert a and b and a != b and a % 128 == 0
    rt.hx_tcm_free(None)
    rt.hx_tcm_free_addr(0)
    rt.hx_tcm_free_addr(a + 64)           # inside a block: rejected, nothing corrupted
    rt.hx_tcm_free_addr(id(object()))     # not TCM at all
    rt.hx_tcm_free_addr(a)
    rt.hx_tcm_free_addr(a)                # double free
    rt.hx_tcm_free_addr(b)
    assert capfd.readouterr().err.count("not a live TCM block") == 3
    assert runtime.stats()["tcm_live"] == 0


def test_tcm_high_water(rt):
    _arena(rt)
    runtime.reset_stats()
    assert runtime.stats()["tcm_high_water"] == 0
    blocks = [rt.hx_tcm_alloc_addr(n) for n in (100, 5000, 128 * 1024)]
    expect = 128 + 5120 + 128 * 1024
    assert runtime.stats()["tcm_high_water"] == expect == runtime.stats()["tcm_live"]
    rt.hx_tcm_free_addr(blocks[1])
    x = rt.hx_tcm_alloc_addr(1000)
    assert runtime.stats()["tcm_high_water"] == expect
    for a in (blocks[0], blocks[2], x):
        rt.hx_tcm_free_addr(a)
    st = runtime.stats()
    assert st["tcm_live"] == 0 and st["tcm_high_water"] == expect
    runtime.reset_stats()
    assert runtime.stats()["tcm_high_water"] == 0


def test_tcm_init_resize(rt, capfd):
    _, size = _arena(rt)
    try:
        rt.hx_tcm_init(1 << 20)
        assert rt.hx_tcm_size() == 1 << 20 == runtime.stats()["tcm_size"]
        a = rt.hx_tcm_alloc_addr(10)
        rt.hx_tcm_init(2 << 20)               # live blocks: kept, with a message
        assert rt.hx_tcm_size() == 1 << 20
        assert "ignored" in capfd.readouterr().err
        rt.hx_tcm_free_addr(a)
        rt.hx_tcm_init(1 << 20)               # same size: no-op
        assert rt.hx_tcm_size() == 1 << 20
    finally:
        rt.hx_tcm_init(size)
    assert rt.hx_tcm_size() == size


def test_tcm_concurrent_threads(rt):
    _arena(rt)
    errors = []

    def worker(seed):
        rng = random.Random(seed)
        mine = []
        for _ in range(800):
            if mine and rng.random() < 0.5:
                a, n, tag = mine.pop(rng.randrange(len(mine)))
                if not (_u8_view(a, n) == tag).all():
                    errors.append("block overwritten")
                rt.hx_tcm_free_addr(a)
            else:
                n = rng.randrange(1, 20000)
                a = rt.hx_tcm_alloc_addr(n)
                if a:
                    tag = rng.randrange(256)
                    ctypes.memset(a, tag, n)
                    mine.append((a, n, tag))
        for a, *_ in mine:
            rt.hx_tcm_free_addr(a)

    ts = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    assert runtime.stats()["tcm_live"] == 0


# ------------------------------------------------------------------ DMA

def _random_copy(rt, rng, src, tcm):
    """Starts one random 1-D/2-D copy out of `src`; returns (token, dst view, expected, cleanup)."""
    if rng.random() < 0.3:
        rows, row = 1, rng.randrange(0, 30000)
        ss = ds = row
    else:
        rows, row = rng.randrange(0, 48), rng.randrange(0, 400)
        ss, ds = row + rng.randrange(0, 80), row + rng.randrange(0, 80)
    rows = min(rows, len(src) // max(ss, 1))
    n = rows * ds + 1
    addr = rt.hx_tcm_alloc_addr(n) if tcm else 0
    keep = None
    if addr:
        dst = _u8_view(addr, n)
        def cleanup(a=addr):
            rt.hx_tcm_free_addr(a)
    else:
        keep = np.empty(n, np.uint8)
        dst = keep
        def cleanup(k=keep):
            pass
    dst[:] = np.frombuffer(rng.randbytes(n), np.uint8)
    expected = dst.copy()
    for r in range(rows):
        expected[r * ds:r * ds + row] = src[r * ss:r * ss + row]
    if rows == 1 and rng.random() < 0.5:
        tok = rt.hx_dma_start_1d(dst.ctypes.data, src.ctypes.data, row)
    else:
        tok = rt.hx_dma_start_2d(dst.ctypes.data, src.ctypes.data, row, rows, ds, ss)
    return tok, dst, expected, (cleanup, keep), rows * row


def test_dma_concurrent_streams(rt):
    errors, moved = [], []

    def stream(seed):
        rng = random.Random(seed)
        src = np.frombuffer(rng.randbytes(1 << 16), np.uint8).copy()
        last = 0
        total = 0
        for _ in range(25):
            batch = [_random_copy(rt, rng, src, rng.random() < 0.5) for _ in range(12)]
            toks = [b[0] for b in batch]
            if toks != sorted(toks) or toks[0] <= last or len(set(toks)) != len(toks):
                errors.append(f"tokens not increasing: {last} {toks}")
            last = toks[-1]
            how = rng.randrange(3)
            if how == 0:
                rt.hx_dma_wait_all()
            elif how == 1:
                rt.hx_dma_wait(toks[-1])  # ordering: implies the whole batch
            else:
                for t in rng.sample(toks, len(toks)):
                    rt.hx_dma_wait(t)
            for tok, dst, exp, (cleanup, _), nbytes in batch:
                if not np.array_equal(dst, exp):
                    errors.append(f"copy {tok} wrong")
                cleanup()
                total += nbytes
        moved.append(total)

    before = runtime.stats()
    ts = [threading.Thread(target=stream, args=(s,)) for s in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors[:5]
    after = runtime.stats()
    assert after["dma_copies"] - before["dma_copies"] == 6 * 25 * 12
    assert after["dma_bytes"] - before["dma_bytes"] == sum(moved)
    assert after["dma_ns"] >= before["dma_ns"]


def test_dma_ordering(rt):
    a = np.full(1 << 16, 1, np.uint8)
    b = np.full(1 << 16, 2, np.uint8)
    for _ in range(50):
        d = np.zeros(1 << 16, np.uint8)
        rt.hx_dma_start_1d(d.ctypes.data, a.ctypes.data, d.nbytes)
        # Second copy overwrites the first 16 bytes of every 64; wait on it only.
        t = rt.hx_dma_start_2d(d.ctypes.data, b.ctypes.data, 16, d.nbytes // 64, 64, 16)
        rt.hx_dma_wait(t)
        rows = d.reshape(-1, 64)
        assert (rows[:, :16] == 2).all() and (rows[:, 16:] == 1).all()


def test_dma_wait_edge_tokens(rt):
    src = np.arange(256, dtype=np.uint8)
    dst = np.zeros(256, np.uint8)
    t = rt.hx_dma_start_1d(dst.ctypes.data, src.ctypes.data, 256)
    assert t > 0
    rt.hx_dma_wait(t)
    assert np.array_equal(src, dst)

    def edge_waits():
        rt.hx_dma_wait(t)                 # finished
        rt.hx_dma_wait(0)
        rt.hx_dma_wait(-7)
        rt.hx_dma_wait(t + 10 ** 9)       # never issued: unknown
        rt.hx_dma_wait((1 << 62))
        rt.hx_dma_wait_all()
    _in_thread(edge_waits)
    # Zero-size copies still get tokens and keep their place.
    t0 = rt.hx_dma_start_1d(dst.ctypes.data, src.ctypes.data, 0)
    t1 = rt.hx_dma_start_2d(dst.ctypes.data, src.ctypes.data, 16, 0, 16, 16)
    t2 = rt.hx_dma_start_2d(dst.ctypes.data, src.ctypes.data, 0, 5, 16, 16)
    assert t < t0 < t1 < t2
    _in_thread(lambda: rt.hx_dma_wait(t2))
    # A thread that never started a copy: wait_all returns at once.
    _in_thread(rt.hx_dma_wait_all)


def test_dma_wait_from_other_thread(rt):
    src = np.frombuffer(random.Random(5).randbytes(1 << 20), np.uint8).copy()
    dst = np.zeros_like(src)
    box = {}
    t = threading.Thread(target=lambda: box.setdefault(
        "t", rt.hx_dma_start_2d(dst.ctypes.data, src.ctypes.data, 4096, 256, 4096, 4096)))
    t.start()
    t.join()
    rt.hx_dma_wait(box["t"])
    assert np.array_equal(src, dst)


@pytest.mark.parametrize("copy_threads", ["0", "3"])
def test_dma_copy_thread_counts(copy_threads):
    """HEXMLIR_DMA_THREADS=0 copies synchronously; 3 copy threads keep per-thread order."""
    code = f"""
import ctypes, numpy as np, threading
from hexmlir import runtime
rt = runtime.load_host({str(runtime.build_host())!r})
a = np.arange(1 << 20, dtype=np.uint32).view(np.uint8); b = np.zeros_like(a)
t = rt.hx_dma_start_1d(b.ctypes.data, a.ctypes.data, a.nbytes)
if {copy_threads} == 0:
    assert np.array_equal(a, b), "synchronous copy not complete at start"
rt.hx_dma_wait(t); assert np.array_equal(a, b)
def run(k):
    x = np.full(4096, k, np.uint8); y = np.full(4096, 200 + k, np.uint8)
    for _ in range(200):
        d = np.zeros(4096, np.uint8)
        rt.hx_dma_start_1d(d.ctypes.data, x.ctypes.data, 4096)
        rt.hx_dma_start_2d(d.ctypes.data, y.ctypes.data, 8, 64, 64, 8)
        rt.hx_dma_wait_all()
        r = d.reshape(64, 64); assert (r[:, :8] == 200 + k).all() and (r[:, 8:] == k).all()
ts = [threading.Thread(target=run, args=(k,)) for k in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
print("ok", runtime.stats()["dma_copies"])
"""
    env = dict(os.environ, HEXMLIR_DMA_THREADS=copy_threads)
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["ok", str(1 + 4 * 200 * 2)]


# ------------------------------------------------------------------ thread pool

@pytest.mark.parametrize("threads", [1, 2, 4, 8])
def test_parallel_for_covers_every_index_once(rt, threads):
    runtime.set_num_threads(threads)
    assert runtime.num_threads() == threads
    for n in (0, 1, 3, 17, 1000):
        counts = [0] * max(n, 1)
        seen_threads = set()
        lock = threading.Lock()

        @runtime.PARALLEL_FN
        def body(ctx, i):
            with lock:
                counts[i] += 1
                seen_threads.add(threading.get_ident())

        before = runtime.stats()
        rt.hx_parallel_for(n, body, None)
        after = runtime.stats()
        assert counts[:n] == [1] * n, (threads, n)
        assert after["pool_tasks"] - before["pool_tasks"] == n
        assert len(seen_threads) <= max(threads, 1)


def test_region_log_records_top_level_loops(rt):
    """hx_region_log: one record per top-level loop in call order (chunks, width, a duration covering the
    body's sleep), none for loops nested inside a body, only `cap` kept of more, nothing once stopped."""
    runtime.set_num_threads(3)
    sleeps = {5: 0.004, 7: 0.0, 2: 0.002}
    inner_n = []

    @runtime.PARALLEL_FN
    def inner(ctx, i):
        inner_n.append(i)

    def make(n):
        @runtime.PARALLEL_FN
        def body(ctx, i):
            if i == 0:
                time.sleep(sleeps[n])
                rt.hx_parallel_for(4, inner, None)       # nested: runs inline, not recorded
        return body

    bodies = {n: make(n) for n in sleeps}
    runtime.region_log(16)
    try:
        for n in (5, 7, 2):
            rt.hx_parallel_for(n, bodies[n], None)
        runtime.set_num_threads(1)                       # inline: width 1
        rt.hx_parallel_for(5, bodies[5], None)
        recs, total = runtime.regions()
    finally:
        runtime.region_log(0)
    assert total == 4 and [r["n"] for r in recs] == [5, 7, 2, 5]
    assert [r["width"] for r in recs] == [3, 3, 2, 1]
    assert all(0 <= r["joined"] <= r["width"] - 1 for r in recs), recs
    assert sorted(inner_n) == [i for i in range(4) for _ in range(4)]
    for r, n in zip(recs, (5, 7, 2, 5)):
        assert r["t1_ns"] - r["t0_ns"] >= sleeps[n] * 1e9 * 0.9, (n, r)
    assert all(a["t1_ns"] <= b["t0_ns"] for a, b in zip(recs, recs[1:]))
    runtime.set_num_threads(3)
    runtime.region_log(2)                                # full: counted, not kept
    try:
        for _ in range(5):
            rt.hx_parallel_for(7, bodies[7], None)
        recs, total = runtime.regions()
        assert total == 5 and len(recs) == 2
        assert runtime.regions() == ([], 0)              # taking empties the log
    finally:
        runtime.region_log(0)
    rt.hx_parallel_for(7, bodies[7], None)
    assert runtime.regions() == ([], 0)

    @runtime.PARALLEL_FN
    def slow(ctx, i):
        time.sleep(0.003)

    runtime.region_log(8)                                # 7 chunks of 3 ms: the workers join (counted per loop)
    try:
        for _ in range(3):
            rt.hx_parallel_for(7, slow, None)
        recs, _ = runtime.regions()
    finally:
        runtime.region_log(0)
    assert all(0 <= r["joined"] <= 2 for r in recs) and max(r["joined"] for r in recs) >= 1, recs


@pytest.mark.parametrize("threads", [1, 2, 4, 5, 8])
def test_stream_stores_answer_follows_the_loop_width(rt, threads):
    """hx_stream_stores: non-temporal stores in loops of at most 4 threads (a core alone is bound by
    read-for-ownership), cached ones in wider loops; outside any loop (the caller alone) it streams."""
    runtime.set_num_threads(threads)
    answers = []

    @runtime.PARALLEL_FN
    def body(ctx, i):
        answers.append(rt.hx_stream_stores())

    rt.hx_parallel_for(64, body, None)
    assert set(answers) == {int(threads <= 4)}, (threads, answers)
    assert rt.hx_stream_stores() == 1


def test_parallel_for_concurrent_python_callers(rt):
    runtime.set_num_threads(4)
    errors = []

    def caller(k):
        for it in range(20):
            n = 30 + k * 7 + it
            hits = np.zeros(n, np.int64)

            @runtime.PARALLEL_FN
            def body(ctx, i):
                hits[i] += 1  # each index is a distinct element; GIL held inside

            rt.hx_parallel_for(n, body, None)
            if not (hits == 1).all():
                errors.append((k, it))

    ts = [threading.Thread(target=caller, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors


def test_fork_child_keeps_working():
    """After fork() the child has no workers/copy threads; the runtime must still work there."""
    code = f"""
import os, ctypes, numpy as np
from hexmlir import runtime
rt = runtime.load_host({str(runtime.build_host())!r})
runtime.set_num_threads(2)
hits = np.zeros(100, np.int64)
@runtime.PARALLEL_FN
def body(ctx, i):
    hits[i] += 1
def work():
    hits[:] = 0
    rt.hx_parallel_for(100, body, None)
    a = np.arange(4096, dtype=np.uint8) ; b = np.zeros_like(a)
    rt.hx_dma_wait(rt.hx_dma_start_1d(b.ctypes.data, a.ctypes.data, 4096))
    t = rt.hx_tcm_alloc_addr(100); rt.hx_tcm_free_addr(t)
    return (hits == 1).all() and (a == b).all() and t != 0
assert work()
pid = os.fork()
if pid == 0:
    os._exit(0 if work() and work() else 3)
_, status = os.waitpid(pid, 0)
assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
assert work()
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_set_num_threads_clamps(rt):
    runtime.set_num_threads(0)
    assert runtime.num_threads() == 1
    runtime.set_num_threads(2)
    assert runtime.num_threads() == 2


# ------------------------------------------------------------------ stress driver

def _build_stress(out_dir: pathlib.Path, flags: list[str]) -> pathlib.Path:
    exe = out_dir / "stress"
    cmd = ["clang-22", "-Wall", "-Wextra", "-Werror", "-pthread", *flags,
           str(RT_DIR / "stress.c"), str(RT_DIR / "hexmlir_rt.c"), "-o", str(exe)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return exe


def test_stress_driver_and_bench(tmp_path):
    """Nested/concurrent parallel_for, DMA streams and TCM churn in C; prints dispatch overhead."""
    if shutil.which("clang-22") is None:
        pytest.skip("clang-22 not installed")
    exe = _build_stress(tmp_path, ["-O2"])
    r = subprocess.run([str(exe), "all"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.rstrip().endswith("OK")
    b = subprocess.run([str(exe), "bench"], capture_output=True, text=True, timeout=120)
    assert b.returncode == 0, b.stderr
    print(f"\n[runtime bench, {os.cpu_count()} CPUs]\n" + b.stdout.strip())


def _sanitizer_probe(kind: str, tmp: pathlib.Path) -> str | None:
    """None if clang-22 can build and run a -fsanitize=<kind> program, else why not."""
    if shutil.which("clang-22") is None:
        return "clang-22 not installed"
    src = tmp / "probe.c"
    src.write_text("#include <pthread.h>\nint main(void){return 0;}\n")
    exe = tmp / f"probe_{kind}"
    r = subprocess.run(["clang-22", f"-fsanitize={kind}", "-pthread", str(src), "-o", str(exe)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return (f"clang-22 cannot link -fsanitize={kind} (sanitizer runtime missing? "
                f"Debian package libclang-rt-22-dev): {r.stderr.strip()[-300:]}")
    r = subprocess.run([str(exe)], capture_output=True, text=True)
    if r.returncode != 0:
        return f"-fsanitize={kind} binaries do not run here: {r.stderr.strip()[-300:]}"
    return None


@pytest.mark.sanitizers
@pytest.mark.parametrize("kind,scale", [("address", 4), ("thread", 2)])
def test_stress_under_sanitizer(tmp_path, kind, scale):
    why = _sanitizer_probe(kind, tmp_path)
    if why:
        pytest.skip(why)
    flags = [f"-fsanitize={kind}", "-g", "-O1", "-fno-omit-frame-pointer"]
    exe = _build_stress(tmp_path, flags)
    env = dict(os.environ,
               ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1",
               TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1")
    for copy_threads in ("0", "1", "3"):
        env["HEXMLIR_DMA_THREADS"] = copy_threads
        t0 = time.time()
        r = subprocess.run([str(exe), "all", str(scale)], env=env, capture_output=True, text=True, timeout=300)
        out = r.stdout + r.stderr
        assert r.returncode == 0, f"DMA threads={copy_threads}:\n{out[-4000:]}"
        assert "Sanitizer" not in out and "WARNING" not in out, out[-4000:]
        print(f"{kind} DMA threads={copy_threads}: clean in {time.time() - t0:.1f}s")


# ------------------------------------------------------------------ Hexagon

HEX_MAIN = r"""
#include "hexmlir_rt.h"
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
static _Atomic int hits[1000];
static _Atomic int inner_hits[8 * 50];
static void body(void *ctx, intptr_t i) { (void)ctx; atomic_fetch_add(&hits[i], 1); }
static void inner(void *ctx, intptr_t j) { atomic_fetch_add(&inner_hits[(intptr_t)ctx * 50 + j], 1); }
static void outer(void *ctx, intptr_t i) { (void)ctx; hx_parallel_for(50, inner, (void *)i); }
static unsigned char src[64 * 256], dst[64 * 256];
static void dma_body(void *ctx, intptr_t i) {
  (void)ctx;
  unsigned char *t = hx_tcm_alloc(256);
  intptr_t a = hx_dma_start_1d((intptr_t)t, (intptr_t)(src + i * 256), 256);
  hx_dma_wait(a);
  hx_dma_wait(hx_dma_start_1d((intptr_t)(dst + i * 256), (intptr_t)t, 256));
  hx_tcm_free(t);
}
int main(void) {
  hx_set_num_threads(4);
  hx_parallel_for(1000, body, NULL);
  hx_parallel_for(8, outer, NULL);
  for (int i = 0; i < 1000; i++) if (hits[i] != 1) { printf("FAIL pf %d\n", i); return 1; }
  for (int i = 0; i < 400; i++) if (inner_hits[i] != 1) { printf("FAIL nested %d\n", i); return 1; }
  for (int i = 0; i < (int)sizeof src; i++) src[i] = (unsigned char)(i * 7);
  hx_parallel_for(64, dma_body, NULL);
  unsigned char *t = hx_tcm_alloc(8192);
  static unsigned char d2[64 * 64];
  hx_dma_start_2d((intptr_t)t, (intptr_t)src, 64, 64, 128, 256);
  intptr_t tok = hx_dma_start_2d((intptr_t)d2, (intptr_t)t, 64, 64, 64, 128);
  hx_dma_wait(tok);
  for (int r = 0; r < 64; r++) if (memcmp(d2 + r * 64, src + r * 256, 64)) { printf("FAIL 2d\n"); return 1; }
  if (memcmp(src, dst, sizeof src)) { printf("FAIL dma\n"); return 1; }
  hx_tcm_free(t);
  hx_stats_t s;
  hx_get_stats(&s);
  printf("threads=%d ptr=%d dispatches=%lld dma_bytes=%lld tcm_live=%lld OK\n", hx_num_threads(),
         (int)sizeof(void *), (long long)s.pool_dispatches, (long long)s.dma_bytes, (long long)s.tcm_live);
  return 0;
}
"""


@pytest.mark.slow
def test_hexagon_under_qemu(tmp_path):
    """Static hexagon-linux-musl executable: 4-thread parallel_for, nested loops, DMA, TCM."""
    qemu = shutil.which("qemu-hexagon")
    if qemu is None:
        pytest.skip("qemu-hexagon not installed")
    try:
        runtime.zig_cc()
    except ToolchainError as e:
        pytest.skip(str(e))
    src = tmp_path / "main.c"
    src.write_text(HEX_MAIN)
    exe = runtime.link_hexagon_executable([src], tmp_path / "main")
    r = subprocess.run([qemu, "-cpu", "v73", str(exe)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().endswith("OK"), r.stdout
    assert "threads=4 ptr=4" in r.stdout and "tcm_live=0" in r.stdout
    # The stress driver also runs on Hexagon.
    exe2 = runtime.link_hexagon_executable([RT_DIR / "stress.c"], tmp_path / "stress")
    r = subprocess.run([qemu, "-cpu", "v73", str(exe2), "all"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.rstrip().endswith("OK"), r.stdout + r.stderr


def test_fma_peak_probe(rt):
    """The FMA probe runs on the caller and across the pool, returns a finite rate, and gives the pool back at
    the width it found; its AVX-512 loop is zmm FMAs, one per chain."""
    runtime.set_num_threads(3)
    one = runtime.fma_peak(1, seconds=0.01, repeats=3)
    many = runtime.fma_peak(2, seconds=0.01, repeats=3)
    assert runtime.num_threads() == 3
    runtime.set_num_threads(1)
    if one is None:
        pytest.skip("this runtime has no vector FMA")
    assert 1e8 < one < 1e13 and 1e8 < many < 1e13
    assert rt.hx_fma_peak(0, 0) > 0            # clamped to one round, not a division by zero
    objdump = shutil.which("llvm-objdump-22") or shutil.which("objdump")
    if objdump and os.uname().machine == "x86_64":
        asm = subprocess.run([objdump, "-d", "--no-show-raw-insn", str(runtime.loaded_path())],
                             capture_output=True, text=True).stdout
        body = asm.split("<fma_loop_512>:", 1)[1].split("\n\n", 1)[0]
        fmas = [ln for ln in body.splitlines() if "vfmadd" in ln]
        assert len(fmas) >= 16 and all("zmm" in ln for ln in fmas)
