"""The route-B conv net's parts on the host (issue 15, conv17): a Linear with fewer outputs than a vector
(the classifier) read as dot products along k with its weight in place (contract.fold_transposes,
plan._dot_form). Results against PyTorch on fresh seeded inputs of odd sizes, at 1 and 3 threads; the IR."""
import copy

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
