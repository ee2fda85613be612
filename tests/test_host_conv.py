"""2-D convolutions on the host (transforms/conv.py: window copy + matmul for the contract stage) against
torch.nn.functional.conv2d on fresh seeded inputs: odd channel counts and image sizes (not multiples of the
micro-kernel or of the vector width), stride, padding, dilation, batch > 1, 1x1 convolutions, grouped and
depthwise ones (which keep the generic path), NHWC Linalg input, threads, and the npu-emu target and
vectorize=False (the stage off)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch_mlir")

import hexmlir  # noqa: E402
from conftest import current_seed  # noqa: E402

# (N, C, H, W, F, kernel, stride, padding, dilation, groups, bias)
CASES = {
    "3x3_pad1_c5_7x9": (1, 5, 7, 9, 11, 3, 1, 1, 1, 1, True),
    "3x3_s2_b2": (2, 3, 13, 11, 17, 3, 2, 1, 1, 1, True),
    "1x1_s1": (1, 16, 5, 7, 33, 1, 1, 0, 1, 1, True),
    "1x1_s2_b2": (2, 8, 9, 9, 19, 1, 2, 0, 1, 1, False),
    "3x3_dil2_pad2": (1, 4, 12, 10, 9, 3, 1, 2, 2, 1, True),
    "3x5_s21": (1, 6, 11, 13, 35, (3, 5), (2, 1), (1, 2), 1, 1, False),
    "7x7_s2_pad3_stem": (1, 3, 20, 18, 24, 7, 2, 3, 1, 1, False),
    "few_pixels_b2": (2, 24, 5, 5, 40, 3, 2, 1, 1, 1, True),      # 9 pixels < 16 lanes: pixels as rows
    "groups2": (1, 6, 9, 7, 10, 3, 1, 1, 1, 2, True),
    "depthwise": (2, 8, 9, 11, 8, 3, 1, 1, 1, 8, True),
}


def _conv(case):
    n, c, h, w, f, k, s, p, d, g, bias = case
    torch.manual_seed(current_seed())
    m = torch.nn.Conv2d(c, f, k, stride=s, padding=p, dilation=d, groups=g, bias=bias).eval()
    x = torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(current_seed() + 1))
    return m, x


def _check(m, x, **opts):
    seed = current_seed()
    c = hexmlir.compile_model(m, x, target=opts.pop("target", "host"), **opts)
    assert c.compiled, c.eager_reason
    with torch.no_grad():
        got = c(x)
        ref = torch.nn.functional.conv2d(x.double(), m.weight.double(), None if m.bias is None else m.bias.double(),
                                         m.stride, m.padding, m.dilation, m.groups)
    err = float((got.double() - ref).abs().max())
    assert got.shape == ref.shape and err <= 1e-4 * max(1.0, float(ref.abs().max())), f"seed={seed} max err {err}"


@pytest.mark.parametrize("name", list(CASES))
def test_conv2d_matches_torch(name):
    m, x = _conv(CASES[name])
    _check(m, x, num_threads=1)


def test_conv2d_relu_pool_two_threads():
    """Two convolutions with ReLU and pooling between (the route-B conv net's shape), on two threads."""
    torch.manual_seed(current_seed())
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 13, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                            torch.nn.Conv2d(13, 21, 3, stride=2), torch.nn.ReLU()).eval()
    x = torch.randn(2, 3, 17, 19)
    seed = current_seed()
    c = hexmlir.compile_model(m, x, target="host", num_threads=2, mt_threshold=1)
    with torch.no_grad():
        got, ref = c(x), m(x)
    err = float((got - ref).abs().max())
    assert err <= 1e-4 * max(1.0, float(ref.abs().max())), f"seed={seed} max err {err}"


@pytest.mark.parametrize("target,opts", [("npu-emu", {}), ("host", {"vectorize": False})], ids=["npu-emu", "novec"])
def test_conv2d_stage_off_still_correct(target, opts):
    m, x = _conv(CASES["3x3_s2_b2"])
    _check(m, x, target=target, num_threads=1, **opts)


NHWC = """
func.func @conv(%x: tensor<2x9x7x5xf32>, %w: tensor<3x3x5x19xf32>) -> tensor<2x4x3x19xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x4x3x19xf32>
  %o = linalg.fill ins(%z : f32) outs(%e : tensor<2x4x3x19xf32>) -> tensor<2x4x3x19xf32>
  %r = linalg.conv_2d_nhwc_hwcf {dilations = dense<1> : vector<2xi64>, strides = dense<2> : vector<2xi64>}
       ins(%x, %w : tensor<2x9x7x5xf32>, tensor<3x3x5x19xf32>) outs(%o : tensor<2x4x3x19xf32>) -> tensor<2x4x3x19xf32>
  return %r : tensor<2x4x3x19xf32>
}
"""


