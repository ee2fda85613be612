"""Random `@triton.jit` kernels; the reference is Triton's interpreter running the same source.

One kernel holds several independent programs (each its own pointer arguments) over a shared program id,
so one compile checks several. Two kernel shapes:

* ``ew``: 1-D blocks, ``offs = pid * BLOCK + arange``, loads masked by ``offs < n``: elementwise chains,
  ``tl.where``, casts, bool stores, stores masked by an element-wise condition, gathers through computed
  offsets (an index tensor or ``n - 1 - offs``);
* ``rows``: one program per row (or per ``BR`` rows, 2-D blocks), masked columns, ``tl.sum``/``tl.max``/
  ``tl.min`` along the row, an optional row-normalised store, and optionally a loop over column blocks
  carrying an accumulator (a loop-carried tensor).

Every kernel runs at several sizes (``n``/``ncols`` are runtime scalars), so one compile covers odd sizes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TL = {"f32": "tl.float32", "f16": "tl.float16", "i32": "tl.int32", "i8": "tl.int8"}
NP = {"f32": np.float32, "f16": np.float16, "i32": np.int32, "i8": np.int8, "i1": np.bool_}
SIZES = [1, 7, 33, 1000, 100, 257]


@dataclass
class TProgram:
    index: int
    kind: str
    params: list = field(default_factory=list)      # (name, role "in"/"out", dtype, length-fn key)
    lines: list = field(default_factory=list)
    features: set = field(default_factory=set)
    depth: int = 0
    ranges: dict = field(default_factory=dict)     # param -> (lo, hi) for inputs


class _Gen:
    def __init__(self, p: TProgram, rng):
        self.p, self.rng, self.n = p, rng, 0

    def var(self, hint="v"):
        self.n += 1
        return f"{hint}{self.p.index}_{self.n}"

    def line(self, text):
        self.p.lines.append(text)

    def unary(self, v, dt):
        r = self.var()
        if dt in ("f32", "f16"):
            op = str(self.rng.choice(["neg", "abs", "exp", "sigmoid", "sqrt", "log", "relu", "square", "scale"]))
            f = (lambda e: e) if dt == "f32" else (lambda e: f"({e}).to(tl.float16)")
            x32 = v if dt == "f32" else f"{v}.to(tl.float32)"
            expr = {"neg": f"-{v}", "abs": f"tl.abs({v})", "exp": f(f"tl.exp(tl.minimum({x32}, 4.0))"),
                    "sigmoid": f(f"tl.sigmoid({x32})"), "sqrt": f(f"tl.sqrt(tl.abs({x32}) + 1.0)"),
                    "log": f(f"tl.log(tl.abs({x32}) + 1.0)"), "relu": f"tl.maximum({v}, 0.0)",
                    "square": f"{v} * {v}", "scale": f"{v} * 0.75 + 0.5"}[op]
        else:
            op = str(self.rng.choice(["neg", "abs", "not", "shl", "shr"]))
            k = int(self.rng.integers(0, 7))
            expr = {"neg": f"-{v}", "abs": f"tl.abs({v})", "not": f"~{v}", "shl": f"{v} << {k}",
                    "shr": f"{v} >> {k}"}[op]
        self.line(f"{r} = {expr}")
        self.p.depth += 1
        return r

    def binary(self, v, w, dt):
        r = self.var()
        if dt in ("f32", "f16"):
            op = str(self.rng.choice(["+", "-", "*", "div", "max", "min"]))
        else:
            op = str(self.rng.choice(["+", "-", "*", "&", "|", "^", "max", "min"]))
        if op == "div":
            expr = f"{v} / (tl.abs({w}) + 1.0)"
        elif op in ("max", "min"):
            expr = f"tl.{'maximum' if op == 'max' else 'minimum'}({v}, {w})"
        else:
            expr = f"{v} {op} {w}"
        self.line(f"{r} = {expr}")
        self.p.depth += 1
        return r

    def chain(self, v, partners, dt, depth):
        for _ in range(depth):
            if self.rng.random() < 0.45:
                v = self.unary(v, dt)
            else:
                v = self.binary(v, partners[int(self.rng.integers(len(partners)))], dt)
        return v


def _ew_program(i, rng) -> TProgram:
    p = TProgram(i, str(rng.choice(["chain", "where", "bool_out", "mask_store", "gather", "reverse", "scatter",
                                         "cast"])))
    g = _Gen(p, rng)
    dt = str(rng.choice(["f32", "f32", "f16", "i32", "i8"]))
    nin = int(rng.integers(1, 4))
    ins = []
    for k in range(nin):
        name = f"x{i}_{k}"
        p.params.append((name, "in", dt, "n"))
        ins.append(f"a{i}_{k}")
        g.line(f"a{i}_{k} = tl.load({name} + offs, mask=m, other=0)")
    out = f"o{i}"
    if p.kind == "chain":
        v = g.chain(ins[0], ins, dt, int(rng.integers(1, 6)))
        p.params.append((out, "out", dt, "n"))
        g.line(f"tl.store({out} + offs, {v}, mask=m)")
    elif p.kind == "where":
        v = g.chain(ins[0], ins, dt, int(rng.integers(0, 4)))
        c = f"{ins[0]} {rng.choice(['<', '>', '<=', '>=', '!='])} {ins[-1] if nin > 1 else '0'}"
        p.params.append((out, "out", dt, "n"))
        g.line(f"tl.store({out} + offs, tl.where({c}, {v}, {ins[-1]}), mask=m)")
        p.features.add("i1")
    elif p.kind == "bool_out":
        c = f"({ins[0]} {rng.choice(['<', '>', '<=', '>='])} {ins[-1] if nin > 1 else '0'})"
        if rng.random() < 0.5:
            bname = f"b{i}"
            p.params.append((bname, "in", "i1", "n"))
            g.line(f"q{i} = tl.load({bname} + offs, mask=m, other=0) != 0")
            p.features.add("i1_ptr")
            c = f"({c} {rng.choice(['&', '|', '^'])} q{i})"
        p.params.append((out, "out", "i1", "n"))
        g.line(f"tl.store({out} + offs, {c}, mask=m)")
        p.features |= {"i1", "i1_io", "i1_ptr"}
    elif p.kind == "mask_store":
        v = g.chain(ins[0], ins, dt, int(rng.integers(0, 3)))
        p.params.append((out, "out", dt, "n"))
        g.line(f"tl.store({out} + offs, {v}, mask=m & ({ins[-1]} > 0))")
        p.features |= {"i1", "i1_mask"}
    elif p.kind in ("gather", "reverse"):
        if p.kind == "gather":
            M = int(rng.choice([1, 7, 33, 1000]))
            a, b = int(rng.integers(1, 5)), int(rng.integers(0, 7))
            p.params.append((f"t{i}", "in", dt, f"table{M}"))
            p.params.append((f"ix{i}", "in", "i32", f"idx{M}"))
            g.line(f"j{i} = tl.load(ix{i} + offs, mask=m, other=0)")
            g.line(f"gv{i} = tl.load(t{i} + (j{i} * {a} + {b}) % {M}, mask=m, other=0)")
        else:
            g.line(f"gv{i} = tl.load(x{i}_0 + (n - 1 - offs), mask=m, other=0)")
        v = g.chain(f"gv{i}", ins, dt, int(rng.integers(0, 3)))
        p.params.append((out, "out", dt, "n"))
        g.line(f"tl.store({out} + offs, {v}, mask=m)")
        p.features.add("gather")
    elif p.kind == "scatter":     # a permutation: every element written once
        v = g.chain(ins[0], ins, dt, int(rng.integers(0, 3)))
        p.params.append((out, "out", dt, "n"))
        g.line(f"tl.store({out} + (n - 1 - offs), {v}, mask=m)")
        p.features.add("scatter")
    else:  # cast
        to = str(rng.choice([d for d in ("f32", "f16", "i32") if d != dt]))
        if dt in ("f32", "f16") and to == "i32":
            to = "f32" if dt == "f16" else "f16"
        v = g.chain(ins[0], ins, dt, int(rng.integers(0, 3)))
        w = g.var()
        g.line(f"{w} = {v}.to({TL[to]})")
        p.params.append((out, "out", to, "n"))
        g.line(f"tl.store({out} + offs, {w}, mask=m)")
    return p


def _rows_program(i, rng, br: int, loop: bool) -> TProgram:
    """Rows of length ncols (row stride ncols); `br` rows per program (1: 1-D blocks)."""
    red = str(rng.choice(["sum", "max", "min"]))
    p = TProgram(i, f"rows_{red}{'_loop' if loop else ''}{'_2d' if br > 1 else ''}")
    g = _Gen(p, rng)
    dt = str(rng.choice(["f32", "f32", "f16", "i32"]))
    other = "0" if red == "sum" else ("float('-inf')" if red == "max" else "float('inf')")
    if dt == "i32" and red != "sum":
        other = "-2147483648" if red == "max" else "2147483647"
    p.params.append((f"x{i}", "in", dt, "rows"))
    p.params.append((f"o{i}", "out", "f32" if (dt == "f16" and red == "sum") else dt, "nrows"))
    norm = (not loop) and rng.random() < 0.5
    if norm:
        p.params.append((f"y{i}", "out", dt, "rows"))
    rows = "rows" if br > 1 else "pid"
    acc_dt = "tl.float32" if dt in ("f32", "f16") else "tl.int32"
    ax = 1 if br > 1 else 0
    fn = {"sum": "tl.sum", "max": "tl.max", "min": "tl.min"}[red]
    if loop:
        p.features.add("loop_carried")
        shape = "[BR, BC]" if br > 1 else "[BC]"
        init = {"sum": "0", "max": "float('-inf')", "min": "float('inf')"}[red]
        if dt == "i32":
            init = {"sum": "0", "max": "-2147483648", "min": "2147483647"}[red]
        g.line(f"acc{i} = tl.full({shape}, {init}, {acc_dt})")
        g.line("for c0 in range(0, ncols, BC):")
        cols, cm = "(c0 + cols)", "cmask0"
        ind = "    "
        g.line(f"{ind}cmask0 = (c0 + cols) < ncols" + (" " if br == 1 else ""))
        cm = "cmask0" + (" & rmask" if br > 1 else "")
    else:
        cols, cm, ind = "cols", ("cmask & rmask" if br > 1 else "cmask"), ""
    base = f"{rows} * ncols + {cols}"
    src = base
    if rng.random() < 0.35:    # embedding-style: the row to read comes from an index tensor
        p.params.append((f"ix{i}", "in", "i32", "rowidx"))
        r1 = f"tl.load(ix{i} + pid)" if br == 1 else f"tl.load(ix{i} + rows1, mask=rmask1, other=0)[:, None]"
        g.line(f"{ind}r{i} = {r1}")
        src = f"r{i} * ncols + {cols}"
        p.features.add("gather")
    g.line(f"{ind}a{i} = tl.load(x{i} + {src}, mask={cm}, other={other})")
    # chain ops that keep masked lanes neutral for the reduction: monotone for max/min, sign-safe for sum
    v = f"a{i}"
    if dt in ("f32", "f16") and rng.random() < 0.6:
        w = g.var()
        e = {"sum": f"{v} * 0.5", "max": f"{v} * 0.5 + 1.0", "min": f"{v} + 0.25"}[red]
        g.line(f"{ind}{w} = {e}")
        v = w
    if dt == "f16" and red == "sum":
        w = g.var()
        g.line(f"{ind}{w} = {v}.to(tl.float32)")
        v = w
    if loop:
        comb = {"sum": f"acc{i} + {v}", "max": f"tl.maximum(acc{i}, {v})", "min": f"tl.minimum(acc{i}, {v})"}[red]
        cast = f".to({acc_dt})"
        g.line(f"{ind}acc{i} = {comb}{cast}")
        v = f"acc{i}"
    s = g.var("s")
    g.line(f"{s} = {fn}({v}, axis={ax})")
    if br > 1:
        g.line(f"tl.store(o{i} + rows1, {s}, mask=rmask1)")
    else:
        g.line(f"tl.store(o{i} + pid, {s})")
    if norm:
        d = g.var()
        sb = f"{s}[:, None]" if br > 1 else s
        g.line(f"{d} = ({v} - {sb}).to({TL[dt]})")
        g.line(f"tl.store(y{i} + {base}, {d}, mask={cm})")
    return p


@dataclass
class TCase:
    seed: int
    kind: str                       # "ew" | "rows"
    options: dict
    programs: list
    dropped: list
    block: int
    br: int
    bc: int
    sizes: list                     # n (ew) or (nrows, ncols) (rows)

    @property
    def name(self):
        return f"fz{self.seed}"

    def params(self):
        return [q for p in self.programs for q in p.params]

    def source(self) -> str:
        sig = ", ".join([q[0] for q in self.params()])
        if self.kind == "ew":
            head = [f"def {self.name}({sig}, n, BLOCK: tl.constexpr):", "    pid = tl.program_id(0)",
                    "    offs = pid * BLOCK + tl.arange(0, BLOCK)", "    m = offs < n"]
        elif self.br == 1:
            head = [f"def {self.name}({sig}, nrows, ncols, BC: tl.constexpr):", "    pid = tl.program_id(0)",
                    "    cols = tl.arange(0, BC)", "    cmask = cols < ncols"]
        else:
            head = [f"def {self.name}({sig}, nrows, ncols, BR: tl.constexpr, BC: tl.constexpr):",
                    "    pid = tl.program_id(0)", "    rows1 = pid * BR + tl.arange(0, BR)", "    rmask1 = rows1 < nrows",
                    "    rows = rows1[:, None]", "    rmask = rmask1[:, None]", "    cols = tl.arange(0, BC)[None, :]",
                    "    cmask = cols < ncols"]
        body = []
        for p in self.programs:
            body.append(f"    # program {p.index} ({p.kind})")
            body += ["    " + ln for ln in p.lines]
        if not self.programs:
            body.append("    pass")
        return "@triton.jit\n" + "\n".join(head + body) + "\n"

    def runs(self, seed_inputs: int):
        """[(args, grid, constexprs, outputs index list)] for every size; fresh arrays from the seed."""
        rng = np.random.default_rng([self.seed, 9, seed_inputs])
        out = []
        for size in self.sizes:
            args, outs = [], []
            for name, role, dt, length in self.params():
                if self.kind == "ew":
                    n = size
                    L = {"n": n}.get(length)
                else:
                    nrows, ncols = size
                    L = {"rows": nrows * ncols, "nrows": nrows}.get(length)
                if length.startswith("table"):
                    L = int(length[5:])
                if length == "rowidx":       # a row of x for every row of the output
                    nrows = size[0]
                    args.append(rng.integers(0, nrows, size=nrows).astype(np.int32))
                    continue
                if length.startswith("idx"):
                    M = int(length[3:])
                    args.append(rng.integers(0, M, size=size).astype(np.int32))
                    continue
                if role == "out":
                    outs.append(len(args))
                    args.append(np.zeros(L, NP[dt]))
                elif dt == "i1":
                    args.append(rng.integers(0, 2, size=L).astype(np.bool_))
                elif dt in ("i32", "i8"):
                    lo, hi = (-1000, 1000) if dt == "i32" else (-128, 127)
                    args.append(rng.integers(lo, hi, size=L, endpoint=True).astype(NP[dt]))
                else:
                    args.append(rng.uniform(-2, 2, size=L).astype(NP[dt]))
            if self.kind == "ew":
                args.append(size)
                grid, cx = ((size + self.block - 1) // self.block,), {"BLOCK": self.block}
            else:
                args += [size[0], size[1]]
                grid = ((size[0] + self.br - 1) // self.br,)
                cx = {"BC": self.bc} if self.br == 1 else {"BR": self.br, "BC": self.bc}
            out.append((args, grid, cx, outs))
        return out

    def tolerance(self, dt: str, ref: np.ndarray, loop=False):
        """Interpreter vs compiled: a few ulp per op (fast-math polynomials, f16 math done in f32)
        relative to the output's scale."""
        if dt in ("i32", "i8", "i1"):
            return 0
        depth = max((p.depth for p in self.programs), default=1) + 2
        eps = {"f32": 2.0 ** -23, "f16": 2.0 ** -10}[dt]
        r = np.abs(ref.astype(np.float64))
        scale = np.nanmax(np.where(np.isfinite(r), r, 0)) if r.size else 0.0
        return 8 * depth * eps * (r + scale) + (2.0 ** -24 if dt == "f16" else 1e-30)


