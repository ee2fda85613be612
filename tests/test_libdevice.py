"""hexmlir's libdevice through Triton's real frontend (kernels compiled by the `cpu` backend), against
float64 / exact references (numpy, math, fractions; mpmath for fp64 special functions when installed).

Default tier: the regressions (constexpr globals, sigmoid, lazy lacking names) and one fp32 kernel with the
commonly used names. Slow tier: every provided name, fp32/fp64/fp16, edge values, measured max ulp error."""
import math
from fractions import Fraction

import numpy as np
import pytest

torch = pytest.importorskip("torch")
triton = pytest.importorskip("triton")

import libdevice_kernels as K                    # noqa: E402
from hexmlir.frontends.triton import libdevice as HL   # noqa: E402
from conftest import session_seed  # noqa: E402

N, BLOCK = 1000, 128
GRID = (triton.cdiv(N, BLOCK), )
SEED = session_seed()

try:
    import mpmath
    mpmath.mp.prec = 113
except ImportError:                              # references fall back to math (fine for fp32)
    mpmath = None

NP = {"float32": np.float32, "float64": np.float64, "float16": np.float16}


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


# ---- inputs ---------------------------------------------------------------------------------------------

def _edges(dt):
    fi = np.finfo(dt)
    return np.array([0.0, -0.0, np.inf, -np.inf, np.nan, fi.tiny, -fi.tiny, fi.smallest_subnormal,
                     -fi.smallest_subnormal, fi.max, -fi.max, 1.0, -1.0, 0.5, -0.5, 2.0, 1.5, -2.5, 3.0, 0.25],
                    dtype=np.float64)


def wide(rng, dt, n=N):
    """Normal sd 3, log-uniform magnitudes over the type's whole range, integers, half-integers, edges."""
    fi = np.finfo(dt)
    lo, hi = math.log2(float(fi.smallest_subnormal)), math.log2(float(fi.max))
    k = n // 4
    a = np.concatenate([rng.standard_normal(k) * 3,
                        np.exp2(rng.uniform(lo, hi, k)) * rng.choice([-1, 1], k),
                        rng.integers(-20, 20, k) + rng.choice([0.0, 0.5], k),
                        rng.uniform(-12, 12, n - 3 * k)])
    e = _edges(dt)
    a[:len(e)] = e
    return a.astype(dt)


