"""Fast, vectorizable math: polynomial/rational replacements for exp, tanh, erf, sigmoid and fdiv.

Hexagon's LLVM backend has no vector exp/tanh/erf and scalarizes vector `fdiv` (one scalar reciprocal
sequence per lane), so this rewrite replaces

    math.exp, math.exp2, math.tanh, math.erf, arith.divf, the sigmoid idiom 1 / (1 + exp(-x)) and the SiLU
    idiom x / (1 + exp(-x))

on f32 (and f16/bf16, computed as extf -> f32 -> truncf) by straight-line code made only of element-wise
arith ops: addf/subf/mulf, cmpf/select, bitcast, andi/ori/addi/subi/shli (SiLU: negf, maximumf/minimumf).
No divf, no math dialect ops, no scf, no calls, no tables, no fma (HVX has no vector fma; LLVM would expand
it to libcalls), no float<->int conversions.  Every op is ElementwiseMappable, so the code works on scalars (inside
`linalg.generic` bodies, before vectorization: the main use) and on vectors (`vector<32xf32>`,
`vector<64xf16>`, after vectorization) alike.

Building blocks (each takes an f32 or vector-of-f32 `ir.Value`; call them under an active
`ir.InsertionPoint` and `ir.Location`; they return the new `ir.Value`):

    emit_recip(b)     1/b: magic-constant estimate + 3 Newton-Raphson steps, sign kept
    emit_recip_pos(b) 1/b for b >= 2^-126, +inf or NaN: emit_recip less the sign and tiny-b handling
    emit_div(a, b)    a * emit_recip(b)  (a * emit_recip_pos(b) where b is c + exp(y), c >= 2^-126)
    emit_exp(x)       Cody-Waite reduction x = k ln2 + r, degree-6 polynomial, 2^k by integer add
    emit_tanh(x)      odd polynomial for |x| < 0.75, else 1 - 2e / (1 + e) with e = exp(-2|x|)
    emit_erf(x)       x P(x^2) / Q(x^2) on |x| <= 4 (degrees 13/8), reciprocal by emit_recip
    emit_sigmoid(x)   e = exp(-|x|); r = 1/(1+e); x >= 0 ? r : e r
    emit_silu(x)      x * emit_recip_pos(1 + exp(clamp(-x))): x / (1 + exp(-x)), emit_div's results

Special values (also in docs/fast_math.md, and tested): see the docstrings of the emit_* functions.
The polynomial and rational coefficients are our own minimax fits (Lawson-weighted least squares in
float64, rational ones linearised a la Sanathanan-Koerner), rounded to float32.

`python -m hexmlir.tools.fast_math_accuracy` JIT-compiles each rewrite on the host (tools/refjit.py),
measures it against float64 references and prints the markdown accuracy table that docs/fast_math.md
carries.
"""
from __future__ import annotations

import math
import struct

from torch_mlir import ir
from torch_mlir.dialects import arith

from ..attrs import FINAL_DIVF, POS_DEN

__all__ = ["run", "emit_recip", "emit_recip_pos", "emit_div", "emit_exp", "emit_exp2", "emit_tanh", "emit_erf",
           "emit_sigmoid", "emit_silu", "emit_one_plus_tanh", "emit_half_x_one_plus_tanh"]

# --------------------------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------------------------

_SIGN = 0x80000000
_ABS = 0x7FFFFFFF
# 1/b initial estimate: bits(y0) = MAGIC - bits(|b|) (max relative error of y0 about 5.1e-2; three
# Newton steps take it to about 7e-11, below the final rounding).
_RECIP_MAGIC = 0x7EF311C3
_RECIP_STEPS = 3
_FLT_MIN = 2.0 ** -126
# |b| above this makes the initial estimate subnormal (MAGIC - bits(|b|) < 0x00800000); 1/b is then below
# 1.24e-38 and we return +-0 (flush to zero), so targets that flush subnormals behave the same.
_RECIP_BIG_BITS = _RECIP_MAGIC - 0x00800000

_LOG2E = 1.4426950408889634
_LN2_HI = 0.693359375                  # 355/512: k * _LN2_HI is exact for |k| < 2^15
_LN2_LO = math.log(2.0) - 0.693359375  # -2.1219444e-4
_LN2 = math.log(2.0)
_SHIFTER = 12582912.0                  # 1.5 * 2^23: t = x*log2e + SHIFTER rounds to an integer k, bits(t) << 23
                                       # is k << 23 (the shifter's bits vanish modulo 2^32)
