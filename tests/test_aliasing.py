"""Results and arguments through bufferization (issue 12, root causes 3, 4, 7, 8).

* Results that alias inputs or each other: identity results, views, reshapes/expands, repeats.
* A kernel never writes an argument the graph does not mutate (torch-mlir's convolution accumulates into its
  bias); hand-written destination-passing kernels still write their outs argument (on the artifact's copy).
* `return %r, %r` (upstream buffer-results-to-out-params{hoist-static-allocs} crashes on it).
* Triton kernels with loop-carried tensors with tcm_tiling off (ownership-based deallocation vs hoisting).

References are NumPy, PyTorch eager and Triton's interpreter on fresh seeded inputs (seed in the message).
"""
from pathlib import Path

import numpy as np
import pytest

import hexmlir
from conftest import current_seed

VEC = [pytest.param(True, id="vec"), pytest.param(False, id="novec")]


def _seed():
    return current_seed()


def _compile(mlir, vectorize=True, **kw):
    return hexmlir.compile(mlir, hexmlir.Options(vectorize=vectorize, **kw))


# ---- 3. results that alias inputs ---------------------------------------------------------------------------

IDENTITY = """
#map = affine_map<(d0, d1) -> (d0, d1)>
func.func @identity_and_twice(%a: tensor<33x17xf32>, %b: tensor<33x17xf32>)
    -> (tensor<33x17xf32>, tensor<33x17xf32>, tensor<33x17xf32>, tensor<561xf32>) {
  %e = tensor.empty() : tensor<33x17xf32>
  %r = linalg.generic {indexing_maps = [#map, #map], iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<33x17xf32>) outs(%e : tensor<33x17xf32>) {
  ^bb0(%x: f32, %o: f32):
    %y = arith.addf %x, %x : f32
    linalg.yield %y : f32
  } -> tensor<33x17xf32>
  %v = tensor.collapse_shape %b [[0, 1]] : tensor<33x17xf32> into tensor<561xf32>
  return %a, %r, %b, %v : tensor<33x17xf32>, tensor<33x17xf32>, tensor<33x17xf32>, tensor<561xf32>
}
"""


@pytest.mark.parametrize("vectorize", VEC)
def test_results_that_are_arguments(vectorize):
    """Returning an argument unchanged used to shift every later result onto the wrong out-parameter."""
    seed = _seed()
    rng = np.random.default_rng(seed)
    a, b = (rng.standard_normal((33, 17)).astype(np.float32) for _ in range(2))
    a0, b0 = a.copy(), b.copy()
    k = _compile(IDENTITY, vectorize)
    for _ in range(2):
        ra, r, rb, v = k(a, b)
        np.testing.assert_array_equal(ra, a0, err_msg=f"seed {seed}")
        np.testing.assert_array_equal(r, 2 * a0, err_msg=f"seed {seed}")
        np.testing.assert_array_equal(rb, b0, err_msg=f"seed {seed}")
        np.testing.assert_array_equal(v, b0.reshape(-1), err_msg=f"seed {seed}")
        assert not np.shares_memory(ra, a) and not np.shares_memory(rb, b)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)


def _torch_compiled(f, ins, seed, vectorize=True, calls=2):
    import torch
    from hexmlir.frontends.torch.backend import make_backend
    torch._dynamo.reset()
    g = torch.compile(f, backend=make_backend(strict=True, vectorize=vectorize), dynamic=False)
    keep = [t.clone() for t in ins]
    for _ in range(calls):
        got, ref = g(*ins), f(*keep)
        assert len(got) == len(ref)
        for i, (x, r) in enumerate(zip(got, ref)):
            assert x.shape == r.shape, (i, x.shape, r.shape, f"seed {seed}")
            torch.testing.assert_close(x, r, rtol=1e-6, atol=1e-6, msg=lambda m: f"result {i}, seed {seed}: {m}")
    for t, k in zip(ins, keep):
        assert torch.equal(t, k), f"an input changed, seed {seed}"


def test_view_and_product_under_torch_compile():
    """The issue's reproducer: `(t.view(2, 48), t * 2)`."""
    import torch
    seed = _seed()
    t = torch.randn(96, generator=torch.Generator().manual_seed(seed))
    _torch_compiled(lambda t: (t.view(2, 48), t * 2), [t], seed)


def _aliasing_results(t, u):
    r = t * 2 + u[:33].view(33, 1)
    return (t,                                   # the argument (Dynamo returns it itself)
            t[:, :],                             # the argument again, once canonicalize folds the slice
            t.view(33, 17),                      # ... and the no-op view
            t.view(17, 33),                      # a view of it
            r,
            u.reshape(1, 1000).expand(3, 1000),  # reshape + expand of another argument
            t.reshape(561),                      # a second view of the first argument
            r.view(561),                         # a view of another result
            u[:500] + 1.0)


