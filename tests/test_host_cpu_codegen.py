"""Host target code shape for a CPU (issue 14): non-temporal aligned stores for large element-wise outputs,
divisions by a row-invariant value hoisted out of the inner loop. Structure checks on the stage dumps and
the assembly (not timing), numerics against NumPy / torch at any alignment, and the NPU-emulation target
left as it was.

Fresh random inputs per test; the seed is in every assertion message.
"""
import re

import numpy as np
import pytest

import hexmlir
from hexmlir import Options
from hexmlir.kernels import linalg_suite as S
from hexmlir.targets import HOST_STREAM_BYTES
from conftest import current_seed

ST = dict(multithread=False)


def _dump(tmp_path, kernel, **kw):
    d = tmp_path / "dump"
    k = hexmlir.compile(kernel.mlir, Options(dump_dir=str(d), **{"target": "host", "isa": "x86-64-v4", **ST, **kw}))
    return k, {p.name.split("-", 1)[1].rsplit(".", 1)[0]: p.read_text() for p in d.iterdir()}


# ----------------------------------------------------------------------------------------------------------
# Streaming (non-temporal) stores for large element-wise outputs
# ----------------------------------------------------------------------------------------------------------

BIG = HOST_STREAM_BYTES // 4 + 1037            # f32 elements: just over the threshold, not a multiple of 16


def test_large_elementwise_output_is_stored_non_temporally(tmp_path):
    _, ir = _dump(tmp_path, S.vector_add(BIG))
    assert re.search(r"vector\.store [^\n]*alignment = 64[^\n]*nontemporal = true", ir["vectorize"]), ir["vectorize"]
    assert "extract_aligned_pointer_as_index" in ir["vectorize"]
    assert re.search(r"vmovntps\s+%zmm", ir["target"])


def test_threaded_streaming_asks_the_runtime_per_loop(tmp_path):
    """In a pool thread's body the stores stream only when the running loop has few threads (the runtime's
    hx_stream_stores): both store forms are emitted, the loop unswitched on the runtime's answer. Numerics
    at 1, 2, 4 and 8 pool threads (both paths) against NumPy."""
    from hexmlir import runtime
    k, ir = _dump(tmp_path, S.vector_add(BIG), multithread=True, num_threads=8)
    vec = ir["vectorize"]
    assert "call @hx_stream_stores()" in vec, vec
    assert re.search(r"vector\.store [^\n]*nontemporal = true", vec), vec
    assert re.search(r"vector\.store (?![^\n]*nontemporal)[^\n]*alignment = 64", vec), vec
    assert re.search(r"vmovntps\s+%zmm", ir["target"]) and re.search(r"vmovaps\s+%zmm\d+, \(", ir["target"])
    seed = current_seed()
    rng = np.random.default_rng(seed)
    a, b = (rng.standard_normal(BIG).astype(np.float32) for _ in range(2))
    before = runtime.num_threads()
    try:
        for t in (1, 2, 4, 8):
            runtime.set_num_threads(t)
            assert np.array_equal(np.asarray(k(a, b)), a + b), f"{t} threads seed={seed}"
    finally:
        runtime.set_num_threads(before)


def test_small_output_and_npu_emu_use_plain_stores(tmp_path):
    _, ir = _dump(tmp_path / "s", S.vector_add(100003))
    assert "nontemporal" not in ir["vectorize"] and "vmovnt" not in ir["target"]
    d = tmp_path / "n"
    hexmlir.compile(S.vector_add(BIG).mlir, Options(target="npu-emu", dump_dir=str(d), multithread=False,
                                                    dma=False, double_buffer=False))
    asm = next(p for p in d.iterdir() if p.name.endswith("-target.s")).read_text() \
        if any(p.name.endswith("-target.s") for p in d.iterdir()) else ""
    vec = next(p for p in d.iterdir() if p.name.endswith("-vectorize.mlir")).read_text()
    assert "nontemporal" not in vec and "vmovnt" not in asm


def test_scalar_host_build_has_no_packed_simd(tmp_path):
    for k in (S.vector_add(BIG), S.row_sum(64, 1024), S.gelu_tanh((1000,))):
        _, ir = _dump(tmp_path / k.name, k, vectorize=False)
        asm = ir["target"]
        assert not re.search(r"\b(v(add|mul|sub|fmadd\w*|max|min|div)ps|vmovnt\w*)\b", asm), k.name
        assert "ymm" not in asm and "zmm" not in asm, k.name      # row_sum's memset too (noimplicitfloat)


