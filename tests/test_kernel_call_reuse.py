"""Kernel calls reuse the memref descriptors of arguments passed again (artifact.Kernel._addresses): a model's
weights cost no ctypes work per call. Reuse must never run on stale pointers or shapes: results against
NumPy on fresh random inputs of odd sizes, with arrays changed in place, swapped, reshaped in place, and
calls from several threads at once."""
import gc
import threading
import warnings
import weakref

import numpy as np
import pytest

import hexmlir
from hexmlir import Options
from hexmlir.kernels import linalg_suite as S

M, N, K = 13, 37, 29


@pytest.fixture(scope="module")
def mm():
    return hexmlir.compile(S.matmul(M, N, K).mlir, Options(num_threads=2, mt_threshold=1))


def _ab(rng):
    return rng.standard_normal((M, K), np.float32), rng.standard_normal((K, N), np.float32)


def _ref(a, b):
    return a.astype(np.float64) @ b.astype(np.float64)


def test_same_arrays_changed_in_place(mm, rng):
    a, b = _ab(rng)
    np.testing.assert_allclose(mm(a, b), _ref(a, b), rtol=1e-4, atol=1e-4)
    a[...] = rng.standard_normal(a.shape)           # same objects, new values: read at call time
    b *= -2.5
    np.testing.assert_allclose(mm(a, b), _ref(a, b), rtol=1e-4, atol=1e-4)


def test_other_arrays_and_views(mm, rng):
    a, b = _ab(rng)
    mm(a, b)
    a2, b2 = _ab(rng)
    np.testing.assert_allclose(mm(a2, b), _ref(a2, b), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(mm(a2, b2), _ref(a2, b2), rtol=1e-4, atol=1e-4)
    big = rng.standard_normal((M, K + 3), np.float32)
    view = big[:, 1:K + 1]                          # not contiguous: the call passes a contiguous copy
    np.testing.assert_allclose(mm(view, b2), _ref(view, b2), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(mm(a, b2), _ref(a, b2), rtol=1e-4, atol=1e-4)


def test_fortran_order_and_lists_are_converted(mm, rng):
    """The call's fast path (a C-contiguous array of the right shape and dtype) does not swallow the rest: a
    Fortran-ordered array of the right shape is passed as a C-contiguous copy; a nested list is checked as an
    array (of float64 here: named in the error, not cast)."""
    a, b = _ab(rng)
    fa = np.asfortranarray(a)
    assert not fa.flags.c_contiguous
    np.testing.assert_allclose(mm(fa, b), _ref(a, b), rtol=1e-4, atol=1e-4)
    with pytest.raises(hexmlir.HexmlirError, match="must be float32"):
        mm(a.tolist(), b)
    np.testing.assert_allclose(mm(np.asarray(a.tolist(), np.float32), b), _ref(a, b), rtol=1e-4, atol=1e-4)


def test_in_place_reshape_is_checked_again(mm, rng):
    a, b = _ab(rng)
    mm(a, b)
    b.shape = (N, K)                                # the same object, now the wrong shape
    with pytest.raises(hexmlir.HexmlirError, match="must be float32"):
        mm(a, b)
    b.shape = (K, N)
    np.testing.assert_allclose(mm(a, b), _ref(a, b), rtol=1e-4, atol=1e-4)


def test_in_place_dtype_and_strides_are_checked_again(mm, rng):
    """A kept argument's fast check (the same object, shape, dtype object, C-contiguous) still sees the
    in-place changes numpy allows: a dtype reinterpreted in place is refused, strides set in place (a
    transposed view of the same bytes) make a contiguous copy."""
    a, b = _ab(rng)
    mm(a, b)
    b.dtype = np.int32                              # the same bytes read as int32: refused, not reinterpreted
    with pytest.raises(hexmlir.HexmlirError, match="must be float32"):
        mm(a, b)
    b.dtype = np.float32
    np.testing.assert_allclose(mm(a, b), _ref(a, b), rtol=1e-4, atol=1e-4)
    sq = rng.standard_normal((K, K), np.float32)
    mk = hexmlir.compile(S.matmul(M, K, K).mlir, Options(num_threads=2, mt_threshold=1))
    mk(a, sq)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        sq.strides = sq.strides[::-1]               # now the transpose of what it was, same shape
    assert not sq.flags.c_contiguous
    np.testing.assert_allclose(mk(a, sq), _ref(a, sq), rtol=1e-4, atol=1e-4)


def test_kept_arrays_cannot_move_and_outputs_are_not_kept(mm, rng):
    """Reuse relies on a kept array's data pointer staying put: numpy refuses to resize an array something
    else references. Results (written by the kernel) are not kept: dropping one frees it."""
    a, b = _ab(rng)
    out = mm(a, b)
    with pytest.raises(ValueError):
        b.resize(K * N + 8)
    ref = weakref.ref(out)
    del out
    gc.collect()
    assert ref() is None, "the kernel keeps its last result alive"


def test_concurrent_callers_keep_their_own_descriptors(mm, seed):
    """Each calling thread reuses its own descriptors: threads passing different weights at once."""
    errs = []

    def worker(t):
        r = np.random.default_rng(seed * 10 + t)
        a, b = _ab(r)
        for i in range(30):
            if i % 7 == 3:
                a = r.standard_normal((M, K), np.float32)
            try:
                np.testing.assert_allclose(mm(a, b), _ref(a, b), rtol=1e-4, atol=1e-4)
            except AssertionError as e:
                errs.append(f"thread {t} call {i}: {e}")
                return

    ts = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errs, errs[0]


def test_run_with_caller_outputs(mm, rng):
    """run() on preallocated arrays: a reused output array gets each call's result."""
    a, b = _ab(rng)
    out = np.empty((M, N), np.float32)
    for _ in range(3):
        a = rng.standard_normal((M, K), np.float32)
        out[...] = np.nan
        mm.run([a, b, out])
        np.testing.assert_allclose(out, _ref(a, b), rtol=1e-4, atol=1e-4)


def test_compiled_model_follows_weight_updates_and_replacements(seed):
    """compile_model's graph reuses the numpy views (and so the descriptors) of tensors passed again: a
    weight updated in place, given new storage through .data, replaced by a new Parameter, an input
    mutated in place or passed transposed (not contiguous) must all be seen, against eager PyTorch."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("torch_mlir")
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 5, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                            torch.nn.Linear(5 * 7 * 9, 11)).eval()
    x = torch.randn(2, 3, 7, 9, generator=g)
    c = hexmlir.compile_model(m, x, num_threads=2, mt_threshold=1)
    assert c.compiled, c.eager_reason

    def check(inp, what):
        with torch.no_grad():
            got, want = c(inp), m(inp)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-4, err_msg=f"{what}, seed {seed}")

    check(x, "first call")
    check(x, "same arguments again")
    with torch.no_grad():
        m[0].weight.mul_(-1.5)                           # in place: same tensor, same memory
    check(x, "weight updated in place")
    m[3].weight.data = torch.randn(11, 5 * 7 * 9, generator=g)      # same Parameter, new storage
    check(x, "weight given new storage")
    m[0].bias = torch.nn.Parameter(torch.randn(5, generator=g))     # a new Parameter object
    check(x, "bias replaced")
    x.mul_(0.5).add_(1.0)                                # the input mutated in place
    check(x, "input mutated in place")
    xt = torch.randn(2, 3, 9, 7, generator=g).transpose(2, 3)      # not contiguous: a copy every call
    check(xt, "transposed input")
    xt.mul_(-1.0)
    check(xt, "transposed input mutated")
