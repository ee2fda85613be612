"""Half-precision element-wise arithmetic computed in f32 on targets without half vector arithmetic.

x86 up to x86-64-v4 has no f16/bf16 vector arithmetic: LLVM legalizes each `fmul <32 x half>` by converting
to f32 and back, so a fused f16 body pays two conversions per operation (GELU f16 on host: 56 vcvtps2ph in
its loops). Here each f16/bf16 arith and math op of an element-wise body is computed on f32 between an
`arith.extf` and an `arith.truncf` marked `contract` (the form of upstream's
`arith-emulate-unsupported-floats`), and canonicalization folds every truncf -> extf pair between two such
ops: the body converts its inputs once and rounds its result once, as Inductor's upcasting does. Results
are at least as accurate as rounding after every op.

Only element-wise (all-parallel) linalg.generic bodies change: a reduction's combiner must stay the op that
reads its accumulator, or vectorization no longer recognizes it (RMSNorm/LayerNorm f16 accumulate in f32
already). The upstream passes would rewrite every op of the function, hence this op-local rewrite.
"""
from ..ir import funcs, ops_named, run_passes

HALF = ("f16", "bf16")


def _elementwise(op) -> bool:
    return "reduction" not in str(op.attributes["iterator_types"])


def _half(t) -> bool:
    return str(t) in HALF


def _widenable(o) -> bool:
    """A float arith/math op with a half operand or result (constants, casts and selects stay)."""
    if not o.name.startswith(("arith.", "math.")) or o.name in (
            "arith.constant", "arith.extf", "arith.truncf", "arith.select", "arith.bitcast") or o.regions:
        return False
    if o.name.startswith("arith.") and not (o.name.endswith("f") or o.name in (
            "arith.maximumf", "arith.minimumf", "arith.maxnumf", "arith.minnumf")):
        return False                      # integer arithmetic and int<->float casts keep their types
    vals = list(o.operands) + list(o.results)
    return any(_half(v.type) for v in vals) and all(_half(v.type) or str(v.type) == "i1" for v in vals)


def _attrs(o) -> dict:
    out = {}
    for i in range(len(o.attributes)):
        a = o.attributes[i]                  # NamedAttribute
        out[a.name] = a.attr
    return out


def run(module, cx) -> int:
    """Widen the half arithmetic of every element-wise generic; returns how many ops moved to f32."""
    from torch_mlir import ir
    f32 = ir.F32Type.get()
    contract = ir.Attribute.parse("#arith.fastmath<contract>")
    n = 0
    for f in funcs(module):
        for g in ops_named(f, "linalg.generic"):
            if not _elementwise(g):
                continue
            for o in list(g.regions[0].blocks[0].operations):
                o = o.operation
                if not _widenable(o):
                    continue
                with ir.InsertionPoint(o), o.location:
                    ops = [ir.Operation.create("arith.extf", results=[f32], operands=[v],
                                               attributes={"fastmath": contract}).result
                           if _half(v.type) else v for v in o.operands]
                    wide = ir.Operation.create(o.name, results=[f32 if _half(r.type) else r.type for r in o.results],
                                               operands=ops,
                                               attributes=_attrs(o))
                    for r, w in zip(o.results, wide.results):
                        if _half(r.type):
                            w = ir.Operation.create("arith.truncf", results=[r.type], operands=[w],
                                                    attributes={"fastmath": contract}).result
                        r.replace_all_uses_with(w)
                o.erase()
                n += 1
    if n:
        run_passes(module, "canonicalize, cse", "half")
    return n
