"""The route-B conv net's parts on the host (issue 15, conv17): a Linear with fewer outputs than a vector
(the classifier) read as dot products along k with its weight in place (contract.fold_transposes,
plan._dot_form). Results against PyTorch on fresh seeded inputs of odd sizes, at 1 and 3 threads; the IR."""
import copy
import re

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch_mlir")

import hexmlir  # noqa: E402
from conftest import current_seed  # noqa: E402


def _close(got, ref, what):
    err = float((got.double() - ref.double()).abs().max())
    assert got.shape == ref.shape and err <= 1e-4 * max(1.0, float(ref.abs().max())), \
        f"{what}: seed={current_seed()} max err {err}"


def _stage(d, name):
    return next(p.read_text() for p in sorted(d.iterdir()) if p.name.endswith(f"-{name}.mlir"))


@pytest.mark.parametrize("rows,k,outs", [(3, 1000, 7), (1, 561, 10), (5, 4099, 15), (17, 333, 1)])
@pytest.mark.parametrize("threads", [1, 3])
def test_few_output_linear_matches_torch(rows, k, outs, threads):
    torch.manual_seed(current_seed())
    m = torch.nn.Linear(k, outs).eval()
    x = torch.randn(rows, k, generator=torch.Generator().manual_seed(current_seed() + 1))
    c = hexmlir.compile_model(m, x, target="host", num_threads=threads, mt_threshold=1)
    assert c.compiled, c.eager_reason
    with torch.no_grad():
        _close(c(x), torch.nn.functional.linear(x.double(), m.weight.double(), m.bias.double()), "linear")


def test_few_output_linear_reads_weight_as_dots(tmp_path):
    """No per-call transposed copy of the weight is left (before: a [k, n] copy read along n, 10 of 16
    lanes, one accumulator chain over k); the contraction is vectorized along k with vector partial sums."""
    torch.manual_seed(current_seed())
    m = torch.nn.Linear(25 * 41, 10).eval()
    x = torch.randn(4, 25 * 41)
    d = tmp_path / "dump"
    c = hexmlir.compile_model(m, x, target="host", num_threads=1, dump_dir=str(d))
    assert c.compiled, c.eager_reason
    plan = _stage(d, "plan")
    assert "tensor<1025x10xf32>" not in plan, plan              # the weight's transpose
    assert "vector = array<i64: 1, 1, 16>" in plan or "vector = array<i64: 1, 1, 8>" in plan, plan
    assert "vector.reduction <add>" in _stage(d, "vectorize")


def test_convnet_classifier_matches_torch():
    """The conv net of the models bench at an odd size: conv3x3-ReLU-maxpool-Linear(.., 10)."""
    from hexmlir.kernels.torch_models import ConvNet
    torch.manual_seed(current_seed())
    m = ConvNet(hw=21, cin=5, cout=19).eval()
    x = torch.randn(3, 5, 21, 21, generator=torch.Generator().manual_seed(current_seed() + 1))
    with torch.no_grad():
        ref = copy.deepcopy(m).double()(x.double())
    for threads in (1, 3):
        c = hexmlir.compile_model(m, x, target="host", num_threads=threads, mt_threshold=1)
        assert c.compiled, c.eager_reason
        with torch.no_grad():
            _close(c(x), ref, f"convnet threads={threads}")


# (N, C, H, W, F, kernel, stride, padding, dilation)
STRIDED = {
    "s2_pad1_odd": (2, 5, 37, 35, 9, 3, 2, 1, 1),
    "s3_k5": (1, 3, 41, 50, 7, 5, 3, 2, 1),
    "s2_dil2": (1, 4, 33, 39, 6, 3, 2, 2, 2),
    "s4_k1": (1, 6, 29, 71, 5, 1, 4, 0, 1),
    "s2x1": (1, 3, 19, 67, 4, 3, (2, 1), 1, 1),
}


