"""Random Linalg-on-tensors programs with a numpy evaluation of the same program.

A module is a batch of independent *programs* (one func.func, each program its own arguments and results),
so one compile checks several. Each program is built and evaluated at the same time: every emitted op
appends MLIR text and computes its value with numpy on the concrete inputs, plus an absolute error bound
(rounding of each op, fast-math polynomial error, summation order) that the comparison uses as tolerance.

Float ops are evaluated in float64 and rounded to the op's dtype after every op (what a frontend graph
means); integer ops wrap like the hardware; i1 is numpy bool. Comparisons only ever look at inputs, never
at rounded intermediates, so a bool result is exact and can be checked exactly.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

NP = {"f32": np.float32, "f16": np.float16, "i8": np.int8, "i32": np.int32, "i1": np.bool_}
FLOATS = ("f32", "f16")
INTS = ("i8", "i32")
# unit roundoff per float type; fast-math functions are within a few ulp (docs/fast_math.md)
EPS = {"f32": 2.0 ** -24, "f16": 2.0 ** -11, "f64": 2.0 ** -53}
SHAPES = [(1,), (7,), (33,), (1000,), (33, 17), (3, 5, 31), (17, 33), (1, 1000), (2, 3, 1), (5, 257)]


def _tt(shape, elt):
    return "tensor<" + "".join(f"{d}x" for d in shape) + elt + ">"


def _flit(v: float) -> str:
    t = repr(float(v))
    return t if ("." in t or "e" in t or "inf" in t or "nan" in t) else t + ".0"


def _const(elt: str, v) -> str:
    if elt == "i1":
        return "true" if v else "false"
    if elt in FLOATS:
        return f"{_flit(v)} : {elt}"
    return f"{int(v)} : {elt}"


def _map(rank: int, dims) -> str:
    ds = ", ".join(f"d{i}" for i in range(rank))
    return f"affine_map<({ds}) -> ({', '.join(dims)})>"


@dataclass
class V:
    """A tensor value: SSA name, shape, element type, numpy value (in its dtype) and error bound."""
    ssa: str
    shape: tuple
    elt: str
    val: np.ndarray
    err: np.ndarray          # absolute error bound of val w.r.t. the exact result (float64), 0 for ints

    @property
    def ty(self):
        return _tt(self.shape, self.elt)


@dataclass
class Program:
    """One program of a module: its arguments (ssa, type, array), body lines and results."""
    index: int
    kind: str
    args: list = field(default_factory=list)
    lines: list = field(default_factory=list)
    results: list = field(default_factory=list)   # (V, tolerance array)
    features: set = field(default_factory=set)

    def text(self) -> str:
        sig = ", ".join(f"{a}: {t}" for a, t, _ in self.args)
        rets = ", ".join(f"{v.ssa} : {v.ty}" for v, _ in self.results)
        return f"// program {self.index} ({self.kind}) args ({sig}) -> ({rets})\n" + "\n".join(self.lines)


class _Emitter:
    """Emits ops of one program into `prog`, evaluating each with numpy as it goes."""

    def __init__(self, prog: Program, rng: np.random.Generator, irng: np.random.Generator,
                 fast_math: bool):
        self.p = prog
        self.rng = rng        # structure
        self.irng = irng      # input values
        self.n = 0
        self.fm_ulps = 8.0 if fast_math else 2.0
        self.i1_uses: dict = {}
        self.cmps: dict = {}      # i1 ssa -> (predicate, lhs ssa, rhs ssa)

    def fresh(self, hint="v"):
        self.n += 1
        return f"%p{self.p.index}_{hint}{self.n}"

    def emit(self, text):
        self.p.lines.extend("    " + ln for ln in text.strip("\n").splitlines())

    # -- leaves ------------------------------------------------------------------------------------
    def arg(self, shape, elt, lo=-2.0, hi=2.0) -> V:
        name = self.fresh("arg")
        if elt == "i1":
            a = self.irng.integers(0, 2, size=shape).astype(np.bool_)
        elif elt in INTS:
            lo_, hi_ = (-128, 127) if elt == "i8" else (int(lo), int(hi))
            a = self.irng.integers(lo_, hi_, size=shape, endpoint=True).astype(NP[elt])
        else:
            a = self.irng.uniform(lo, hi, size=shape).astype(NP[elt])
        self.p.args.append((name, _tt(shape, elt), a))
        return V(name, tuple(shape), elt, a, np.zeros(shape))

    def int_arg(self, shape, elt):
        return self.arg(shape, elt, -1000, 1000) if elt == "i32" else self.arg(shape, elt)

    # -- generic op --------------------------------------------------------------------------------
    def generic(self, ins: list[tuple[V, list[str]]], out_shape, out_elt, body: list[str], res: str,
                iters=None, init: str | None = None) -> str:
        """linalg.generic over out_shape; ins are (value, index expressions); body uses %i0.. and %acc."""
        rank = len(out_shape) if iters is None else len(iters)
        iters = iters or ["parallel"] * rank
        out_dims = [f"d{i}" for i, it in enumerate(iters) if it == "parallel"]
        oty = _tt(out_shape, out_elt)
        if init is None:
            init = self.fresh("e")
            self.emit(f"{init} = tensor.empty() : {oty}")
        maps = [_map(rank, dims) for _, dims in ins] + [_map(rank, out_dims)]
        for v, _ in ins:
            if v.elt == "i1":
                self.i1_uses[v.ssa] = self.i1_uses.get(v.ssa, 0) + 1
        r = self.fresh("g")
        bargs = [f"%{r[1:]}_i{k}: {v.elt}" for k, (v, _) in enumerate(ins)] + [f"%{r[1:]}_acc: {out_elt}"]
        ren = {f"%i{k}": f"%{r[1:]}_i{k}" for k in range(len(ins))}
        ren["%acc"] = f"%{r[1:]}_acc"
        local = {}

        def sub(line):
            def rep(m):
                t = m.group(0)
                if t in ren:
                    return ren[t]
                if t not in local:
                    local[t] = f"%{r[1:]}_{t[1:]}"
                return local[t]
            return re.sub(r"%[A-Za-z_][A-Za-z0-9_]*", lambda m: rep(m) if not m.group(0).startswith("%p") else m.group(0), line)

        body_txt = "\n".join("  " + sub(b) for b in body)
        ins_txt = ", ".join(v.ssa for v, _ in ins)
        ins_ty = ", ".join(v.ty for v, _ in ins)
        its = ", ".join(f'"{i}"' for i in iters)
        ins_part = f" ins({ins_txt} : {ins_ty})" if ins else ""
        self.emit(f"{r} = linalg.generic {{indexing_maps = [{', '.join(maps)}], iterator_types = [{its}]}}"
                  f"{ins_part} outs({init} : {oty}) {{\n^bb0({', '.join(bargs)}):\n{body_txt}\n"
                  f"  linalg.yield {sub(res)} : {out_elt}\n}} -> {oty}")
        return r

    def ident(self, v: V):
        return (v, [f"d{i}" for i in range(len(v.shape))])

    def fill(self, shape, elt, value) -> str:
        c, e, f = self.fresh("c"), self.fresh("e"), self.fresh("f")
        ty = _tt(shape, elt)
        self.emit(f"{c} = arith.constant {_const(elt, value)}\n{e} = tensor.empty() : {ty}\n"
                  f"{f} = linalg.fill ins({c} : {elt}) outs({e} : {ty}) -> {ty}")
        return f

    # -- elementwise ops ---------------------------------------------------------------------------
    def _round(self, x64, elt):
        with np.errstate(all="ignore"):
            return np.asarray(x64).astype(NP[elt])

    def unary(self, v: V) -> V:
        elt = v.elt
        x = v.val.astype(np.float64) if elt in FLOATS else v.val
        if elt in FLOATS:
            op = self.rng.choice(["neg", "abs", "exp", "tanh", "erf", "sqrt", "rsqrt", "log", "relu",
                                  "sigmoid", "square"])
            e, u, fm = v.err, EPS[elt], self.fm_ulps * EPS[elt]
            with np.errstate(all="ignore"):
                if op == "neg":
                    body, r, y, err = ["%r = arith.negf %i0 : T"], "%r", -x, e
                elif op == "abs":
                    body, r, y, err = ["%r = math.absf %i0 : T"], "%r", np.abs(x), e
                elif op == "exp":
                    body = ["%c = arith.constant 4.0 : T", "%m = arith.minimumf %i0, %c : T", "%r = math.exp %m : T"]
                    r, y = "%r", np.exp(np.minimum(x, 4.0))
                    err = y * e * 1.01 + fm * y
                elif op == "tanh":
                    body, r, y = ["%r = math.tanh %i0 : T"], "%r", np.tanh(x)
                    err = e + fm
                elif op == "erf":
                    body, r = ["%r = math.erf %i0 : T"], "%r"
                    y = np.vectorize(math.erf, otypes=[np.float64])(x) if x.size else x.copy()
                    err = 1.13 * e + fm
                elif op == "sqrt":
                    body, r = ["%a = math.absf %i0 : T", "%r = math.sqrt %a : T"], "%r"
                    y = np.sqrt(np.abs(x))
                    err = np.minimum(e / np.maximum(2 * y, 1e-300), np.sqrt(e)) + 2 * u * y
                elif op == "rsqrt":
                    body = ["%a = math.absf %i0 : T", "%c = arith.constant 1.0 : T", "%b = arith.addf %a, %c : T",
                            "%r = math.rsqrt %b : T"]
                    r, y = "%r", 1.0 / np.sqrt(np.abs(x) + 1.0)
                    err = 0.5 * e + 4 * u * y + 2 * u
                elif op == "log":
                    body = ["%a = math.absf %i0 : T", "%c = arith.constant 1.0 : T", "%b = arith.addf %a, %c : T",
                            "%r = math.log %b : T"]
                    r, y = "%r", np.log(np.abs(x) + 1.0)
                    err = e / (1 + np.abs(x)) + fm * (y + 1)
                elif op == "relu":
                    body = ["%c = arith.constant 0.0 : T", "%r = arith.maximumf %i0, %c : T"]
                    r, y, err = "%r", np.maximum(x, 0.0), e
                elif op == "sigmoid":
                    body = ["%c = arith.constant 1.0 : T", "%k = arith.constant 8.0 : T", "%n = arith.negf %i0 : T",
                            "%m = arith.minimumf %n, %k : T", "%x = math.exp %m : T", "%d = arith.addf %x, %c : T",
                            "%r = arith.divf %c, %d : T"]
                    r, y = "%r", 1.0 / (1.0 + np.exp(np.minimum(-x, 8.0)))
                    err = 0.25 * e + 4 * fm
                else:  # square
                    body, r, y = ["%r = arith.mulf %i0, %i0 : T"], "%r", x * x
                    err = 2 * np.abs(x) * e + e * e
            body = [b.replace(": T", f": {elt}") for b in body]
            out = self._round(y, elt)
            err = err + u * np.abs(out.astype(np.float64))
        elif elt in INTS:
            op = self.rng.choice(["neg", "abs", "square", "not"])
            bits = 8 if elt == "i8" else 32
            if op == "neg":
                body, out = ["%z = arith.constant 0 : T", "%r = arith.subi %z, %i0 : T"], (-x.astype(np.int64))
            elif op == "abs":
                body, out = ["%r = math.absi %i0 : T"], np.abs(x.astype(np.int64))
            elif op == "square":
                body, out = ["%r = arith.muli %i0, %i0 : T"], x.astype(np.int64) * x.astype(np.int64)
            else:
                body, out = ["%m = arith.constant -1 : T", "%r = arith.xori %i0, %m : T"], ~x.astype(np.int64)
            out = _wrap(out, bits).astype(NP[elt])
            body, r, err = [b.replace(": T", f": {elt}") for b in body], "%r", np.zeros(v.shape)
        else:  # i1
            body, r = ["%t = arith.constant true", "%r = arith.xori %i0, %t : i1"], "%r"
            out, err = ~v.val, np.zeros(v.shape)
        ssa = self.generic([self.ident(v)], v.shape, elt, body, r)
        return V(ssa, v.shape, elt, out, err)

    def binary(self, v: V, w: V, named_ok=True) -> V:
        """v op w, same shape and type; named linalg ops for some of them."""
        elt = v.elt
        if elt in FLOATS:
            ops = ["add", "sub", "mul", "div", "max", "min"]
        elif elt in INTS:
            ops = ["add", "sub", "mul", "max", "min", "and", "or", "xor", "shl", "shr", "div", "rem"]
        else:
            ops = ["and", "or", "xor"]
        op = str(self.rng.choice(ops))
        named = {"add": "add", "sub": "sub", "mul": "mul", "max": "max", "min": "min"}
        use_named = named_ok and op in named and elt != "i1" and self.rng.random() < 0.4
        zero = np.zeros(v.shape)
        if v.ssa == w.ssa and op in ("max", "min", "and", "or"):
            self.p.features.add("self_op")    # folds to v: the program may return an input unchanged
        if elt in FLOATS:
            a, b = v.val.astype(np.float64), w.val.astype(np.float64)
            ea, eb, u = v.err, w.err, EPS[elt]
            with np.errstate(all="ignore"):
                if op == "add":
                    y, err, body = a + b, ea + eb, ["%r = arith.addf %i0, %i1 : T"]
                elif op == "sub":
                    y, err, body = a - b, ea + eb, ["%r = arith.subf %i0, %i1 : T"]
                elif op == "mul":
                    y, err, body = a * b, np.abs(b) * ea + np.abs(a) * eb + ea * eb, ["%r = arith.mulf %i0, %i1 : T"]
                elif op == "div":   # a / (|b| + 1): never a division by ~0
                    d = np.abs(b) + 1.0
                    y = a / d
                    err = ea / d + np.abs(a) * eb / (d * d) + 4 * u * np.abs(y)
                    body = ["%a = math.absf %i1 : T", "%c = arith.constant 1.0 : T", "%d = arith.addf %a, %c : T",
                            "%r = arith.divf %i0, %d : T"]
                    use_named = False
                elif op == "max":
                    y, err, body = np.maximum(a, b), np.maximum(ea, eb), ["%r = arith.maximumf %i0, %i1 : T"]
                else:
                    y, err, body = np.minimum(a, b), np.maximum(ea, eb), ["%r = arith.minimumf %i0, %i1 : T"]
            out = self._round(y, elt)
            err = err + u * np.abs(out.astype(np.float64))
        else:
            bits = {"i8": 8, "i32": 32, "i1": 1}[elt]
            a, b = v.val.astype(np.int64), w.val.astype(np.int64)
            k = int(self.rng.integers(0, bits)) if bits > 1 else 0
            if op == "add":
                y, body = a + b, ["%r = arith.addi %i0, %i1 : T"]
            elif op == "sub":
                y, body = a - b, ["%r = arith.subi %i0, %i1 : T"]
            elif op == "mul":
                y, body = a * b, ["%r = arith.muli %i0, %i1 : T"]
            elif op == "max":
                y, body = np.maximum(a, b), ["%r = arith.maxsi %i0, %i1 : T"]
            elif op == "min":
                y, body = np.minimum(a, b), ["%r = arith.minsi %i0, %i1 : T"]
            elif op == "and":
                y, body = a & b, ["%r = arith.andi %i0, %i1 : T"]
            elif op == "or":
                y, body = a | b, ["%r = arith.ori %i0, %i1 : T"]
            elif op == "xor":
                y, body = a ^ b, ["%r = arith.xori %i0, %i1 : T"]
            elif op == "shl":
                y, body = a << k, [f"%k = arith.constant {k} : T", "%r = arith.shli %i0, %k : T"]
            elif op == "shr":
                y, body = a >> k, [f"%k = arith.constant {k} : T", "%r = arith.shrsi %i0, %k : T"]
            else:   # divsi / remsi by (|b| | 1): no division by zero, no INT_MIN / -1
                d = _wrap(np.abs(b), bits) | 1
                q = np.sign(a) * np.sign(d) * (np.abs(a) // np.abs(d))
                y = q if op == "div" else a - q * d
                body = ["%a = math.absi %i1 : T", "%o = arith.constant 1 : T", "%d = arith.ori %a, %o : T",
                        f"%r = arith.{'divsi' if op == 'div' else 'remsi'} %i0, %d : T"]
            out = (y & 1).astype(np.bool_) if elt == "i1" else _wrap(y, bits).astype(NP[elt])
            err = zero
        body = [bb.replace(": T", f": {elt}") for bb in body]
        if use_named:
            e, r = self.fresh("e"), self.fresh("n")
            self.emit(f"{e} = tensor.empty() : {v.ty}\n"
                      f"{r} = linalg.{named[op]} ins({v.ssa}, {w.ssa} : {v.ty}, {v.ty}) outs({e} : {v.ty}) -> {v.ty}")
        else:
            r = self.generic([self.ident(v), self.ident(w)], v.shape, elt, body, "%r")
        return V(r, v.shape, elt, out, err)

    def compare(self, x: V, y: V) -> V:
        """i1 = cmp(x, y) on exact values (inputs)."""
        if x.elt in FLOATS:
            pred = str(self.rng.choice(["olt", "ogt", "ole", "oge", "une"]))
            body = [f"%r = arith.cmpf {pred}, %i0, %i1 : {x.elt}"]
        else:
            pred = str(self.rng.choice(["slt", "sgt", "sle", "sge", "eq", "ne"]))
            body = [f"%r = arith.cmpi {pred}, %i0, %i1 : {x.elt}"]
        a, b = x.val, y.val
        out = {"olt": a < b, "ogt": a > b, "ole": a <= b, "oge": a >= b, "une": a != b, "slt": a < b,
               "sgt": a > b, "sle": a <= b, "sge": a >= b, "eq": a == b, "ne": a != b}[pred]
        r = self.generic([self.ident(x), self.ident(y)], x.shape, "i1", body, "%r")
        self.p.features.add("i1")
        self.cmps[r] = (pred, x.ssa, y.ssa)
        if x.ssa == y.ssa:    # folds to a constant: the program may return one of its inputs unchanged
            self.p.features.add("self_op")
        return V(r, x.shape, "i1", out, np.zeros(x.shape))

    def select(self, c: V, a: V, b: V) -> V:
        pred, x, y = self.cmps.get(c.ssa, ("", "", ""))
        if pred in ("eq", "ne", "oeq", "une") and {a.ssa, b.ssa} == {x, y}:
            self.p.features.add("self_op")    # select(a == b, a, b) folds to b: may return an input
        body = [f"%r = arith.select %i0, %i1, %i2 : {a.elt}"]
        r = self.generic([self.ident(c), self.ident(a), self.ident(b)], a.shape, a.elt, body, "%r")
        return V(r, a.shape, a.elt, np.where(c.val, a.val, b.val), np.where(c.val, a.err, b.err))

    def cast(self, v: V, to: str) -> V:
        fr = v.elt
        if fr == to:
            return v
        if fr in FLOATS and to in FLOATS:
            op = "arith.extf" if to == "f32" else "arith.truncf"
        elif fr == "i1":
            op = "arith.uitofp" if to in FLOATS else "arith.extui"
        elif fr in INTS and to in FLOATS:
            op = "arith.sitofp"
        elif fr in INTS and to in INTS:
            op = "arith.extsi" if to == "i32" else "arith.trunci"
        else:
            raise ValueError((fr, to))
        body = [f"%r = {op} %i0 : {fr} to {to}"]
        with np.errstate(all="ignore"):
            if fr in INTS and to in INTS:
                out = _wrap(v.val.astype(np.int64), 8 if to == "i8" else 32).astype(NP[to])
            else:
                out = v.val.astype(np.float64 if to in FLOATS else np.int64).astype(NP[to])
        err = v.err + (EPS[to] * np.abs(out.astype(np.float64)) if to in FLOATS else 0)
        r = self.generic([self.ident(v)], v.shape, to, body, "%r")
        return V(r, v.shape, to, out, err)

    # -- structural ops ----------------------------------------------------------------------------
    def reduce(self, v: V, axis: int, kind: str) -> V:
        """sum/max/min (i1: any/all) along axis; f16 sums and i8 sums accumulate wider."""
        elt = v.elt
        acc = {"f16": "f32", "i8": "i32"}.get(elt, elt) if kind == "sum" else elt
        rank = len(v.shape)
        out_shape = tuple(d for i, d in enumerate(v.shape) if i != axis)
        if v.shape[axis] == 1:
            self.p.features.add("unit_reduce")   # folds to a reshape: the result may be a view of another
        if elt == "i1":
            kind = "any" if kind in ("sum", "max") else "all"
        if kind in ("sum", "any", "all"):
            init_v = {"sum": 0, "any": False, "all": True}[kind]
        elif elt in FLOATS:
            init_v = -math.inf if kind == "max" else math.inf
        else:
            init_v = np.iinfo(NP[elt]).min if kind == "max" else np.iinfo(NP[elt]).max
        init = self.fill(out_shape, acc, init_v) if not (elt in FLOATS and math.isinf(init_v)) else None
        if init is None:   # +-inf literal as a hex float
            bits = {("f32", False): "0xFF800000", ("f32", True): "0x7F800000", ("f16", False): "0xFC00",
                    ("f16", True): "0x7C00"}[(elt, init_v > 0)]
            c, e, init = self.fresh("c"), self.fresh("e"), self.fresh("f")
            ty = _tt(out_shape, acc)
            self.emit(f"{c} = arith.constant {bits} : {acc}\n{e} = tensor.empty() : {ty}\n"
                      f"{init} = linalg.fill ins({c} : {acc}) outs({e} : {ty}) -> {ty}")
        x = "%i0"
        body = []
        if acc != elt:
            body.append(f"%x = arith.{'extf' if elt in FLOATS else 'extsi'} %i0 : {elt} to {acc}")
            x = "%x"
        comb = {("sum", True): "arith.addf", ("sum", False): "arith.addi", ("max", True): "arith.maximumf",
                ("max", False): "arith.maxsi", ("min", True): "arith.minimumf", ("min", False): "arith.minsi",
                ("any", False): "arith.ori", ("all", False): "arith.andi"}[(kind, elt in FLOATS)]
        body.append(f"%r = {comb} {x}, %acc : {acc}")
        iters = ["reduction" if i == axis else "parallel" for i in range(rank)]
        if self.rng.random() < 0.3 and elt != "i1" and kind != "sum":
            r = self.fresh("red")
            n = r[1:]
            self.emit(f"{r} = linalg.reduce ins({v.ssa} : {v.ty}) outs({init} : {_tt(out_shape, acc)}) "
                      f"dimensions = [{axis}]\n  (%{n}_in: {elt}, %{n}_acc: {acc}) {{\n"
                      f"    %{n}_r = {comb} %{n}_in, %{n}_acc : {acc}\n    linalg.yield %{n}_r : {acc}\n  }}")
        else:
            r = self.generic([self.ident(v)], out_shape, acc, body, "%r", iters=iters, init=init)
        with np.errstate(all="ignore"):
            if elt in FLOATS:
                x64 = v.val.astype(np.float64)
                if kind == "sum":
                    y = x64.sum(axis=axis)
                    n = v.shape[axis]
                    err = v.err.sum(axis=axis) + (n + 2) * EPS[acc] * np.abs(x64).sum(axis=axis)
                else:
                    y = x64.max(axis=axis) if kind == "max" else x64.min(axis=axis)
                    err = v.err.max(axis=axis)
                out = self._round(y, acc)
                err = err + EPS[acc] * np.abs(out.astype(np.float64))
            elif elt == "i1":
                out = v.val.any(axis=axis) if kind == "any" else v.val.all(axis=axis)
                err = np.zeros(out_shape)
            else:
                x64 = v.val.astype(np.int64)
                y = {"sum": x64.sum(axis=axis), "max": x64.max(axis=axis), "min": x64.min(axis=axis)}[kind]
                out = _wrap(y, 32 if acc == "i32" else 8).astype(NP[acc])
                err = np.zeros(out_shape)
        return V(r, out_shape, acc, np.asarray(out), np.asarray(err))

    def broadcast_combine(self, x: V, s: V, axis: int, named: bool) -> V:
        """x op broadcast(s) where s is x's shape without `axis`."""
        if named:
            e, b = self.fresh("e"), self.fresh("b")
            self.emit(f"{e} = tensor.empty() : {x.ty}\n{b} = linalg.broadcast ins({s.ssa} : {s.ty}) "
                      f"outs({e} : {x.ty}) dimensions = [{axis}]")
            sb = V(b, x.shape, s.elt, np.broadcast_to(np.expand_dims(s.val, axis), x.shape).copy(),
                   np.broadcast_to(np.expand_dims(s.err, axis), x.shape).copy())
            return self.binary(x, sb)
        dims = [f"d{i}" for i in range(len(x.shape)) if i != axis]
        se = V(s.ssa, s.shape, s.elt, np.expand_dims(s.val, axis), np.expand_dims(s.err, axis))
        # reuse binary's semantics by computing with a broadcast view, then emit the projected-map generic
        tmp = V("%tmp", x.shape, s.elt, np.broadcast_to(se.val, x.shape), np.broadcast_to(se.err, x.shape))
        save = self.p.lines
        self.p.lines = []
        res = self.binary(x, tmp, named_ok=False)
        text = "\n".join(self.p.lines)
        self.p.lines = save
        rank = len(x.shape)
        full = ", ".join(f"d{i}" for i in range(rank))
        text = text.replace(f"%tmp", s.ssa).replace(
            f"indexing_maps = [{_map(rank, full.split(', '))}, {_map(rank, full.split(', '))}",
            f"indexing_maps = [{_map(rank, full.split(', '))}, {_map(rank, dims)}", 1).replace(
            f"{x.ty}, {x.ty})", f"{x.ty}, {s.ty})", 1)
        self.p.lines.extend(text.splitlines())
        return res

    def gather(self, table: V, idx: V | None, out_shape, a: int, b: int) -> V:
        """out[i] = table[(idx[i] * a + b) mod M] (idx: an i32 input in [0, M), or the linear index of i
        when idx is None); a 2-D table gathers rows: out[i, j] = table[g(i), j]."""
        M = table.shape[0]
        rank = len(out_shape)
        ins = [] if idx is None else [(idx, [f"d{i}" for i in range(len(idx.shape))])]
        body = []
        if idx is None:
            # linear index over the leading (non-row) dims
            lead = rank - (len(table.shape) - 1)
            body += [f"%x{i} = linalg.index {i} : index" for i in range(lead)]
            lin = "%x0"
            for i in range(1, lead):
                body += [f"%s{i} = arith.constant {out_shape[i]} : index", f"%m{i} = arith.muli {lin}, %s{i} : index",
                         f"%l{i} = arith.addi %m{i}, %x{i} : index"]
                lin = f"%l{i}"
            body += [f"%lin = arith.index_cast {lin} : index to i32"]
            src = "%lin"
            idx_vals = np.arange(int(np.prod(out_shape[:lead]))).reshape(out_shape[:lead]).astype(np.int64)
        else:
            src = "%i0"
            idx_vals = idx.val.astype(np.int64)
        body += [f"%ca = arith.constant {a} : i32", f"%cb = arith.constant {b} : i32", f"%cm = arith.constant {M} : i32",
                 f"%t1 = arith.muli {src}, %ca : i32", f"%t2 = arith.addi %t1, %cb : i32",
                 "%t3 = arith.remsi %t2, %cm : i32", "%ix = arith.index_cast %t3 : i32 to index"]
        g = (idx_vals * a + b) % M
        if len(table.shape) == 1:
            body.append(f"%r = tensor.extract {table.ssa}[%ix] : {table.ty}")
            val, err = table.val[g], table.err[g]
        else:
            body += [f"%j = linalg.index {rank - 1} : index", f"%r = tensor.extract {table.ssa}[%ix, %j] : {table.ty}"]
            val, err = table.val[g], table.err[g]
        r = self.generic(ins, out_shape, table.elt, body, "%r")
        self.p.features.add("extract")   # not "gather": vectorize leaves these scalar (measured)
        return V(r, tuple(out_shape), table.elt, val, err)


