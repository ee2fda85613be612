"""RMSNorm, one row per program, the whole row in one block (BLOCK_N = next power of two >= N)."""
import torch
import triton
import triton.language as tl

from ._common import F16, F32, Entry, randn


@triton.jit
def rmsnorm_kernel(x_ptr, w_ptr, out_ptr, stride_x, stride_out, N, eps, BLOCK_N: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK_N)
    mask = cols < N
    x = tl.load(x_ptr + row * stride_x + cols, mask=mask, other=0.0).to(tl.float32)
    mean_sq = tl.sum(x * x, axis=0) / N
    rstd = 1.0 / tl.sqrt(mean_sq + eps)
    w = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
    y = x * rstd * w
    tl.store(out_ptr + row * stride_out + cols, y.to(out_ptr.dtype.element_ty), mask=mask)


def rmsnorm(x, w, eps=1e-6, **kw):
    M, N = x.shape
    out = torch.empty_like(x)
    rmsnorm_kernel[(M,)](x, w, out, x.stride(0), out.stride(0), N, eps, BLOCK_N=triton.next_power_of_2(N), **kw)
    return out


def _ref(x, w, eps=1e-6):
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps) * w.float()).to(x.dtype)


ENTRIES = [
    Entry("rmsnorm", "rmsnorm", rmsnorm_kernel, rmsnorm, _ref,
          lambda g, s, dt: (randn(g, s, dt), randn(g, s[1], dt, scale=0.5, shift=1.0)),
          sizes=[(7, 100), (33, 777)], tol={F32: (1e-5, 1e-5), F16: (2e-3, 2e-3)}, bench_size=(4096, 4096),
          doc="x * rsqrt(mean(x^2) + eps) * w, f32 statistics"),
]
