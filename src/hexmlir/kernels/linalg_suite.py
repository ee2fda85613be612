"""The Linalg kernel suite hexmlir is tested and benchmarked on.

Every kernel is a small MLIR module with ONE public ``func.func`` whose name is
the kernel's name.  Shapes are static, arguments and results are tensors.

The bodies are deliberately written the way a frontend (torch-mlir, a graph
importer) emits them: a *chain* of separate linalg ops, one per arithmetic step,
each writing a fresh ``tensor.empty``.  Scalar constants are materialised as
``linalg.fill`` tensors and combined with named binary ops, row statistics are
produced by reductions (``linalg.reduce`` or a ``linalg.generic`` with a
reduction iterator and a ``linalg.fill`` init) and broadcast back over the row
(``linalg.broadcast`` or a ``linalg.generic`` with a projected indexing map).
Nothing is pre-fused, so the compiler's fusion stage has real work to do.  Named
ops are used where they exist; ``math.tanh`` goes through a ``linalg.generic``
so both op forms are exercised.

dtype policy
------------
* Elementwise arithmetic is done in the declared dtype (f32 or f16); f16
  kernels round after every op, exactly like a frontend graph would.
* f16 *sum* reductions accumulate in f32: the reduction body does
  ``arith.extf`` on the f16 element and adds into an f32 accumulator, the
  f32 statistic is truncated back to f16 (``arith.truncf``) where the chain
  continues in f16.  (``rmsnorm`` keeps its row statistic in f32 through the
  mean/eps/rsqrt steps and truncates once before the broadcast.)  Max
  reductions are exact and stay in f16.
* ``matmul`` with f16 inputs accumulates in f32 (``linalg.matmul`` with f16
  ins and an f32 outs, zero-filled) and the f32 result is truncated to f16.
* References are computed in float64 with numpy and cast to the output dtype.

``run_naive`` is a slow, compiler-independent oracle: it lowers a kernel
module straight to loops and runs it with the MLIR ``ExecutionEngine``
(tools/refjit.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

__all__ = [
    "LinalgKernel",
    "vector_add",
    "vector_add_2d",
    "gelu_tanh",
    "silu",
    "softmax_rows",
    "rmsnorm",
    "row_sum",
    "matmul",
    "SUITE",
    "run_naive",
    "count_linalg_ops",
]

Shape = tuple[int, ...]

# --------------------------------------------------------------------------
# Kernel description
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class LinalgKernel:
    """One kernel of the suite: MLIR text plus everything needed to test it."""

    name: str
    mlir: str
    inputs: list[tuple[Shape, str]]
    outputs: list[tuple[Shape, str]]
    reference: Callable[..., list[np.ndarray]]
    #: (low, high) of the uniform distribution used by :meth:`random_inputs`,
    #: one per input.
    input_ranges: list[tuple[float, float]] = field(default_factory=list)
    #: rough arithmetic work per output element (for roofline-style reports)
    flops_per_elem: float = 1.0

    def random_inputs(self, rng: np.random.Generator | None = None) -> list[np.ndarray]:
        """Fresh random inputs with the right shapes/dtypes in a sensible range."""
        if rng is None:
            rng = np.random.default_rng()
        arrays = []
        for i, (shape, dtype) in enumerate(self.inputs):
            lo, hi = self.input_ranges[i] if i < len(self.input_ranges) else (-1.0, 1.0)
            if np.issubdtype(np.dtype(dtype), np.integer):   # integer kernels: the whole closed range
                arrays.append(rng.integers(int(lo), int(hi), size=shape, endpoint=True).astype(dtype))
                continue
            arrays.append(rng.uniform(lo, hi, size=shape).astype(dtype))
        return arrays

    @property
    def bytes_in(self) -> int:
        return sum(math.prod(s) * np.dtype(d).itemsize for s, d in self.inputs)

    @property
    def bytes_out(self) -> int:
        return sum(math.prod(s) * np.dtype(d).itemsize for s, d in self.outputs)

    @property
    def bytes_moved(self) -> int:
        """Compulsory DRAM traffic: every input read once, every output written once."""
        return self.bytes_in + self.bytes_out

    @property
    def flops(self) -> float:
        return self.flops_per_elem * sum(math.prod(s) for s, _ in self.outputs)


# --------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------

_ELT = {"float32": "f32", "float16": "f16", "float64": "f64"}
_NEG_INF = {"f32": "0xFF800000", "f16": "0xFC00", "f64": "0xFFF0000000000000"}


def _elt(dtype: str) -> str:
    try:
        return _ELT[np.dtype(dtype).name]
    except KeyError:
        raise ValueError(f"unsupported dtype {dtype!r}; expected one of {sorted(_ELT)}") from None


def _dtype_name(dtype: str) -> str:
    _elt(dtype)
    return np.dtype(dtype).name


def _tt(shape: Sequence[int], elt: str) -> str:
    """tensor type string, e.g. tensor<7x1001xf32>"""
    return "tensor<" + "".join(f"{d}x" for d in shape) + elt + ">"


def _shape(shape) -> Shape:
    if isinstance(shape, int):
        shape = (shape,)
    shape = tuple(int(d) for d in shape)
    if not shape or any(d < 1 for d in shape):
        raise ValueError(f"static shape with positive sizes required, got {shape}")
    return shape


def _float_lit(value: float, elt: str) -> str:
    if value == -math.inf:
        return _NEG_INF[elt]
    text = repr(float(value))
    # MLIR's lexer needs a '.' in a float literal: "1e-06" lexes as 1 then `e`.
    if "." not in text:
        mant, _, exp = text.partition("e")
        text = mant + ".0" + ("e" + exp if exp else "")
    return text


def _ident_map(rank: int) -> str:
    ds = ", ".join(f"d{i}" for i in range(rank))
    return f"affine_map<({ds}) -> ({ds})>"


class _Builder:
    """Accumulates the body of one func.func as SSA text."""

    def __init__(self, name: str, args: list[tuple[str, str]], elt: str):
        self.name = name
        self.args = args  # (ssa name without %, type)
        self.elt = elt
        self.lines: list[str] = []
        self._n = 0

    def fresh(self, hint: str = "t") -> str:
        self._n += 1
        return f"%{hint}{self._n}"

    def emit(self, text: str) -> None:
        self.lines.extend("    " + ln for ln in text.strip("\n").splitlines())

    def empty(self, ty: str) -> str:
        v = self.fresh("e")
        self.emit(f"{v} = tensor.empty() : {ty}")
        return v

    # -- ops ---------------------------------------------------------------
    def fill(self, value: float, ty: str, elt: str) -> str:
        c = self.fresh("c")
        self.emit(f"{c} = arith.constant {_float_lit(value, elt)} : {elt}")
        e = self.empty(ty)
        v = self.fresh("f")
        self.emit(f"{v} = linalg.fill ins({c} : {elt}) outs({e} : {ty}) -> {ty}")
        return v

    def binary(self, op: str, a: str, b: str, ty: str) -> str:
        """Named elementwise binary op: add/sub/mul/div/max/min."""
        e = self.empty(ty)
        v = self.fresh(op)
        self.emit(f"{v} = linalg.{op} ins({a}, {b} : {ty}, {ty}) outs({e} : {ty}) -> {ty}")
        return v

    def unary(self, op: str, a: str, ty: str) -> str:
        """Named elementwise unary op: exp/negf/rsqrt/..."""
        e = self.empty(ty)
        v = self.fresh(op)
        self.emit(f"{v} = linalg.{op} ins({a} : {ty}) outs({e} : {ty}) -> {ty}")
        return v

    def generic_unary(self, body_op: str, a: str, shape: Shape, in_elt: str, out_elt: str,
                      hint: str = "g") -> str:
        """linalg.generic applying one scalar op, e.g. ``math.tanh`` or ``arith.truncf``."""
        ity, oty = _tt(shape, in_elt), _tt(shape, out_elt)
        if in_elt == out_elt:
            scalar = f"{body_op} %in : {in_elt}"
        else:
            scalar = f"{body_op} %in : {in_elt} to {out_elt}"
        m = _ident_map(len(shape))
        its = ", ".join('"parallel"' for _ in shape)
        e = self.empty(oty)
        v = self.fresh(hint)
        self.emit(
            f"""
{v} = linalg.generic {{indexing_maps = [{m}, {m}], iterator_types = [{its}]}} ins({a} : {ity}) outs({e} : {oty}) {{
^bb0(%in: {in_elt}, %out: {out_elt}):
  %res = {scalar}
  linalg.yield %res : {out_elt}
}} -> {oty}
"""
        )
        return v

    def reduce_last(self, kind: str, a: str, shape: Shape, in_elt: str, acc_elt: str,
                    form: str = "reduce") -> str:
        """Reduce the innermost dim of ``a``; kind is "sum" or "max".

        ``form="reduce"`` emits ``linalg.reduce``, ``form="generic"`` a
        ``linalg.generic`` with a reduction iterator.  The init is a
        ``linalg.fill`` (0 for sum, -inf for max).  If ``acc_elt`` differs from
        ``in_elt`` the element is ``arith.extf``-ed inside the body.
        """
        out_shape = shape[:-1]
        ity, oty = _tt(shape, in_elt), _tt(out_shape, acc_elt)
        init = self.fill(0.0 if kind == "sum" else -math.inf, oty, acc_elt)
        combine = {"sum": "arith.addf", "max": "arith.maximumf"}[kind]
        if in_elt != acc_elt:
            ext = f"  %ext = arith.extf %in : {in_elt} to {acc_elt}\n"
            x = "%ext"
        else:
            ext, x = "", "%in"
        v = self.fresh(kind)
        body = f"{ext}  %res = {combine} {x}, %acc : {acc_elt}\n  linalg.yield %res : {acc_elt}\n"
        if form == "reduce":
            self.emit(
                f"{v} = linalg.reduce ins({a} : {ity}) outs({init} : {oty}) dimensions = [{len(shape) - 1}]\n"
                f"  (%in: {in_elt}, %acc: {acc_elt}) {{\n{body}  }}"
            )
        else:
            r = len(shape)
            ds = ", ".join(f"d{i}" for i in range(r))
            maps = f"affine_map<({ds}) -> ({ds})>, affine_map<({ds}) -> ({', '.join(f'd{i}' for i in range(r - 1))})>"
            its = ", ".join(['"parallel"'] * (r - 1) + ['"reduction"'])
            self.emit(
                f"{v} = linalg.generic {{indexing_maps = [{maps}], iterator_types = [{its}]}} ins({a} : {ity}) outs({init} : {oty}) {{\n"
                f"^bb0(%in: {in_elt}, %acc: {acc_elt}):\n{body}}} -> {oty}"
            )
        return v

    def broadcast_last(self, a: str, shape: Shape, elt: str, form: str = "broadcast") -> str:
        """Broadcast ``a`` of shape ``shape[:-1]`` along a new innermost dim to ``shape``."""
        ity, oty = _tt(shape[:-1], elt), _tt(shape, elt)
        e = self.empty(oty)
        v = self.fresh("b")
        if form == "broadcast":
            self.emit(f"{v} = linalg.broadcast ins({a} : {ity}) outs({e} : {oty}) dimensions = [{len(shape) - 1}]")
        else:
            r = len(shape)
            ds = ", ".join(f"d{i}" for i in range(r))
            maps = f"affine_map<({ds}) -> ({', '.join(f'd{i}' for i in range(r - 1))})>, affine_map<({ds}) -> ({ds})>"
            its = ", ".join(['"parallel"'] * r)
            self.emit(
                f"{v} = linalg.generic {{indexing_maps = [{maps}], iterator_types = [{its}]}} ins({a} : {ity}) outs({e} : {oty}) {{\n"
                f"^bb0(%in: {elt}, %out: {elt}):\n  linalg.yield %in : {elt}\n}} -> {oty}"
            )
        return v

    def broadcast_leading(self, a: str, shape: Shape, elt: str) -> str:
        """Broadcast a vector of shape ``shape[-1:]`` over the leading dims of ``shape``."""
        ity, oty = _tt(shape[-1:], elt), _tt(shape, elt)
        e = self.empty(oty)
        v = self.fresh("b")
        dims = ", ".join(str(i) for i in range(len(shape) - 1))
        self.emit(f"{v} = linalg.broadcast ins({a} : {ity}) outs({e} : {oty}) dimensions = [{dims}]")
        return v

    def module(self, results: list[tuple[str, str]]) -> str:
        args = ", ".join(f"%{n}: {t}" for n, t in self.args)
        rtys = ", ".join(t for _, t in results)
        rvals = ", ".join(v for v, _ in results)
        rsig = rtys if len(results) == 1 else f"({rtys})"
        body = "\n".join(self.lines)
        return (
            "module {\n"
            f"  func.func @{self.name}({args}) -> {rsig} {{\n"
            f"{body}\n"
            f"    return {rvals} : {rtys}\n"
            "  }\n"
            "}\n"
        )


def _cast_ref(fn: Callable[..., np.ndarray], out_dtype: str) -> Callable[..., list[np.ndarray]]:
    """Wrap a float64 numpy function: inputs -> float64, result -> out_dtype."""

    def ref(*arrays: np.ndarray) -> list[np.ndarray]:
        res = fn(*(np.asarray(a, dtype=np.float64) for a in arrays))
        return [np.asarray(res).astype(out_dtype)]

    ref.__name__ = getattr(fn, "__name__", "reference")
    return ref


# --------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------


def _elementwise_add(name: str, shape: Shape, dtype: str) -> LinalgKernel:
    dt, elt = _dtype_name(dtype), _elt(dtype)
    ty = _tt(shape, elt)
    b = _Builder(name, [("a", ty), ("b", ty)], elt)
    r = b.binary("add", "%a", "%b", ty)
    return LinalgKernel(
        name=name,
        mlir=b.module([(r, ty)]),
        inputs=[(shape, dt), (shape, dt)],
        outputs=[(shape, dt)],
        reference=_cast_ref(lambda a, c: a + c, dt),
        input_ranges=[(-4.0, 4.0), (-4.0, 4.0)],
        flops_per_elem=1,
    )


def vector_add(n: int, dtype: str = "float32") -> LinalgKernel:
    """1-D ``c = a + b`` (a single ``linalg.add``)."""
    return _elementwise_add("vector_add", _shape((n,)), dtype)


def vector_add_2d(m: int, n: int, dtype: str = "float32") -> LinalgKernel:
    """2-D ``c = a + b`` (a single ``linalg.add``)."""
    return _elementwise_add("vector_add_2d", _shape((m, n)), dtype)


_GELU_C = math.sqrt(2.0 / math.pi)


def gelu_tanh(shape, dtype: str = "float32") -> LinalgKernel:
    """tanh-approximate GELU, any rank:
    ``0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x^3)))``.

    Emitted as 9 elementwise linalg ops (plus 4 constant fills):
    x*x, *x, *0.044715, +x, *sqrt(2/pi), tanh (generic+math.tanh), +1, *x, *0.5.
    """
    shape = _shape(shape)
    dt, elt = _dtype_name(dtype), _elt(dtype)
    ty = _tt(shape, elt)
    b = _Builder("gelu", [("x", ty)], elt)
    x = "%x"
    x2 = b.binary("mul", x, x, ty)
    x3 = b.binary("mul", x2, x, ty)
    c0 = b.fill(0.044715, ty, elt)
    t = b.binary("mul", x3, c0, ty)
    t = b.binary("add", t, x, ty)
    c1 = b.fill(_GELU_C, ty, elt)
    t = b.binary("mul", t, c1, ty)
    t = b.generic_unary("math.tanh", t, shape, elt, elt, hint="tanh")
    one = b.fill(1.0, ty, elt)
    t = b.binary("add", t, one, ty)
    t = b.binary("mul", t, x, ty)
    half = b.fill(0.5, ty, elt)
    y = b.binary("mul", t, half, ty)

    def ref(x):
        return 0.5 * x * (1.0 + np.tanh(_GELU_C * (x + 0.044715 * x**3)))

    return LinalgKernel(
        name="gelu",
        mlir=b.module([(y, ty)]),
        inputs=[(shape, dt)],
        outputs=[(shape, dt)],
        reference=_cast_ref(ref, dt),
        input_ranges=[(-5.0, 5.0)],
        flops_per_elem=9,
    )


def silu(shape, dtype: str = "float32") -> LinalgKernel:
    """SiLU, any rank: ``x / (1 + exp(-x))`` as negf, exp, +1, div."""
    shape = _shape(shape)
    dt, elt = _dtype_name(dtype), _elt(dtype)
    ty = _tt(shape, elt)
    b = _Builder("silu", [("x", ty)], elt)
    t = b.unary("negf", "%x", ty)
    t = b.unary("exp", t, ty)
    one = b.fill(1.0, ty, elt)
    t = b.binary("add", t, one, ty)
    y = b.binary("div", "%x", t, ty)

    def ref(x):
        return x / (1.0 + np.exp(-x))

    return LinalgKernel(
        name="silu",
        mlir=b.module([(y, ty)]),
        inputs=[(shape, dt)],
        outputs=[(shape, dt)],
        reference=_cast_ref(ref, dt),
        input_ranges=[(-8.0, 8.0)],
        flops_per_elem=4,
    )


def softmax_rows(m: int, n: int, dtype: str = "float32") -> LinalgKernel:
    """Row softmax of an (m, n) matrix, numerically stable form:
    max-reduce (linalg.reduce, -inf init), broadcast, sub, exp,
    sum-reduce (linalg.generic reduction, 0 init), broadcast, div.

    f16: the max stays f16 (exact); the sum accumulates in f32 and is truncated
    to f16 before the broadcast/div.
    """
    shape = _shape((m, n))
    dt, elt = _dtype_name(dtype), _elt(dtype)
    acc = "f32" if elt == "f16" else elt
    ty = _tt(shape, elt)
    b = _Builder("softmax", [("x", ty)], elt)
    mx = b.reduce_last("max", "%x", shape, elt, elt, form="reduce")
    mxb = b.broadcast_last(mx, shape, elt, form="broadcast")
    t = b.binary("sub", "%x", mxb, ty)
    ex = b.unary("exp", t, ty)
    s = b.reduce_last("sum", ex, shape, elt, acc, form="generic")
    if acc != elt:
        s = b.generic_unary("arith.truncf", s, shape[:-1], acc, elt, hint="trunc")
    sb = b.broadcast_last(s, shape, elt, form="generic")
    y = b.binary("div", ex, sb, ty)

    def ref(x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    return LinalgKernel(
        name="softmax",
        mlir=b.module([(y, ty)]),
        inputs=[(shape, dt)],
        outputs=[(shape, dt)],
        reference=_cast_ref(ref, dt),
        input_ranges=[(-8.0, 8.0)],
        flops_per_elem=5,
    )


def rmsnorm(m: int, n: int, dtype: str = "float32", eps: float = 1e-6) -> LinalgKernel:
    """RMSNorm over rows: ``x * rsqrt(mean(x^2) + eps) * w`` with ``w: tensor<n>``.

    Chain: x*x, sum-reduce (linalg.reduce), *(1/n), +eps, rsqrt, broadcast
    (generic with projected map), x*r, broadcast w (linalg.broadcast), *w.

    f16: x*x is f16, the sum accumulates in f32 and the statistic stays f32
    through mean/eps/rsqrt, then is truncated to f16 before the broadcast.
    """
    shape = _shape((m, n))
    dt, elt = _dtype_name(dtype), _elt(dtype)
    acc = "f32" if elt == "f16" else elt
    ty = _tt(shape, elt)
    wty = _tt(shape[-1:], elt)
    sty = _tt(shape[:-1], acc)
    b = _Builder("rmsnorm", [("x", ty), ("w", wty)], elt)
    sq = b.binary("mul", "%x", "%x", ty)
    s = b.reduce_last("sum", sq, shape, elt, acc, form="reduce")
    inv_n = b.fill(1.0 / n, sty, acc)
    s = b.binary("mul", s, inv_n, sty)
    ep = b.fill(eps, sty, acc)
    s = b.binary("add", s, ep, sty)
    r = b.unary("rsqrt", s, sty)
    if acc != elt:
        r = b.generic_unary("arith.truncf", r, shape[:-1], acc, elt, hint="trunc")
    rb = b.broadcast_last(r, shape, elt, form="generic")
    t = b.binary("mul", "%x", rb, ty)
    wb = b.broadcast_leading("%w", shape, elt)
    y = b.binary("mul", t, wb, ty)

    def ref(x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w

    return LinalgKernel(
        name="rmsnorm",
        mlir=b.module([(y, ty)]),
        inputs=[(shape, dt), (shape[-1:], dt)],
        outputs=[(shape, dt)],
        reference=_cast_ref(ref, dt),
        input_ranges=[(-4.0, 4.0), (-2.0, 2.0)],
        flops_per_elem=4,
    )


def row_sum(m: int, n: int, dtype: str = "float32") -> LinalgKernel:
    """Row reduction ``y[i] = sum_j x[i, j]`` (linalg.reduce, 0 init).

    f16: accumulates in f32, result truncated to f16.
    """
    shape = _shape((m, n))
    dt, elt = _dtype_name(dtype), _elt(dtype)
    acc = "f32" if elt == "f16" else elt
    b = _Builder("row_sum", [("x", _tt(shape, elt))], elt)
    s = b.reduce_last("sum", "%x", shape, elt, acc, form="reduce")
    if acc != elt:
        s = b.generic_unary("arith.truncf", s, shape[:-1], acc, elt, hint="trunc")
    return LinalgKernel(
        name="row_sum",
        mlir=b.module([(s, _tt(shape[:-1], elt))]),
        inputs=[(shape, dt)],
        outputs=[(shape[:-1], dt)],
        reference=_cast_ref(lambda x: x.sum(axis=-1), dt),
        input_ranges=[(-1.0, 1.0)],
        flops_per_elem=n,
    )


def matmul(m: int, n: int, k: int, dtype: str = "float32") -> LinalgKernel:
    """``C[m, n] = A[m, k] @ B[k, n]``: zero fill + ``linalg.matmul``.

    f16: the fill/accumulator is f32 (``linalg.matmul`` extends the f16
    operands), and the f32 result is truncated to f16 (``arith.truncf`` generic).
    """
    m, n, k = _shape((m, n, k))
    dt, elt = _dtype_name(dtype), _elt(dtype)
    acc = "f32" if elt == "f16" else elt
    aty, bty = _tt((m, k), elt), _tt((k, n), elt)
    cty = _tt((m, n), acc)
    bld = _Builder("matmul", [("A", aty), ("B", bty)], elt)
    z = bld.fill(0.0, cty, acc)
    c = bld.fresh("mm")
    bld.emit(f"{c} = linalg.matmul ins(%A, %B : {aty}, {bty}) outs({z} : {cty}) -> {cty}")
    if acc != elt:
        c = bld.generic_unary("arith.truncf", c, (m, n), acc, elt, hint="trunc")
    return LinalgKernel(
        name="matmul",
        mlir=bld.module([(c, _tt((m, n), elt))]),
        inputs=[((m, k), dt), ((k, n), dt)],
        outputs=[((m, n), dt)],
        reference=_cast_ref(lambda a, b_: a @ b_, dt),
        input_ranges=[(-1.0, 1.0), (-1.0, 1.0)],
        flops_per_elem=2 * k,
    )


SUITE: dict[str, Callable[..., LinalgKernel]] = {
    "vector_add": vector_add,
    "vector_add_2d": vector_add_2d,
    "gelu": gelu_tanh,
    "silu": silu,
    "softmax": softmax_rows,
    "rmsnorm": rmsnorm,
    "row_sum": row_sum,
    "matmul": matmul,
}


def count_linalg_ops(mlir_text: str) -> dict[str, int]:
    """Count linalg ops in a module's text by op name (e.g. {"linalg.mul": 5})."""
    import re

    counts: dict[str, int] = {}
    for op in re.findall(r"=\s*(linalg\.[a-z_]+)", mlir_text):
        counts[op] = counts.get(op, 0) + 1
    return counts


