"""The frontend cache (frontends/torch/fastcache.py): a repeated compile skips torch.export and torch-mlir's
import, and nothing that changes the compiled graph (a baked-in constant, a shape, a dtype, an op, a Python
attribute or global steering the forward, an option, train/eval) hits a stale entry. Weights and buffers are
kernel arguments: changing their values keeps the key and the kernel reads the new values. Numbers are
compared with eager PyTorch on fresh seeded inputs (seed in the assert message)."""
import sys
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch_mlir")

import hexmlir  # noqa: E402
from hexmlir import cache  # noqa: E402
from hexmlir.frontends.torch import fastcache  # noqa: E402
from hexmlir.options import Options  # noqa: E402

backend = sys.modules["hexmlir.frontends.torch.backend"]
SEED = 20261203
SCALE = 0.5


def act(x):
    return torch.relu(x)


def other_act(x):
    return torch.sigmoid(x)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(17, 33)
        self.register_buffer("shift", torch.zeros(33))
        self.offset = torch.full((33,), 0.25)          # a plain tensor attribute: the trace bakes its values in
        self.use_tanh = False

    def forward(self, x):
        y = act(self.fc(x)) * SCALE + self.shift + self.offset
        return torch.tanh(y) if self.use_tanh else y


def _net(seed=SEED):
    torch.manual_seed(seed)
    return Net().eval()


def _key(model, x, **opts):
    names, weights, functional = backend._functional(model)
    return fastcache.model_key(model, functional, names, weights + [x], Options(**opts))


def _x(seed, shape=(3, 17), dtype=torch.float32):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)).to(dtype)


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HEXMLIR_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("HEXMLIR_FRONTEND_CACHE", raising=False)
    return tmp_path


# ---------------------------------------------------------------- the key (no compile)

def test_key_is_stable_and_ignores_weight_values():
    m, x = _net(), _x(SEED)
    k = _key(m, x)
    assert k is not None and k == _key(m, x)
    assert k == _key(m, _x(SEED + 1))                 # input values are kernel arguments
    with torch.no_grad():
        m.fc.weight.add_(1.0)
        m.shift.fill_(3.0)
    assert _key(m, x) == k                            # weight and buffer values are kernel arguments


def test_key_changes_with_what_the_trace_bakes_in(monkeypatch):
    m, x = _net(), _x(SEED)
    k = _key(m, x)
    seen = {k}

    def differs(key):
        assert key is not None and key not in seen
        seen.add(key)
    m.offset = torch.full((33,), 0.5)                 # baked constant: value
    differs(_key(m, x))
    m.offset = torch.full((33,), 0.25)
    assert _key(m, x) == k
    differs(_key(m, _x(SEED, (4, 17))))               # shape
    assert _key(m, _x(SEED, dtype=torch.float16)) is None   # fails eagerly (f16 input, f32 weights): no key
    differs(_key(_net().double(), _x(SEED, dtype=torch.float64)))   # dtypes
    differs(_key(m, x, vectorize=False))              # option
    differs(_key(m, x, num_threads=2))
    m.use_tanh = True                                 # Python attribute steering the forward
    differs(_key(m, x))
    m.use_tanh = False
    m.train()                                         # train/eval
    differs(_key(m, x))
    m.eval()
    assert _key(m, x) == k
    mod = sys.modules[__name__]
    monkeypatch.setattr(mod, "SCALE", 0.75)           # a global constant the forward reads
    differs(_key(m, x))
    monkeypatch.setattr(mod, "SCALE", 0.5)
    monkeypatch.setattr(mod, "act", other_act)        # an op swapped (another function called)
    differs(_key(m, x))
    monkeypatch.setattr(mod, "act", act)
    monkeypatch.setattr(mod, "act", lambda t: torch.relu(t) * 1.0)   # same name, other code
    differs(_key(m, x))
    monkeypatch.setattr(mod, "act", act)

    def forward(self, x):                             # the forward itself replaced
        return act(self.fc(x)) * SCALE + self.shift - self.offset
    monkeypatch.setattr(Net, "forward", forward)
    differs(_key(m, x))
    monkeypatch.undo()
    assert _key(m, x) == k


