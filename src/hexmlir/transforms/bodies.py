"""Matchers of linalg.generic bodies that more than one stage asks about (conv-im2col and hvx-contract: the
int8 product sum that becomes vrmpy)."""
from __future__ import annotations

from torch_mlir import ir


def is_i8_product_sum(block) -> bool:
    """The body is `out + extsi(a) * extsi(b)` with a, b the block's i8 arguments and out the i32 one."""
    ops = [o.operation for o in block.operations]
    if len(ops) != 5 or ops[-1].name != "linalg.yield":
        return False
    names = sorted(o.name for o in ops[:-1])
    if names != ["arith.addi", "arith.extsi", "arith.extsi", "arith.muli"]:
        return False
    args = list(block.arguments)
    i8, i32 = ir.IntegerType.get_signless(8), ir.IntegerType.get_signless(32)
    if [a.type for a in args] != [i8, i8, i32]:
        return False
    ext = [o for o in ops if o.name == "arith.extsi"]
    mul = next(o for o in ops if o.name == "arith.muli")
    add = next(o for o in ops if o.name == "arith.addi")
    if sorted(arg_no(o.operands[0], block) for o in ext) != [0, 1] or any(o.results[0].type != i32 for o in ext):
        return False
    if any(not any(owner(v) == e for e in ext) for v in mul.operands) or mul.operands[0] == mul.operands[1]:
        return False
    kinds = sorted("mul" if owner(v) == mul else f"arg{arg_no(v, block)}" for v in add.operands)
    return kinds == ["arg2", "mul"] and ops[-1].operands[0] == add.results[0]


def arg_no(v, block):
    for i, a in enumerate(block.arguments):
        if v == a:
            return i
    return None


def owner(v):
    o = v.owner
    return o.operation if hasattr(o, "operation") else o