# --------------------------------------------------------------------------
# Naive reference execution (slow oracle, tests only)
# --------------------------------------------------------------------------

def _lower_naive(kernel: LinalgKernel):
    from torch_mlir import ir

    from ..tools import refjit

    ctx = ir.Context()
    module = ir.Module.parse(kernel.mlir, ctx)
    with ctx:
        func = None
        for op in module.body.operations:
            if op.operation.name == "func.func":
                if ir.StringAttr(op.attributes["sym_name"]).value == kernel.name:
                    func = op
        if func is None:
            raise ValueError(f"module has no func.func @{kernel.name}")
        func.attributes["llvm.emit_c_interface"] = ir.UnitAttr.get()
        refjit.lower(module)
    return ctx, module


def run_naive(kernel: LinalgKernel, inputs: Sequence[np.ndarray], opt_level: int = 2) -> list[np.ndarray]:
    """Run ``kernel`` on ``inputs`` through the reference JIT (tools/refjit.py: upstream passes only).

    Independent of hexmlir's compiler; used as an oracle in tests.  Results
    come back as fresh numpy arrays of the declared output shapes/dtypes.
    """
    from torch_mlir.execution_engine import ExecutionEngine

    from ..tools import refjit

    if len(inputs) != len(kernel.inputs):
        raise ValueError(f"{kernel.name}: expected {len(kernel.inputs)} inputs, got {len(inputs)}")
    args = []
    for i, (arr, (shape, dtype)) in enumerate(zip(inputs, kernel.inputs)):
        arr = np.ascontiguousarray(arr)
        if arr.shape != tuple(shape) or arr.dtype != np.dtype(dtype):
            raise ValueError(
                f"{kernel.name}: input {i} is {arr.dtype}{arr.shape}, expected {dtype}{tuple(shape)}"
            )
        args.append(arr)
    outs = [np.zeros(shape, dtype=dtype) for shape, dtype in kernel.outputs]

    ctx, module = _lower_naive(kernel)
    with ctx:
        engine = ExecutionEngine(module, opt_level=opt_level)
        refjit.invoke(engine, kernel.name, args + outs)  # `args`/`outs` own the memory the descriptors point at
    return outs


