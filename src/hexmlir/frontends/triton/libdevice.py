"""hexmlir's `libdevice`: the math functions Triton kernels (and Inductor) call, built from core `tl` ops.

The backend maps `triton.language.extra.libdevice` to this module, so kernels never reference CUDA extern
symbols (`__nv_*`). It provides all 197 names of Triton's CUDA libdevice (plus `sigmoid`): fp32 and
fp64 (half types compute in fp32 and round back), predicates and conversions with CUDA's result types.
Directed-rounding arithmetic and conversions are exact (error-free transformations, one-ulp steps through
the bits). A name this module lacks raises hexmlir.UnsupportedError when a kernel calls it (not when a
module merely refers to it); UNSUPPORTED says why. Measured accuracy: docs/triton.md, libdevice.
"""
import triton
import triton.language as tl

from ...errors import UnsupportedError

# Triton's JIT reads only `tl.constexpr` globals (the interpreter accepts any): plain floats here broke
# every function that used them under the real frontend.
_PI: tl.constexpr = tl.constexpr(3.141592653589793)
_PI_2: tl.constexpr = tl.constexpr(1.5707963267948966)
_PI_4: tl.constexpr = tl.constexpr(0.7853981633974483)
_LN2: tl.constexpr = tl.constexpr(0.6931471805599453)
_INV_LN10: tl.constexpr = tl.constexpr(0.4342944819032518)


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
    """Fused: x*y + z rounded once (the unfused form overflowed or lost the product's low bits)."""
    return _fma_dir(x, y, z, 0)


@triton.jit
def div_rn(x, y):
    """IEEE division (fp32 through fp64: fast_math rewrites an fp32 `/` into a reciprocal approximation)."""
    return _div_dir(x, y, 0)


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


# ---- exponentials and logarithms --------------------------------------------------------------------------

@triton.jit
def fast_expf(x):
    return exp(x)


@triton.jit
def fast_exp10f(x):
    return exp10(x)


@triton.jit
def exp10(x):
    return _down(tl.exp2(_up(x).to(tl.float64) * 3.321928094887362), x)


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
    return _down(tl.log(_up(x).to(tl.float64)) * _INV_LN10, x)


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
    return _down(_expm1(_up(x).to(tl.float64)), x)


@triton.jit
def _log1p(a):
    u = 1.0 + a
    r = tl.where(u == 1.0, a, tl.log(u) * a / (u - 1.0))
    return tl.where(u == float("inf"), u, r)


@triton.jit
def log1p(x):
    return _down(_log1p(_up(x).to(tl.float64)), x)


@triton.jit
def _pow(a, b):
    # (where-chains, not &/|: b is often a scalar)
    r = tl.exp2(b * tl.log2(tl.abs(a)))
    b_int = tl.floor(b) == b
    half = b * 0.5
    neg = tl.where(tl.floor(half) != half, -r, r)             # odd integer exponent keeps the sign
    negative = tl.where(a == 0.0, 1.0 / a, a) < 0             # -0 counts (1/-0 = -inf)
    # a negative base with a non-integer exponent is NaN only when finite and nonzero: -0 and -inf give r
    special = tl.where(a == 0.0, True, tl.abs(a) == float("inf"))
    r = tl.where(negative, tl.where(b_int, neg, tl.where(special, r, float("nan"))), r)
    r = tl.where(a == -1.0, tl.where(tl.abs(b) == float("inf"), 1.0, r), r)     # (-1)**(+-inf) = 1
    r = tl.where(b == 1.0, a, r)                  # exact (exp2(log2 x) would round FLT_MAX up to inf)
    r = tl.where(b == 0.0, 1.0, r)
    return tl.where(a == 1.0, 1.0, r)


@triton.jit
def pow(x, y):
    """x**y (fp**fp or fp**int); exp2(y*log2|x|) with C's sign, zero and one rules. Computed in fp64: in
    fp32 the rounding of y*log2|x| is multiplied by |y log2 x| (tens of ulp for large or tiny results)."""
    return _down(_pow(_up(x).to(tl.float64), _up(y).to(tl.float64)), x)


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
def hypot(x, y):
    a = tl.abs(_up(x).to(tl.float64))
    b = tl.abs(_up(y).to(tl.float64))
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
    a = _up(x).to(tl.float64)
    m = _expm1(tl.abs(a))
    r = 0.5 * (m + m / (m + 1.0))
    r = tl.where(m == float("inf"), m, r)                 # (inf/inf)
    return _down(tl.where(a < 0, -r, r), x)


@triton.jit
def cosh(x):
    e = tl.exp(tl.abs(_up(x).to(tl.float64)))
    return _down(0.5 * (e + 1.0 / e), x)


@triton.jit
def asinh(x):
    a = _up(x).to(tl.float64)
    t = tl.abs(a)
    r = _log1p(t + t * t / (1.0 + tl.sqrt(1.0 + t * t)))
    r = tl.where(t > 1e18, tl.log(t) + _LN2, r)
    return _down(tl.where(a < 0, -r, r), x)


@triton.jit
def acosh(x):
    a = _up(x).to(tl.float64)
    r = _log1p((a - 1.0) + tl.sqrt((a - 1.0) * (a + 1.0)))   # a-1 is exact near 1
    r = tl.where(a > 1e18, tl.log(a) + _LN2, r)
    return _down(tl.where(a < 1.0, float("nan"), r), x)


@triton.jit
def atanh(x):
    a = _up(x).to(tl.float64)
    t = tl.abs(a)                   # log1p of a positive argument: well conditioned on both sides
    r = 0.5 * _log1p(2.0 * t / (1.0 - t))
    return _down(tl.where(a < 0, -r, r), x)


# ---- error function -------------------------------------------------------------------------------------

# ---- trigonometric --------------------------------------------------------------------------------------

@triton.jit
def tan(x):
    a = _up(x).to(tl.float64)
    return _down(tl.sin(a) / tl.cos(a), x)


@triton.jit
def _atan(a):
    # |x| > 1: pi/2 - atan(1/|x|); then t > tan(pi/8): pi/4 + atan((t-1)/(t+1)); odd series to u^47 on
    # |u| <= 0.415 (truncation < 1e-20: enough for fp64).
    t = tl.abs(a)
    inv = t > 1.0
    t = tl.where(inv, 1.0 / t, t)
    shift = t > 0.41421356237309503
    u = tl.where(shift, (t - 1.0) / (t + 1.0), t)
    s = u * u
    p = tl.zeros_like(s)
    for k in tl.static_range(23, 0, -1):
        p = p * s + (1.0 - 2.0 * (k % 2)) / (2 * k + 1)
    r = u + u * s * p
    r = tl.where(shift, r + _PI_4, r)
    r = tl.where(inv, _PI_2 - r, r)
    return tl.where(a < 0, -r, tl.where(a == 0.0, a, r))


@triton.jit
def atan(x):
    return _down(_atan(_up(x).to(tl.float64)), x)


@triton.jit
def _atan2(b, a):
    # b = y, a = x; C's rules for signed zeros and infinities
    r = _atan(b / a)
    a_neg = (a < 0) | ((a == 0.0) & (1.0 / a < 0))
    b_neg = (b < 0) | ((b == 0.0) & (1.0 / b < 0))
    r = tl.where(a_neg, tl.where(b_neg, r - _PI, r + _PI), r)
    zz = (a == 0.0) & (b == 0.0)
    r = tl.where(zz, tl.where(a_neg, tl.where(b_neg, -_PI, _PI), b), r)
    ii = (tl.abs(a) == float("inf")) & (tl.abs(b) == float("inf"))
    q = tl.where(a > 0, _PI_4, 3.0 * _PI_4)
    r = tl.where(ii, tl.where(b_neg, -q, q), r)
    return tl.where((a != a) | (b != b), a + b, r)


@triton.jit
def atan2(y, x):
    return _down(_atan2(_up(y).to(tl.float64), _up(x).to(tl.float64)), y)


@triton.jit
def asin(x):
    a = _up(x).to(tl.float64)
    return _down(_atan2(a, tl.sqrt((1.0 - a) * (1.0 + a))), x)


@triton.jit
def acos(x):
    a = _up(x).to(tl.float64)
    return _down(_atan2(tl.sqrt((1.0 - a) * (1.0 + a)), a), x)



@triton.jit
def sigmoid(x):
    """1/(1+exp(-x)) without overflow or cancellation on either tail; fp32 in fp64 (fast_math's fp32 exp
    flushes the subnormal results of the left tail to 0)."""
    a = _up(x).to(tl.float64)
    e = tl.exp(-tl.abs(a))
    r = 1.0 / (1.0 + e)
    return _down(tl.where(a >= 0, r, e * r), x)


# ---- bits of floats -------------------------------------------------------------------------------------

@triton.jit
def _ibits(a):
    if a.dtype == tl.float64:
        return a.to(tl.int64, bitcast=True)
    elif a.dtype == tl.float32:
        return a.to(tl.int32, bitcast=True)
    else:
        return a.to(tl.int16, bitcast=True)


