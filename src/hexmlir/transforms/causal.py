"""Causal attention: the key columns that a lower-triangular mask removes for every row of a block of query
rows are not computed.

Route B's `F.scaled_dot_product_attention(..., is_causal=True)` reaches Linalg as Q K^T, then a generic that
adds `select(j - i <= 0, 0, -inf)` (i, j: `linalg.index` or index tensors of the query and key loops), the
softmax and P V. For query rows [a, b) every key column j >= b + C (C = 0 for torch's top-left mask) is
-inf in every row, so it adds nothing to the max, 0 to the sum and 0 x V to P V. This stage splits such a
chain into row segments, each computed over columns [0, min(S, b + C)) only, with static shapes (the plan,
micro-kernels and peeled vector tails downstream see ordinary fixed-size ops); the segments' results are
inserted into the output. Segments of L / SEGMENTS rows compute about (SEGMENTS + 1) / (2 SEGMENTS) of the
score matrix (56% for 8 instead of 100%); the segment straddling the diagonal keeps its mask.

Sound only where the dropped columns contribute exactly nothing, so the chain is checked, not assumed:
  - the mask is recognized exactly (`j - i <= C` kept, C >= 0 so every row keeps column 0, -inf otherwise,
    added to or selected over the scores); anything else (a mask tensor, triu, other offsets) is left alone.
    torch's masks are matched on their `cmpi(j - i, C)`; any other keep test (transformers' GPT-2, LLaMA:
    `tensor.extract` of position tensors, `kv <= q` and-ed with packed-sequence and batch-index tests), or
    a 0 / -inf bias tensor added to the scores (the same mask computed once for every layer), is evaluated
    exactly at every point of the loops (NumPy, _evaluated_mask) when all it reads is computed from
    constants alone, and compared with `j - i <= C`; a keep test that also reads a kernel argument (a
    padding attention_mask) is proven when it is `and` of such a test and the rest (the rest unknown: the
    keep test is then only bounded by `j - i <= C`, which is all a dropped column needs; the segments keep
    the whole mask). A row that padding leaves without any kept column is -inf in every column it computes
    as in every column it drops, so each op gives its computed columns the value it gives the dropped ones;
    every reduction over the columns must then come back unchanged from one more such column
    (_empty_row_check: the chain interpreted for that row, reductions from their fill values). In the
    softmax chains that value is NaN (-inf minus a -inf max): max, sums and P V come out as for the whole
    row (NaN, or the 0 of torch's guard for such rows); a chain that made it finite and non-zero before a
    column sum is left whole;
  - every op downstream of the mask is evaluated on its masked column values (the body interpreted for
    sample finite values of everything else): an elementwise op must give one constant there (-inf,
    then exp -> 0, 0 / sum -> 0), a reduction over the columns must leave its accumulator unchanged
    (max with -inf, + 0, and of `== -inf`, + 0 x V); an op it cannot interpret stops the rewrite.
The argument assumes finite scores and V (as torch's own CPU flash kernel does, which skips those blocks).
"""
from __future__ import annotations

import math

from torch_mlir import ir

from ..ir import defining_op as _owner, funcs, ops_named, run_passes

SEGMENTS = 8          # row segments of a causal chain (16 measured no faster, 4 slower: docs/benchmarks.md)
MIN_SEGMENTS = 4      # fewer (under 64 rows) save little against compiling the chain that many times
ROW_ALIGN = 16        # segment boundaries at multiples of this (a vector of f32 columns with C = 0)
NEG_INF = float("-inf")
_ROW_SAMPLES = (0.5, -1.5, 3.0, 1e-3, -7e4)           # finite non-zero values of what is not a masked column
# Accumulators: no -0.0, which x + 0 turns into +0.0; only a division by that sum (a softmax sum is >= 1)
# could tell them apart.
_ACC_SAMPLES = (NEG_INF, 0.0, 1.0, -2.5, 1e30)
_BOOL_SAMPLES = (True, False)


def run(module, cx) -> None:
    changed = False
    for f in funcs(module):
        seen = []                                        # masks looked at (a rewrite's clones included)
        while True:
            m = next((g for g in ops_named(f, "linalg.generic") if g not in seen and _mask(g)), None)
            if m is None:
                break
            seen.append(m)
            clones = _split(m)
            if clones:
                seen.extend(clones)
                changed = True
    if changed:
        from .fusion import _unshare_fills
        run_passes(module, "canonicalize", "causal-skip")
        _unshare_fills(module)                  # canonicalize may merge equal fills again (see fusion)


# --- recognizing the mask ------------------------------------------------------------------------------

def _const(v):
    """The Python value of an arith.constant result (float, int or bool), else None."""
    o = _owner(v)
    if o is None or o.name != "arith.constant":
        return None
    a = o.attributes["value"]
    if isinstance(a, ir.FloatAttr):
        return a.value
    if isinstance(a, ir.IntegerAttr):
        return bool(a.value) if ir.IntegerType(a.type).width == 1 else a.value
    return None


def _maps(g):
    return [ir.AffineMapAttr(a).value for a in g.attributes["indexing_maps"]]


def _iters(g):
    return ["reduction" if "reduction" in str(a) else "parallel" for a in g.attributes["iterator_types"]]


def _n_ins(g) -> int:
    return len(g.operands) - len(g.results)


def _body(g):
    return g.regions[0].blocks[0]


def _loop_index(v, g):
    """The loop of `g` whose index `v` is (index_cast of linalg.index d, or a block argument reading a 1-D
    index tensor `[0, 1, ...]` through (d)), else None."""
    o = _owner(v)
    if o is not None and o.name == "arith.index_cast":
        o = _owner(o.operands[0])
        if o is not None and o.name == "linalg.index":
            return ir.IntegerAttr(o.attributes["dim"]).value
        return None
    if isinstance(v, ir.BlockArgument) and v.arg_number < _n_ins(g):
        src = _owner(g.operands[v.arg_number])
        res = _maps(g)[v.arg_number].results
        if src is None or src.name != "linalg.generic" or len(res) != 1 or not isinstance(res[0], ir.AffineDimExpr):
            return None
        if _n_ins(src) or len(src.results) != 1 or _maps(src)[0] != ir.AffineMap.get_identity(1):
            return None
        y = _body(src).operations[len(_body(src).operations) - 1]
        c = _owner(y.operands[0])
        if c is not None and c.name == "arith.index_cast":
            i = _owner(c.operands[0])
            if i is not None and i.name == "linalg.index" and ir.IntegerAttr(i.attributes["dim"]).value == 0:
                return res[0].position
    return None


