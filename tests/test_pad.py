"""tensor.pad (padded convolutions, F.pad) through the decompose-pad stage, vs eager PyTorch on fresh random
inputs; pad forms the pipeline cannot compile are typed errors naming tensor.pad."""
import warnings

import numpy as np
import pytest

import hexmlir
from hexmlir import Options

torch = pytest.importorskip("torch")
pytest.importorskip("torch_mlir")

from hexmlir.frontends.torch import FallbackWarning  # noqa: E402


class PaddedConvNet(torch.nn.Module):
    """Two padded convolutions (symmetric and asymmetric padding), channels 3 -> 5 -> 7, ReLU between."""
    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(3, 5, 3, padding=1)
        self.c2 = torch.nn.Conv2d(5, 7, 3, padding=(2, 1))

    def forward(self, x):
        return self.c2(torch.relu(self.c1(x)))


class ConstPad(torch.nn.Module):
    """Asymmetric F.pad with a nonzero constant, then an elementwise op (so the pad feeds a kernel)."""
    def forward(self, x):
        return torch.nn.functional.pad(x, (1, 3, 0, 2), value=-1.25) * 2.0 + 0.5


def _close(got, ref, tol=1e-5):
    ref = ref.detach().float().numpy()
    np.testing.assert_allclose(got.detach().float().numpy(), ref, rtol=tol,
                               atol=tol * max(1.0, float(np.abs(ref).max())))


# All on and fusion off in the default tier; the other mechanisms off (a compile each) with --slow.
@pytest.mark.parametrize("off", [None, "fusion"] + [pytest.param(o, marks=pytest.mark.slow)
                                                    for o in ("vectorize", "multithread", "tcm_tiling")])
def test_padded_conv_matches_eager(off):
    m = PaddedConvNet().eval()
    shape = (2, 3, 13, 11)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)           # no retry, no eager fallback
        c = hexmlir.compile_model(m, torch.randn(*shape), strict=True, **({off: False} if off else {}))
    assert c.compiled
    for _ in range(2):
        x = torch.randn(*shape)
        _close(c(x), m(x))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_fpad_asymmetric_nonzero_constant(dtype):
    m = ConstPad()
    shape = (2, 3, 7, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        c = hexmlir.compile_model(m, torch.randn(*shape, dtype=dtype), strict=True)
    x = torch.randn(*shape, dtype=dtype)
    got = c(x)
    assert got.dtype == dtype and got.shape == (2, 3, 9, 9)
    _close(got, m(x.float()), 1e-5 if dtype == torch.float32 else 2e-3)


class ModePad(torch.nn.Module):
    def __init__(self, mode):
        super().__init__()
        self.mode = mode

    def forward(self, x):
        return torch.nn.functional.pad(x, (1, 2, 2, 1), mode=self.mode) + 1.0


@pytest.mark.parametrize("mode", ["replicate"] + [pytest.param(m, marks=pytest.mark.slow)
                                                 for m in ("reflect", "circular")])
def test_fpad_other_modes(mode):
    """Not tensor.pad: torch-mlir imports these as gathers (tensor.extract in a generic) or slices."""
    m = ModePad(mode)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        c = hexmlir.compile_model(m, torch.randn(2, 3, 7, 9), strict=True)
    x = torch.randn(2, 3, 7, 9)
    _close(c(x), m(x))


def test_decompose_pad_stage_leaves_fill_and_insert_slice(tmp_path):
    """The stage is dumped like the others; after it no tensor.pad is left."""
    from hexmlir.frontends.torch.backend import _import_linalg
    text = _import_linalg(ConstPad(), [torch.randn(2, 3, 7, 5)])
    assert "tensor.pad" in text
    d = tmp_path / "dump"
    hexmlir.compile(text, Options(dump_dir=str(d)))
    ir = next(d.glob("*-decompose-pad.mlir")).read_text()
    assert "tensor.pad" not in ir and "linalg.fill" in ir and "tensor.insert_slice" in ir


_INDEX_PAD = """func.func @f(%a: tensor<3x5xf32>) -> tensor<4x8xf32> {
  %p = tensor.pad %a low[1, 2] high[0, 1] {
  ^bb0(%i: index, %j: index):
    %x = arith.index_cast %i : index to i64
    %f = arith.sitofp %x : i64 to f32
    tensor.yield %f : f32
  } : tensor<3x5xf32> to tensor<4x8xf32>
  return %p : tensor<4x8xf32> }"""

_DYNAMIC_PAD = """func.func @f(%a: tensor<3x5xf32>, %n: index) -> tensor<?x5xf32> {
  %c = arith.constant 0.0 : f32
  %p = tensor.pad %a low[%n, 0] high[0, 0] {
  ^bb0(%i: index, %j: index):
    tensor.yield %c : f32
  } : tensor<3x5xf32> to tensor<?x5xf32>
  return %p : tensor<?x5xf32> }"""


@pytest.mark.parametrize("src, what", [(_INDEX_PAD, "padding value computed from the indices"),
                                       (_DYNAMIC_PAD, "dynamic|is a scalar")])
def test_unsupported_pad_forms_are_typed_errors(src, what):
    with pytest.raises(hexmlir.UnsupportedError, match=what) as e:
        hexmlir.compile(src)
    assert e.value.op in ("tensor.pad", "func.func") and e.value.stage == "check-input"   # a scalar %n is refused first