# --------------------------------------------------------------------------
# Integer kernels (int8/int16/int32): what quantized models run, and what
# qemu-hexagon executes with real HVX (it cannot run HVX float).
# Written frontend-style too: extend, named binary ops on fills, clamp, truncate.
# References are exact (numpy int64 arithmetic).
# --------------------------------------------------------------------------

_INT_ELT = {"int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64"}
_INT_BITS = {"i8": 8, "i16": 16, "i32": 32, "i64": 64}


def _int_fill(b: _Builder, value: int, ty: str, elt: str) -> str:
    c = b.fresh("c")
    b.emit(f"{c} = arith.constant {int(value)} : {elt}")
    e = b.empty(ty)
    v = b.fresh("f")
    b.emit(f"{v} = linalg.fill ins({c} : {elt}) outs({e} : {ty}) -> {ty}")
    return v


def _int_ranges(dtype: str, n: int) -> list[tuple[float, float]]:
    info = np.iinfo(dtype)
    return [(int(info.min), int(info.max))] * n


def _int_check(dtype: str, allowed: Sequence[str]) -> str:
    dt = np.dtype(dtype).name
    if dt not in allowed:
        raise ValueError(f"unsupported dtype {dtype!r}; expected one of {list(allowed)}")
    return dt


def int_add_sat(n: int, dtype: str = "int8") -> LinalgKernel:
    """Saturating add ``clamp(a + b)`` for int8/int16: extsi to twice the width, add, max/min with
    the type's limits, trunci (6 linalg ops, fusion makes one)."""
    dt = _int_check(dtype, ("int8", "int16"))
    shape = _shape((n,))
    elt = _INT_ELT[dt]
    wide = f"i{2 * _INT_BITS[elt]}"
    ty, wty = _tt(shape, elt), _tt(shape, wide)
    info = np.iinfo(dt)
    b = _Builder("add_sat", [("a", ty), ("b", ty)], elt)
    a = b.generic_unary("arith.extsi", "%a", shape, elt, wide, hint="ext")
    c = b.generic_unary("arith.extsi", "%b", shape, elt, wide, hint="ext")
    s = b.binary("add", a, c, wty)
    s = b.binary("max", s, _int_fill(b, int(info.min), wty, wide), wty)
    s = b.binary("min", s, _int_fill(b, int(info.max), wty, wide), wty)
    y = b.generic_unary("arith.trunci", s, shape, wide, elt, hint="trunc")

    def ref(a, c):
        return [np.clip(a.astype(np.int64) + c, info.min, info.max).astype(dt)]

    return LinalgKernel("add_sat", b.module([(y, ty)]), [(shape, dt)] * 2, [(shape, dt)], ref,
                        _int_ranges(dt, 2), flops_per_elem=3)