# arith.cmpi predicates on d = x - y: (keep when d <= C + delta, or with sign flipped: -d <= -C + delta)
_CMPI = {3: (1, 0), 2: (1, -1), 5: (-1, 0), 4: (-1, -1)}     # sle, slt, sge, sgt
_NOT_CMPI = {2: 5, 5: 2, 3: 4, 4: 3}                         # slt <-> sge, sle <-> sgt


def _is_ninf(v) -> bool:
    return _const(v) == NEG_INF


def _mask(g):
    """(row loop, column loop, C, bounded) when `g` yields, elementwise over parallel loops, x + (keep ? 0 : -inf)
    or (keep ? x : -inf) (either select order) with keep = `j - i <= C`, C >= 0; else None."""
    if g.name != "linalg.generic" or len(g.results) != 1 or "reduction" in _iters(g):
        return None
    t = g.results[0].type
    if not isinstance(t, ir.RankedTensorType) or not ir.ShapedType(t).has_static_shape:
        return None
    if not isinstance(ir.RankedTensorType(t).element_type, (ir.F32Type, ir.F16Type, ir.BF16Type, ir.F64Type)):
        return None
    y = list(_body(g).operations)[-1]
    out_map = _maps(g)[-1]
    if y.name != "linalg.yield" or out_map != ir.AffineMap.get_identity(out_map.n_dims):
        return None
    sel = _owner(y.operands[0])
    if sel is not None and sel.name == "arith.addf":
        # x + bias, the bias (0 / -inf) read from a tensor computed once for several layers
        for b in sel.operands:
            if isinstance(b, ir.BlockArgument) and b.owner == _body(g) and b.arg_number < _n_ins(g) \
                    and _owner(g.operands[b.arg_number]) is not None:
                found = _evaluated_mask(g, b, None)
                if found is not None:
                    return found
    if sel is not None and sel.name == "arith.addf":           # x + select(keep, 0, -inf)
        sel = next((s for s in map(_owner, sel.operands) if s is not None and s.name == "arith.select"
                    and {_const(s.operands[1]), _const(s.operands[2])} == {0.0, NEG_INF}), None)
    if sel is None or sel.name != "arith.select":
        return None
    if _is_ninf(sel.operands[2]):
        keep_when = True
    elif _is_ninf(sel.operands[1]):
        keep_when = False
    else:
        return None
    structural = _structural_keep(g, sel.operands[0], keep_when)
    return structural if structural is not None else _evaluated_mask(g, sel.operands[0], keep_when)


def _structural_keep(g, keep, keep_when):
    """(row loop, column loop, C) for keep = `cmpi(j - i, C)` on loop indices (torch's masks), else None."""
    c = _owner(keep)
    if c is None or c.name != "arith.cmpi":
        return None
    pred = ir.IntegerAttr(c.attributes["predicate"]).value
    if not keep_when:
        pred = _NOT_CMPI.get(pred)
    sub, k = _owner(c.operands[0]), _const(c.operands[1])
    if pred not in _CMPI or sub is None or sub.name != "arith.subi" or isinstance(k, bool) or not isinstance(k, int):
        return None
    st = sub.results[0].type
    if not isinstance(st, ir.IndexType) and not (isinstance(st, ir.IntegerType) and ir.IntegerType(st).width >= 32):
        return None                                        # a narrow j - i could wrap
    sign, delta = _CMPI[pred]
    x, yv = _loop_index(sub.operands[0], g), _loop_index(sub.operands[1], g)
    if x is None or yv is None or x == yv:
        return None
    col, row, bound = (x, yv, k + delta) if sign > 0 else (yv, x, -k + delta)
    if bound < 0:
        return None                                        # rows with every column masked: not handled
    return row, col, bound, False


# --- masks computed from index tensors (transformers' GPT-2 and LLaMA): evaluated exactly ---------------

_EVAL_MAX = 1 << 22          # elements of any array the evaluation makes (a 2048 x 2048 mask at most)


class _NotConst(Exception):
    """A value the evaluation cannot compute exactly from constants and loop indices."""