@triton.jit
def _next_up(a):
    """The next float above a (IEEE nextUp): +-0 -> smallest subnormal, +inf and NaN stay."""
    i = _ibits(a)
    j = tl.where(i >= 0, i + 1, i - 1)
    j = tl.where(a == 0.0, 1, j)
    r = j.to(a.dtype, bitcast=True)
    return tl.where((a == float("inf")) | (a != a), a, r)


@triton.jit
def _next_down(a):
    return -_next_up(-a)


@triton.jit
def _sgn(e):
    return (e > 0).to(tl.int32) - (e < 0).to(tl.int32)


@triton.jit
def _directed(c, d, MODE: tl.constexpr):
    """The MODE-rounded result (0 rn, 1 rz, 2 rd, 3 ru) from the round-to-nearest result c and the sign d
    of (exact - c). c is within half an ulp of the exact value, so the answer is c or a neighbour."""
    if MODE == 2:
        r = tl.where(d < 0, _next_down(c), c)
    elif MODE == 3:
        r = tl.where(d > 0, _next_up(c), c)
    elif MODE == 1:
        r = tl.where((d < 0) & (c > 0), _next_down(c), tl.where((d > 0) & (c < 0), _next_up(c), c))
    else:
        r = c
    return r


@triton.jit
def _two_sum(a, b):
    """s + e == a + b exactly (Knuth's TwoSum, no ordering assumption)."""
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


@triton.jit
def _rto(s, e):
    """fp64 s + e rounded to odd (s = RN(s+e)): rounding that to fp32 gives the correctly rounded fp32 of
    s + e (53 >= 24 + 2 bits), and its sign against any fp32 value is that of the exact value."""
    i = s.to(tl.int64, bitcast=True)
    away = (e > 0) == (s > 0)
    j = tl.where(away, i + 1, i - 1).to(tl.float64, bitcast=True)
    inexact = (e > 0) | (e < 0)
    return tl.where(inexact & ((i & 1) == 0), j, s)


@triton.jit
def _f32_dir(v, MODE: tl.constexpr):
    """fp64 v (exact, or rounded to odd) rounded to fp32 in MODE."""
    c = v.to(tl.float32)
    return _directed(c, _sgn(v - c.to(tl.float64)), MODE)


@triton.jit
def _f64_overflow_fix(r, d, a, b):
    # An overflowed result (r = +-inf from finite operands) lies beyond the exact value.
    big = (tl.abs(r) == float("inf")) & (tl.abs(a) != float("inf")) & (tl.abs(b) != float("inf"))
    return tl.where(big, -_sgn(r), d)


@triton.jit
def _add_dir(x, y, MODE: tl.constexpr):
    if _up(x).dtype == tl.float64:
        a = _up(x)
        b = _up(y)
        s, e = _two_sum(a, b)
        if MODE == 2:
            s = tl.where(s == 0.0, -((-a) + (-b)), s)     # an exact zero sum is -0 when rounding down
        d = tl.where(s != s, 0, _f64_overflow_fix(s, _sgn(e), a, b))
        return _directed(s, d, MODE)
    else:
        a = _up(x).to(tl.float64)
        b = _up(y).to(tl.float64)
        s, e = _two_sum(a, b)
        if MODE == 2:
            s = tl.where(s == 0.0, -((-a) + (-b)), s)
        return _down(_f32_dir(_rto(s, e), MODE), x)


@triton.jit
def _mul_dir(x, y, MODE: tl.constexpr):
    if _up(x).dtype == tl.float64:
        a = _up(x)
        b = _up(y)
        p = a * b
        e = tl.fma(a, b, -p)
        d = tl.where(p != p, 0, _f64_overflow_fix(p, _sgn(e), a, b))
        return _directed(p, d, MODE)
    else:
        return _down(_f32_dir(_up(x).to(tl.float64) * _up(y).to(tl.float64), MODE), x)


@triton.jit
def _div_dir(x, y, MODE: tl.constexpr):
    a = _up(x).to(tl.float64)
    b = _up(y).to(tl.float64)
    q = a / b                                         # fp64 divf: correctly rounded (fast_math leaves f64)
    r = tl.fma(-q, b, a)                              # exact remainder: sign of (a/b - q) times sign of b
    r = tl.where(b < 0, -r, r)
    if _up(x).dtype == tl.float64:
        d = tl.where(q != q, 0, _sgn(r))
        d = tl.where((tl.abs(q) == float("inf")) & (tl.abs(a) != float("inf")) & (b != 0.0), -_sgn(q), d)
        return _directed(q, d, MODE)
    else:
        return _down(_f32_dir(_rto(q, tl.where(r != r, 0.0, r)), MODE), x)


@triton.jit
def _sqrt_dir(x, MODE: tl.constexpr):
    a = _up(x).to(tl.float64)
    s = tl.sqrt(a)
    r = tl.fma(-s, s, a)
    r = tl.where(r != r, 0.0, r)
    if _up(x).dtype == tl.float64:
        return _directed(s, _sgn(r), MODE)
    else:
        return _down(_f32_dir(_rto(s, r), MODE), x)


@triton.jit
def _fma_dir(x, y, z, MODE: tl.constexpr):
    if _up(x).dtype == tl.float64:
        a = _up(x)
        b = _up(y)
        c = _up(z)
        r = tl.fma(a, b, c)
        p = a * b
        pe = tl.fma(a, b, -p)
        s, e1 = _two_sum(p, c)
        t, te = _two_sum(s - r, e1)
        d = _sgn(t + (te + pe))
        if MODE == 2:
            r = tl.where((r == 0.0) & (d == 0), -((-p) + (-c)), r)
        d = tl.where((r != r) | (tl.abs(p) == float("inf")) | (tl.abs(c) == float("inf")), 0, d)
        d = tl.where((tl.abs(r) == float("inf")) & (d == 0) & (tl.abs(p) != float("inf"))
                     & (tl.abs(c) != float("inf")) & (tl.abs(a) != float("inf")) & (tl.abs(b) != float("inf")),
                     -_sgn(r), d)
        return _directed(r, d, MODE)
    else:
        p = _up(x).to(tl.float64) * _up(y).to(tl.float64)          # exact
        c = _up(z).to(tl.float64)
        s, e = _two_sum(p, c)
        if MODE == 2:
            s = tl.where(s == 0.0, -((-p) + (-c)), s)
        return _down(_f32_dir(_rto(s, tl.where(e != e, 0.0, e)), MODE), x)


@triton.jit
def add_rz(x, y):
    return _add_dir(x, y, 1)


@triton.jit
def add_rd(x, y):
    return _add_dir(x, y, 2)


@triton.jit
def add_ru(x, y):
    return _add_dir(x, y, 3)


@triton.jit
def sub_rz(x, y):
    return _add_dir(x, -y, 1)


@triton.jit
def sub_rd(x, y):
    return _add_dir(x, -y, 2)


@triton.jit
def sub_ru(x, y):
    return _add_dir(x, -y, 3)


@triton.jit
def mul_rz(x, y):
    return _mul_dir(x, y, 1)


@triton.jit
def mul_rd(x, y):
    return _mul_dir(x, y, 2)


@triton.jit
def mul_ru(x, y):
    return _mul_dir(x, y, 3)


@triton.jit
def div_rz(x, y):
    return _div_dir(x, y, 1)


@triton.jit
def div_rd(x, y):
    return _div_dir(x, y, 2)


@triton.jit
def div_ru(x, y):
    return _div_dir(x, y, 3)


@triton.jit
def rcp_rn(x):
    a = _up(x)
    return _down(_div_dir(tl.zeros_like(a) + 1.0, a, 0), x)


@triton.jit
def rcp_rz(x):
    a = _up(x)
    return _down(_div_dir(tl.zeros_like(a) + 1.0, a, 1), x)


@triton.jit
def rcp_rd(x):
    a = _up(x)
    return _down(_div_dir(tl.zeros_like(a) + 1.0, a, 2), x)


@triton.jit
def rcp_ru(x):
    a = _up(x)
    return _down(_div_dir(tl.zeros_like(a) + 1.0, a, 3), x)


@triton.jit
def sqrt_rn(x):
    return _sqrt_dir(x, 0)


@triton.jit
def sqrt_rz(x):
    return _sqrt_dir(x, 1)


@triton.jit
def sqrt_rd(x):
    return _sqrt_dir(x, 2)


@triton.jit
def sqrt_ru(x):
    return _sqrt_dir(x, 3)


@triton.jit
def fma_rn(x, y, z):
    return _fma_dir(x, y, z, 0)


@triton.jit
def fma_rz(x, y, z):
    return _fma_dir(x, y, z, 1)


@triton.jit
def fma_rd(x, y, z):
    return _fma_dir(x, y, z, 2)


@triton.jit
def fma_ru(x, y, z):
    return _fma_dir(x, y, z, 3)