MASK = torch.ones(33)


class Masked(Net):
    def forward(self, x):
        return super().forward(x) * MASK


def test_key_follows_global_tensors_and_modules_outside_the_tree(monkeypatch):
    m, x = Masked().eval(), _x(SEED)
    k = _key(m, x)
    assert k is not None and k == _key(m, x)
    monkeypatch.setattr(sys.modules[__name__], "MASK", torch.zeros(33))   # a global tensor: baked in
    assert _key(m, x) not in (None, k)
    monkeypatch.undo()
    with torch.no_grad():
        MASK[3] = 2.0                                     # changed in place
    try:
        assert _key(m, x) not in (None, k)
    finally:
        with torch.no_grad():
            MASK[3] = 1.0
    assert _key(m, x) == k
    m.extra = [torch.nn.Linear(2, 2)]                     # parameters outside the tree would be constants
    assert _key(m, x) is None


def test_key_off_and_unkeyable(monkeypatch):
    m, x = _net(), _x(SEED)
    monkeypatch.setenv("HEXMLIR_FRONTEND_CACHE", "0")
    assert _key(m, x) is None
    monkeypatch.delenv("HEXMLIR_FRONTEND_CACHE")
    m.strange = object()                              # an attribute it cannot describe: no key, full compile
    assert _key(m, x) is None


def test_graph_key_follows_code_constants_and_inputs():
    g = torch.fx.Graph()
    a = g.placeholder("a")
    c = g.get_attr("c")
    g.output(g.call_function(torch.ops.aten.add.Tensor, (a, c)))
    root = torch.nn.Module()
    root.c = torch.ones(5)
    gm = torch.fx.GraphModule(root, g)
    x = torch.randn(5)
    k = fastcache.graph_key(gm, [x], Options())
    assert k is not None and k == fastcache.graph_key(gm, [torch.randn(5)], Options())
    assert fastcache.graph_key(gm, [torch.randn(6)], Options()) != k
    assert fastcache.graph_key(gm, [x], Options(fusion=False)) != k
    gm.c = torch.full((5,), 2.0)
    assert fastcache.graph_key(gm, [x], Options()) != k
    gm.c = torch.ones(5)
    assert fastcache.graph_key(gm, [x], Options()) == k
    next(n for n in gm.graph.nodes if n.op == "call_function").target = torch.ops.aten.mul.Tensor
    gm.recompile()
    assert fastcache.graph_key(gm, [x], Options()) != k


def test_damaged_entry_is_dropped(fresh_cache):
    fastcache.store("k" * 32, ("layout", "text", []))
    assert fastcache.lookup("k" * 32) == ("layout", "text", [])
    p = fresh_cache / "frontend" / ("k" * 32 + ".pkl")
    p.write_bytes(p.read_bytes()[:-3] + b"xyz")
    with pytest.warns(cache.CacheWarning, match="damaged frontend cache entry"):
        assert fastcache.lookup("k" * 32) is None
    assert not p.exists()


# ---------------------------------------------------------------- compiles

def _count_exports(monkeypatch):
    n = [0]
    orig = backend._export_model

    def counted(*a, **k):
        n[0] += 1
        return orig(*a, **k)
    monkeypatch.setattr(backend, "_export_model", counted)
    return n


def _check(cm, model, seed):
    x = _x(seed)
    with torch.no_grad():
        ref, got = model(x), cm(x)
    np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5, err_msg=f"seed {seed}")


