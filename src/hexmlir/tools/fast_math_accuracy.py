"""Accuracy of the fast-math rewrite (transforms/fast_math.py): each rewritten op JIT-compiled on the host
(tools/refjit.py), evaluated on sampled points against float64 references; the markdown table
docs/fast_math.md carries (documented bounds) and the parser tests/test_fast_math.py reads it with.

    python -m hexmlir.tools.fast_math_accuracy --accuracy [-n POINTS]
"""
from __future__ import annotations

import math

from torch_mlir import ir

from ..transforms.fast_math import run
from . import refjit

# op -> MLIR body computing %r from %x (and %y), with {T} the value type
_BODIES = {
    "exp": "%r = math.exp %x : {T}",
    "exp2": "%r = math.exp2 %x : {T}",
    "tanh": "%r = math.tanh %x : {T}",
    "erf": "%r = math.erf %x : {T}",
    "sigmoid": ("%m = arith.negf %x : {T}\n%e = math.exp %m : {T}\n%s = arith.addf %e, %one : {T}\n"
                "%r = arith.divf %one, %s : {T}"),
    "silu": ("%m = arith.negf %x : {T}\n%e = math.exp %m : {T}\n%s = arith.addf %e, %one : {T}\n"
             "%r = arith.divf %x, %s : {T}"),
    "recip": "%r = arith.divf %one, %x : {T}",
    "tanh1p": "%t = math.tanh %x : {T}\n%r = arith.addf %t, %one : {T}",    # 1 + tanh: native_div only
    "div": "%r = arith.divf %x, %y : {T}",
}


def kernel_source(op: str, dtype: str = "f32", width: int = 0) -> str:
    """A func @k(%a, %b, %out: memref<?xdtype>) applying `op` element-wise, on vector<width x dtype> chunks
    (width > 0; the length must be a multiple of width) or on scalars (width = 0)."""
    T = f"vector<{width}x{dtype}>" if width else dtype
    one = f"dense<1.0> : {T}" if width else f"1.0 : {dtype}"
    step = width or 1
    if width:
        load = (f"%x = vector.load %a[%i] : memref<?x{dtype}>, {T}\n"
                f"%y = vector.load %b[%i] : memref<?x{dtype}>, {T}")
        store = f"vector.store %r, %out[%i] : memref<?x{dtype}>, {T}"
    else:
        load = f"%x = memref.load %a[%i] : memref<?x{dtype}>\n%y = memref.load %b[%i] : memref<?x{dtype}>"
        store = f"memref.store %r, %out[%i] : memref<?x{dtype}>"
    body = _BODIES[op].replace("{T}", T)
    return f"""
func.func @k(%a: memref<?x{dtype}>, %b: memref<?x{dtype}>, %out: memref<?x{dtype}>) attributes {{llvm.emit_c_interface}} {{
  %c0 = arith.constant 0 : index
  %step = arith.constant {step} : index
  %n = memref.dim %a, %c0 : memref<?x{dtype}>
  %one = arith.constant {one}
  scf.for %i = %c0 to %n step %step {{
    {load}
    {body}
    {store}
  }}
  return
}}
"""


class Jit:
    """Parse -> (optionally) fast_math.run -> the reference JIT (tools/refjit.py); call with numpy arrays."""

    def __init__(self, source: str, rewrite: bool = True, opt_level: int = 2, native_div: bool = False):
        self.ctx = ir.Context()
        with self.ctx, ir.Location.unknown():
            self.module = ir.Module.parse(source)
            self.rewritten = run(self.module, native_div=native_div) if rewrite else 0
            self.rewritten_ir = str(self.module)
            self.engine = refjit.engine(self.module, opt_level)

    def __call__(self, a, b=None):
        import numpy as np
        a = np.ascontiguousarray(a)
        b = a.copy() if b is None else np.ascontiguousarray(b, dtype=a.dtype)
        out = np.zeros_like(a)
        refjit.invoke(self.engine, "k", (a, b, out))
        return out


