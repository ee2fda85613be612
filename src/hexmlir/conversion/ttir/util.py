"""Small shared tables and text helpers of the TTIR conversion."""
from __future__ import annotations

import re

from .forms import S, T, MaskB, Splat

# arith.cmpi predicates by their integer value
PRED = {0: "eq", 1: "ne", 2: "slt", 3: "sle", 4: "sgt", 5: "sge", 6: "ult", 7: "ule", 8: "ugt", 9: "uge"}


def byte_size(t: str) -> int:
    return max(1, int(re.sub(r"[a-z]+", "", t) or 8) // 8)


def float_bits(t: str) -> int:
    return {"f16": 16, "bf16": 16, "f32": 32, "f64": 64}.get(t, 32)


def elem_of(v) -> str:
    """The element type of a value form."""
    if isinstance(v, S):
        return v.type
    if isinstance(v, T):
        return v.et
    if isinstance(v, Splat):
        return v.s.type
    if isinstance(v, MaskB):
        return "i1"
    return v.et


def reassoc(groups) -> str:
    return "[" + ", ".join("[" + ", ".join(map(str, g)) + "]" for g in groups) + "]"


def mlir_str(text: str) -> str:
    """A Python string as an MLIR string attribute literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def mlir_escape(s: str) -> str:
    """The body of an MLIR string literal for s (as MLIR prints it: \\XX for bytes that are not printable)."""
    out = []
    for b in s.encode():
        if b in (0x22, 0x5C):
            out.append("\\" + chr(b))
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append(f"\\{b:02X}")
    return "".join(out)
