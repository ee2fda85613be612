"""The benchmark kernel registry: what the ladder, the MT sweep and the peers run.

An entry names a kernel, builds its `LinalgKernel` (MLIR text, input specs, float64 numpy reference) at a
given size, and says how the peers compute the same thing (a torch function, a numpy function). Everything
here needs only numpy at import and at `make()`, so an artifacts directory can be run and checked on a
machine without MLIR.

Linalg-suite kernels come from hexmlir.kernels.linalg_suite; LayerNorm, the exp series and attention are
built here with the suite's builder (the suite file belongs to the kernel work). Triton-suite kernels run
through bench/triton_rungs.py (they launch through the Triton frontend in-process, not from artifacts).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..kernels import linalg_suite as S
from ..kernels.linalg_suite import LinalgKernel, _Builder, _cast_ref, _dtype_name, _elt, _shape, _tt


# ---------------------------------------------------------------------------------------------------------
# Kernels the suite lacks, built the same frontend-like way (a chain of unfused linalg ops)


def layernorm(m: int, n: int, dtype: str = "float32", eps: float = 1e-5) -> LinalgKernel:
    """LayerNorm over rows: ``(x - mean) * rsqrt(var + eps) * w + b``; statistics in f32 for f16."""
    shape = _shape((m, n))
    dt, elt = _dtype_name(dtype), _elt(dtype)
    acc = "f32" if elt == "f16" else elt
    ty, vty, sty = _tt(shape, elt), _tt(shape[-1:], elt), _tt(shape[:-1], acc)
    b = _Builder("layernorm", [("x", ty), ("w", vty), ("bias", vty)], elt)

    def stat_to_elt(s):
        return b.generic_unary("arith.truncf", s, shape[:-1], acc, elt, hint="trunc") if acc != elt else s

    s = b.reduce_last("sum", "%x", shape, elt, acc, form="reduce")
    mean = b.binary("mul", s, b.fill(1.0 / n, sty, acc), sty)
    xc = b.binary("sub", "%x", b.broadcast_last(stat_to_elt(mean), shape, elt, form="broadcast"), ty)
    sq = b.binary("mul", xc, xc, ty)
    v = b.reduce_last("sum", sq, shape, elt, acc, form="generic")
    v = b.binary("mul", v, b.fill(1.0 / n, sty, acc), sty)
    v = b.binary("add", v, b.fill(eps, sty, acc), sty)
    r = b.unary("rsqrt", v, sty)
    t = b.binary("mul", xc, b.broadcast_last(stat_to_elt(r), shape, elt, form="generic"), ty)
    t = b.binary("mul", t, b.broadcast_leading("%w", shape, elt), ty)
    y = b.binary("add", t, b.broadcast_leading("%bias", shape, elt), ty)

    def ref(x, w, bias):
        mu = x.mean(axis=-1, keepdims=True)
        return (x - mu) / np.sqrt(((x - mu) ** 2).mean(axis=-1, keepdims=True) + eps) * w + bias

    return LinalgKernel(name="layernorm", mlir=b.module([(y, ty)]), inputs=[(shape, dt), (shape[-1:], dt),
                        (shape[-1:], dt)], outputs=[(shape, dt)], reference=_cast_ref(ref, dt),
                        input_ranges=[(-4.0, 4.0), (-2.0, 2.0), (-1.0, 1.0)], flops_per_elem=8)


EXP_TERMS = 10


def exp_series(n: int, dtype: str = "float32", terms: int = EXP_TERMS) -> LinalgKernel:
    """Truncated Taylor series of exp(x), ``sum_{k<terms} x^k / k!``, in Horner form (mul + add per term):
    an elementwise kernel with ~2*terms flops per element, i.e. more compute per byte than GELU."""
    shape = _shape((n,))
    dt, elt = _dtype_name(dtype), _elt(dtype)
    ty = _tt(shape, elt)
    b = _Builder("exp_series", [("x", ty)], elt)
    coef = [1.0 / math.factorial(k) for k in range(terms)]
    acc = b.fill(coef[-1], ty, elt)
    for c in reversed(coef[:-1]):
        acc = b.binary("mul", acc, "%x", ty)
        acc = b.binary("add", acc, b.fill(c, ty, elt), ty)

    def ref(x):
        y = np.full_like(x, coef[-1])
        for c in reversed(coef[:-1]):
            y = y * x + c
        return y

    return LinalgKernel(name="exp_series", mlir=b.module([(acc, ty)]), inputs=[(shape, dt)],
                        outputs=[(shape, dt)], reference=_cast_ref(ref, dt), input_ranges=[(-2.0, 2.0)],
                        flops_per_elem=2 * (terms - 1))


def attention(s: int, d: int, dtype: str = "float32") -> LinalgKernel:
    """Single-head attention ``softmax(Q K^T / sqrt(d)) V`` as Linalg: matmul (K given transposed, d x s),
    scale, row softmax, matmul. Not a flash (online-softmax) formulation: the s x s scores are materialized;
    the compiler's fusion decides what stays on chip."""
    s, d = _shape((s, d))
    dt, elt = _dtype_name(dtype), _elt(dtype)
    if elt != "f32":
        from ..errors import UnsupportedError
        raise UnsupportedError("bench attention is f32 only")
    qty, kty, sty = _tt((s, d), elt), _tt((d, s), elt), _tt((s, s), elt)
    b = _Builder("attention", [("q", qty), ("kt", kty), ("v", qty)], elt)
    z = b.fill(0.0, sty, elt)
    sc = b.fresh("mm")
    b.emit(f"{sc} = linalg.matmul ins(%q, %kt : {qty}, {kty}) outs({z} : {sty}) -> {sty}")
    sc = b.binary("mul", sc, b.fill(1.0 / math.sqrt(d), sty, elt), sty)
    mx = b.reduce_last("max", sc, (s, s), elt, elt, form="reduce")
    t = b.binary("sub", sc, b.broadcast_last(mx, (s, s), elt), sty)
    ex = b.unary("exp", t, sty)
    sm = b.reduce_last("sum", ex, (s, s), elt, elt, form="generic")
    p = b.binary("div", ex, b.broadcast_last(sm, (s, s), elt, form="generic"), sty)
    z2 = b.fill(0.0, qty, elt)
    o = b.fresh("mm")
    b.emit(f"{o} = linalg.matmul ins({p}, %v : {sty}, {qty}) outs({z2} : {qty}) -> {qty}")

    def ref(q, kt, v):
        a = q @ kt / math.sqrt(d)
        e = np.exp(a - a.max(axis=-1, keepdims=True))
        return (e / e.sum(axis=-1, keepdims=True)) @ v

    k = LinalgKernel(name="attention", mlir=b.module([(o, qty)]), inputs=[((s, d), dt), ((d, s), dt),
                     ((s, d), dt)], outputs=[((s, d), dt)], reference=_cast_ref(ref, dt),
                     input_ranges=[(-1.0, 1.0)] * 3, flops_per_elem=4 * s + 5 * s / d)
    return k


