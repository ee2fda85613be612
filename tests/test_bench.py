"""Benchmark harness: every rung's output matches the reference, peers compute the same function, and a run
produces its CSV, markdown and plots. Tiny sizes; no speed is asserted."""
import json
import os
import sys

import pytest

from hexmlir.bench import ladder, mt_scaling, registry, report, suite

os.environ["HEXMLIR_NO_PROGRESS"] = "1"
# default tier: one kernel per shape class (elementwise f32/f16, rows with two reductions, contraction);
# the slow tier runs the whole registry
KERNELS = ["vector_add", "gelu_f16", "layernorm", "softmax", "exp_series", "attention"]


@pytest.mark.parametrize("name", list(registry.REGISTRY))
def test_peer_forms_match_reference(name, rng):
    """The numpy and torch peers compute the kernel's function (else peer ratios would compare apples to pears)."""
    e = registry.REGISTRY[name]
    k = e.kernel(e.tiny_size)
    xs = k.random_inputs(rng)
    ref = k.reference(*xs)
    if e.numpy_fn is not None:
        assert registry.check([e.numpy_fn(*xs)], ref, e.dtype) <= registry.tolerance(e.dtype)
    torch = pytest.importorskip("torch")
    got = e.torch_fn(torch, *[torch.from_numpy(x) for x in xs]).numpy()
    assert registry.check([got], ref, e.dtype) <= registry.tolerance(e.dtype)


def test_check_catches_wrong_output(rng):
    k = registry.REGISTRY["gelu"].kernel({"n": 129})
    x = k.random_inputs(rng)
    ref = k.reference(*x)
    assert registry.check(ref, ref, "float32") == 0
    assert registry.check([ref[0] * 1.01], ref, "float32") > registry.tolerance("float32")


@pytest.mark.parametrize("kernels", [KERNELS, pytest.param(list(registry.REGISTRY), marks=pytest.mark.slow)],
                         ids=["some", "all"])