def unit(rng, dt, n=N):
    a = np.concatenate([rng.uniform(-1, 1, n // 2), 1 - np.exp2(rng.uniform(-25 if dt != np.float64 else -53, 0,
                        n - n // 2)) * rng.choice([-1, 1], n - n // 2) * 1.0])
    a = np.clip(a, -1, 1)
    a[:8] = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, np.nan, 1e-30]
    return a.astype(dt)


def prob(rng, dt, n=N):
    fi = np.finfo(dt)
    a = np.exp2(rng.uniform(math.log2(float(fi.smallest_subnormal)), 0, n))
    a[n // 2:] = rng.uniform(0, 1, n - n // 2)
    a[:6] = [0.0, 1.0, 0.5, float(fi.smallest_subnormal), np.nan, 0.25]
    return a.astype(dt)


# ---- ulp comparison -------------------------------------------------------------------------------------

def ulp_err(got, ref, dt):
    """Per-element error in ulps of dt at the reference (inf where NaN-ness or infinities disagree)."""
    got = np.asarray(got, np.float64)
    ref = np.asarray(ref, np.float64)
    with np.errstate(all="ignore"):
        rd = ref.astype(dt)
        sp = np.spacing(np.abs(rd).astype(dt)).astype(np.float64)
        e = np.abs(got - ref) / sp
    same = (got == ref) | (np.isnan(got) & np.isnan(ref))
    inf_ok = np.isinf(rd) & (got == rd)
    e = np.where(same | inf_ok, 0.0, e)
    return np.where(np.isnan(e), np.inf, e)


def _vec(f):
    def g(*xs):
        def one(*a):
            try:
                return float(f(*a))
            except (ValueError, ZeroDivisionError):
                return math.nan
            except OverflowError:
                return math.inf
        return np.vectorize(one, otypes=[np.float64])(*[np.asarray(x, np.float64) for x in xs])
    return g


def _mp(name):
    return _vec(lambda *a: getattr(mpmath, name)(*[mpmath.mpf(v) for v in a]))


# ---- exact directed rounding (the reference for *_rn/_rz/_rd/_ru and conversions) -----------------------

def _up(c, dt):
    return np.nextafter(dt(c), dt(np.inf))


def round_cmp(cmp, approx, dt, mode, neg):
    """The dt value `mode` gives the exact number x described by cmp(q) = sign(x - q) (q a Fraction);
    approx is a float near x, neg whether x < 0 (for the sign of an underflowed zero)."""
    big = np.finfo(dt).max
    if cmp(Fraction(float(big))) >= 0:
        lo, hi = dt(big), dt(np.inf)
    elif cmp(Fraction(-float(big))) < 0:
        lo, hi = dt(-np.inf), dt(-big)
    else:
        lo = dt(approx) if np.isfinite(approx) else dt(np.copysign(big, approx))
        while cmp(Fraction(float(lo))) < 0:
            lo = np.nextafter(lo, dt(-np.inf))
        while np.isfinite(_up(lo, dt)) and cmp(Fraction(float(_up(lo, dt)))) >= 0:
            lo = _up(lo, dt)
        if cmp(Fraction(float(lo))) == 0:
            return lo
        hi = _up(lo, dt)
    if mode == "rd":
        r = lo
    elif mode == "ru":
        r = hi
    elif mode == "rz":
        r = hi if neg else lo
    else:
        if np.isinf(hi):
            mid = Fraction(float(big)) + Fraction(float(big) - float(np.nextafter(dt(big), dt(0)))) / 2
        elif np.isinf(lo):
            mid = -(Fraction(float(big)) + Fraction(float(big) - float(np.nextafter(dt(big), dt(0)))) / 2)
        else:
            mid = (Fraction(float(lo)) + Fraction(float(hi))) / 2
        c = cmp(mid)
        even_lo = int(np.array(lo).view({np.float32: np.int32, np.float64: np.int64}[dt])) % 2 == 0
        r = lo if c < 0 or (c == 0 and even_lo) else hi
    if r == 0:
        r = dt(-0.0) if neg else dt(0.0)
    return r


def exact_round(v, dt, mode):
    if isinstance(v, float) and (v == 0 or not math.isfinite(v)):
        return dt(v)                                   # (keeps the sign of zero, which Fraction loses)
    try:
        approx = float(v)
    except OverflowError:
        approx = math.inf if v > 0 else -math.inf
    return round_cmp(lambda q: (v > q) - (v < q), approx, dt, mode, v < 0)


def ref_directed(op, mode, dt, *args):
    """op's result with directed rounding, elementwise; specials (NaN, inf, 0/0 ...) from IEEE numpy."""
    out = np.empty(len(args[0]), dt)
    with np.errstate(all="ignore"):
        ieee = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
                "div": lambda a, b: a / b, "rcp": lambda a: 1 / a, "sqrt": np.sqrt,
                "fma": lambda a, b, c: a * b + c, "rsqrt": lambda a: 1 / np.sqrt(a)}[op](
                    *[np.asarray(a, np.float64) for a in args])
    for i in range(len(out)):
        xs = [float(a[i]) for a in args]
        by_zero = (op == "div" and xs[1] == 0) or (op in ("rcp", "rsqrt") and xs[0] == 0)
        # (a finite overflow goes through round_cmp: rounding toward zero gives +-max, not inf)
        if not all(map(math.isfinite, xs)) or by_zero or ieee[i] == 0 and op in (
                "mul", "div", "sqrt", "rcp", "rsqrt"):
            out[i] = dt(ieee[i])
            if op == "fma" and math.isfinite(xs[0] * 0) and math.isfinite(xs[1] * 0) and math.isinf(xs[2]):
                out[i] = dt(xs[2])             # a finite product plus inf (numpy's a*b may overflow first)
            if op in ("sqrt", "rsqrt") and xs[0] < 0:
                out[i] = np.nan
            continue
        f = [Fraction(x) for x in xs]
        if op in ("sqrt", "rsqrt"):
            if xs[0] < 0:
                out[i] = np.nan
                continue
            if op == "sqrt":
                out[i] = round_cmp(lambda q: 1 if q < 0 else (f[0] > q * q) - (f[0] < q * q),
                                   math.sqrt(xs[0]), dt, mode, False)
            else:
                out[i] = round_cmp(lambda q: 1 if q <= 0 else (1 > q * q * f[0]) - (1 < q * q * f[0]),
                                   1 / math.sqrt(xs[0]), dt, mode, False)
            continue
        v = {"add": lambda: f[0] + f[1], "sub": lambda: f[0] - f[1], "mul": lambda: f[0] * f[1],
             "div": lambda: f[0] / f[1], "rcp": lambda: 1 / f[0], "fma": lambda: f[0] * f[1] + f[2]}[op]()
        if v == 0:
            terms = {"add": (xs[0], xs[1]), "sub": (xs[0], -xs[1]), "fma": (xs[0] * xs[1], xs[2])}[op]
            # IEEE: an exact zero sum is -0 in round-down unless both terms are +0, else +0 unless both are -0
            both_pos = all(t == 0 and math.copysign(1, t) > 0 for t in terms)
            both_neg = all(t == 0 and math.copysign(1, t) < 0 for t in terms)
            out[i] = dt(-0.0) if (both_neg or (mode == "rd" and not both_pos)) else dt(0.0)
            continue
        out[i] = exact_round(v, dt, mode)
    return out


# ---- float references -----------------------------------------------------------------------------------

def _round_half_away(x):
    t = np.trunc(x)
    return np.where(np.abs(x - t) >= 0.5, t + np.sign(x), t)


def _logb(x):
    with np.errstate(all="ignore"):
        m, e = np.frexp(x)
        r = (e - 1).astype(np.float64)
    r = np.where(x == 0, -np.inf, r)
    r = np.where(np.isinf(x), np.inf, r)
    return np.where(np.isnan(x), np.nan, r)


def _sinpi(x):
    r = np.fmod(x, 2.0)
    return np.where(np.isinf(x), np.nan, np.where(r == 0, np.copysign(0.0, x), _vec(lambda v: mpmath.sinpi(v))(r)
                                                  if mpmath else np.sin(np.pi * r)))


def _cospi(x):
    r = np.fmod(np.abs(x), 2.0)
    return np.where(np.isinf(x), np.nan, _vec(lambda v: mpmath.cospi(v))(r) if mpmath else np.cos(np.pi * r))


def _erfcx(x):
    if mpmath:
        return _vec(lambda v: 0.0 if v == math.inf else mpmath.exp(mpmath.mpf(v) ** 2) * mpmath.erfc(v))(x)
    import scipy.special
    return scipy.special.erfcx(x)


def _erfinv(x):
    if mpmath:
        return _vec(lambda v: mpmath.erfinv(v) if abs(v) < 1 else (math.copysign(math.inf, v) if abs(v) == 1
                                                                     else math.nan))(x)
    import scipy.special
    return scipy.special.erfinv(x)


def _erfcinv(p):
    def one(v):
        if v == 0:
            return math.inf
        if v == 2:
            return -math.inf
        if not 0 < v < 2:
            return math.nan
        # erfc(t) = v, solved with mpmath's findroot on high precision, from erfinv(1 - v)
        if v > 0.5:
            return mpmath.erfinv(1 - mpmath.mpf(v))
        return mpmath.findroot(lambda t: mpmath.log(mpmath.erfc(t)) - mpmath.log(v),
                               mpmath.sqrt(-mpmath.log(v)))
    return _vec(one)(p)


def _lgamma(x):
    def one(v):
        if math.isinf(v):
            return math.inf
        if v <= 0 and v == math.floor(v):
            return math.inf
        return mpmath.loggamma(v).real if mpmath else math.lgamma(v)
    return _vec(one)(x)


def _tgamma(x):
    def one(v):
        if v == 0:
            return math.copysign(math.inf, v)
        if v < 0 and (math.isinf(v) or v == math.floor(v)):
            return math.nan
        if v > 172:
            return math.inf
        return mpmath.gamma(v) if mpmath else math.gamma(v)
    return _vec(one)(x)


def _np(f):
    def g(*a):
        with np.errstate(all="ignore"):
            return f(*[np.asarray(v, np.float64) for v in a])
    return g


_SQ2 = math.sqrt(2)
REF = {
    "exp": _np(np.exp), "exp2": _np(np.exp2), "exp10": _np(lambda x: 10.0 ** x), "expm1": _np(np.expm1),
    "log": _np(np.log), "log2": _np(np.log2), "log10": _np(np.log10), "log1p": _np(np.log1p),
    "sqrt": _np(np.sqrt), "rsqrt": _np(lambda x: 1 / np.sqrt(x)), "cbrt": _np(np.cbrt),
    "rcbrt": _np(lambda x: 1 / np.cbrt(x)), "sin": _np(np.sin), "cos": _np(np.cos), "tan": _np(np.tan),
    "asin": _np(np.arcsin), "acos": _np(np.arccos), "atan": _np(np.arctan), "sinh": _np(np.sinh),
    "cosh": _np(np.cosh), "tanh": _np(np.tanh), "asinh": _np(np.arcsinh), "acosh": _np(np.arccosh),
    "atanh": _np(np.arctanh), "erf": _vec(math.erf), "erfc": _vec(math.erfc), "erfcx": _erfcx,
    "normcdf": _vec(lambda v: 0.5 * math.erfc(-v / _SQ2)), "lgamma": _lgamma, "tgamma": _tgamma,
    "sinpi": _sinpi, "cospi": _cospi, "floor": _np(np.floor), "ceil": _np(np.ceil), "trunc": _np(np.trunc),
    "round": _np(_round_half_away), "rint": _np(np.rint), "nearbyint": _np(np.rint), "abs": _np(np.abs),
    "saturatef": _np(lambda x: np.where(np.isnan(x), 0.0, np.clip(x, 0, 1))),
    "sigmoid": _np(lambda x: np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))),
                                      np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))),
    "logb": _np(_logb), "erfinv": _erfinv, "erfcinv": _erfcinv,
    "normcdfinv": lambda p: -_SQ2 * _erfcinv(2 * np.asarray(p, np.float64)),
    "fast_expf": _np(np.exp), "fast_exp10f": _np(lambda x: 10.0 ** x), "fast_logf": _np(np.log),
    "fast_log2f": _np(np.log2), "fast_log10f": _np(np.log10), "fast_tanhf": _np(np.tanh),
    "fast_sinf": _np(np.sin), "fast_cosf": _np(np.cos), "fast_tanf": _np(np.tan),
    "atan2": _np(np.arctan2), "hypot": _np(np.hypot), "rhypot": _np(lambda x, y: 1 / np.hypot(x, y)),
    "nextafter": None, "fdim": _np(lambda x, y: np.where(np.isnan(x) | np.isnan(y), np.nan,
                                                        np.where(x > y, x - y, 0.0))),
    "fmod": _np(np.fmod), "remainder": _vec(math.remainder), "copysign": _np(np.copysign),
    "fmax": _np(np.fmax), "fmin": _np(np.fmin), "pow": _np(np.power), "fma": None,
    "norm3d": _np(lambda x, y, z: np.sqrt(x * x + y * y + z * z)),
    "rnorm3d": _np(lambda x, y, z: 1 / np.sqrt(x * x + y * y + z * z)),
    "norm4d": _np(lambda x, y, z, w: np.sqrt(x * x + y * y + z * z + w * w)),
    "rnorm4d": _np(lambda x, y, z, w: 1 / np.sqrt(x * x + y * y + z * z + w * w)),
}
if mpmath:
    for _k, _n in (("norm3d", 3), ("rnorm3d", 3), ("norm4d", 4), ("rnorm4d", 4), ("rhypot", 2), ("hypot", 2)):
        REF[_k] = _vec((lambda r: lambda *a: r(mpmath.sqrt(sum(mpmath.mpf(v) ** 2 for v in a))))(
            (lambda s: 1 / s) if _k.startswith("r") else (lambda s: s)))


