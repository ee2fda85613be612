"""int8 kernels: saturating add, and a matmul of int8 operands accumulating in int32 with tl.dot."""
import torch
import triton
import triton.language as tl

from ._common import Entry, randint


@triton.jit
def int8_add_sat_kernel(x_ptr, y_ptr, out_ptr, n_elements, BLOCK_SIZE: tl.constexpr):
    pid = tl.program_id(axis=0)
    offsets = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = offsets < n_elements
    x = tl.load(x_ptr + offsets, mask=mask, other=0).to(tl.int16)
    y = tl.load(y_ptr + offsets, mask=mask, other=0).to(tl.int16)
    s = tl.minimum(tl.maximum(x + y, -128), 127)
    tl.store(out_ptr + offsets, s.to(tl.int8), mask=mask)


def int8_add_sat(x, y, **kw):
    out = torch.empty_like(x)
    n = out.numel()
    grid = lambda meta: (triton.cdiv(n, meta["BLOCK_SIZE"]),)
    int8_add_sat_kernel[grid](x, y, out, n, BLOCK_SIZE=1024, **kw)
    return out


@triton.jit
def int8_matmul_kernel(a_ptr, b_ptr, c_ptr, M, N, K,
                       stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
                       BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    a_ptrs = a_ptr + offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak
    b_ptrs = b_ptr + offs_k[:, None] * stride_bk + offs_n[None, :] * stride_bn
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.int32)
    for k in range(0, K, BLOCK_K):
        a = tl.load(a_ptrs, mask=(offs_m[:, None] < M) & (offs_k[None, :] < K - k), other=0)
        b = tl.load(b_ptrs, mask=(offs_k[:, None] < K - k) & (offs_n[None, :] < N), other=0)
        acc += tl.dot(a, b, out_dtype=tl.int32)
        a_ptrs += BLOCK_K * stride_ak
        b_ptrs += BLOCK_K * stride_bk
    c_ptrs = c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn
    tl.store(c_ptrs, acc, mask=(offs_m[:, None] < M) & (offs_n[None, :] < N))


def int8_matmul(a, b, **kw):
    M, K = a.shape
    _, N = b.shape
    c = torch.empty((M, N), dtype=torch.int32)
    grid = lambda meta: (triton.cdiv(M, meta["BLOCK_M"]), triton.cdiv(N, meta["BLOCK_N"]))
    int8_matmul_kernel[grid](a, b, c, M, N, K, a.stride(0), a.stride(1), b.stride(0), b.stride(1),
                             c.stride(0), c.stride(1), BLOCK_M=32, BLOCK_N=32, BLOCK_K=64, **kw)
    return c


I8 = torch.int8

ENTRIES = [
    Entry("int8_add_sat", "int8", int8_add_sat_kernel, int8_add_sat,
          lambda x, y: (x.to(torch.int16) + y.to(torch.int16)).clamp(-128, 127).to(I8),
          lambda g, n, dt: (randint(g, n, -128, 128, dt), randint(g, n, -128, 128, dt)),
          sizes=[1000, 4099], dtypes=(I8,), bench_size=1 << 22, doc="exact: saturating int8 add via int16"),
    Entry("int8_matmul", "int8", int8_matmul_kernel, int8_matmul,
          lambda a, b: (a.to(torch.int64) @ b.to(torch.int64)).to(torch.int32),
          lambda g, s, dt: (randint(g, (s[0], s[2]), -128, 128, dt), randint(g, (s[2], s[1]), -128, 128, dt)),
          sizes=[(64, 32, 64), (37, 70, 100)], dtypes=(I8,), bench_size=(1024, 1024, 1024),
          doc="exact: int8 x int8 tl.dot into an int32 accumulator; size (M, N, K)"),
]