# exp(x) = 1 + r + r^2 P(r), |r| <= ln2/2; P minimax for relative error (3.3e-9 in exact arithmetic).
_EXP_P = (0.49999994, 0.166665152, 0.041668456, 0.00836941227, 0.00138131576)
_EXP_HI = 88.72283172607422            # largest float32 x with exp(x) <= FLT_MAX; above: +inf
_EXP_LO = -87.33654022216797           # smallest float32 x with exp(x) >= FLT_MIN (2^-126); below: +0

# tanh(x) = x + x^3 P(x^2) for |x| < _TANH_CUT (minimax, relative error 1.6e-9 in exact arithmetic).
_TANH_CUT = 0.75
_TANH_P = (-0.333333164, 0.133326948, -0.0538927205, 0.021452019, -0.00765722711, 0.00173691718)
_TANH_CLAMP = 10.0                     # tanh(10) rounds to 1.0 in float32

# erf(x) = x P(x^2) / Q(x^2) on |x| <= 4 (rational minimax for relative error: 6.5e-8 in exact arithmetic).
_ERF_CLAMP = 4.0                       # 1 - erf(4) = 1.5e-8 < half an ulp of 1
_ERF_P = (1.12837911, 0.207145914, 0.0515277609, 0.00399146369, 0.000147307612, -1.94238532e-06,
          1.91102583e-08)
_ERF_Q = (1.0, 0.51690954, 0.1179794, 0.0149599025, 0.0010213271)


def _bits_to_f32(bits: int) -> float:
    return struct.unpack("<f", struct.pack("<I", bits & 0xFFFFFFFF))[0]


# --------------------------------------------------------------------------------------------------------------
# A tiny builder over f32 / vector<...xf32> values
# --------------------------------------------------------------------------------------------------------------

def _is_vector(t: ir.Type) -> bool:
    return isinstance(t, ir.VectorType)


def _elem(t: ir.Type) -> ir.Type:
    return t.element_type if _is_vector(t) else t


def _like(t: ir.Type, elem: ir.Type) -> ir.Type:
    """The type shaped like `t` (scalar or vector) with element type `elem`."""
    if _is_vector(t):
        return ir.VectorType.get(t.shape, elem)
    return elem


class _B:
    """Emits arith ops for one shape: `ft` is f32 or vector<...xf32>, `it` the matching i32 type."""

    def __init__(self, ft: ir.Type, native_div: bool = False):
        self.ft = ft
        self.native_div = native_div           # the target divides vectors natively: divf, not Newton
        self.it = _like(ft, ir.IntegerType.get_signless(32))
        self._consts: dict = {}

    # constants (cached per emission; CSE/canonicalize dedups across emissions)
    def c(self, v: float) -> ir.Value:
        key = ("f", struct.pack("<d", v))     # keeps +0.0 and -0.0 apart
        if key not in self._consts:
            attr = ir.FloatAttr.get(ir.F32Type.get(), v)
            if _is_vector(self.ft):
                attr = ir.DenseElementsAttr.get_splat(self.ft, attr)
            self._consts[key] = arith.ConstantOp(self.ft, attr).result
        return self._consts[key]

    def ci(self, v: int) -> ir.Value:
        v &= 0xFFFFFFFF
        v = v - (1 << 32) if v >= (1 << 31) else v
        key = ("i", v)
        if key not in self._consts:
            i32 = ir.IntegerType.get_signless(32)
            attr = ir.IntegerAttr.get(i32, v)
            if _is_vector(self.ft):
                attr = ir.DenseElementsAttr.get_splat(self.it, attr)
            self._consts[key] = arith.ConstantOp(self.it, attr).result
        return self._consts[key]

    def _f(self, v):
        return self.c(float(v)) if isinstance(v, (int, float)) else v

    # float arithmetic (python numbers become splat constants)
    def add(self, a, b):
        return arith.AddFOp(self._f(a), self._f(b)).result

    def sub(self, a, b):
        return arith.SubFOp(self._f(a), self._f(b)).result

    def mul(self, a, b):
        return arith.MulFOp(self._f(a), self._f(b)).result

    def cmp(self, pred: str, a, b):
        p = getattr(arith.CmpFPredicate, pred.upper())
        return arith.CmpFOp(p, self._f(a), self._f(b)).result

    def select(self, cond, a, b):
        return arith.SelectOp(cond, self._f(a), self._f(b)).result

    def clamp(self, x, lo: float, hi: float):
        """min(max(x, lo), hi), NaN-propagating (arith.maximumf/minimumf: one vmax.sf/vmin.sf each on HVX)."""
        return arith.MinimumFOp(arith.MaximumFOp(self._f(x), self._f(lo)).result, self._f(hi)).result

    def div(self, a, b):
        return arith.DivFOp(self._f(a), self._f(b)).result

    def quot(self, a, b):
        """a / b for b a normal positive number (NaN propagates): a native divf where the target has one
        (correctly rounded, a single instruction on a CPU), else a times the Newton-Raphson reciprocal."""
        if self.native_div:
            return self.div(a, b)
        return self.mul(a, _recip_pos(self, b))

    def horner(self, coeffs, z):
        """c0 + z (c1 + z (c2 + ...))."""
        acc = self.c(coeffs[-1])
        for cf in coeffs[-2::-1]:
            acc = self.add(self.mul(acc, z), cf)
        return acc

    # bit manipulation
    def as_int(self, x):
        return arith.BitcastOp(self.it, x).result

    def as_float(self, i):
        return arith.BitcastOp(self.ft, i).result

    def andi(self, a, m: int):
        return arith.AndIOp(a, self.ci(m)).result

    def ori(self, a, b):
        return arith.OrIOp(a, b).result

    def addi(self, a, b):
        return arith.AddIOp(a, b).result

    def subi(self, a, b):
        return arith.SubIOp(a, b).result

    def shli(self, a, n: int):
        return arith.ShLIOp(a, self.ci(n)).result

    def split_sign(self, x):
        """(|x| as float, sign bit as int) without math.absf (pure bit ops vectorize everywhere)."""
        bits = self.as_int(x)
        return self.as_float(self.andi(bits, _ABS)), self.andi(bits, _SIGN)

    def with_sign(self, y, sign):
        """y | sign, for y >= +0 (or NaN)."""
        return self.as_float(self.ori(self.as_int(y), sign))