def int_add(n: int, dtype: str = "int32") -> LinalgKernel:
    """Wrapping integer add ``a + b`` (one ``linalg.add``), int8/int16/int32."""
    dt = _int_check(dtype, ("int8", "int16", "int32"))
    shape = _shape((n,))
    elt = _INT_ELT[dt]
    ty = _tt(shape, elt)
    b = _Builder("int_add", [("a", ty), ("b", ty)], elt)
    y = b.binary("add", "%a", "%b", ty)

    def ref(a, c):
        return [(a.astype(np.int64) + c).astype(dt)]     # two's-complement wrap-around, like arith.addi

    return LinalgKernel("int_add", b.module([(y, ty)]), [(shape, dt)] * 2, [(shape, dt)], ref,
                        _int_ranges(dt, 2), flops_per_elem=1)


def int8_matmul(m: int, n: int, k: int) -> LinalgKernel:
    """``C[m, n] (int32) = A[m, k] (int8) @ B[k, n] (int8)``: zero fill + ``linalg.matmul`` (operands
    sign-extended, accumulation in int32)."""
    m, n, k = _shape((m, n, k))
    aty, bty, cty = _tt((m, k), "i8"), _tt((k, n), "i8"), _tt((m, n), "i32")
    b = _Builder("matmul_i8", [("A", aty), ("B", bty)], "i8")
    z = _int_fill(b, 0, cty, "i32")
    c = b.fresh("mm")
    b.emit(f"{c} = linalg.matmul ins(%A, %B : {aty}, {bty}) outs({z} : {cty}) -> {cty}")

    def ref(a, b_):
        return [(a.astype(np.int64) @ b_.astype(np.int64)).astype(np.int32)]

    return LinalgKernel("matmul_i8", b.module([(c, cty)]), [((m, k), "int8"), ((k, n), "int8")],
                        [((m, n), "int32")], ref, _int_ranges("int8", 2), flops_per_elem=2 * k)