@pytest.mark.parametrize("vectorize", VEC)
def test_results_aliasing_arguments_and_results_under_torch_compile(vectorize):
    """A result that is an argument took an out-parameter slot the later results were not mapped past:
    they came back as copies of earlier results (GPT-2's position ids)."""
    import torch
    seed = _seed()
    g = torch.Generator().manual_seed(seed)
    _torch_compiled(_aliasing_results, [torch.randn(33, 17, generator=g), torch.randn(1000, generator=g)], seed,
                    vectorize)


# ---- 7. arguments the graph does not mutate stay unchanged ---------------------------------------------------

# The shape canonicalize leaves a convolution in when it folds the bias broadcast: the reduction accumulates
# into the bias argument itself.
BIAS_ACC = """
#in = affine_map<(d0, d1) -> (d0, d1)>
#w = affine_map<(d0, d1) -> (d1, d0)>
#out = affine_map<(d0, d1) -> (d0)>
#id = affine_map<(d0) -> (d0)>
func.func @bias_acc(%x: tensor<1000x33xf32>, %w: tensor<33x1000xf32>, %bias: tensor<1000xf32>) -> tensor<1000xf32> {
  %acc = linalg.generic {indexing_maps = [#in, #w, #out], iterator_types = ["parallel", "reduction"]}
      ins(%x, %w : tensor<1000x33xf32>, tensor<33x1000xf32>) outs(%bias : tensor<1000xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<1000xf32>
  %e = tensor.empty() : tensor<1000xf32>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%acc : tensor<1000xf32>) outs(%e : tensor<1000xf32>) {
  ^bb0(%a: f32, %o: f32):
    %z = arith.constant 0.0 : f32
    %r = arith.maximumf %a, %z : f32
    linalg.yield %r : f32
  } -> tensor<1000xf32>
  return %y : tensor<1000xf32>
}
"""


@pytest.mark.parametrize("vectorize", VEC)
def test_kernel_never_writes_a_read_only_argument(vectorize):
    seed = _seed()
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1000, 33)).astype(np.float32)
    w = rng.standard_normal((33, 1000)).astype(np.float32)
    bias = rng.standard_normal(1000).astype(np.float32)
    saved = [a.copy() for a in (x, w, bias)]
    k = _compile(BIAS_ACC, vectorize)
    assert not k.meta.get("writes")
    ref = np.maximum(np.einsum("ij,ji->i", x.astype(np.float64), w.astype(np.float64)) + bias, 0)
    for _ in range(3):
        np.testing.assert_allclose(k(x, w, bias), ref, rtol=1e-4, atol=1e-4, err_msg=f"seed {seed}")
        for a, s in zip((x, w, bias), saved):
            np.testing.assert_array_equal(a, s, err_msg=f"an input changed, seed {seed}")


DPS_MATMUL = """
func.func @mm_acc(%a: tensor<33x17xf32>, %b: tensor<17x40xf32>, %c: tensor<33x40xf32>) -> tensor<33x40xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<33x17xf32>, tensor<17x40xf32>) outs(%c : tensor<33x40xf32>) -> tensor<33x40xf32>
  return %r : tensor<33x40xf32>
}
"""


@pytest.mark.parametrize("vectorize", VEC)
def test_destination_passing_outs_still_written_in_place(vectorize):
    """A result computed into an argument stays in that argument (no out-parameter); the caller's array is
    the artifact's to copy, so it does not change either."""
    seed = _seed()
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((33, 17)).astype(np.float32)
    b = rng.standard_normal((17, 40)).astype(np.float32)
    c = rng.standard_normal((33, 40)).astype(np.float32)
    c0 = c.copy()
    k = _compile(DPS_MATMUL, vectorize)
    assert [s["role"] for s in k.meta["args"]] == ["in", "in", "in"]
    assert k.meta["results"] == [2] and k.meta["writes"] == [2]
    for _ in range(2):
        np.testing.assert_allclose(k(a, b, c), c0 + a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5,
                                   err_msg=f"seed {seed}")
    np.testing.assert_array_equal(c, c0)
    # the low-level call writes the outs argument itself
    args = [a, b, c.copy()]
    k.run(args)
    np.testing.assert_allclose(args[2], c0 + a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5)


