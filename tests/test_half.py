"""Half-precision element-wise bodies computed in f32 where the target has no half vector arithmetic (the
`half` stage): fewer conversions, results at least as accurate as rounding after every op."""
import re

import numpy as np
import pytest

import hexmlir
from hexmlir import Options, pipeline, targets
from hexmlir.bench.registry import REGISTRY
from conftest import current_seed


def _gelu_ref(x):
    x = x.astype(np.float64)
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


@pytest.mark.parametrize("target", ["host", "npu-emu"])
def test_gelu_f16_is_computed_in_f32_and_correct(tmp_path, target):
    e = REGISTRY["gelu_f16"]
    k = e.kernel({"n": 1037})
    asm = tmp_path / "k.s"
    hexmlir.compile(k.mlir, Options(target=target, isa="x86-64-v4", multithread=False), emit="asm",
                    output=str(asm))
    # before the stage: two conversions around each of ~9 f16 operations per vector (56 vcvtps2ph)
    assert len(re.findall(r"vcvtps2ph", asm.read_text())) <= 8
    kern = hexmlir.compile(k.mlir, Options(target=target, multithread=False))
    seed = current_seed()
    x = (np.random.default_rng(seed).standard_normal(1037) * 3).astype(np.float16)
    got = kern(x).astype(np.float64)
    ref = _gelu_ref(x)
    # one rounding of the f32 result to f16 (0.5 ulp) plus the polynomial tanh's error
    np.testing.assert_allclose(got, ref, rtol=1.5e-3, atol=1e-3, err_msg=f"seed {seed}")


def test_bf16_elementwise_chain():
    mlir = """func.func @f(%a: tensor<33x17xbf16>, %b: tensor<33x17xbf16>) -> tensor<33x17xbf16> {
  %e = tensor.empty() : tensor<33x17xbf16>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>,
                                        affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%a, %b : tensor<33x17xbf16>, tensor<33x17xbf16>) outs(%e : tensor<33x17xbf16>) {
  ^bb0(%x: bf16, %y: bf16, %o: bf16):
    %p = arith.mulf %x, %y : bf16
    %s = arith.addf %p, %x : bf16
    %m = arith.maximumf %s, %y : bf16
    linalg.yield %m : bf16
  } -> tensor<33x17xbf16>
  return %r : tensor<33x17xbf16>
}"""
    torch = pytest.importorskip("torch")
    ml_dtypes = pytest.importorskip("ml_dtypes")
    kern = hexmlir.compile(mlir, Options(target="host"))
    seed = current_seed()
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(33, 17, generator=g).bfloat16(), torch.randn(33, 17, generator=g).bfloat16()

    def np_bf16(t):
        return t.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    got = torch.from_numpy(np.asarray(kern(np_bf16(a), np_bf16(b)).view(np.int16))).view(torch.bfloat16)
    ref = torch.maximum(a.double() * b.double() + a.double(), b.double())
    # computed in f32, rounded to bf16 once: within half a bf16 ulp of the exact value (plus the f32 error)
    assert torch.allclose(got.double(), ref, rtol=2 ** -8, atol=1e-6), f"seed {seed}"
    # rounding after every op (what the target did before) is allowed to differ from it, never to be closer
    per_op = torch.maximum((a * b + a), b).double()
    assert (got.double() - ref).abs().sum() <= (per_op - ref).abs().sum(), f"seed {seed}"


def test_stage_runs_only_where_half_arithmetic_is_missing():
    half = next(s for s in pipeline.stages() if s.name == "half")
    opts = Options()
    assert half.off(opts, targets.get("host")) is None
    assert half.off(opts, targets.get("npu-emu")) is None
    assert half.off(opts, targets.hexagon_target("v73")) is not None
