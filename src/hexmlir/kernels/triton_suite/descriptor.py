"""Tensor descriptors (tl.make_tensor_descriptor, Triton >= 3.4's replacement of block pointers).

Out-of-bounds parts of a descriptor block read as zero and are not written, so the kernels need no masks.
Descriptor strides must be multiples of 16 bytes (except the last, which is 1): the test sizes keep
rows 16-byte aligned while the row and column counts are not multiples of the blocks.
"""
import torch
import triton
import triton.language as tl

from ._common import F16, F32, Entry, randn
from .matmul import inputs_mnk


@triton.jit
def add_2d_desc_kernel(x_ptr, y_ptr, out_ptr, M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    x_desc = tl.make_tensor_descriptor(x_ptr, shape=[M, N], strides=[N, 1], block_shape=[BLOCK_M, BLOCK_N])
    y_desc = tl.make_tensor_descriptor(y_ptr, shape=[M, N], strides=[N, 1], block_shape=[BLOCK_M, BLOCK_N])
    o_desc = tl.make_tensor_descriptor(out_ptr, shape=[M, N], strides=[N, 1], block_shape=[BLOCK_M, BLOCK_N])
    off_m = tl.program_id(0) * BLOCK_M
    off_n = tl.program_id(1) * BLOCK_N
    x = x_desc.load([off_m, off_n])
    y = y_desc.load([off_m, off_n])
    o_desc.store([off_m, off_n], x + y)


def add_2d_desc(x, y, **kw):
    M, N = x.shape
    out = torch.empty_like(x)
    grid = lambda meta: (triton.cdiv(M, meta["BLOCK_M"]), triton.cdiv(N, meta["BLOCK_N"]))
    add_2d_desc_kernel[grid](x, y, out, M, N, BLOCK_M=16, BLOCK_N=64, **kw)
    return out


@triton.jit
def matmul_desc_kernel(a_ptr, b_ptr, c_ptr, M, N, K,
                       BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    a_desc = tl.make_tensor_descriptor(a_ptr, shape=[M, K], strides=[K, 1], block_shape=[BLOCK_M, BLOCK_K])
    b_desc = tl.make_tensor_descriptor(b_ptr, shape=[K, N], strides=[N, 1], block_shape=[BLOCK_K, BLOCK_N])
    c_desc = tl.make_tensor_descriptor(c_ptr, shape=[M, N], strides=[N, 1], block_shape=[BLOCK_M, BLOCK_N])
    off_m = tl.program_id(0) * BLOCK_M
    off_n = tl.program_id(1) * BLOCK_N
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, K, BLOCK_K):
        a = a_desc.load([off_m, k])
        b = b_desc.load([k, off_n])
        acc = tl.dot(a, b, acc)
    c_desc.store([off_m, off_n], acc.to(c_desc.dtype))


def matmul_desc(a, b, **kw):
    M, K = a.shape
    _, N = b.shape
    c = torch.empty((M, N), dtype=a.dtype)
    grid = lambda meta: (triton.cdiv(M, meta["BLOCK_M"]), triton.cdiv(N, meta["BLOCK_N"]))
    matmul_desc_kernel[grid](a, b, c, M, N, K, BLOCK_M=32, BLOCK_N=32, BLOCK_K=32, **kw)
    return c


_TOL = {F32: (1e-6, 1e-6), F16: (1e-3, 1e-3)}

ENTRIES = [
    Entry("add_2d_desc", "descriptor", add_2d_desc_kernel, add_2d_desc, lambda x, y: x + y,
          lambda g, s, dt: (randn(g, s, dt), randn(g, s, dt)), sizes=[(37, 104), (50, 136)], tol=_TOL,
          bench_size=(2048, 2048), doc="2-D add through three tensor descriptors, 16x64 blocks"),
    Entry("matmul_desc", "descriptor", matmul_desc_kernel, matmul_desc, lambda a, b: (a.double() @ b.double()).to(a.dtype),
          inputs_mnk, sizes=[(64, 48, 40), (37, 72, 104)], tol={F32: (1e-4, 1e-4), F16: (1e-2, 1e-2)},
          bench_size=(1024, 1024, 1024), doc="matmul with descriptor loads; zero padding covers the K tail"),
]
