"""Small Triton kernels for the backend-plugin tests (imported in-process and by the interpreter oracle)."""
import triton
import triton.language as tl
from triton.language.extra import libdevice

from hexmlir.frontends.triton import libdevice as hxl


@triton.jit
def add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m)
    y = tl.load(y_ptr + offs, mask=m)
    tl.store(out_ptr + offs, x + y, mask=m)


@triton.jit
def assume_add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    """tl.assume as Inductor's matmul templates write it: a hint the conversion drops."""
    pid = tl.program_id(0)
    tl.assume(pid >= 0)
    tl.assume(n > 0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m) + tl.load(y_ptr + offs, mask=m), mask=m)


@triton.jit
def axpy_kernel(x_ptr, y_ptr, out_ptr, n, alpha, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m)
    y = tl.load(y_ptr + offs, mask=m)
    tl.store(out_ptr + offs, alpha * x + y, mask=m)


@triton.jit
def libdevice_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    """Inductor-style calls through triton.language.extra.libdevice (mapped to hexmlir's module)."""
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m, other=1.0)
    tl.store(out_ptr + offs, libdevice.tanh(x), mask=m)
    tl.store(out_ptr + n + offs, libdevice.erf(x), mask=m)
    tl.store(out_ptr + 2 * n + offs, libdevice.exp(x), mask=m)
    tl.store(out_ptr + 3 * n + offs, libdevice.rsqrt(tl.abs(x) + 1.0), mask=m)
    tl.store(out_ptr + 4 * n + offs, libdevice.pow(tl.abs(x), 1.5), mask=m)


@triton.jit
def hx_unary_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    """hexmlir's libdevice formulas, one row of `out` per function (checked under the interpreter)."""
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m, other=0.5)
    tl.store(out_ptr + 0 * n + offs, hxl.tanh(x), mask=m)
    tl.store(out_ptr + 1 * n + offs, hxl.expm1(x), mask=m)
    tl.store(out_ptr + 2 * n + offs, hxl.log1p(tl.abs(x)), mask=m)
    tl.store(out_ptr + 3 * n + offs, hxl.sinh(x), mask=m)
    tl.store(out_ptr + 4 * n + offs, hxl.cosh(x), mask=m)
    tl.store(out_ptr + 5 * n + offs, hxl.asinh(x), mask=m)
    tl.store(out_ptr + 6 * n + offs, hxl.atan(x), mask=m)
    tl.store(out_ptr + 7 * n + offs, hxl.erfc(x), mask=m)
    tl.store(out_ptr + 8 * n + offs, hxl.log10(tl.abs(x) + 0.01), mask=m)
    tl.store(out_ptr + 9 * n + offs, hxl.nearbyint(x * 4.0), mask=m)
    tl.store(out_ptr + 10 * n + offs, hxl.trunc(x * 4.0), mask=m)
    tl.store(out_ptr + 11 * n + offs, hxl.round(x * 4.0), mask=m)
    tl.store(out_ptr + 12 * n + offs, hxl.signbit(x).to(tl.float32), mask=m)
    tl.store(out_ptr + 13 * n + offs, hxl.cbrt(x), mask=m)
    tl.store(out_ptr + 14 * n + offs, hxl.asin(x * 0.25), mask=m)
    tl.store(out_ptr + 15 * n + offs, hxl.acos(x * 0.25), mask=m)
    tl.store(out_ptr + 16 * n + offs, hxl.tan(x * 0.25), mask=m)
    tl.store(out_ptr + 17 * n + offs, hxl.atanh(x * 0.25), mask=m)
    tl.store(out_ptr + 18 * n + offs, hxl.acosh(tl.abs(x) + 1.0), mask=m)
    tl.store(out_ptr + 19 * n + offs, hxl.isnan(tl.log(x)).to(tl.float32), mask=m)


@triton.jit
def hx_binary_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m, other=1.0)
    y = tl.load(y_ptr + offs, mask=m, other=1.0)
    tl.store(out_ptr + 0 * n + offs, hxl.pow(x, y), mask=m)
    tl.store(out_ptr + 1 * n + offs, hxl.atan2(x, y), mask=m)
    tl.store(out_ptr + 2 * n + offs, hxl.fmod(x, y), mask=m)
    tl.store(out_ptr + 3 * n + offs, hxl.hypot(x, y), mask=m)
    tl.store(out_ptr + 4 * n + offs, hxl.copysign(x, y), mask=m)
    tl.store(out_ptr + 5 * n + offs, hxl.pow(x, 3.0), mask=m)


@triton.autotune(configs=[triton.Config({"BLOCK": 64}), triton.Config({"BLOCK": 128, "num_threads": 2}),
                          triton.Config({"BLOCK": 256, "vectorize": False})], key=["n"])
@triton.jit
def add_autotuned(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m) + tl.load(y_ptr + offs, mask=m), mask=m)


@triton.heuristics({"EVEN": lambda args: args["n"] % args["BLOCK"] == 0})
@triton.jit
def scale_heuristic(x_ptr, out_ptr, n, BLOCK: tl.constexpr, EVEN: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    if EVEN:
        tl.store(out_ptr + offs, tl.load(x_ptr + offs) * 3.0)
    else:
        m = offs < n
        tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=m) * 3.0, mask=m)


@triton.jit
def inline_asm_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs)
    y = tl.inline_asm_elementwise("mov.b32 $0, $1;", "=r,r", [x], dtype=tl.float32, is_pure=True, pack=1)
    tl.store(out_ptr + offs, y)


@triton.jit
def missing_libdevice_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs)
    tl.store(out_ptr + offs, libdevice.not_a_libdevice_fn(x))


@triton.jit
def grid3d_kernel(out_ptr, nx, ny, nz, BLOCK: tl.constexpr):
    """out[z, y, x] = x + 1000*y + 1e6*z from the three program ids (x in blocks of BLOCK)."""
    px, py, pz = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    offs = px * BLOCK + tl.arange(0, BLOCK)
    v = offs + 1000 * py + 1000000 * pz
    tl.store(out_ptr + pz * ny * nx + py * nx + offs, v, mask=offs < nx)
