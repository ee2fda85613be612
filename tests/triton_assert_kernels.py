"""Triton kernels with tl.device_assert for tests/test_asserts.py (also run by the interpreter oracle).
Assertions are compiled only in debug mode (`@triton.jit(debug=True)` or TRITON_DEBUG=1)."""
import triton
import triton.language as tl


@triton.jit(debug=True)
def gather_assert_kernel(ids_ptr, tab_ptr, out_ptr, n, rows, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    i = tl.load(ids_ptr + offs, mask=m, other=0)
    tl.device_assert((i >= 0) & (i < rows), "gather index out of range", mask=m)
    tl.store(out_ptr + offs, tl.load(tab_ptr + i, mask=m) * 2.0, mask=m)


@triton.jit(debug=True)
def scale_assert_kernel(x_ptr, out_ptr, n, scale, BLOCK: tl.constexpr):
    tl.device_assert(scale > 0, "scale must be positive")
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m) * scale, mask=m)
