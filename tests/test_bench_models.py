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
    _, e, m, (x,) = bm._load(art, "mlp")
    import hexmlir
    k = hexmlir.load(art / "mlp" / "B" / "kernel.so")
    order = json.loads((art / "mlp" / "B" / "model.json").read_text())["weights"]
    x2 = torch.randn(*x.shape)
    got = k(*[m.state_dict()[n].numpy() for n in order], x2.numpy())
    np.testing.assert_allclose(got, m(x2).detach().numpy(), rtol=1e-5, atol=1e-5)
    res = bm.run(art, tmp_path / "res", routes=["eager", "B"], threads=[1, 2], warmup=1, repeats=3,
                 log=lambda *a: None, procs=2)
    _ok_rows(res["models"], ["eager", "B"], names, [1, 2])
    # the 1-thread rows: both routes timed in each of two fresh processes; the N-thread rows here
    assert all(len(r["procs_ms"]) == 2 for r in res["models"] if r["threads"] == 1)
    assert not any("procs_ms" in r for r in res["models"] if r["threads"] == 2)
    assert res["models_meta"]["one_thread_procs"] == 2
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
    """Every synthetic model, every route (Inductor and route A compile in fresh processes: minutes)."""
    from hexmlir.kernels.torch_models import MODELS
    art = tmp_path / "art"
    bm.build(art, threads=2, tiny=True, models=list(MODELS), dev_run=False, log=lambda *a: None)
    res = bm.run(art, None, threads=[1], warmup=1, repeats=3, log=lambda *a: None)
    names = [e["name"] for e in json.loads((art / "index.json").read_text())["models"]]
    _ok_rows(res["models"], list(bm.ROUTES), names, [1])
    for r in res["models"]:
        if r["route"] == "A":                        # route A: matmuls are Triton templates, no ATen matmul
            assert r["kernels"]["triton"] > 0 and not {"extern_kernels.mm", "extern_kernels.addmm",
                                                      "extern_kernels.bmm"} & set(r["kernels"]["extern_ops"]), r


# ------------------------------------------------------------------ real models of the corpus (CorpusSpec)

def test_corpus_weights_load_into_a_model_initialized_otherwise(tmp_path):
    """The run machine rebuilds a corpus model (another library version may initialize it otherwise) and loads
    the saved weights: every parameter and buffer, GPT-2's tied LM head once and LLaMA's non-persistent rotary
    frequencies and BatchNorm's 0-d counters included, so its output is the built model's; another set of names
    is a typed error."""
    pytest.importorskip("transformers")
    from hexmlir.errors import HexmlirError
    from hexmlir.kernels.torch_models import ALL_MODELS as MODELS
    for name in ("gpt2", "llama", "resnet18"):     # resnet18: BatchNorm's 0-d num_batches_tracked
        m, xs = MODELS[name].example("test")
        w = {k: v.detach().numpy().copy() for k, v in bm._named_tensors(m).items()}
        np.savez(tmp_path / "w.npz", **w)
        other = MODELS[name].make("test")
        g = torch.Generator().manual_seed(7)
        with torch.no_grad():                       # a different init, buffers included
            for t in bm._named_tensors(other).values():
                if t.is_floating_point():
                    t.copy_(torch.randn(t.shape, generator=g))
        with torch.no_grad():
            assert not torch.equal(other(*xs), m(*xs)), name
            bm._set_weights(other, np.load(tmp_path / "w.npz"), name)
            assert torch.equal(other(*xs), m(*xs)), name
        del w[next(iter(w))]
        np.savez(tmp_path / "w2.npz", **w)
        with pytest.raises(HexmlirError, match="saved weights' names"):
            bm._set_weights(other, np.load(tmp_path / "w2.npz"), name)


def test_model_that_does_not_load_gives_na_rows(tmp_path):
    """A model that the run machine cannot rebuild with the saved weights shows as n/a rows; the others run."""
    from hexmlir.kernels.torch_models import ALL_MODELS as MODELS
    art = tmp_path / "art"
    (art / "mlp").mkdir(parents=True)
    m, (x,) = MODELS["mlp"].example("test")
    np.savez(art / "mlp" / "weights.npz", **{"bogus": np.zeros(3, np.float32)})
    np.savez(art / "mlp" / "inputs.npz", x0=x.numpy())
    (art / "index.json").write_text(json.dumps({"threads": 1, "size": "test", "models": [
        {"name": "mlp", "label": "MLP", "shape": list(x.shape), "B": None, "B_error": "not built"}]}))
    res = bm.run(art, None, routes=["eager", "B"], threads=[1], warmup=1, repeats=3, log=lambda *a: None, procs=0)
    assert [(r["route"], r["ms"]) for r in res["models"]] == [("eager", None), ("B", None)]
    assert all("saved weights' names" in r["note"] for r in res["models"]), res["models"]