@triton.jit
def rsqrt_rn(x):
    """Correctly rounded 1/sqrt(x): the fp64 estimate's fp32 rounding, moved one ulp when the exact value
    lies beyond a midpoint (m*m*x vs 1, with m*m exact in fp64 and the compare done by one fma)."""
    a = _up(x).to(tl.float64)
    c = (1.0 / tl.sqrt(a)).to(tl.float32)
    c64 = c.to(tl.float64)
    hi = 0.5 * (c64 + _next_up(c).to(tl.float64))
    lo = 0.5 * (c64 + _next_down(c).to(tl.float64))
    ok = (a > 0.0) & (a != float("inf"))
    up = ok & (tl.fma(hi * hi, a, -1.0) < 0.0)
    down = ok & (tl.fma(lo * lo, a, -1.0) > 0.0)
    r = tl.where(up, _next_up(c), tl.where(down, _next_down(c), c))
    return _down(r, x)


# ---- conversions ----------------------------------------------------------------------------------------

@triton.jit
def _round_mode(a, MODE: tl.constexpr):
    if MODE == 0:
        r = _rint(a)
    elif MODE == 1:
        r = tl.where(a < 0, tl.ceil(a), tl.floor(a))
    elif MODE == 2:
        r = tl.floor(a)
    else:
        r = tl.ceil(a)
    return r


@triton.jit
def _f2i(x, MODE: tl.constexpr, BITS: tl.constexpr, SIGNED: tl.constexpr):
    """Float -> integer in MODE, saturating like PTX cvt (NaN -> 0); unsigned results as their bit pattern."""
    a = _round_mode(_up(x), MODE)
    if BITS == 32:
        # (literals inline: a local assigned a Python float becomes an fp32 tensor, 2^31-1 would be 2^31)
        a = a.to(tl.float64)
        if SIGNED:
            c = tl.where(a < -2147483648.0, -2147483648.0, tl.where(a > 2147483647.0, 2147483647.0, a))
        else:
            c = tl.where(a < 0.0, 0.0, tl.where(a > 4294967295.0, 4294967295.0, a))
        c = tl.where(a != a, 0.0, c)
        r = c.to(tl.int64).to(tl.int32)
    else:
        if SIGNED:
            c = tl.where(a != a, 0.0, a)
            r = tl.where(c >= 9223372036854775808.0, 9223372036854775807,
                         tl.where(c <= -9223372036854775808.0, -9223372036854775808,
                                  tl.where(tl.abs(c) < 9223372036854775808.0, c, 0.0).to(tl.int64)))
        else:
            c = tl.where((a != a) | (a < 0.0), 0.0, a)
            top = c >= 9223372036854775808.0
            v = tl.where(top, c - 9223372036854775808.0, c)
            v = tl.where(v < 9223372036854775808.0, v, 0.0).to(tl.int64)
            r = tl.where(top, v | -9223372036854775808, v)
            r = tl.where(c >= 18446744073709551616.0, -1, r)
    return r


@triton.jit
def _u32(x):
    """An int32/uint32 argument's unsigned value as int64."""
    return x.to(tl.int64) & 0xFFFFFFFF


@triton.jit
def _i64_parts(x, SIGNED: tl.constexpr):
    """hi*2^32 and lo (both exact in fp64) with hi*2^32 + lo == x (x's bits read as signed or unsigned)."""
    if x.dtype == tl.uint64:
        v = x.to(tl.int64, bitcast=True)
    else:
        v = x.to(tl.int64)
    if SIGNED:
        hi = (v >> 32).to(tl.float64)
    else:
        hi = ((v >> 32) & 0xFFFFFFFF).to(tl.float64)
    lo = (v & 0xFFFFFFFF).to(tl.float64)
    return hi * 4294967296.0, lo


@triton.jit
def _i64_to_f64(x, MODE: tl.constexpr, SIGNED: tl.constexpr):
    h, lo = _i64_parts(x, SIGNED)
    s, e = _two_sum(h, lo)
    return _directed(s, _sgn(e), MODE)


@triton.jit
def _i64_to_f32(x, MODE: tl.constexpr, SIGNED: tl.constexpr):
    h, lo = _i64_parts(x, SIGNED)
    s, e = _two_sum(h, lo)
    return _f32_dir(_rto(s, e), MODE)


@triton.jit
def double2float_rn(x):
    return x.to(tl.float64).to(tl.float32)


@triton.jit
def double2float_rz(x):
    return _f32_dir(x.to(tl.float64), 1)


@triton.jit
def double2float_rd(x):
    return _f32_dir(x.to(tl.float64), 2)


@triton.jit
def double2float_ru(x):
    return _f32_dir(x.to(tl.float64), 3)


@triton.jit
def float2int_rn(x):
    return _f2i(x, 0, 32, True)


@triton.jit
def float2int_rz(x):
    return _f2i(x, 1, 32, True)


@triton.jit
def float2int_rd(x):
    return _f2i(x, 2, 32, True)


@triton.jit
def float2int_ru(x):
    return _f2i(x, 3, 32, True)


@triton.jit
def float2uint_rn(x):
    return _f2i(x, 0, 32, False)


@triton.jit
def float2uint_rz(x):
    return _f2i(x, 1, 32, False)


@triton.jit
def float2uint_rd(x):
    return _f2i(x, 2, 32, False)


@triton.jit
def float2uint_ru(x):
    return _f2i(x, 3, 32, False)


@triton.jit
def float2ll_rn(x):
    return _f2i(x, 0, 64, True)


@triton.jit
def float2ll_rz(x):
    return _f2i(x, 1, 64, True)


@triton.jit
def float2ll_rd(x):
    return _f2i(x, 2, 64, True)


@triton.jit
def float2ll_ru(x):
    return _f2i(x, 3, 64, True)


@triton.jit
def float2ull_rn(x):
    return _f2i(x, 0, 64, False)


@triton.jit
def float2ull_rz(x):
    return _f2i(x, 1, 64, False)


@triton.jit
def float2ull_rd(x):
    return _f2i(x, 2, 64, False)


@triton.jit
def float2ull_ru(x):
    return _f2i(x, 3, 64, False)


@triton.jit
def double2int_rn(x):
    return _f2i(x, 0, 32, True)


@triton.jit
def double2int_rz(x):
    return _f2i(x, 1, 32, True)


@triton.jit
def double2int_rd(x):
    return _f2i(x, 2, 32, True)


@triton.jit
def double2int_ru(x):
    return _f2i(x, 3, 32, True)


@triton.jit
def double2uint_rn(x):
    return _f2i(x, 0, 32, False)


@triton.jit
def double2uint_rz(x):
    return _f2i(x, 1, 32, False)


@triton.jit
def double2uint_rd(x):
    return _f2i(x, 2, 32, False)


@triton.jit
def double2uint_ru(x):
    return _f2i(x, 3, 32, False)


@triton.jit
def double2ll_rn(x):
    return _f2i(x, 0, 64, True)


@triton.jit
def double2ll_rz(x):
    return _f2i(x, 1, 64, True)


@triton.jit
def double2ll_rd(x):
    return _f2i(x, 2, 64, True)


@triton.jit
def double2ll_ru(x):
    return _f2i(x, 3, 64, True)


@triton.jit
def double2ull_rn(x):
    return _f2i(x, 0, 64, False)


@triton.jit
def double2ull_rz(x):
    return _f2i(x, 1, 64, False)


@triton.jit
def double2ull_rd(x):
    return _f2i(x, 2, 64, False)


@triton.jit
def double2ull_ru(x):
    return _f2i(x, 3, 64, False)


@triton.jit
def llround(x):
    return _f2i(round(_up(x)), 1, 64, True)


@triton.jit
def int2double_rn(x):
    return x.to(tl.float64)


@triton.jit
def uint2double_rn(x):
    return _u32(x).to(tl.float64)


@triton.jit
def int2float_rn(x):
    return _f32_dir(x.to(tl.float64), 0)


@triton.jit
def int2float_rz(x):
    return _f32_dir(x.to(tl.float64), 1)


@triton.jit
def int2float_rd(x):
    return _f32_dir(x.to(tl.float64), 2)


@triton.jit
def int2float_ru(x):
    return _f32_dir(x.to(tl.float64), 3)


@triton.jit
def uint2float_rn(x):
    return _f32_dir(_u32(x).to(tl.float64), 0)


@triton.jit
def uint2float_rz(x):
    return _f32_dir(_u32(x).to(tl.float64), 1)


@triton.jit
def uint2float_rd(x):
    return _f32_dir(_u32(x).to(tl.float64), 2)


@triton.jit
def uint2float_ru(x):
    return _f32_dir(_u32(x).to(tl.float64), 3)


@triton.jit
def ll2float_rn(x):
    return _i64_to_f32(x, 0, True)


@triton.jit
def ll2float_rz(x):
    return _i64_to_f32(x, 1, True)


@triton.jit
def ll2float_rd(x):
    return _i64_to_f32(x, 2, True)


@triton.jit
def ll2float_ru(x):
    return _i64_to_f32(x, 3, True)


