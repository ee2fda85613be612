"""SiLU (x * sigmoid(x)) and the gated form used in LLaMA-style MLPs (SwiGLU: silu(a) * b)."""
import torch
import triton
import triton.language as tl

from ._common import F16, F32, Entry, randn


@triton.jit
def silu_kernel(x_ptr, out_ptr, n_elements, BLOCK_SIZE: tl.constexpr):
    pid = tl.program_id(axis=0)
    offsets = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = offsets < n_elements
    x = tl.load(x_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
    y = x * tl.sigmoid(x)
    tl.store(out_ptr + offsets, y.to(out_ptr.dtype.element_ty), mask=mask)


def silu(x, **kw):
    out = torch.empty_like(x)
    n = out.numel()
    grid = lambda meta: (triton.cdiv(n, meta["BLOCK_SIZE"]),)
    silu_kernel[grid](x, out, n, BLOCK_SIZE=1024, **kw)
    return out


@triton.jit
def swiglu_kernel(a_ptr, b_ptr, out_ptr, n_cols, stride_row, BLOCK_SIZE: tl.constexpr):
    # one program per (row, column block); a and b are the two halves of a fused up-projection
    row = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = cols < n_cols
    a = tl.load(a_ptr + row * stride_row + cols, mask=mask, other=0.0).to(tl.float32)
    b = tl.load(b_ptr + row * stride_row + cols, mask=mask, other=0.0).to(tl.float32)
    y = a / (1.0 + tl.exp(-a)) * b
    tl.store(out_ptr + row * n_cols + cols, y.to(out_ptr.dtype.element_ty), mask=mask)


def swiglu(ab, **kw):
    """ab: (rows, 2*n) -- the gate half then the up half, as a fused projection produces it."""
    rows, two_n = ab.shape
    n = two_n // 2
    a, b = ab[:, :n], ab[:, n:]
    out = torch.empty((rows, n), dtype=ab.dtype)
    grid = lambda meta: (rows, triton.cdiv(n, meta["BLOCK_SIZE"]))
    swiglu_kernel[grid](a, b, out, n, ab.stride(0), BLOCK_SIZE=256, **kw)
    return out


def _swiglu_ref(ab):
    a, b = ab.float().chunk(2, dim=1)
    return (torch.nn.functional.silu(a) * b).to(ab.dtype)


_TOL = {F32: (2e-5, 2e-5), F16: (2e-3, 2e-3)}

ENTRIES = [
    Entry("silu", "silu", silu_kernel, silu, lambda x: torch.nn.functional.silu(x.float()).to(x.dtype),
          lambda g, n, dt: (randn(g, n, dt, scale=4.0),), sizes=[1000, 4099], tol=_TOL, bench_size=1 << 22,
          doc="x * tl.sigmoid(x)"),
    Entry("swiglu", "silu", swiglu_kernel, swiglu, _swiglu_ref,
          lambda g, s, dt: (randn(g, (s[0], 2 * s[1]), dt, scale=3.0),), sizes=[(5, 300), (16, 257)],
          tol=_TOL, bench_size=(512, 5504), doc="silu(a) * b on the halves of one (rows, 2n) tensor"),
]
