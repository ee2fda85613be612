"""GELU, tanh and erf forms; each with a libdevice call and a variant made of tl ops only."""
import torch
import triton
import triton.language as tl
from triton.language.extra import libdevice

from ._common import F16, F32, Entry, randn

SQRT_2_OVER_PI = 0.7978845608028654
INV_SQRT_2 = 0.7071067811865476


@triton.jit
def gelu_tanh_kernel(x_ptr, out_ptr, n_elements, BLOCK_SIZE: tl.constexpr):
    pid = tl.program_id(axis=0)
    offsets = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = offsets < n_elements
    x = tl.load(x_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
    inner = 0.7978845608028654 * (x + 0.044715 * x * x * x)
    y = 0.5 * x * (1.0 + libdevice.tanh(inner))
    tl.store(out_ptr + offsets, y.to(out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def gelu_tanh_tl_kernel(x_ptr, out_ptr, n_elements, BLOCK_SIZE: tl.constexpr):
    # tanh(z) = 1 - 2 / (exp(2z) + 1), without libdevice; exp overflow to inf gives tanh = 1
    pid = tl.program_id(axis=0)
    offsets = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = offsets < n_elements
    x = tl.load(x_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
    inner = 0.7978845608028654 * (x + 0.044715 * x * x * x)
    t = 1.0 - 2.0 / (tl.exp(2.0 * inner) + 1.0)
    y = 0.5 * x * (1.0 + t)
    tl.store(out_ptr + offsets, y.to(out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def gelu_erf_kernel(x_ptr, out_ptr, n_elements, BLOCK_SIZE: tl.constexpr):
    pid = tl.program_id(axis=0)
    offsets = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = offsets < n_elements
    x = tl.load(x_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
    y = 0.5 * x * (1.0 + tl.erf(x * 0.7071067811865476))
    tl.store(out_ptr + offsets, y.to(out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def gelu_erf_libdevice_kernel(x_ptr, out_ptr, n_elements, BLOCK_SIZE: tl.constexpr):
    pid = tl.program_id(axis=0)
    offsets = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = offsets < n_elements
    x = tl.load(x_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
    y = 0.5 * x * (1.0 + libdevice.erf(x * 0.7071067811865476))
    tl.store(out_ptr + offsets, y.to(out_ptr.dtype.element_ty), mask=mask)


def _launcher(kernel):
    def run(x, **kw):
        out = torch.empty_like(x)
        n = out.numel()
        grid = lambda meta: (triton.cdiv(n, meta["BLOCK_SIZE"]),)
        kernel[grid](x, out, n, BLOCK_SIZE=1024, **kw)
        return out
    run.__name__ = kernel.__name__.replace("_kernel", "")
    return run


gelu_tanh = _launcher(gelu_tanh_kernel)
gelu_tanh_tl = _launcher(gelu_tanh_tl_kernel)
gelu_erf = _launcher(gelu_erf_kernel)
gelu_erf_libdevice = _launcher(gelu_erf_libdevice_kernel)


def _ref_tanh(x):
    return torch.nn.functional.gelu(x.float(), approximate="tanh").to(x.dtype)


def _ref_erf(x):
    return torch.nn.functional.gelu(x.float()).to(x.dtype)


def _inputs(g, n, dt):
    return (randn(g, n, dt, scale=3.0),)     # wide enough to reach both tails of tanh/erf


_TOL = {F32: (2e-5, 2e-5), F16: (2e-3, 2e-3)}
_SIZES = [1000, 4099]

ENTRIES = [
    Entry("gelu_tanh", "gelu", gelu_tanh_kernel, gelu_tanh, _ref_tanh, _inputs, _SIZES, tol=_TOL,
          bench_size=1 << 22, doc="0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3))), libdevice.tanh"),
    Entry("gelu_tanh_tl", "gelu", gelu_tanh_tl_kernel, gelu_tanh_tl, _ref_tanh, _inputs, _SIZES, tol=_TOL,
          bench_size=1 << 22, doc="tanh form with tanh written via tl.exp (no libdevice)"),
    Entry("gelu_erf", "gelu", gelu_erf_kernel, gelu_erf, _ref_erf, _inputs, _SIZES, tol=_TOL,
          bench_size=1 << 22, doc="0.5x(1+erf(x/sqrt2)), tl.erf"),
    Entry("gelu_erf_libdevice", "gelu", gelu_erf_libdevice_kernel, gelu_erf_libdevice, _ref_erf, _inputs,
          _SIZES, tol=_TOL, bench_size=1 << 22, doc="erf form through libdevice.erf"),
]