def test_conv2d_nhwc_linalg_matches_torch(rng, seed):
    """Linalg's NHWC/HWCF convolution: pixels are the matmul's rows, output channels its vector columns."""
    x = rng.standard_normal((2, 9, 7, 5)).astype(np.float32)
    w = rng.standard_normal((3, 3, 5, 19)).astype(np.float32)
    got = hexmlir.compile(NHWC, hexmlir.Options(multithread=False))(x, w)
    ref = torch.nn.functional.conv2d(torch.from_numpy(x).double().permute(0, 3, 1, 2),
                                     torch.from_numpy(w).double().permute(3, 2, 0, 1), stride=2).permute(0, 2, 3, 1)
    err = float(np.max(np.abs(got - ref.numpy())))
    assert got.shape == tuple(ref.shape) and err <= 1e-4 * max(1.0, float(ref.abs().max())), f"seed={seed} max err {err}"


NCHW = """
func.func @conv(%x: tensor<1x16x16x16xf32>, %w: tensor<32x16x3x3xf32>) -> tensor<1x32x14x14xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x32x14x14xf32>
  %o = linalg.fill ins(%z : f32) outs(%e : tensor<1x32x14x14xf32>) -> tensor<1x32x14x14xf32>
  %r = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
       ins(%x, %w : tensor<1x16x16x16xf32>, tensor<32x16x3x3xf32>) outs(%o : tensor<1x32x14x14xf32>) -> tensor<1x32x14x14xf32>
  return %r : tensor<1x32x14x14xf32>
}
"""


def test_conv2d_is_register_blocked(tmp_path):
    """The convolution reaches the contract stage as a matmul: its k loop carries an MR x NR-vector C tile
    and the assembly has FMAs on full-width vectors (before the conv-im2col stage it was a 6-loop generic
    vectorized along the 3-wide kernel row)."""
    import re
    from hexmlir.targets import cpu_isa_level, host_target, is_x86
    from hexmlir.transforms import contract
    if not is_x86() or cpu_isa_level() not in ("x86-64-v3", "x86-64-v4"):
        pytest.skip("needs an FMA x86-64 level")
    d = tmp_path / "dump"
    hexmlir.compile(NCHW, hexmlir.Options(dump_dir=str(d), multithread=False))
    ir = {p.name.split("-", 1)[1].rsplit(".", 1)[0]: p.read_text() for p in d.iterdir()}
    t = host_target()
    lanes = t.vector_lanes(4)
    mr, nr = contract.micro_kernel(t, 4, 32, 196)
    acc = ", ".join([f"vector<{lanes}xf32>"] * (mr * nr))      # MR x NR native-width accumulators
    assert re.search(rf"%\w+:{mr * nr} = scf\.for [^\n]*iter_args\([^)]*\) -> \({acc}\)", ir["vectorize"]), \
        ir["vectorize"]
    reg = "zmm" if t.vector_bytes == 64 else "ymm"
    assert len(re.findall(rf"vfmadd\w+ps\s+%{reg}", ir["target"])) >= mr * nr


LINEAR3D = """
#x = affine_map<(b, t, n, k) -> (b, t, k)>
#w = affine_map<(b, t, n, k) -> (k, n)>
#o = affine_map<(b, t, n, k) -> (b, t, n)>
func.func @lin(%x: tensor<2x5x24xf32>, %w: tensor<24x40xf32>) -> tensor<2x5x40xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x5x40xf32>
  %o = linalg.fill ins(%z : f32) outs(%e : tensor<2x5x40xf32>) -> tensor<2x5x40xf32>
  %r = linalg.generic {indexing_maps = [#x, #w, #o], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
    ins(%x, %w : tensor<2x5x24xf32>, tensor<24x40xf32>) outs(%o : tensor<2x5x40xf32>) {
    ^bb0(%a: f32, %b: f32, %c: f32):
      %m = arith.mulf %a, %b : f32
      %s = arith.addf %c, %m : f32
      linalg.yield %s : f32
  } -> tensor<2x5x40xf32>
  return %r : tensor<2x5x40xf32>
}
"""


