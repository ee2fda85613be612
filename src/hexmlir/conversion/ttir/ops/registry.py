"""The table of op conversions (op name -> fn(cv, op)) and the decorator that fills it."""
from __future__ import annotations

OPS: dict = {}


def converts(*names):
    def reg(fn):
        for n in names:
            if n in OPS:
                raise ValueError(f"two conversions for {n}")
            OPS[n] = fn
        return fn
    return reg