def _wrap(x: np.ndarray, bits: int) -> np.ndarray:
    x = np.asarray(x, np.int64)
    m = 1 << bits
    return ((x + (m >> 1)) % m) - (m >> 1)


KINDS = ("ew", "bool", "reduce", "bcast", "gather", "norm")


def _chain(em: _Emitter, v: V, partners: list[V], depth: int) -> V:
    for _ in range(depth):
        if em.rng.random() < 0.4 or not partners:
            v = em.unary(v)
        else:
            v = em.binary(v, partners[int(em.rng.integers(len(partners)))])
    return v


def gen_program(index: int, rng: np.random.Generator, irng: np.random.Generator, fast_math: bool,
                kind: str | None = None) -> Program:
    kind = kind or str(rng.choice(KINDS))
    p = Program(index, kind)
    em = _Emitter(p, rng, irng, fast_math)
    elt = str(rng.choice(["f32", "f32", "f16", "i8", "i32"]))
    shape = SHAPES[int(rng.integers(len(SHAPES)))]
    outs = []
    if kind == "ew":
        leaves = [em.int_arg(shape, elt) if elt in INTS else em.arg(shape, elt) for _ in range(int(rng.integers(1, 4)))]
        v = leaves[0]
        if rng.random() < 0.3:   # start from another dtype and cast
            src = str(rng.choice(["f16", "i8", "i1"] if elt == "f32" else (["f32", "i1"] if elt == "f16" else ["i1", "i8" if elt == "i32" else "i32"])))
            v = em.cast(em.int_arg(shape, src) if src in INTS else em.arg(shape, src), elt)
        v = _chain(em, v, leaves, int(rng.integers(1, 7)))
        if rng.random() < 0.3:   # masked select on inputs
            c = em.compare(leaves[0], leaves[-1])
            v = em.select(c, v, leaves[-1])
        outs.append(v)
    elif kind == "bool":
        celt = str(rng.choice(["f32", "f16", "i32", "i8"]))
        mk = (lambda: em.int_arg(shape, celt)) if celt in INTS else (lambda: em.arg(shape, celt))
        x, y = mk(), mk()
        c = em.compare(x, y)
        if rng.random() < 0.6:            # bool inputs
            p.features.add("i1_io")
            for _ in range(int(rng.integers(1, 3))):
                c = em.binary(c, em.arg(shape, "i1")) if rng.random() < 0.8 else em.unary(c)
        if rng.random() < 0.7:
            outs.append(em.select(c, _chain(em, x, [y], int(rng.integers(0, 3))), y))
        if not outs or rng.random() < 0.5:
            p.features.add("i1_io")
            outs.append(c)
        if rng.random() < 0.3:
            outs.append(em.cast(c, str(rng.choice(["f32", "i32"]))))
    elif kind in ("reduce", "norm"):
        if kind == "norm":
            elt = str(rng.choice(["f32", "f16"]))
        elif rng.random() < 0.15:
            elt = "i1"
            p.features.add("i1_io")
        x = em.int_arg(shape, elt) if elt in INTS else em.arg(shape, elt)
        v = x if elt == "i1" else _chain(em, x, [x], int(rng.integers(0, 3)))
        axis = int(rng.integers(len(shape)))
        if len(shape) == 1 and kind == "norm":
            kind = "reduce"
        red = em.reduce(v, axis, str(rng.choice(["sum", "max", "min"] if kind == "reduce" else ["sum", "max"])))
        if kind == "norm":   # x - bcast(stat), softmax/layernorm-like
            if red.elt != v.elt:
                red = em.cast(red, v.elt)
            outs.append(em.broadcast_combine(v, red, axis, named=bool(rng.random() < 0.5)))
            if rng.random() < 0.5:
                outs.append(red)
        else:
            outs.append(red)
    elif kind == "bcast":
        shape = [s for s in SHAPES if len(s) >= 2][int(rng.integers(6)) % 5]
        x = em.int_arg(shape, elt) if elt in INTS else em.arg(shape, elt)
        axis = int(rng.integers(len(shape)))
        sshape = tuple(d for i, d in enumerate(shape) if i != axis)
        s = em.int_arg(sshape, elt) if elt in INTS else em.arg(sshape, elt)
        v = em.broadcast_combine(x, s, axis, named=bool(rng.random() < 0.5))
        outs.append(_chain(em, v, [x], int(rng.integers(0, 3))))
    elif kind == "gather":
        M = int(rng.choice([1, 7, 33, 1000]))
        rows = rng.random() < 0.4
        tshape = (M, int(rng.choice([1, 17, 33]))) if rows else (M,)
        table = em.int_arg(tshape, elt) if elt in INTS else em.arg(tshape, elt)
        table_v = _chain(em, table, [table], int(rng.integers(0, 2)))
        ishape = (int(rng.choice([1, 7, 33, 100])),) if rows else shape
        out_shape = ishape + tshape[1:]
        a, b = int(rng.integers(1, 5)), int(rng.integers(0, 7))
        if rng.random() < 0.6:
            idx = em.arg(ishape, "i32", 0, M - 1)
            v = em.gather(table_v, idx, out_shape, a, b)
        else:
            v = em.gather(table_v, None, out_shape, a, b)
        if rng.random() < 0.5:
            w = em.int_arg(out_shape, elt) if elt in INTS else em.arg(out_shape, elt)
            v = em.binary(v, w)
        outs.append(v)
    for v in outs:
        if v.elt == "i1":
            em.i1_uses[v.ssa] = em.i1_uses.get(v.ssa, 0) + 1
    if any(n > 1 for n in em.i1_uses.values()):
        p.features.add("i1_multi")      # an i1 tensor with two readers stays in memory even when fused
    if any(t.endswith("xi1>") for _, t, _ in p.args) or any(v.elt == "i1" for v in outs):
        p.features.add("i1_io")
    for v in outs:
        # + a few subnormal steps: results near zero (and f32 denormals flushed by fast code)
        tiny = {"f16": 2.0 ** -22, "f32": 2.0 ** -124}
        tol = (4 * v.err + 2 * EPS[v.elt] * np.abs(v.val.astype(np.float64)) + tiny[v.elt]) if v.elt in FLOATS else 0
        p.results.append((v, tol))
    return p