def _squeeze_excite():
    import torch

    class SE(torch.nn.Module):
        """MobileNetV3's squeeze-excite: 1x1 convolutions with bias on a 1x1 map."""
        def __init__(self, c=24, r=8):
            super().__init__()
            self.fc1, self.fc2 = torch.nn.Conv2d(c, r, 1), torch.nn.Conv2d(r, c, 1)

        def forward(self, x):
            s = x.mean((2, 3), keepdim=True)
            return x * torch.nn.functional.hardsigmoid(self.fc2(torch.relu(self.fc1(s))))
    return SE().eval()


def test_parameters_unchanged_under_torch_compile():
    import torch
    seed = _seed()
    torch.manual_seed(seed)
    m = _squeeze_excite()
    x = torch.randn(1, 24, 7, 9)
    params = {k: v.clone() for k, v in m.state_dict().items()}
    x0 = x.clone()
    with torch.no_grad():
        ref = m(x)
        from hexmlir.frontends.torch.backend import make_backend
        torch._dynamo.reset()
        g = torch.compile(m, backend=make_backend(strict=True), dynamic=False)
        for _ in range(3):
            torch.testing.assert_close(g(x), ref, rtol=1e-5, atol=1e-5, msg=lambda s: f"seed {seed}: {s}")
    for k, v in m.state_dict().items():
        assert torch.equal(v, params[k]), f"parameter {k} changed, seed {seed}"
    assert torch.equal(x, x0)


# ---- 8. a value returned twice ---------------------------------------------------------------------------

TWICE = """
#map = affine_map<(d0) -> (d0)>
func.func @twice(%a: tensor<1000xf32>, %o: tensor<1000xf32>)
    -> (tensor<1000xf32>, tensor<1000xf32>, tensor<1000xf32>, tensor<1000xf32>, tensor<1000xf32>, tensor<1000xf32>) {
  %e = tensor.empty() : tensor<1000xf32>
  %r = linalg.generic {indexing_maps = [#map, #map], iterator_types = ["parallel"]}
      ins(%a : tensor<1000xf32>) outs(%e : tensor<1000xf32>) {
  ^bb0(%x: f32, %y: f32):
    %z = arith.mulf %x, %x : f32
    linalg.yield %z : f32
  } -> tensor<1000xf32>
  %d = linalg.generic {indexing_maps = [#map, #map], iterator_types = ["parallel"]}
      ins(%a : tensor<1000xf32>) outs(%o : tensor<1000xf32>) {
  ^bb0(%x: f32, %y: f32):
    %z = arith.addf %x, %y : f32
    linalg.yield %z : f32
  } -> tensor<1000xf32>
  return %r, %r, %d, %a, %d, %a
      : tensor<1000xf32>, tensor<1000xf32>, tensor<1000xf32>, tensor<1000xf32>, tensor<1000xf32>, tensor<1000xf32>
}
"""


@pytest.mark.parametrize("vectorize", VEC)
def test_value_returned_twice(vectorize):
    seed = _seed()
    rng = np.random.default_rng(seed)
    a, o = (rng.standard_normal(1000).astype(np.float32) for _ in range(2))
    a0, o0 = a.copy(), o.copy()
    k = _compile(TWICE, vectorize)
    got = k(a, o)
    refs = [a0 * a0, a0 * a0, a0 + o0, a0, a0 + o0, a0]
    for i, (x, r) in enumerate(zip(got, refs)):
        np.testing.assert_array_equal(x, r, err_msg=f"result {i}, seed {seed}")
    for i in range(len(got)):            # every result its own array
        for j in range(i):
            assert not np.shares_memory(got[i], got[j]), (j, i)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(o, o0)


# ---- 4. Triton: loop-carried tensors with tcm_tiling off ------------------------------------------------

try:
    import triton
    import triton.language as tl
except ImportError:                                     # pragma: no cover
    triton = None

if triton is not None:
    @triton.jit
    def carried_kernel(X, Y, Out, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
        """Flash-attention's loop shape: a running max and sum and a 2-D accumulator carried over column
        blocks (the last one masked)."""
        pid = tl.program_id(0)
        rows = pid * BLOCK_M + tl.arange(0, BLOCK_M)
        m_i = tl.zeros([BLOCK_M], dtype=tl.float32) - float("inf")
        l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
        acc = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32)
        for start in range(0, N, BLOCK_N):
            cols = start + tl.arange(0, BLOCK_N)
            x = tl.load(X + rows[:, None] * N + cols[None, :], mask=cols[None, :] < N, other=-1.0e6)
            m_new = tl.maximum(m_i, tl.max(x, 1))
            p = tl.exp(x - m_new[:, None])
            alpha = tl.exp(m_i - m_new)
            l_i = l_i * alpha + tl.sum(p, 1)
            y = tl.load(Y + rows[:, None] * N + cols[None, :], mask=cols[None, :] < N, other=0.0)
            acc = acc * alpha[:, None] + p * y
            m_i = m_new
        tl.store(Out + rows[:, None] * BLOCK_N + tl.arange(0, BLOCK_N)[None, :], acc / l_i[:, None])


