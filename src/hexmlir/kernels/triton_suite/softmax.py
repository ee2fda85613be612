"""Row softmax: one row per program (tutorial 02), and online softmax (running max and sum over blocks)."""
import torch
import triton
import triton.language as tl

from ._common import F16, F32, Entry, randn


@triton.jit
def softmax_kernel(output_ptr, input_ptr, input_row_stride, output_row_stride, n_cols, BLOCK_SIZE: tl.constexpr):
    row_idx = tl.program_id(0)
    row_start_ptr = input_ptr + row_idx * input_row_stride
    col_offsets = tl.arange(0, BLOCK_SIZE)
    mask = col_offsets < n_cols
    row = tl.load(row_start_ptr + col_offsets, mask=mask, other=-float("inf")).to(tl.float32)
    row_minus_max = row - tl.max(row, axis=0)
    numerator = tl.exp(row_minus_max)
    denominator = tl.sum(numerator, axis=0)
    softmax_output = numerator / denominator
    out_ptr = output_ptr + row_idx * output_row_stride
    tl.store(out_ptr + col_offsets, softmax_output.to(output_ptr.dtype.element_ty), mask=mask)


def softmax(x, **kw):
    n_rows, n_cols = x.shape
    y = torch.empty_like(x)
    softmax_kernel[(n_rows,)](y, x, x.stride(0), y.stride(0), n_cols,
                              BLOCK_SIZE=triton.next_power_of_2(n_cols), **kw)
    return y


@triton.jit
def softmax_online_kernel(output_ptr, input_ptr, input_row_stride, output_row_stride, n_cols,
                          BLOCK_SIZE: tl.constexpr):
    row_idx = tl.program_id(0)
    in_row = input_ptr + row_idx * input_row_stride
    out_row = output_ptr + row_idx * output_row_stride
    # pass 1: running max m and running sum l, l rescaled whenever m grows
    m = -float("inf")
    l = 0.0
    for off in range(0, n_cols, BLOCK_SIZE):
        cols = off + tl.arange(0, BLOCK_SIZE)
        x = tl.load(in_row + cols, mask=cols < n_cols, other=-float("inf")).to(tl.float32)
        m_new = tl.maximum(m, tl.max(x, axis=0))
        l = l * tl.exp(m - m_new) + tl.sum(tl.exp(x - m_new), axis=0)
        m = m_new
    # pass 2: normalize
    inv_l = 1.0 / l
    for off in range(0, n_cols, BLOCK_SIZE):
        cols = off + tl.arange(0, BLOCK_SIZE)
        mask = cols < n_cols
        x = tl.load(in_row + cols, mask=mask, other=-float("inf")).to(tl.float32)
        y = tl.exp(x - m) * inv_l
        tl.store(out_row + cols, y.to(output_ptr.dtype.element_ty), mask=mask)


def softmax_online(x, **kw):
    n_rows, n_cols = x.shape
    y = torch.empty_like(x)
    softmax_online_kernel[(n_rows,)](y, x, x.stride(0), y.stride(0), n_cols, BLOCK_SIZE=128, **kw)
    return y


def _ref(x):
    return torch.softmax(x.float(), dim=-1).to(x.dtype)


_TOL = {F32: (1e-5, 1e-6), F16: (2e-3, 1e-4)}

ENTRIES = [
    Entry("softmax", "softmax", softmax_kernel, softmax, _ref, lambda g, s, dt: (randn(g, s, dt, scale=3.0),),
          sizes=[(7, 100), (33, 781)], tol=_TOL, bench_size=(4096, 1024), doc="tutorial 02, one row per program"),
    Entry("softmax_online", "softmax", softmax_online_kernel, softmax_online, _ref,
          lambda g, s, dt: (randn(g, s, dt, scale=3.0),), sizes=[(7, 100), (13, 1000)], tol=_TOL,
          bench_size=(4096, 4096), doc="online softmax: running max/sum over 128-wide blocks, then a normalize pass"),
]