# ---------------------------------------------------------------------------------------------------------
# Peers: the same computation in torch (eager / torch.compile) and numpy, on the same inputs


def _t_gelu(torch, x):
    return torch.nn.functional.gelu(x, approximate="tanh")


def _t_rmsnorm(torch, x, w):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + 1e-6) * w


def _t_layernorm(torch, x, w, b):
    return torch.nn.functional.layer_norm(x, x.shape[-1:], w, b, 1e-5)


def _t_exp_series(torch, x):
    coef = [1.0 / math.factorial(k) for k in range(EXP_TERMS)]
    y = torch.full_like(x, coef[-1])
    for c in reversed(coef[:-1]):
        y = y * x + c
    return y


def _t_attention(torch, q, kt, v):
    return torch.softmax(q @ kt / math.sqrt(q.shape[-1]), -1) @ v


def _np_gelu(x):
    c = np.asarray(math.sqrt(2 / math.pi), x.dtype)
    return np.asarray(0.5, x.dtype) * x * (1 + np.tanh(c * (x + np.asarray(0.044715, x.dtype) * x * x * x)))


def _np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _np_layernorm(x, w, b):
    mu = x.mean(-1, keepdims=True)
    xc = x - mu
    return xc / np.sqrt((xc * xc).mean(-1, keepdims=True) + np.asarray(1e-5, x.dtype)) * w + b


def _np_exp_series(x):
    coef = [1.0 / math.factorial(k) for k in range(EXP_TERMS)]
    y = np.full_like(x, coef[-1])
    for c in reversed(coef[:-1]):
        y = y * x + np.asarray(c, x.dtype)
    return y


# ---------------------------------------------------------------------------------------------------------
# The registry


