"""Inputs that used to be accepted and then mishandled (issue 16): each is now supported or a typed error that
names what and where."""
import numpy as np
import pytest

import hexmlir
from hexmlir import Options, UnsupportedError

ADD = """%e = tensor.empty() : tensor<{n}xf32>
  %r = linalg.add ins(%x, %x : tensor<{n}xf32>, tensor<{n}xf32>) outs(%e : tensor<{n}xf32>) -> tensor<{n}xf32>"""


def _add(n):
    return ADD.format(n=n)


REJECTED = {
    "two_public": ("""
func.func @a(%x: tensor<8xf32>) -> tensor<8xf32> { return %x : tensor<8xf32> }
func.func @b(%x: tensor<8xf32>) -> tensor<8xf32> { """ + _add(8) + """
  return %r : tensor<8xf32> }""", "2 public functions \\(@a, @b\\)"),
    "extern": ("""
func.func private @ext(%x: tensor<8xf32>) -> tensor<8xf32>
func.func @main(%x: tensor<8xf32>) -> tensor<8xf32> {
  %r = func.call @ext(%x) : (tensor<8xf32>) -> tensor<8xf32>
  return %r : tensor<8xf32> }""", "@ext is an external declaration"),
    "scalar_arg": ("""
func.func @main(%x: tensor<8xf32>, %s: f32) -> tensor<8xf32> { return %x : tensor<8xf32> }""",
                   "argument 1 \\(f32\\) is a scalar"),
    "scalar_result": ("""
func.func @main(%x: tensor<8xf32>) -> f32 { %c = arith.constant 0 : index
  %v = tensor.extract %x[%c] : tensor<8xf32>
  return %v : f32 }""", "result 0 \\(f32\\) is a scalar"),
    "memref": ("""
func.func @main(%x: memref<8xf32>, %y: memref<8xf32>) {
  linalg.add ins(%x, %x : memref<8xf32>, memref<8xf32>) outs(%y : memref<8xf32>)
  return }""", "argument 0 \\(memref<8xf32>\\) is a memref"),
    "complex": ("""
func.func @main(%x: tensor<8xcomplex<f32>>) -> tensor<8xcomplex<f32>> { return %x : tensor<8xcomplex<f32>> }""",
                "element type complex<f32> is not supported"),
    "huge": ("""
func.func @main(%x: tensor<4611686018427387904xf32>) -> tensor<4611686018427387904xf32> {
  return %x : tensor<4611686018427387904xf32> }""", "more than the target's 64-bit index"),
}


@pytest.mark.parametrize("name", REJECTED)
def test_mishandled_input_is_a_typed_error(name):
    src, msg = REJECTED[name]
    with pytest.raises(UnsupportedError, match=msg) as e:
        hexmlir.compile(src, Options())
    assert e.value.stage == "check-input"


def test_more_than_2_gib_is_rejected_for_32_bit_hexagon(tmp_path):
    n = 1 << 29                                    # 2 GiB of f32: fine on the host's 64-bit index
    src = f"func.func @main(%x: tensor<{n}xf32>) -> tensor<{n}xf32> {{ {_add(n)}\n return %r : tensor<{n}xf32> }}"
    with pytest.raises(UnsupportedError, match="32-bit index"):
        hexmlir.compile(src, Options(target="hexagon"), emit="obj", output=str(tmp_path / "k.o"))


def test_private_callee_defined_first_is_inlined_into_the_public_entry():
    src = """
func.func private @dbl(%x: tensor<33xf32>) -> tensor<33xf32> { """ + _add(33) + """
  return %r : tensor<33xf32> }
func.func @main(%x: tensor<33xf32>) -> tensor<33xf32> {
  %d = func.call @dbl(%x) : (tensor<33xf32>) -> tensor<33xf32>
  %e = tensor.empty() : tensor<33xf32>
  %s = linalg.mul ins(%d, %x : tensor<33xf32>, tensor<33xf32>) outs(%e : tensor<33xf32>) -> tensor<33xf32>
  return %s : tensor<33xf32> }"""
    k = hexmlir.compile(src, Options())
    assert k.name == "main"
    x = np.random.default_rng(11).standard_normal(33).astype(np.float32)
    np.testing.assert_allclose(k(x), 2 * x * x, rtol=1e-6)


