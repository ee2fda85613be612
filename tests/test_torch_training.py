"""Training through hexmlir: torch.compile(backend="hexmlir") compiles AOTAutograd's forward and backward graphs
with hexmlir; a few SGD steps must leave the same parameters and buffers as eager (1e-4 relative).
compile_model compiles inference only: its backward runs eagerly with a FallbackWarning, or raises (strict)."""
import copy
import importlib
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch_mlir")

import hexmlir  # noqa: E402
from hexmlir.frontends.torch import FallbackWarning, make_backend  # noqa: E402
B = importlib.import_module("hexmlir.frontends.torch.backend")   # the module (the package exports a function)


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l1, self.l2 = torch.nn.Linear(19, 23), torch.nn.Linear(23, 5)

    def forward(self, x):
        return self.l2(torch.nn.functional.gelu(self.l1(x)))


class LinBN(torch.nn.Module):
    """Linear -> BatchNorm1d (train mode) -> ReLU -> Linear."""
    def __init__(self):
        super().__init__()
        self.l1, self.bn, self.l2 = torch.nn.Linear(19, 11), torch.nn.BatchNorm1d(11), torch.nn.Linear(11, 5)

    def forward(self, x):
        return self.l2(torch.relu(self.bn(self.l1(x))))


class ConvBN(torch.nn.Module):
    """conv -> BatchNorm (train mode: running statistics updated) -> ReLU -> Linear."""
    def __init__(self):
        super().__init__()
        self.conv, self.bn = torch.nn.Conv2d(3, 5, 3), torch.nn.BatchNorm2d(5)
        self.fc = torch.nn.Linear(5 * 7 * 9, 4)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).flatten(1))


SHAPES = {MLP: (5, 19), LinBN: (5, 19), ConvBN: (2, 3, 9, 11)}
MODELS = [MLP, LinBN, ConvBN]


def _close(a, b, msg):
    a, b = a.detach().double().numpy(), b.detach().double().numpy()
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(b).max())), err_msg=msg)


def _train(model, fn, steps, seed):
    """`steps` SGD steps of fn (the compiled or eager model) on a squared loss; returns the outputs."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    outs = []
    for _ in range(steps):
        x = torch.randn(*SHAPES[type(model)], generator=g)
        y = fn(x)
        y.square().mean().backward()
        opt.step()
        opt.zero_grad()
        outs.append(y.detach())
    return outs


def _compare(m, ref, outs, ref_outs, seed):
    for i, (a, b) in enumerate(zip(outs, ref_outs)):
        _close(a, b, f"seed {seed}: output of step {i}")
    for (n, a), (_, b) in zip(m.state_dict().items(), ref.state_dict().items()):
        _close(a, b, f"seed {seed}: {n} after training")


def _count_compiles(monkeypatch):
    from hexmlir import driver
    texts = []
    real = driver.compile
    monkeypatch.setattr(driver, "compile", lambda text, *a, **k: texts.append(text) or real(text, *a, **k))
    return texts


@pytest.mark.parametrize("cls", [MLP, LinBN, pytest.param(ConvBN, marks=pytest.mark.slow)])   # ConvBN: ~15 s
def test_torch_compile_trains_like_eager(cls, monkeypatch):
    """strict: forward and backward graphs are both hexmlir kernels (no fallback anywhere)."""
    seed = 300 + MODELS.index(cls)
    torch.manual_seed(seed)
    m = cls().train()
    ref = copy.deepcopy(m)
    texts = _count_compiles(monkeypatch)
    torch._dynamo.reset()
    f = torch.compile(m, backend=make_backend(strict=True), dynamic=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        outs = _train(m, f, 3, seed)
    _compare(m, ref, outs, _train(ref, ref, 3, seed), seed)
    assert len(texts) == 2, f"expected one forward and one backward kernel, got {len(texts)}"


def test_backward_graph_that_fails_falls_back_alone(monkeypatch):
    """A backward graph hexmlir cannot compile runs eagerly with a FallbackWarning naming the op and the
    reason; the forward stays compiled and the gradients are still eager's."""
    seed = 310
    torch.manual_seed(seed)
    real = B._compile_whole

    def failing_backward(gm, example_inputs, options):
        if any(n.op == "placeholder" and n.name.startswith("tangents") for n in gm.graph.nodes):
            raise hexmlir.CompileError("injected failure", stage="test", op="test.backward_op")
        return real(gm, example_inputs, options)
    monkeypatch.setattr(B, "_compile_whole", failing_backward)
    m = MLP()
    ref = copy.deepcopy(m)
    torch._dynamo.reset()
    f = torch.compile(m, backend="hexmlir", dynamic=False)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        outs = _train(m, f, 2, seed)
    fb = [str(x.message) for x in w if issubclass(x.category, FallbackWarning)]
    assert len(fb) == 1 and "backward graph" in fb[0] and "test.backward_op" in fb[0] \
        and "injected failure" in fb[0] and "0 hexmlir partitions" in fb[0], fb
    _compare(m, ref, outs, _train(ref, ref, 2, seed), seed)
    torch._dynamo.reset()
    f = torch.compile(copy.deepcopy(ref), backend=make_backend(strict=True), dynamic=False)
    with pytest.raises(Exception, match="test.backward_op"):
        f(torch.randn(5, 19)).sum().backward()


def test_compile_model_backward_is_eager_and_announced():
    """compile_model's kernel is the forward only: gradients still reach the parameters (the backward runs
    eagerly, one FallbackWarning), and strict=True raises a typed error at backward instead."""
    seed = 320
    torch.manual_seed(seed)
    m = LinBN().train()
    ref = copy.deepcopy(m)
    c = hexmlir.compile_model(m, torch.randn(*SHAPES[LinBN]))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        outs = _train(m, c, 3, seed)
    fb = [str(x.message) for x in w if issubclass(x.category, FallbackWarning)]
    assert len(fb) == 1 and "backward of LinBN runs in eager PyTorch" in fb[0], fb
    _compare(m, ref, outs, _train(ref, ref, 3, seed), seed)
    c = hexmlir.compile_model(MLP(), torch.randn(5, 19), strict=True)
    y = c(torch.randn(5, 19))
    assert y.requires_grad                          # as eager: not silently detached
    with pytest.raises(hexmlir.UnsupportedError, match="torch.compile"):
        y.sum().backward()