@triton.jit
def ull2float_rn(x):
    return _i64_to_f32(x, 0, False)


@triton.jit
def ull2float_rz(x):
    return _i64_to_f32(x, 1, False)


@triton.jit
def ull2float_rd(x):
    return _i64_to_f32(x, 2, False)


@triton.jit
def ull2float_ru(x):
    return _i64_to_f32(x, 3, False)


@triton.jit
def ll2double_rn(x):
    return _i64_to_f64(x, 0, True)


@triton.jit
def ll2double_rz(x):
    return _i64_to_f64(x, 1, True)


@triton.jit
def ll2double_rd(x):
    return _i64_to_f64(x, 2, True)


@triton.jit
def ll2double_ru(x):
    return _i64_to_f64(x, 3, True)


@triton.jit
def ull2double_rn(x):
    return _i64_to_f64(x, 0, False)


@triton.jit
def ull2double_rz(x):
    return _i64_to_f64(x, 1, False)


@triton.jit
def ull2double_rd(x):
    return _i64_to_f64(x, 2, False)


@triton.jit
def ull2double_ru(x):
    return _i64_to_f64(x, 3, False)


@triton.jit
def float_as_int(x):
    return x.to(tl.float32).to(tl.int32, bitcast=True)


@triton.jit
def float_as_uint(x):
    return x.to(tl.float32).to(tl.int32, bitcast=True)


@triton.jit
def int_as_float(x):
    return x.to(tl.float32, bitcast=True)


@triton.jit
def uint_as_float(x):
    return x.to(tl.float32, bitcast=True)


@triton.jit
def double_as_longlong(x):
    return x.to(tl.float64).to(tl.int64, bitcast=True)


@triton.jit
def longlong_as_double(x):
    return x.to(tl.float64, bitcast=True)


@triton.jit
def double2hiint(x):
    return (x.to(tl.float64).to(tl.int64, bitcast=True) >> 32).to(tl.int32)


@triton.jit
def double2loint(x):
    return x.to(tl.float64).to(tl.int64, bitcast=True).to(tl.int32)


@triton.jit
def hiloint2double(hi, lo):
    return ((hi.to(tl.int64) << 32) | _u32(lo)).to(tl.float64, bitcast=True)


@triton.jit
def rcp64h(x):
    """CUDA's rcp64h (PTX rcp.approx.ftz.f64): the reciprocal of x's high 32-bit word (x's low word read as
    0), returned as a high word (1.11.20 format, low word 0). PTX leaves the approximation's last bits
    unspecified; here it is 1/hi(x) rounded to nearest-even at 20 fraction bits. Subnormal inputs and
    results are flushed to signed zero (.ftz): +-0 and subnormals give +-inf, +-inf gives +-0, NaN is NaN."""
    a = x.to(tl.float64)
    bits = a.to(tl.int64, bitcast=True)
    hi = bits & -4294967296                          # low word cleared
    ex = (bits >> 52) & 0x7FF
    sign = bits & (-9223372036854775807 - 1)
    h = tl.where(ex == 0, sign, hi).to(tl.float64, bitcast=True)
    r = (tl.zeros_like(h) + 1.0) / h                 # fp64 divf: correctly rounded
    # nearest-even at bit 32 (one rounding after a correct one: 1/h is never within 2^-44 of a tie)
    rb = r.to(tl.int64, bitcast=True)
    rb = (rb + (0x7FFFFFFF + ((rb >> 32) & 1))) & -4294967296
    rex = (rb >> 52) & 0x7FF
    rb = tl.where(rex == 0, rb & (-9223372036854775807 - 1), rb)
    return tl.where(a != a, a, rb.to(tl.float64, bitcast=True))


# ---- integer bit functions ------------------------------------------------------------------------------

@triton.jit
def _as_unsigned(x):
    if x.dtype.primitive_bitwidth == 64:
        return x.to(tl.uint64, bitcast=True)
    else:
        return x.to(tl.int32).to(tl.uint32, bitcast=True)


@triton.jit
def _popc_u(u):
    # SWAR: bit counts per 2, 4, 8 bits, then summed by a multiply into the top byte.
    if u.dtype == tl.uint64:
        u = u - ((u >> 1) & 0x5555555555555555)
        u = (u & 0x3333333333333333) + ((u >> 2) & 0x3333333333333333)
        u = (u + (u >> 4)) & 0x0F0F0F0F0F0F0F0F
        r = (u * 0x0101010101010101) >> 56
    else:
        u = u - ((u >> 1) & 0x55555555)
        u = (u & 0x33333333) + ((u >> 2) & 0x33333333)
        u = (u + (u >> 4)) & 0x0F0F0F0F
        r = (u * 0x01010101) >> 24
    return r.to(tl.int32, bitcast=False)


@triton.jit
def popc(x):
    return _popc_u(_as_unsigned(x))


@triton.jit
def clz(x):
    u = _as_unsigned(x)
    # smear the highest set bit down, then count the zeros above it
    u = u | (u >> 1)
    u = u | (u >> 2)
    u = u | (u >> 4)
    u = u | (u >> 8)
    u = u | (u >> 16)
    if u.dtype == tl.uint64:
        u = u | (u >> 32)
        n = 64
    else:
        n = 32
    return n - _popc_u(u)


@triton.jit
def ffs(x):
    v = x.to(tl.int64) if x.dtype.primitive_bitwidth == 64 else x.to(tl.int32)
    low = v & (0 - v)                   # lowest set bit
    r = _popc_u(_as_unsigned(low - 1)) + 1
    return tl.where(v == 0, 0, r)


@triton.jit
def brev(x):
    u = _as_unsigned(x)
    if u.dtype == tl.uint64:
        u = ((u >> 1) & 0x5555555555555555) | ((u & 0x5555555555555555) << 1)
        u = ((u >> 2) & 0x3333333333333333) | ((u & 0x3333333333333333) << 2)
        u = ((u >> 4) & 0x0F0F0F0F0F0F0F0F) | ((u & 0x0F0F0F0F0F0F0F0F) << 4)
        u = ((u >> 8) & 0x00FF00FF00FF00FF) | ((u & 0x00FF00FF00FF00FF) << 8)
        u = ((u >> 16) & 0x0000FFFF0000FFFF) | ((u & 0x0000FFFF0000FFFF) << 16)
        u = (u >> 32) | (u << 32)
        return u.to(tl.int64, bitcast=True)
    else:
        u = ((u >> 1) & 0x55555555) | ((u & 0x55555555) << 1)
        u = ((u >> 2) & 0x33333333) | ((u & 0x33333333) << 2)
        u = ((u >> 4) & 0x0F0F0F0F) | ((u & 0x0F0F0F0F) << 4)
        u = ((u >> 8) & 0x00FF00FF) | ((u & 0x00FF00FF) << 8)
        u = (u >> 16) | (u << 16)
        return u.to(tl.int32, bitcast=True)


@triton.jit
def byte_perm(x, y, s):
    """Byte i of the result is byte (s >> 4i) & 7 of the 8 bytes y:x."""
    v = (_u32(y) << 32) | _u32(x)
    sel = _u32(s)
    r = ((v >> (((sel >> 0) & 7) * 8)) & 0xFF)
    r = r | (((v >> (((sel >> 4) & 7) * 8)) & 0xFF) << 8)
    r = r | (((v >> (((sel >> 8) & 7) * 8)) & 0xFF) << 16)
    r = r | (((v >> (((sel >> 12) & 7) * 8)) & 0xFF) << 24)
    return r.to(tl.int32)


@triton.jit
def _mulhi_u64(a, b):
    """High 64 bits of the unsigned 128-bit product, from 32-bit limbs (no 128-bit type)."""
    a_lo = a & 0xFFFFFFFF
    a_hi = a >> 32
    b_lo = b & 0xFFFFFFFF
    b_hi = b >> 32
    ll = a_lo * b_lo
    lh = a_lo * b_hi
    hl = a_hi * b_lo
    hh = a_hi * b_hi
    mid = (ll >> 32) + (lh & 0xFFFFFFFF) + (hl & 0xFFFFFFFF)
    return hh + (lh >> 32) + (hl >> 32) + (mid >> 32)


@triton.jit
def mulhi(x, y):
    if x.dtype.primitive_bitwidth == 64:
        hi = _mulhi_u64(x.to(tl.uint64, bitcast=True), y.to(tl.uint64, bitcast=True)).to(tl.int64, bitcast=True)
        if x.dtype.is_int_signed():
            # signed high half = unsigned high half - (x<0 ? y : 0) - (y<0 ? x : 0)  (mod 2^64)
            xi = x.to(tl.int64)
            yi = y.to(tl.int64)
            r = hi - tl.where(xi < 0, yi, 0) - tl.where(yi < 0, xi, 0)
        else:
            r = hi.to(tl.uint64, bitcast=True)
    else:
        if x.dtype.is_int_signed():
            r = ((x.to(tl.int64) * y.to(tl.int64)) >> 32).to(tl.int32)
        else:
            r = ((_u32(x) * _u32(y)) >> 32).to(tl.int32).to(tl.uint32, bitcast=True)
    return r


