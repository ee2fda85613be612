"""Vector add: 1-D (tutorial 01), 2-D with row strides, and a scalar operand (axpy)."""
import torch
import triton
import triton.language as tl

from ._common import F16, F32, Entry, randn


@triton.jit
def add_kernel(x_ptr, y_ptr, out_ptr, n_elements, BLOCK_SIZE: tl.constexpr):
    pid = tl.program_id(axis=0)
    offsets = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = offsets < n_elements
    x = tl.load(x_ptr + offsets, mask=mask)
    y = tl.load(y_ptr + offsets, mask=mask)
    tl.store(out_ptr + offsets, x + y, mask=mask)


def add(x, y, **kw):
    out = torch.empty_like(x)
    n = out.numel()
    grid = lambda meta: (triton.cdiv(n, meta["BLOCK_SIZE"]),)
    add_kernel[grid](x, y, out, n, BLOCK_SIZE=1024, **kw)
    return out


@triton.jit
def add_2d_kernel(x_ptr, y_ptr, out_ptr, M, N, stride_xm, stride_ym, stride_om,
                  BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)
    x = tl.load(x_ptr + offs_m[:, None] * stride_xm + offs_n[None, :], mask=mask, other=0.0)
    y = tl.load(y_ptr + offs_m[:, None] * stride_ym + offs_n[None, :], mask=mask, other=0.0)
    tl.store(out_ptr + offs_m[:, None] * stride_om + offs_n[None, :], x + y, mask=mask)


def add_2d(x, y, **kw):
    M, N = x.shape
    out = torch.empty((M, N), dtype=x.dtype)
    grid = lambda meta: (triton.cdiv(M, meta["BLOCK_M"]), triton.cdiv(N, meta["BLOCK_N"]))
    add_2d_kernel[grid](x, y, out, M, N, x.stride(0), y.stride(0), out.stride(0),
                        BLOCK_M=16, BLOCK_N=64, **kw)
    return out


def _inputs_2d(gen, size, dtype):
    M, N = size
    # x is a column slice of a wider buffer (row stride != N), as with padded activations
    x = randn(gen, (M, N + 7), dtype)[:, :N]
    return x, randn(gen, (M, N), dtype)


@triton.jit
def axpy_kernel(x_ptr, y_ptr, out_ptr, alpha, n_elements, BLOCK_SIZE: tl.constexpr):
    pid = tl.program_id(axis=0)
    offsets = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = offsets < n_elements
    x = tl.load(x_ptr + offsets, mask=mask)
    y = tl.load(y_ptr + offsets, mask=mask)
    out = alpha * x.to(tl.float32) + y.to(tl.float32)
    tl.store(out_ptr + offsets, out.to(out_ptr.dtype.element_ty), mask=mask)


def axpy(x, y, alpha, **kw):
    out = torch.empty_like(x)
    n = out.numel()
    grid = lambda meta: (triton.cdiv(n, meta["BLOCK_SIZE"]),)
    axpy_kernel[grid](x, y, out, alpha, n, BLOCK_SIZE=256, **kw)
    return out


def _axpy_ref(x, y, alpha):
    return (alpha * x.float() + y.float()).to(x.dtype)


_TOL = {F32: (1e-6, 1e-6), F16: (1e-3, 1e-3)}

ENTRIES = [
    Entry("add_1d", "vector_add", add_kernel, add, lambda x, y: x + y,
          lambda g, n, dt: (randn(g, n, dt), randn(g, n, dt)),
          sizes=[1000, 4099], tol=_TOL, bench_size=1 << 22, doc="tutorial 01: out = x + y, BLOCK 1024"),
    Entry("add_2d", "vector_add", add_2d_kernel, add_2d, lambda x, y: x + y, _inputs_2d,
          sizes=[(37, 100), (64, 129)], tol=_TOL, bench_size=(2048, 2047),
          doc="2-D blocks 16x64 over a strided (padded-row) input"),
    Entry("axpy", "vector_add", axpy_kernel, axpy, _axpy_ref,
          lambda g, n, dt: (randn(g, n, dt), randn(g, n, dt),
                            float(torch.empty(()).uniform_(-2.0, 2.0, generator=g))),
          sizes=[1000, 3001], tol={F32: (1e-6, 1e-6), F16: (1e-3, 2e-3)}, bench_size=1 << 22,
          doc="out = alpha * x + y with a scalar float operand, computed in f32"),
]