def _builder(x: ir.Value, native_div: bool = False) -> _B:
    if not isinstance(_elem(x.type), ir.F32Type):
        raise TypeError(f"fast_math emitters take f32 or vector of f32, got {x.type}")
    return _B(x.type, native_div)


# --------------------------------------------------------------------------------------------------------------
# The approximations (each: value in, value out; element-wise arith only)
# --------------------------------------------------------------------------------------------------------------

def _recip_pos(B: _B, b, b_bits=None):
    """1/b for a normal positive b (NaN in -> NaN out): magic-constant estimate, then Newton-Raphson."""
    if b_bits is None:
        b_bits = B.as_int(b)
    y = B.as_float(B.subi(B.ci(_RECIP_MAGIC), b_bits))
    for _ in range(_RECIP_STEPS):
        e = B.sub(1.0, B.mul(b, y))        # e = 1 - b y; b y is near 1, so the subtraction is exact
        y = B.add(y, B.mul(y, e))          # y + y e: adding the small correction last keeps y accurate
    return y


def emit_recip(b: ir.Value) -> ir.Value:
    """1/b without divf; the sign is kept for every input (including -0.0 and -inf).

    Max error 1.3 ulp on normal inputs (measured; see docs/fast_math.md).  Special values:
      b = +-0 or subnormal (|b| < 2^-126)     -> +-inf   (subnormals are treated as zero)
      |b| > 8.0774e37 (about 2^125.93), +-inf  -> +-0     (true result < 1.24e-38: flushed to zero)
      NaN                                    -> NaN
    """
    B = _builder(b)
    bits = B.as_int(b)
    abits, sign = B.andi(bits, _ABS), B.andi(bits, _SIGN)
    ab = B.as_float(abits)
    y = _recip_pos(B, ab, abits)
    y = B.select(B.cmp("olt", ab, _FLT_MIN), math.inf, y)
    y = B.select(B.cmp("ogt", ab, _bits_to_f32(_RECIP_BIG_BITS)), 0.0, y)
    return B.with_sign(y, sign)


def emit_recip_pos(b: ir.Value) -> ir.Value:
    """1/b for b known to be >= 2^-126, +inf or NaN (SiLU's 1 + exp(-x)): emit_recip's results on that
    range without its sign split, sign restore and tiny-b select (5 ops, 3 of them on the dependence chain);
    b > 8.0774e37 and +inf -> +0, NaN -> NaN."""
    B = _builder(b)
    y = _recip_pos(B, b)
    return B.select(B.cmp("ogt", b, _bits_to_f32(_RECIP_BIG_BITS)), 0.0, y)