@triton.jit
def mul24(x, y):
    """Low 32 bits of the product of the low 24 bits of x and y (sign-extended for signed types)."""
    if x.dtype.is_int_signed():
        a = (x.to(tl.int32) << 8) >> 8
        b = (y.to(tl.int32) << 8) >> 8
        r = (a.to(tl.int64) * b.to(tl.int64)).to(tl.int32)
    else:
        r = ((_u32(x) & 0xFFFFFF) * (_u32(y) & 0xFFFFFF)).to(tl.int32).to(tl.uint32, bitcast=True)
    return r


@triton.jit
def sad(x, y, z):
    """|x - y| + z (z unsigned), modulo 2^32."""
    if x.dtype.is_int_signed():
        d = x.to(tl.int64) - y.to(tl.int64)
        r = (tl.where(d < 0, -d, d) + _u32(z)).to(tl.int32)
    else:
        d = _u32(x) - _u32(y)
        r = (tl.where(d < 0, -d, d) + _u32(z)).to(tl.int32).to(tl.uint32, bitcast=True)
    return r


@triton.jit
def hadd(x, y):
    """(x + y) >> 1 without intermediate overflow."""
    if x.dtype.is_int_signed():
        r = ((x.to(tl.int64) + y.to(tl.int64)) >> 1).to(tl.int32)
    else:
        r = ((_u32(x) + _u32(y)) >> 1).to(tl.int32).to(tl.uint32, bitcast=True)
    return r


@triton.jit
def rhadd(x, y):
    """(x + y + 1) >> 1 without intermediate overflow."""
    if x.dtype.is_int_signed():
        r = ((x.to(tl.int64) + y.to(tl.int64) + 1) >> 1).to(tl.int32)
    else:
        r = ((_u32(x) + _u32(y) + 1) >> 1).to(tl.int32).to(tl.uint32, bitcast=True)
    return r


# ---- exponent, scaling, remainders ----------------------------------------------------------------------

_MIN_NORMAL64: tl.constexpr = tl.constexpr(2.2250738585072014e-308)
_TWO54: tl.constexpr = tl.constexpr(18014398509481984.0)
_SQRT_PI_2: tl.constexpr = tl.constexpr(0.886226925452758)      # sqrt(pi)/2
_INV_SQRT_PI: tl.constexpr = tl.constexpr(0.5641895835477563)
_SQRT2: tl.constexpr = tl.constexpr(1.4142135623730951)
_LOG_SQRT_2PI: tl.constexpr = tl.constexpr(0.9189385332046728)


@triton.jit
def _pow2(k):
    """2^k as fp64 for integer k in [-1022, 1023] (exact, built from bits)."""
    return ((k.to(tl.int64) + 1023) << 52).to(tl.float64, bitcast=True)


@triton.jit
def _scalbn64(a, n):
    """a * 2^n in fp64 with a single rounding (subnormal results round once, huge ones overflow to inf)."""
    n = tl.minimum(tl.maximum(n.to(tl.int64), -5000), 5000)
    sub = tl.abs(a) < _MIN_NORMAL64
    b = tl.where(sub, a * _TWO54, a)
    n = tl.where(sub, n - 54, n)
    i = b.to(tl.int64, bitcast=True)
    e = ((i >> 52) & 0x7FF) - 1023
    m = ((i & -9218868437227405313) | 0x3FF0000000000000).to(tl.float64, bitcast=True)   # [1, 2), a's sign
    big_e = e + n
    r = tl.where(big_e > 1023, m * float("inf"),
                 tl.where(big_e >= -1022, m * _pow2(tl.minimum(tl.maximum(big_e, -1022), 1023)),
                          (m * _pow2(tl.maximum(big_e, -1200) + 600)) * _pow2(-600 + tl.zeros_like(big_e))))
    return tl.where((a == 0.0) | (a != a) | (tl.abs(a) == float("inf")), a, r)


@triton.jit
def scalbn(x, n):
    a = _up(x)
    if a.dtype == tl.float64:
        return _scalbn64(a, n)
    else:
        return _down(_scalbn64(a.to(tl.float64), tl.minimum(tl.maximum(n.to(tl.int32), -400), 400)), x)


@triton.jit
def ldexp(x, n):
    return scalbn(x, n)


@triton.jit
def _ilogb_raw(a):
    """floor(log2|a|) for finite nonzero a (fp32 or fp64), subnormals included."""
    b = a.to(tl.float64)
    sub = tl.abs(b) < _MIN_NORMAL64
    b = tl.where(sub, b * _TWO54, b)
    e = ((b.to(tl.int64, bitcast=True) >> 52) & 0x7FF) - 1023 - tl.where(sub, 54, 0)
    return e.to(tl.int32)


@triton.jit
def ilogb(x):
    """CUDA's ilogb: 0 and NaN -> INT_MIN, +-inf -> INT_MAX."""
    a = _up(x)
    r = _ilogb_raw(a)
    r = tl.where((a == 0.0) | (a != a), -2147483648, r)
    return tl.where(tl.abs(a) == float("inf"), 2147483647, r)


@triton.jit
def logb(x):
    a = _up(x)
    r = _ilogb_raw(a).to(a.dtype)
    r = tl.where(a == 0.0, -float("inf"), r)
    r = tl.where(tl.abs(a) == float("inf"), float("inf"), r)
    return _down(tl.where(a != a, a, r), x)


@triton.jit
def nextafter(x, y):
    r = tl.where(x < y, _next_up(x), tl.where(x > y, _next_down(x), y.to(x.dtype)))
    return tl.where((x != x) | (y != y), x + y.to(x.dtype), r)


@triton.jit
def fdim(x, y):
    a = _up(x)
    b = _up(y)
    r = tl.where(a > b, a - b, 0.0)
    return _down(tl.where((a != a) | (b != b), a + b, r), x)


@triton.jit
def _mant_int(a):
    """a > 0 finite fp64 as (m, e): a == m * 2^(e-52), m in [2^52, 2^53)."""
    sub = a < _MIN_NORMAL64
    b = tl.where(sub, a * _TWO54, a)
    i = b.to(tl.int64, bitcast=True)
    e = ((i >> 52) & 0x7FF) - 1023 - tl.where(sub, 54, 0)
    return (i & 0xFFFFFFFFFFFFF) | 0x10000000000000, e


@triton.jit
def _fmod_abs(x, y):
    """x mod y, exactly, for finite x >= 0 and y > 0 in fp64: integer long division of the mantissas,
    10 bits a step (r << 10 stays below 2^63) over the exponent difference (at most 2098)."""
    mx, ex = _mant_int(tl.where(x > 0.0, x, 1.0))
    my, ey = _mant_int(y)
    d = ex - ey
    r = tl.where(d >= 0, mx % my, mx)
    for i in range(0, 210):
        s = tl.minimum(tl.maximum(d - 10 * i, 0), 10)
        r = (r << s) % my
    k = ey - 52
    v = r.to(tl.float64)
    res = tl.where(k < -900, (v * _pow2(tl.maximum(k, -1126) + 200)) * _pow2(-200 + tl.zeros_like(k)),
                   v * _pow2(tl.minimum(tl.maximum(k, -1022), 1023)))
    return tl.where((d < 0) | (x == 0.0), x, res)


@triton.jit
def _fmod64(a, b):
    ax = tl.abs(a)
    ay = tl.abs(b)
    r = _fmod_abs(tl.where(ax == float("inf"), 0.0, ax), tl.where((ay == 0.0) | (ay == float("inf")) | (ay != ay), 1.0, ay))
    r = tl.where(ay == float("inf"), ax, r)
    r = tl.where(a < 0, -r, tl.where(a == 0.0, a, r))
    r = tl.where(a == 0.0, a, r)
    bad = (ax == float("inf")) | (ay == 0.0) | (a != a) | (b != b)
    return tl.where(bad, float("nan"), r)


@triton.jit
def fmod(x, y):
    """C fmod, exact for every finite x, y (fp16/fp32 go through fp64)."""
    return _down(_fmod64(_up(x).to(tl.float64), _up(y).to(tl.float64)), x)


@triton.jit
def _remainder64(a, b):
    ax = tl.abs(a)
    ay = tl.abs(b)
    fin = (ax != float("inf")) & (ay != 0.0) & (ay == ay) & (ax == ax)
    ayf = tl.where(fin & (ay != float("inf")), ay, 1.0)
    axf = tl.where(fin, ax, 0.0)
    twice = ayf < 8.98846567431158e307
    r = tl.where(twice, _fmod_abs(axf, tl.where(twice, 2.0 * ayf, 1.0)), axf)
    odd = r >= ayf
    r = tl.where(odd, r - ayf, r)
    r = tl.where((r > ayf - r) | ((r == ayf - r) & odd), r - ayf, r)
    r = tl.where(ay == float("inf"), ax, r)
    r = tl.where(a < 0, -r, r)
    r = tl.where(r == 0.0, a * 0.0, r)
    return tl.where(fin, r, float("nan"))


