"""Inductor with cpu_backend="triton": torch.compile on CPU tensors writes Triton kernels, which hexmlir's
Triton backend compiles (docs/triton.md). Small functions with cumsum (tt.scan), dropout (Philox tl.rand),
indexing, embedding and cross-entropy, forward and backward, against eager on fresh seeded inputs with odd
sizes; dropout is checked for its statistics and determinism, not its values. Inductor compiles take tens of
seconds on the dev box: the slow tier."""
import math
import os

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("triton")
F = torch.nn.functional

pytestmark = pytest.mark.slow


def _seed():
    return int.from_bytes(os.urandom(4), "little")


@pytest.fixture(scope="module", autouse=True)
def _inductor_triton(tmp_path_factory):
    import torch._inductor.config as cfg
    mp = pytest.MonkeyPatch()
    mp.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path_factory.mktemp("inductor")))
    mp.setattr(cfg, "cpu_backend", "triton")
    yield
    mp.undo()
    torch._dynamo.reset()


def _compiled(fn, *args):
    """fn compiled by Inductor, run (forward and, inside fn, backward) on args; returns (result, code)."""
    from torch._inductor.utils import run_and_get_code
    torch._dynamo.reset()
    out, code = run_and_get_code(torch.compile(fn), *args)
    code = "\n".join(code)
    assert "@triton.jit" in code, "Inductor did not write Triton kernels (is cpu_backend='triton' active?)"
    return out, code


def _grad_case(fn, inputs, grad_idx):
    """fn(*inputs) and its gradients w.r.t. inputs[grad_idx], for a fixed random upstream gradient."""
    def run(*args):
        leaves = [a.detach().clone().requires_grad_(i in grad_idx) for i, a in enumerate(args)]
        y = fn(*leaves)
        up = torch.linspace(-1.0, 2.0, y.numel()).reshape(y.shape)
        y.backward(up)
        return [y.detach()] + [leaves[i].grad for i in grad_idx]
    return run


# name -> (make(g) -> inputs, fn, indices of inputs that get gradients, a construct the kernels must use:
# tl.cumsum lowers to tt.scan; the backward of indexing and embedding scatters with tl.atomic_add; every
# indirect load carries Inductor's tl.device_assert bounds check)
CASES = {
    "cumsum": (lambda g: (torch.randn(7, 333, generator=g),), lambda x: torch.cumsum(x, 1), (0,),
               "scan"),
    "cumsum_dim0_f64": (lambda g: (torch.randn(37, 17, generator=g, dtype=torch.float64),),
                        lambda x: torch.cumsum(x, 0) * 2, (0,), "scan"),
    "indexing": (lambda g: (torch.randn(7, 333, generator=g), torch.randint(0, 7, (11,), generator=g)),
                 lambda x, i: x[i] * 2 + x[:, i[:5]].sum(), (0,), "tl.atomic_add"),
    "embedding": (lambda g: (torch.randn(97, 33, generator=g), torch.randint(0, 97, (5, 7), generator=g)),
                  lambda w, i: F.embedding(i, w) * 3, (0,), "tl.atomic_add"),
    "cross_entropy": (lambda g: (torch.randn(19, 1003, generator=g), torch.randint(0, 1003, (19,), generator=g)),
                      lambda x, t: F.cross_entropy(x, t), (0,), "triton_helpers.max2"),
    "cross_entropy_ignore_index": (lambda g: (torch.randn(13, 517, generator=g),
                                              torch.tensor([-100] + list(range(1, 13)))),
                                   lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1), (0,),
                                   "triton_helpers.max2"),
}
XFAIL = {}


def _params():
    for name in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=XFAIL[name])] if name in XFAIL else []
        yield pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", list(_params()))
def test_inductor_triton_forward_backward_matches_eager(name):
    seed = _seed()
    make, fn, grad_idx, construct = CASES[name]
    inputs = make(torch.Generator().manual_seed(seed))
    case = _grad_case(fn, inputs, grad_idx)
    got, code = _compiled(case, *inputs)
    want = case(*inputs)
    assert construct in code, f"{name}: expected {construct!r} in Inductor's Triton code"
    for i, (a, b) in enumerate(zip(got, want)):
        tol = 1e-10 if a.dtype == torch.float64 else 1e-4
        torch.testing.assert_close(a, b, rtol=tol, atol=tol, msg=lambda m: f"{name} result {i} (seed {seed}): {m}")


def test_inductor_triton_dropout_statistics_and_determinism():
    """Inductor's dropout draws tl.rand from a per-graph seed: the same torch seed gives the same mask, another
    gives another; the kept fraction is 1 - p within 4 sigma; kept values and gradients are scaled by 1/(1-p)."""
    seed = _seed()
    p, n = 0.3, (37, 333)
    x = torch.rand(*n, generator=torch.Generator().manual_seed(seed)) + 1.0      # nonzero: 0 means dropped

    def fn(x):
        y = F.dropout(x, p, training=True)
        y.backward(torch.ones_like(y))
        return y.detach()
    torch._dynamo.reset()
    cf = torch.compile(fn)
    runs = []
    for s in (seed, seed, seed + 1):
        torch.manual_seed(s)
        xl = x.clone().requires_grad_(True)
        runs.append((cf(xl), xl.grad))
    (a, ga), (b, _), (c, _) = runs
    assert torch.equal(a, b), f"same torch seed, different dropout masks (seed {seed})"
    assert not torch.equal(a, c), f"different torch seeds, same dropout mask (seed {seed})"
    kept = a != 0
    frac, numel = kept.double().mean().item(), a.numel()
    assert abs(frac - (1 - p)) < 4 * math.sqrt(p * (1 - p) / numel), (frac, seed)
    torch.testing.assert_close(a[kept], x[kept] / (1 - p), rtol=1e-6, atol=0)
    torch.testing.assert_close(ga, kept.float() / (1 - p), rtol=1e-6, atol=0)
    from torch._inductor.utils import run_and_get_code
    torch._dynamo.reset()
    _, code = run_and_get_code(torch.compile(fn), x.clone().requires_grad_(True))
    assert "tl.rand" in "\n".join(code), "Inductor's dropout did not use tl.rand in a Triton kernel"


def test_inductor_triton_kernels_go_through_hexmlir(monkeypatch):
    """The Triton kernels Inductor writes are compiled by hexmlir (not by another CPU backend). Compiles run
    in this process (compile_threads=1), and a random constant in the kernel's source misses every cache."""
    import torch._inductor.config as cfg
    import hexmlir.driver
    calls = []
    real = hexmlir.driver.compile
    monkeypatch.setattr(hexmlir.driver, "compile", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(cfg, "compile_threads", 1)
    c = 1.0 + _seed() / 2**32
    x = torch.randn(5, 77)
    torch._dynamo.reset()
    torch.testing.assert_close(torch.compile(lambda x: torch.cumsum(x, 1) * c)(x), torch.cumsum(x, 1) * c)
    assert calls, "Inductor's kernels did not compile through hexmlir"