def emit_div(a: ir.Value, b: ir.Value) -> ir.Value:
    """a / b as a * emit_recip(b): max 2 ulp (measured) while a/b and 1/b are normal.  a/+-0 = +-inf with
    IEEE sign rules for finite nonzero a, 0/0 = NaN, inf/inf = NaN, x/NaN = NaN; |b| > 8.0774e37 or
    subnormal b behave as in emit_recip (so a/b = +-0 for huge |b| even when a is huge too)."""
    B = _builder(a)
    return B.mul(a, emit_recip(b))


def emit_exp(x: ir.Value, *, checked: bool = True) -> ir.Value:
    """e^x.  Max error 1 ulp (measured) for x in [-87.3365, 88.7228].

    With `checked=True` (default): x > 88.7228317 (where float32 exp overflows) -> +inf, +inf -> +inf,
    x < -87.3365402 (result would be subnormal) -> +0, -inf -> +0, NaN -> NaN.
    With `checked=False` the caller guarantees x in [-87.33, 88.72] and not NaN (saves the two range
    checks: 5 ops); outside that range the result is garbage (never UB: no poison-producing ops).
    """
    B = _builder(x)
    t = B.add(B.mul(x, _LOG2E), _SHIFTER)       # SHIFTER + round(x log2 e)
    k = B.sub(t, _SHIFTER)                      # round(x log2 e), exactly
    r = B.sub(x, B.mul(k, _LN2_HI))             # Cody-Waite: exact product, near-exact difference
    r = B.sub(r, B.mul(k, _LN2_LO))
    p = B.horner(_EXP_P, r)
    p = B.add(B.add(B.mul(B.mul(r, r), p), r), 1.0)      # e^r in [0.7071, 1.4143]
    scale = B.shli(B.as_int(t), 23)             # k << 23 (modulo 2^32)
    y = B.as_float(B.addi(B.as_int(p), scale))  # p * 2^k via the exponent field
    if checked:
        # NaN fails the ordered compare and takes x + inf = NaN; x > HI takes x + inf = +inf.
        y = B.select(B.cmp("ole", x, _EXP_HI), y, B.add(x, math.inf))
        y = B.select(B.cmp("olt", x, _EXP_LO), 0.0, y)
    return y


def emit_exp2(x: ir.Value) -> ir.Value:
    """2^x (flash attention's softmax).  k = round(x), f = x - k (exact, |f| <= 0.5), 2^f = e^(f ln2) by
    emit_exp's polynomial, 2^k added into the exponent field.  x >= 128 -> +inf, +inf -> +inf, x < -126
    (subnormal result) -> +0, -inf -> +0, NaN -> NaN."""
    B = _builder(x)
    t = B.add(x, _SHIFTER)                      # SHIFTER + round(x)
    k = B.sub(t, _SHIFTER)
    r = B.mul(B.sub(x, k), _LN2)                # |r| <= ln2/2; the rounding of f*ln2 costs < 0.4 ulp
    p = B.horner(_EXP_P, r)
    p = B.add(B.add(B.mul(B.mul(r, r), p), r), 1.0)
    y = B.as_float(B.addi(B.as_int(p), B.shli(B.as_int(t), 23)))
    # x >= -126 keeps 2^k p normal (k = -126 only with f >= 0, p >= 1); x < 128 keeps it finite.
    y = B.select(B.cmp("olt", x, 128.0), y, B.add(x, math.inf))
    return B.select(B.cmp("olt", x, -126.0), 0.0, y)


def emit_tanh(x: ir.Value, *, native_div: bool = False) -> ir.Value:
    """tanh(x).  Max error 1.5 ulp (measured).  tanh(+-x) = +-1.0 exactly for |x| >= 9.1 (and +-inf),
    tanh(-0) = -0, tanh(x) = x for |x| < 2^-13, NaN -> NaN.  `native_div`: divide by 1 + e with divf."""
    B = _builder(x, native_div)
    ax, sign = B.split_sign(x)
    # |x| < CUT: odd polynomial (NaN also lands here: the ordered compare below is false for NaN).
    z = B.mul(ax, ax)
    small = B.add(ax, B.mul(ax, B.mul(z, B.horner(_TANH_P, z))))
    # |x| >= CUT: 1 - 2e / (1 + e), e = exp(-2|x|) in [2e-9, 0.23]: no overflow, 1 + e is a normal in
    # [1, 1.23], and the rounding errors of e and of the reciprocal only touch the (smaller) 2e/(1+e) term.
    xc = B.select(B.cmp("ogt", ax, _TANH_CLAMP), _TANH_CLAMP, ax)
    e = emit_exp(B.mul(xc, -2.0), checked=False)
    large = B.sub(1.0, B.quot(B.add(e, e), B.add(1.0, e)))
    y = B.select(B.cmp("oge", ax, _TANH_CUT), large, small)
    return B.with_sign(y, sign)


