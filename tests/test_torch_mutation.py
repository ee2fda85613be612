"""In-place updates through both PyTorch entries (compile_model, torch.compile): buffers (a counter,
BatchNorm's running statistics in train mode), a graph input updated in place; outputs of any structure and
outputs that repeat or pass through. Each compares with an eager copy of the model on seeded random inputs."""
import copy
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch_mlir")

import hexmlir  # noqa: E402
from hexmlir.frontends.torch import FallbackWarning, make_backend  # noqa: E402


class Counter(torch.nn.Module):
    """`self.count += 1` on a registered buffer; the output depends on the updated count."""
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(19, 7)
        self.register_buffer("count", torch.zeros(()))
        self.register_buffer("calls", torch.zeros((), dtype=torch.int64))

    def forward(self, x):
        self.count += 1
        self.calls.add_(1)
        return torch.relu(self.lin(x)) * self.count


class BatchNormTrain(torch.nn.Module):
    """Train-mode BatchNorm updates running_mean, running_var and num_batches_tracked."""
    def __init__(self):
        super().__init__()
        self.lin, self.bn = torch.nn.Linear(19, 7), torch.nn.BatchNorm1d(7)

    def forward(self, x):
        return self.bn(self.lin(x)).relu()


class InplaceInput(torch.nn.Module):
    def forward(self, x):
        x.add_(1.5)
        return x * 2


MODELS = {"counter": Counter, "batchnorm_train": BatchNormTrain, "inplace_input": InplaceInput}


def _entry(entry, m, x):
    if entry == "compile_model":
        return hexmlir.compile_model(m, x.clone(), strict=True)
    torch._dynamo.reset()
    return torch.compile(m, backend=make_backend(strict=True), dynamic=False)


def _same(got, ref, msg):
    got, ref = got.detach().double().numpy(), ref.detach().double().numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(ref).max())), err_msg=msg)


@pytest.mark.parametrize("entry", ["compile_model", "torch.compile"])
@pytest.mark.parametrize("name", list(MODELS))
def test_mutations_land_as_in_eager(entry, name):
    seed = 1000 + list(MODELS).index(name)
    torch.manual_seed(seed)
    m = MODELS[name]().train()
    ref = copy.deepcopy(m)
    c = _entry(entry, m, torch.randn(5, 19))
    with torch.no_grad():
        for call in range(3):
            x = torch.randn(5, 19)
            x_ref = x.clone()
            msg = f"seed {seed}, call {call}"
            _same(c(x), ref(x_ref), msg)
            _same(x, x_ref, msg + ": input updated in place")
            for (n, a), (_, b) in zip(m.state_dict().items(), ref.state_dict().items()):
                assert a.dtype == b.dtype and a.shape == b.shape, n
                _same(a, b, f"{msg}: {n}")


def test_compile_model_follows_train_and_eval():
    """A graph traced in train mode is not the eval graph (BatchNorm): switching modes recompiles. Not strict:
    eval-mode batch_norm imports with a cf.assert, which may fall back (issue 12, item 9)."""
    seed = 7
    torch.manual_seed(seed)
    m = BatchNormTrain().train()
    ref = copy.deepcopy(m)
    c = hexmlir.compile_model(m, torch.randn(5, 19))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FallbackWarning)
        for mode in ("train", "eval", "train"):
            m.train(mode == "train")
            ref.train(mode == "train")
            x = torch.randn(5, 19)
            _same(c(x), ref(x), f"seed {seed}, {mode}")
            _same(m.bn.running_mean, ref.bn.running_mean, f"seed {seed}, {mode}: running_mean")


class Structured(torch.nn.Module):
    """A dict holding a tensor, a tuple (with the input passed through) and a list; a value returned twice
    (the detach folds away in torch-mlir: the imported function returns one value twice)."""
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(19, 7)

    def forward(self, x):
        y = self.lin(x)
        return {"y": y, "pair": (y.relu(), x), "list": [y.detach(), y * 2.0]}


def test_compile_model_returns_the_models_output_structure():
    seed = 11
    torch.manual_seed(seed)
    m = Structured()
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        c = hexmlir.compile_model(m, torch.randn(5, 19), strict=True)
    assert c.compiled
    x = torch.randn(5, 19)
    with torch.no_grad():
        got, ref = c(x), m(x)
    assert isinstance(got, dict) and isinstance(got["pair"], tuple) and isinstance(got["list"], list)
    assert got["pair"][1] is x                       # passed through, not copied by the kernel
    for a, b in zip(torch.utils._pytree.tree_leaves(got), torch.utils._pytree.tree_leaves(ref)):
        _same(a, b, f"seed {seed}")


