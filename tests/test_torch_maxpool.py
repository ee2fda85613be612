"""nn.MaxPool2d through the torch frontend (frontends/torch/importer.py, _max_pool2d): an elementwise maximum
of the window's strided views, one parallel generic vectorized along the output row (torch-mlir's pooling
reduction ran scalar over the window column). Against eager PyTorch, NaNs included (the op propagates them)."""
import warnings

import pytest

import hexmlir
from conftest import current_seed

torch = pytest.importorskip("torch")

CASES = {   # (kernel, stride, padding, dilation), input shape
    "2x2": ((2, None, 0, 1), (2, 5, 34, 33)),
    "3x3_s2_pad1": ((3, 2, 1, 1), (1, 3, 17, 20)),
    "2x3_s1_dil2": (((2, 3), 1, 0, 2), (2, 4, 11, 13)),
    "unbatched": ((2, None, 0, 1), (3, 9, 10)),
}


class Pool(torch.nn.Module):
    def __init__(self, k, s, p, d):
        super().__init__()
        self.pool = torch.nn.MaxPool2d(k, s, p, d)

    def forward(self, x):
        return self.pool(torch.relu(x) - 0.25)


@pytest.mark.parametrize("case", list(CASES))
def test_max_pool2d_matches_torch(case):
    seed = current_seed()
    g = torch.Generator().manual_seed(seed)
    args, shape = CASES[case]
    m = Pool(*args).eval()
    x = torch.randn(*shape, generator=g)
    flat = x.view(-1)
    flat[torch.randint(0, flat.numel(), (5,), generator=g)] = float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # no fallback to eager
        f = hexmlir.compile_model(m, (x,))
        with torch.no_grad():
            got = f(x)
            want = m(x)
    assert got.shape == want.shape
    assert torch.equal(torch.isnan(got), torch.isnan(want)), f"seed={seed}: NaNs differ"
    ok = ~torch.isnan(want)
    assert torch.equal(got[ok], want[ok]), f"seed={seed}: max err {(got[ok] - want[ok]).abs().max()}"


def test_max_pool2d_is_a_parallel_generic():
    """No reduction loop over the window: torch-mlir's pooling op ran scalar (its innermost loop is the
    window column, 2 for a 2x2 pool)."""
    from hexmlir.frontends.torch.backend import model_linalg
    text = model_linalg(Pool(2, None, 0, 1).eval(), [torch.randn(2, 5, 34, 33)])
    assert "reduction" not in text and "pooling" not in text, text


class ConvReluPool(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3)

    def forward(self, x):
        return torch.nn.functional.max_pool2d(torch.relu(self.conv(x)), 2)


def test_relu_merges_into_the_pool(tmp_path):
    """The ReLU between a conv and a 2x2 pool is computed inside the pool's generic, not as a pass of its own
    over the conv output (fusion._slices_before_elementwise moves the window slices in front of it)."""
    from torch_mlir import ir
    from hexmlir.ir import context, ops_named
    seed = current_seed()
    torch.manual_seed(seed)
    m = ConvReluPool().eval()
    x = torch.randn(2, 3, 19, 21)
    d = tmp_path / "dump"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = hexmlir.compile_model(m, (x,), dump_dir=str(d))
        with torch.no_grad():
            got, want = f(x), m(x)
    err = float((got - want).abs().max())
    assert err <= 1e-5, f"seed={seed} max err {err}"
    with context():
        mod = ir.Module.parse(next(d.glob("*-fusion.mlir")).read_text())
        relu = [str(g) for g in ops_named(mod.operation, "linalg.generic") if "cmpf ugt" in str(g)]
    assert len(relu) == 1 and "cmpf ogt" in relu[0], relu