def _evaluated_mask(g, keep, keep_when):
    """(row loop, column loop, C) when `keep` (i1, in g's body), evaluated at every point of g's loops,
    equals `j - i <= C` (C >= 0) for two loops and is the same along all others; else None. With
    keep_when None, `keep` is a float bias instead, every value 0 (kept) or -inf.

    The evaluation is exact (NumPy, 64-bit integers wrapped to each op's width) and only succeeds when
    everything `keep` reads is a loop index, a constant, or a tensor the function computes from constants
    alone (_tensor_value: the position tensors, `arange`s and their prefix sums that transformers' mask
    code builds). The and-ed tests it contains (a batch index in range, the packed sequence ids equal) are
    thereby checked for every index, not assumed. A test and-ed with a value it cannot compute (a padding
    mask read from a kernel argument) leaves a bound (_AtMost): kept at most where the known tests keep;
    that bound is what is compared. The body's `cf.assert`s must evaluate true everywhere too (exactly):
    a split drops the masked columns' asserts."""
    import itertools
    import numpy as np
    loops = list(ir.RankedTensorType(g.results[0].type).shape)
    try:
        ev = _BodyEval(g, loops, {})
        k = ev.value(keep)
        for o in _body(g).operations:
            if o.name == "cf.assert":
                a = ev.value(o.operands[0])
                if not isinstance(a, np.ndarray) or not np.all(a):
                    return None
    except _NotConst:
        return None
    bounded = isinstance(k, _AtMost)
    if bounded:                          # an upper bound on what is kept: enough, unless the test is negated
        if keep_when is False or k.kind != ("bias" if keep_when is None else "i1"):
            return None
        k, keep_when = k.keep, True
    elif not isinstance(k, np.ndarray):
        return None
    if keep_when is None:
        if k.dtype != np.float64 or not np.all((k == 0.0) | (k == NEG_INF)):
            return None
        k = k == 0.0
    elif k.dtype != np.bool_:
        return None
    elif not keep_when:
        k = ~k
    n = len(loops)
    for r, c in itertools.permutations(range(n), 2):
        if loops[r] < 2 or loops[c] < 2:
            continue
        k2 = k
        for a in range(n):                              # the same along every other loop
            if a not in (r, c) and k2.shape[a] > 1:
                if not np.array_equal(k2, np.broadcast_to(k2.take([0], axis=a), k2.shape)):
                    break
                k2 = k2.take([0], axis=a)
        else:
            k2 = np.broadcast_to(k2, [loops[a] if a in (r, c) else 1 for a in range(n)]).reshape(
                (loops[min(r, c)], loops[max(r, c)]))
            if r > c:
                k2 = k2.T
            bound = int(k2[0].sum()) - 1
            i = np.arange(loops[r]).reshape(-1, 1)
            j = np.arange(loops[c]).reshape(1, -1)
            if bound >= 0 and np.array_equal(k2, j - i <= bound):
                return r, c, bound, bounded
    return None


def _int_width(t):
    """Bits of an integer or index type (index: 64 on every target this compiler builds for), else None."""
    if isinstance(t, ir.IndexType):
        return 64
    if isinstance(t, ir.IntegerType):
        return ir.IntegerType(t).width
    return None


def _wrap(x, w):
    import numpy as np
    if w == 1:
        return x.astype(bool) if x.dtype != np.bool_ else x
    x = x.astype(np.int64)
    if w == 64:
        return x
    if w > 64:
        raise _NotConst
    h = np.int64(1) << np.int64(w - 1)
    return ((x + h) & ((h << np.int64(1)) - np.int64(1))) - h


def _check_size(a):
    if a.size > _EVAL_MAX:
        raise _NotConst
    return a


def _scalar_const(o, t):
    """An arith.constant's scalar value as a 0-d array (integers, i1, floats as float64: exact)."""
    import numpy as np
    a = o.attributes["value"]
    if isinstance(a, ir.FloatAttr):
        return np.array(ir.FloatAttr(a).value, dtype=np.float64)
    w = _int_width(t)
    if w is None or not isinstance(a, ir.IntegerAttr):
        raise _NotConst
    return _wrap(np.array(ir.IntegerAttr(a).value, dtype=np.int64) if w > 1 else
                 np.array(bool(ir.IntegerAttr(a).value & 1)), w)


class _Unknown:
    """A value the evaluation cannot compute (it reads a kernel argument): what is computed from it is unknown
    too, except `and` with a computed i1, which gives a bound (_AtMost)."""


UNKNOWN = _Unknown()


class _AtMost:
    """A value known only by a bound: kind "i1": true at most where `keep` is; kind "bias": 0 or -inf, 0 at
    most where `keep` is. For a tensor, `keep` is its (values, written) pair."""

    def __init__(self, keep, kind):
        self.keep, self.kind = keep, kind


def _known_args(vals):
    """None when every value is computed; UNKNOWN when some is unknown (what they give is unknown too);
    raises _NotConst for a bound used by anything but `and` or select(bound, 0, -inf)."""
    if any(isinstance(v, _AtMost) for v in vals):
        raise _NotConst
    return UNKNOWN if any(isinstance(v, _Unknown) for v in vals) else None


def _and_bound(vals):
    """`and` of i1 values of which some are unknown or bounds: the bound the known ones give."""
    import numpy as np
    if any(isinstance(v, _AtMost) and v.kind != "i1" for v in vals):
        raise _NotConst
    known = [v.keep if isinstance(v, _AtMost) else v for v in vals if not isinstance(v, _Unknown)]
    if not known:
        return UNKNOWN
    b = known[0]
    for x in known[1:]:
        b = np.logical_and(b, x)
    return _AtMost(_check_size(np.asarray(b, dtype=bool)), "i1")