def _check(name, got, ref, dt, tol, seed, table=None):
    e = ulp_err(got, ref, dt)
    worst = float(np.max(e))
    if table is not None:
        table[name] = worst
    i = int(np.argmax(e))
    assert worst <= tol, (f"{name} [{np.dtype(dt).name}] max {worst:.3g} ulp > {tol} at input #{i} "
                          f"(got {got[i]!r}, ref {ref[i]!r}), seed {seed}")


# ---- default tier ---------------------------------------------------------------------------------------

def _core_inputs(rng):
    x = wide(rng, np.float32)
    y = wide(rng, np.float32)[::-1].copy()
    u = unit(rng, np.float32)
    return x, y, u


def test_core_names_through_the_real_frontend():
    """log10/asin/acos/atan/atan2/asinh/acosh read module constants (only constexpr globals compile), sigmoid
    was missing, and the most used new names; fp32, 1000 elements, BLOCK 128, against float64/exact refs."""
    rng = np.random.default_rng(SEED)
    x, y, u = _core_inputs(rng)
    out = torch.zeros(len(K.CORE) * N)
    K.core_kernel[GRID](_t(x), _t(y), _t(u), out, N, BLOCK=BLOCK)
    o = out.numpy().reshape(len(K.CORE), N)
    f32 = np.float32
    _check("log10", o[0], REF["log10"](x), f32, 2, SEED)
    _check("asin", o[1], REF["asin"](u), f32, 2, SEED)
    _check("acos", o[2], REF["acos"](u), f32, 2, SEED)
    _check("atan", o[3], REF["atan"](x), f32, 2, SEED)
    _check("atan2", o[4], REF["atan2"](x, y), f32, 3, SEED)
    _check("asinh", o[5], REF["asinh"](x), f32, 2, SEED)
    _check("acosh", o[6], REF["acosh"](x), f32, 2, SEED)
    _check("sigmoid", o[7], REF["sigmoid"](x), f32, 1, SEED)
    _check("erfinv", o[8], REF["erfinv"](u), f32, 1, SEED)
    _check("lgamma", o[9], REF["lgamma"](x), f32, 2, SEED)
    _check("div_rz", o[10], ref_directed("div", "rz", f32, x, y), f32, 0, SEED)
    _check("add_rd", o[11], ref_directed("add", "rd", f32, x, y), f32, 0, SEED)
    _check("sqrt_ru", o[12], ref_directed("sqrt", "ru", f32, x), f32, 0, SEED)
    with np.errstate(all="ignore"):
        fl = np.floor(x.astype(np.float64))
    want = np.where(np.isnan(fl), 0, np.clip(fl, -2**31, 2**31 - 1)).astype(np.int64).astype(np.float32)
    assert np.array_equal(o[13], want), f"float2int_rd, seed {SEED}"
    bits = x.view(np.uint32)
    rev = np.array([int(f"{int(b):032b}"[::-1], 2) for b in bits], np.uint32).view(np.float32)
    assert np.array_equal(o[14].view(np.uint32), rev.view(np.uint32)), f"brev, seed {SEED}"
    _check("div_rn", o[15], ref_directed("div", "rn", f32, x, y), f32, 0, SEED)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pow_follows_c_special_cases(dtype):
    """pow over every pair of special values (signed zeros, infinities, NaN, +-1, halves, odd and even
    integers) plus random pairs: C's rules exactly (pow(-inf, 0.5) = inf, pow(-0, -3) = -inf,
    pow(-1, inf) = 1, pow(FLT_MAX, 1) = FLT_MAX), moderate finite results within the sweep's ulp bound."""
    dt = NP[dtype]
    rng = np.random.default_rng(SEED)
    e = np.concatenate([_edges(dt), [-3.0, 3.5, -0.25, 4.0, -1.5]]).astype(dt)
    x = np.concatenate([np.repeat(e, len(e)), wide(rng, dt, 300)]).astype(dt)
    y = np.concatenate([np.tile(e, len(e)), wide(rng, dt, 300)[::-1]]).astype(dt)
    out = torch.zeros(len(x), dtype=getattr(torch, dtype))
    K.pow_kernel[(triton.cdiv(len(x), BLOCK),)](_t(x), _t(y), out, len(x), BLOCK=BLOCK)
    got = out.numpy()
    with np.errstate(all="ignore"):
        ref = np.power(x.astype(np.float64), y.astype(np.float64))
    exact = ~np.isfinite(ref) | (ref == 0) | ~np.isfinite(x) | ~np.isfinite(y) | (x == 0) | (np.abs(x) == 1)
    exact &= ~(np.isfinite(ref) & (np.abs(ref) > np.finfo(dt).max))       # rounds to inf in dt: ulp check
    want = ref.astype(dt)
    same = (np.isnan(got) & np.isnan(want)) | ((got == want) & (np.signbit(got) == np.signbit(want)))
    bad = np.flatnonzero(exact & ~same)
    assert not len(bad), (f"pow [{dtype}] seed {SEED}: " + ", ".join(
        f"pow({x[i]!r}, {y[i]!r}) = {got[i]!r}, want {want[i]!r}" for i in bad[:8]))
    # accuracy away from the special cases (fp64: the error grows with |y log2 x|, docs/triton.md)
    with np.errstate(all="ignore"):
        moderate = ~exact & (np.abs(y.astype(np.float64) * np.log2(np.abs(x.astype(np.float64)))) < 16)
    _check("pow", got[moderate], ref[moderate], dt, _tol("pow", dtype), SEED)
    if dtype == "float32":                  # computed in fp64: every finite result is correctly rounded-ish
        fin = ~exact & np.isfinite(ref) & (np.abs(ref) <= np.finfo(dt).max)
        _check("pow", got[fin], ref[fin], dt, 1, SEED)