@pytest.mark.parametrize("name", list(STRIDED))
@pytest.mark.parametrize("threads", [1, 3])
def test_strided_conv_matches_torch(name, threads):
    _conv_matches_torch(STRIDED[name], name, threads)


def _conv_matches_torch(spec, name, threads):
    """A Conv2d of spec (n, c, h, w, f, k, stride, pad, dilation) through compile_model against torch in f64."""
    n, c, h, w, f, k, s, p, d = spec
    torch.manual_seed(current_seed())
    m = torch.nn.Conv2d(c, f, k, stride=s, padding=p, dilation=d).eval()
    x = torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(current_seed() + 1))
    cm = hexmlir.compile_model(m, x, target="host", num_threads=threads, mt_threshold=1)
    assert cm.compiled, cm.eager_reason
    with torch.no_grad():
        ref = torch.nn.functional.conv2d(x.double(), m.weight.double(), m.bias.double(), s, p, d)
        _close(cm(x), ref, name)


@pytest.mark.parametrize("pool", ["max2", "max3", "avg2"])
@pytest.mark.parametrize("threads", [1, 3])
def test_strided_pool_matches_torch(pool, threads):
    """Pooling windows read their input with stride 2 or 3 along the row (_strided_reads)."""
    m = {"max2": torch.nn.MaxPool2d(2), "max3": torch.nn.MaxPool2d(3), "avg2": torch.nn.AvgPool2d(2)}[pool]
    m = torch.nn.Sequential(torch.nn.ReLU(), m).eval()
    x = torch.randn(3, 7, 69, 101, generator=torch.Generator().manual_seed(current_seed()))
    cm = hexmlir.compile_model(m, x, target="host", num_threads=threads, mt_threshold=1)
    assert cm.compiled, cm.eager_reason
    with torch.no_grad():
        _close(cm(x), m(x.double()), pool)


def test_stride2_window_copy_is_vectorized(tmp_path):
    """A stride-2 convolution's window copy (map `d4 * 2` once its tile's unit loops are folded) leaves
    vectorize as vector code, its strided reads as contiguous masked loads + a shuffle of every other lane
    (before: the copy stayed a linalg.generic, a scalar loop)."""
    torch.manual_seed(current_seed())
    m = torch.nn.Conv2d(5, 7, 3, stride=2, padding=1).eval()
    x = torch.randn(2, 5, 45, 67)
    d = tmp_path / "dump"
    c = hexmlir.compile_model(m, x, target="host", num_threads=1, dump_dir=str(d))
    assert c.compiled, c.eager_reason
    ir = _stage(d, "vectorize")
    assert "linalg.generic" not in ir, ir
    assert "vector.maskedload" in ir and "vector.shuffle" in ir, ir
    assert not re.search(r"vector.transfer_read [^\n]*strided<\[[^\]]*, 2\]", ir), ir


def test_max_pool_reads_are_contiguous(tmp_path):
    """MaxPool2d(2)'s window slices (stride 2 along the row) are read as contiguous masked loads + a
    shuffle, not as one scalar load and insert per lane (before: transfer_reads of a stride-2 memref)."""
    m = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.MaxPool2d(2)).eval()
    x = torch.randn(2, 3, 38, 70)
    d = tmp_path / "dump"
    c = hexmlir.compile_model(m, x, target="host", num_threads=1, dump_dir=str(d))
    assert c.compiled, c.eager_reason
    ir = _stage(d, "vectorize")
    assert "vector.maskedload" in ir and "vector.shuffle" in ir, ir
    assert not re.search(r"vector.transfer_read [^\n]*strided<\[[^\]]*, 2\]", ir), ir


