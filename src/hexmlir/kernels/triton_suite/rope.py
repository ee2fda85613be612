"""Rotary position embedding (rotate-half / NeoX layout): one program per (token, head)."""
import torch
import triton
import triton.language as tl

from ._common import F16, F32, Entry, randn


@triton.jit
def rope_kernel(x_ptr, cos_ptr, sin_ptr, out_ptr, stride_xt, stride_xh, stride_ot, stride_oh, stride_ct,
                HALF: tl.constexpr, BLOCK_HALF: tl.constexpr):
    t = tl.program_id(0)
    h = tl.program_id(1)
    offs = tl.arange(0, BLOCK_HALF)
    mask = offs < HALF
    x_row = x_ptr + t * stride_xt + h * stride_xh
    x1 = tl.load(x_row + offs, mask=mask, other=0.0).to(tl.float32)
    x2 = tl.load(x_row + HALF + offs, mask=mask, other=0.0).to(tl.float32)
    c = tl.load(cos_ptr + t * stride_ct + offs, mask=mask, other=0.0)
    s = tl.load(sin_ptr + t * stride_ct + offs, mask=mask, other=0.0)
    o_row = out_ptr + t * stride_ot + h * stride_oh
    tl.store(o_row + offs, (x1 * c - x2 * s).to(out_ptr.dtype.element_ty), mask=mask)
    tl.store(o_row + HALF + offs, (x2 * c + x1 * s).to(out_ptr.dtype.element_ty), mask=mask)


def rope(x, cos, sin, **kw):
    """x: (tokens, heads, head_dim); cos, sin: (tokens, head_dim // 2) in f32."""
    T, H, D = x.shape
    out = torch.empty_like(x)
    half = D // 2
    rope_kernel[(T, H)](x, cos, sin, out, x.stride(0), x.stride(1), out.stride(0), out.stride(1), cos.stride(0),
                        HALF=half, BLOCK_HALF=triton.next_power_of_2(half), **kw)
    return out


def _inputs(g, size, dt):
    T, H, D = size
    pos = torch.arange(T, dtype=torch.float64)[:, None] + torch.randint(0, 4096, (1,), generator=g)
    inv_freq = 10000.0 ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)
    ang = pos * inv_freq[None, :]
    return randn(g, size, dt), torch.cos(ang).float(), torch.sin(ang).float()


def _ref(x, cos, sin):
    xf = x.float()
    half = x.shape[-1] // 2
    x1, x2 = xf[..., :half], xf[..., half:]
    c, s = cos[:, None, :], sin[:, None, :]
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], dim=-1).to(x.dtype)


ENTRIES = [
    Entry("rope", "rope", rope_kernel, rope, _ref, _inputs, sizes=[(17, 3, 64), (9, 4, 80)],
          tol={F32: (1e-5, 1e-5), F16: (2e-3, 2e-3)}, bench_size=(2048, 32, 128),
          doc="rotate-half RoPE, head_dim/2 padded to a power of two with masks"),
]
