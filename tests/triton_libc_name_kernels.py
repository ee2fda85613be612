"""Triton kernels named like libc/libm/runtime symbols (tests/test_symbols.py); each computes exp(x) * 2."""
import triton
import triton.language as tl


@triton.jit
def _body(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(y_ptr + offs, tl.exp(tl.load(x_ptr + offs, mask=m)) * 2.0, mask=m)


@triton.jit
def dup(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    _body(x_ptr, y_ptr, n, BLOCK)


@triton.jit
def free(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    _body(x_ptr, y_ptr, n, BLOCK)


@triton.jit
def malloc(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    _body(x_ptr, y_ptr, n, BLOCK)


@triton.jit
def exp(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    _body(x_ptr, y_ptr, n, BLOCK)


@triton.jit
def memcpy(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    _body(x_ptr, y_ptr, n, BLOCK)


@triton.jit
def hx_parallel_for(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    _body(x_ptr, y_ptr, n, BLOCK)
