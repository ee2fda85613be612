"""hexmlir's `libdevice`: the math functions Triton kernels (and Inductor) call, built from core `tl` ops.

The backend maps `triton.language.extra.libdevice` to this module, so kernels never reference CUDA extern
symbols (`__nv_*`). Functions take fp16/bf16/fp32/fp64 (and Python scalars); half types compute in fp32 and
round back; results have the dtype of the first float argument, predicates return int32 like CUDA's
libdevice. A name this module lacks raises hexmlir.UnsupportedError at compile time.
Accuracy (fp32, against numpy in float64): within a few ulp except pow/fmod/cbrt for large magnitudes,
see docs/triton.md.
"""
import triton
import triton.language as tl

from ...errors import UnsupportedError

_PI = 3.141592653589793
_PI_2 = 1.5707963267948966
_PI_4 = 0.7853981633974483
_LN2 = 0.6931471805599453
_INV_LN10 = 0.4342944819032518


@triton.jit
def _up(x):
    """Compute type: fp64 stays fp64, everything else computes in fp32."""
    x = tl.to_tensor(x)
    if x.dtype == tl.float64:
        return x
    else:
        return x.to(tl.float32)


@triton.jit
def _down(r, x):
    """Back to the caller's float type (ints and fp32 give fp32)."""
    x = tl.to_tensor(x)
    if x.dtype.is_floating():
        return r.to(x.dtype)
    else:
        return r


# ---- direct core ops ------------------------------------------------------------------------------------

@triton.jit
def exp(x):
    return _down(tl.exp(_up(x)), x)


@triton.jit
def exp2(x):
    return _down(tl.exp2(_up(x)), x)


@triton.jit
def log(x):
    return _down(tl.log(_up(x)), x)


@triton.jit
def log2(x):
    return _down(tl.log2(_up(x)), x)


@triton.jit
def sqrt(x):
    return _down(tl.sqrt(_up(x)), x)


@triton.jit
def rsqrt(x):
    return _down(tl.rsqrt(_up(x)), x)


@triton.jit
def sin(x):
    return _down(tl.sin(_up(x)), x)


@triton.jit
def cos(x):
    return _down(tl.cos(_up(x)), x)


@triton.jit
def erf(x):
    return _down(tl.erf(_up(x)), x)


@triton.jit
def floor(x):
    return _down(tl.floor(_up(x)), x)


@triton.jit
def ceil(x):
    return _down(tl.ceil(_up(x)), x)


@triton.jit
def abs(x):
    return tl.abs(x)


@triton.jit
def fma(x, y, z):
    return _down(_up(x) * _up(y) + _up(z), x)


@triton.jit
def div_rn(x, y):
    return _down(_up(x) / _up(y), x)


@triton.jit
def mul_rn(x, y):
    return _down(_up(x) * _up(y), x)


@triton.jit
def add_rn(x, y):
    return _down(_up(x) + _up(y), x)


@triton.jit
def sub_rn(x, y):
    return _down(_up(x) - _up(y), x)


@triton.jit
def fmax(x, y):
    """NaN-ignoring maximum (C fmax)."""
    a = _up(x)
    b = _up(y)
    r = tl.where(a != a, b, tl.where(b != b, a, tl.maximum(a, b)))
    return _down(r, x)


@triton.jit
def fmin(x, y):
    a = _up(x)
    b = _up(y)
    r = tl.where(a != a, b, tl.where(b != b, a, tl.minimum(a, b)))
    return _down(r, x)


@triton.jit
def saturatef(x):
    a = _up(x)
    return _down(tl.minimum(tl.maximum(a, 0.0), 1.0), x)


# ---- predicates (int32 like CUDA's libdevice) ---------------------------------------------------------------

@triton.jit
def isnan(x):
    a = _up(x)
    return (a != a).to(tl.int32)


@triton.jit
def isinf(x):
    a = _up(x)
    return (tl.abs(a) == float("inf")).to(tl.int32)


@triton.jit
def isfinited(x):
    a = _up(x)
    return ((a == a) & (tl.abs(a) != float("inf"))).to(tl.int32)


@triton.jit
def finitef(x):
    return isfinited(x)


@triton.jit
def signbit(x):
    a = _up(x)
    if a.dtype == tl.float64:
        r = a.to(tl.int64, bitcast=True) < 0
    else:
        r = a.to(tl.int32, bitcast=True) < 0
    return r.to(tl.int32)


# ---- rounding -------------------------------------------------------------------------------------------

@triton.jit
def trunc(x):
    a = _up(x)
    return _down(tl.where(a < 0, tl.ceil(a), tl.floor(a)), x)


@triton.jit
def _rint(a):
    f = tl.floor(a)
    d = a - f
    half = f * 0.5
    f_even = tl.floor(half) == half
    up = (d > 0.5) | ((d == 0.5) & (f_even == 0))
    return tl.where(up, f + 1.0, f)


@triton.jit
def nearbyint(x):
    """Round half to even (the default rounding mode)."""
    return _down(_rint(_up(x)), x)