class _BodyEval:
    """Values of a generic's body over its whole iteration space: arrays of rank len(loops), broadcastable
    to the loop ranges (an axis a value does not depend on has extent 1)."""

    _CMP = {0: "eq", 1: "ne", 2: "lt", 3: "le", 4: "gt", 5: "ge", 6: "lt", 7: "le", 8: "gt", 9: "ge"}

    def __init__(self, g, loops, tmemo):
        self.g, self.loops, self.n, self.tmemo, self.memo = g, loops, len(loops), tmemo, {}

    def index(self, d):
        import numpy as np
        shape = [1] * self.n
        shape[d] = self.loops[d]
        return np.arange(self.loops[d], dtype=np.int64).reshape(shape)

    def full_rank(self, a):
        import numpy as np
        a = np.asarray(a)
        return a.reshape((1,) * self.n) if a.ndim == 0 else a

    def gather(self, tv, idx):
        """Elements of tensor value tv at the index arrays idx (all in range: checked)."""
        import numpy as np
        if any(isinstance(x, _AtMost) for x in idx):
            raise _NotConst
        if isinstance(tv, _Unknown) or any(isinstance(x, _Unknown) for x in idx):
            return UNKNOWN
        if isinstance(tv, _AtMost):
            return _AtMost(self.gather(tv.keep, idx), tv.kind)
        arr, ok = tv
        if len(idx) != arr.ndim:
            raise _NotConst
        for x, s in zip(idx, arr.shape):
            if np.any(x < 0) or np.any(x >= s):
                raise _NotConst                       # out of range: undefined (or an assert would fire)
        t = tuple(idx)
        if not np.all(ok[t]):
            raise _NotConst                           # reads an element nothing wrote (tensor.empty)
        return self.full_rank(_check_size(np.asarray(arr[t])))

    def value(self, v):
        if v in self.memo:
            return self.memo[v]
        r = self._value(v)
        self.memo[v] = r
        return r

    def _value(self, v):
        import numpy as np
        g = self.g
        if isinstance(v, ir.BlockArgument):
            if v.owner != _body(g) or v.arg_number >= _n_ins(g):
                raise _NotConst
            x = g.operands[v.arg_number]
            if not isinstance(x.type, ir.RankedTensorType):
                raise _NotConst
            idx = []
            for e in _maps(g)[v.arg_number].results:
                if isinstance(e, ir.AffineDimExpr):
                    idx.append(self.index(e.position))
                elif isinstance(e, ir.AffineConstantExpr):
                    idx.append(self.full_rank(np.int64(e.value)))
                else:
                    raise _NotConst
            return self.gather(_tensor_value(x, self.tmemo), idx)
        o = _owner(v)
        if o is None:
            raise _NotConst
        n = o.name
        w = _int_width(v.type)
        if n == "arith.constant":
            return self.full_rank(_scalar_const(o, v.type))
        if n == "linalg.index":
            return self.index(ir.IntegerAttr(o.attributes["dim"]).value)
        if n == "tensor.extract":
            return self.gather(_tensor_value(o.operands[0], self.tmemo), [self.value(x) for x in o.operands[1:]])
        if n == "arith.select":
            a = [self.value(x) for x in o.operands]
            if isinstance(a[0], _AtMost) and a[0].kind == "i1" and _const(o.operands[1]) == 0.0 \
                    and _is_ninf(o.operands[2]):
                return _AtMost(a[0].keep, "bias")           # select(keep, 0, -inf): -inf where keep is false
            return _known_args(a) or _check_size(np.where(*a))
        if w is None:
            raise _NotConst
        a = [self.value(x) for x in o.operands]
        if n == "arith.andi" and w == 1 and not all(isinstance(x, np.ndarray) for x in a):
            return _and_bound(a)
        if _known_args(a):
            return UNKNOWN
        if n in ("arith.index_cast", "arith.extsi", "arith.trunci"):
            return _wrap(a[0], w)
        if n in ("arith.extui", "arith.index_castui"):
            wi = _int_width(o.operands[0].type)
            if wi is None:
                raise _NotConst
            x = a[0].astype(np.int64)
            return _wrap(x if wi >= 64 else x & ((np.int64(1) << np.int64(wi)) - np.int64(1)), w)
        if n in ("arith.addi", "arith.subi", "arith.muli"):
            x, y = a[0].astype(np.int64), a[1].astype(np.int64)
            with np.errstate(over="ignore"):
                r = x + y if n == "arith.addi" else x - y if n == "arith.subi" else x * y
            return _check_size(_wrap(r, w))
        if n in ("arith.andi", "arith.ori", "arith.xori"):
            f = {"arith.andi": np.bitwise_and, "arith.ori": np.bitwise_or, "arith.xori": np.bitwise_xor}[n]
            return _check_size(f(a[0], a[1]))
        if n in ("arith.maxsi", "arith.minsi"):
            return _check_size((np.maximum if n == "arith.maxsi" else np.minimum)(a[0], a[1]))
        if n == "arith.cmpi":
            p = ir.IntegerAttr(o.attributes["predicate"]).value
            if p not in self._CMP:
                raise _NotConst
            x, y = a
            wi = _int_width(o.operands[0].type)
            if p >= 6:                                  # unsigned: compare the bit patterns
                if wi == 1:
                    x, y = x.astype(np.int64), y.astype(np.int64)
                elif wi < 64:
                    m = (np.int64(1) << np.int64(wi)) - np.int64(1)
                    x, y = x & m, y & m
                else:
                    x, y = x.astype(np.uint64), y.astype(np.uint64)
            r = getattr(np, {"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal",
                             "gt": "greater", "ge": "greater_equal"}[self._CMP[p]])(x, y)
            return _check_size(r)
        raise _NotConst


def _static(attr):
    import numpy as np
    vals = list(ir.DenseI64ArrayAttr(attr))
    if any(x == ir.ShapedType.get_dynamic_size() or x == np.iinfo(np.int64).min for x in vals):
        raise _NotConst
    return vals


def _tensor_value(v, memo):
    """(values, written) of an integer tensor the function computes from constants alone, as NumPy arrays;
    raises _NotConst otherwise (a function argument, a float, a reduction, an op it does not know)."""
    if v in memo:
        return memo[v]
    try:
        r = _tensor_value_of(v, memo)
    except _NotConst:
        r = UNKNOWN                      # (a use of it that needs its value fails then)
    memo[v] = r
    return r


def _known(tv):
    """tv, a tensor value computed exactly; raises _NotConst for an unknown or bounded one."""
    if not isinstance(tv, tuple):
        raise _NotConst
    return tv


