"""The host bench's row kernels (softmax, LayerNorm) at 16 threads: one parallel region whose row tiles cover the
threads, every op fused into it, whole rows in L1-sized tiles (x read from memory once, y written once; the
row's other passes hit L1), nothing serial in the entry function; LayerNorm's mean computed once per row, not
per element. Results against NumPy (float64) on odd shapes at 3 and 16 threads."""
import re

import numpy as np
import pytest

import hexmlir
from hexmlir import Options, opt
from hexmlir.bench.registry import layernorm
from hexmlir.kernels import linalg_suite as S
from hexmlir.targets import HOST_REDUCTION_TILE_BYTES

from conftest import current_seed

V4 = {"target": "host", "isa": "x86-64-v4"}
KERNELS = {"softmax": S.softmax_rows, "layernorm": layernorm}
SHAPES = [(4096, 1024), (1037, 1003), (61, 4099)]     # the bench size; odd sizes; fewer rows than 4 x threads


def _plan(kernel, threads):
    from hexmlir import ir as hir
    from hexmlir import pipeline, targets
    opts = Options(**V4, num_threads=threads)
    with hir.context(), hir.ir.Location.unknown():
        cx = pipeline.run(hir.parse(kernel.mlir), opts, targets.get(opts.target, opts.arch, opts.isa), until="plan")
    return cx.plan


def _generics(text):
    """(iterator types, body op names) of each linalg.generic in printed IR."""
    from hexmlir import ir as hir
    from hexmlir.ir import ops_named
    out = []
    with hir.context():
        m = hir.parse(text)
        for g in ops_named(m.operation, "linalg.generic"):
            its = [str(a).split("<")[-1].rstrip(">") for a in g.attributes["iterator_types"]]
            out.append((its, [o.operation.name for o in g.regions[0].blocks[0].operations][:-1]))
    return out


@pytest.mark.parametrize("m,n", SHAPES)
@pytest.mark.parametrize("name", list(KERNELS))
def test_one_fused_row_group_over_16_threads(name, m, n):
    plan = _plan(KERNELS[name](m, n), 16)
    roots = [p for p in plan.ops.values() if p.role == "root"]
    assert len(roots) == 1, plan.describe()
    r = roots[0]
    assert all(p.root == r.id for p in plan.ops.values() if p is not r), plan.describe()
    assert r.threads == 16, plan.describe()
    rows, cols = r.tcm_tile
    assert cols in (0, n), plan.describe()                           # whole rows: no second pass over x
    assert -(-m // rows) >= 16, plan.describe()                       # a tile per thread at least
    assert r.tile_bytes <= HOST_REDUCTION_TILE_BYTES or rows == 1, plan.describe()


@pytest.mark.parametrize("name", list(KERNELS))
def test_entry_is_one_parallel_region(name):
    text = opt.run_stages(KERNELS[name](1037, 1003).mlir, "check-input..threads", {**V4, "num_threads": 16})
    entry = text[text.index(f"func.func @hxk_{name}"):]
    entry = entry[:entry.index("\n  }\n")]
    assert entry.count("call @__hx_parallel_") == 1, entry
    assert "scf.for" not in entry and "linalg.generic" not in entry, entry      # no serial part
    assert text.count("attributes {hexmlir.thread_body}") == 1, text


def test_layernorm_mean_once_per_row():
    """sum x 1/n is a 1-D generic (once per row); the 2-D generic subtracting it does no multiply (per element)."""
    text = opt.run_stages(layernorm(1037, 1003).mlir, "check-input..fusion", {**V4, "num_threads": 16})
    gs = _generics(text)
    assert any(its == ["parallel"] and body == ["arith.mulf"] for its, body in gs), gs
    centred = [body for its, body in gs if its == ["parallel", "parallel"] and "arith.subf" in body]
    assert centred and all(body == ["arith.subf"] for body in centred), gs


@pytest.mark.parametrize("threads", [3, 16])
@pytest.mark.parametrize("m,n,force", [(1037, 1003, False), (37, 203, True), (61, 4099, False)])
@pytest.mark.parametrize("name", list(KERNELS))
def test_row_kernels_match_numpy(name, m, n, force, threads):
    seed = current_seed()
    rng = np.random.default_rng(seed)
    k = KERNELS[name](m, n)
    ins = k.random_inputs(rng)
    extra = {"mt_threshold": 1} if force else {}                     # threads on the small shape too
    kern = hexmlir.compile(k.mlir, Options(**V4, num_threads=threads, **extra))
    used = int(re.search(r"threads=(\d+)", kern.meta["plan"]).group(1))
    assert 1 < used <= threads, kern.meta["plan"]                    # (37 x 203 forced: 4 tiles of 12 rows)
    x = [a.astype(np.float64) for a in ins]
    if name == "softmax":
        e = np.exp(x[0] - x[0].max(-1, keepdims=True))
        ref = e / e.sum(-1, keepdims=True)
    else:
        mu = x[0].mean(-1, keepdims=True)
        ref = (x[0] - mu) / np.sqrt(((x[0] - mu) ** 2).mean(-1, keepdims=True) + 1e-5) * x[1] + x[2]
    got = np.asarray(kern(*ins), np.float64)
    np.testing.assert_allclose(got, ref, rtol=2e-5, atol=2e-5 * max(1.0, float(np.abs(ref).max())),
                               err_msg=f"{name} {m}x{n} threads={threads} seed={seed}")
