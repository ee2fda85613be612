"""conv-epilogue (issue 15, resnet26): a convolution's element-wise consumer (inference BatchNorm, ReLU, the
residual add) runs in the convolution's tiles, with the conv matmul (its window copy and zero fill) fused
into the consumer's tile loop through the reshapes between them. Results against PyTorch on fresh seeded
inputs of odd sizes (channels and pixels not multiples of the vector or the tiles), at 1, 2 and 3 threads,
with the stage on and off; the plan and the tile loops; the tile mapping through reshapes."""
import copy
import re

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch_mlir")

import hexmlir  # noqa: E402
from conftest import current_seed  # noqa: E402
from hexmlir.kernels.model_corpus import BasicBlock  # noqa: E402
from hexmlir.plan import _inverse, _reshaped_tile  # noqa: E402
from test_convnet_host import _close  # noqa: E402
from test_resnet_host import _randomize_bn  # noqa: E402


class _ConvBnRelu(torch.nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv = torch.nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn = torch.nn.BatchNorm2d(cout)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


def _model(kind, cin, cout, stride, g):
    m = (_ConvBnRelu if kind == "conv" else BasicBlock)(cin, cout, stride).eval()
    with torch.no_grad():
        _randomize_bn(m, g)
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return m


# (kind, cin, cout, stride, (h, w)): row blocks of 18 rows (conv-im2col's blocks: the window copy outgrows a
# cache tile), a whole-image matmul, a BasicBlock whose downsample is a second matmul read by the same epilogue
CASES = [("conv", 5, 13, 1, (36, 29)), ("conv", 7, 19, 2, (37, 23)), ("block", 5, 13, 2, (35, 19)),
         ("block", 11, 11, 1, (21, 17))]


def _spy(monkeypatch, tmp_path) -> list:
    """Whether plan.plan_epilogue fused, call by call (a fresh compile cache: a cached kernel skips the plan)."""
    from hexmlir import plan
    seen, planned = [], plan.plan_epilogue

    def spy(*a):
        left = planned(*a)
        seen.append(left is not None)
        return left
    monkeypatch.setattr(plan, "plan_epilogue", spy)
    monkeypatch.setenv("HEXMLIR_CACHE_DIR", str(tmp_path / "cache"))
    return seen


@pytest.mark.parametrize("kind,cin,cout,stride,hw", CASES)
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_epilogue_in_conv_tiles_matches_torch(kind, cin, cout, stride, hw, threads, monkeypatch, tmp_path):
    seen = _spy(monkeypatch, tmp_path)
    g = torch.Generator().manual_seed(current_seed())
    m = _model(kind, cin, cout, stride, g)
    x = torch.randn(2, cin, *hw, generator=g)
    with torch.no_grad():
        ref = copy.deepcopy(m).double()(x.double())
        for on in (True, False):
            c = hexmlir.compile_model(m, x, target="host", num_threads=threads, mt_threshold=1, conv_epilogue=on)
            assert c.compiled, c.eager_reason
            _close(c(x), ref, f"{kind}({cin}, {cout}, {stride}) on {hw}, {threads} threads, conv_epilogue={on}")
            if on and threads == 2:        # at 2 threads every case's conv matmuls take their epilogues
                assert seen and all(seen), seen
            if not on:
                assert not seen
            seen.clear()
        x2 = torch.randn(2, cin, *hw, generator=g)             # a second fresh input through the same kernel
        _close(c(x2), copy.deepcopy(m).double()(x2.double()), "second input")


@pytest.mark.parametrize("threads", [2, 3])
def test_uneven_channel_tiles_with_epilogue_match_torch(threads, monkeypatch, tmp_path):
    """Output-channel tiles that do not divide the channels (67 as 34 + 33, 23 + 23 + 21; forced as in
    test_convnet_host.test_uneven_channel_tiles_match_torch): the epilogue's partial channel tile and the
    matmul's are the same slice."""
    from hexmlir import plan
    seen = _spy(monkeypatch, tmp_path)
    planned = plan.plan_conv_blocks

    def ceil_channel_tiles(p, k, pl, target, options):
        planned(p, k, pl, target, options)
        p.tcm_tile[k] = -(-p.loops[k] // plan.max_threads(target, options))
        p.threads = plan.choose_threads(p, pl, target, options)
    monkeypatch.setattr(plan, "plan_conv_blocks", ceil_channel_tiles)
    g = torch.Generator().manual_seed(current_seed())
    m = _model("conv", 35, 67, 2, g)
    x = torch.randn(1, 35, 31, 33, generator=g)
    c = hexmlir.compile_model(m, x, target="host", num_threads=threads, mt_threshold=1)
    assert c.compiled, c.eager_reason
    assert seen == [True], seen
    with torch.no_grad():
        _close(c(x), copy.deepcopy(m).double()(x.double()), f"uneven channel tiles, {threads} threads")


def _linalg(m, x):
    from hexmlir.frontends.torch.backend import model_linalg
    return model_linalg(m, (x,))


def _fused(plan_ir: str) -> tuple[set, dict]:
    """(ids of the epilogue roots, conv matmul id -> the root its config names)."""
    epi, into = set(), {}
    for ln in plan_ir.splitlines():
        if "linalg.generic" not in ln or "hexmlir.id" not in ln:
            continue
        pid = int(re.search(r"hexmlir.id = (\d+)", ln).group(1))
        if "hexmlir.epilogue" in ln:
            epi.add(pid)
        if "hexmlir.conv_matmul" in ln:
            f = re.search(r"fused_into = (\d+)", ln)
            into[pid] = int(f.group(1)) if f else None
    return epi, into


@pytest.mark.parametrize("threads", [2, 16])
def test_plan_fuses_conv_matmuls_into_the_epilogue(threads):
    """A BasicBlock with a downsample: both convolutions' epilogues are marked, every conv matmul is fused
    into one (the second epilogue reads the 3x3 conv and the 1x1 downsample); each epilogue is one tile loop
    holding its matmuls, so there is one scf.forall per convolution epilogue, not one more per matmul."""
    from hexmlir import opt
    g = torch.Generator().manual_seed(current_seed())
    m = _model("block", 8, 16, 2, g)
    text = _linalg(m, torch.randn(2, 8, 64, 64))
    opts = {"num_threads": threads}
    planned = opt.run_stages(text, "check-input..plan", opts)
    epi, into = _fused(planned)
    assert len(epi) == 2 and len(into) == 3, (epi, into)
    assert all(r in epi for r in into.values()), into
    # BatchNorm's per-channel 1 / sqrt(var + eps) follows no row block: a root, computed once, not per tile
    per_channel = [ln for ln in planned.splitlines() if "linalg.generic" in ln and "math.sqrt" not in ln
                   and re.search(r"outs\(%[^ ]+ : tensor<16xf32>\)", ln)]
    assert per_channel and not any("fused_into" in ln for ln in per_channel), per_channel
    tiled = opt.run_stages(text, "check-input..tcm-tiling", opts)
    loops = tiled.split("scf.forall")[1:]
    with_mm = [lp for lp in loops if "reduction" in lp.split("scf.forall.in_parallel")[0]]
    assert len(with_mm) == 2, f"{len(with_mm)} tile loops hold a matmul"
    # the epilogue (its ReLU select) is in the same loop body as its matmuls
    assert all("arith.select" in lp.split("scf.forall.in_parallel")[0] for lp in with_mm)
    off = opt.run_stages(text, "check-input..plan", {**opts, "conv_epilogue": False})
    epi_off, into_off = _fused(off)
    assert not epi_off and all(v is None for v in into_off.values())


def test_conv_epilogue_off_without_fusion():
    """fusion=false: every op is a root, no epilogue is marked (the stage is off)."""
    from hexmlir import opt
    m = _model("conv", 5, 13, 1, torch.Generator().manual_seed(current_seed()))
    planned = opt.run_stages(_linalg(m, torch.randn(2, 5, 36, 29)), "check-input..plan",
                             {"num_threads": 2, "fusion": False})
    assert "hexmlir.epilogue" not in planned


def test_reshaped_tile():
    """Tiles mapped through reshapes: a box stays a box or there is no mapping."""
    # [n, f, blocks, 2048] -> expand [n, f, 2, 32, 64] -> collapse [n, f, 64, 64]: a block is 32 rows
    chain = [("expand", [[0], [1], [2], [3, 4]], [2, 16, 2, 2048], [2, 16, 2, 32, 64]),
             ("collapse", [[0], [1], [2, 3], [4]], [2, 16, 2, 32, 64], [2, 16, 64, 64])]
    assert _reshaped_tile([1, 0, 1, 0], chain) == [1, 0, 32, 0]
    assert _reshaped_tile([1, 8, 1, 0], chain) == [1, 8, 32, 0]
    assert _reshaped_tile([1, 5, 1, 0], chain) == [1, 5, 32, 0]            # an uneven channel tile maps
    # [n, f, p] -> [n, f, h, w]: whole rows map, a column tile across rows does not
    ex = [("expand", [[0], [1], [2, 3]], [2, 7, 187], [2, 7, 17, 11])]
    assert _reshaped_tile([1, 0, 0], ex) == [1, 0, 0, 0]
    assert _reshaped_tile([1, 0, 33], ex) == [1, 0, 3, 0]
    assert _reshaped_tile([1, 0, 48], ex) is None
    assert _reshaped_tile([1, 0, 5], ex) is None                           # part of a row
    # a partial channel tile under a unit dim (batch 1, unit dims folded): 67 as 34 + 33
    assert _reshaped_tile([34, 0], [("expand", [[0, 1], [2]], [67, 16], [1, 67, 16])]) == [0, 34, 0]
    assert _reshaped_tile([34, 0], [("expand", [[0, 1], [2]], [134, 16], [2, 67, 16])]) is None
    # inverse: rows back to pixels; a whole dim before a tiled one is no box
    assert _reshaped_tile([1, 0, 3, 0], _inverse(ex)) == [1, 0, 33]
    assert _reshaped_tile([0, 0, 3, 0], [("collapse", [[0, 1, 2], [3]], [2, 7, 17, 11], [238, 11])]) is None
    assert _reshaped_tile([1, 1, 0, 0], [("collapse", [[0, 1, 2], [3]], [2, 7, 17, 11], [238, 11])]) == [17, 0]


def test_accumulator_init_copy_stays_before_its_loop():
    """pad.fill_borders_in_region moves a copy of a filled buffer into the loop that writes the copy's
    target only where the loop writes none of it: RMSNorm + SwiGLU with fusion off copies a zero buffer into
    each matmul's accumulator, which the matmul's loop then reads and writes (moved to the end of the loop
    body, the copy overwrote the products with zeros)."""
    from hexmlir.kernels.torch_models import RMSNormSwiGLU
    torch.manual_seed(current_seed())
    m = RMSNormSwiGLU(256, 704).eval()              # fusion_counts' shape: the matmul tiles its columns
    x = torch.randn(4, 128, 256)
    with torch.no_grad():
        ref = copy.deepcopy(m).double()(x.double())
        c = hexmlir.compile_model(m, x, target="host", fusion=False)
        assert c.compiled, c.eager_reason
        _close(c(x), ref, "RMSNorm + SwiGLU, fusion off")