def _tensor_value_of(v, memo):
    import numpy as np
    t = v.type
    if not isinstance(t, ir.RankedTensorType) or not ir.ShapedType(t).has_static_shape:
        raise _NotConst
    t = ir.RankedTensorType(t)
    shape, w = list(t.shape), _int_width(t.element_type)
    is_float = isinstance(t.element_type, (ir.F32Type, ir.F16Type, ir.BF16Type, ir.F64Type))
    if (w is None and not is_float) or int(np.prod(shape)) > _EVAL_MAX:
        raise _NotConst
    o = _owner(v)
    if o is None:
        raise _NotConst
    n = o.name
    if n == "tensor.empty":
        return np.zeros(shape, dtype=np.float64 if is_float else bool if w == 1 else np.int64), \
            np.zeros(shape, dtype=bool)
    if n == "arith.constant":
        a = o.attributes["value"]
        if is_float or not isinstance(a, ir.DenseIntElementsAttr):
            raise _NotConst
        a = ir.DenseIntElementsAttr(a)
        if a.is_splat:
            vals = np.full(shape, int(ir.IntegerAttr(a.get_splat_value()).value), dtype=np.int64)
        else:
            vals = np.array([a[i] for i in range(len(a))], dtype=np.int64).reshape(shape)
        return _wrap(vals, w), np.ones(shape, dtype=bool)
    if n in ("tensor.expand_shape", "tensor.collapse_shape"):
        src = _tensor_value(o.operands[0], memo)
        if isinstance(src, _AtMost):
            return _AtMost(tuple(x.reshape(shape) for x in src.keep), src.kind)
        arr, ok = _known(src)
        return arr.reshape(shape), ok.reshape(shape)
    if n == "tensor.extract_slice":
        if len(o.operands) != 1:
            raise _NotConst
        arr, ok = _known(_tensor_value(o.operands[0], memo))
        sl = tuple(slice(a, a + s * st, st) for a, s, st in zip(
            _static(o.attributes["static_offsets"]), _static(o.attributes["static_sizes"]),
            _static(o.attributes["static_strides"])))
        a2, ok2 = arr[sl], ok[sl]
        if a2.size != int(np.prod(shape)):
            raise _NotConst
        return a2.reshape(shape), ok2.reshape(shape)
    if n == "tensor.insert_slice":
        if len(o.operands) != 2:
            raise _NotConst
        src, sok = _known(_tensor_value(o.operands[0], memo))
        arr, ok = (x.copy() for x in _known(_tensor_value(o.operands[1], memo)))
        sizes = _static(o.attributes["static_sizes"])
        sl = tuple(slice(a, a + s * st, st) for a, s, st in zip(
            _static(o.attributes["static_offsets"]), sizes, _static(o.attributes["static_strides"])))
        if arr[sl].size != src.size:
            raise _NotConst
        arr[sl] = src.reshape(arr[sl].shape)
        ok[sl] = sok.reshape(ok[sl].shape)
        return arr, ok
    if n == "linalg.fill":
        if len(o.results) != 1 or len(o.operands) != 2 or _owner(o.operands[0]) is None \
                or _owner(o.operands[0]).name != "arith.constant":
            raise _NotConst
        x = _scalar_const(_owner(o.operands[0]), o.operands[0].type)
        return np.full(shape, x, dtype=x.dtype), np.ones(shape, dtype=bool)
    if n == "linalg.generic":
        if "reduction" in _iters(o):
            raise _NotConst
        k = list(o.results).index(v)
        perm = []
        for e in _maps(o)[_n_ins(o) + k].results:
            if not isinstance(e, ir.AffineDimExpr):
                raise _NotConst
            perm.append(e.position)
        if sorted(perm) != list(range(len(perm))) or len(perm) != len(_iters(o)):
            raise _NotConst
        loops = [0] * len(perm)
        for p, s in zip(perm, shape):
            loops[p] = s
        y = list(_body(o).operations)[-1]
        ev = _BodyEval(o, loops, memo)
        val = ev.value(y.operands[k])
        if isinstance(val, _Unknown):
            raise _NotConst
        bound = val if isinstance(val, _AtMost) else None
        arr = np.broadcast_to(bound.keep if bound else val, loops)
        arr = np.transpose(arr, perm) if perm else arr
        arr = np.array(arr)
        if bound:
            if (bound.kind == "bias") != is_float or (bound.kind == "i1") != (w == 1):
                raise _NotConst
            return _AtMost((arr, np.ones(shape, dtype=bool)), bound.kind)
        if arr.dtype != (np.float64 if is_float else bool if w == 1 else np.int64):
            raise _NotConst                             # a float where an integer belongs, or the reverse
        return arr, np.ones(shape, dtype=bool)
    raise _NotConst


# --- the chain and its check ---------------------------------------------------------------------------

def _dim_of(expr):
    return expr.position if isinstance(expr, ir.AffineDimExpr) else None


def _roles(g, r, c):
    """Roles ('r', 'c', None) of the result's tensor dims for loops r (rows) and c (columns)."""
    res = _maps(g)[-1].results
    return tuple("r" if _dim_of(e) == r else "c" if (c is not None and _dim_of(e) == c) else None for e in res)


def _loops_from(g, i, roles):
    """(row loop, column loop) of `g` that operand i's row/column tensor dims map to; False if not plain."""
    res = _maps(g)[i].results
    r = c = None
    for role, e in zip(roles, res):
        if role is None:
            continue
        d = _dim_of(e)
        if d is None:
            return False
        if role == "r":
            r = d
        else:
            c = d
    return r, c


def _chain(m, row, col):
    """The ops to split (block order), their (row loop, column loop), and the one value leaving them; None
    when the chain is not a closed row-wise computation this stage can prove unchanged."""
    info = {m: (row, col)}
    roles = {m.results[0]: _roles(m, row, col)}
    if "r" not in roles[m.results[0]] or "c" not in roles[m.results[0]]:
        return None
    changed = True
    while changed:
        changed = False
        for g in list(info):
            for res in g.results:
                for u in res.uses:
                    o = _op(u.owner)
                    if o in info or o.name != "linalg.generic" or o.parent != m.parent:
                        continue
                    lr = _consistent(o, roles)
                    if lr is None:
                        continue
                    r, c = lr
                    if c is None and not all(_users_in(x, info) for x in o.results):
                        continue                          # row-only: only when it feeds the chain
                    if not _row_wise(o, r, c):
                        return None
                    info[o] = (r, c)
                    for x in o.results:
                        roles[x] = _roles(o, r, c)
                    changed = True
    # Q K^T (what yields the scores, read whole) joins when only the mask reads it.
    rs = _roles(m, row, col)
    for i, v in enumerate(m.operands[:_n_ins(m)]):
        s = _owner(v)
        if s is None or s.name != "linalg.generic" or len(s.results) != 1 or s.parent != m.parent \
                or _maps(m)[i] != _maps(m)[-1] or not all(_op(u.owner) == m for u in v.uses):
            continue
        lr = _loops_from_result(s, rs)
        if lr and _row_wise(s, *lr):
            info[s] = lr
            roles[v] = rs
    exits = [x for g in info for x in g.results if not _users_in(x, info)]
    exits = [x for x in exits if list(x.uses)]
    joined = _row_only_join(exits, info, roles, m)
    if joined is not None:
        exits = [x for x in joined.results if list(x.uses)]
    if len(exits) != 1 or "c" in roles[exits[0]] or "r" not in roles[exits[0]]:
        return None
    for g in info:
        if not all(_dim_of(e) is not None for e in _maps(g)[-1].results):
            return None
    ops = [o.operation for o in m.block.operations if o.operation in info]
    return ops, info, roles, exits[0]