@triton.jit
def rint(x):
    return nearbyint(x)


@triton.jit
def llrint(x):
    return _rint(_up(x)).to(tl.int64)


@triton.jit
def round(x):
    """Round half away from zero."""
    a = _up(x)
    t = tl.where(a < 0, tl.ceil(a), tl.floor(a))
    r = tl.where(tl.abs(a - t) >= 0.5, t + tl.where(a < 0, -1.0, 1.0), t)
    return _down(r, x)


@triton.jit
def copysign(x, y):
    a = tl.abs(_up(x))
    return _down(tl.where(signbit(y) != 0, -a, a), x)


@triton.jit
def fmod(x, y):
    """x - trunc(x/y)*y (exact while the quotient fits the mantissa)."""
    a = _up(x)
    b = _up(y)
    q = a / b
    q = tl.where(q < 0, tl.ceil(q), tl.floor(q))
    return _down(a - q * b, x)


# ---- exponentials and logarithms --------------------------------------------------------------------------

@triton.jit
def fast_expf(x):
    return exp(x)


@triton.jit
def fast_exp10f(x):
    return exp10(x)


@triton.jit
def exp10(x):
    return _down(tl.exp2(_up(x) * 3.321928094887362), x)


@triton.jit
def fast_logf(x):
    return log(x)


@triton.jit
def fast_log2f(x):
    return log2(x)


@triton.jit
def fast_log10f(x):
    return log10(x)


@triton.jit
def fast_dividef(x, y):
    return div_rn(x, y)


@triton.jit
def log10(x):
    return _down(tl.log(_up(x)) * _INV_LN10, x)


@triton.jit
def _expm1(a):
    # Kahan: (u-1)*x/log(u) cancels the rounding error of u = exp(x); small |x| returns x itself.
    u = tl.exp(a)
    um1 = u - 1.0
    r = tl.where(um1 == 0.0, a, um1 * a / tl.log(u))
    r = tl.where(um1 == -1.0, -1.0, r)
    return tl.where(a > 80.0, u, r)


@triton.jit
def expm1(x):
    return _down(_expm1(_up(x)), x)


@triton.jit
def _log1p(a):
    u = 1.0 + a
    r = tl.where(u == 1.0, a, tl.log(u) * a / (u - 1.0))
    return tl.where(u == float("inf"), u, r)


@triton.jit
def log1p(x):
    return _down(_log1p(_up(x)), x)


@triton.jit
def _pow(a, b):
    # (where-chains, not &/|: b is often a scalar)
    r = tl.exp2(b * tl.log2(tl.abs(a)))
    b_int = tl.floor(b) == b
    half = b * 0.5
    neg = tl.where(tl.floor(half) != half, -r, r)             # odd integer exponent keeps the sign
    r = tl.where(a < 0, tl.where(b_int, neg, float("nan")), r)
    r = tl.where(b == 0.0, 1.0, r)
    return tl.where(a == 1.0, 1.0, r)


@triton.jit
def pow(x, y):
    """x**y (fp**fp or fp**int); exp2(y*log2|x|) with C's sign, zero and one rules."""
    return _down(_pow(_up(x), _up(y)), x)


@triton.jit
def powf(x, y):
    return pow(x, y)


@triton.jit
def powi(x, y):
    return pow(x, y)


@triton.jit
def fast_powf(x, y):
    return pow(x, y)


@triton.jit
def cbrt(x):
    a = _up(x)
    r = tl.exp2(tl.log2(tl.abs(a)) * (1.0 / 3.0))
    return _down(tl.where(a < 0, -r, r), x)


@triton.jit
def ldexp(x, n):
    return _down(_up(x) * tl.exp2(n.to(tl.float32)), x)


@triton.jit
def hypot(x, y):
    a = tl.abs(_up(x))
    b = tl.abs(_up(y))
    m = tl.maximum(a, b)
    s = tl.minimum(a, b) / tl.where(m == 0.0, 1.0, m)
    r = m * tl.sqrt(1.0 + s * s)
    r = tl.where((a != a) | (b != b), float("nan"), r)          # C: NaN unless the other one is inf
    r = tl.where((a == float("inf")) | (b == float("inf")), float("inf"), r)
    return _down(r, x)


# ---- hyperbolic -----------------------------------------------------------------------------------------

@triton.jit
def _tanh(a):
    # Taylor series near 0 (no cancellation), (1-e)/(1+e) with e = exp(-2|x|) elsewhere (no overflow).
    s = a * a
    p = s * (21844.0 / 6081075.0) - 1382.0 / 155925.0
    p = p * s + 62.0 / 2835.0
    p = p * s - 17.0 / 315.0
    p = p * s + 2.0 / 15.0
    p = p * s - 1.0 / 3.0
    small = a + a * s * p
    e = tl.exp(-2.0 * tl.abs(a))
    big = (1.0 - e) / (1.0 + e)
    big = tl.where(a < 0, -big, big)
    return tl.where(tl.abs(a) < 0.3, small, big)