def _run_carried(x, y, vectorize, BM=16, BN=32):
    import torch
    M, N = x.shape
    out = torch.zeros(M, BN)
    carried_kernel[(M // BM,)](torch.from_numpy(x), torch.from_numpy(y), out, N, BLOCK_M=BM, BLOCK_N=BN,
                               tcm_tiling=False, num_threads=4, vectorize=vectorize)
    return out.numpy()


def _carried_inputs(seed, M=80, N=100):          # 5 programs, 4 column blocks (the last one partial)
    rng = np.random.default_rng(seed)
    return rng.standard_normal((M, N)).astype(np.float32), rng.standard_normal((M, N)).astype(np.float32)


@pytest.mark.skipif(triton is None, reason="triton not installed")
@pytest.mark.parametrize("vectorize", VEC)
def test_triton_loop_carried_without_tcm_tiling(vectorize):
    """Buffers carried through the block loop are freed by ownership-based deallocation; hoisting them out of
    the program loop freed one allocation once per program (`free(): double free detected`)."""
    seed = _seed()
    x, y = _carried_inputs(seed)
    got = _run_carried(x, y, vectorize)
    N, BN = x.shape[1], 32
    pad = -N % BN
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, pad)), constant_values=-1.0e6)
    yp = np.pad(y.astype(np.float64), ((0, 0), (0, pad)))
    p = np.exp(xp - xp.max(1, keepdims=True))
    ref = (p / p.sum(1, keepdims=True) * yp).reshape(len(x), -1, BN).sum(1)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6, err_msg=f"seed {seed}")


@pytest.mark.slow
@pytest.mark.skipif(triton is None, reason="triton not installed")
@pytest.mark.parametrize("vectorize", VEC)
def test_triton_loop_carried_vs_interpreter(vectorize):
    from triton_oracle import run_interpreted
    seed = _seed()
    x, y = _carried_inputs(seed)
    got = _run_carried(x, y, vectorize)
    ref = run_interpreted(__file__, "carried_kernel", [x, y, np.zeros((len(x), 32), np.float32), x.shape[1]],
                          (len(x) // 16,), BLOCK_M=16, BLOCK_N=32)[2]
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6, err_msg=f"seed {seed}")


@pytest.mark.slow
@pytest.mark.parametrize("vectorize", VEC)
@pytest.mark.parametrize("name", ["flash_attention", "flash_attention_causal"])
def test_flash_attention_without_tcm_tiling(name, vectorize):
    """The suite's flash attention over several K/V blocks, 4 threads, tcm_tiling off, vs Triton's
    interpreter."""
    import torch
    from triton_oracle import run_interpreted
    seed = _seed()
    g = torch.Generator().manual_seed(seed)
    Z, H, N_CTX, D = 2, 1, 100, 32
    q, k, v = (torch.randn(Z, H, N_CTX, D, generator=g) for _ in range(3))
    o = torch.empty_like(q)
    grid = ((N_CTX + 31) // 32, Z * H)
    strides = [*q.stride(), *k.stride(), *v.stride(), *o.stride()]
    consts = dict(HEAD_DIM=D, BLOCK_M=32, BLOCK_N=32, CAUSAL=name.endswith("causal"))
    from hexmlir.kernels.triton_suite import flash_attention as fa
    fa.attn_fwd_kernel[grid](q, k, v, o, D ** -0.5, *strides, H, N_CTX, **consts,
                             tcm_tiling=False, num_threads=4, vectorize=vectorize)
    ref = run_interpreted("hexmlir.kernels.triton_suite.flash_attention", "attn_fwd_kernel",
                          [q.numpy(), k.numpy(), v.numpy(), np.zeros(o.shape, np.float32), D ** -0.5, *strides,
                           H, N_CTX], grid, **consts)[3]
    np.testing.assert_allclose(o.numpy(), ref, rtol=1e-4, atol=1e-5, err_msg=f"seed {seed}")


def test_artifact_does_not_import_mlir_or_torch():
    src = (Path(hexmlir.__file__).parent / "artifact.py").read_text()
    assert "torch_mlir" not in src and "import torch" not in src
