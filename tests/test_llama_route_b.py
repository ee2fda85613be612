"""Route B on LLaMA-style blocks (issue 15): what the model's structure costs beyond its matmuls. Structure of
the planned IR plus numerics against eager PyTorch on fresh seeded inputs."""
import re
import warnings

import pytest

torch = pytest.importorskip("torch")

import hexmlir
from conftest import current_seed


class HeadProjections(torch.nn.Module):
    """LLaMA's attention inputs: q/k/v Linears (no bias, GQA: fewer k/v heads) viewed as heads, then
    attention over the k/v heads repeated (repeat_kv) and the output projection."""

    def __init__(self, d=40, heads=4, kv_heads=2, head_dim=24):
        super().__init__()
        self.h, self.kvh, self.hd = heads, kv_heads, head_dim
        self.q = torch.nn.Linear(d, heads * head_dim, bias=False)
        self.k = torch.nn.Linear(d, kv_heads * head_dim, bias=False)
        self.v = torch.nn.Linear(d, kv_heads * head_dim, bias=False)
        self.o = torch.nn.Linear(heads * head_dim, d, bias=False)

    def forward(self, x):
        B, T, _ = x.shape
        q = self.q(x).view(B, T, self.h, self.hd).transpose(1, 2)
        k = self.k(x).view(B, T, self.kvh, self.hd).transpose(1, 2)
        v = self.v(x).view(B, T, self.kvh, self.hd).transpose(1, 2)
        rep = self.h // self.kvh
        k = k[:, :, None].expand(B, self.kvh, rep, T, self.hd).reshape(B, self.h, T, self.hd)
        v = v[:, :, None].expand(B, self.kvh, rep, T, self.hd).reshape(B, self.h, T, self.hd)
        a = torch.softmax(q @ k.transpose(-2, -1) * self.hd ** -0.5, dim=-1) @ v
        return self.o(a.transpose(1, 2).reshape(B, T, -1))


def _weight_transposes(text: str) -> list[str]:
    """Generics copying a function argument with its two dims swapped (a per-call transposed weight)."""
    maps = dict(re.findall(r"^(#map\d*) = affine_map<(.*)>$", text, re.M))
    out = []
    for m in re.finditer(r"linalg\.generic \{indexing_maps = \[(#map\d*), #map\d*\][^\n]*ins\((%arg\d+) :", text):
        if maps.get(m.group(1)) == "(d0, d1) -> (d1, d0)":
            out.append(m.group(2))
    return out


def _reshaped_fills(text: str) -> list[str]:
    """Reshapes of a fill (a generic without inputs): the fill stays a root of its own, outside the tiles."""
    fills = set(re.findall(r"^\s*(%\w+) = linalg\.generic \{[^\n]*\} outs\(", text, re.M))
    return [m.group(0) for m in re.finditer(r"tensor\.(?:expand|collapse)_shape (%\w+)", text)
            if m.group(1) in fills]


@pytest.mark.parametrize("threads", [1, 3])
def test_head_projections_read_weights_in_place(tmp_path, threads):
    """q/k/v projections viewed as heads: fusion folds the view into the matmul (the weight's transpose read
    through an expand_shape), which fold-transposes could not match; conv-im2col makes it a plain matmul
    after fold-transposes had run, so each call copied every q/k/v weight transposed, fused into the matmul's
    tiles, and the rows were kept whole for it: LLaMA's k/v projections (128 columns) got 8-column thread
    tiles, narrower than a vector, which the contract stage does not register-block (6x slower per MAC)."""
    seed = current_seed()
    torch.manual_seed(seed)
    m = HeadProjections().eval()
    x = torch.randn(2, 13, 40)
    d = tmp_path / "dump"
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # no fallback to eager
        c = hexmlir.compile_model(m, (x,), num_threads=threads, dump_dir=str(d))
    ir = {p.name.split("-", 1)[1].rsplit(".", 1)[0]: p.read_text() for p in d.iterdir()}
    assert _weight_transposes(ir["plan"]) == [], _weight_transposes(ir["plan"])
    # conv-im2col's matmul read its zero init through a collapse_shape: a whole-size fill per call, and a copy
    # of its slice of the zeros in every matmul tile
    assert _reshaped_fills(ir["plan"]) == [], _reshaped_fills(ir["plan"])
    _matches_eager(c, m, x.shape, seed)


class ComputedWeightLinear(torch.nn.Module):
    """x @ (w * s)^T: the weight's transpose is computed in the graph (not an argument fold-transposes reads
    in place), fused into the matmul's tiles, so the rows stay whole and only the columns are split."""

    def __init__(self, n=120, k=96):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(n, k))
        self.s = torch.nn.Parameter(torch.randn(n, k))

    def forward(self, x):
        return x @ (self.w * self.s).t()


def _matches_eager(c, m, shape, seed) -> None:
    """The compiled model against eager on two fresh inputs (the global generator: seeded by the test)."""
    for _ in range(2):
        x2 = torch.randn(*shape)
        with torch.no_grad():
            got, want = c(x2), m(x2)
        err = float((got - want).abs().max())
        assert err <= 1e-4 * max(1.0, float(want.abs().max())), f"seed={seed} max err {err}"


def test_column_thread_tiles_at_least_a_vector(tmp_path):
    """With the rows kept whole, 120 columns on 16 threads were split into 8-column tiles (the cost model
    counts a partial vector whole: equal iterations, fewer bytes), narrower than the 16-lane vector the
    contract stage needs to register-block: the matmul fell back to plain vectorization (256x128x256 at
    1 thread: 0.97 ms against 0.21 ms with 16-column tiles)."""
    seed = current_seed()
    torch.manual_seed(seed)
    m = ComputedWeightLinear().eval()
    x = torch.randn(70, 96)
    d = tmp_path / "dump"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = hexmlir.compile_model(m, (x,), num_threads=16, dump_dir=str(d))
    ir = {p.name.split("-", 1)[1].rsplit(".", 1)[0]: p.read_text() for p in d.iterdir()}
    tiles = [[int(v) for v in t.split(", ")] for t in re.findall(
        r"iterator_types = \[\"parallel\", \"parallel\", \"reduction\"\][^\n]*tile = array<i64: ([\d, ]+)>", ir["plan"])]
    assert tiles and all(t[1] == 0 or t[1] >= 16 for t in tiles), tiles
    assert "register-blocked contraction" in ir["plan"]
    _matches_eager(c, m, x.shape, seed)