def int8_conv2d(n: int, c: int, h: int, w: int, f: int, k: int = 3, stride: int = 1,
                bias: bool = False) -> LinalgKernel:
    """``out[n, f, oh, ow] (int32) = sum_{c, kh, kw} x[n, c, oh*s + kh, ow*s + kw] * w[f, c, kh, kw]`` of
    int8 NCHW images and FCHW filters (no padding): zero fill + ``linalg.conv_2d_nchw_fchw``, operands
    sign-extended, accumulation in int32 (a quantized convolution before requantization). With `bias`, a
    third input ``b[f]`` (int32) is broadcast into the accumulator instead of the zero fill."""
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    xs, ws, os_ = (n, c, h, w), (f, c, k, k), (n, f, oh, ow)
    xty, wty, oty = _tt(xs, "i8"), _tt(ws, "i8"), _tt(os_, "i32")
    bty = _tt((f,), "i32")
    b = _Builder("conv2d_i8", [("X", xty), ("W", wty)] + ([("B", bty)] if bias else []), "i8")
    if bias:
        z = b.fresh("bias")
        b.emit(f"{z} = linalg.broadcast ins(%B : {bty}) outs({b.empty(oty)} : {oty}) dimensions = [0, 2, 3]")
    else:
        z = _int_fill(b, 0, oty, "i32")
    o = b.fresh("conv")
    b.emit(f"{o} = linalg.conv_2d_nchw_fchw {{dilations = dense<1> : vector<2xi64>, "
           f"strides = dense<{stride}> : vector<2xi64>}} ins(%X, %W : {xty}, {wty}) outs({z} : {oty}) -> {oty}")

    def ref(x, w_, bias_=None):
        x64, w64 = x.astype(np.int64), w_.astype(np.int64)
        out = np.zeros(os_, np.int64)
        if bias_ is not None:
            out += bias_.astype(np.int64)[None, :, None, None]
        for i in range(k):
            for j in range(k):
                win = x64[:, :, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride]
                out += np.einsum("nchw,fc->nfhw", win, w64[:, :, i, j])
        return [out.astype(np.int32)]

    ins = [(xs, "int8"), (ws, "int8")] + ([((f,), "int32")] if bias else [])
    ranges = _int_ranges("int8", 2) + ([(-2 ** 24, 2 ** 24)] if bias else [])
    return LinalgKernel("conv2d_i8", b.module([(o, oty)]), ins, [(os_, "int32")], ref, ranges,
                        flops_per_elem=2 * c * k * k)