def test_torch_compile_repeated_and_passed_through_outputs():
    seed = 12
    torch.manual_seed(seed)

    def f(t):
        y = t * 3.0
        return y, y, t, y.detach()
    torch._dynamo.reset()
    g = torch.compile(f, backend=make_backend(strict=True), dynamic=False)
    x = torch.randn(5, 19)
    for a, b in zip(g(x), f(x)):
        _same(a, b, f"seed {seed}")


class WrongShape(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(19, 7)

    def forward(self, x):
        return self.lin(x)


def test_compile_model_failures_are_typed_or_fallbacks():
    """Example inputs the model cannot take (torch raises RuntimeError while tracing): strict=True gives a typed
    hexmlir error; the default warns (naming the reason and the partitions that ran) and runs eagerly."""
    m = WrongShape()
    bad = torch.randn(5, 18)
    with pytest.raises(hexmlir.HexmlirError, match="torch.export failed"):
        hexmlir.compile_model(m, bad, strict=True)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        c = hexmlir.compile_model(m, bad)
    fb = [str(x.message) for x in w if issubclass(x.category, FallbackWarning)]
    assert len(fb) == 1 and "WrongShape runs in eager PyTorch" in fb[0] and "0 hexmlir partitions" in fb[0], fb
    x = torch.randn(5, 19)
    _same(c(x), m(x), "eager fallback")


class SortModel(torch.nn.Module):
    """torch.sort (tm_tensor.sort) is rejected by check-input, so compile_model partitions the model."""
    def forward(self, x):
        return torch.sort(x * 2.0, dim=1)[0].relu() + x


def test_compile_model_partitioning_errors_become_fallbacks(monkeypatch):
    """A torch error while partitioning (GPT-2 once raised `IndexError: index out of range in self` from its
    partitions) is a FallbackWarning naming it, and the model runs eagerly; it does not escape."""
    import importlib
    P = importlib.import_module("hexmlir.frontends.torch.partition")
    calls = []

    def broken(*a, **k):
        calls.append(1)
        raise IndexError("index out of range in self")
    monkeypatch.setattr(P, "partition_model", broken)
    m = SortModel()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        c = hexmlir.compile_model(m, torch.randn(3, 5))
    assert calls, "the whole-model compile did not fail, so the partitioner was not reached"
    fb = [str(x.message) for x in w if issubclass(x.category, FallbackWarning)]
    assert len(fb) == 1 and "IndexError: index out of range" in fb[0] and "SortModel runs in eager" in fb[0], fb
    assert not c.compiled and c.partitions == 0
    x = torch.randn(3, 5)
    _same(c(x), m(x), "eager fallback")


class CatCounter(torch.nn.Module):
    """torch.sort (tm_tensor.sort, rejected by check-input) splits the model into partitions; the counter and
    the running statistics are updated inside them."""
    def __init__(self):
        super().__init__()
        self.lin, self.bn = torch.nn.Linear(5, 7), torch.nn.BatchNorm1d(14)
        self.register_buffer("count", torch.zeros(()))

    def forward(self, x):
        self.count += 1
        y = self.lin(x)
        return self.bn(torch.cat([y, torch.sort(y, dim=1).values * 2.0], dim=1)) * self.count


def test_compile_model_partitioned_updates_buffers_as_eager():
    """Compiling has no side effects (the partitions compile on copies); each call updates the buffers as eager,
    whether an update runs in a hexmlir partition (copied back) or in an eager one."""
    seed = 21
    torch.manual_seed(seed)
    m = CatCounter().train()
    ref = copy.deepcopy(m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FallbackWarning)
        c = hexmlir.compile_model(m, torch.randn(3, 5))
    assert c.partitions > 0 and not c.compiled, (c.partitions, c.eager_ops)
    assert m.count.item() == 0 and m.bn.num_batches_tracked.item() == 0
    with torch.no_grad():
        for call in range(2):
            x = torch.randn(3, 5)
            _same(c(x), ref(x), f"seed {seed}, call {call}")
            for (n, a), (_, b) in zip(m.state_dict().items(), ref.state_dict().items()):
                _same(a, b, f"seed {seed}, call {call}: {n}")


def test_saved_model_json_says_where_updates_go(tmp_path):
    """A saved kernel returns the updated buffers as results; model.json maps them to their arguments."""
    import json
    m = Counter()
    c = hexmlir.compile_model(m, torch.randn(5, 19), strict=True)
    meta = json.loads((c.save(tmp_path / "counter") / "model.json").read_text())
    updated = sorted(meta["weights"][u["argument"]] for u in meta["updates"])
    assert updated == ["calls", "count"] and all("result" in u["from"] for u in meta["updates"]), meta
    assert len(meta["outputs"]) == 1 and "result" in meta["outputs"][0], meta