def _ref(op: str, x, y):
    import numpy as np
    x = x.astype(np.float64)
    y = None if y is None else y.astype(np.float64)
    with np.errstate(all="ignore"):
        if op == "exp":
            return np.exp(x)
        if op == "tanh":
            return np.tanh(x)
        if op == "erf":
            return np.vectorize(math.erf, otypes=[np.float64])(x)
        if op == "sigmoid":
            e = np.exp(-np.abs(x))                    # stable on both tails
            return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        if op == "recip":
            return 1.0 / x
        if op == "tanh1p":
            return 2.0 / (1.0 + np.exp(-2.0 * x))       # 1 + tanh(x) without cancellation
        return x / y


# (op, dtype) -> (description of the range, sampler(rng, n) -> (x, y or None))
def _samplers():
    import numpy as np

    def uni(lo, hi, dt, extra=()):
        def f(rng, n):
            x = np.concatenate([np.linspace(lo, hi, n // 2), rng.uniform(lo, hi, n - n // 2 - len(extra)),
                                np.asarray(extra, dtype=np.float64)])
            return x.astype(dt), None
        return f

    def tiny_and(lo, hi, dt, tiny):      # uniform plus log-spaced small magnitudes, both signs
        def f(rng, n):
            m = n // 4
            g = np.geomspace(tiny, 1.0, m)
            x = np.concatenate([np.linspace(lo, hi, n // 4), rng.uniform(lo, hi, n - 3 * m), g, -g])
            return x.astype(dt), None
        return f

    def logs(emin, emax, dt, binary=False):   # sign * 2^uniform(emin, emax)
        def f(rng, n):
            def draw():
                return (rng.choice([-1.0, 1.0], n) * np.exp2(rng.uniform(emin, emax, n))).astype(dt)
            return (draw(), draw()) if binary else (draw(), None)
        return f

    f32, f16 = np.float32, np.float16
    return {
        ("exp", "f32"): ("[-87.33, 88.72]", uni(-87.33, 88.72, f32, (0.0, 1e-30, -1e-30, 88.7228317, -87.33654))),
        ("tanh", "f32"): ("[-10, 10] + ±[1e-30, 1]", tiny_and(-10, 10, f32, 1e-30)),
        ("erf", "f32"): ("[-5, 5] + ±[1e-30, 1]", tiny_and(-5, 5, f32, 1e-30)),
        ("sigmoid", "f32"): ("[-87, 40]", uni(-87.0, 40.0, f32)),
        ("recip", "f32"): ("±2^[-125.9, 125.9]", logs(-125.9, 125.9, f32)),
        ("div", "f32"): ("±2^[-60, 60] / ±2^[-60, 60]", logs(-60, 60, f32, binary=True)),
        ("exp", "f16"): ("[-9.7, 11.08]", uni(-9.7, 11.08, f16)),
        ("tanh", "f16"): ("[-10, 10] + ±[1e-4, 1]", tiny_and(-10, 10, f16, 1e-4)),
        ("erf", "f16"): ("[-5, 5] + ±[1e-4, 1]", tiny_and(-5, 5, f16, 1e-4)),
        ("sigmoid", "f16"): ("[-9.7, 12]", uni(-9.7, 12.0, f16)),
        ("recip", "f16"): ("±2^[-13.9, 13.9]", logs(-13.9, 13.9, f16)),
        ("div", "f16"): ("±2^[-7, 7] / ±2^[-7, 7]", logs(-7, 7, f16, binary=True)),
    }


def ulp(ref, dtype: str):
    """Spacing of `dtype` floats at |ref| (float64 array), normal range."""
    import numpy as np
    mant, lo = (23, -126) if dtype == "f32" else (10, -14)
    e = np.floor(np.log2(np.maximum(np.abs(ref), 2.0 ** lo)))
    return np.exp2(e - mant)


_BOUNDED = ("tanh", "erf", "sigmoid")     # ops whose absolute error is meaningful (|result| <= 1)


def errors(op: str, dtype: str, x, y, got) -> dict:
    """Max errors of `got` against the float64 reference over the points with a finite reference:
    'abs' (bounded ops only, else None), 'rel' (where the reference is a normal number of `dtype`) and
    'ulp' (in units of the spacing of `dtype` at the reference; subnormal spacing counts as the smallest
    normal one)."""
    import numpy as np
    ref = _ref(op, x, y)
    g = got.astype(np.float64)
    ok = np.isfinite(ref)
    d = np.abs(g - ref)[ok]
    r = ref[ok]
    normal = np.abs(r) >= (2.0 ** -126 if dtype == "f32" else 2.0 ** -14)
    return {"abs": float(d.max()) if op in _BOUNDED else None,
            "rel": float((d[normal] / np.abs(r[normal])).max()),
            "ulp": float((d / ulp(r, dtype)).max())}


def measure(op: str, dtype: str, n: int = 1 << 20, seed: int | None = None, width: int | None = None,
            native_div: bool = False) -> dict:
    """JIT the vector kernel for (op, dtype) (`native_div`: as rewritten for the host target), evaluate it on
    n sampled points, return the error dict (plus 'range' and 'seed')."""
    import numpy as np
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (1 << 63))
    rng = np.random.default_rng(seed)
    if width is None:
        width = 32 if dtype == "f32" else 64
    desc, sample = _samplers()[(op, dtype)]
    x, y = sample(rng, n)
    pad = (-len(x)) % width
    x = np.concatenate([x, np.ones(pad, x.dtype)])
    y = None if y is None else np.concatenate([y, np.ones(pad, y.dtype)])
    got = Jit(kernel_source(op, dtype, width), native_div=native_div)(x, y)
    res = errors(op, dtype, x, y, got)
    res.update(range=desc, seed=seed)
    return res


def _round_up(v: float, digits: int = 2) -> float:
    if v == 0:
        return 0.0
    e = math.floor(math.log10(abs(v))) - digits + 1
    return math.ceil(v / 10.0 ** e) * 10.0 ** e


def bounds(m: dict) -> dict:
    """Documented bounds from measured maxima: +5% then rounded up (2 significant digits; ulp to 0.1)."""
    return {"abs": None if m["abs"] is None else _round_up(m["abs"] * 1.05),
            "rel": _round_up(m["rel"] * 1.05),
            "ulp": math.ceil(m["ulp"] * 1.05 * 10) / 10}


TABLE_HEADER = "| op | dtype | input range | max abs err | max rel err | max ulp |"


def accuracy_table(n: int = 1 << 21) -> str:
    """The markdown table docs/fast_math.md carries: bounds() of the maxima measured on n points per row."""
    rows = [TABLE_HEADER, "|---|---|---|---|---|---|"]
    for (op, dtype) in _samplers():
        b = bounds(measure(op, dtype, n))
        ab = "-" if b["abs"] is None else f"{b['abs']:.2g}"
        rows.append(f"| {op} | {dtype} | {_samplers()[(op, dtype)][0]} | {ab} | {b['rel']:.2g} | {b['ulp']:.1f} |")
    return "\n".join(rows)


def parse_table(text: str) -> dict:
    """{(op, dtype): {'abs', 'rel', 'ulp'}} from a markdown table printed by accuracy_table()."""
    out = {}
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == TABLE_HEADER)
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        op, dtype, _, ab, rel, ul = (c.strip() for c in line.strip().strip("|").split("|"))
        out[(op, dtype)] = {"abs": None if ab == "-" else float(ab), "rel": float(rel), "ulp": float(ul)}
    return out


def main(argv=None) -> int:
    import argparse
    p = argparse.ArgumentParser(prog="python -m hexmlir.tools.fast_math_accuracy")
    p.add_argument("--accuracy", action="store_true", help="measure and print the markdown accuracy table")
    p.add_argument("-n", type=int, default=1 << 21, help="points per (op, dtype)")
    a = p.parse_args(argv)
    if a.accuracy:
        print(accuracy_table(a.n))
        return 0
    p.print_help()
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
