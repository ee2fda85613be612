"""Triton kernels launched with target="hexagon-sim": the whole grid runs under qemu-hexagon (HVX float off
for float kernels, real HVX for integer kernels) and must match PyTorch."""
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("triton")

from hexmlir.kernels.triton_suite import SUITE, torch_generator  # noqa: E402

# The CI slice: vector add, GELU, softmax, RMSNorm, matmul and int8, all-on and all-off.
SLICE = ["add_1d", "gelu_tanh", "softmax", "rmsnorm", "matmul", "int8_add_sat", "int8_matmul"]
ALL_OFF = {k: False for k in ("fusion", "tcm_tiling", "vectorize", "fast_math", "multithread", "dma",
                              "double_buffer")}


@pytest.mark.slow
@pytest.mark.parametrize("opts", ["all_on", "all_off"])
@pytest.mark.parametrize("name", SLICE)
def test_triton_kernel_runs_in_qemu(name, opts):
    e = SUITE[name]
    dt = e.dtypes[0]
    x = e.make_inputs(torch_generator(None), e.sizes[0], dt)
    kw = dict(ALL_OFF) if opts == "all_off" else {}
    got = e.run(*x, target="hexagon-sim", **kw)
    e.check(got, e.reference(*x), dt)


def test_simulated_triton_launch_matches_and_records_float_caveat():
    import json

    from hexmlir import cache
    e = SUITE["add_1d"]
    x = e.make_inputs(torch_generator(None), e.sizes[-1], torch.float32)
    e.check(e.run(*x, target="hexagon-sim"), e.reference(*x), torch.float32)
    metas = [json.loads(p.read_text()) for p in cache.cache_dir().glob("*/kernel.json")]
    sims = [m for m in metas if m.get("simulator") and m["name"] == "add_kernel"]
    assert sims and all(m["hvx_float"] is False and "HVX float off" in m["sim_note"] for m in sims)
