"""Atomics: tl.atomic_add/max on tensors of pointers (scatter with conflicts, masked) and on a scalar pointer,
with the grid spread over threads, vs PyTorch."""
import pytest

torch = pytest.importorskip("torch")
triton = pytest.importorskip("triton")
import triton.language as tl  # noqa: E402


@triton.jit
def histogram_kernel(idx_ptr, w_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    bins = tl.load(idx_ptr + offs, mask=m, other=0)
    w = tl.load(w_ptr + offs, mask=m, other=0.0)
    tl.atomic_add(out_ptr + bins, w, mask=m)


@triton.jit
def total_max_kernel(x_ptr, sum_ptr, max_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs, mask=offs < n, other=0)
    tl.atomic_add(sum_ptr, tl.sum(x, axis=0))
    tl.atomic_max(max_ptr, tl.max(x, axis=0))


@pytest.mark.parametrize("threads", [1, 4])
def test_histogram_atomic_add(threads):
    n, nbins = 5003, 37
    idx = torch.randint(0, nbins, (n,), dtype=torch.int32)
    w = torch.randint(-3, 4, (n,)).to(torch.float32)        # integers: the sum is exact in any order
    out = torch.zeros(nbins)
    histogram_kernel[(triton.cdiv(n, 256),)](idx, w, out, n, BLOCK=256, num_threads=threads)
    ref = torch.zeros(nbins, dtype=torch.float64).index_add_(0, idx.long(), w.double()).float()
    torch.testing.assert_close(out, ref, rtol=0, atol=0)


def test_scalar_atomics():
    n = 3001
    x = torch.randint(-1000, 1000, (n,), dtype=torch.int32)
    s, mx = torch.zeros(1, dtype=torch.int32), torch.full((1,), -2**31, dtype=torch.int32)
    total_max_kernel[(triton.cdiv(n, 128),)](x, s, mx, n, BLOCK=128, num_threads=4)
    assert int(s) == int(x.sum()) and int(mx) == int(x.max())