def _row_only_join(exits, info, roles, m):
    """The one generic that all of several exits feed and nothing else reads, row-wise without columns (the
    fusion stage's P V / rowsum: the softmax's division after the contraction, which reads P V's result and
    the row sums); it joins the chain (info, roles updated) and is returned. Else None."""
    if len(exits) < 2:
        return None
    users = {_op(u.owner) for x in exits for u in x.uses}
    if len(users) != 1:
        return None
    o = users.pop()
    if o.name != "linalg.generic" or o.parent != m.parent or any(r in roles for r in o.results):
        return None
    lr = _consistent(o, roles)
    if lr is None or lr[1] is not None or not _row_wise(o, *lr):
        return None
    info[o] = lr
    for x in o.results:
        roles[x] = _roles(o, *lr)
    return o


def _row_wise(g, r, c) -> bool:
    """Rows independent in g: the row loop parallel and in the result, the columns' loop (if any) not
    dropped from a result while parallel (each segment's result holds its own rows, all of them)."""
    it = _iters(g)
    roles = _roles(g, r, c)
    return it[r] == "parallel" and "r" in roles and (c is None or it[c] == "reduction" or "c" in roles)


def _loops_from_result(s, roles):
    """(row loop, column loop) of a producer whose result has the given tensor-dim roles."""
    r = c = None
    for role, e in zip(roles, _maps(s)[-1].results):
        d = _dim_of(e)
        if role is not None and d is None:
            return None
        if role == "r":
            r = d
        elif role == "c":
            c = d
    return (r, c) if r is not None and c is not None else None


def _op(o):
    return o.operation if hasattr(o, "operation") else o


def _users_in(v, info) -> bool:
    return all(_op(u.owner) in info for u in v.uses)


def _consistent(o, roles):
    """(row loop, column loop or None) agreed on by every chain operand of `o`, else None."""
    r = c = None
    for i, v in enumerate(o.operands):
        if v not in roles:
            continue
        lr = _loops_from(o, i, roles[v])
        if lr is False:
            return None
        vr, vc = lr
        if vr is None or (r is not None and vr != r) or (vc is not None and c is not None and vc != c):
            return None
        r = vr
        c = vc if vc is not None else c
    return (r, c) if r is not None else None


def _masked_values_check(ops, info, m):
    """True when the columns the mask removes change nothing downstream (module docstring). Each chain
    value with columns gets the set of values its masked columns can hold (0 and -0 both, where a sign
    depends on other operands)."""
    import itertools
    masked = {m.results[0]: (NEG_INF,)}
    for g in ops:
        if g == m or _owner_is_score_producer(g, m):
            continue
        c = info[g][1]
        if c is None:
            continue                                    # row-only op: sees no masked column
        n_in = _n_ins(g)
        col_ins = [i for i, v in enumerate(g.operands[:n_in]) if v in masked]
        if not col_ins or _uses_index(g):
            return False
        args = _body(g).arguments
        others = [i for i in range(len(g.operands)) if i not in col_ins]
        reduce = _iters(g)[c] == "reduction"
        if not reduce and len(g.results) != 1:
            return False
        seen = []
        for mv in itertools.product(*(masked[g.operands[i]] for i in col_ins)):
            for sample in _samples(g, others, acc=reduce):
                env = dict(zip((args[i] for i in col_ins), mv))
                env.update({args[i]: sample[k] for k, i in enumerate(others)})
                ys = _interpret(g, env)
                if ys is None:
                    return False
                if reduce:                              # the accumulators come back unchanged
                    accs = [env[args[i]] for i in range(n_in, len(g.operands))]
                    if len(ys) != len(accs) or not all(_same(y, acc) for y, acc in zip(ys, accs)):
                        return False
                elif not any(_same(ys[0], x) for x in seen):
                    seen.append(ys[0])
        if not reduce:
            if len(seen) > 2 or any(isinstance(x, bool) or math.isnan(x) for x in seen) or \
                    (len(seen) == 2 and not all(x == 0.0 for x in seen)):
                return False                            # depends on more than the mask
            masked[g.results[0]] = tuple(seen)
    return True


def _empty_row_check(ops, info, m):
    """True when a row whose every column the mask removes (padding can leave such rows) gives the same
    result from its computed columns as from all of them. Every column of that row carries the same value
    through each elementwise op (the mask's -inf, the same row values), so a reduction over the columns
    must come back unchanged from a second such column (max, and, a sum of NaN or 0). Row values are
    interpreted along (from the reductions' fill values); other operands are sample finite values."""
    col_val = {m.results[0]: NEG_INF}
    row_val = {}
    for g in ops:
        if g == m or _owner_is_score_producer(g, m):
            continue
        c = info[g][1]
        n_in = _n_ins(g)
        args = _body(g).arguments
        reduce = c is not None and _iters(g)[c] == "reduction"
        envs = []
        for sample in _samples(g, range(len(g.operands)), acc=False)[:4]:
            env = {}
            for i, v in enumerate(g.operands):
                if v in col_val:
                    env[args[i]] = col_val[v]
                elif v in row_val:
                    env[args[i]] = row_val[v]
                elif i >= n_in and "reduction" in _iters(g):
                    k = _fill_value(v)
                    if k is None:
                        return False
                    env[args[i]] = k
                else:
                    env[args[i]] = sample[i]
            envs.append(env)
        firsts = [_interpret(g, dict(e)) for e in envs]
        if any(y is None or len(y) != len(g.results) for y in firsts):
            return False
        if reduce:
            for e, y in zip(envs, firsts):            # a second masked column, other samples
                e2 = dict(envs[(envs.index(e) + 1) % len(envs)])
                e2.update({args[n_in + k]: y[k] for k in range(len(y))})
                y2 = _interpret(g, e2)
                if y2 is None or not all(_same_or_nan(a, b) for a, b in zip(y, y2)):
                    return False
        if not all(all(_same_or_nan(a, b) for a, b in zip(firsts[0], y)) for y in firsts):
            return False                                  # depends on the sampled operands
        for k, r in enumerate(g.results):
            (col_val if c is not None and not reduce else row_val)[r] = firsts[0][k]
    return True