def emit_erf(x: ir.Value, *, native_div: bool = False) -> ir.Value:
    """erf(x).  Max abs error 4e-7 (measured; about 6.5 ulp near 1), max relative error 4e-7 everywhere
    (tiny |x| included).  erf(+-x) = +-1.0 exactly for |x| >= 4 (and +-inf), |erf| never exceeds 1,
    erf(-0) = -0, NaN -> NaN.  `native_div`: P/Q with divf."""
    B = _builder(x, native_div)
    ax, sign = B.split_sign(x)
    xc = B.select(B.cmp("ogt", ax, _ERF_CLAMP), _ERF_CLAMP, ax)    # NaN stays NaN
    z = B.mul(xc, xc)
    num = B.mul(xc, B.horner(_ERF_P, z))
    den = B.horner(_ERF_Q, z)                                      # in [1, 110]
    y = B.quot(num, den)
    y = B.select(B.cmp("ogt", y, 1.0), 1.0, y)
    return B.with_sign(y, sign)


def emit_sigmoid(x: ir.Value, *, native_div: bool = False) -> ir.Value:
    """1 / (1 + exp(-x)), accurate in relative terms on both tails (no 1 - tiny cancellation).
    Max error 3 ulp (measured) while the result is normal; sigmoid(x) = +0 for x < -87.3365 (and -inf),
    1.0 for x >= 17 (and +inf), 0.5 at +-0, NaN -> NaN.  `native_div`: (x >= 0 ? 1 : e) / (1 + e), one divf."""
    B = _builder(x, native_div)
    ax, _ = B.split_sign(x)
    e = emit_exp(B.sub(0.0, ax))                                    # (0, 1]; 0 below -87.34; NaN -> NaN
    if native_div:
        return B.div(B.select(B.cmp("oge", x, 0.0), 1.0, e), B.add(1.0, e))
    r = _recip_pos(B, B.add(1.0, e))                               # 1/(1+e), argument in [1, 2]
    return B.select(B.cmp("oge", x, 0.0), r, B.mul(e, r))          # sigmoid(-|x|) = e/(1+e)


# SiLU's exp argument -x is clamped to [_SILU_LO, _SILU_HI] (inside emit_exp's unchecked range, and 2^k p stays
# finite and normal there): below, exp(-x) < 1.7e-38 and 1 + exp(-x) = 1 exactly, as with exp = +0; above,
# 1 + exp(-x) > 1.6e38 > 8.0774e37 and emit_recip_pos returns +0, as for +inf.
_SILU_LO, _SILU_HI = -87.0, 88.0


def emit_silu(x: ir.Value) -> ir.Value:
    """x / (1 + exp(-x)) with emit_div's results (x * emit_recip(1 + emit_exp(-x))) for every x: the exp's
    two range checks (2 compares, 2 selects, 1 add) become one clamp of its argument (vmax + vmin), the
    reciprocal is emit_recip_pos.  NaN -> NaN through the final multiply by x; silu(-inf) = NaN
    (-inf * 0, as emit_div gives)."""
    B = _builder(x)
    # negf, not 0 - x: a sign flip (vxor) off the float units, which are what bounds this loop
    e = emit_exp(B.clamp(arith.NegFOp(x).result, _SILU_LO, _SILU_HI), checked=False)
    return B.mul(x, emit_recip_pos(B.add(e, 1.0)))


def _times_minus_two(B: _B, u: ir.Value) -> ir.Value:
    """-2u; where u = v * C (C a splat constant, as in GELU's sqrt(2/pi) * (...)), v * (-2C) instead: the same
    value bit for bit (scaling by 2 is exact, so round(v C) * -2 = round(v * -2C)), one multiply less."""
    mul = _producer(u, "arith.mulf")
    if mul is not None and u.type == B.ft and _single_use(u) and (
            "fastmath" not in mul.attributes or str(mul.attributes["fastmath"]) == "#arith.fastmath<none>"):
        for i in (0, 1):
            c = _splat_value(mul.operands[i])
            if c is not None and math.isfinite(c) and abs(c) < 2.0 ** 126:
                return B.mul(mul.operands[1 - i], -2.0 * struct.unpack("<f", struct.pack("<f", c))[0])
    return B.mul(u, -2.0)


