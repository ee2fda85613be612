"""Kernels for tests/test_libdevice.py: every function of hexmlir's libdevice, batched into few kernels
(one compile each), through `triton.language.extra.libdevice` as user kernels call it. Row k of `out` holds
function k of the matching list below (the test reads the lists)."""
import triton
import triton.language as tl
from triton.language.extra import libdevice
from triton.language.extra.libdevice import rcp64h as _rcp64h  # noqa: F401  (imported, never called)


UNARY = ['exp', 'exp2', 'exp10', 'expm1', 'log', 'log2', 'log10', 'log1p', 'sqrt', 'rsqrt', 'cbrt', 'rcbrt', 'sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'tanh', 'asinh', 'acosh', 'atanh', 'erf', 'erfc', 'erfcx', 'normcdf', 'lgamma', 'tgamma', 'sinpi', 'cospi', 'floor', 'ceil', 'trunc', 'round', 'rint', 'nearbyint', 'abs', 'saturatef', 'sigmoid', 'logb', 'sqrt_rn', 'sqrt_rz', 'sqrt_rd', 'sqrt_ru', 'rcp_rn', 'rcp_rz', 'rcp_rd', 'rcp_ru']
U01 = ['erfinv']
P01 = ['erfcinv', 'normcdfinv']
FAST = ['fast_expf', 'fast_exp10f', 'fast_logf', 'fast_log2f', 'fast_log10f', 'fast_tanhf', 'fast_sinf', 'fast_cosf', 'fast_tanf', 'rsqrt_rn']
BINARY = ['add_rn', 'add_rz', 'add_rd', 'add_ru', 'sub_rn', 'sub_rz', 'sub_rd', 'sub_ru', 'mul_rn', 'mul_rz', 'mul_rd', 'mul_ru', 'div_rn', 'div_rz', 'div_rd', 'div_ru', 'atan2', 'hypot', 'rhypot', 'nextafter', 'fdim', 'fmod', 'remainder', 'copysign', 'fmax', 'fmin', 'pow']
TERNARY = ['fma', 'fma_rn', 'fma_rz', 'fma_rd', 'fma_ru', 'norm3d', 'rnorm3d']
QUATERNARY = ['norm4d', 'rnorm4d']


@triton.jit
def unary_kernel(x_ptr, u_ptr, p_ptr, out_ptr, n, BLOCK: tl.constexpr):
    """UNARY on x, U01 on u, P01 on p, then (fp32 only) FAST on x."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m)
    u = tl.load(u_ptr + offs, mask=m)
    p = tl.load(p_ptr + offs, mask=m)
    tl.store(out_ptr + 0 * n + offs, libdevice.exp(x), mask=m)
    tl.store(out_ptr + 1 * n + offs, libdevice.exp2(x), mask=m)
    tl.store(out_ptr + 2 * n + offs, libdevice.exp10(x), mask=m)
    tl.store(out_ptr + 3 * n + offs, libdevice.expm1(x), mask=m)
    tl.store(out_ptr + 4 * n + offs, libdevice.log(x), mask=m)
    tl.store(out_ptr + 5 * n + offs, libdevice.log2(x), mask=m)
    tl.store(out_ptr + 6 * n + offs, libdevice.log10(x), mask=m)
    tl.store(out_ptr + 7 * n + offs, libdevice.log1p(x), mask=m)
    tl.store(out_ptr + 8 * n + offs, libdevice.sqrt(x), mask=m)
    tl.store(out_ptr + 9 * n + offs, libdevice.rsqrt(x), mask=m)
    tl.store(out_ptr + 10 * n + offs, libdevice.cbrt(x), mask=m)
    tl.store(out_ptr + 11 * n + offs, libdevice.rcbrt(x), mask=m)
    tl.store(out_ptr + 12 * n + offs, libdevice.sin(x), mask=m)
    tl.store(out_ptr + 13 * n + offs, libdevice.cos(x), mask=m)
    tl.store(out_ptr + 14 * n + offs, libdevice.tan(x), mask=m)
    tl.store(out_ptr + 15 * n + offs, libdevice.asin(x), mask=m)
    tl.store(out_ptr + 16 * n + offs, libdevice.acos(x), mask=m)
    tl.store(out_ptr + 17 * n + offs, libdevice.atan(x), mask=m)
    tl.store(out_ptr + 18 * n + offs, libdevice.sinh(x), mask=m)
    tl.store(out_ptr + 19 * n + offs, libdevice.cosh(x), mask=m)
    tl.store(out_ptr + 20 * n + offs, libdevice.tanh(x), mask=m)
    tl.store(out_ptr + 21 * n + offs, libdevice.asinh(x), mask=m)
    tl.store(out_ptr + 22 * n + offs, libdevice.acosh(x), mask=m)
    tl.store(out_ptr + 23 * n + offs, libdevice.atanh(x), mask=m)
    tl.store(out_ptr + 24 * n + offs, libdevice.erf(x), mask=m)
    tl.store(out_ptr + 25 * n + offs, libdevice.erfc(x), mask=m)
    tl.store(out_ptr + 26 * n + offs, libdevice.erfcx(x), mask=m)
    tl.store(out_ptr + 27 * n + offs, libdevice.normcdf(x), mask=m)
    tl.store(out_ptr + 28 * n + offs, libdevice.lgamma(x), mask=m)
    tl.store(out_ptr + 29 * n + offs, libdevice.tgamma(x), mask=m)
    tl.store(out_ptr + 30 * n + offs, libdevice.sinpi(x), mask=m)
    tl.store(out_ptr + 31 * n + offs, libdevice.cospi(x), mask=m)
    tl.store(out_ptr + 32 * n + offs, libdevice.floor(x), mask=m)
    tl.store(out_ptr + 33 * n + offs, libdevice.ceil(x), mask=m)
    tl.store(out_ptr + 34 * n + offs, libdevice.trunc(x), mask=m)
    tl.store(out_ptr + 35 * n + offs, libdevice.round(x), mask=m)
    tl.store(out_ptr + 36 * n + offs, libdevice.rint(x), mask=m)
    tl.store(out_ptr + 37 * n + offs, libdevice.nearbyint(x), mask=m)
    tl.store(out_ptr + 38 * n + offs, libdevice.abs(x), mask=m)
    tl.store(out_ptr + 39 * n + offs, libdevice.saturatef(x), mask=m)
    tl.store(out_ptr + 40 * n + offs, libdevice.sigmoid(x), mask=m)
    tl.store(out_ptr + 41 * n + offs, libdevice.logb(x), mask=m)
    tl.store(out_ptr + 42 * n + offs, libdevice.sqrt_rn(x), mask=m)
    tl.store(out_ptr + 43 * n + offs, libdevice.sqrt_rz(x), mask=m)
    tl.store(out_ptr + 44 * n + offs, libdevice.sqrt_rd(x), mask=m)
    tl.store(out_ptr + 45 * n + offs, libdevice.sqrt_ru(x), mask=m)
    tl.store(out_ptr + 46 * n + offs, libdevice.rcp_rn(x), mask=m)
    tl.store(out_ptr + 47 * n + offs, libdevice.rcp_rz(x), mask=m)
    tl.store(out_ptr + 48 * n + offs, libdevice.rcp_rd(x), mask=m)
    tl.store(out_ptr + 49 * n + offs, libdevice.rcp_ru(x), mask=m)
    tl.store(out_ptr + 50 * n + offs, libdevice.erfinv(u), mask=m)
    tl.store(out_ptr + 51 * n + offs, libdevice.erfcinv(p), mask=m)
    tl.store(out_ptr + 52 * n + offs, libdevice.normcdfinv(p), mask=m)
    if x.dtype == tl.float32:
        tl.store(out_ptr + 53 * n + offs, libdevice.fast_expf(x), mask=m)
        tl.store(out_ptr + 54 * n + offs, libdevice.fast_exp10f(x), mask=m)
        tl.store(out_ptr + 55 * n + offs, libdevice.fast_logf(x), mask=m)
        tl.store(out_ptr + 56 * n + offs, libdevice.fast_log2f(x), mask=m)
        tl.store(out_ptr + 57 * n + offs, libdevice.fast_log10f(x), mask=m)
        tl.store(out_ptr + 58 * n + offs, libdevice.fast_tanhf(x), mask=m)
        tl.store(out_ptr + 59 * n + offs, libdevice.fast_sinf(x), mask=m)
        tl.store(out_ptr + 60 * n + offs, libdevice.fast_cosf(x), mask=m)
        tl.store(out_ptr + 61 * n + offs, libdevice.fast_tanf(x), mask=m)
        tl.store(out_ptr + 62 * n + offs, libdevice.rsqrt_rn(x), mask=m)


@triton.jit
def binary_kernel(x_ptr, y_ptr, z_ptr, w_ptr, k_ptr, out_ptr, n, BLOCK: tl.constexpr):
    """BINARY on (x, y), TERNARY on (x, y, z), QUATERNARY on (x, y, z, w), then scalbn and ldexp on (x, k)."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m)
    y = tl.load(y_ptr + offs, mask=m)
    z = tl.load(z_ptr + offs, mask=m)
    w = tl.load(w_ptr + offs, mask=m)
    k = tl.load(k_ptr + offs, mask=m)
    tl.store(out_ptr + 0 * n + offs, libdevice.add_rn(x, y), mask=m)
    tl.store(out_ptr + 1 * n + offs, libdevice.add_rz(x, y), mask=m)
    tl.store(out_ptr + 2 * n + offs, libdevice.add_rd(x, y), mask=m)
    tl.store(out_ptr + 3 * n + offs, libdevice.add_ru(x, y), mask=m)
    tl.store(out_ptr + 4 * n + offs, libdevice.sub_rn(x, y), mask=m)
    tl.store(out_ptr + 5 * n + offs, libdevice.sub_rz(x, y), mask=m)
    tl.store(out_ptr + 6 * n + offs, libdevice.sub_rd(x, y), mask=m)
    tl.store(out_ptr + 7 * n + offs, libdevice.sub_ru(x, y), mask=m)
    tl.store(out_ptr + 8 * n + offs, libdevice.mul_rn(x, y), mask=m)
    tl.store(out_ptr + 9 * n + offs, libdevice.mul_rz(x, y), mask=m)
    tl.store(out_ptr + 10 * n + offs, libdevice.mul_rd(x, y), mask=m)
    tl.store(out_ptr + 11 * n + offs, libdevice.mul_ru(x, y), mask=m)
    tl.store(out_ptr + 12 * n + offs, libdevice.div_rn(x, y), mask=m)
    tl.store(out_ptr + 13 * n + offs, libdevice.div_rz(x, y), mask=m)
    tl.store(out_ptr + 14 * n + offs, libdevice.div_rd(x, y), mask=m)
    tl.store(out_ptr + 15 * n + offs, libdevice.div_ru(x, y), mask=m)
    tl.store(out_ptr + 16 * n + offs, libdevice.atan2(x, y), mask=m)
    tl.store(out_ptr + 17 * n + offs, libdevice.hypot(x, y), mask=m)
    tl.store(out_ptr + 18 * n + offs, libdevice.rhypot(x, y), mask=m)
    tl.store(out_ptr + 19 * n + offs, libdevice.nextafter(x, y), mask=m)
    tl.store(out_ptr + 20 * n + offs, libdevice.fdim(x, y), mask=m)
    tl.store(out_ptr + 21 * n + offs, libdevice.fmod(x, y), mask=m)
    tl.store(out_ptr + 22 * n + offs, libdevice.remainder(x, y), mask=m)
    tl.store(out_ptr + 23 * n + offs, libdevice.copysign(x, y), mask=m)
    tl.store(out_ptr + 24 * n + offs, libdevice.fmax(x, y), mask=m)
    tl.store(out_ptr + 25 * n + offs, libdevice.fmin(x, y), mask=m)
    tl.store(out_ptr + 26 * n + offs, libdevice.pow(x, y), mask=m)
    tl.store(out_ptr + 27 * n + offs, libdevice.fma(x, y, z), mask=m)
    tl.store(out_ptr + 28 * n + offs, libdevice.fma_rn(x, y, z), mask=m)
    tl.store(out_ptr + 29 * n + offs, libdevice.fma_rz(x, y, z), mask=m)
    tl.store(out_ptr + 30 * n + offs, libdevice.fma_rd(x, y, z), mask=m)
    tl.store(out_ptr + 31 * n + offs, libdevice.fma_ru(x, y, z), mask=m)
    tl.store(out_ptr + 32 * n + offs, libdevice.norm3d(x, y, z), mask=m)
    tl.store(out_ptr + 33 * n + offs, libdevice.rnorm3d(x, y, z), mask=m)
    tl.store(out_ptr + 34 * n + offs, libdevice.norm4d(x, y, z, w), mask=m)
    tl.store(out_ptr + 35 * n + offs, libdevice.rnorm4d(x, y, z, w), mask=m)
    tl.store(out_ptr + 36 * n + offs, libdevice.scalbn(x, k), mask=m)
    tl.store(out_ptr + 37 * n + offs, libdevice.ldexp(x, k), mask=m)


F2I = ["float2int", "float2uint", "float2ll", "float2ull"]
D2I = ["double2int", "double2uint", "double2ll", "double2ull"]
MODES = ["rn", "rz", "rd", "ru"]


@triton.jit
def conv_kernel(f_ptr, d_ptr, i_ptr, j_ptr, l_ptr, s_ptr,
                of_ptr, od_ptr, oi_ptr, ol_ptr, n, BLOCK: tl.constexpr):
    """Conversions and bit functions. f fp32, d fp64, i/j int32, l int64, s int32 (byte_perm selectors).
    of (fp32 rows), od (fp64 rows), oi (int32 rows), ol (int64 rows): the row order is the test's."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    f = tl.load(f_ptr + offs, mask=m)
    d = tl.load(d_ptr + offs, mask=m)
    i = tl.load(i_ptr + offs, mask=m)
    j = tl.load(j_ptr + offs, mask=m)
    li = tl.load(l_ptr + offs, mask=m)
    s = tl.load(s_ptr + offs, mask=m)
    # fp32 rows
    tl.store(of_ptr + 0 * n + offs, libdevice.double2float_rn(d), mask=m)
    tl.store(of_ptr + 1 * n + offs, libdevice.double2float_rz(d), mask=m)
    tl.store(of_ptr + 2 * n + offs, libdevice.double2float_rd(d), mask=m)
    tl.store(of_ptr + 3 * n + offs, libdevice.double2float_ru(d), mask=m)
    tl.store(of_ptr + 4 * n + offs, libdevice.int2float_rn(i), mask=m)
    tl.store(of_ptr + 5 * n + offs, libdevice.int2float_rz(i), mask=m)
    tl.store(of_ptr + 6 * n + offs, libdevice.int2float_rd(i), mask=m)
    tl.store(of_ptr + 7 * n + offs, libdevice.int2float_ru(i), mask=m)
    tl.store(of_ptr + 8 * n + offs, libdevice.uint2float_rn(i), mask=m)
    tl.store(of_ptr + 9 * n + offs, libdevice.uint2float_rz(i), mask=m)
    tl.store(of_ptr + 10 * n + offs, libdevice.uint2float_rd(i), mask=m)
    tl.store(of_ptr + 11 * n + offs, libdevice.uint2float_ru(i), mask=m)
    tl.store(of_ptr + 12 * n + offs, libdevice.ll2float_rn(li), mask=m)
    tl.store(of_ptr + 13 * n + offs, libdevice.ll2float_rz(li), mask=m)
    tl.store(of_ptr + 14 * n + offs, libdevice.ll2float_rd(li), mask=m)
    tl.store(of_ptr + 15 * n + offs, libdevice.ll2float_ru(li), mask=m)
    tl.store(of_ptr + 16 * n + offs, libdevice.ull2float_rn(li), mask=m)
    tl.store(of_ptr + 17 * n + offs, libdevice.ull2float_rz(li), mask=m)
    tl.store(of_ptr + 18 * n + offs, libdevice.ull2float_rd(li), mask=m)
    tl.store(of_ptr + 19 * n + offs, libdevice.ull2float_ru(li), mask=m)
    tl.store(of_ptr + 20 * n + offs, libdevice.int_as_float(i), mask=m)
    tl.store(of_ptr + 21 * n + offs, libdevice.uint_as_float(i), mask=m)
    # fp64 rows
    tl.store(od_ptr + 0 * n + offs, libdevice.int2double_rn(i), mask=m)
    tl.store(od_ptr + 1 * n + offs, libdevice.uint2double_rn(i), mask=m)
    tl.store(od_ptr + 2 * n + offs, libdevice.ll2double_rn(li), mask=m)
    tl.store(od_ptr + 3 * n + offs, libdevice.ll2double_rz(li), mask=m)
    tl.store(od_ptr + 4 * n + offs, libdevice.ll2double_rd(li), mask=m)
    tl.store(od_ptr + 5 * n + offs, libdevice.ll2double_ru(li), mask=m)
    tl.store(od_ptr + 6 * n + offs, libdevice.ull2double_rn(li), mask=m)
    tl.store(od_ptr + 7 * n + offs, libdevice.ull2double_rz(li), mask=m)
    tl.store(od_ptr + 8 * n + offs, libdevice.ull2double_rd(li), mask=m)
    tl.store(od_ptr + 9 * n + offs, libdevice.ull2double_ru(li), mask=m)
    tl.store(od_ptr + 10 * n + offs, libdevice.longlong_as_double(li), mask=m)
    tl.store(od_ptr + 11 * n + offs, libdevice.hiloint2double(i, j), mask=m)
    # int32 rows: float2int/uint x modes, double2int/uint x modes, then bit functions
    tl.store(oi_ptr + 0 * n + offs, libdevice.float2int_rn(f), mask=m)
    tl.store(oi_ptr + 1 * n + offs, libdevice.float2int_rz(f), mask=m)
    tl.store(oi_ptr + 2 * n + offs, libdevice.float2int_rd(f), mask=m)
    tl.store(oi_ptr + 3 * n + offs, libdevice.float2int_ru(f), mask=m)
    tl.store(oi_ptr + 4 * n + offs, libdevice.float2uint_rn(f), mask=m)
    tl.store(oi_ptr + 5 * n + offs, libdevice.float2uint_rz(f), mask=m)
    tl.store(oi_ptr + 6 * n + offs, libdevice.float2uint_rd(f), mask=m)
    tl.store(oi_ptr + 7 * n + offs, libdevice.float2uint_ru(f), mask=m)
    tl.store(oi_ptr + 8 * n + offs, libdevice.double2int_rn(d), mask=m)
    tl.store(oi_ptr + 9 * n + offs, libdevice.double2int_rz(d), mask=m)
    tl.store(oi_ptr + 10 * n + offs, libdevice.double2int_rd(d), mask=m)
    tl.store(oi_ptr + 11 * n + offs, libdevice.double2int_ru(d), mask=m)
    tl.store(oi_ptr + 12 * n + offs, libdevice.double2uint_rn(d), mask=m)
    tl.store(oi_ptr + 13 * n + offs, libdevice.double2uint_rz(d), mask=m)
    tl.store(oi_ptr + 14 * n + offs, libdevice.double2uint_rd(d), mask=m)
    tl.store(oi_ptr + 15 * n + offs, libdevice.double2uint_ru(d), mask=m)
    tl.store(oi_ptr + 16 * n + offs, libdevice.float_as_int(f), mask=m)
    tl.store(oi_ptr + 17 * n + offs, libdevice.float_as_uint(f), mask=m)
    tl.store(oi_ptr + 18 * n + offs, libdevice.double2hiint(d), mask=m)
    tl.store(oi_ptr + 19 * n + offs, libdevice.double2loint(d), mask=m)
    tl.store(oi_ptr + 20 * n + offs, libdevice.clz(i), mask=m)
    tl.store(oi_ptr + 21 * n + offs, libdevice.clz(li), mask=m)
    tl.store(oi_ptr + 22 * n + offs, libdevice.popc(i), mask=m)
    tl.store(oi_ptr + 23 * n + offs, libdevice.popc(li), mask=m)
    tl.store(oi_ptr + 24 * n + offs, libdevice.ffs(i), mask=m)
    tl.store(oi_ptr + 25 * n + offs, libdevice.ffs(li), mask=m)
    tl.store(oi_ptr + 26 * n + offs, libdevice.brev(i), mask=m)
    tl.store(oi_ptr + 27 * n + offs, libdevice.byte_perm(i, j, s), mask=m)
    tl.store(oi_ptr + 28 * n + offs, libdevice.mulhi(i, j), mask=m)
    tl.store(oi_ptr + 29 * n + offs, libdevice.mulhi(i.to(tl.uint32, bitcast=True), j.to(tl.uint32, bitcast=True)), mask=m)
    tl.store(oi_ptr + 30 * n + offs, libdevice.mul24(i, j), mask=m)
    tl.store(oi_ptr + 31 * n + offs, libdevice.mul24(i.to(tl.uint32, bitcast=True), j.to(tl.uint32, bitcast=True)), mask=m)
    tl.store(oi_ptr + 32 * n + offs, libdevice.sad(i, j, s), mask=m)
    tl.store(oi_ptr + 33 * n + offs, libdevice.sad(i.to(tl.uint32, bitcast=True), j.to(tl.uint32, bitcast=True), s.to(tl.uint32, bitcast=True)), mask=m)
    tl.store(oi_ptr + 34 * n + offs, libdevice.hadd(i, j), mask=m)
    tl.store(oi_ptr + 35 * n + offs, libdevice.hadd(i.to(tl.uint32, bitcast=True), j.to(tl.uint32, bitcast=True)), mask=m)
    tl.store(oi_ptr + 36 * n + offs, libdevice.rhadd(i, j), mask=m)
    tl.store(oi_ptr + 37 * n + offs, libdevice.rhadd(i.to(tl.uint32, bitcast=True), j.to(tl.uint32, bitcast=True)), mask=m)
    tl.store(oi_ptr + 38 * n + offs, libdevice.ilogb(f), mask=m)
    tl.store(oi_ptr + 39 * n + offs, libdevice.ilogb(d), mask=m)
    tl.store(oi_ptr + 40 * n + offs, libdevice.isnan(f), mask=m)
    tl.store(oi_ptr + 41 * n + offs, libdevice.isinf(f), mask=m)
    tl.store(oi_ptr + 42 * n + offs, libdevice.signbit(f), mask=m)
    tl.store(oi_ptr + 43 * n + offs, libdevice.finitef(f), mask=m)
    tl.store(oi_ptr + 44 * n + offs, libdevice.isfinited(d), mask=m)
    # int64 rows
    tl.store(ol_ptr + 0 * n + offs, libdevice.float2ll_rn(f), mask=m)
    tl.store(ol_ptr + 1 * n + offs, libdevice.float2ll_rz(f), mask=m)
    tl.store(ol_ptr + 2 * n + offs, libdevice.float2ll_rd(f), mask=m)
    tl.store(ol_ptr + 3 * n + offs, libdevice.float2ll_ru(f), mask=m)
    tl.store(ol_ptr + 4 * n + offs, libdevice.float2ull_rn(f), mask=m)
    tl.store(ol_ptr + 5 * n + offs, libdevice.float2ull_rz(f), mask=m)
    tl.store(ol_ptr + 6 * n + offs, libdevice.float2ull_rd(f), mask=m)
    tl.store(ol_ptr + 7 * n + offs, libdevice.float2ull_ru(f), mask=m)
    tl.store(ol_ptr + 8 * n + offs, libdevice.double2ll_rn(d), mask=m)
    tl.store(ol_ptr + 9 * n + offs, libdevice.double2ll_rz(d), mask=m)
    tl.store(ol_ptr + 10 * n + offs, libdevice.double2ll_rd(d), mask=m)
    tl.store(ol_ptr + 11 * n + offs, libdevice.double2ll_ru(d), mask=m)
    tl.store(ol_ptr + 12 * n + offs, libdevice.double2ull_rn(d), mask=m)
    tl.store(ol_ptr + 13 * n + offs, libdevice.double2ull_rz(d), mask=m)
    tl.store(ol_ptr + 14 * n + offs, libdevice.double2ull_rd(d), mask=m)
    tl.store(ol_ptr + 15 * n + offs, libdevice.double2ull_ru(d), mask=m)
    tl.store(ol_ptr + 16 * n + offs, libdevice.double_as_longlong(d), mask=m)
    tl.store(ol_ptr + 17 * n + offs, libdevice.llround(f), mask=m)
    tl.store(ol_ptr + 18 * n + offs, libdevice.llround(d), mask=m)
    tl.store(ol_ptr + 19 * n + offs, libdevice.llrint(f), mask=m)
    tl.store(ol_ptr + 20 * n + offs, libdevice.clz(li).to(tl.int64), mask=m)
    tl.store(ol_ptr + 21 * n + offs, libdevice.brev(li), mask=m)
    tl.store(ol_ptr + 22 * n + offs, libdevice.mulhi(li, li * 3 + 12345), mask=m)
    tl.store(ol_ptr + 23 * n + offs, libdevice.mulhi(li.to(tl.uint64, bitcast=True), (li * 3 + 12345).to(tl.uint64, bitcast=True)).to(tl.int64, bitcast=True), mask=m)


@triton.jit
def lazy_missing_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr, USE: tl.constexpr):
    """Mentions libdevice.not_a_libdevice_fn (a name hexmlir lacks) only in a branch USE=False switches off."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m)
    if USE:
        x = libdevice.not_a_libdevice_fn(x)
    tl.store(out_ptr + offs, libdevice.atan(x), mask=m)


@triton.jit
def never_launched_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, libdevice.not_a_libdevice_fn(tl.load(x_ptr + offs)))


