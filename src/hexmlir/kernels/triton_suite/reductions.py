"""Row reductions: sum (looped over column blocks), max and argmax (whole row in one block)."""
import torch
import triton
import triton.language as tl

from ._common import F16, F32, Entry, randn


@triton.jit
def row_sum_kernel(x_ptr, out_ptr, stride_row, n_cols, BLOCK_N: tl.constexpr):
    row = tl.program_id(0)
    acc = tl.zeros([BLOCK_N], dtype=tl.float32)
    for off in range(0, n_cols, BLOCK_N):
        cols = off + tl.arange(0, BLOCK_N)
        acc += tl.load(x_ptr + row * stride_row + cols, mask=cols < n_cols, other=0.0).to(tl.float32)
    tl.store(out_ptr + row, tl.sum(acc, axis=0).to(out_ptr.dtype.element_ty))


def row_sum(x, **kw):
    M, N = x.shape
    out = torch.empty((M,), dtype=x.dtype)
    row_sum_kernel[(M,)](x, out, x.stride(0), N, BLOCK_N=256, **kw)
    return out


@triton.jit
def row_max_kernel(x_ptr, out_ptr, stride_row, n_cols, BLOCK_N: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK_N)
    x = tl.load(x_ptr + row * stride_row + cols, mask=cols < n_cols, other=-float("inf"))
    tl.store(out_ptr + row, tl.max(x, axis=0))


def row_max(x, **kw):
    M, N = x.shape
    out = torch.empty((M,), dtype=x.dtype)
    row_max_kernel[(M,)](x, out, x.stride(0), N, BLOCK_N=triton.next_power_of_2(N), **kw)
    return out


@triton.jit
def row_argmax_kernel(x_ptr, out_ptr, stride_row, n_cols, BLOCK_N: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK_N)
    x = tl.load(x_ptr + row * stride_row + cols, mask=cols < n_cols, other=-float("inf"))
    tl.store(out_ptr + row, tl.argmax(x, axis=0).to(tl.int32))


def row_argmax(x, **kw):
    M, N = x.shape
    out = torch.empty((M,), dtype=torch.int32)
    row_argmax_kernel[(M,)](x, out, x.stride(0), N, BLOCK_N=triton.next_power_of_2(N), **kw)
    return out


ENTRIES = [
    Entry("row_sum", "reductions", row_sum_kernel, row_sum, lambda x: x.float().sum(dim=1).to(x.dtype),
          lambda g, s, dt: (randn(g, s, dt),), sizes=[(7, 100), (33, 1000)],
          tol={F32: (1e-5, 1e-4), F16: (2e-3, 2e-2)}, bench_size=(4096, 4096),
          doc="f32 accumulator vector over 256-wide column blocks, one tl.sum at the end"),
    Entry("row_max", "reductions", row_max_kernel, row_max, lambda x: x.amax(dim=1),
          lambda g, s, dt: (randn(g, s, dt),), sizes=[(7, 100), (33, 1000)], bench_size=(4096, 4096),
          doc="exact: max of the row, masked lanes -inf"),
    # ties: tl.argmax and torch.argmax both return the first maximal index
    Entry("row_argmax", "reductions", row_argmax_kernel, row_argmax, lambda x: x.argmax(dim=1).to(torch.int32),
          lambda g, s, dt: (randn(g, s, dt),), sizes=[(7, 100), (33, 1000)], bench_size=(4096, 4096),
          doc="exact: index of the first maximum, int32"),
]
