"""LayerNorm forward in the style of Triton's tutorial 05: loops over the row in BLOCK_SIZE chunks."""
import torch
import triton
import triton.language as tl

from ._common import F16, F32, Entry, randn


@triton.jit
def layernorm_kernel(X, Y, W, B, Mean, Rstd, stride, N, eps, BLOCK_SIZE: tl.constexpr):
    row = tl.program_id(0)
    Y += row * stride
    X += row * stride
    # mean
    _mean = tl.zeros([BLOCK_SIZE], dtype=tl.float32)
    for off in range(0, N, BLOCK_SIZE):
        cols = off + tl.arange(0, BLOCK_SIZE)
        a = tl.load(X + cols, mask=cols < N, other=0.).to(tl.float32)
        _mean += a
    mean = tl.sum(_mean, axis=0) / N
    # variance
    _var = tl.zeros([BLOCK_SIZE], dtype=tl.float32)
    for off in range(0, N, BLOCK_SIZE):
        cols = off + tl.arange(0, BLOCK_SIZE)
        x = tl.load(X + cols, mask=cols < N, other=0.).to(tl.float32)
        x = tl.where(cols < N, x - mean, 0.)
        _var += x * x
    var = tl.sum(_var, axis=0) / N
    rstd = 1 / tl.sqrt(var + eps)
    tl.store(Mean + row, mean)
    tl.store(Rstd + row, rstd)
    # normalize and apply the affine transform
    for off in range(0, N, BLOCK_SIZE):
        cols = off + tl.arange(0, BLOCK_SIZE)
        mask = cols < N
        w = tl.load(W + cols, mask=mask)
        b = tl.load(B + cols, mask=mask)
        x = tl.load(X + cols, mask=mask, other=0.).to(tl.float32)
        x_hat = (x - mean) * rstd
        y = x_hat * w + b
        tl.store(Y + cols, y, mask=mask)


def layernorm(x, w, b, eps=1e-5, **kw):
    """Returns (y, mean, rstd) like the tutorial's forward; mean and rstd are f32 per row."""
    M, N = x.shape
    y = torch.empty_like(x)
    mean = torch.empty((M,), dtype=torch.float32)
    rstd = torch.empty((M,), dtype=torch.float32)
    layernorm_kernel[(M,)](x, y, w, b, mean, rstd, x.stride(0), N, eps, BLOCK_SIZE=256, **kw)
    return y, mean, rstd


def _ref(x, w, b, eps=1e-5):
    xf = x.float()
    y = torch.nn.functional.layer_norm(xf, (x.shape[1],), w.float(), b.float(), eps)
    var, mean = torch.var_mean(xf, dim=1, unbiased=False)
    return y.to(x.dtype), mean, torch.rsqrt(var + eps)


ENTRIES = [
    Entry("layernorm", "layernorm", layernorm_kernel, layernorm, _ref,
          lambda g, s, dt: (randn(g, s, dt, scale=2.0, shift=0.5), randn(g, s[1], dt, scale=0.5, shift=1.0),
                            randn(g, s[1], dt, scale=0.5)),
          sizes=[(5, 300), (19, 1000)], tol={F32: (1e-5, 1e-5), F16: (2e-3, 4e-3)}, bench_size=(4096, 4096),
          doc="three passes over the row (mean, variance, normalize) in 256-wide chunks; writes mean/rstd"),
]