@triton.jit
def core_kernel(x_ptr, y_ptr, u_ptr, out_ptr, n, BLOCK: tl.constexpr):
    """The default tier's fp32 kernel: the names that read constexpr globals, sigmoid, and the most used
    of the new ones (CORE, in this order)."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m)
    y = tl.load(y_ptr + offs, mask=m)
    u = tl.load(u_ptr + offs, mask=m)
    tl.store(out_ptr + 0 * n + offs, libdevice.log10(x), mask=m)
    tl.store(out_ptr + 1 * n + offs, libdevice.asin(u), mask=m)
    tl.store(out_ptr + 2 * n + offs, libdevice.acos(u), mask=m)
    tl.store(out_ptr + 3 * n + offs, libdevice.atan(x), mask=m)
    tl.store(out_ptr + 4 * n + offs, libdevice.atan2(x, y), mask=m)
    tl.store(out_ptr + 5 * n + offs, libdevice.asinh(x), mask=m)
    tl.store(out_ptr + 6 * n + offs, libdevice.acosh(x), mask=m)
    tl.store(out_ptr + 7 * n + offs, libdevice.sigmoid(x), mask=m)
    tl.store(out_ptr + 8 * n + offs, libdevice.erfinv(u), mask=m)
    tl.store(out_ptr + 9 * n + offs, libdevice.lgamma(x), mask=m)
    tl.store(out_ptr + 10 * n + offs, libdevice.div_rz(x, y), mask=m)
    tl.store(out_ptr + 11 * n + offs, libdevice.add_rd(x, y), mask=m)
    tl.store(out_ptr + 12 * n + offs, libdevice.sqrt_ru(x), mask=m)
    tl.store(out_ptr + 13 * n + offs, libdevice.float2int_rd(x).to(tl.float32), mask=m)
    tl.store(out_ptr + 14 * n + offs, libdevice.int_as_float(libdevice.brev(libdevice.float_as_int(x))), mask=m)
    tl.store(out_ptr + 15 * n + offs, libdevice.div_rn(x, y), mask=m)


CORE = ["log10", "asin", "acos", "atan", "atan2", "asinh", "acosh", "sigmoid", "erfinv", "lgamma", "div_rz",
        "add_rd", "sqrt_ru", "float2int_rd", "brev", "div_rn"]


@triton.jit
def bessel_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    """Rows of out: j0 j1 y0 y1 cyl_bessel_i0 cyl_bessel_i1 of x."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m, other=1.0)
    tl.store(out_ptr + 0 * n + offs, libdevice.j0(x), mask=m)
    tl.store(out_ptr + 1 * n + offs, libdevice.j1(x), mask=m)
    tl.store(out_ptr + 2 * n + offs, libdevice.y0(x), mask=m)
    tl.store(out_ptr + 3 * n + offs, libdevice.y1(x), mask=m)
    tl.store(out_ptr + 4 * n + offs, libdevice.cyl_bessel_i0(x), mask=m)
    tl.store(out_ptr + 5 * n + offs, libdevice.cyl_bessel_i1(x), mask=m)


