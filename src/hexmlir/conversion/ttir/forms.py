"""The abstract values the TTIR converter tracks, and the text emitter it writes Linalg with.

Triton computes addresses as tensors of pointers. Most of them are affine in the element indices:
`base + sum_d stride_d * i_d`. Keeping that form symbolic (instead of materializing offset tensors) is the
pointer analysis: a load through an affine pointer tensor becomes a strided memref view, and a mask that
bounds each index (`offs < n`) becomes a bounded subview. Whatever leaves that form stays correct through
explicit tensors (gathers and scatters).

An `Idx` is an index-typed quantity: a Python int (static) or the SSA name of an `index` value.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

Idx = "int | str"


@dataclass
class S:                      # a scalar SSA value
    name: str
    type: str


@dataclass
class T:                      # a tensor SSA value
    name: str
    shape: tuple
    et: str


@dataclass
class Splat:                  # every element equals the scalar s
    s: S
    shape: tuple


@dataclass
class Aff:                    # integer tensor: base + sum_d strides[d] * i_d
    shape: tuple
    base: object
    strides: list
    et: str


@dataclass
class MaskB:                  # i1 tensor: lo[d] <= i_d < hi[d] for every bounded d (None: unbounded)
    shape: tuple
    lo: list
    hi: list


@dataclass
class Ptr:                    # scalar pointer: argument `arg` + element offset
    arg: int
    off: object


@dataclass
class PtrT:                   # tensor of pointers, affine: arg + base + sum_d strides[d] * i_d
    arg: int
    shape: tuple
    base: object
    strides: list


@dataclass
class PtrG:                   # tensor of pointers, general: arg + base + sum of integer tensors `parts`
    arg: int
    shape: tuple
    base: object
    parts: list


@dataclass
class Desc:                   # tensor descriptor: a strided 2-D/N-D view of arg with bounds
    arg: int
    base: object
    sizes: list
    strides: list
    block: tuple
    et: str


TENSORS = (T, Splat, Aff, MaskB)


def shape_of(v) -> tuple:
    return getattr(v, "shape", ())


def ttype(shape, et: str) -> str:
    return f"tensor<{''.join(f'{n}x' for n in shape)}{et}>"


def mtype(shape, et: str, strides=None, offset=None, space: int = 0) -> str:
    """memref type text; strides/offset None = identity layout; an entry None = dynamic (?)."""
    dims = "".join(("?" if n is None else str(n)) + "x" for n in shape)
    lay = ""
    if strides is not None:
        st = ", ".join("?" if s is None else str(s) for s in strides)
        lay = f", strided<[{st}], offset: {'?' if offset is None else offset}>"
    sp = f", {space}" if space else ""
    return f"memref<{dims}{et}{lay}{sp}>"


def identity_strides(shape) -> list:
    st, acc = [], 1
    for n in reversed(shape):
        st.append(acc)
        acc *= n
    return list(reversed(st))


FLOATS = {"f16": ("<e", "0x{:04X}"), "bf16": (None, "0x{:04X}"), "f32": ("<f", "0x{:08X}"), "f64": ("<d", "0x{:016X}")}


def literal(value, type_: str) -> str:
    """Exact constant text: floats by bit pattern (no rounding, inf and nan included)."""
    if type_ in FLOATS:
        fmt, hexfmt = FLOATS[type_]
        if type_ == "bf16":
            bits = struct.unpack("<I", struct.pack("<f", float(value)))[0] >> 16
        else:
            raw = struct.pack(fmt, float(value))
            bits = int.from_bytes(raw, "little")
        return hexfmt.format(bits)
    if type_ == "i1":
        return "1" if value else "0"          # `arith.constant true` takes no type; `1 : i1` does
    return str(int(value))


class Emitter:
    """Writes MLIR text. Constants go to a prologue at function entry (they dominate everything);
    other values are cached per region scope (a value made inside a loop body is not visible after it)."""

    def __init__(self):
        self.prologue: list[str] = []
        self.lines: list[str] = []
        self.depth = 2
        self.n = 0
        self._consts: dict = {}
        self.scopes: list[dict] = [{}]

    def fresh(self, hint: str = "v") -> str:
        self.n += 1
        return f"%{hint}{self.n}"

    def emit(self, text: str) -> None:
        self.lines.append("  " * self.depth + text)

    def op(self, text: str, hint: str = "v") -> str:
        r = self.fresh(hint)
        self.emit(f"{r} = {text}")
        return r

    # scoped memo (index casts, linalg.index in a body, ...)
    def cached(self, key):
        for sc in reversed(self.scopes):
            if key in sc:
                return sc[key]
        return None

    def remember(self, key, value):
        self.scopes[-1][key] = value
        return value

    def push(self):
        self.scopes.append({})
        self.depth += 1

    def pop(self):
        self.scopes.pop()
        self.depth -= 1

    def const(self, value, type_: str) -> str:
        key = (literal(value, type_), type_)
        if key not in self._consts:
            name = f"%c{len(self._consts)}_{type_}"
            self._consts[key] = name
            self.prologue.append(f"    {name} = arith.constant {key[0]} : {type_}")
        return self._consts[key]

    # ---- index arithmetic (constant-folded) ----
    def idx(self, a) -> str:
        return self.const(a, "index") if isinstance(a, int) else a

    @staticmethod
    def dim(a) -> str:
        """An Idx written into an op's static-or-dynamic list (offsets, sizes): ints stay literal."""
        return str(a) if isinstance(a, int) else a

    def add(self, a, b):
        if isinstance(a, int) and isinstance(b, int):
            return a + b
        if a == 0:
            return b
        if b == 0:
            return a
        return self._bin("arith.addi", a, b)

    def sub(self, a, b):
        if isinstance(a, int) and isinstance(b, int):
            return a - b
        if b == 0:
            return a
        return self._bin("arith.subi", a, b)

    def mul(self, a, b):
        if isinstance(a, int) and isinstance(b, int):
            return a * b
        if a == 0 or b == 0:
            return 0
        if a == 1:
            return b
        if b == 1:
            return a
        return self._bin("arith.muli", a, b)

    def min(self, a, b):
        if isinstance(a, int) and isinstance(b, int):
            return min(a, b)
        return self._bin("arith.minsi", a, b)

    def max(self, a, b):
        if isinstance(a, int) and isinstance(b, int):
            return max(a, b)
        return self._bin("arith.maxsi", a, b)

    def ceildiv(self, a, b: int):
        if isinstance(a, int):
            return -(-a // b)
        return a if b == 1 else self._bin("arith.ceildivsi", a, b)

    def clamp(self, a, lo: int, hi: int):
        return self.min(self.max(a, lo), hi)

    def _bin(self, name, a, b) -> str:
        key = (name, a, b)
        hit = self.cached(key)
        if hit:
            return hit
        return self.remember(key, self.op(f"{name} {self.idx(a)}, {self.idx(b)} : index", "i"))

    def to_index(self, s: S):
        """An integer scalar as index (cached per scope)."""
        if s.type == "index":
            return s.name
        hit = self.cached(("cast", s.name))
        if hit:
            return hit
        return self.remember(("cast", s.name), self.op(f"arith.index_cast {s.name} : {s.type} to index", "i"))

    def from_index(self, a, type_: str) -> str:
        if isinstance(a, int):
            return self.const(a, type_)
        if type_ == "index":
            return a
        return self.op(f"arith.index_cast {a} : index to {type_}")