@pytest.mark.parametrize("vectorize", [True, False])
def test_bf16_converts_and_computes_without_compiler_rt(vectorize):
    """f32 -> bf16 rounding (nearest even) and bf16 arithmetic match torch bit for bit; the .so loads (no
    undefined __truncsfbf2)."""
    torch = pytest.importorskip("torch")
    ml_dtypes = pytest.importorskip("ml_dtypes")
    n = 1001
    src = f"""
func.func @main(%x: tensor<{n}xf32>, %y: tensor<{n}xbf16>) -> (tensor<{n}xbf16>, tensor<{n}xf32>) {{
  %e = tensor.empty() : tensor<{n}xbf16>
  %e2 = tensor.empty() : tensor<{n}xf32>
  %r:2 = linalg.generic {{indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>,
      affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}}
      ins(%x, %y : tensor<{n}xf32>, tensor<{n}xbf16>) outs(%e, %e2 : tensor<{n}xbf16>, tensor<{n}xf32>) {{
  ^bb0(%a: f32, %b: bf16, %o: bf16, %o2: f32):
    %m = arith.truncf %a : f32 to bf16
    %s = arith.mulf %m, %b : bf16
    %w = arith.extf %s : bf16 to f32
    linalg.yield %s, %w : bf16, f32
  }} -> (tensor<{n}xbf16>, tensor<{n}xf32>)
  return %r#0, %r#1 : tensor<{n}xbf16>, tensor<{n}xf32> }}"""
    seed = 12
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(n, generator=g) * 100, torch.randn(n, generator=g).bfloat16()
    k = hexmlir.compile(src, Options(vectorize=vectorize))
    s, w = k(x.numpy(), y.view(torch.int16).numpy().view(ml_dtypes.bfloat16))
    ref = x.bfloat16() * y
    np.testing.assert_array_equal(s.view(np.int16), ref.view(torch.int16).numpy(), err_msg=f"seed {seed}")
    np.testing.assert_array_equal(w, ref.float().numpy(), err_msg=f"seed {seed}")


def test_kernel_run_checks_shape_dtype_and_contiguity():
    from hexmlir.kernels import linalg_suite as S
    k = hexmlir.compile(S.vector_add(33).mlir, Options(multithread=False))
    rng = np.random.default_rng(5)
    a, b, out = rng.random(33, np.float32), rng.random(33, np.float32), np.empty(33, np.float32)
    k.run([a, b, out])
    np.testing.assert_array_equal(out, a + b)
    bad = {
        "strided": ([rng.random(66, np.float32)[::2], b, out], "not C-contiguous"),
        "float64": ([a.astype(np.float64), b, out], "must be float32\\[33\\], got float64\\[33\\]"),
        "too small": ([a, b, np.empty(20, np.float32)], "must be float32\\[33\\], got float32\\[20\\]"),
        "count": ([a, b], "takes 3 arrays"),
        "list": ([list(a), b, out], "must be a numpy array"),
    }
    for name, (args, msg) in bad.items():
        with pytest.raises(hexmlir.HexmlirError, match=msg):
            k.run(args)
        with pytest.raises(hexmlir.HexmlirError, match=msg):
            k.prepared(args)
    out2 = np.empty(33, np.float32)
    k.run_unchecked([a, b, out2])                  # the named unchecked path (benchmarks)
    np.testing.assert_array_equal(out2, a + b)


@pytest.mark.parametrize("vectorize", [True, False])
@pytest.mark.parametrize("n, taps", [(37, 5), (1000, 3)])
def test_conv_1d_compiles_and_matches_numpy(vectorize, n, taps):
    """Vectorized linalg.conv_1d used to leave 1-D vector.extract_strided_slice unlowered."""
    m = n - taps + 1
    src = f"""
func.func @main(%x: tensor<{n}xf32>, %w: tensor<{taps}xf32>) -> tensor<{m}xf32> {{
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<{m}xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<{m}xf32>) -> tensor<{m}xf32>
  %r = linalg.conv_1d ins(%x, %w : tensor<{n}xf32>, tensor<{taps}xf32>) outs(%f : tensor<{m}xf32>) -> tensor<{m}xf32>
  return %r : tensor<{m}xf32> }}"""
    seed = 21 + n
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(n).astype(np.float32), rng.standard_normal(taps).astype(np.float32)
    k = hexmlir.compile(src, Options(vectorize=vectorize))
    np.testing.assert_allclose(k(x, w), np.correlate(x, w, "valid"), rtol=1e-5, atol=1e-5, err_msg=f"seed {seed}")