def test_compile_model_cached_then_changed(fresh_cache, monkeypatch):
    exports = _count_exports(monkeypatch)
    m = _net()
    c1 = hexmlir.compile_model(m, _x(SEED))
    assert c1.compiled and exports[0] == 1
    _check(c1, m, SEED + 1)
    c2 = hexmlir.compile_model(m, _x(SEED))             # the frontend cache: no export, no import
    assert c2.compiled and exports[0] == 1
    _check(c2, m, SEED + 2)
    with torch.no_grad():                               # new weight values: same kernel, new numbers
        m.fc.weight.mul_(-2.0)
        m.shift.fill_(0.125)
    c3 = hexmlir.compile_model(m, _x(SEED))
    assert exports[0] == 1
    _check(c3, m, SEED + 3)
    _check(c1, m, SEED + 4)
    mod = sys.modules[__name__]
    monkeypatch.setattr(mod, "act", other_act)          # another op: a new trace, the right numbers
    c4 = hexmlir.compile_model(m, _x(SEED))
    assert c4.compiled and exports[0] == 2
    _check(c4, m, SEED + 5)
    m.offset = torch.full((33,), -1.5)                  # a baked-in constant's value
    c5 = hexmlir.compile_model(m, _x(SEED))
    assert exports[0] == 3
    _check(c5, m, SEED + 6)


@pytest.mark.slow
def test_compile_model_option_and_shape_changes_miss(fresh_cache, monkeypatch):
    exports = _count_exports(monkeypatch)
    m = _net()
    hexmlir.compile_model(m, _x(SEED))
    c = hexmlir.compile_model(m, _x(SEED), vectorize=False)
    assert exports[0] == 2 and c.graph.options.vectorize is False
    _check(c, m, SEED + 1)
    x = _x(SEED + 2, (7, 17))
    c = hexmlir.compile_model(m, x)
    assert exports[0] == 3
    with torch.no_grad():
        np.testing.assert_allclose(c(x).numpy(), m(x).numpy(), rtol=1e-5, atol=1e-5, err_msg=f"seed {SEED + 2}")


@pytest.mark.slow
def test_torch_compile_graph_cache(fresh_cache, monkeypatch):
    exports = _count_exports(monkeypatch)
    m = _net()
    for i in range(2):                                  # the second Dynamo compile finds the import cached
        torch._dynamo.reset()
        f = torch.compile(m, backend="hexmlir", dynamic=False)
        x = _x(SEED + i)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("error", hexmlir.frontends.torch.FallbackWarning)
            got = f(x)
            ref = m(x)
        np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5, err_msg=f"seed {SEED + i}")
        assert exports[0] == 1
    for i, change in enumerate((lambda: setattr(m, "offset", torch.full((33,), 2.0)),    # a graph input here
                                lambda: monkeypatch.setattr(sys.modules[__name__], "act", other_act))):
        change()
        torch._dynamo.reset()
        f = torch.compile(m, backend="hexmlir", dynamic=False)
        x = _x(SEED + 5 + i)
        with torch.no_grad():
            got, ref = f(x), m(x)
        np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5, err_msg=f"seed {SEED + 5 + i}")
    assert exports[0] == 2                              # the other op: a new graph, not the stored import


# ---------------------------------------------------------------- one codegen per host kernel

ADD = """
func.func @f(%a: tensor<1000xf32>, %b: tensor<1000xf32>) -> tensor<1000xf32> {
  %e = tensor.empty() : tensor<1000xf32>
  %r = linalg.add ins(%a, %b : tensor<1000xf32>, tensor<1000xf32>) outs(%e : tensor<1000xf32>) -> tensor<1000xf32>
  return %r : tensor<1000xf32>
}
"""


def test_host_build_generates_code_once(fresh_cache, monkeypatch):
    """The .o is assembled from the .s, not generated from the LLVM IR a second time (the cold compile's
    biggest cost); the kernel is right."""
    from hexmlir.targets import host
    cmds = []
    orig = host.run

    def run(cmd, stage, *a, **k):
        cmds.append(cmd)
        return orig(cmd, stage, *a, **k)
    monkeypatch.setattr(host, "run", run)
    k = hexmlir.compile(ADD)
    assert sum("ir" in c for c in cmds) == 1, cmds
    assert any("assembler" in c and c[-1].endswith("kernel.o") for c in cmds), cmds
    rng = np.random.default_rng(SEED)
    a, b = rng.standard_normal(1000, dtype=np.float32), rng.standard_normal(1000, dtype=np.float32)
    np.testing.assert_allclose(k(a, b), a + b, rtol=1e-6, err_msg=f"seed {SEED}")
