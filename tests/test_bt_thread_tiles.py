"""Thread tiles of B^T contractions (nn.Linear on the host, route B's models): the plan charges the weight
panels each tile transposes (plan.packed_bt_operands, PACKED_BT_WEIGHT), and a thread tile with a partial
edge is versioned on its extent so every tile runs static micro-kernels (contract._version_partial_tiles).
Plans and IR checked; results against NumPy / PyTorch in float64 on shapes that are not multiples of the
tile or the vector width."""
import copy
import re
import warnings

import numpy as np
import pytest

import hexmlir
from hexmlir import opt
from conftest import current_seed
from test_contract_bt import BT as BT_TEMPLATE, F32_BODY

BT = BT_TEMPLATE.replace("{t}", "f32").replace("{body}", F32_BODY)     # test_contract_bt's B^T matmul, f32

V4 = {"isa": "x86-64-v4", "mt_threshold": 1}


def _tile(m, n, k, threads):
    text = opt.run_stages(BT.format(m=m, n=n, k=k), "check-input..plan", {"num_threads": threads, **V4})
    cfg = re.search(r"threads = (\d+) : i64, tile = array<i64: (\d+), (\d+), 0>", text)
    assert cfg, text
    used, tm, tn = (int(x) for x in cfg.groups())
    return used, tm or m, tn or n


@pytest.mark.parametrize("mnk", [(256, 256, 1024), (256, 1024, 256), (256, 256, 704)],
                         ids=lambda s: "x".join(map(str, s)))