def int8_dot(m: int, k: int) -> LinalgKernel:
    """Row dot products ``y[i] (int32) = sum_j a[i, j] * b[i, j]`` of int8 rows: extsi both to i32, mul,
    sum-reduce the rows into an int32 zero fill (what a quantized attention score or a per-row
    dot looks like after import)."""
    m, k = _shape((m, k))
    shape = (m, k)
    ty8, ty32, oty = _tt(shape, "i8"), _tt(shape, "i32"), _tt((m,), "i32")
    b = _Builder("dot_i8", [("a", ty8), ("b", ty8)], "i8")
    a = b.generic_unary("arith.extsi", "%a", shape, "i8", "i32", hint="ext")
    c = b.generic_unary("arith.extsi", "%b", shape, "i8", "i32", hint="ext")
    p = b.binary("mul", a, c, ty32)
    init = _int_fill(b, 0, oty, "i32")
    v = b.fresh("sum")
    b.emit(f"{v} = linalg.reduce ins({p} : {ty32}) outs({init} : {oty}) dimensions = [1]\n"
           f"  (%in: i32, %acc: i32) {{\n  %res = arith.addi %in, %acc : i32\n  linalg.yield %res : i32\n  }}")

    def ref(a, b_):
        return [(a.astype(np.int64) * b_).sum(axis=1).astype(np.int32)]

    return LinalgKernel("dot_i8", b.module([(v, oty)]), [(shape, "int8")] * 2, [((m,), "int32")], ref,
                        _int_ranges("int8", 2), flops_per_elem=2 * k)