def emit_one_plus_tanh(u: ir.Value) -> ir.Value:
    """1 + tanh(u) as 2 / (1 + exp(-2u)) (= 2 sigmoid(2u)), with a divf: the tanh-GELU idiom
    0.5 x (1 + tanh(u)) in one exp and one division, and accurate in relative terms where 1 + tanh(u)
    itself cancels (u very negative).  Max 2.4 ulp (measured, see docs/fast_math.md); 2.0 for u >= 9.1
    and +inf, +0 for u < -43.67 and -inf, NaN -> NaN.  For targets with native division only."""
    B = _builder(u, True)
    e = emit_exp(_times_minus_two(B, u))            # +inf for u < -44.36: 1 / inf = +0
    # 2 / (1 + e) as 1 / (0.5 e + 0.5): the same rounding (halving is exact), and a divf of 1 that the
    # divf rewrite (which runs after this idiom) leaves alone
    return B.div(1.0, B.add(B.mul(e, 0.5), 0.5))


# --------------------------------------------------------------------------------------------------------------
# The rewrite
# --------------------------------------------------------------------------------------------------------------

_UNARY = {"math.exp": emit_exp, "math.exp2": emit_exp2, "math.tanh": emit_tanh, "math.erf": emit_erf}
_NARROW = (ir.F16Type, ir.BF16Type)


def _kind(t: ir.Type) -> str | None:
    """'f32' / 'narrow' for rewritable types (scalar or fixed-size vector), else None."""
    if _is_vector(t):
        if any(getattr(t, "scalable_dims", None) or ()):
            return None
        e = t.element_type
    elif isinstance(t, ir.ShapedType):
        return None                         # tensors/memrefs: not element-wise code we rewrite
    else:
        e = t
    if isinstance(e, ir.F32Type):
        return "f32"
    if isinstance(e, _NARROW):
        return "narrow"
    return None


def _to_f32(v: ir.Value) -> ir.Value:
    if _kind(v.type) == "f32":
        return v
    return arith.ExtFOp(_like(v.type, ir.F32Type.get()), v).result


def _from_f32(v: ir.Value, t: ir.Type) -> ir.Value:
    if v.type == t:
        return v
    return arith.TruncFOp(t, v).result


def _producer(v: ir.Value, name: str):
    """The op named `name` defining v, or None (block arguments have no producer)."""
    owner = v.owner
    if isinstance(owner, ir.Block):
        return None
    op = owner.operation if hasattr(owner, "operation") else owner
    return op if op.name == name else None


def _splat_value(v: ir.Value) -> float | None:
    """The float value of a scalar or splat arith.constant, else None."""
    op = _producer(v, "arith.constant")
    if op is None:
        return None
    attr = op.attributes["value"]
    if isinstance(attr, ir.FloatAttr):
        return attr.value
    if isinstance(attr, ir.DenseFPElementsAttr) and attr.is_splat:
        return ir.FloatAttr(attr.get_splat_value()).value
    return None


def _single_use(v: ir.Value) -> bool:
    return len(list(v.uses)) == 1


def _sole_user(v: ir.Value):
    if not _single_use(v):
        return None
    op = next(iter(v.uses)).owner
    return op.operation if hasattr(op, "operation") else op


def _other(op, v: ir.Value) -> ir.Value:
    return op.operands[1] if op.operands[0] == v else op.operands[0]


def _match_one_plus_tanh(tanh):
    """math.tanh(u) used only by addf(tanh, 1) (either order) -> the addf, else None."""
    add = _sole_user(tanh.result)
    if add is None or add.name != "arith.addf" or add.result.type != tanh.result.type:
        return None
    return add if _splat_value(_other(add, tanh.result)) == 1.0 else None


def _match_half_x_one_plus_tanh(add):
    """The tanh-GELU tail around `add` = 1 + tanh(u): (add * x) * 0.5 or add * (x * 0.5), any operand order,
    every intermediate used once and all f32 -> (the op computing the whole product, x, [the ops it
    replaces, users first]), else None."""
    f32 = ir.F32Type.get()
    if _elem(add.result.type) != f32:
        return None
    m1 = _sole_user(add.result)
    if m1 is None or m1.name != "arith.mulf":
        return None
    a = _other(m1, add.result)
    m2 = _sole_user(m1.result)
    if m2 is not None and m2.name == "arith.mulf" and _splat_value(_other(m2, m1.result)) == 0.5:
        return m2, a, [m1]
    h = _producer(a, "arith.mulf")
    if h is not None and _single_use(a):
        for i in (0, 1):
            if _splat_value(h.operands[1 - i]) == 0.5:
                return m1, h.operands[i], [h]
    return None