@pytest.mark.parametrize("mt", [False, True])
def test_streaming_stores_any_alignment(mt):
    """numpy hands out buffers 16 bytes past a line; the aligned main loop starts wherever the output's first
    64-byte boundary is, the elements before it and after the last full vector are computed too, and nothing
    outside the output is written."""
    seed = current_seed()
    rng = np.random.default_rng(seed)
    k = hexmlir.compile(S.vector_add(BIG).mlir, Options(target="host", multithread=mt))
    for off in list(range(0, 17)) + [int(rng.integers(0, 64))]:
        a = rng.standard_normal(BIG + 64).astype(np.float32)[off % 7:off % 7 + BIG]
        b = rng.standard_normal(BIG + 64).astype(np.float32)[off:off + BIG]
        buf = np.full(BIG + 64, np.nan, np.float32)
        out = buf[off:off + BIG]
        k.prepared([a, b, out])()
        assert np.array_equal(out, a + b), f"offset {off} seed={seed}"
        assert np.isnan(buf[:off]).all() and np.isnan(buf[off + BIG:]).all(), f"offset {off} seed={seed}"


def test_streaming_gelu_silu_match_torch():
    import torch
    seed = current_seed()
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(BIG) * 6).astype(np.float32)
    g = np.asarray(hexmlir.compile(S.gelu_tanh((BIG,)).mlir, Options(target="host"))(x))
    s = np.asarray(hexmlir.compile(S.silu((BIG,)).mlir, Options(target="host"))(x))
    xt = torch.from_numpy(x.astype(np.float64))
    np.testing.assert_allclose(g, torch.nn.functional.gelu(xt, approximate="tanh").numpy(), rtol=2e-6, atol=1e-6,
                               err_msg=f"seed={seed}")
    np.testing.assert_allclose(s, torch.nn.functional.silu(xt).numpy(), rtol=1e-6, atol=1e-30, err_msg=f"seed={seed}")


def test_softmax_division_by_row_sum_is_hoisted(tmp_path):
    """a / b becomes a * (1 / b) with a native divf: the row sum's reciprocal leaves the inner loop, no
    packed divide per vector (one per vector cost more than the rest of the loop)."""
    k, ir = _dump(tmp_path, S.softmax_rows(64, 1000))
    assert not re.search(r"vdivps\s+[^\n]*%zmm", ir["target"]), ir["target"]
    seed = current_seed()
    x = S.softmax_rows(64, 1000).random_inputs(np.random.default_rng(seed))
    np.testing.assert_allclose(np.asarray(k(*x)), S.softmax_rows(64, 1000).reference(*x)[0], rtol=2e-6,
                               atol=1e-9, err_msg=f"seed={seed}")


# ----------------------------------------------------------------------------------------------------------
# Row-wise reduction groups: L1-sized tiles on host
# ----------------------------------------------------------------------------------------------------------

def _root_tile(kernel, **kw):
    from hexmlir import ir as hir
    from hexmlir import pipeline, targets
    opts = Options(**{"target": "host", "isa": "x86-64-v4", **kw})
    with hir.context(), hir.ir.Location.unknown():
        m = hir.parse(kernel.mlir)
        cx = pipeline.run(m, opts, targets.get(opts.target, opts.arch, opts.isa), until="plan")
    roots = [p for p in cx.plan.ops.values() if p.role == "root"]
    return cx.plan, roots


@pytest.mark.parametrize("mt", [False, True])
def test_reduction_group_tile_is_l1_sized(mt):
    from hexmlir.targets import HOST_REDUCTION_TILE_BYTES
    for k in (S.softmax_rows(4096, 1024), S.rmsnorm(4096, 1024)):
        plan, roots = _root_tile(k, multithread=mt)
        assert len(roots) == 1, k.name                                   # still one fused group
        assert roots[0].tile_bytes <= HOST_REDUCTION_TILE_BYTES, (k.name, roots[0].tcm_tile, roots[0].tile_bytes)
    # element-wise groups keep the L2-sized tile
    plan, roots = _root_tile(S.vector_add(1 << 22), multithread=mt)
    assert roots[0].tile_bytes > HOST_REDUCTION_TILE_BYTES


def test_reduction_tile_rows_wider_than_l1_run_one_row_at_a_time():
    plan, roots = _root_tile(S.softmax_rows(64, 20000), multithread=False)
    assert all(r.tcm_tile[0] == 1 and r.tcm_tile[1] in (0, 20000) for r in roots), [r.tcm_tile for r in roots]


@pytest.mark.parametrize("m,n", [(33, 17), (13, 1000), (300, 1001)])
@pytest.mark.parametrize("mt", [False, True])
def test_row_kernels_match_numpy(m, n, mt):
    seed = current_seed()
    rng = np.random.default_rng(seed)
    for kern in (S.softmax_rows(m, n), S.rmsnorm(m, n), S.row_sum(m, n)):
        x = kern.random_inputs(rng)
        got = hexmlir.compile(kern.mlir, Options(target="host", multithread=mt, mt_threshold=1))(*x)
        got = got if isinstance(got, (list, tuple)) else [got]
        for g, r in zip(got, kern.reference(*x)):
            np.testing.assert_allclose(np.asarray(g, np.float64), r, rtol=2e-5,
                                       atol=2e-5 * max(1.0, float(np.abs(r).max())),
                                       err_msg=f"{kern.name} {m}x{n} mt={mt} seed={seed}")