def test_bt_tiles_transpose_each_weight_panel_at_most_twice(mnk):
    """The route-B MLP's and SwiGLU's projections at 16 threads: every thread busy, and the weight columns
    all tiles transpose add up to at most twice the weight (square 64 x 64 tiles of the 256 x 256 x 1024
    down projection transposed each panel in 4 row tiles: a 16-thread build ran 3-5% slower at 1 thread
    than a 2-thread one, and every thread transposed a quarter of the weight)."""
    m, n, k = mnk
    used, tm, tn = _tile(m, n, k, 16)
    tiles = -(-m // tm) * -(-n // tn)
    assert used == 16 and tiles >= 15, (used, tm, tn)
    assert tiles * tn <= 2 * n, f"{tiles} tiles of {tm} x {tn}: each weight panel transposed {tiles * tn / n}x"


def test_plain_matmul_tiles_unchanged_by_the_bt_charge():
    """B read [k, n] (not transposed) is read in place by the micro-kernel: no extra charge, square tiles."""
    from hexmlir import plan
    mm = BT.replace("affine_map<(i, j, k) -> (j, k)>", "affine_map<(i, j, k) -> (k, j)>") \
           .replace("%b: tensor<{n}x{k}xf32>", "%b: tensor<{k}x{n}xf32>") \
           .replace("tensor<{m}x{k}xf32>, tensor<{n}x{k}xf32>", "tensor<{m}x{k}xf32>, tensor<{k}x{n}xf32>")
    text = opt.run_stages(mm.format(m=256, n=256, k=1024), "check-input..plan", {"num_threads": 16, **V4})
    assert "tile = array<i64: 64, 64, 0>" in text, re.findall(r"tile = array<[^>]*>", text)
    assert plan.PACKED_BT_WEIGHT > 1


def _versions(text):
    """(cast types, masked reads, linalg ops left) per scf.if branch that contract's versioning made."""
    from hexmlir import ir as hir
    out = []
    with hir.context():
        module = hir.parse(text)
        for op in hir.ops_named(module.operation, "scf.if"):
            then = op.regions[0].blocks[0]
            casts = [o for o in then.operations if o.operation.name == "memref.reinterpret_cast"]
            if not casts:
                continue
            body = "\n".join(str(o) for o in then.operations)
            masked = len(re.findall(r"vector.transfer_read %\w+\[[^\]]*\], %\w+, %\w+", body))
            out.append(({str(c.operation.results[0].type) for c in casts}, masked, body.count("linalg.")))
    return out


def test_partial_thread_tile_runs_static_micro_kernels():
    """704 columns in 48-column thread tiles (15 threads): the last tile is 32 wide. It and the full tiles
    each get a static copy of the contraction (reinterpret_casts to 48 and 32 columns) with native
    micro-kernels and no zero fill; before, every tile ran the dynamic form, whose column edge went through
    upstream's masked vectorizer and whose C was zero-filled by a memset (5% at 1 thread, and the partial
    tile the slowest thread)."""
    text = opt.run_stages(BT.format(m=256, n=704, k=256), "check-input..contract", {"num_threads": 16, **V4})
    vs = _versions(text)
    widths = sorted(int(re.search(r"x(\d+)xf32", s).group(1)) for shapes, *_ in vs for s in shapes
                    if "256x" in s and "x256xf32" not in s)
    assert widths == [32, 48], vs
    for shapes, masked, linalg_ops in vs:
        assert masked == 0 and linalg_ops == 0, (shapes, masked, linalg_ops)


def _fills(text):
    """The memref types that zero-fill generics (one operand, no inputs) write."""
    return re.findall(r"linalg.generic \{indexing_maps = \[#map\d*\], iterator_types = \[[^\]]*\]\} "
                      r"outs\(%\w+ : (memref<[^>]*>)", text)


def test_unversioned_dynamic_tile_zero_fills_only_its_masked_micro_tiles(tmp_path, monkeypatch):
    """Versioning off (MAX_VERSIONS 1): the dynamic thread tile's micro-tiles that upstream vectorizes read
    C, so each gets its own zero fill (8 rows of its columns) and the whole tile's fill, a memset of
    256 x 48 per tile, still goes. Results checked against NumPy (fresh cache: the constant is patched)."""
    from hexmlir.transforms import contract
    monkeypatch.setattr(contract, "MAX_VERSIONS", 1)
    monkeypatch.setenv("HEXMLIR_CACHE_DIR", str(tmp_path / "cache"))
    m, n, k = 256, 704, 256
    text = opt.run_stages(BT.format(m=m, n=n, k=k), "check-input..contract", {"num_threads": 16, **V4})
    assert "scf.if" not in text
    fills = _fills(text)
    assert fills and all(re.match(r"memref<8x", f) for f in fills), fills
    seed = current_seed()
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1, 1, (m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (n, k)).astype(np.float32)
    got = hexmlir.compile(BT.format(m=m, n=n, k=k), hexmlir.Options(num_threads=16, mt_threshold=1))(a, b)
    err = float(np.max(np.abs(got - a.astype(np.float64) @ b.astype(np.float64).T)))
    assert err <= 1e-5 * k, f"seed={seed} max err {err}"


def test_extent_values():
    """The values a thread tile's affine.min extent takes, from tile index 0 while positive."""
    from hexmlir import ir as hir
    from hexmlir.transforms import contract
    src = """func.func @f(%i: index) -> (index, index, index) {
      %a = affine.min affine_map<(d0) -> (48, d0 * -48 + 704)>(%i)
      %b = affine.min affine_map<(d0) -> (17, d0 * -17 + 33)>(%i)
      %c = affine.min affine_map<(d0) -> (48, -d0 + 704)>(%i)
      return %a, %b, %c : index, index, index
    }"""
    with hir.context():
        module = hir.parse(src)
        a, b, c = [o.operation.results[0] for o in hir.ops_named(module.operation, "affine.min")]
        assert contract._extent_values(a) == [48, 32]
        assert contract._extent_values(b) == [17, 16]
        assert contract._extent_values(c) is None        # 48 distinct extents: not versioned


@pytest.mark.parametrize("mnk,threads", [((256, 704, 256), 16), ((33, 200, 65), 4), ((40, 100, 1000), 3),
                                         ((17, 333, 33), 16)],
                         ids=lambda s: "x".join(map(str, s)) if isinstance(s, tuple) else f"{s}t")
def test_bt_thread_tiles_match_numpy(mnk, threads):
    m, n, k = mnk
    seed = current_seed()
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1, 1, (m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (n, k)).astype(np.float32)
    got = hexmlir.compile(BT.format(m=m, n=n, k=k), hexmlir.Options(num_threads=threads, mt_threshold=1))(a, b)
    want = a.astype(np.float64) @ b.astype(np.float64).T
    err = float(np.max(np.abs(got - want)))
    assert err <= 1e-5 * k, f"seed={seed} {mnk} threads={threads} max err {err}"


torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name,kw,shape", [
    ("mlp", {"d": 200, "h": 333}, (33, 200)),
    ("rmsnorm_swiglu", {"d": 200, "h": 333}, (2, 33, 200)),
], ids=["mlp", "rmsnorm_swiglu"])
def test_route_b_models_at_16_threads_match_torch(name, kw, shape):
    """The route-B synthetic models built for 16 threads (as `hexmlir bench models` builds them), hidden
    sizes not multiples of the vector width, against float64 PyTorch on fresh random inputs."""
    from hexmlir.kernels.torch_models import MODELS
    seed = current_seed()
    torch.manual_seed(seed)
    model = MODELS[name].cls(**kw).eval()
    x = torch.randn(*shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # no fallback to eager
        f = hexmlir.compile_model(model, (x,), num_threads=16, mt_threshold=1)
    x2 = torch.randn(*shape)
    with torch.no_grad():
        got = f(x2)
        want = copy.deepcopy(model).double()(x2.double())
    err = float((got.double() - want).abs().max())
    assert err <= 1e-4 * float(want.abs().max()), f"seed={seed} {name} max err {err}"