@triton.jit
def remainder(x, y):
    """IEEE remainder x - n*y, n = x/y rounded to nearest even; exact."""
    return _down(_remainder64(_up(x).to(tl.float64), _up(y).to(tl.float64)), x)


# ---- norms and roots ------------------------------------------------------------------------------------

@triton.jit
def _norm_parts(a, b, c, d):
    """(sqrt of the sum of squares scaled by 2^-k (exact), k, max |.|, any infinite): norm = root * 2^k."""
    a = tl.abs(a)
    b = tl.abs(b)
    c = tl.abs(c)
    d = tl.abs(d)
    m = tl.maximum(tl.maximum(a, b), tl.maximum(c, d))
    k = tl.minimum(tl.maximum(_ilogb_raw(tl.where((m > 0.0) & (m != float("inf")), m, 1.0)), -1000), 1000)
    s = _pow2(-k)
    a = a * s
    b = b * s
    c = c * s
    d = d * s
    inf = (a == float("inf")) | (b == float("inf")) | (c == float("inf")) | (d == float("inf"))
    return tl.sqrt(a * a + b * b + c * c + d * d), k, m, inf


@triton.jit
def _norm(a, b, c, d):
    """sqrt(a^2+b^2+c^2+d^2) in fp64 without overflow: scaled by a power of two (exact)."""
    root, k, m, inf = _norm_parts(a, b, c, d)
    r = tl.where(m == 0.0, 0.0, root * _pow2(k))
    return tl.where(inf, float("inf"), r)


@triton.jit
def _rnorm(a, b, c, d):
    """1 / sqrt(a^2+b^2+c^2+d^2) in fp64: 1/root scaled by 2^-k in two steps (the first exact), so a
    subnormal result of an overflowing norm (rnorm3d(DBL_MAX, 1, DBL_MAX)) is rounded once, not 0."""
    root, k, m, inf = _norm_parts(a, b, c, d)
    h = k // 2
    r = (1.0 / root) * _pow2(-h) * _pow2(h - k)
    r = tl.where(m == 0.0, float("inf"), r)
    return tl.where(inf, 0.0, r)


@triton.jit
def norm3d(x, y, z):
    a = _up(x).to(tl.float64)
    return _down(_norm(a, _up(y).to(tl.float64), _up(z).to(tl.float64), tl.zeros_like(a)), x)


@triton.jit
def norm4d(x, y, z, w):
    return _down(_norm(_up(x).to(tl.float64), _up(y).to(tl.float64), _up(z).to(tl.float64),
                       _up(w).to(tl.float64)), x)


@triton.jit
def rnorm3d(x, y, z):
    a = _up(x).to(tl.float64)
    return _down(_rnorm(a, _up(y).to(tl.float64), _up(z).to(tl.float64), tl.zeros_like(a)), x)


@triton.jit
def rnorm4d(x, y, z, w):
    return _down(_rnorm(_up(x).to(tl.float64), _up(y).to(tl.float64), _up(z).to(tl.float64),
                        _up(w).to(tl.float64)), x)


@triton.jit
def rhypot(x, y):
    a = _up(x).to(tl.float64)
    z = tl.zeros_like(a)
    return _down(_rnorm(a, _up(y).to(tl.float64), z, z), x)


@triton.jit
def _cbrt64(a):
    t = tl.abs(a)
    r = tl.exp2(tl.log2(t) * (1.0 / 3.0))
    r = r - (r * r * r - t) / (3.0 * r * r)            # Newton: the exp2/log2 estimate to ~1 ulp of fp64
    r = r - (r * r * r - t) / (3.0 * r * r)
    r = tl.where((t == 0.0) | (t == float("inf")) | (t != t), t, r)
    return tl.where(a < 0, -r, tl.where(a == 0.0, a, r))      # (cbrt(-0) = -0)


@triton.jit
def cbrt(x):
    return _down(_cbrt64(_up(x).to(tl.float64)), x)


@triton.jit
def rcbrt(x):
    return _down(1.0 / _cbrt64(_up(x).to(tl.float64)), x)


# ---- trigonometric in units of pi -----------------------------------------------------------------------

@triton.jit
def _sinpi64(a):
    r = a - 2.0 * _rint(a * 0.5)                        # exact, in [-1, 1]
    t = tl.where(r > 0.5, 1.0 - r, tl.where(r < -0.5, -1.0 - r, r))
    s = tl.sin(_PI * t)
    return tl.where(s == 0.0, a * 0.0, s)


@triton.jit
def _cospi64(a):
    r = tl.abs(a - 2.0 * _rint(a * 0.5))               # exact, in [0, 1]
    c = tl.where(r < 0.25, tl.cos(_PI * r), tl.sin(_PI * (0.5 - r)))
    return tl.where(tl.abs(a) == float("inf"), float("nan"), c)


@triton.jit
def sinpi(x):
    return _down(_sinpi64(_up(x).to(tl.float64)), x)


@triton.jit
def cospi(x):
    return _down(_cospi64(_up(x).to(tl.float64)), x)


@triton.jit
def fast_sinf(x):
    return sin(x)


@triton.jit
def fast_cosf(x):
    return cos(x)


@triton.jit
def fast_tanf(x):
    return tan(x)


# ---- error-function family (fp64 inside) ----------------------------------------------------------------

@triton.jit
def _erfcx_pos(t):
    """exp(t^2) erfc(t) for t >= 0: 1 - erf below 2 (relative error < 3e-14 there), the continued fraction
    1/(t + (1/2)/(t + 1/(t + (3/2)/(t + ...)))) / sqrt(pi) from 2 on, evaluated backwards."""
    small = tl.minimum(t, 2.0)
    lo = tl.exp(small * small) * (1.0 - tl.erf(small))
    u = tl.maximum(t, 2.0)
    f = u
    for k in tl.static_range(60, 0, -1):
        f = u + (k * 0.5) / f
    hi = _INV_SQRT_PI / f
    return tl.where(t < 2.0, lo, hi)


@triton.jit
def _erfc64(a):
    t = tl.abs(a)
    tail = tl.exp(-t * t) * _erfcx_pos(t)
    r = tl.where(t < 0.5, 1.0 - tl.erf(t), tail)
    r = tl.where(a < 0, 2.0 - r, r)
    return tl.where(a != a, a, r)


@triton.jit
def erfc(x):
    return _down(_erfc64(_up(x).to(tl.float64)), x)


@triton.jit
def erfcx(x):
    a = _up(x).to(tl.float64)
    t = tl.abs(a)
    r = _erfcx_pos(t)
    r = tl.where(a < 0, 2.0 * tl.exp(a * a) - r, r)
    r = tl.where(a == float("inf"), 0.0, r)
    return _down(tl.where(a != a, a, r), x)


@triton.jit
def normcdf(x):
    return _down(0.5 * _erfc64(-_up(x).to(tl.float64) * (1.0 / _SQRT2)), x)


@triton.jit
def _erfinv_core(z, q, TAIL):
    """x >= 0 with erf(x) == z (TAIL false) or erfc(x) == q (TAIL true); z, q fp64 in (0, 1).
    Winitzki's closed form as the start, then three Halley steps on erf or on erfc (the latter keeps the
    relative accuracy of q near 0, where 1 - q cannot)."""
    w = tl.where(TAIL, tl.log(q * (2.0 - q)), tl.log((1.0 - z) * (1.0 + z)))
    h = 4.330746750799873 + 0.5 * w                     # 2/(pi*0.147) + w/2
    x = tl.sqrt(tl.sqrt(h * h - w * (1.0 / 0.147)) - h)
    for _ in tl.static_range(3):
        e2 = tl.exp(x * x)
        u_c = (tl.erf(x) - z) * e2 * _SQRT_PI_2
        u_t = -(_erfcx_pos(x) - tl.exp(x * x + tl.log(q))) * _SQRT_PI_2
        u = tl.where(TAIL, u_t, u_c)
        u = tl.where(u != u, 0.0, u)
        x = x - u / (1.0 + x * u)
    return x


@triton.jit
def _erfinv64(a):
    z = tl.abs(a)
    tail = z > 0.5
    zz = tl.where(tail | (z == 0.0), 0.25, z)
    q = tl.where(tail & (z < 1.0), 1.0 - z, 0.25)      # exact (Sterbenz)
    x = _erfinv_core(zz, q, tail)
    x = tl.where(z == 1.0, float("inf"), x)
    x = tl.where(z == 0.0, 0.0, x)
    x = tl.where((z > 1.0) | (a != a), float("nan"), x)
    return tl.where(a < 0, -x, tl.where(a == 0.0, a, x))


@triton.jit
def erfinv(x):
    return _down(_erfinv64(_up(x).to(tl.float64)), x)


