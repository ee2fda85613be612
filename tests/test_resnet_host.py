"""The route-B ResNet's parts on the host (issue 15, resnet16): inference BatchNorm's per-channel work
(1 / sqrt(var + eps) and torch-mlir's cf.assert on it) computed once per channel by hoist-invariants, so
the BatchNorm + ReLU (+ residual) ops vectorize. Results against PyTorch on fresh seeded inputs of odd
sizes (channels and pixels not multiples of the vector), at 1 and 3 threads; the IR; the check kept."""
import copy

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch_mlir")

import hexmlir  # noqa: E402
from conftest import current_seed  # noqa: E402
from hexmlir.errors import KernelAssertionError  # noqa: E402
from hexmlir.kernels.model_corpus import BasicBlock  # noqa: E402
from test_convnet_host import _close  # noqa: E402


def _randomize_bn(m, g):
    """Running statistics and affine parameters away from their init (eval BatchNorm reads them)."""
    for bn in (x for x in m.modules() if isinstance(x, torch.nn.BatchNorm2d)):
        n = bn.num_features
        bn.running_mean.copy_(torch.randn(n, generator=g))
        bn.running_var.copy_(torch.rand(n, generator=g) + 0.5)
        bn.weight.data.copy_(torch.randn(n, generator=g))
        bn.bias.data.copy_(torch.randn(n, generator=g))


