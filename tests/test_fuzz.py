"""Differential fuzzing (docs/fuzzing.md): generated Linalg modules against a numpy evaluation of the same
program, generated Triton kernels against Triton's interpreter, under sampled option combinations.

    HEXMLIR_FUZZ_SEED=123 python3 -m pytest -q -p no:xdist tests/test_fuzz.py -k linalg   # replay seed 123
    HEXMLIR_FUZZ_ONLY=2,5      only programs 2 and 5 of that seed's module/kernel
    HEXMLIR_FUZZ_KNOWN=1       also run programs that hit a known open bug (KNOWN_BUGS)
    HEXMLIR_FUZZ_COUNT=5000    programs per front in the slow tier (--slow)
    HEXMLIR_FUZZ_BASE=1000     first seed (default tier: 0, slow tier: random, printed with every failure)

Kernels run in a worker process (hexmlir.fuzz.runner), so a crash fails one case, not the session.
"""
import os
import random
from pathlib import Path

import numpy as np
import pytest

import hexmlir
from hexmlir.fuzz import linalg_gen as L
from hexmlir.fuzz import triton_gen as T
from hexmlir.fuzz.common import compare
from hexmlir.fuzz.runner import Worker

# Programs that hit a bug other work is fixing now are left out of a module, by name; delete an entry when
# its fix lands. Entry: name -> (predicate on (feature set of the program (see the generators), sampled
# options), reason). Empty: the i1-bit-packed, result-aliases-input and triton-bool-pointer entries were
# deleted when their fixes landed (docs/fuzzing.md has the counts of the run that confirmed it).
KNOWN_BUGS: dict = {}

_SKIPPED: dict = {}


def known_bug(features, options):
    if os.environ.get("HEXMLIR_FUZZ_KNOWN") == "1":
        return None
    for name, (pred, _) in KNOWN_BUGS.items():
        if pred(features, options):
            return name
    return None


def _seeds(default_n: int, slow: bool):
    if os.environ.get("HEXMLIR_FUZZ_SEED"):
        return [int(s) for s in os.environ["HEXMLIR_FUZZ_SEED"].split(",")]
    base = os.environ.get("HEXMLIR_FUZZ_BASE")
    base = int(base) if base else (random.randrange(10 ** 6, 10 ** 9) if slow else 0)
    return [base + i for i in range(default_n)]


def _only():
    o = os.environ.get("HEXMLIR_FUZZ_ONLY")
    return {int(x) for x in o.split(",")} if o else None


LINALG_PER_MODULE, TRITON_PER_KERNEL = 6, 4
N_LINALG, N_TRITON = 36, 14          # default tier: 216 + 56 programs (measured in docs/fuzzing.md)
SLOW_COUNT = int(os.environ.get("HEXMLIR_FUZZ_COUNT", "3000"))
REPLAY = "HEXMLIR_FUZZ_SEED={seed} python3 -m pytest -q -p no:xdist tests/test_fuzz.py -k {k}"


@pytest.fixture(scope="session")
def worker():
    w = Worker(timeout=300)
    yield w
    w.close()


def _record_drops(case):
    for p, reason in case.dropped:
        _SKIPPED.setdefault(reason, []).append((case.seed, p.index))


# ---- Linalg ------------------------------------------------------------------------------------------

def _linalg_case(seed, worker):
    case = L.gen_case(seed, LINALG_PER_MODULE, known_bug=known_bug, only=_only())
    _record_drops(case)
    if not case.programs:
        pytest.skip("known bugs: " + ", ".join(sorted({r for _, r in case.dropped})))
    header = (f"seed {seed}, options {case.options}\nreplay: " + REPLAY.format(seed=seed, k="linalg"))
    try:
        k = hexmlir.compile(case.mlir, hexmlir.Options(**case.options))
        res = worker.run(k.path, case.inputs())
    except Exception as e:
        pytest.fail(f"{header}\n{type(e).__name__}: {e}\n{case.mlir}", pytrace=False)
    bad = case.check(res)
    if bad:
        failing = sorted({p.index for p, _ in bad})
        text = L.gen_case(seed, LINALG_PER_MODULE, only=set(failing)).mlir
        pytest.fail(f"{header}  (HEXMLIR_FUZZ_ONLY={','.join(map(str, failing))})\n"
                    + "\n".join(str(m) for _, m in bad) + f"\nfailing programs:\n{text}", pytrace=False)


@pytest.mark.parametrize("seed", _seeds(N_LINALG, slow=False))
def test_linalg_fuzz(seed, worker):
    _linalg_case(seed, worker)