@triton.jit
def tanh(x):
    return _down(_tanh(_up(x)), x)


@triton.jit
def fast_tanhf(x):
    return tanh(x)


@triton.jit
def sinh(x):
    a = _up(x)
    m = _expm1(tl.abs(a))
    r = 0.5 * (m + m / (m + 1.0))
    return _down(tl.where(a < 0, -r, r), x)


@triton.jit
def cosh(x):
    e = tl.exp(tl.abs(_up(x)))
    return _down(0.5 * (e + 1.0 / e), x)


@triton.jit
def asinh(x):
    a = _up(x)
    t = tl.abs(a)
    r = _log1p(t + t * t / (1.0 + tl.sqrt(1.0 + t * t)))
    r = tl.where(t > 1e18, tl.log(t) + _LN2, r)
    return _down(tl.where(a < 0, -r, r), x)


@triton.jit
def acosh(x):
    a = _up(x)
    r = _log1p((a - 1.0) + tl.sqrt((a - 1.0) * (a + 1.0)))   # a-1 is exact near 1
    return _down(tl.where(a > 1e18, tl.log(a) + _LN2, r), x)


@triton.jit
def atanh(x):
    a = _up(x)
    t = tl.abs(a)                   # log1p of a positive argument: well conditioned on both sides
    r = 0.5 * _log1p(2.0 * t / (1.0 - t))
    return _down(tl.where(a < 0, -r, r), x)


# ---- error function -------------------------------------------------------------------------------------

@triton.jit
def _erfc(a):
    # Chebyshev-fitted exp(-z^2 - P(t)), t = 1/(1+z/2): fractional error < 1.2e-7 for all z
    # (W. H. Press et al., Numerical Recipes, erfcc). Keeps relative accuracy in the tail where 1-erf cannot.
    z = tl.abs(a)
    t = 1.0 / (1.0 + 0.5 * z)
    p = 0.17087277 * t - 0.82215223
    p = p * t + 1.48851587
    p = p * t - 1.13520398
    p = p * t + 0.27886807
    p = p * t - 0.18628806
    p = p * t + 0.09678418
    p = p * t + 0.37409196
    p = p * t + 1.00002368
    p = p * t - 1.26551223
    r = t * tl.exp(-z * z + p)
    return tl.where(a < 0, 2.0 - r, r)


@triton.jit
def erfc(x):
    return _down(_erfc(_up(x)), x)


# ---- trigonometric --------------------------------------------------------------------------------------

@triton.jit
def tan(x):
    a = _up(x)
    return _down(tl.sin(a) / tl.cos(a), x)


@triton.jit
def _atan(a):
    # |x| > 1: pi/2 - atan(1/|x|); then t > tan(pi/8): pi/4 + atan((t-1)/(t+1)); odd series on |u| <= 0.415.
    t = tl.abs(a)
    inv = t > 1.0
    t = tl.where(inv, 1.0 / t, t)
    shift = t > 0.41421356237309503
    u = tl.where(shift, (t - 1.0) / (t + 1.0), t)
    s = u * u
    p = s * (-1.0 / 23.0) + 1.0 / 21.0
    p = p * s - 1.0 / 19.0
    p = p * s + 1.0 / 17.0
    p = p * s - 1.0 / 15.0
    p = p * s + 1.0 / 13.0
    p = p * s - 1.0 / 11.0
    p = p * s + 1.0 / 9.0
    p = p * s - 1.0 / 7.0
    p = p * s + 1.0 / 5.0
    p = p * s - 1.0 / 3.0
    r = u + u * s * p
    r = tl.where(shift, r + _PI_4, r)
    r = tl.where(inv, _PI_2 - r, r)
    return tl.where(a < 0, -r, r)


@triton.jit
def atan(x):
    return _down(_atan(_up(x)), x)


@triton.jit
def _atan2(b, a):
    # b = y, a = x
    r = _atan(b / a)
    r = tl.where(a < 0, tl.where(b < 0, r - _PI, r + _PI), r)
    r = tl.where(a == 0.0, tl.where(b > 0, _PI_2, tl.where(b < 0, -_PI_2, 0.0)), r)
    return r


@triton.jit
def atan2(y, x):
    return _down(_atan2(_up(y), _up(x)), y)


@triton.jit
def asin(x):
    a = _up(x)
    return _down(_atan2(a, tl.sqrt((1.0 - a) * (1.0 + a))), x)


@triton.jit
def acos(x):
    a = _up(x)
    return _down(_atan2(tl.sqrt((1.0 - a) * (1.0 + a)), a), x)


def __getattr__(name):
    # Triton's code generator looks names up with getattr: a function we lack is a typed, named error.
    if name.startswith("__"):
        raise AttributeError(name)
    raise UnsupportedError(f"libdevice.{name} is not provided by hexmlir's libdevice "
                           f"(hexmlir/frontends/triton/libdevice.py); write it with tl ops",
                           stage="triton-frontend", op=f"libdevice.{name}")