class _BnRelu(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bn = torch.nn.BatchNorm2d(c)

    def forward(self, x):
        return torch.relu(self.bn(x))


@pytest.mark.parametrize("cin,cout,stride,hw", [(19, 19, 1, (33, 17)), (5, 21, 2, (35, 18)), (16, 16, 1, (8, 8))])
@pytest.mark.parametrize("threads", [1, 3])
def test_basic_block_matches_torch(cin, cout, stride, hw, threads):
    g = torch.Generator().manual_seed(current_seed())
    torch.manual_seed(current_seed())
    m = BasicBlock(cin, cout, stride).eval()
    with torch.no_grad():
        _randomize_bn(m, g)
    x = torch.randn(2, cin, *hw, generator=g)
    c = hexmlir.compile_model(m, x, target="host", num_threads=threads, mt_threshold=1)
    assert c.compiled, c.eager_reason
    with torch.no_grad():
        ref = copy.deepcopy(m).double()(x.double())
        _close(c(x), ref, f"BasicBlock({cin}, {cout}, {stride}) on {hw}")
        x2 = torch.randn(2, cin, *hw, generator=g)           # a second fresh input through the same kernel
        _close(c(x2), copy.deepcopy(m).double()(x2.double()), "second input")


def test_batchnorm_relu_vectorizes(tmp_path):
    """The element-wise BatchNorm + ReLU is vectorized (before: its cf.assert kept it scalar, a sqrt and a
    divide per element); the sqrt runs over the channels only, the assert with it."""
    from hexmlir.frontends.torch.backend import model_linalg
    from hexmlir import opt
    torch.manual_seed(current_seed())
    m = _BnRelu(19).eval()
    text = model_linalg(m, (torch.randn(2, 19, 33, 17),))
    ir = opt.run_stages(text, "check-input..vectorize", {"num_threads": 1})
    body = ir.split("func.func", 1)[1]
    assert "cf.assert" in body, "the check must survive"
    subs = [ln for ln in body.splitlines() if "arith.subf" in ln]
    assert any("vector<" in ln for ln in subs), f"BatchNorm's subtract not vectorized: {subs}"
    sqrts = [ln for ln in body.splitlines() if "math.sqrt" in ln]
    assert sqrts and not any("vector<" in ln for ln in sqrts)
    # the sqrt's loop runs over 19 channels, not over 2 x 19 x 33 x 17 elements
    stage = opt.run_stages(text, "check-input..hoist-invariants", {"num_threads": 1})
    gens = stage.split("linalg.generic")[1:]
    with_sqrt = [g_ for g_ in gens if "math.sqrt" in g_.split("linalg.yield")[0]]
    assert len(with_sqrt) == 1 and "tensor<19xf32>" in with_sqrt[0].split("{", 1)[1].split("^bb0")[0]


def test_batchnorm_check_still_raises():
    """running_var = -eps makes sqrt(var + eps) zero: torch-mlir's check raises, now from the per-channel
    generic (it was in the element-wise body)."""
    g = torch.Generator().manual_seed(current_seed())
    m = _BnRelu(7).eval()
    with torch.no_grad():
        _randomize_bn(m, g)
        m.bn.running_var[3] = -m.bn.eps
    x = torch.randn(2, 7, 9, 11, generator=g)
    c = hexmlir.compile_model(m, x, target="host", num_threads=1, strict=True)
    with torch.no_grad(), pytest.raises(KernelAssertionError, match="zero element"):
        c(x)


def _conv_bn_relu_conv(k=3, pad=1):
    return torch.nn.Sequential(torch.nn.Conv2d(5, 7, 3, padding=1, bias=False), torch.nn.BatchNorm2d(7),
                               torch.nn.ReLU(), torch.nn.Conv2d(7, 6, k, padding=pad, bias=False)).eval()


def test_padded_input_written_in_place():
    """BatchNorm + ReLU computes straight into the zero-padded buffer the next convolution reads (before:
    into a buffer of its own, then a serial memref.copy into the padded one in the kernel's main body),
    whose border alone is zero-filled. Only the kernel argument's pad is still copied."""
    from hexmlir.frontends.torch.backend import model_linalg
    from hexmlir import opt
    torch.manual_seed(current_seed())
    text = model_linalg(_conv_bn_relu_conv(), (torch.randn(2, 5, 19, 13),))
    ir = opt.run_stages(text, "check-input..bufferize", {"num_threads": 1})
    # copies into a padded buffer's interior (a strided view with an offset)
    copies = [ln.strip() for ln in ir.splitlines() if "memref.copy" in ln and "offset:" in ln.split(" to ")[-1]]
    assert len(copies) == 1 and copies[0].startswith("memref.copy %arg"), copies
    # the interior is all written by BatchNorm + ReLU: only the border of the second pad is zero-filled
    # (2 rows of 2x7x1x15, 2 columns of 2x7x19x1), not all of 2x7x21x15
    fills = [ln for ln in ir.splitlines() if "linalg.generic" in ln and "ins(" not in ln]
    assert sum("2x7x21x15xf32" in ln for ln in fills) == 0, fills
    assert sum("2x7x1x15xf32" in ln for ln in fills) == 2 and sum("2x7x19x1xf32" in ln for ln in fills) == 2


@pytest.mark.parametrize("k,pad", [(3, 1), (5, 2), (3, (0, 2))])
@pytest.mark.parametrize("threads", [1, 3])
def test_conv_bn_relu_conv_matches_torch(threads, k, pad):
    """Padded buffers written in place with only their border filled: 1 or 2 rows / columns, or one dim
    unpadded."""
    g = torch.Generator().manual_seed(current_seed())
    torch.manual_seed(current_seed())
    m = _conv_bn_relu_conv(k, pad)
    with torch.no_grad():
        _randomize_bn(m, g)
    x = torch.randn(2, 5, 19, 13, generator=g)
    c = hexmlir.compile_model(m, x, target="host", num_threads=threads, mt_threshold=1)
    assert c.compiled, c.eager_reason
    with torch.no_grad():
        _close(c(x), copy.deepcopy(m).double()(x.double()), "conv-bn-relu-conv")


@pytest.mark.slow
def test_resnet18_bench_one_serial_copy_and_matches_eager():
    """The bench's ResNet-18 (width 16, 2x3x64x64): only the input image's pad is still a memref.copy in
    the kernel's serial main body (before: all 17 pads; the 8 block outputs that are also shortcuts now
    store twice, once into the padded buffer)."""
    import re
    from hexmlir import opt
    from hexmlir.frontends.torch.backend import model_linalg
    from hexmlir.kernels.torch_models import ALL_MODELS
    m, xs = ALL_MODELS["resnet18"].example("bench", current_seed())
    m.eval()
    ir = opt.run_stages(model_linalg(m, xs), "check-input..threads", {"num_threads": 16})
    main = next(f for f in re.split(r"\n  func\.func ", ir) if f.startswith("@hxk_main("))
    assert main.count("memref.copy") == 1 and "memref.copy %arg" in main
    c = hexmlir.compile_model(m, xs, target="host", num_threads=16)
    assert c.compiled, c.eager_reason
    with torch.no_grad():
        _close(c(*xs), copy.deepcopy(m).double()(*[x.double() for x in xs]), "resnet18")


class _PadChain(torch.nn.Module):
    """Three ReLU -> pad -> 3x3 conv steps whose padded tensors all have one shape (one shared buffer
    after bufferization); the middle pad's value is `mid`."""

    def __init__(self, c, mid):
        super().__init__()
        self.convs = torch.nn.ModuleList(torch.nn.Conv2d(c, c, 3, bias=False) for _ in range(3))
        self.mid = mid

    def forward(self, x):
        for i, conv in enumerate(self.convs):
            x = conv(torch.nn.functional.pad(torch.relu(x), (1, 1, 1, 1), value=self.mid if i == 1 else 0.0))
        return x


def _border_fills(ir, shape):
    return sum(1 for ln in ir.splitlines() if "linalg.generic" in ln and "ins(" not in ln and shape in ln)


def test_shared_padded_buffer_border_filled_once():
    """The three pads share one buffer; its border is zero-filled by the first pad only (before: by every
    pad, a serial pass in the main body each). A pad with another value keeps its fill, and so does the
    zero pad after it (the border holds that other value by then)."""
    from hexmlir.frontends.torch.backend import model_linalg
    from hexmlir import opt
    x = torch.randn(2, 5, 19, 13)
    counts = {}
    for mid in (0.0, 1.5):
        ir = opt.run_stages(model_linalg(_PadChain(5, mid).eval(), (x,)), "check-input..bufferize",
                            {"num_threads": 1})
        assert "memref.alloc() {alignment = 64 : i64} : memref<2x5x21x15xf32>" in ir
        counts[mid] = _border_fills(ir, "2x5x1x15xf32"), _border_fills(ir, "2x5x19x1xf32")
    assert counts[0.0] == (2, 2), counts            # top and bottom rows, left and right columns: once
    assert counts[1.5] == (6, 6), counts            # 0, then 1.5, then 0 again


@pytest.mark.parametrize("mid", [0.0, -0.75])
@pytest.mark.parametrize("threads", [1, 3])
def test_shared_padded_buffer_matches_torch(threads, mid):
    g = torch.Generator().manual_seed(current_seed())
    torch.manual_seed(current_seed())
    m = _PadChain(5, mid).eval()
    x = torch.randn(2, 5, 19, 13, generator=g)
    c = hexmlir.compile_model(m, x, target="host", num_threads=threads, mt_threshold=1)
    assert c.compiled, c.eager_reason
    with torch.no_grad():
        _close(c(x), copy.deepcopy(m).double()(x.double()), "pad chain")


def _conv_bn_relu_conv_wide(c):
    return torch.nn.Sequential(torch.nn.Conv2d(3, c, 3, padding=1, bias=False), torch.nn.BatchNorm2d(c),
                               torch.nn.ReLU(), torch.nn.Conv2d(c, 6, 3, padding=1, bias=False)).eval()


def test_border_filled_in_interior_region():
    """The padded buffer's border fills run inside the parallel loop that writes its interior, each
    iteration the border of its own channel tile (before: serial passes in the main body between two
    parallel regions)."""
    from hexmlir.frontends.torch.backend import model_linalg
    from hexmlir import opt
    ir = opt.run_stages(model_linalg(_conv_bn_relu_conv_wide(24), (torch.randn(2, 3, 37, 29),)),
                        "check-input..bufferize", {"num_threads": 3, "mt_threshold": 1})
    fills = [ln for ln in ir.splitlines() if "linalg.generic" in ln and "ins(" not in ln]
    top = [ln for ln in fills if ln.startswith("    linalg.generic") and "strided<[29016, 1209," in ln]
    inner = [ln for ln in fills if ln.startswith("      linalg.generic") and "xf32, strided<[29016, 1209," in ln]
    assert not top, top                                          # 2x24x39x31 buffer: nothing filled serially
    assert sum("2x3x1x31xf32" in ln for ln in inner) == 2 and sum("2x3x37x1xf32" in ln for ln in inner) == 2


@pytest.mark.parametrize("c,h,w", [(16, 45, 39), (24, 37, 29), (32, 23, 21), (13, 45, 39)])
@pytest.mark.parametrize("threads", [1, 3])
def test_border_filled_in_interior_region_matches_torch(threads, c, h, w):
    """Channel tiles of 2, 3 and 8 (the fills moved into the loop), and 13 channels (a tail tile: left)."""
    g = torch.Generator().manual_seed(current_seed())
    torch.manual_seed(current_seed())
    m = _conv_bn_relu_conv_wide(c)
    with torch.no_grad():
        _randomize_bn(m, g)
    x = torch.randn(2, 3, h, w, generator=g)
    c = hexmlir.compile_model(m, x, target="host", num_threads=threads, mt_threshold=1)
    assert c.compiled, c.eager_reason
    with torch.no_grad():
        _close(c(x), copy.deepcopy(m).double()(x.double()), "conv-bn-relu-conv")


class _PadArg(torch.nn.Module):
    def forward(self, x):
        return torch.nn.functional.pad(x, (2, 1, 0, 3), value=-0.5) * 3.0


def test_kernel_argument_pad_fills_border_only():
    """A kernel argument's pad is copied into a buffer whose border alone is filled (before: the whole
    buffer, then the copy over its interior). Dim 2 is padded above only, dim 3 on both sides."""
    from hexmlir.frontends.torch.backend import model_linalg
    from hexmlir import opt
    x = torch.randn(3, 5, 11, 7, generator=torch.Generator().manual_seed(current_seed()))
    ir = opt.run_stages(model_linalg(_PadArg(), (x,)), "check-input..bufferize", {"num_threads": 1})
    fills = [ln for ln in ir.splitlines() if "linalg.generic" in ln and "ins(" not in ln]
    assert not any("outs(%alloc" in ln and "3x5x14x10xf32" in ln for ln in fills), fills
    assert sum("3x5x3x10xf32" in ln for ln in fills) == 1 and sum("3x5x11x2xf32" in ln for ln in fills) == 1
    c = hexmlir.compile_model(_PadArg(), x, target="host", num_threads=1)
    assert c.compiled, c.eager_reason
    _close(c(x), _PadArg()(x.double()), "pad of the argument")
