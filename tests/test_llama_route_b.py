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
    for _ in range(2):
        x2 = torch.randn(*x.shape)
        with torch.no_grad():
            got, want = c(x2), m(x2)
        err = float((got - want).abs().max())
        assert err <= 1e-4 * max(1.0, float(want.abs().max())), f"seed={seed} max err {err}"
