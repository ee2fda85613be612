"""Triton kernels using constructs real kernel libraries use (issue 13); the oracle re-imports this module."""
import triton
import triton.language as tl


@triton.jit
def rand_kernel(u_ptr, n_ptr, i_ptr, i4_ptr, n, seed, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(u_ptr + offs, tl.rand(seed, offs), mask=m)
    tl.store(n_ptr + offs, tl.randn(seed, offs), mask=m)
    tl.store(i_ptr + offs, tl.randint(seed, offs), mask=m)
    a, b, c, d = tl.randint4x(seed, offs)
    tl.store(i4_ptr + offs, a ^ b ^ c ^ d, mask=m)


@triton.jit
def dropout_kernel(x_ptr, out_ptr, n, p, seed, BLOCK: tl.constexpr):
    """The low-memory dropout of the Triton tutorials."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m)
    keep = tl.rand(seed, offs) > p
    tl.store(out_ptr + offs, tl.where(keep, x / (1 - p), 0.0), mask=m)
