"""Elementwise tt ops: umulhi, precise sqrt/div, clamp, float casts, and libdevice calls left as externs."""
from __future__ import annotations

import re

from ..reader import attr_str, elem, result_type, shape
from ..util import float_bits
from .registry import converts

# CUDA libdevice symbols that kernels may still reference, mapped to math-dialect ops
EXTERN = {"expf": "math.exp", "exp2f": "math.exp2", "logf": "math.log", "log2f": "math.log2",
          "tanhf": "math.tanh", "erff": "math.erf", "sqrtf": "math.sqrt", "rsqrtf": "math.rsqrt",
          "sinf": "math.sin", "cosf": "math.cos", "fabsf": "math.absf", "floorf": "math.floor",
          "ceilf": "math.ceil", "powf": "math.powf", "exp": "math.exp", "log": "math.log", "tanh": "math.tanh",
          "erf": "math.erf", "sqrt": "math.sqrt", "rsqrt": "math.rsqrt", "pow": "math.powf",
          "log1pf": "math.log1p", "expm1f": "math.expm1", "atanf": "math.atan", "fmaf": "math.fma"}


@converts("tt.mulhiui")
def mulhiui(cv, op):
    """High half of the unsigned product (tl.umulhi; Philox in tl.rand/randn/randint): widen, multiply,
    shift. Plain integer ops, so it vectorizes."""
    et = elem(result_type(op))
    bits = int(et[1:])
    wide = f"i{2 * bits}"
    em = cv.em

    def hi(vals):
        x, y = (em.op(f"arith.extui {v} : {et} to {wide}") for v in vals)
        p = em.op(f"arith.muli {x}, {y} : {wide}")
        k = em.op(f"arith.constant {bits} : {wide}")
        h = em.op(f"arith.shrui {p}, {k} : {wide}")
        return em.op(f"arith.trunci {h} : {wide} to {et}")
    cv.res(op, cv.map_scalar(op, [cv.v(x) for x in op.operands], et, hi))


@converts("tt.precise_sqrt")
def precise_sqrt(cv, op):
    et = elem(result_type(op))
    cv.res(op, cv.map_scalar(op, [cv.v(op.operands[0])], et, lambda v: cv.em.op(f"math.sqrt {v[0]} : {et}")))


@converts("tt.precise_divf")
def precise_divf(cv, op):
    et = elem(result_type(op))
    cv.res(op, cv.map_scalar(op, [cv.v(x) for x in op.operands], et,
                             lambda v: cv.em.op(f"arith.divf {v[0]}, {v[1]} : {et}")))


@converts("tt.clampf")
def clampf(cv, op):
    x, lo, hi = (cv.v(v) for v in op.operands)
    rt = result_type(op)
    et = elem(rt)
    em = cv.em
    def body(c, v):
        return em.op(f"arith.minimumf {em.op(f'arith.maximumf {v[0]}, {v[1]} : {et}')}, {v[2]} : {et}")
    cv.res(op, cv.generic(shape(rt), [x, lo, hi], et, body))


@converts("tt.fp_to_fp")
def fp_to_fp(cv, op):
    x = cv.v(op.operands[0])
    rt = result_type(op)
    et = elem(rt)
    src = elem(str(op.operands[0].type))
    if "f8" in et or "f8" in src:
        cv.unsupported("fp8 types")
    kind = "arith.extf" if float_bits(et) > float_bits(src) else "arith.truncf"
    cv.res(op, cv.generic(shape(rt), [x], et, lambda c, v: cv.em.op(f"{kind} {v[0]} : {src} to {et}")))


@converts("tt.extern_elementwise")
def extern_elementwise(cv, op):
    sym = attr_str(op, "symbol", "")
    mathop = EXTERN.get(re.sub(r"^__nv_", "", sym))
    if mathop is None:
        cv.unsupported(f"extern function {sym!r} (use hexmlir's libdevice: "
                       "from triton.language.extra import libdevice)")
    et = elem(result_type(op))
    cv.res(op, cv.map_scalar(op, [cv.v(x) for x in op.operands], et,
                             lambda vals: cv.em.op(f"{mathop} {', '.join(vals)} : {et}")))