def test_tiny_run_end_to_end(tmp_path, kernels):
    """Build (no IREE) and run the ladder + MT sweep at tiny sizes; every rung matches the reference; CSV,
    markdown, PNGs and the report are produced. One test: xdist workers must not compile the same keys at once."""
    from hexmlir.cli import main
    art, out = tmp_path / "art", tmp_path / "res"
    ladder.build(art, kernels=kernels, threads=2, tiny=True, iree=False)
    mt_scaling.build(art, sizes=[1000 + 37, 3 * 4096 + 5], threads=(2,), kernels=("gelu",))
    res = suite.run(art, out, warmup=1, repeats=3, peers=False, quick=True, log=lambda *a: None)

    rows = [r for r in res["ladder"] if r["impl"] == "hexmlir"]
    assert {r["kernel"] for r in rows} == set(kernels)
    assert {r["rung"] for r in rows} == set(ladder.RUNGS)
    for r in rows + [r for r in res["mt"] if r["impl"] == "hexmlir"]:
        assert r["ms"] and r["ms"] > 0, r
        assert r["ok"], r
    # MT rungs ran with 2 threads; every rung but the nodma side rungs copied through the DMA engine
    assert all(r["threads"] == 2 for r in rows if "mt" in r["rung"])
    assert all((r["dma_copies"] >= 1) != ("nodma" in r["rung"]) for r in rows if r["rung"] in ladder.NPU_RUNGS)
    assert all(r["dma_copies"] == 0 for r in rows if r["rung"] in ladder.HOST_RUNGS)   # the CPU as itself

    lines = (out / "ladder.csv").read_text().splitlines()
    assert lines[0].startswith("kernel,") and len(lines) == 1 + len(res["ladder"])
    md = (out / "tables.md").read_text()
    assert "| LayerNorm f32 | vec |" in md and "## MT scaling: gelu" in md
    assert "## Host target vs peers" in md and "| LayerNorm f32 | " in md.split("## Host target vs peers")[1]
    for png in ("ladder.png", "mt_scaling.png", "roofline.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    o = res["overheads"]
    assert set(o["mt"]) == {2} and set(o["dma"]) == {"dma", "db"}

    doc = tmp_path / "benchmarks.md"
    assert main(["bench", "report", "--out", str(out), "--doc", str(doc)]) == 0
    text = doc.read_text()
    assert "## Findings against the published numbers" in text and "LayerNorm f32" in text
    assert json.loads((out / "results.json").read_text())["threads"] == 2


def test_crossover():
    rows = [{"kernel": "g", "n": n, "rung": r, "threads": t, "impl": "hexmlir", "ms": ms}
            for n, vec, mt in [(4096, 1.0, 1.5), (16384, 1.0, 0.9), (32768, 1.0, 1.2), (65536, 1.0, 0.5),
                               (131072, 1.0, 0.3)]
            for r, t, ms in (("vec", 1, vec), ("vec+mt", 4, mt))]
    assert report.crossover(rows, "g") == 65536
    assert report.crossover(rows[:2], "g") is None


def test_fallback_progress(capsys, monkeypatch):
    from hexmlir.bench import timing
    bar = timing._Bar(3, "x")
    bar.update()
    bar.close()
    assert "1/3" in capsys.readouterr().err


def test_layernorm_and_exp_series_f16_compile(rng):
    """The bench-only Linalg kernels also hold in f16 (statistics in f32), on odd sizes."""
    import hexmlir
    for k in (registry.layernorm(5, 131, "float16"), registry.exp_series(1001, "float16")):
        xs = k.random_inputs(rng)
        got = hexmlir.compile(k.mlir)(*xs)
        assert registry.check([got], k.reference(*xs), "float16") <= registry.tolerance("float16")


def test_unknown_bench_kernel_is_a_clear_error():
    from hexmlir.cli import main
    from hexmlir.errors import HexmlirError
    with pytest.raises(HexmlirError, match="unknown bench kernel"):
        ladder.build("/nonexistent-never-created", kernels=["nope"], tiny=True, iree=False)
    assert main(["bench", "build"]) == 2          # no --artifacts: typed error, exit 2


def test_hexagon_hook_checks_outputs_and_reports_packets(rng):
    """The packet-profiler hook: rows carry total and busiest-thread packets, and a wrong output is flagged.
    The profiler here is a stand-in (the simulator lives on another branch); what is tested is the hook."""
    from hexmlir.bench import hexagon
    e = registry.REGISTRY["vector_add"]

    def fake(scale):
        def profile(kern, inputs):
            return [(inputs[0] + inputs[1]) * scale], {0: 1000, 1: 600}
        return profile
    good = hexagon.ladder(["vector_add"], profile=fake(1.0), log=lambda *a: None)
    bad = hexagon.ladder(["vector_add"], profile=fake(1.5), log=lambda *a: None)
    assert [r["rung"] for r in good] == ladder.LADDER
    assert all(r["ok"] and r["packets"] == 1600 and r["critical_packets"] == 1000 for r in good), good
    assert not any(r["ok"] for r in bad)
    # float kernel in a sim build (HVX float off): flagged, with the caveat under the table
    assert "| vector add f32 † | vec+mt | 4 | 1600 | 1000 | 1.00 |" in hexagon.table(good)
    assert "HVX float is off" in hexagon.table(good)
    assert e.tiny_size["n"] % 32                      # odd size: tails exercised


@pytest.mark.slow
def test_subprocess_peers(tmp_path):
    """Inductor and IREE in fresh processes: same seeded inputs, outputs checked, thread count honoured."""
    from hexmlir.bench import peers
    e = registry.REGISTRY["softmax"]
    size = e.tiny_size
    pytest.importorskip("torch")
    got = peers.in_subprocess("inductor", "softmax", size, 2, 1, 3, seed=7)
    assert not isinstance(got, str) and got["ok"] and got["median"] > 0, got
    pytest.importorskip("iree.compiler")
    assert peers.build_iree(e.kernel(size).mlir, tmp_path / "s.vmfb") is None
    got = peers.in_subprocess("iree", "softmax", size, 2, 1, 3, seed=7, vmfb=tmp_path / "s.vmfb")
    assert not isinstance(got, str) and got["ok"], got


def test_outputs_are_resident_before_timing():
    """Preallocated outputs are written once before timing: a lazily mapped np.empty made most timed calls
    of a rotated benchmark pay the page faults (and zeroing) of its output (hexmlir's rungs only; peers
    reuse freed memory). Counted with a write per 4 KiB page (huge pages fault fewer times, still > 0)."""
    import resource
    import numpy as np
    from hexmlir.bench.timing import resident_empty

    def faults(a):
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        a[::1024] = 1.0
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
    # 64 MiB: above glibc's largest dynamic mmap threshold (32 MiB), so np.empty always maps fresh pages;
    # a 32 MiB block could come back from the heap already mapped, after other tests in the process
    lazy = faults(np.empty((16 << 20,), np.float32))
    resident = faults(resident_empty((16 << 20,), "float32"))
    assert lazy >= 8 and resident <= lazy // 4, (lazy, resident)


def test_host_rungs_share_one_output_set(tmp_path, rng):
    """The host rungs write the same output buffers on every call (as the allocating peers effectively do);
    each call still computes its own input set's result. The NPU rungs keep rotated outputs."""
    import numpy as np
    from hexmlir.artifact import Kernel
    from hexmlir.bench import ladder
    from hexmlir.bench.registry import REGISTRY
    e = REGISTRY["vector_add"]
    k = e.kernel({"n": 1000})
    assert ladder._compile(k.mlir, ladder.rung_options("host", 1), tmp_path / "v.so") is None
    kern = Kernel.load(tmp_path / "v.so")
    sets = [k.random_inputs(rng) for _ in range(3)]
    shared = ladder.prepare(kern, sets, shared_outputs=True)
    assert len({id(outs[0]) for _, outs in shared}) == 1
    for (call, outs), s in zip(shared, sets):
        call()
        np.testing.assert_allclose(outs[0], s[0] + s[1], rtol=1e-6)
    rotated = ladder.prepare(kern, sets)
    assert len({id(outs[0]) for _, outs in rotated}) == 3
    assert "host" in ladder.HOST_RUNGS and "vec" not in ladder.HOST_RUNGS


def test_parts_run_into_one_results_dir_keep_each_other(tmp_path):
    """Two `bench host --kernels ...` parts into one --out: the second keeps the first's rows (it replaced
    them: results.json held only the last part's kernels) and lists the first command among the parts."""
    art, out = tmp_path / "art", tmp_path / "res"
    ladder.build(art, kernels=["vector_add", "silu"], threads=2, tiny=True, iree=False, rungs=list(ladder.HOST_RUNGS))
    suite.run(art, out, warmup=1, repeats=3, peers=False, quick=True, kernels=["vector_add"], which=("ladder",),
          log=lambda *a: None)
    first = json.loads((out / "results.json").read_text())
    res = suite.run(art, out, warmup=1, repeats=3, peers=False, quick=True, kernels=["silu"], which=("ladder",),
          log=lambda *a: None)
    assert sorted({r["kernel"] for r in res["ladder"]}) == ["silu", "vector_add"]
    assert [r for r in res["ladder"] if r["kernel"] == "vector_add"] == first["ladder"]
    assert res["peaks"] == first["peaks"] and len(res["parts"]) == (1 if first["run_cmd"] else 0)
    again = suite.run(art, out, warmup=1, repeats=3, peers=False, quick=True, kernels=["silu"], which=("ladder",),
          log=lambda *a: None)
    assert len(again["ladder"]) == len(res["ladder"])           # measured again: replaced, not appended
    # without peers every kernel is still summarized and checkpointed (a part cut short keeps what it timed)
    said, cps = [], []
    ladder.run(art, 1, 3, with_peers=False, log=said.append, checkpoint=lambda: cps.append(1))
    assert len(cps) == 2 and [x.split(":")[0] for x in said] == ["vector_add", "silu"], said


@pytest.mark.slow
def test_inductor_peers_compile_in_parallel_then_wait_to_be_timed(tmp_path):
    """Every (kernel, threads) compiles in a process of its own, in parallel, and waits there, compiled, until
    timed: no timed process depends on Inductor's on-disk cache (torch 2.11 on the device missed it and
    compiled again in every timed process). A parked child whose parent goes away times nothing."""
    from hexmlir.bench import peers
    pytest.importorskip("torch")
    size = registry.REGISTRY["softmax"].tiny_size
    parked = peers.park_inductor([("softmax", size, 1), ("softmax", size, 2)], 7, 1, 3, tmp_path / "ic",
                                 workers=2)
    assert set(parked) == {("softmax", 1), ("softmax", 2)}, parked
    assert all(not isinstance(c, str) and c.p.poll() is None and c.compile_s > 0 for c in parked.values()), parked
    code = {p for p in (tmp_path / "ic").rglob("*") if p.suffix in (".cpp", ".so")}
    got = parked[("softmax", 2)].go(timeout=120)
    assert not isinstance(got, str) and got["ok"] and got["median"] > 0 and got["compile_s"] > 0, got
    again = parked[("softmax", 2)].go(timeout=120)         # a noisy row is timed again in the same process
    assert not isinstance(again, str) and again["median"] > 0, again
    parked[("softmax", 2)].close()
    # compiled nothing while timed
    assert {p for p in (tmp_path / "ic").rglob("*") if p.suffix in (".cpp", ".so")} == code
    c = parked[("softmax", 1)]
    c.p.stdin.close()                       # as when the parent dies
    assert c.p.wait(timeout=60) == 0 and not c.p.stdout.read().strip()
    c.close()

def test_rows_are_timed_in_interleaved_rounds():
    """Every row is timed once per round, rounds interleave the rows (a passing load is spread over all of
    them), a row pools its rounds' calls with its head (err/ok), a row that cannot run or whose peer dies
    says why and is not called again."""
    log = []

    def timer(name, ms, fail_at=None):
        def t(warmup, repeats):
            log.append(name)
            if fail_at is not None and log.count(name) == fail_at:
                return f"{name} died"
            return {"median": ms / 1e3, "min": ms / 1e3, "max": ms / 1e3, "spread": 0.0,
                    "samples": [ms / 1e3 + j * 1e-6 for j in range(repeats)], "cpu": 1.0,
                    "wall": repeats * ms / 1e3, "calls": warmup + repeats}
        return t
    timers = [({"err": 0.0, "ok": True}, timer("a", 1.0)), ("not built", None),
              ({"compile_s": 2.0}, timer("b", 2.0)), ({}, timer("c", 3.0, fail_at=2))]
    got = ladder.time_in_rounds(timers, warmup=1, repeats=15, rounds=3, seed=5)
    rounds = [log[0:3], log[3:6], log[6:8]]
    assert sorted(rounds[0]) == sorted(rounds[1]) == ["a", "b", "c"] and sorted(rounds[2]) == ["a", "b"], log
    assert got[1] == "not built" and got[3] == "c died"
    assert len(got[0]["samples"]) == 15 and got[0]["ok"] is True and got[0]["calls"] == 18
    assert got[0]["median"] == pytest.approx(1.002e-3) and got[2]["compile_s"] == 2.0


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs sched_setaffinity")
def test_one_thread_rows_share_one_cpu():
    """time_in_rounds runs a row with `cpus` on that CPU only and restores the affinity after; pin_process
    pins every thread of a (parked peer) process."""
    import subprocess
    from hexmlir.bench import timing
    cpu, before = timing.one_cpu(), os.sched_getaffinity(0)
    assert cpu in before
    seen = []

    def timer(w, r):
        seen.append(os.sched_getaffinity(0))
        return {"median": 1e-3, "min": 1e-3, "max": 1e-3, "spread": 0.0, "samples": [1e-3] * r, "cpu": 1.0,
                "wall": 1e-3 * r, "calls": w + r}
    got = timing.time_in_rounds([({}, timer), ({}, timer)], warmup=0, repeats=2, rounds=2, cpus=[{cpu}, None])
    assert sorted(map(len, seen)) == [1, 1, len(before), len(before)] and {cpu} in seen
    assert os.sched_getaffinity(0) == before and all(g["calls"] == 2 for g in got)
    p = subprocess.Popen([sys.executable, "-c", "import threading, time; threading.Thread(target=time.sleep, "
                          "args=(30,)).start(); print('up', flush=True); time.sleep(30)"], stdout=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout.readline().strip() == "up"
        timing.pin_process(p.pid, {cpu})
        tasks = os.listdir(f"/proc/{p.pid}/task")
        assert len(tasks) == 2 and all(os.sched_getaffinity(int(t)) == {cpu} for t in tasks)
    finally:
        p.kill()
        p.wait()
    os.environ[timing.PIN_ENV] = "0"
    try:
        assert timing.one_cpu() is None
    finally:
        del os.environ[timing.PIN_ENV]