@triton.jit
def _erfcinv64(a):
    # a < 0.5: tail on erfc directly; a in [0.5, 2]: erfinv(1 - a), 1 - a exact there
    tail = (a > 0.0) & (a < 0.5)
    q = tl.where(tail, a, 0.25)
    xt = _erfinv_core(tl.zeros_like(a) + 0.25, q, tail)
    xc = _erfinv64(tl.where(tail, 0.0, 1.0 - a))
    x = tl.where(tail, xt, xc)
    x = tl.where(a == 0.0, float("inf"), x)
    x = tl.where(a == 2.0, -float("inf"), x)
    return tl.where((a < 0.0) | (a > 2.0) | (a != a), float("nan"), x)


@triton.jit
def erfcinv(x):
    return _down(_erfcinv64(_up(x).to(tl.float64)), x)


@triton.jit
def normcdfinv(x):
    return _down(-_SQRT2 * _erfcinv64(2.0 * _up(x).to(tl.float64)), x)


# ---- gamma ----------------------------------------------------------------------------------------------

@triton.jit
def _lgamma_pos(x):
    """lgamma for x > 0: shift to z >= 12 by the recurrence, then Stirling's series to 1/z^13."""
    prod = tl.zeros_like(x) + 1.0
    z = x
    for _ in tl.static_range(12):
        small = z < 12.0
        prod = tl.where(small, prod * z, prod)
        z = tl.where(small, z + 1.0, z)
    r = 1.0 / z
    r2 = r * r
    s = r2 * (1.0 / 156.0) - 691.0 / 360360.0
    s = s * r2 + 1.0 / 1188.0
    s = s * r2 - 1.0 / 1680.0
    s = s * r2 + 1.0 / 1260.0
    s = s * r2 - 1.0 / 360.0
    s = s * r2 + 1.0 / 12.0
    st = (z - 0.5) * tl.log(z) - z + _LOG_SQRT_2PI + s * r
    return st - tl.log(prod)


@triton.jit
def _lgamma1p(t):
    """lgamma(1 + t) for |t| <= 0.25: t * sum_k c_k t^k, c_0 = -Euler's gamma, c_k = (-1)^(k+1) zeta(k+1)/(k+1)
    (no cancellation near the roots at 1 and 2, where the shifted Stirling form loses all digits)."""
    p = tl.zeros_like(t) + (-0.037037037312989324)
    p = p * t + (0.03846153903467518)
    p = p * t + (-0.04000000119214014)
    p = p * t + (0.04166666915034121)
    p = p * t + (-0.04347826605304026)
    p = p * t + (0.04545455629320467)
    p = p * t + (-0.047619070330142226)
    p = p * t + (0.05000004769810169)
    p = p * t + (-0.05263167937961666)
    p = p * t + (0.055555767627403614)
    p = p * t + (-0.058823978658684585)
    p = p * t + (0.06250095514121304)
    p = p * t + (-0.06666870588242046)
    p = p * t + (0.07143294629536133)
    p = p * t + (-0.0769325164113522)
    p = p * t + (0.083353840546109)
    p = p * t + (-0.09095401714582904)
    p = p * t + (0.1000994575127818)
    p = p * t + (-0.11133426586956469)
    p = p * t + (0.12550966952474304)
    p = p * t + (-0.1440498967688461)
    p = p * t + (0.1695571769974082)
    p = p * t + (-0.20738555102867398)
    p = p * t + (0.27058080842778454)
    p = p * t + (-0.40068563438653143)
    p = p * t + (0.8224670334241132)
    p = p * t + (-0.5772156649015329)
    return p * t


@triton.jit
def _lgamma64(a):
    pos = a > 0.0
    xp = tl.where(pos, a, 1.0 - a)
    lg = _lgamma_pos(tl.where(xp == float("inf"), 2.0, xp))
    sp = tl.abs(_sinpi64(tl.where(pos, 0.5, a)))
    refl = tl.log(_PI / (sp * tl.abs(a))) - _lgamma_pos(tl.where(pos | (a == -float("inf")), 2.0, -a))
    # (Gamma(x) Gamma(1-x) = pi/sin(pi x), with Gamma(1-x) = -x Gamma(-x) to keep 1-x exact)
    r = tl.where(pos, lg, refl)
    t1 = a - 1.0                                        # exact near 1 and 2
    t2 = a - 2.0
    near1 = tl.abs(t1) <= 0.25
    near2 = tl.abs(t2) <= 0.25
    r = tl.where(near1, _lgamma1p(tl.where(near1, t1, 0.0)), r)
    r = tl.where(near2, _log1p(t2) + _lgamma1p(tl.where(near2, t2, 0.0)), r)
    r = tl.where(tl.abs(a) == float("inf"), float("inf"), r)
    r = tl.where(a == 0.0, float("inf"), r)
    return tl.where(a != a, a, r)


@triton.jit
def lgamma(x):
    return _down(_lgamma64(_up(x).to(tl.float64)), x)


@triton.jit
def _tgamma64(a):
    r = tl.exp(_lgamma64(a))
    neg_odd = (a < 0.0) & ((tl.floor(a) - 2.0 * tl.floor(a * 0.5)) != 0.0)
    r = tl.where(neg_odd, -r, r)
    r = tl.where((a < 0.0) & (tl.floor(a) == a), float("nan"), r)   # poles, and -inf
    r = tl.where(a == 0.0, 1.0 / a, r)
    return tl.where(a != a, a, r)


@triton.jit
def tgamma(x):
    return _down(_tgamma64(_up(x).to(tl.float64)), x)


# ---- Bessel functions -------------------------------------------------------------------------------------
# Computed in fp64 (fp32 inputs too): below _BESSEL_SMALL the power series (J, Y; at most 2 decimal digits
# lost to cancellation at 12), above it Hankel's asymptotic expansion with 24 terms (its truncation error
# there is about exp(-2x)). Absolute error about 1e-12 over the whole range (CUDA states absolute errors
# for these, 2.2e-6 in fp32). I0/I1: the series (positive terms) below 15, the asymptotic expansion above.

_BESSEL_SMALL: tl.constexpr = tl.constexpr(12.0)
_EULER_GAMMA: tl.constexpr = tl.constexpr(0.5772156649015329)
_TWO_OVER_PI: tl.constexpr = tl.constexpr(0.6366197723675814)
_INV_SQRT2: tl.constexpr = tl.constexpr(0.7071067811865476)
_TWO_PI: tl.constexpr = tl.constexpr(6.283185307179586)


@triton.jit
def _bessel_series(a, NU: tl.constexpr, SIGN: tl.constexpr, TERMS: tl.constexpr):
    """sum_k SIGN^k (a/2)^(2k+NU) / (k! (k+NU)!) for NU in {0, 1}: J_NU (SIGN -1) or I_NU (SIGN 1)."""
    q = SIGN * (a * a * 0.25)
    t = a * 0.0 + 1.0
    if NU == 1:
        t = a * 0.5
    s = t
    for k in range(1, TERMS):
        kf = k.to(tl.float64)             # exact; `k * 1.0` would be fp32
        t = t * q / (kf * (kf + NU))
        s = s + t
    return s


@triton.jit
def _y0_series(a):
    """Y0 = (2/pi) ((ln(a/2) + gamma) J0 - sum_k (-a^2/4)^k H_k / (k!)^2), H_k the harmonic numbers."""
    q = -(a * a * 0.25)
    t = a * 0.0 + 1.0
    h = a * 0.0
    s = a * 0.0
    for k in range(1, 32):
        kf = k.to(tl.float64)             # exact; `k * 1.0` would be fp32
        t = t * q / (kf * kf)
        h = h + 1.0 / kf
        s = s - t * h
    return _TWO_OVER_PI * ((tl.log(a * 0.5) + _EULER_GAMMA) * _bessel_series(a, 1 - 1, -1.0, 32) + s)


@triton.jit
def _y1_series(a):
    """Y1 = (2/pi) ln(a/2) J1 - 2/(pi a) - (1/pi) sum_k (-1)^k (psi(k+1) + psi(k+2)) (a/2)^(2k+1) / (k! (k+1)!)
    with psi(k+1) = H_k - gamma."""
    q = -(a * a * 0.25)
    t = a * 0.5
    h = a * 0.0
    s = t * (1.0 - 2.0 * _EULER_GAMMA)
    for k in range(1, 32):
        kf = k.to(tl.float64)             # exact; `k * 1.0` would be fp32
        t = t * q / (kf * (kf + 1.0))
        h = h + 1.0 / kf
        s = s + t * (2.0 * (h - _EULER_GAMMA) + 1.0 / (kf + 1.0))
    return _TWO_OVER_PI * tl.log(a * 0.5) * _bessel_series(a, 1, -1.0, 32) - _TWO_OVER_PI / a - s * (1.0 / _PI)