_SLOW_LINALG = _seeds(-(-SLOW_COUNT // LINALG_PER_MODULE), slow=True)


@pytest.mark.slow    # ids are indices: a random base differs between xdist workers, the ids must not
@pytest.mark.parametrize("seed", _SLOW_LINALG, ids=[str(i) for i in range(len(_SLOW_LINALG))])
def test_linalg_fuzz_slow(seed, worker):
    _linalg_case(seed, worker)


# ---- Triton ------------------------------------------------------------------------------------------

def _triton_batch(seeds, tmp_dir):
    """Generate the kernels of `seeds` into one file and run every size of every kernel under the
    interpreter in one subprocess (each costs a torch + triton import)."""
    from triton_oracle import run_interpreted_many
    cases = {s: T.gen_case(s, TRITON_PER_KERNEL, known_bug=known_bug, only=_only()) for s in seeds}
    path = Path(tmp_dir) / "fuzz_kernels.py"
    path.write_text(T.module_source(cases.values()))
    runs, keys = [], []
    for s, c in cases.items():
        if c.programs:
            for j, (args, grid, cx, _) in enumerate(c.runs(0)):
                runs.append((c.name, args, grid, cx))
                keys.append((s, j))
    refs = dict(zip(keys, run_interpreted_many(str(path), runs, timeout=1800))) if runs else {}
    return cases, path, refs


def _triton_case(seed, batch, worker):
    cases, path, refs = batch
    case = cases[seed]
    _record_drops(case)
    if not case.programs:
        pytest.skip("known bugs: " + ", ".join(sorted({r for _, r in case.dropped})))
    header = (f"seed {seed}, options {case.options}\nreplay: " + REPLAY.format(seed=seed, k="triton"))
    pars = case.params()
    for j, (args, grid, cx, outs) in enumerate(case.runs(0)):
        size = args[-1] if case.kind == "ew" else tuple(args[-2:])
        try:
            got = worker.triton(path, case.name, args, grid, cx, case.options)
        except Exception as e:
            pytest.fail(f"{header}\nsize {size}: {type(e).__name__}: {e}\n{case.source()}", pytrace=False)
        ref = refs[(seed, j)]
        bad = [m for i in outs if (m := compare(pars[i][0], got[i], ref[i], case.tolerance(pars[i][2], ref[i])))]
        if bad:
            pytest.fail(f"{header}\nsize {size}, grid {grid}, {cx}\n" + "\n".join(map(str, bad))
                        + f"\n{case.source()}", pytrace=False)


@pytest.fixture(scope="module")
def triton_batch(tmp_path_factory):
    pytest.importorskip("triton")
    return _triton_batch(_seeds(N_TRITON, slow=False), tmp_path_factory.mktemp("fuzz-triton"))


@pytest.mark.parametrize("seed", _seeds(N_TRITON, slow=False))
def test_triton_fuzz(seed, triton_batch, worker):
    _triton_case(seed, triton_batch, worker)


_SLOW_TRITON = _seeds(-(-SLOW_COUNT // TRITON_PER_KERNEL), slow=True)


@pytest.fixture(scope="module")
def triton_batch_slow(tmp_path_factory):
    pytest.importorskip("triton")
    return _triton_batch(_SLOW_TRITON, tmp_path_factory.mktemp("fuzz-triton-slow"))


@pytest.mark.slow
@pytest.mark.parametrize("seed", _SLOW_TRITON, ids=[str(i) for i in range(len(_SLOW_TRITON))])
def test_triton_fuzz_slow(seed, triton_batch_slow, worker):
    _triton_case(seed, triton_batch_slow, worker)


# ---- what the known-bug table left out ---------------------------------------------------------------

def test_zz_known_bugs_left_out():
    """Reports (as a skip reason) how many programs each known bug kept out of this run."""
    if not _SKIPPED:
        return
    pytest.skip("; ".join(f"{name}: {len(v)} programs left out, e.g. seed {v[0][0]} program {v[0][1]} "
                          f"({KNOWN_BUGS[name][1]})" for name, v in sorted(_SKIPPED.items())))


def test_generators_are_deterministic():
    """A seed is a replay: the same seed gives the same program, options and inputs."""
    a, b = L.gen_case(7, 4), L.gen_case(7, 4)
    assert a.mlir == b.mlir and a.options == b.options
    assert all(np.array_equal(x, y) for x, y in zip(a.inputs(), b.inputs()))
    ta, tb = T.gen_case(7), T.gen_case(7)
    assert ta.source() == tb.source() and ta.options == tb.options
    assert all(np.array_equal(x, y) for (xa, *_), (xb, *_) in zip(ta.runs(0), tb.runs(0))
               for x, y in zip(xa, xb) if isinstance(x, np.ndarray))


def test_fuzzer_finds_a_planted_bug(worker):
    """The oracle is live: a result perturbed by one ulp-scale amount beyond tolerance is reported."""
    case = L.gen_case(3, 2, options=dict(L.gen_case(3, 2).options, vectorize=False))
    k = hexmlir.compile(case.mlir, hexmlir.Options(**case.options))
    res = worker.run(k.path, case.inputs())
    assert not case.check(res)
    v, tol = case.programs[0].results[0]
    res[0] = res[0].copy()
    flat = res[0].reshape(-1)
    if v.elt == "i1":
        flat[0] = not flat[0]
    else:
        flat[0] = flat[0] + (1 if v.elt not in L.FLOATS else np.float64(np.max(tol)) * 10 + 1)
    assert case.check(res)