# (N, C, H, W, F, kernel, stride, padding, dilation): window copies larger than a cache tile (256 KiB), so
# conv-im2col blocks the output rows and the plan fuses each block's copy into the matmul's block tile
BLOCKED = {
    "k3_45rows": (3, 11, 47, 37, 13, 3, 1, 0, 1),          # 3 blocks of 15 rows per image, F = 8 + 5
    "s2_dil2_pad1": (2, 6, 90, 90, 9, 3, 2, 1, 2),         # 44 rows: 2 blocks of 22
    "k5_pad2_b1": (1, 7, 64, 61, 19, 5, 1, 2, 1),          # 64 rows of 61 pixels
    "convnet": (4, 16, 58, 58, 32, 3, 1, 0, 1),            # the models bench's layer: 7 blocks of 8 rows
}


@pytest.mark.parametrize("name", list(BLOCKED))
@pytest.mark.parametrize("threads", [1, 3])
def test_row_blocked_conv_matches_torch(name, threads):
    _conv_matches_torch(BLOCKED[name], name, threads)


def test_window_copy_is_made_per_row_block(tmp_path):
    """A window copy larger than a cache tile is not materialized whole (before: a 3x11x3x3x45x35 buffer
    written, then read back by the matmul): each block of 15 output rows gets its copy, in a buffer of
    one block, inside the matmul's block loop."""
    torch.manual_seed(current_seed())
    m = torch.nn.Conv2d(11, 13, 3).eval()
    x = torch.randn(3, 11, 47, 37)
    d = tmp_path / "dump"
    c = hexmlir.compile_model(m, x, target="host", num_threads=1, dump_dir=str(d))
    assert c.compiled, c.eager_reason
    ir = _stage(d, "vectorize")
    assert "3x11x3x3x45x35xf32" not in ir, ir
    assert "memref.alloc() {alignment = 64 : i64} : memref<1x1x11x3x3x15x35xf32>" in ir, ir
    plan = _stage(d, "plan")
    assert re.search(r"hexmlir.window_copy[^\n]*|fused_into", plan), plan


@pytest.mark.parametrize("off", ["fusion", "tcm_tiling", "multithread", "pack_b"])
def test_row_blocked_conv_options_off(off):
    """The row-blocked form with a mechanism off (fusion off: the copy is not fused, each stays whole)."""
    n, c, h, w, f, k, s, p, d = BLOCKED["k3_45rows"]
    torch.manual_seed(current_seed())
    m = torch.nn.Conv2d(c, f, k, stride=s, padding=p, dilation=d).eval()
    x = torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(current_seed() + 1))
    cm = hexmlir.compile_model(m, x, target="host", num_threads=2, mt_threshold=1, **{off: False})
    assert cm.compiled, cm.eager_reason
    with torch.no_grad():
        ref = torch.nn.functional.conv2d(x.double(), m.weight.double(), m.bias.double(), s, p, d)
        _close(cm(x), ref, off)


# The 64x64 ResNet-18's convolutions whose row blocks were fewer than 16 threads (before: 4, 8 and 4 tiles):
# the stem, 16->32 stride 2, 32->64 stride 2 (n, c, h, w, f, k, stride, pad)
RESNET_BLOCKED = {
    "stem": (2, 3, 64, 64, 16, 3, 1, 1),
    "16to32_s2": (2, 16, 64, 64, 32, 3, 2, 1),
    "32to64_s2": (2, 32, 32, 32, 64, 3, 2, 1),
}