def test_fp64_mod_and_rnorm_edges():
    """fp64 fmod/remainder with subnormal divisors (the scale-back clamped the divisor's exponent at -1100:
    fmod(-18.5, -1.5e-319) came out as -4.2e-316) and rnorm3d/rhypot whose norm overflows but whose
    reciprocal is a subnormal (came out 0); random pairs too. fmod/remainder exact (C's, via math)."""
    rng = np.random.default_rng(SEED)
    tiny = np.finfo(np.float64).smallest_subnormal
    m = 300
    x = np.concatenate([[-18.5, 1e300, 3.0, 1e-310], wide(rng, np.float64, m)])
    y = np.concatenate([[-1.5149e-319, 7 * tiny, 2.5e-320, 3 * tiny],
                        np.exp2(rng.uniform(-1074, -1000, m)) * rng.choice([-1, 1], m)])
    z = np.concatenate([[1.0, 2.0, 3.0, 4.0], wide(rng, np.float64, m)])
    big = np.finfo(np.float64).max
    x[-4:], y[-4:], z[-4:] = [big, -big, big, 1e308], [1.0, big, 5.5, 1e308], [big, 0.0, -big, 1e308]
    n = len(x)
    out = torch.zeros(4 * n, dtype=torch.float64)
    K.mod_norm_kernel[(triton.cdiv(n, BLOCK),)](_t(x), _t(y), _t(z), out, n, BLOCK=BLOCK)
    o = out.numpy().reshape(4, n)
    fin = np.isfinite(x) & np.isfinite(y) & (y != 0)
    want_mod = np.array([math.fmod(a, b) if f else np.nan for a, b, f in zip(x, y, fin)])
    want_rem = np.array([math.remainder(a, b) if f else np.nan for a, b, f in zip(x, y, fin)])
    _check("fmod", o[0][fin], want_mod[fin], np.float64, 0, SEED)
    _check("remainder", o[1][fin], want_rem[fin], np.float64, 0, SEED)
    # 1/norm from the exact sum of squares S = s * 4^k (Fraction), s ~ 1: ldexp(1/sqrt(s), -k)
    def rnorm(*vals):
        S = sum(Fraction(float(v)) ** 2 for v in vals)
        k = (S.numerator.bit_length() - S.denominator.bit_length()) // 2
        try:
            return math.ldexp(1 / math.sqrt(float(S / Fraction(4) ** k)), -k)
        except OverflowError:
            return math.inf
    sel = np.isfinite(x) & np.isfinite(y) & np.isfinite(z) & ((x != 0) | (y != 0) | (z != 0))
    idx = np.flatnonzero(sel)
    _check("rnorm3d", o[2][idx], np.array([rnorm(x[i], y[i], z[i]) for i in idx]), np.float64, 2, SEED)
    sel2 = np.isfinite(x) & np.isfinite(y) & ((x != 0) | (y != 0))
    idx = np.flatnonzero(sel2)
    _check("rhypot", o[3][idx], np.array([rnorm(x[i], y[i]) for i in idx]), np.float64, 2, SEED)
    assert o[2][-4] > 0 and o[3][-3] > 0, (o[2][-4:], o[3][-4:], SEED)    # subnormal, not 0


def test_lacking_name_fails_only_when_called():
    """libdevice_kernels mentions libdevice.not_a_libdevice_fn in a branch a constexpr switches off, and
    has a never-launched kernel calling it: all of that compiles; calling it is a typed error naming it at
    the kernel's line. (Every name of Triton's CUDA libdevice is provided, so the lacking name is made up.)"""
    x = torch.randn(N)
    out = torch.empty(N)
    K.lazy_missing_kernel[GRID](x, out, N, BLOCK=BLOCK, USE=False)
    np.testing.assert_allclose(out.numpy(), np.arctan(x.numpy().astype(np.float64)), rtol=3e-7, atol=0)
    with pytest.raises(triton.compiler.errors.CompilationError) as ei:
        K.lazy_missing_kernel[GRID](x, out, N, BLOCK=BLOCK, USE=True)
    msg = str(ei.value)
    assert "UnsupportedError" in msg and "libdevice.not_a_libdevice_fn" in msg \
        and "libdevice.not_a_libdevice_fn(x)" in msg, msg
    from hexmlir.errors import UnsupportedError
    assert isinstance(ei.value.__cause__, UnsupportedError) and ei.value.__cause__.op == "libdevice.not_a_libdevice_fn"


def _rcp64h_model(x: float) -> float:
    """PTX rcp.approx.ftz.f64 as exact arithmetic: 1/hi(x) (x's low word read as 0) rounded to nearest-even
    at 20 fraction bits, subnormal inputs and results flushed to signed zero."""
    if math.isnan(x):
        return math.nan
    bits = int(np.float64(x).view(np.uint64))
    neg = bits >> 63
    if (bits >> 52) & 0x7FF == 0:
        return -math.inf if neg else math.inf
    h = float(np.uint64(bits & ~0xFFFFFFFF).view(np.float64))
    if math.isinf(h):
        return -0.0 if neg else 0.0
    q = 1 / Fraction(h)
    mag = abs(q)
    if mag < Fraction(2) ** -1022:
        return -0.0 if neg else 0.0
    e = mag.numerator.bit_length() - mag.denominator.bit_length()
    if Fraction(2) ** e > mag:
        e -= 1
    scale = Fraction(2) ** (20 - e)
    r = float(round(mag * scale) / scale)             # round(): nearest-even
    return -r if neg else r


def test_rcp64h_against_model():
    """rcp64h (the last of CUDA libdevice's names to be provided) through the real frontend, bit for bit
    against an exact model of PTX rcp.approx.ftz.f64: wide magnitudes, inputs whose low word matters,
    values near powers of two, the edges (+-0, subnormals, the largest values whose reciprocal is
    subnormal, +-inf, nan); 1000 + edges elements (not a multiple of the block)."""
    rng = np.random.default_rng(SEED)
    tiny = np.finfo(np.float64).tiny
    x = np.concatenate([
        np.exp2(rng.uniform(-1021, 1021, 600)) * rng.choice([-1, 1], 600),
        rng.standard_normal(200),
        np.ldexp(1.0 + rng.integers(0, 1 << 20, 200) * 2.0 ** -20, rng.integers(-50, 50, 200)),
        [0.0, -0.0, 5e-324, -1e-310, tiny, -tiny, 2.0 ** 1022, 2.0 ** 1022 * (1 + 2 ** -20), 1.7e308, -1.7e308,
         np.inf, -np.inf, np.nan, 1.0, -1.0, 3.0, 1 + 2 ** -21, 1 + 2 ** -20 - 2 ** -40, 0.75]])
    x[800:1000] += x[800:1000] * rng.uniform(0, 2.0 ** -21, 200)       # low-word bits that must be ignored
    n = len(x)
    out = torch.zeros(n, dtype=torch.float64)
    K.rcp64h_kernel[(triton.cdiv(n, BLOCK), )](_t(x), out, n, BLOCK=BLOCK)
    got = out.numpy()
    want = np.array([_rcp64h_model(float(v)) for v in x])
    same = (got.view(np.uint64) == want.view(np.uint64)) | (np.isnan(got) & np.isnan(want))
    bad = np.flatnonzero(~same)
    assert not len(bad), (f"seed {SEED}: rcp64h differs at {len(bad)} inputs, e.g. "
                          f"{[(float(x[i]), float(got[i]), float(want[i])) for i in bad[:5]]}")
    assert (got.view(np.uint64)[np.isfinite(got)] & 0xFFFFFFFF == 0).all()    # a high word only


