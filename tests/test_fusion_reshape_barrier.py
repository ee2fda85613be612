"""The fusion stage keeps reshapes out of contractions (transforms/fusion.py): a flatten before an nn.Linear
(the conv net's classifier) or a head merge before the attention out-projection (the GPT-2 block) must not
split the matmul's reduction loop, or the weight's transpose becomes a transpose of the expanded weight that
fold-transposes cannot fold, and is copied at every call."""
import re
import warnings

import pytest

import hexmlir
from hexmlir.targets import host_target
from conftest import current_seed

torch = pytest.importorskip("torch")

N_OUT = 40


class FlattenLinear(torch.nn.Module):
    def __init__(self, c=3, h=7, w=9):
        super().__init__()
        self.fc = torch.nn.Linear(c * h * w, N_OUT)

    def forward(self, x):
        return self.fc(torch.relu(x).flatten(1))


class HeadMergeLinear(torch.nn.Module):
    """(B, H, T, D) -> (B, T, H*D) -> Linear, as attention's output projection."""
    def __init__(self, heads=3, d=11):
        super().__init__()
        self.proj = torch.nn.Linear(heads * d, N_OUT)

    def forward(self, a):
        b, h, t, d = a.shape
        return self.proj((a * 2).transpose(1, 2).reshape(b, t, h * d))


CASES = {"flatten": (FlattenLinear, (5, 3, 7, 9)), "head_merge": (HeadMergeLinear, (2, 3, 13, 11))}


@pytest.mark.parametrize("case", list(CASES))
def test_linear_after_reshape_reads_weight_in_place(case, tmp_path):
    if not host_target().fma:
        pytest.skip("no FMA on this host: no fold-transposes stage")
    seed = current_seed()
    torch.manual_seed(seed)
    cls, shape = CASES[case]
    m = cls().eval()
    x = torch.randn(*shape)
    d = tmp_path / "dump"
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # no fallback to eager
        f = hexmlir.compile_model(m, (x,), multithread=False, dump_dir=str(d))
        with torch.no_grad():
            got = f(x)
    ir = next(d.glob("*-fold-transposes.mlir")).read_text()
    out_type = "x".join(map(str, got.shape))
    # the weight is N_OUT x K; its transpose (K x N_OUT, or K expanded) would be a tensor ending in N_OUT
    bad = [t for t in set(re.findall(rf"tensor<([0-9x]+)x{N_OUT}xf32>", ir)) if t + f"x{N_OUT}" != out_type]
    assert not bad, f"seed={seed}: weight transpose still copied ({bad})\n{ir}"
    # one reduction loop: K was not split by a reshape carried into the matmul
    red = [ln for ln in ir.splitlines() if "reduction" in ln and "linalg.generic" in ln]
    assert len(red) == 1 and red[0].count("reduction") == 1, f"seed={seed}\n{ir}"
    with torch.no_grad():
        want = m.double()(x.double())
    err = float((got.double() - want).abs().max())
    assert err <= 1e-5 * x[0].numel(), f"seed={seed} max err {err}"