@pytest.mark.parametrize("name", list(RESNET_BLOCKED))
def test_row_blocked_conv_tiles_cover_threads(name):
    """At 16 threads each row-blocked conv matmul gets >= 12 thread tiles: fewer rows per block
    (conv._block_rows) while a block keeps MIN_BLOCK_VECTORS vectors, else output-channel tiles too
    (plan.plan_conv_blocks); at 1 thread the blocks stay as large as the cache allows."""
    from hexmlir import driver
    from hexmlir.frontends.torch.importer import _import_linalg
    n, c, h, w, f, k, s, p = RESNET_BLOCKED[name]
    m = torch.nn.Conv2d(c, f, k, stride=s, padding=p, bias=False).eval()
    mlir = _import_linalg(m, (torch.randn(n, c, h, w),))
    for threads in (16, 1):
        text = driver.explain(mlir, hexmlir.Options(num_threads=threads))
        line = next(ln for ln in text.splitlines() if "row-block tiles" in ln)
        loops = [int(x) for x in re.search(r"\[([0-9x]+)r\]", line).group(1).split("x")]
        tile = [int(x) for x in re.search(r"tcm_tile=\[([0-9, ]+)\]", line).group(1).split(",")]
        tiles = 1
        for n_, t in zip(loops, tile):
            tiles *= -(-n_ // t) if t else 1
        got = int(re.search(r"threads=(\d+)", line).group(1))
        if threads == 16:
            assert tiles >= 12 and got >= 12, line
        else:
            assert got == 1 and tile[2] == 0, line


# odd sizes: 76 x 61 output pixels (stem-like, 3 input channels: 19 blocks of 4 rows per image at 16 threads); 35 -> 48
# stride 2 where the blocks stay few (2 blocks of 8 rows x 17 pixels): output-channel tiles of 8 at 16
# threads, of 24 at 3; 37 output channels (no even split into multiples of 8): row blocks only
MT_BLOCKED = {
    "stem_odd": (2, 3, 76, 61, 13, 3, 1, 1, 1),
    "s2_channel_split": (1, 35, 31, 33, 48, 3, 2, 1, 1),
    "s2_b2_odd": (2, 17, 64, 59, 37, 3, 2, 1, 1),
}


@pytest.mark.parametrize("name", list(MT_BLOCKED))
@pytest.mark.parametrize("threads", [3, 16])
def test_row_blocked_conv_many_threads_matches_torch(name, threads):
    _conv_matches_torch(MT_BLOCKED[name], name, threads)


@pytest.mark.parametrize("threads", [2, 3])
def test_uneven_channel_tiles_match_torch(threads, tmp_path, monkeypatch):
    """Output-channel thread tiles that do not divide the channels (67 as 23 + 23 + 21 at 3 threads, 34 + 33
    at 2), forced into plan.plan_conv_blocks (which picks even splits only): the partial tile's masked
    vectors, an n-D mask among them, lower to LLVM (before: vector.to_elements of a vector<1x64xi1> mask
    became llvm.extractelement on an !llvm.array, and compile_model fell back to eager)."""
    import warnings
    from hexmlir import plan
    from hexmlir.frontends.torch import FallbackWarning
    planned = plan.plan_conv_blocks
    tiles = []

    def ceil_channel_tiles(p, k, pl, target, options):
        planned(p, k, pl, target, options)
        m = p.loops[k]
        p.tcm_tile[k] = -(-m // plan.max_threads(target, options))
        p.threads = plan.choose_threads(p, pl, target, options)
        p.tile_bytes = plan._footprint(p, p.tcm_tile)
        tiles.append((m, p.tcm_tile[k], p.threads))

    monkeypatch.setattr(plan, "plan_conv_blocks", ceil_channel_tiles)
    monkeypatch.setenv("HEXMLIR_CACHE_DIR", str(tmp_path / "cache"))     # a cached kernel would skip the plan
    torch.manual_seed(current_seed())
    m = torch.nn.Conv2d(35, 67, 3, stride=2, padding=1).eval()
    x = torch.randn(1, 35, 31, 33, generator=torch.Generator().manual_seed(current_seed() + 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        cm = hexmlir.compile_model(m, x, target="host", num_threads=threads, mt_threshold=1)
    assert cm.compiled, cm.eager_reason
    assert tiles and all(mm % t and t % 8 and th == threads for mm, t, th in tiles), tiles
    with torch.no_grad():
        ref = torch.nn.functional.conv2d(x.double(), m.weight.double(), m.bias.double(), 2, 1)
        _close(cm(x), ref, f"uneven channel tiles threads={threads}")