def requantize(n: int, multiplier: int = 1518500250, shift: int = 7, zero_point: int = -3) -> LinalgKernel:
    """int32 accumulators -> int8: ``clamp(((x * M + 2^(31+s)) >> (32+s)) + zp, -128, 127)``, the
    fixed-point rescale of quantized inference (M a Q31 multiplier, rounding right shift, zero point).
    Emitted as extsi to i64, mul, add, shrsi, trunci to i32, add, max, min, trunci to i8."""
    if not (0 < multiplier < 2**31 and 0 <= shift <= 30 and -128 <= zero_point <= 127):
        raise ValueError("requantize: need 0 < multiplier < 2^31, 0 <= shift <= 30, int8 zero point")
    shape = _shape((n,))
    t32, t64, t8 = _tt(shape, "i32"), _tt(shape, "i64"), _tt(shape, "i8")
    b = _Builder("requantize", [("x", t32)], "i32")
    x = b.generic_unary("arith.extsi", "%x", shape, "i32", "i64", hint="ext")
    p = b.binary("mul", x, _int_fill(b, multiplier, t64, "i64"), t64)
    p = b.binary("add", p, _int_fill(b, 1 << (31 + shift), t64, "i64"), t64)
    e = b.empty(t64)
    q = b.fresh("shr")
    m = _ident_map(1)
    sh = _int_fill(b, 32 + shift, t64, "i64")
    b.emit(f"""
{q} = linalg.generic {{indexing_maps = [{m}, {m}, {m}], iterator_types = ["parallel"]}} ins({p}, {sh} : {t64}, {t64}) outs({e} : {t64}) {{
^bb0(%in: i64, %s: i64, %out: i64):
  %res = arith.shrsi %in, %s : i64
  linalg.yield %res : i64
}} -> {t64}
""")
    q = b.generic_unary("arith.trunci", q, shape, "i64", "i32", hint="trunc")
    q = b.binary("add", q, _int_fill(b, zero_point, t32, "i32"), t32)
    q = b.binary("max", q, _int_fill(b, -128, t32, "i32"), t32)
    q = b.binary("min", q, _int_fill(b, 127, t32, "i32"), t32)
    y = b.generic_unary("arith.trunci", q, shape, "i32", "i8", hint="trunc")

    def ref(x):
        v = (x.astype(np.int64) * multiplier + (1 << (31 + shift))) >> (32 + shift)
        return [np.clip(v + zero_point, -128, 127).astype(np.int8)]

    return LinalgKernel("requantize", b.module([(y, t8)]), [(shape, "int32")], [(shape, "int8")], ref,
                        [(-(2**16), 2**16)], flops_per_elem=6)


#: Integer kernels (not in SUITE: their dtype argument differs from the float suite's).
INT_SUITE: dict[str, Callable[..., LinalgKernel]] = {
    "add_sat": int_add_sat,
    "int_add": int_add,
    "matmul_i8": int8_matmul,
    "dot_i8": int8_dot,
    "requantize": requantize,
}
__all__ += ["int_add_sat", "int_add", "int8_matmul", "int8_dot", "requantize", "INT_SUITE"]