@triton.jit
def _hankel(a, NU: tl.constexpr, Y: tl.constexpr):
    """J_NU (Y false) or Y_NU (Y true) for large a: sqrt(2/(pi a)) (P cos w - Q sin w) or
    (P sin w + Q cos w), w = a - NU pi/2 - pi/4; P, Q the even and odd terms of Hankel's series."""
    mu = 4.0 * NU * NU
    p = a * 0.0 + 1.0
    qq = a * 0.0
    t = a * 0.0 + 1.0
    for k in range(1, 24):
        kf = k.to(tl.float64)             # exact; `k * 1.0` would be fp32
        t = t * ((mu - (2.0 * kf - 1.0) * (2.0 * kf - 1.0)) / (8.0 * kf)) / a
        st = tl.where((k % 4) < 2, t, -t)         # k = 1: +Q, 2: -P, 3: -Q, 4: +P
        even = (k % 2) == 0
        p = tl.where(even, p + st, p)
        qq = tl.where(even, qq, qq + st)
    sn = tl.sin(a)
    cs = tl.cos(a)
    if NU == 0:
        cw = (cs + sn) * _INV_SQRT2
        sw = (sn - cs) * _INV_SQRT2
    else:
        cw = (sn - cs) * _INV_SQRT2
        sw = -(cs + sn) * _INV_SQRT2
    f = tl.sqrt(2.0 / (_PI * a))
    if Y:
        r = f * (p * sw + qq * cw)
    else:
        r = f * (p * cw - qq * sw)
    return r


@triton.jit
def _j64(t, NU: tl.constexpr):
    """J_NU(t) for fp64 t >= 0 (finite)."""
    big = t > _BESSEL_SMALL
    return tl.where(big, _hankel(tl.where(big, t, 100.0), NU, False), _bessel_series(tl.where(big, 0.0, t), NU, -1.0, 32))


@triton.jit
def _y64(a, NU: tl.constexpr):
    """Y_NU(a) for fp64 a > 0 (finite)."""
    big = a > _BESSEL_SMALL
    small = tl.where(big | (a <= 0.0), 1.0, a)
    if NU == 0:
        s = _y0_series(small)
    else:
        s = _y1_series(small)
    return tl.where(big, _hankel(tl.where(big, a, 100.0), NU, True), s)


@triton.jit
def _bessel_j(x, NU: tl.constexpr):
    a = _up(x).to(tl.float64)
    t = tl.abs(a)
    r = _j64(t, NU)
    if NU == 1:
        r = tl.where(a < 0, -r, r)
    r = tl.where(t == float("inf"), 0.0, r)
    return _down(tl.where(a != a, a, r), x)


@triton.jit
def _bessel_y(x, NU: tl.constexpr):
    a = _up(x).to(tl.float64)
    r = _y64(tl.where((a > 0.0) & (a < float("inf")), a, 1.0), NU)
    r = tl.where(a == float("inf"), 0.0, r)
    r = tl.where(a == 0.0, float("-inf"), r)
    r = tl.where(a < 0.0, float("nan"), r)
    return _down(tl.where(a != a, a, r), x)


@triton.jit
def _bessel_i(x, NU: tl.constexpr):
    a = _up(x).to(tl.float64)
    t = tl.abs(a)
    big = t > 15.0
    tb = tl.where(big, t, 100.0)
    mu = 4.0 * NU * NU
    s = tb * 0.0 + 1.0
    term = tb * 0.0 + 1.0
    for k in range(1, 24):
        kf = k.to(tl.float64)             # exact; `k * 1.0` would be fp32
        term = -term * ((mu - (2.0 * kf - 1.0) * (2.0 * kf - 1.0)) / (8.0 * kf)) / tb
        s = s + term
    e = tl.exp(tb * 0.5)                 # e^t / sqrt(2 pi t) as two factors: e^t alone overflows first
    asym = e * (e * s / tl.sqrt(_TWO_PI * tb))
    r = tl.where(big, asym, _bessel_series(tl.where(big, 0.0, t), NU, 1.0, 48))
    if NU == 1:
        r = tl.where(a < 0, -r, r)
    return _down(tl.where(a != a, a, r), x)


@triton.jit
def jn(n, x):
    """J_n(x), n a scalar integer: forward recurrence from J0, J1 where |x| > |n| (stable there), else
    Miller's backward recurrence from order m = |n| + sqrt(40 |n|) + 20, normalized by J0 + 2 (J2 + J4 + ...)
    = 1, rescaled as it grows."""
    a = _up(x).to(tl.float64)
    nt = tl.to_tensor(n)
    na = tl.abs(nt)
    t = tl.abs(a)
    tf = tl.where((t > 0.0) & (t < float("inf")), t, 1.0)
    j0_ = _j64(tf, 0)
    j1_ = _j64(tf, 1)
    lo = j0_
    hi = j1_
    for k in range(1, na):
        nxt = (2.0 * k.to(tl.float64) / tf) * hi - lo
        lo = hi
        hi = nxt
    fwd = hi
    m = na + (tl.sqrt((40 * na).to(tl.float32))).to(tl.int32) + 20
    m = m + (m % 2)
    bp = tf * 0.0
    b = tf * 0.0 + 1e-30
    acc = tf * 0.0
    ans = tf * 0.0
    for i in range(0, m):
        j = m - i                                   # b = J_j (unnormalized), bp = J_(j+1)
        bm = (2.0 * j.to(tl.float64) / tf) * b - bp
        bp = b
        b = bm                                      # J_(j-1)
        if j - 1 == na:
            ans = b
        if ((j - 1) % 2 == 0) and (j - 1 > 0):
            acc = acc + b
        big = tl.abs(b) > 1e200
        b = tl.where(big, b * 1e-200, b)
        bp = tl.where(big, bp * 1e-200, bp)
        acc = tl.where(big, acc * 1e-200, acc)
        ans = tl.where(big, ans * 1e-200, ans)
    bwd = ans / (2.0 * acc + b)
    r = tl.where(tf > na.to(tl.float64), fwd, bwd)
    r = tl.where(na == 0, j0_, tl.where(na == 1, j1_, r))
    odd = (na % 2) == 1
    r = tl.where(odd & ((a < 0.0) != (nt < 0)), -r, r)
    r = tl.where(t == 0.0, tl.where(na == 0, 1.0, 0.0), r)
    r = tl.where(t == float("inf"), 0.0, r)
    return _down(tl.where(a != a, a, r), x)


@triton.jit
def yn(n, x):
    """Y_n(x), n a scalar integer: forward recurrence from Y0, Y1 (stable: Y grows with the order)."""
    a = _up(x).to(tl.float64)
    nt = tl.to_tensor(n)
    na = tl.abs(nt)
    af = tl.where((a > 0.0) & (a < float("inf")), a, 1.0)
    lo = _y64(af, 0)
    hi = _y64(af, 1)
    y0_ = lo
    for k in range(1, na):
        nxt = (2.0 * k.to(tl.float64) / af) * hi - lo
        nxt = tl.where(tl.abs(hi) == float("inf"), hi, nxt)      # overflowed: stays -inf (not inf - inf)
        lo = hi
        hi = nxt
    r = tl.where(na == 0, y0_, hi)
    r = tl.where(a == float("inf"), 0.0, r)
    r = tl.where(a == 0.0, float("-inf"), r)
    r = tl.where(((na % 2) == 1) & (nt < 0), -r, r)
    r = tl.where(a < 0.0, float("nan"), r)
    return _down(tl.where(a != a, a, r), x)


@triton.jit
def j0(x):
    return _bessel_j(x, 0)


@triton.jit
def j1(x):
    return _bessel_j(x, 1)


@triton.jit
def y0(x):
    return _bessel_y(x, 0)


@triton.jit
def y1(x):
    return _bessel_y(x, 1)


@triton.jit
def cyl_bessel_i0(x):
    return _bessel_i(x, 0)


@triton.jit
def cyl_bessel_i1(x):
    return _bessel_i(x, 1)


# ---- names this module lacks ----------------------------------------------------------------------------

# Names of CUDA's libdevice left out on purpose, and why (docs/triton.md lists them too).
UNSUPPORTED: dict = {}

_MISSING = {}


def _missing(name):
    """A Triton builtin that raises only when a kernel calls it: Triton's code generator maps every global
    of a kernel's module (and its dependency walk reads every attribute it meets), so an eager error would
    fail kernels that merely import or mention the name. The call's CompilationError names the line."""
    def call(*args, _semantic=None, **kwargs):
        why = UNSUPPORTED.get(name, "not a CUDA libdevice function hexmlir knows")
        # (Triton's CompilationError keeps str(e) only, hence the class name in the text; e is its __cause__)
        raise UnsupportedError(f"UnsupportedError: libdevice.{name} is not provided by hexmlir's libdevice ({why}; "
                               f"hexmlir/frontends/triton/libdevice.py, docs/triton.md)",
                               stage="triton-frontend", op=f"libdevice.{name}")
    call.__name__ = call.__qualname__ = name
    call.__module__ = __name__
    return tl.core.builtin(call)


def __getattr__(name):
    if name.startswith("_"):
        raise AttributeError(name)
    if name not in _MISSING:
        _MISSING[name] = _missing(name)
    return _MISSING[name]