def gen_case(seed: int, n_programs: int = 4, known_bug=None, options: dict | None = None, only=None) -> TCase:
    from .common import sample_options
    rng = np.random.default_rng([seed, 11])
    opts = sample_options(rng) if options is None else dict(options)
    kind = str(rng.choice(["ew", "ew", "rows"]))
    br = int(rng.choice([1, 1, 4])) if kind == "rows" else 1
    bc = int(rng.choice([16, 64, 128]))
    block = int(rng.choice([16, 64, 128, 256]))
    loop = kind == "rows" and rng.random() < 0.4
    if kind == "ew":
        sizes = [int(s) for s in rng.choice(SIZES, size=2, replace=False)]
    else:
        cmax = 10 ** 6 if loop else bc
        sizes = []
        for _ in range(2):
            nrows = int(rng.choice([1, 3, 7, 33]))
            ncols = int(rng.choice([c for c in (1, 7, 17, 33, 100, 300) if c <= cmax] or [1]))
            sizes.append((nrows, ncols))
    progs, dropped = [], []
    for i in range(n_programs):
        prng = np.random.default_rng([seed, 12, i])
        p = _ew_program(i, prng) if kind == "ew" else _rows_program(i, prng, br, loop)
        if only is not None and i not in only:
            continue
        reason = known_bug(p.features, opts) if known_bug else None
        (dropped.append((p, reason)) if reason else progs.append(p))
    return TCase(seed, kind, opts, progs, dropped, block, br, bc, sizes)


def module_source(cases) -> str:
    return "import triton\nimport triton.language as tl\n\n\n" + "\n\n".join(c.source() for c in cases if c.programs)