def test_every_cuda_libdevice_name_is_provided_or_documented():
    """Each public function of Triton's CUDA libdevice is a jit function here, or in UNSUPPORTED with a
    reason that docs/triton.md repeats."""
    import inspect
    import triton.language.extra.cuda.libdevice as cuda
    from pathlib import Path
    names = [n for n, v in vars(cuda).items() if not n.startswith("_") and inspect.isfunction(v)
             and v.__module__ == cuda.__name__]
    assert len(names) >= 190
    doc = (Path(__file__).parents[1] / "docs" / "triton.md").read_text()
    for n in names:
        if n in HL.UNSUPPORTED:
            assert f"`{n}`" in doc, n
        else:
            assert isinstance(vars(HL).get(n), triton.runtime.JITFunction), n
    assert isinstance(vars(HL).get("sigmoid"), triton.runtime.JITFunction)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bessel_functions_against_scipy(dtype):
    """j0 j1 y0 y1 cyl_bessel_i0 cyl_bessel_i1 through the real frontend against scipy (float64) over their
    domain: both sides of the series/asymptotic switch (12; 15 for I), zeros of J and Y, tiny and large
    arguments, the I's overflow, and the edges. Computed in fp64: at most ~1 ulp in fp32 and 5e-12 (relative
    to max(1, |f|)) in fp64, where CUDA states 2.2e-6 absolute in fp32."""
    sp = pytest.importorskip("scipy.special")
    dt = NP[dtype]
    rng = np.random.default_rng(SEED)
    x = np.concatenate([rng.uniform(-40, 40, 400), rng.uniform(0, 16, 300), 10 ** rng.uniform(-8, 3, 200),
                        [0.0, -0.0, 11.999, 12.0, 12.001, 14.999, 15.001, 2.404825557695773, 3.831705970207512,
                         0.8935769662791675, 2.197141326031017, 88.0, 90.0, 700.0, 1e5, np.inf, -np.inf, np.nan]])
    x = x.astype(dt)
    n = len(x)
    out = torch.zeros(6 * n, dtype=_t(x).dtype)
    K.bessel_kernel[(triton.cdiv(n, 128), )](_t(x), out, n, BLOCK=128)
    got = out.numpy().reshape(6, n).astype(np.float64)
    xd = x.astype(np.float64)
    tol = 1.2e-7 if dt == np.float32 else 5e-12
    with np.errstate(all="ignore"):
        # I0, I1 through the scaled forms: scipy's i0/i1 overflow to inf from x ~ 709.8, where the value
        # (e^x / sqrt(2 pi x)) is finite up to x ~ 713.9 (seed 1354760785 drew x = 711.47: 1.457e307)
        big = np.isinf(xd)
        i0 = np.where(big, sp.i0(xd), np.exp(np.log(sp.i0e(xd)) + np.abs(xd)))
        i1 = np.where(big, sp.i1(xd), np.sign(xd) * np.exp(np.log(np.abs(sp.i1e(xd))) + np.abs(xd)))
        refs = {"j0": sp.j0(xd), "j1": sp.j1(xd), "y0": sp.y0(xd), "y1": sp.y1(xd), "i0": i0, "i1": i1}
        for k, (name, ref) in enumerate(refs.items()):
            ref = np.where(np.isinf(xd) & (name[0] in "jy"), np.where((xd < 0) & (name[0] == "y"), np.nan, 0.0), ref)
            ref_t = ref.astype(dt).astype(np.float64)           # overflow to inf where the type does
            err = np.abs(got[k] - ref) / np.maximum(1.0, np.abs(ref))
            ok = (err <= tol) | (got[k] == ref_t) | (np.isnan(got[k]) & np.isnan(ref_t))
            assert ok.all(), (f"{name} {dtype} seed {SEED}: x={x[~ok][:4]} got={got[k][~ok][:4]} want={ref[~ok][:4]} "
                              f"max err {np.nanmax(np.where(np.isfinite(ref), err, 0))}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bessel_jn_yn_against_scipy(dtype):
    """jn/yn of integer orders (0, 1, 2, 5, 17, 60, and negative) against scipy's jv/yn: forward recurrence
    where |x| > |n| (and always for yn), Miller's backward recurrence below; tiny x (yn overflows to -inf,
    jn underflows), 0, odd/even symmetry."""
    sp = pytest.importorskip("scipy.special")
    dt = NP[dtype]
    rng = np.random.default_rng(SEED)
    x = np.concatenate([rng.uniform(-40, 40, 150), rng.uniform(0, 20, 100), 10 ** rng.uniform(-6, 3, 70),
                        [0.0, 1e-30, 2.0, 100.0]]).astype(dt)
    n = len(x)
    tol = 1.2e-7 if dt == np.float32 else 1e-11
    xd = x.astype(np.float64)
    for order in (0, 1, 2, 5, 17, 60, -3):
        out = torch.zeros(2 * n, dtype=_t(x).dtype)
        K.bessel_n_kernel[(triton.cdiv(n, 128), )](_t(x), out, n, order, BLOCK=128)
        got = out.numpy().reshape(2, n).astype(np.float64)
        with np.errstate(all="ignore"):
            for name, g, ref in (("jn", got[0], sp.jv(order, xd)), ("yn", got[1], sp.yn(order, xd))):
                ref_t = ref.astype(dt).astype(np.float64)
                err = np.abs(g - ref) / np.maximum(1.0, np.abs(ref))
                ok = (err <= tol) | (g == ref_t) | (np.isnan(g) & np.isnan(ref_t))
                assert ok.all(), (f"{name}({order}) {dtype} seed {SEED}: x={x[~ok][:4]} got={g[~ok][:4]} "
                                  f"want={ref[~ok][:4]}")


# ---- slow tier: every name ------------------------------------------------------------------------------

def _mp_ref(fn):
    def one(*a):
        try:
            r = fn(*[mpmath.mpf(v) for v in a])
        except (ValueError, ZeroDivisionError):
            return math.nan
        if isinstance(r, mpmath.mpc):
            return float(r.real) if r.imag == 0 else math.nan
        return float(r)
    return _vec(one)


if mpmath:
    _M = mpmath
    REF64 = {"exp": _mp_ref(_M.exp), "exp2": _mp_ref(lambda v: _M.power(2, v)),
             "exp10": _mp_ref(lambda v: _M.power(10, v)), "expm1": _mp_ref(_M.expm1), "log": _mp_ref(_M.log),
             "log2": _mp_ref(lambda v: _M.log(v, 2)), "log10": _mp_ref(_M.log10), "log1p": _mp_ref(_M.log1p),
             "sin": _mp_ref(_M.sin), "cos": _mp_ref(_M.cos), "tan": _mp_ref(_M.tan), "asin": _mp_ref(_M.asin),
             "acos": _mp_ref(_M.acos), "atan": _mp_ref(_M.atan), "sinh": _mp_ref(_M.sinh),
             "cosh": _mp_ref(_M.cosh), "tanh": _mp_ref(_M.tanh), "asinh": _mp_ref(_M.asinh),
             "acosh": _mp_ref(_M.acosh), "atanh": _mp_ref(_M.atanh), "erf": _mp_ref(_M.erf),
             "erfc": _mp_ref(_M.erfc), "normcdf": _mp_ref(lambda v: _M.ncdf(v)),
             "cbrt": _mp_ref(lambda v: _M.cbrt(v) if v >= 0 else -_M.cbrt(-v)),
             "rcbrt": _mp_ref(lambda v: 1 / (_M.cbrt(v) if v >= 0 else -_M.cbrt(-v))),
             "rsqrt": _mp_ref(lambda v: 1 / _M.sqrt(v)), "sigmoid": _mp_ref(lambda v: 1 / (1 + _M.exp(-v))),
             "pow": _mp_ref(lambda a, b: _M.power(a, b)), "atan2": _mp_ref(_M.atan2)}
else:
    REF64 = {}

EXACT_UNARY = {"floor", "ceil", "trunc", "round", "rint", "nearbyint", "abs", "saturatef", "logb", "sqrt_rn"}
DIRECTED_UNARY = {f"{op}_{m}": (op, m) for op in ("sqrt", "rcp") for m in ("rn", "rz", "rd", "ru")}
DIRECTED_BINARY = {f"{op}_{m}": (op, m) for op in ("add", "sub", "mul", "div") for m in ("rn", "rz", "rd", "ru")}
DIRECTED_BINARY.update({f"fma_{m}": ("fma", m) for m in ("rn", "rz", "rd", "ru")})
DIRECTED_BINARY["fma"] = ("fma", "rn")
# ulp bounds (the measured maxima are in docs/triton.md); names not listed: 2 ulp (fp32), 1 (fp16), 4 (fp64)
TOL = {
    "float32": {"exp": 3, "exp2": 3, "exp10": 3, "log": 2, "log2": 2, "sin": 2, "cos": 2, "tanh": 3, "erf": 5,
                "rsqrt": 2, "pow": 1, "lgamma": 3, "tgamma": 3, "fast_expf": 3,
                "fast_exp10f": 3, "fast_tanhf": 3, "fast_log2f": 2, "fast_logf": 2, "fast_log10f": 2},
    "float64": {"lgamma": 1e13, "tgamma": 1e4, "pow": 64, "erfinv": 8, "erfcinv": 1e3, "normcdfinv": 1e3,
                "erfcx": 1e3, "erfc": 1e3, "normcdf": 1e3, "expm1": 8, "log1p": 8, "tan": 4, "sinh": 8,
                "asinh": 8, "acosh": 8, "atanh": 8, "exp10": 8, "rcbrt": 4},
    "float16": {"pow": 2},
}


def _tol(name, dtype):
    return TOL[dtype].get(name, {"float32": 2, "float16": 1, "float64": 4}[dtype])


def _report(title, table):
    print(f"\n{title}: " + ", ".join(f"{k} {v:.3g}" for k, v in sorted(table.items())))


# The many-row sweep kernels once came out wrong where each function alone was right (nextafter, fdim,
# asin, acos fused): vectorized code stored i1 masks bit-packed while scalar code read a byte per element
# (issue 12 item 1, fixed in lowering). What still fails is fp64 accuracy.
_FP64 = pytest.mark.xfail(strict=False, reason=(
    "fp64 accuracy, not the many-row miscompile (docs/triton.md, libdevice): binary: one ulp for directed "
    "rounding with subnormal results (some are the reference's: it takes IEEE's 0 for an underflowing "
    "div_ru), pow beyond 64 ulp for large |y log2 x|, on some seeds atan2 and fma_ru/rz, not yet sorted; "
    "unary: inf at special inputs for cbrt/rcbrt/rsqrt/erfc/erfcx/normcdf/log1p/lgamma/tgamma, tanh and "
    "exp10 tens of ulp and more, not yet sorted into reference problems and real errors"))


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float32", pytest.param("float64", marks=_FP64), "float16"])
def test_every_unary_name(dtype):
    dt = NP[dtype]
    rng = np.random.default_rng(SEED)
    x, u, p = wide(rng, dt), unit(rng, dt), prob(rng, dt)
    names = K.UNARY + K.U01 + K.P01 + (K.FAST if dtype == "float32" else [])
    rows = len(K.UNARY) + len(K.U01) + len(K.P01) + len(K.FAST)
    out = torch.zeros(rows * N, dtype=getattr(torch, dtype))
    K.unary_kernel[GRID](_t(x), _t(u), _t(p), out, N, BLOCK=BLOCK)
    o = out.numpy().reshape(rows, N)
    table, bad = {}, []
    for r, name in enumerate(names):
        a = u if name in K.U01 else p if name in K.P01 else x
        if name == "rsqrt_rn":
            ref, tol = ref_directed("rsqrt", "rn", dt, a).astype(np.float64), 0
        elif name in DIRECTED_UNARY:
            if dtype == "float16":
                continue                                   # (CUDA has no fp16 variants; fp16 rounds twice)
            op, mode = DIRECTED_UNARY[name]
            ref, tol = ref_directed(op, mode, dt, a).astype(np.float64), 0
        else:
            f = REF64.get(name, REF[name]) if dtype == "float64" else REF[name]
            ref, tol = f(a), 0 if name in EXACT_UNARY else _tol(name, dtype)
        try:
            _check(name, o[r], ref, dt, tol, SEED, table)
        except AssertionError as e:
            bad.append(str(e).splitlines()[0])
    _report(f"unary {dtype} max ulp", table)
    assert not bad, bad


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float32", pytest.param("float64", marks=_FP64)])
def test_every_binary_name(dtype):
    dt = NP[dtype]
    rng = np.random.default_rng(SEED)
    x = wide(rng, dt)
    y = wide(rng, dt)[::-1].copy()
    y[-40:] = x[-40:] * rng.uniform(-2, 2, 40).astype(dt)      # close pairs: cancellation, ties
    z = -(x * y)                                               # fma near-cancellation
    z[::3] = wide(rng, dt)[::3]
    w = wide(rng, dt)
    k = rng.integers(-300, 300, N).astype(np.int32)
    k[:6] = [0, 1, -1, 2**31 - 1, -2**31, 1100]
    nb, nt, nq = len(K.BINARY), len(K.TERNARY), len(K.QUATERNARY)
    rows = nb + nt + nq + 2
    out = torch.zeros(rows * N, dtype=getattr(torch, dtype))
    K.binary_kernel[GRID](_t(x), _t(y), _t(z), _t(w), _t(k), out, N, BLOCK=BLOCK)
    o = out.numpy().reshape(rows, N)
    table, bad = {}, []
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    for r, name in enumerate(K.BINARY + K.TERNARY + K.QUATERNARY + ["scalbn", "ldexp"]):
        args = [x, y, z, w][:1 + (r >= 0) + (r >= nb) + (r >= nb + nt)] if r < rows - 2 else [x]
        if name in DIRECTED_BINARY:
            op, mode = DIRECTED_BINARY[name]
            ref, tol = ref_directed(op, mode, dt, *args).astype(np.float64), 0
        elif name == "nextafter":
            ref, tol = np.nextafter(x, y.astype(dt)).astype(np.float64), 0
        elif name in ("scalbn", "ldexp"):
            ref = np.array([exact_round(Fraction(float(a)) * Fraction(2) ** int(e), dt, "rn")
                            if np.isfinite(a) and a != 0 else a for a, e in zip(x, k)], np.float64)
            tol = 0
        else:
            with np.errstate(all="ignore"):
                ref = np.asarray(REF[name](*args), np.float64)
            if dtype == "float64" and name in REF64:     # mpmath on finite inputs; C's special cases from numpy
                fin = np.all([np.isfinite(a) for a in args], axis=0)
                ref[fin] = REF64[name](*[a[fin] for a in args])
            tol = 0 if name in ("fmod", "remainder", "copysign", "fmax", "fmin") else _tol(name, dtype)
            tol = 0.5 if name == "fdim" else tol                # (one rounding of x - y)
        try:
            _check(name, o[r], ref, dt, tol, SEED, table)
        except AssertionError as e:
            bad.append(str(e).splitlines()[0])
    _report(f"binary {dtype} max ulp", table)
    assert not bad, bad


def _int_ref(v, mode, bits, signed):
    """PTX cvt float -> int: round in `mode`, saturate, NaN -> 0; unsigned results as the signed bit pattern."""
    if math.isnan(v):
        r = 0
    else:
        if math.isinf(v):
            r = v
        else:
            f = Fraction(v)
            r = {"rn": round(f), "rz": math.trunc(f), "rd": math.floor(f), "ru": math.ceil(f)}[mode]
        lo, hi = (-2 ** (bits - 1), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)
        r = int(min(max(r, lo), hi)) if not math.isinf(r) else (hi if r > 0 else lo)
    if r >= 2 ** (bits - 1):
        r -= 2 ** bits
    return r


def _round_half_away_int(v):
    f = Fraction(v)
    t = math.trunc(f)
    return t + (1 if f - t >= Fraction(1, 2) else -1 if f - t <= -Fraction(1, 2) else 0)


def _wrap(v, bits):
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >= 1 << (bits - 1) else v


@pytest.mark.slow
def test_every_conversion_and_bit_name():
    rng = np.random.default_rng(SEED)
    f = wide(rng, np.float32)
    f[-300:] = (rng.standard_normal(300) * 10 ** rng.uniform(0, 10, 300)).astype(np.float32)
    f[-20:] = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 2**31, -2**31, 2**32, 2**63, -2**63, 2**64, 4294967040.0,
                        -1.0, 3e9, -3e9, 1e19, 2.5e19, 0.49999997, -2**31 - 256, 2147483520.0], np.float32)
    d = wide(rng, np.float64)
    d[-300:] = rng.standard_normal(300) * 10 ** rng.uniform(0, 20, 300)
    d[-10:] = [0.5, -2.5, 2**31 - 0.5, -2**31 - 0.5, 4294967295.5, 2**63, 2**64, -1e-300, 4.5, 1e300]
    i = rng.integers(-2**31, 2**31, N).astype(np.int32)
    j = rng.integers(-2**31, 2**31, N).astype(np.int32)
    i[:8] = [0, -1, 1, 2**31 - 1, -2**31, 16777217, -16777217, 8]
    j[:8] = [0, -1, -1, 2**31 - 1, -2**31, 3, 5, 0]
    li = rng.integers(-2**63, 2**63, N, dtype=np.int64)
    li[N // 2:] >>= rng.integers(0, 63, N - N // 2)
    li[:8] = [0, -1, 1, 2**63 - 1, -2**63, 2**53 + 1, -(2**53 + 1), 2**24 + 1]
    s = rng.integers(0, 2**16, N).astype(np.int32)
    of = torch.zeros(22 * N)
    od = torch.zeros(12 * N, dtype=torch.float64)
    oi = torch.zeros(45 * N, dtype=torch.int32)
    ol = torch.zeros(24 * N, dtype=torch.int64)
    K.conv_kernel[GRID](_t(f), _t(d), _t(i), _t(j), _t(li), _t(s), of, od, oi, ol, N, BLOCK=BLOCK)
    of, od = of.numpy().reshape(22, N), od.numpy().reshape(12, N)
    oi, ol = oi.numpy().reshape(45, N), ol.numpy().reshape(24, N)
    bad = []

    def same(name, got, want):
        got = np.asarray(got)
        want = np.asarray(want, got.dtype)
        eq = (got.view(np.uint8).reshape(len(got), -1) == want.view(np.uint8).reshape(len(want), -1)).all(1)
        if got.dtype.kind == "f":
            eq |= np.isnan(got) & np.isnan(want)
        if not eq.all():
            k = int(np.argmin(eq))
            bad.append(f"{name}: #{k} got {got[k]!r} want {want[k]!r}")

    modes = ["rn", "rz", "rd", "ru"]
    u32 = [int(v) & 0xFFFFFFFF for v in i]
    u64 = [int(v) & 0xFFFFFFFFFFFFFFFF for v in li]

    def fr(vals, dt, mode):
        return np.array([exact_round(Fraction(v), dt, mode) if not (isinstance(v, float) and (
            not math.isfinite(v) or v == 0)) else dt(v) for v in vals], dt)
    for m, mode in enumerate(modes):
        same(f"double2float_{mode}", of[m], fr([float(v) for v in d], np.float32, mode))
        same(f"int2float_{mode}", of[4 + m], fr([int(v) for v in i], np.float32, mode))
        same(f"uint2float_{mode}", of[8 + m], fr(u32, np.float32, mode))
        same(f"ll2float_{mode}", of[12 + m], fr([int(v) for v in li], np.float32, mode))
        same(f"ull2float_{mode}", of[16 + m], fr(u64, np.float32, mode))
        if m:
            same(f"ll2double_{mode}", od[2 + m], fr([int(v) for v in li], np.float64, mode))
            same(f"ull2double_{mode}", od[6 + m], fr(u64, np.float64, mode))
        same(f"float2int_{mode}", oi[m], [_int_ref(float(v), mode, 32, True) for v in f])
        same(f"float2uint_{mode}", oi[4 + m], [_int_ref(float(v), mode, 32, False) for v in f])
        same(f"double2int_{mode}", oi[8 + m], [_int_ref(float(v), mode, 32, True) for v in d])
        same(f"double2uint_{mode}", oi[12 + m], [_int_ref(float(v), mode, 32, False) for v in d])
        same(f"float2ll_{mode}", ol[m], [_int_ref(float(v), mode, 64, True) for v in f])
        same(f"float2ull_{mode}", ol[4 + m], [_int_ref(float(v), mode, 64, False) for v in f])
        same(f"double2ll_{mode}", ol[8 + m], [_int_ref(float(v), mode, 64, True) for v in d])
        same(f"double2ull_{mode}", ol[12 + m], [_int_ref(float(v), mode, 64, False) for v in d])
    same("int_as_float", of[20], i.view(np.float32))
    same("uint_as_float", of[21], i.view(np.float32))
    same("int2double_rn", od[0], i.astype(np.float64))
    same("uint2double_rn", od[1], np.array(u32, np.float64))
    same("ll2double_rn", od[2], fr([int(v) for v in li], np.float64, "rn"))
    same("ull2double_rn", od[6], fr(u64, np.float64, "rn"))
    same("longlong_as_double", od[10], li.view(np.float64))
    same("hiloint2double", od[11], ((i.astype(np.int64) << 32) | (j.astype(np.int64) & 0xFFFFFFFF)).view(np.float64))
    same("float_as_int", oi[16], f.view(np.int32))
    same("float_as_uint", oi[17], f.view(np.int32))
    same("double2hiint", oi[18], (d.view(np.int64) >> 32).astype(np.int32))
    same("double2loint", oi[19], d.view(np.int64).astype(np.int32))
    same("clz(int32)", oi[20], [32 - u.bit_length() for u in u32])
    same("clz(int64)", oi[21], [64 - u.bit_length() for u in u64])
    same("popc(int32)", oi[22], [bin(u).count("1") for u in u32])
    same("popc(int64)", oi[23], [bin(u).count("1") for u in u64])
    same("ffs(int32)", oi[24], [(u & -u).bit_length() for u in u32])
    same("ffs(int64)", oi[25], [(u & -u).bit_length() for u in u64])
    same("brev(int32)", oi[26], [_wrap(int(f"{u:032b}"[::-1], 2), 32) for u in u32])
    y8 = [(int(b) << 32 | a) for a, b in zip(u32, [int(v) & 0xFFFFFFFF for v in j])]
    same("byte_perm", oi[27], [_wrap(sum(((v >> (8 * ((int(q) >> (4 * t)) & 7))) & 0xFF) << (8 * t)
                                         for t in range(4)), 32) for v, q in zip(y8, s)])
    uj = [int(v) & 0xFFFFFFFF for v in j]
    same("mulhi(int32)", oi[28], [(int(a) * int(b)) >> 32 for a, b in zip(i, j)])
    same("mulhi(uint32)", oi[29], [_wrap((a * b) >> 32, 32) for a, b in zip(u32, uj)])
    s24 = [((int(a) & 0xFFFFFF) ^ 0x800000) - 0x800000 for a in i]
    t24 = [((int(a) & 0xFFFFFF) ^ 0x800000) - 0x800000 for a in j]
    same("mul24(int32)", oi[30], [_wrap(a * b, 32) for a, b in zip(s24, t24)])
    same("mul24(uint32)", oi[31], [_wrap((a & 0xFFFFFF) * (b & 0xFFFFFF), 32) for a, b in zip(u32, uj)])
    same("sad(int32)", oi[32], [_wrap(abs(int(a) - int(b)) + (int(c) & 0xFFFFFFFF), 32) for a, b, c in zip(i, j, s)])
    same("sad(uint32)", oi[33], [_wrap(abs(a - b) + int(c), 32) for a, b, c in zip(u32, uj, s)])
    same("hadd(int32)", oi[34], [(int(a) + int(b)) >> 1 for a, b in zip(i, j)])
    same("hadd(uint32)", oi[35], [_wrap((a + b) >> 1, 32) for a, b in zip(u32, uj)])
    same("rhadd(int32)", oi[36], [(int(a) + int(b) + 1) >> 1 for a, b in zip(i, j)])
    same("rhadd(uint32)", oi[37], [_wrap((a + b + 1) >> 1, 32) for a, b in zip(u32, uj)])

    def ilogb(v):
        if math.isnan(v) or v == 0:
            return -2**31
        if math.isinf(v):
            return 2**31 - 1
        return math.frexp(v)[1] - 1
    same("ilogb(fp32)", oi[38], [ilogb(float(v)) for v in f])
    same("ilogb(fp64)", oi[39], [ilogb(float(v)) for v in d])
    same("isnan", oi[40], np.isnan(f).astype(np.int32))
    same("isinf", oi[41], np.isinf(f).astype(np.int32))
    same("signbit", oi[42], np.signbit(f).astype(np.int32))
    same("finitef", oi[43], np.isfinite(f).astype(np.int32))
    same("isfinited", oi[44], np.isfinite(d).astype(np.int32))
    same("double_as_longlong", ol[16], d.view(np.int64))

    def llround(v):
        if math.isnan(v):
            return 0
        if math.isinf(v) or abs(v) >= 2**63:
            return 2**63 - 1 if v > 0 else -2**63
        return _round_half_away_int(v)
    same("llround(fp32)", ol[17], [llround(float(v)) for v in f])
    same("llround(fp64)", ol[18], [llround(float(v)) for v in d])
    small = np.abs(f) < 2**62
    same("llrint", ol[19][small], np.array([round(Fraction(float(v))) for v in f[small]], np.int64))
    same("clz(int64)->int64", ol[20], [64 - u.bit_length() for u in u64])
    same("brev(int64)", ol[21], [_wrap(int(f"{u:064b}"[::-1], 2), 64) for u in u64])
    l2 = [_wrap(int(v) * 3 + 12345, 64) for v in li]
    same("mulhi(int64)", ol[22], [(int(a) * b) >> 64 for a, b in zip(li, l2)])
    same("mulhi(uint64)", ol[23], [_wrap(((a) * (b & 0xFFFFFFFFFFFFFFFF)) >> 64, 64) for a, b in zip(u64, l2)])
    assert not bad, f"seed {SEED}: " + "; ".join(bad)


@pytest.mark.slow
def test_binary_kernel_fused():
    """The 38-row binary kernel fused (the default): nextafter's rows were wrong when vectorized code stored
    its i1 masks bit-packed and scalar code read them a byte per element (issue 12 item 1)."""
    rng = np.random.default_rng(SEED)
    x = wide(rng, np.float32)
    y = wide(rng, np.float32)[::-1].copy()
    z, w = wide(rng, np.float32), wide(rng, np.float32)
    k = np.zeros(N, np.int32)
    rows = len(K.BINARY) + len(K.TERNARY) + len(K.QUATERNARY) + 2
    out = torch.zeros(rows * N)
    K.binary_kernel[GRID](_t(x), _t(y), _t(z), _t(w), _t(k), out, N, BLOCK=BLOCK)
    o = out.numpy().reshape(rows, N)
    _check("nextafter", o[K.BINARY.index("nextafter")], np.nextafter(x, y).astype(np.float64), np.float32, 0, SEED)
    _check("fdim", o[K.BINARY.index("fdim")], REF["fdim"](x, y), np.float32, 0.5, SEED)