@triton.jit
def bessel_n_kernel(x_ptr, out_ptr, n, order, BLOCK: tl.constexpr):
    """Rows of out: jn(order, x), yn(order, x)."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m, other=1.0)
    tl.store(out_ptr + offs, libdevice.jn(order, x), mask=m)
    tl.store(out_ptr + n + offs, libdevice.yn(order, x), mask=m)


@triton.jit
def pow_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(out_ptr + offs, libdevice.pow(tl.load(x_ptr + offs, mask=m), tl.load(y_ptr + offs, mask=m)), mask=m)


@triton.jit
def mod_norm_kernel(x_ptr, y_ptr, z_ptr, out_ptr, n, BLOCK: tl.constexpr):
    """fmod, remainder, rnorm3d, rhypot (tests/test_libdevice.py::test_fp64_mod_and_rnorm_edges)."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m)
    y = tl.load(y_ptr + offs, mask=m)
    z = tl.load(z_ptr + offs, mask=m)
    tl.store(out_ptr + 0 * n + offs, libdevice.fmod(x, y), mask=m)
    tl.store(out_ptr + 1 * n + offs, libdevice.remainder(x, y), mask=m)
    tl.store(out_ptr + 2 * n + offs, libdevice.rnorm3d(x, y, z), mask=m)
    tl.store(out_ptr + 3 * n + offs, libdevice.rhypot(x, y), mask=m)


@triton.jit
def rcp64h_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(out_ptr + offs, libdevice.rcp64h(tl.load(x_ptr + offs, mask=m)), mask=m)