def emit_half_x_one_plus_tanh(x: ir.Value, u: ir.Value) -> ir.Value:
    """0.5 x (1 + tanh(u)) as x / (1 + exp(-2u)): the whole tanh-GELU tail in one exp and one division,
    rounded once at the end (emit_one_plus_tanh then two multiplies round three times).  Limits: x for
    u >= 9.1, +-0 where exp(-2u) overflows (x / inf), NaN in either -> NaN.  Native division only."""
    B = _builder(u, True)
    q = B.div(x, B.add(emit_exp(_times_minus_two(B, u)), 1.0))
    q.owner.attributes[FINAL_DIVF] = ir.UnitAttr.get()     # not x * (1 / b): that is a multiply more here
    return q


def _one_plus_exp_neg(den, x=None):
    """addf(exp(neg y), 1) (either addf order; neg y as arith.negf y or arith.subf(0, y)), with y == x when
    x is given -> (y, [ops to erase after the divf reading it]) or None."""
    add = _producer(den, "arith.addf")
    if add is None or not _single_use(add.result):
        return None
    for i in (0, 1):
        if _splat_value(add.operands[1 - i]) != 1.0:
            continue
        ex = _producer(add.operands[i], "math.exp")
        if ex is None or not _single_use(ex.result):
            continue
        neg = _producer(ex.operands[0], "arith.negf")
        if neg is not None:
            y = neg.operands[0]
        else:
            neg = _producer(ex.operands[0], "arith.subf")
            if neg is None or _splat_value(neg.operands[0]) != 0.0:
                continue
            y = neg.operands[1]
        if x is not None and y != x:
            continue
        return y, [add, ex] + ([neg] if _single_use(neg.result) else [])
    return None


def _match_sigmoid(div):
    """divf(1, addf(exp(neg x), 1)) -> (x, [ops to erase after the divf]) or None."""
    if _splat_value(div.operands[0]) != 1.0:
        return None
    return _one_plus_exp_neg(div.operands[1])


def _positive_den(div) -> bool:
    """divf(_, addf(math.exp(y), c)) (either order) with a constant c >= 2^-126: the denominator is in
    [c, +inf] or NaN, never negative, zero or subnormal (emit_exp returns +0..+inf or NaN)."""
    add = _producer(div.operands[1], "arith.addf")
    if add is None:
        return False
    for i in (0, 1):
        c = _splat_value(add.operands[1 - i])
        if c is not None and c >= _FLT_MIN and _producer(add.operands[i], "math.exp") is not None:
            return True
    return False


def _match_silu(div):
    """divf(x, addf(exp(neg x), 1)) -> (x, [ops to erase after the divf]) or None."""
    return _one_plus_exp_neg(div.operands[1], div.operands[0])


def _replace(op, new: ir.Value) -> None:
    op.result.replace_all_uses_with(new)
    op.erase()


def _rewrite_div(op, native_div: bool = False) -> bool:
    """False where the division is left as it is (native_div: 1 / b, a non-constant b)."""
    if FINAL_DIVF in op.attributes:         # an idiom's division in its final form: the mark ends here
        del op.attributes[FINAL_DIVF]
        return False
    pos_den = POS_DEN in op.attributes
    if pos_den:
        del op.attributes[POS_DEN]
    t = op.result.type
    num, den = op.operands[0], op.operands[1]
    nv, dv = _splat_value(num), _splat_value(den)
    const = dv is not None and 2.0 ** -125 <= abs(dv) <= 2.0 ** 125
    if native_div and not const:
        if nv == 1.0:
            return False
        # a * (1 / b): one more multiply where b varies per element, but where b is invariant in the inner
        # loop (softmax's row sum) LLVM hoists the division out of it; a divps per vector there costs more
        # than all the rest of the loop.
        with ir.InsertionPoint(op), op.location:
            B = _B(_like(t, ir.F32Type.get()), native_div=True)
            r = B.mul(_to_f32(num), B.div(1.0, _to_f32(den)))
            _replace(op, _from_f32(r, t))
        return True
    with ir.InsertionPoint(op), op.location:
        B = _B(_like(t, ir.F32Type.get()))
        if const:
            # constant denominator: correctly rounded 1/b folded at compile time
            inv = struct.unpack("<f", struct.pack("<f", 1.0 / dv))[0]
            r = B.c(inv) if nv == 1.0 else B.mul(_to_f32(num), inv)
        else:
            r = (emit_recip_pos if pos_den else emit_recip)(_to_f32(den))
            if nv != 1.0:
                r = B.mul(_to_f32(num), r)
        _replace(op, _from_f32(r, t))
    return True