BMM = """
func.func @bmm(%a: tensor<3x33x65xf32>, %b: tensor<3x65x17xf32>) -> tensor<3x33x17xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x33x17xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<3x33x17xf32>) -> tensor<3x33x17xf32>
  %r = linalg.batch_matmul ins(%a, %b : tensor<3x33x65xf32>, tensor<3x65x17xf32>)
                           outs(%f : tensor<3x33x17xf32>) -> tensor<3x33x17xf32>
  return %r : tensor<3x33x17xf32>
}
"""


@pytest.mark.parametrize("text", ["matmul", "bmm", "linear3d"])
def test_stage_leaves_other_contractions_alone(text):
    """Matmuls, batch matmuls and Linear-shaped products (rows over several dims) pass conv-im2col unchanged."""
    from hexmlir import opt
    from hexmlir.kernels import linalg_suite as S
    src = {"matmul": S.matmul(33, 17, 65).mlir, "bmm": BMM, "linear3d": LINEAR3D}[text]
    before = opt.run_stages(src, "check-input..asserts-prune")
    after = opt.run_stages(before, "conv-im2col")
    body = lambda t: t[t.index("func.func"):]  # noqa: E731
    assert body(after) == body(before)


@pytest.mark.parametrize("kind", ["conv1d", "conv_transpose2d"])
def test_other_convolutions_match_torch(kind):
    """Conv1d (one pixel dim) and ConvTranspose2d (a convolution over the dilated, padded input) through the
    same rewrite."""
    torch.manual_seed(current_seed())
    if kind == "conv1d":
        m, x = torch.nn.Conv1d(7, 20, 5, stride=2, padding=2).eval(), torch.randn(2, 7, 37)
    else:
        m, x = torch.nn.ConvTranspose2d(6, 18, 3, stride=2, padding=1).eval(), torch.randn(1, 6, 7, 5)
    seed = current_seed()
    c = hexmlir.compile_model(m, x, target="host", num_threads=1)
    assert c.compiled, c.eager_reason
    with torch.no_grad():
        got, ref = c(x), m(x)
    err = float((got - ref).abs().max())
    assert got.shape == ref.shape and err <= 1e-4 * max(1.0, float(ref.abs().max())), f"seed={seed} max err {err}"


F16 = NHWC.replace("f32", "f16")


def test_conv2d_f16_matches_torch(rng, seed):
    """f16 (f16 products and sums, as Linalg states them): within f16 rounding of the float64 result."""
    x = rng.standard_normal((2, 9, 7, 5)).astype(np.float16)
    w = rng.standard_normal((3, 3, 5, 19)).astype(np.float16)
    got = hexmlir.compile(F16, hexmlir.Options(multithread=False))(x, w).astype(np.float64)
    ref = torch.nn.functional.conv2d(torch.from_numpy(x).double().permute(0, 3, 1, 2),
                                     torch.from_numpy(w).double().permute(3, 2, 0, 1), stride=2).permute(0, 2, 3, 1)
    err = float(np.max(np.abs(got - ref.numpy())))
    assert err <= 5e-3 * max(1.0, float(ref.abs().max())), f"seed={seed} max err {err}"


@pytest.mark.parametrize("stride", [1, 2])
def test_conv2d_dilated_awkward_matches_torch(stride):
    """Batch 3, 5 channels, a 33x31 image, dilation 2: rows (27 or 14 wide) not a multiple of the vector width;
    the window copy is vectorized along its rows (vectorize._fold_unit_windows), at stride 2 through a
    step-2 subview (_strided_operand) read as a contiguous load + shuffle (_strided_reads)."""
    torch.manual_seed(current_seed())
    m = torch.nn.Conv2d(5, 7, 3, stride=stride, dilation=2, bias=True).eval()
    x = torch.randn(3, 5, 33, 31, generator=torch.Generator().manual_seed(current_seed() + 1))
    _check(m, x, num_threads=1)


def test_window_copy_is_vectorized(tmp_path):
    """conv-im2col's window copy (input map `(d0, d1 + d3, d2 + d4)`) leaves vectorize as vector transfers of
    input row segments, not a linalg.generic (scalar loops): its tiles' unit-extent loops are folded to 0 so
    the map is a projected permutation that upstream's vectorizer takes."""
    torch.manual_seed(current_seed())
    m = torch.nn.Conv2d(5, 7, 3, dilation=2).eval()
    x = torch.randn(3, 5, 33, 31)
    d = tmp_path / "dump"
    c = hexmlir.compile_model(m, x, target="host", num_threads=1, dump_dir=str(d))
    assert c.compiled, c.eager_reason
    ir = next(p.read_text() for p in d.iterdir() if p.name.endswith("-vectorize.mlir"))
    assert "linalg.generic" not in ir, ir
    assert "vector.transfer_read" in ir
