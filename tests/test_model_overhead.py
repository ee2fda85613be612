"""What route B spends beyond its matmuls in the bench models (hexmlir.kernels.torch_models): zero inits
fused into the matmuls' tiles, no per-call copies of them. Numerics against eager PyTorch."""
import re
import warnings

import pytest

torch = pytest.importorskip("torch")

import hexmlir
from hexmlir.kernels.torch_models import MODELS
from conftest import current_seed


def _compile(name, tmp_path, threads, size="test", x=None, kwargs=None, shape=None):
    spec = MODELS[name]
    seed = current_seed()
    torch.manual_seed(seed)
    m = spec.make(size) if kwargs is None else spec.cls(**kwargs).eval()
    x = torch.randn(*(shape or spec.shape(size))) if x is None else x
    d = tmp_path / "dump"
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # no fallback to eager
        c = hexmlir.compile_model(m, (x,), num_threads=threads, dump_dir=str(d))
    return m, x, c, {p.name.split("-", 1)[1].rsplit(".", 1)[0]: p.read_text() for p in d.iterdir()}, seed


@pytest.mark.parametrize("threads", [1, 3])
def test_swiglu_zero_inits_fused_into_matmul_tiles(tmp_path, threads):
    """torch-mlir zero-inits gate and up as one [B*T, H] fill viewed [B, T, H]: the view kept the fill a
    root of its own (a whole-buffer memset per call) and each matmul tile copied its slice of the zeros."""
    m, x, c, ir, seed = _compile("rmsnorm_swiglu", tmp_path, threads)
    assert "memref.copy" not in ir["threads"], ir["threads"]
    fusion = ir["fusion"]
    for r in re.finditer(r"tensor\.(expand|collapse)_shape (%\w+)", fusion):
        src = re.search(rf"{r.group(2)} = (\S+)", fusion)
        assert src is None or src.group(1) != "linalg.generic", f"a reshape of a fill stays: {r.group(0)}"
    with torch.no_grad():
        got, want = c(x), m(x)
    err = float((got - want).abs().max())
    assert err <= 1e-4 * max(1.0, float(want.abs().max())), f"seed={seed} max err {err}"


@pytest.mark.parametrize("name", ["rmsnorm_swiglu", "block", "mlp"])
def test_models_match_eager_on_fresh_inputs(tmp_path, name):
    """Odd test sizes (not multiples of the vector width), fresh random weights and input per seed."""
    m, x, c, _, seed = _compile(name, tmp_path, 2)
    for _ in range(2):
        x2 = torch.randn(*x.shape)
        with torch.no_grad():
            got, want = c(x2), m(x2)
        err = float((got - want).abs().max())
        assert err <= 1e-4 * max(1.0, float(want.abs().max())), f"seed={seed} {name} max err {err}"


def _matmuls(text) -> int:
    """Contraction generics: two inputs, a reduction loop, a body of exactly mulf + addf."""
    n = 0
    for m in re.finditer(r"linalg\.generic \{[^\n]*iterator_types = \[[^\]]*\"reduction\"[^\n]*ins\(([^)]*)\)"
                         r"[^\n]*\{\n(.*?)\n\s*\}", text, re.S):
        body = [ln.split("=")[-1].split()[0] for ln in m.group(2).splitlines() if ln.strip() and "^bb" not in ln]
        if len(m.group(1).split(":")[0].split(",")) == 2 and sorted(body) == ["arith.addf", "arith.mulf", "linalg.yield"]:
            n += 1
    return n


def test_block_output_projection_computed_once(tmp_path):
    """The block's x1 = x + proj(attn) + b feeds LayerNorm 2 and the final residual, two tile groups: the plan
    fused it (and the projection matmul) into the final residual's tile loop only, so upstream cloned both
    there and the originals stayed as whole-size ops outside any tile loop: the projection ran twice per
    call, once serially. Read by two groups, x1 is a root of its own."""
    # (tiled groups: at the test size every group is one tile, nothing is cloned)
    m, x, c, ir, seed = _compile("block", tmp_path, 3, kwargs=dict(d=96, heads=3, h=1000), shape=(2, 131, 96))
    before, after = _matmuls(ir["fold-transposes"]), _matmuls(ir["bufferize"])
    assert before == 6 and after == before, (before, after)
    with torch.no_grad():
        got, want = c(x), m(x)
    err = float((got - want).abs().max())
    assert err <= 1e-4 * max(1.0, float(want.abs().max())), f"seed={seed} max err {err}"
