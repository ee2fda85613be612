"""The exp family: a Taylor series of exp in a runtime loop, and a chain of exp/exp2/log/sqrt/rsqrt."""
import torch
import triton
import triton.language as tl

from ._common import F16, F32, Entry, randn, uniform


@triton.jit
def exp_taylor_kernel(x_ptr, out_ptr, n_elements, n_terms, BLOCK_SIZE: tl.constexpr):
    # sum_{k<n_terms} x^k / k!, the term carried through a loop whose trip count is a kernel argument
    pid = tl.program_id(axis=0)
    offsets = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = offsets < n_elements
    x = tl.load(x_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
    term = tl.full([BLOCK_SIZE], 1.0, tl.float32)
    acc = term
    for k in range(1, n_terms):
        term = term * x / k
        acc += term
    tl.store(out_ptr + offsets, acc.to(out_ptr.dtype.element_ty), mask=mask)


def exp_taylor(x, n_terms=18, **kw):
    out = torch.empty_like(x)
    n = out.numel()
    grid = lambda meta: (triton.cdiv(n, meta["BLOCK_SIZE"]),)
    exp_taylor_kernel[grid](x, out, n, n_terms, BLOCK_SIZE=512, **kw)
    return out


@triton.jit
def exp_family_kernel(x_ptr, out_ptr, n_elements, BLOCK_SIZE: tl.constexpr):
    pid = tl.program_id(axis=0)
    offsets = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = offsets < n_elements
    x = tl.load(x_ptr + offsets, mask=mask, other=1.0).to(tl.float32)
    sq = 1.0 + x * x
    y = tl.exp(-sq) + tl.exp2(0.5 * x) + tl.log(sq) - tl.log2(sq) * tl.rsqrt(sq) + tl.sqrt(sq)
    tl.store(out_ptr + offsets, y.to(out_ptr.dtype.element_ty), mask=mask)


def exp_family(x, **kw):
    out = torch.empty_like(x)
    n = out.numel()
    grid = lambda meta: (triton.cdiv(n, meta["BLOCK_SIZE"]),)
    exp_family_kernel[grid](x, out, n, BLOCK_SIZE=1024, **kw)
    return out


def _exp_family_ref(x):
    d = x.double()
    sq = 1.0 + d * d
    y = torch.exp(-sq) + torch.exp2(0.5 * d) + torch.log(sq) - torch.log2(sq) / torch.sqrt(sq) + torch.sqrt(sq)
    return y.to(x.dtype)


ENTRIES = [
    Entry("exp_taylor", "exp_series", exp_taylor_kernel, exp_taylor,
          lambda x: torch.exp(x.double()).to(x.dtype),
          lambda g, n, dt: (uniform(g, n, dt, -2.0, 2.0),), sizes=[1000, 2051],
          # 18 terms on |x| <= 2: truncation 2^18/18! < 4e-11; the error is f32 rounding
          tol={F32: (1e-5, 1e-6), F16: (2e-3, 2e-3)}, bench_size=1 << 20,
          doc="Taylor series of exp, runtime trip count (scf.for with a loop-carried tensor)"),
    Entry("exp_family", "exp_series", exp_family_kernel, exp_family, _exp_family_ref,
          lambda g, n, dt: (randn(g, n, dt, scale=3.0),), sizes=[1000, 4099],
          tol={F32: (1e-5, 1e-5), F16: (2e-3, 2e-3)}, bench_size=1 << 22,
          doc="exp, exp2, log, log2, rsqrt, sqrt in one elementwise chain"),
]