def _rewrite_unary(op, emit, native_div: bool = False) -> None:
    t = op.result.type
    kw = {"native_div": True} if native_div and emit not in (emit_exp, emit_exp2) else {}
    with ir.InsertionPoint(op), op.location:
        _replace(op, _from_f32(emit(_to_f32(op.operands[0]), **kw), t))


def _collect(module: ir.Module, names) -> list:
    found = []

    def visit(op):
        if op.name in names:
            found.append(op)
        return ir.WalkResult.ADVANCE

    module.operation.walk(visit)
    return found


def run(module: ir.Module, *, vector_fdiv_only: bool = False, native_div: bool = False) -> int:
    """Rewrite math.tanh, math.exp, math.erf, sigmoid patterns and arith.divf (f32; f16/bf16 computed via
    extf->f32->truncf) into vectorizable polynomial/rational code made only of arith ops (+ bitcasts/int
    ops); returns the number of ops rewritten (a whole sigmoid idiom counts as one).

    Works on scalar ops (linalg.generic bodies, before vectorization) and on fixed-size vector ops (after
    vectorization), in any region.  Ops on f64, integer, tensor/memref or scalable-vector types are left as
    they are.  `vector_fdiv_only=True` rewrites only vector-typed arith.divf (a clean-up after
    vectorization; scalar divf and math ops are then left alone).

    `native_div=True` is for targets that divide vectors natively and fast (a CPU's divps, correctly
    rounded): arith.divf is kept (constant denominators still become a multiplication), and tanh, erf and
    sigmoid divide with divf instead of multiplying by a Newton-Raphson reciprocal.
    """
    with module.context:
        return _run(module, vector_fdiv_only, native_div)


def _run(module: ir.Module, vector_fdiv_only: bool, native_div: bool = False) -> int:
    count = 0
    if native_div and not vector_fdiv_only:
        for tanh in _collect(module, {"math.tanh"}):
            if _kind(tanh.result.type) is None:
                continue
            add = _match_one_plus_tanh(tanh)
            if add is None:
                continue
            tail = _match_half_x_one_plus_tanh(add)
            if tail is not None:
                top, x, dead = tail
                with ir.InsertionPoint(top), top.location:
                    _replace(top, emit_half_x_one_plus_tanh(x, tanh.operands[0]))
                for d in dead + [add]:
                    d.erase()
            else:
                with ir.InsertionPoint(add), add.location:
                    _replace(add, _from_f32(emit_one_plus_tanh(_to_f32(tanh.operands[0])), add.result.type))
            tanh.erase()
            count += 1
    if not vector_fdiv_only:
        for div in _collect(module, {"arith.divf"}):
            if _kind(div.result.type) is None:
                continue
            m, emit = _match_sigmoid(div), (lambda v: emit_sigmoid(v, native_div=native_div))
            if m is None and not native_div:    # native division: x / (1 + e) stays one divf
                m, emit = _match_silu(div), emit_silu
            if m is None:
                continue
            x, dead = m
            t = div.result.type
            with ir.InsertionPoint(div), div.location:
                _replace(div, _from_f32(emit(_to_f32(x)), t))
            for d in dead:          # users first: add, exp, neg
                d.erase()
            count += 1
    names = {"arith.divf"} if vector_fdiv_only else {"arith.divf", *_UNARY}
    if not vector_fdiv_only:
        # before the exps below are rewritten (the walk reaches them first): which denominators are c + exp
        for div in _collect(module, {"arith.divf"}):
            if _kind(div.result.type) is not None and _positive_den(div):
                div.attributes[POS_DEN] = ir.UnitAttr.get()
    for op in _collect(module, names):
        t = op.result.type
        if _kind(t) is None:
            continue
        if op.name == "arith.divf":
            if vector_fdiv_only and not _is_vector(t):
                continue
            if not _rewrite_div(op, native_div):
                continue
        else:
            _rewrite_unary(op, _UNARY[op.name], native_div)
        count += 1
    return count