@pytest.mark.slow
def test_corpus_build_then_run_eager_and_route_b(tmp_path, monkeypatch):
    """Real models (GPT-2 with its int64 ids and padding mask, and without the mask, ResNet-18) at test size:
    built whole by route B, run from the artifacts against eager; a route B output off by 1e-3 shows as a failed
    row."""
    pytest.importorskip("transformers")
    art = tmp_path / "art"
    names = ["gpt2", "gpt2_nomask", "resnet18"]
    idx = bm.build(art, threads=2, tiny=True, models=["resnet18", "gpt2_nomask", "gpt2"], dev_run=False,
                   log=lambda *a: None)
    assert [e["name"] for e in idx["models"]] == names and all(e["B"] for e in idx["models"]), idx
    assert idx["models"][0]["inputs"] == [["int64", [2, 13]], ["int64", [2, 13]]]
    assert idx["models"][1]["inputs"] == [["int64", [2, 13]]]
    # the variant without mask reuses GPT-2's weights file (same config, same seed)
    assert idx["models"][1]["weights"] == "gpt2/weights.npz" and not (art / "gpt2_nomask" / "weights.npz").exists()
    res = bm.run(art, tmp_path / "res", routes=["eager", "B"], threads=[1], warmup=1, repeats=3, log=lambda *a: None)
    _ok_rows(res["models"], ["eager", "B"], names, [1])
    assert "gpt2 int64 (2, 13) + int64 (2, 13)" in (tmp_path / "res" / "tables.md").read_text()
    import hexmlir
    load = hexmlir.load

    def off(path):                                  # route B made wrong: its output shifted by 1e-3
        k = load(path)
        return lambda *a: np.asarray(k(*a)) + np.float32(1e-3)
    monkeypatch.setattr(hexmlir, "load", off)
    res = bm.run(art, None, routes=["eager", "B"], threads=[1], models=["gpt2"], warmup=1, repeats=3,
                 log=lambda *a: None)
    b = [r for r in res["models"] if r["route"] == "B"]
    assert len(b) == 1 and b[0]["ok"] is False and b[0]["err"] > bm.TOL, b


def test_models_groups_expand_to_known_models():
    """`--models corpus` names every corpus model at bench size (each with the corpus entry it tests as), once;
    `default` what a run without --models builds; an unknown name is a typed error."""
    from hexmlir.errors import HexmlirError
    from hexmlir.kernels import model_corpus as mc
    from hexmlir.kernels.torch_models import ALL_MODELS, DEFAULT
    corpus = bm._names(["corpus"])
    assert set(corpus) == {s.name for s in ALL_MODELS.values() if hasattr(s, "extract")} - {"gpt2_nomask"}
    assert all(ALL_MODELS[n].test in mc.CORPUS for n in corpus)
    assert bm._names(["mlp", "default"]) == list(DEFAULT)
    with pytest.raises(HexmlirError, match="unknown model"):
        bm._names(["corpus", "nope"])


def test_models_table_per_process_ratio_range():
    """1-thread rows timed in several processes show the median of the per-process ratios and their range (the
    ratio of the pooled medians, 1.0 / 0.9 = 1.11 here, is not what any process measured)."""
    def row(route, ms, procs):
        return {"model": "m", "label": "M", "route": route, "threads": 1, "ms": ms, "spread": 0.1,
                "kernels": None, "ok": None, "note": "", "procs_ms": procs}
    t = report.models_table([row("inductor", 1.0, [1.0, 1.2, 0.9]), row("B", 0.9, [0.8, 1.25, 1.0])]).splitlines()
    assert t[2].endswith("| – | 1.00 | – |"), t[2]                 # no range against itself
    assert "| 0.96 (0.90-1.25) |" in t[3], t[3]                    # 0.9/1.0, 1.2/1.25, 1.0/0.8 per process
    one = report.models_table([row("inductor", 1.0, [1.0]), row("B", 0.9, [0.8])]).splitlines()
    assert "| 1.11 |" in one[3], one[3]                            # one process: no range