@dataclass(frozen=True)
class BenchKernel:
    """One benchmark kernel. `make(**size)` returns a LinalgKernel (numpy-only); `ladder_size` is the fixed
    problem size of the ladder, `tiny_size` the test size (odd, not a multiple of any vector or tile width).
    `torch_fn(torch, *tensors)` and `numpy_fn(*arrays)` are the peers (None: not meaningful)."""
    name: str
    label: str
    make: Callable[..., LinalgKernel]
    ladder_size: dict
    tiny_size: dict
    dtype: str = "float32"
    torch_fn: Callable | None = None
    numpy_fn: Callable | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)

    def kernel(self, size: dict | None = None) -> LinalgKernel:
        return self.make(**(size or self.ladder_size), dtype=self.dtype)

    @property
    def elementwise(self) -> bool:
        """One output element per input element, nothing reduced: the copy bandwidth is its ceiling."""
        return set(self.ladder_size) == {"n"}


def _ew(name, label, make, dtype="float32", **kw) -> BenchKernel:
    return BenchKernel(name, label, lambda n, dtype: make(n, dtype), {"n": 1 << 22}, {"n": 1000 + 37},
                       dtype=dtype, **kw)


def _rows(name, label, make, dtype="float32", **kw) -> BenchKernel:
    return BenchKernel(name, label, lambda m, n, dtype: make(m, n, dtype), {"m": 4096, "n": 1024},
                       {"m": 13, "n": 203}, dtype=dtype, **kw)


REGISTRY: dict[str, BenchKernel] = {k.name: k for k in [
    _ew("vector_add", "vector add f32", S.vector_add, torch_fn=lambda torch, a, b: a + b,
        numpy_fn=lambda a, b: a + b),
    _ew("gelu", "GELU(tanh) f32", lambda n, dt: S.gelu_tanh((n,), dt), torch_fn=_t_gelu, numpy_fn=_np_gelu),
    _ew("gelu_f16", "GELU(tanh) f16", lambda n, dt: S.gelu_tanh((n,), dt), dtype="float16",
        torch_fn=_t_gelu, numpy_fn=_np_gelu),
    _ew("silu", "SiLU f32", lambda n, dt: S.silu((n,), dt), torch_fn=lambda torch, x: torch.nn.functional.silu(x),
        numpy_fn=lambda x: x / (1 + np.exp(-x))),
    _ew("exp_series", f"exp series ({EXP_TERMS} terms) f32", exp_series, torch_fn=_t_exp_series,
        numpy_fn=_np_exp_series),
    _rows("rmsnorm", "RMSNorm f32", S.rmsnorm, torch_fn=_t_rmsnorm,
          numpy_fn=lambda x, w: x / np.sqrt((x * x).mean(-1, keepdims=True) + np.float32(1e-6)) * w),
    _rows("rmsnorm_f16", "RMSNorm f16", S.rmsnorm, dtype="float16", torch_fn=_t_rmsnorm),
    _rows("layernorm", "LayerNorm f32", layernorm, torch_fn=_t_layernorm, numpy_fn=_np_layernorm),
    _rows("softmax", "softmax (rows) f32", S.softmax_rows, torch_fn=lambda torch, x: torch.softmax(x, -1),
          numpy_fn=_np_softmax),
    BenchKernel("attention", "attention f32 (unfused)", lambda s, d, dtype: attention(s, d, dtype),
                {"s": 1024, "d": 64}, {"s": 67, "d": 16}, torch_fn=_t_attention,
                numpy_fn=lambda q, kt, v: _np_softmax(q @ kt / np.float32(math.sqrt(q.shape[-1]))) @ v,
                note="matmul-softmax-matmul in Linalg, not the online-softmax flash formulation"),
    BenchKernel("matmul", "matmul f32", lambda m, n, k, dtype: S.matmul(m, n, k, dtype),
                {"m": 512, "n": 512, "k": 512}, {"m": 37, "n": 45, "k": 29},
                torch_fn=lambda torch, a, b: a @ b, numpy_fn=lambda a, b: a @ b),
]}


def tolerance(dtype: str) -> float:
    """Max error relative to max(1, |reference|) accepted for a benchmark output (fast-math polynomials)."""
    return {"float16": 2e-2, "float32": 2e-4}[np.dtype(dtype).name]


def check(outs, refs, dtype) -> float:
    """Normalized max error of outputs against the references."""
    err = 0.0
    for o, r in zip(outs, refs):
        o, r = np.asarray(o, np.float64), np.asarray(r, np.float64)
        if o.shape != r.shape:
            return math.inf
        err = max(err, float(np.max(np.abs(o - r)) / max(1.0, float(np.max(np.abs(r))))))
    return err

#: the suite of issue 14's goal (the host target against the peers; contractions belong to issue 15)
HOST_SUITE = ["vector_add", "gelu", "gelu_f16", "silu", "exp_series", "rmsnorm", "rmsnorm_f16", "layernorm",
              "softmax"]
