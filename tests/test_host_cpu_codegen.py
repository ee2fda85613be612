"""Host target code shape for a CPU (issue 14): reductions in independent vector accumulators with a tree
horizontal reduction, and non-temporal aligned stores for large element-wise outputs. Structure checks on
the stage dumps and the assembly (not timing), numerics against NumPy on odd sizes, and the NPU-emulation
target left as it was.

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
# Reductions: 4 independent accumulators, tree horizontal reduction
# ----------------------------------------------------------------------------------------------------------

def test_row_reduction_has_four_accumulators_on_host(tmp_path):
    _, ir = _dump(tmp_path, S.row_sum(64, 1024))
    vec = ir["vectorize"]
    assert re.search(r"scf\.for [^\n]*step %c64 iter_args\([^)]*\) -> \((vector<16xf32>, ){3}vector<16xf32>\)", vec), vec
    assert re.search(r"vector\.reduction <add>[^\n]*fastmath<reassoc>", vec)     # the horizontal sum is a tree
    asm = ir["target"]
    # no lane-by-lane chain of 16 scalar adds after the loop
    assert len(re.findall(r"\bvaddss\b", asm)) < 8, asm


def test_npu_emu_reductions_unchanged(tmp_path):
    d = tmp_path / "n"
    hexmlir.compile(S.row_sum(64, 1024).mlir, Options(target="npu-emu", dump_dir=str(d), multithread=False,
                                                      dma=False, double_buffer=False))
    vec = next(p for p in d.iterdir() if p.name.endswith("-vectorize.mlir")).read_text()
    assert "reassoc" not in vec and "hexmlir.vector_acc" not in vec
    assert not re.search(r"iter_args\([^)]*,[^)]*\) -> \(vector", vec), vec


@pytest.mark.parametrize("m,n", [(33, 17), (13, 1000), (7, 1024), (5, 4096 + 16)])
def test_reductions_match_numpy(m, n):
    seed = current_seed()
    rng = np.random.default_rng(seed)
    for kern, ref in [(S.row_sum(m, n), None), (S.softmax_rows(m, n), None), (S.rmsnorm(m, n), None)]:
        x = kern.random_inputs(rng)
        got = hexmlir.compile(kern.mlir, Options(target="host"))(*x)
        got = got if isinstance(got, (list, tuple)) else [got]
        for g, r in zip(got, kern.reference(*x)):
            np.testing.assert_allclose(np.asarray(g, np.float64), r, rtol=2e-5, atol=2e-5 * max(1.0, np.abs(r).max()),
                                       err_msg=f"{kern.name} {m}x{n} seed={seed}")


# ----------------------------------------------------------------------------------------------------------
# Streaming (non-temporal) stores for large element-wise outputs
# ----------------------------------------------------------------------------------------------------------

BIG = HOST_STREAM_BYTES // 4 + 1037            # f32 elements: just over the threshold, not a multiple of 16


def test_large_elementwise_output_is_stored_non_temporally(tmp_path):
    _, ir = _dump(tmp_path, S.vector_add(BIG))
    assert re.search(r"vector\.store [^\n]*alignment = 64[^\n]*nontemporal = true", ir["vectorize"]), ir["vectorize"]
    assert "extract_aligned_pointer_as_index" in ir["vectorize"]
    assert re.search(r"vmovntps\s+%zmm", ir["target"])


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
        if k.name != "row_sum":     # its zero fill becomes a memset, which LLVM expands with vector stores
            assert "ymm" not in asm and "zmm" not in asm, k.name


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