@dataclass
class Case:
    """A generated module: the kept programs, the dropped ones (with reasons) and the options."""
    seed: int
    options: dict
    programs: list
    dropped: list                 # (Program, reason)
    mlir: str

    def inputs(self):
        return [a for p in self.programs for _, _, a in p.args]

    def check(self, results) -> list:
        """Compare kernel results (in program order) with the numpy evaluation; returns mismatches."""
        from .common import compare
        results = list(results) if isinstance(results, (tuple, list)) else [results]
        bad, k = [], 0
        for p in self.programs:
            for j, (v, tol) in enumerate(p.results):
                m = compare(f"program {p.index} ({p.kind}) result {j} {v.ty}", results[k], v.val, tol)
                k += 1
                if m:
                    bad.append((p, m))
        return bad


def gen_case(seed: int, n_programs: int = 6, known_bug=None, options: dict | None = None,
             only=None) -> Case:
    """Module of `n_programs` programs plus sampled options, all from `seed`. `known_bug(features, options)`
    returns a reason to leave a program out (it is still generated, so the seed's other programs stay)."""
    from .common import sample_options
    rng = np.random.default_rng([seed, 1])
    opts = sample_options(rng) if options is None else dict(options)
    progs, dropped = [], []
    for i in range(n_programs):
        p = gen_program(i, np.random.default_rng([seed, 2, i]), np.random.default_rng([seed, 3, i]),
                        opts.get("fast_math", True))
        if only is not None and i not in only:
            continue
        reason = known_bug(p.features, opts) if known_bug else None
        (dropped.append((p, reason)) if reason else progs.append(p))
    return Case(seed, opts, progs, dropped, module_text(progs))


def module_text(progs: list[Program]) -> str:
    if not progs:
        return ""
    args = ", ".join(f"{a}: {t}" for p in progs for a, t, _ in p.args)
    res = [(v.ssa, v.ty) for p in progs for v, _ in p.results]
    rtys = ", ".join(t for _, t in res)
    body = "\n".join(ln for p in progs for ln in [f"    // program {p.index}: {p.kind}"] + p.lines)
    return (f"module {{\n  func.func @fuzz({args}) -> ({rtys}) {{\n{body}\n"
            f"    return {', '.join(s for s, _ in res)} : {rtys}\n  }}\n}}\n")
