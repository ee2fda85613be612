"""`hexmlir bench models`: build (weights, inputs, route B artifacts) and run from the artifacts directory,
outputs checked against eager; the report's table. Tiny sizes; Inductor and route A in the slow tier."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch_mlir")

from hexmlir.bench import models as bm  # noqa: E402
from hexmlir.bench import report  # noqa: E402


def _ok_rows(rows, routes, names, threads):
    got = {(r["model"], r["route"], r["threads"]) for r in rows}
    assert got == {(n, r, t) for n in names for r in routes for t in threads}, got
    for r in rows:
        assert r["ms"] is not None and r["ms"] > 0, r
        if r["route"] != "eager":
            assert r["ok"], r                       # checked against eager on the saved weights and input


def test_build_then_run_eager_and_route_b(tmp_path):
    art = tmp_path / "art"
    names = ["mlp", "convnet"]
    idx = bm.build(art, threads=2, tiny=True, models=names, dev_run=False, log=lambda *a: None)
    assert [e["name"] for e in idx["models"]] == names and all(e["B"] for e in idx["models"])
    # the saved artifact runs standalone with the saved weights and matches eager on a fresh input
    _, e, m, x = bm._load(art, "mlp")
    import hexmlir
    k = hexmlir.load(art / "mlp" / "B" / "kernel.so")
    order = json.loads((art / "mlp" / "B" / "model.json").read_text())["weights"]
    x2 = torch.randn(*x.shape)
    got = k(*[m.state_dict()[n].numpy() for n in order], x2.numpy())
    np.testing.assert_allclose(got, m(x2).detach().numpy(), rtol=1e-5, atol=1e-5)
    res = bm.run(art, tmp_path / "res", routes=["eager", "B"], threads=[1, 2], warmup=1, repeats=3,
                 log=lambda *a: None)
    _ok_rows(res["models"], ["eager", "B"], names, [1, 2])
    kern = {(r["model"], r["route"]): r["kernels"] for r in res["models"]}
    assert kern[("mlp", "B")] == {"hexmlir": 1} and kern[("mlp", "eager")]["aten"] >= 3   # 2 addmm + gelu
    md = (tmp_path / "res" / "tables.md").read_text()
    assert "## PyTorch models" in md and "| MLP Linear-GELU-Linear | B: Linalg" in md
    assert (tmp_path / "res" / "models.csv").exists()


def test_kernel_counts_from_generated_code():
    code = """
# Source: extern_kernels.mm(a, b) in a comment is not a call
cpp_fused_gelu_0 = async_compile.cpp_pybinding(['float*'], '''...''')
cpp_fused_add_1 = async_compile.cpp_pybinding(['float*'], '''...''')
def call(args):
    extern_kernels.addmm(arg1, buf0, arg2, alpha=1, beta=1, out=buf1)
    cpp_fused_gelu_0(buf1)
    buf2 = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu.default(q, k, v)
    extern_kernels.addmm(arg3, buf1, arg4, alpha=1, beta=1, out=buf3)
"""
    c = bm.count_kernels(code)
    assert (c["cpp"], c["triton"], c["extern"]) == (2, 0, 3)
    assert c["extern_ops"] == ["extern_kernels.addmm", "torch.ops.aten._scaled_dot_product_flash_attention_for_cpu"]


def test_models_table_ratios():
    rows = [{"model": "m", "label": "M", "route": "eager", "threads": 1, "ms": 2.0, "spread": 0.1, "kernels": {"aten": 5},
             "ok": None, "note": ""},
            {"model": "m", "label": "M", "route": "inductor", "threads": 1, "ms": 1.0, "spread": 0.1,
             "kernels": {"cpp": 2, "triton": 0, "extern": 1, "extern_ops": ["extern_kernels.addmm"]}, "ok": True,
             "err": 1e-7, "note": ""},
            {"model": "m", "label": "M", "route": "B", "threads": 1, "ms": 0.5, "spread": 0.0, "kernels": {"hexmlir": 1},
             "ok": False, "err": 0.5, "note": ""},
            {"model": "m", "label": "M", "route": "A", "threads": 1, "ms": None, "note": "route A needs MLIR"}]
    t = report.models_table(rows).splitlines()
    assert t[4].startswith("| M | B: Linalg") and "| 4.00 | 2.00 | WRONG" in t[4], t[4]
    assert "2 cpp + 1 extern (addmm)" in t[3] and "n/a: route A needs MLIR" in t[5]


@pytest.mark.slow
def test_all_routes_tiny(tmp_path):
    """Every model, every route (Inductor and route A compile in fresh processes: minutes)."""
    art = tmp_path / "art"
    bm.build(art, threads=2, tiny=True, dev_run=False, log=lambda *a: None)
    res = bm.run(art, None, threads=[1], warmup=1, repeats=3, log=lambda *a: None)
    names = [e["name"] for e in json.loads((art / "index.json").read_text())["models"]]
    _ok_rows(res["models"], list(bm.ROUTES), names, [1])
    for r in res["models"]:
        if r["route"] == "A":                        # route A: matmuls are Triton templates, no ATen matmul
            assert r["kernels"]["triton"] > 0 and not {"extern_kernels.mm", "extern_kernels.addmm",
                                                      "extern_kernels.bmm"} & set(r["kernels"]["extern_ops"]), r
