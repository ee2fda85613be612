"""var_mean (LayerNorm's statistics) through the torch frontend (frontends/torch/importer.py): computed in f32
(two passes on centred values) instead of torch-mlir's f64 copy of the input. Against PyTorch in float64."""
import re
import warnings

import pytest

import hexmlir
from conftest import current_seed

torch = pytest.importorskip("torch")


def _compile(m, x):
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # no fallback to eager
        return hexmlir.compile_model(m, (x,))


def test_layer_norm_has_no_f64_tensors():
    from hexmlir.frontends.torch.backend import model_linalg
    text = model_linalg(torch.nn.LayerNorm(33).eval(), [torch.randn(2, 5, 33)])
    assert not re.search(r"tensor<[0-9x]*xf64>", text), text


@pytest.mark.parametrize("shape", [(3, 17, 1000), (2, 33)])
def test_layer_norm_matches_float64(shape):
    """An input with a large mean against its spread: the centred second pass keeps the variance exact."""
    seed = current_seed()
    g = torch.Generator().manual_seed(seed)
    m = torch.nn.LayerNorm(shape[-1]).eval()
    with torch.no_grad():
        m.weight.copy_(torch.rand(shape[-1], generator=g) + 0.5)
        m.bias.copy_(torch.randn(shape[-1], generator=g))
    x = torch.randn(*shape, generator=g) * 3 + 40
    with torch.no_grad():
        got = _compile(m, x)(x)
        want = torch.nn.functional.layer_norm(x.double(), m.normalized_shape, m.weight.double(), m.bias.double(),
                                              m.eps)
    err = float((got.double() - want).abs().max())
    assert err <= 2e-4, f"seed={seed} max err {err}"


class VarMean(torch.nn.Module):
    def __init__(self, dim, correction, keepdim):
        super().__init__()
        self.dim, self.correction, self.keepdim = dim, correction, keepdim

    def forward(self, x):
        return torch.var_mean(x, dim=self.dim, correction=self.correction, keepdim=self.keepdim)


@pytest.mark.parametrize("dim,correction,keepdim", [((0, 2), 1, False), (-1, 0, True), (None, 1, False)])
def test_var_mean_matches_float64(dim, correction, keepdim):
    seed = current_seed()
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(5, 7, 33, generator=g) * 2 + 1
    m = VarMean(dim, correction, keepdim)
    with torch.no_grad():
        got = _compile(m, x)(x)
        want = m(x.double())
    for a, b in zip(got, want):
        assert a.shape == b.shape, f"seed={seed}"
        err = float((a.double() - b).abs().max())
        assert err <= 1e-5, f"seed={seed} max err {err}"
