"""What route B spends beyond its matmuls in the bench models (hexmlir.kernels.torch_models): zero inits
fused into the matmuls' tiles, no per-call copies of them. Numerics against eager PyTorch."""
import re
import warnings

import pytest

torch = pytest.importorskip("torch")

import hexmlir
from hexmlir.kernels.torch_models import MODELS
from conftest import current_seed


def _compile(name, tmp_path, threads, size="test", x=None):
    spec = MODELS[name]
    seed = current_seed()
    torch.manual_seed(seed)
    m = spec.make(size)
    x = torch.randn(*spec.shape(size)) if x is None else x
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