def _same_or_nan(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return _same(a, b)


def _fill_value(v):
    """The constant a fill (linalg.fill, or a generic with no tensor inputs yielding a constant) writes."""
    o = _owner(v)
    if o is None:
        return None
    if o.name == "linalg.fill":
        return _const(o.operands[0])
    if o.name == "linalg.generic" and not any(isinstance(x.type, ir.ShapedType) for x in o.operands[:_n_ins(o)]):
        y = list(_body(o).operations)[-1]
        if len(y.operands) != 1:
            return None
        c = _owner(y.operands[0])
        if c is not None and c.name == "arith.constant" and isinstance(c.attributes["value"], ir.BoolAttr):
            return bool(ir.BoolAttr(c.attributes["value"]).value)
        return _const(y.operands[0])
    return None


def _owner_is_score_producer(g, m):
    return any(_owner(v) == g for v in m.operands[:_n_ins(m)])


def _uses_index(g) -> bool:
    return any(o.name == "linalg.index" for o in _body(g).operations)


def _samples(g, idx, acc):
    """Sample environments (one value per operand in idx): combinations kept few (first values rotate)."""
    pools = []
    n_in = _n_ins(g)
    for i in idx:
        et = ir.ShapedType(g.operands[i].type).element_type if isinstance(
            g.operands[i].type, (ir.RankedTensorType,)) else g.operands[i].type
        if isinstance(et, ir.IntegerType) and ir.IntegerType(et).width == 1:
            pools.append(_BOOL_SAMPLES)
        elif i >= n_in and acc:
            pools.append(_ACC_SAMPLES)
        else:
            pools.append(_ROW_SAMPLES)
    n = max([len(p) for p in pools] + [1])
    out = []
    for k in range(n):
        for shift in range(2):
            out.append([p[(k + shift * (j + 1)) % len(p)] for j, p in enumerate(pools)])
    return out


def _same(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if math.isnan(a) or math.isnan(b):
        return False
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


_CMPF = {1: lambda a, b: a == b, 2: lambda a, b: a > b, 3: lambda a, b: a >= b, 4: lambda a, b: a < b,
         5: lambda a, b: a <= b, 6: lambda a, b: a != b and not (math.isnan(a) or math.isnan(b)),
         13: lambda a, b: not (a == b)}


def _interpret(g, env):
    """The yielded values of g's body for block-argument values env (floats, bools), or None for an op
    outside the few it knows (IEEE semantics in double precision: the checked facts are exact there)."""
    def val(v):
        if v in env:
            return env[v]
        k = _const(v)
        if k is None:
            raise KeyError
        return k
    try:
        for o in _body(g).operations:
            n = o.name
            if n == "linalg.yield":
                return [val(v) for v in o.operands]
            a = [val(v) for v in o.operands]
            if n == "arith.constant":
                r = _const(o.results[0])
                if r is None:
                    return None
            elif n == "arith.addf":
                r = a[0] + a[1]
            elif n == "arith.subf":
                r = a[0] - a[1]
            elif n == "arith.mulf":
                r = a[0] * a[1]
            elif n == "arith.divf":
                r = a[0] / a[1] if a[1] != 0 else None
            elif n in ("arith.maximumf", "arith.minimumf"):
                big = n == "arith.maximumf"
                if math.isnan(a[0]) or math.isnan(a[1]):
                    r = float("nan")
                elif a[0] == a[1] == 0.0:                  # IEEE: max(+0, -0) = +0, min(+0, -0) = -0
                    r = math.copysign(0.0, 1.0 if big else -1.0) if math.copysign(1, a[0]) != math.copysign(
                        1, a[1]) else a[0]
                else:
                    r = max(a) if big else min(a)
            elif n == "math.exp":
                r = a[0] if math.isnan(a[0]) else 0.0 if a[0] == NEG_INF else math.exp(a[0]) if a[0] < 700 \
                    else float("inf")
            elif n in ("arith.extf", "arith.truncf"):
                r = a[0]
            elif n == "arith.cmpf":
                p = ir.IntegerAttr(o.attributes["predicate"]).value
                if p not in _CMPF:
                    return None
                r = _CMPF[p](a[0], a[1])
            elif n == "arith.select":
                r = a[1] if a[0] else a[2]
            elif n == "arith.andi" and all(isinstance(x, bool) for x in a):
                r = a[0] and a[1]
            elif n == "arith.ori" and all(isinstance(x, bool) for x in a):
                r = a[0] or a[1]
            else:
                return None
            if r is None:
                return None
            env[o.results[0]] = r
    except (KeyError, OverflowError, ValueError):
        return None
    return None


# --- the rewrite ---------------------------------------------------------------------------------------

def _segments(rows: int, cols: int, bound: int):
    """[(first row, end row, columns)] with trailing full-width segments merged."""
    k = min(SEGMENTS, rows // ROW_ALIGN)
    if k < MIN_SEGMENTS:
        return [(0, rows, cols)]
    ends = sorted({min(rows, round(rows * i / k / ROW_ALIGN) * ROW_ALIGN) for i in range(1, k)} | {rows})
    segs, a = [], 0
    for b in ends:
        if b <= a:
            continue
        n = min(cols, b + bound)
        if segs and segs[-1][2] == cols:
            segs[-1] = (segs[-1][0], b, cols)
        else:
            segs.append((a, b, n))
        a = b
    return segs


def _split(m) -> list:
    """Split m's chain into row segments (module docstring); the masks of the clones, or [] if unchanged."""
    row, col, bound, bounded = _mask(m)
    ch = _chain(m, row, col)
    if ch is None:
        return []
    ops, info, roles, exit_v = ch
    if not _masked_values_check(ops, info, m) or (bounded and not _empty_row_check(ops, info, m)):
        return []
    shape = ir.RankedTensorType(m.results[0].type).shape
    mr = _roles(m, row, col)
    rows, cols = shape[mr.index("r")], shape[mr.index("c")]
    segs = _segments(rows, cols, bound)
    if len(segs) < 2 or all(n == cols for _, _, n in segs):
        return []
    # No operand from outside the chain may depend on the chain (its clones would read the result they make).
    after, todo = set(), [x for g in ops for x in g.results]
    while todo:
        for u in list(todo.pop().uses):
            o = _op(u.owner)
            if o not in info and o not in after:
                after.add(o)
                todo.extend(o.results)
    if any(_owner(v) in after for g in ops for v in g.operands if v not in roles):
        return []
    # Every operand from outside the chain must be sliceable: plain dims where it meets rows or columns.
    for g in ops:
        r, c = info[g]
        for i, v in enumerate(g.operands):
            if v in roles:
                continue
            for e in _maps(g)[i].results:
                if _dim_of(e) is None and any(f"d{x}" in str(e) for x in (r, c) if x is not None):
                    return []
    # Inserted after the last op of the chain, before any user of the exit.
    last = ops[-1]
    pos = {o.operation: k for k, o in enumerate(last.block.operations)}
    if any(_op(u.owner) not in pos or pos[_op(u.owner)] < pos[last] for u in exit_v.uses):
        return []
    et = ir.RankedTensorType(exit_v.type)
    ex_row = roles[exit_v].index("r")
    from torch_mlir.dialects import tensor
    clones = []
    with ir.InsertionPoint.after(last), m.location:
        dest = tensor.empty(list(et.shape), et.element_type)
        for a, b, n in segs:
            mp = {}
            for g in ops:
                r, c = info[g]
                new_ops = []
                for i, v in enumerate(g.operands):
                    if v in mp:
                        new_ops.append(mp[v])
                        continue
                    new_ops.append(_slice_operand(g, i, v, r, c, a, b, n, is_out=i >= _n_ins(g)))
                clone = g.clone(ip=ir.InsertionPoint.current)
                for i, v in enumerate(new_ops):
                    clone.operands[i] = v
                for k, res in enumerate(clone.results):
                    res.set_type(new_ops[_n_ins(g) + k].type)
                if a:
                    _shift_index(clone, r, a)
                for old, new in zip(g.results, clone.results):
                    mp[old] = new
                if g == m:
                    clones.append(clone)
            seg = mp[exit_v]
            sizes = list(et.shape)
            sizes[ex_row] = b - a
            offs = [0] * et.rank
            offs[ex_row] = a
            dest = tensor.InsertSliceOp(seg, dest, [], [], [], ir.DenseI64ArrayAttr.get(offs),
                                        ir.DenseI64ArrayAttr.get(sizes),
                                        ir.DenseI64ArrayAttr.get([1] * et.rank)).result
    exit_v.replace_all_uses_with(dest)
    for g in reversed(ops):
        g.erase()
    return clones


def _slice_operand(g, i, v, r, c, a, b, n, is_out):
    """Operand i of g (not from the chain) cut to rows [a, b) and columns [0, n)."""
    from torch_mlir.dialects import tensor
    if not isinstance(v.type, ir.RankedTensorType):
        return v                                          # a scalar
    t = ir.RankedTensorType(v.type)
    offs, sizes = [0] * t.rank, list(t.shape)
    for k, e in enumerate(_maps(g)[i].results):
        d = _dim_of(e)
        if d is not None and d == r:
            offs[k], sizes[k] = a, b - a
        elif d is not None and d == c:
            sizes[k] = n
    if sizes == list(t.shape):
        return v
    o = _owner(v)
    if is_out and o is not None and o.name == "tensor.empty":
        return tensor.empty(sizes, t.element_type)
    if is_out and o is not None and o.name == "linalg.generic" and len(o.results) == 1 and not _uses_index(o) \
            and not any(isinstance(x.type, ir.ShapedType) for x in o.operands[:_n_ins(o)]) \
            and _maps(o)[-1] == ir.AffineMap.get_identity(t.rank):      # a fill: cloned at the slice's shape
        empty = tensor.empty(sizes, t.element_type)
        fill = o.clone(ip=ir.InsertionPoint.current)
        fill.operands[_n_ins(o)] = empty
        fill.results[0].set_type(ir.RankedTensorType.get(sizes, t.element_type))
        return fill.results[0]
    rt = ir.RankedTensorType.get(sizes, t.element_type)
    return tensor.ExtractSliceOp(rt, v, [], [], [], ir.DenseI64ArrayAttr.get(offs), ir.DenseI64ArrayAttr.get(sizes),
                                 ir.DenseI64ArrayAttr.get([1] * t.rank)).result


def _shift_index(g, r, a) -> None:
    """linalg.index r in g's body -> linalg.index r + a (the segment's rows start at a)."""
    from torch_mlir.dialects import arith
    for o in list(_body(g).operations):
        if o.name == "linalg.index" and ir.IntegerAttr(o.attributes["dim"]).value == r:
            with ir.InsertionPoint.after(o):
                off = arith.constant(ir.IndexType.get(), a)
                s = arith.AddIOp(o.results[0], off).result
            o.results[0].replace_all_uses_except(s, _owner(s))
