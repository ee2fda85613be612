"""Where a conversion finds element values: inside a linalg.generic body (BodyCtx: linalg.index, block
arguments) or inside an explicit loop nest (LoopCtx: the induction variables, tensor.extract); and Retry,
raised when a loop-carried value changes form inside the loop. Below converter.py and ops/, which both use
them."""
from __future__ import annotations

from .forms import T, ttype


class Retry(Exception):
    """A loop-carried value changed form inside the loop: convert the loop again with it materialized."""

    def __init__(self, which: int, addr: bool = False):
        self.which = which
        self.addr = addr              # a carried pointer switches arguments: carry its address instead


class BodyCtx:
    """Element indices inside a linalg.generic body (linalg.index, memoized per body scope)."""

    def __init__(self, conv, args: dict, out: str):
        self.conv, self.args, self.out = conv, args, out

    def index(self, d: int) -> str:
        em = self.conv.em
        hit = em.cached(("lindex", d, self.out))
        return hit or em.remember(("lindex", d, self.out), em.op(f"linalg.index {d} : index", "ix"))

    def elem(self, t: T) -> str:
        return self.args[t.name]


class LoopCtx:
    """Element indices inside an explicit loop nest (tensor elements via tensor.extract)."""

    def __init__(self, conv, ivs):
        self.conv, self.ivs = conv, ivs

    def index(self, d: int) -> str:
        return self.ivs[d]

    def elem(self, t: T) -> str:
        return self.conv.em.op(f"tensor.extract {t.name}[{', '.join(self.ivs)}] : {ttype(t.shape, t.et)}")
