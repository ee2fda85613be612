"""qf32 on Hexagon HVX: f32 chains kept in qf32 on v79+ (`chains`), vector sums as two partials (`accumulators`).

HVX without IEEE float (v79, v81) computes `vadd`/`vsub`/`vmpy` into qf32, a format of its own (a signed
24-bit significand: 23 significant bits), and LLVM-22 lowers each f32 `fadd`/`fsub`/`fmul` as the qf32
operation followed by a conversion back to IEEE sf (`vconv.sf.qf32`). Its QFP optimizer folds some of those
conversions into a following add (the `mix` forms take one qf32 and one sf operand) but not into a
multiply, which has no mixed form: GELU's loop kept 38 conversions per vector, each a packet on the chain.

`chains` (the qf-chains stage, LLVM dialect, `Target.qfloat_only`) writes each 32 x f32 `fadd`/`fsub`/`fmul`
as the HVX intrinsic on qf32 operands where its operands were computed so, and converts to sf only where a
value leaves the chain: a store, a compare, a select, a bitcast to integers, anything but these three ops.
A value that leaves the chain anywhere is read as its one converted value by all its users, so integer
tricks on its bits and the float ops on it see the same number. The round-to-integer add (a constant of
magnitude >= 2^22) always leaves the chain, and exp's shifter 1.5*2^23 becomes 1.5*2^22 (qf32 sums near
1.5*2^23 step by 2). A sf operand meeting a qf32 one in a multiply, or on the left of a subtraction, is
converted by `vadd.sf(x, 0)` (once, for loop-invariant constants: LLVM hoists it). Loops whose body is one
long chain are unrolled by 2 so that two chains share packets.

`accumulators` (the hvx-accumulators stage, every Hexagon target) turns a loop-carried vector sum into two
rotating partial sums, in qf32 where the target has HVX float.

qemu-hexagon executes no HVX float instruction: qf32 code is checked statically (tests/test_hexagon_qf.py:
conversions and packets in the assembly, against clang auto-HVX); the simulation build runs the partial
sums' loop surgery in plain f32 under qemu. Only whole 32 x f32 vectors are rewritten (tails stay LLVM's).
"""
from __future__ import annotations

from torch_mlir import ir

from ..ir import walk

LANES = 32                                                # f32 lanes of one 128-byte HVX vector
_I = "llvm.hexagon.V6.{}.128B"
# (op, operand forms) -> intrinsic; forms: q = qf32, s = IEEE sf. Results are qf32.
_INTRIN = {
    ("llvm.fadd", "qq"): _I.format("vadd.qf32"), ("llvm.fadd", "qs"): _I.format("vadd.qf32.mix"),
    ("llvm.fadd", "ss"): _I.format("vadd.sf"),
    ("llvm.fsub", "qq"): _I.format("vsub.qf32"), ("llvm.fsub", "qs"): _I.format("vsub.qf32.mix"),
    ("llvm.fsub", "ss"): _I.format("vsub.sf"),
    ("llvm.fmul", "qq"): _I.format("vmpy.qf32"), ("llvm.fmul", "ss"): _I.format("vmpy.qf32.sf"),
}
SF_FROM_QF32 = _I.format("vconv.sf.qf32")
QF32_FROM_SF = _I.format("vadd.sf")                       # x + 0: x as qf32
_CHAIN_INTRINS = {*_INTRIN.values(), SF_FROM_QF32}
ROUNDING_MAGNITUDE = float(1 << 22)


def _is_float_op(op) -> bool:
    if op.name not in ("llvm.fadd", "llvm.fsub", "llvm.fmul") or len(op.results) != 1:
        return False
    t = op.results[0].type
    return isinstance(t, ir.VectorType) and str(t) == f"vector<{LANES}xf32>"


def _is_chain_op(op) -> bool:
    # Arithmetic on splats (a row statistic broadcast before its scale, + eps and rsqrt) is left to LLVM,
    # which does it once in a scalar register and splats the result; as qf32 intrinsics it stays a vector,
    # and the rsqrt after it became 32 scalar sqrt calls and divisions a row (v79 RMSNorm).
    return _is_float_op(op) and not _uniform_op(op)


def _uniform_op(op, depth: int = 0) -> bool:
    return depth < 8 and all(_uniform(v, depth + 1) for v in op.operands)


def _uniform(v, depth: int) -> bool:
    """v holds one value in every lane: a splat constant (or a row of one), a splat shuffle, or fadd/fsub/fmul
    of those."""
    o = _owner(v)
    name = getattr(o, "name", None)
    if name == "llvm.extractvalue":            # a row of an n-D splat constant (vector<1x32xf32> lowered)
        o = _owner(o.operands[0])
        name = getattr(o, "name", None)
        if name != "llvm.mlir.constant":
            return False
    if name == "llvm.mlir.constant":
        a = o.attributes["value"]
        return isinstance(a, ir.DenseElementsAttr) and a.is_splat
    if name == "llvm.shufflevector":
        mask = list(ir.DenseI32ArrayAttr(o.attributes["mask"]))
        return len(set(mask)) == 1 and mask[0] >= 0
    return _is_float_op(o) and _uniform_op(o, depth) if name else False


def _owner(v):
    o = v.owner
    return o.operation if hasattr(o, "operation") else o


def _splat_f32(v) -> float | None:
    """The value of a splat float constant operand (llvm.mlir.constant), else None."""
    o = _owner(v)
    if getattr(o, "name", None) != "llvm.mlir.constant":
        return None
    a = o.attributes["value"]
    if not isinstance(a, ir.DenseFPElementsAttr) or not a.is_splat:
        return None
    return ir.FloatAttr(a.get_splat_value()).value


def _splat_magnitude(v) -> float | None:
    c = _splat_f32(v)
    return None if c is None else abs(c)


def _rounds(op) -> bool:
    """An add of a constant >= 2^22 in magnitude: the round-to-integer idiom, whose sum the code reads as
    rounded (its bits, or minus the constant)."""
    return op.name == "llvm.fadd" and any(
        (m := _splat_magnitude(v)) is not None and m >= ROUNDING_MAGNITUDE for v in op.operands)


def _stays_in_chain(op) -> bool:
    """Every user of op's result is a chain op, and op does not round: its users may read it as qf32."""
    if _rounds(op):
        return False
    users = [u.owner for u in op.results[0].uses]
    return bool(users) and all(_is_chain_op(u.operation if hasattr(u, "operation") else u) for u in users)


def chains(module) -> int:
    """Rewrite the 32 x f32 fadd/fsub/fmul of every llvm.func into qf32 HVX intrinsics, converting to sf only
    where values leave the chain. Returns how many ops were rewritten."""
    fns = [op.operation for op in module.body.operations
           if op.operation.name == "llvm.func" and len(op.operation.regions[0].blocks)]
    return sum(_rewrite_function(f) for f in fns)


SHIFTER = 12582912.0        # 1.5 * 2^23: fast_math's round-to-integer constant (t = y + S; k = t - S)
QF_SHIFTER = 6291456.0      # 1.5 * 2^22


def _splat_int(v) -> int | None:
    o = _owner(v)
    if getattr(o, "name", None) != "llvm.mlir.constant":
        return None
    a = o.attributes["value"]
    if not isinstance(a, ir.DenseIntElementsAttr) or not a.is_splat:
        return None
    return ir.IntegerAttr(a.get_splat_value()).value


def _requalify_shifters(fn) -> int:
    """`t = y + 1.5*2^23; k = t - 1.5*2^23; 2^k = bits(t) << 23` (fast_math's exp) rounds y to an integer
    only where the sum keeps 24 significant bits. qf32 keeps 23 (a signed 24-bit significand: an add
    result near 1.5*2^23 steps by 2), so on qfloat HVX k came out even, in LLVM's own lowering too, and
    |y - k| reached 1 instead of 1/2. With 1.5*2^22 the sum steps by 1 in qf32 and in sf alike, and sf's
    last mantissa bit is 1/2, so bits(t) << 22 is k << 23 (mod 2^32). Needs |y| < 2^21 (exp's |k| <= 150)."""
    adds = []
    walk(fn, lambda o: adds.append(o) if _is_chain_op(o) and o.name == "llvm.fadd" else None)
    n = 0
    for add in adds:
        ci = next((j for j in (0, 1) if _splat_f32(add.operands[j]) == SHIFTER), None)
        if ci is None:
            continue
        subs, shls, other = [], [], False
        for u in add.results[0].uses:
            user = u.owner.operation if hasattr(u.owner, "operation") else u.owner
            if user.name == "llvm.fsub" and u.operand_number == 0 and _splat_f32(user.operands[1]) == SHIFTER:
                subs.append(user)
            elif user.name == "llvm.bitcast" and str(user.results[0].type) == f"vector<{LANES}xi32>":
                for u2 in user.results[0].uses:
                    sh = u2.owner.operation if hasattr(u2.owner, "operation") else u2.owner
                    if sh.name == "llvm.shl" and u2.operand_number == 0 and _splat_int(sh.operands[1]) == 23:
                        shls.append(sh)
                    else:
                        other = True
            else:
                other = True
        if other or not subs or not shls:
            continue                           # the sum is read some other way: leave it
        vf, vi = add.results[0].type, shls[0].results[0].type
        with ir.InsertionPoint(add), add.location:
            c = ir.Operation.create("llvm.mlir.constant", results=[vf], attributes={
                "value": ir.DenseElementsAttr.get_splat(vf, ir.FloatAttr.get_f32(QF_SHIFTER))}).results[0]
            s22 = ir.Operation.create("llvm.mlir.constant", results=[vi], attributes={
                "value": ir.DenseElementsAttr.get_splat(vi, ir.IntegerAttr.get(
                    ir.IntegerType.get_signless(32), 22))}).results[0]
        add.operands[ci] = c
        for sub in subs:
            sub.operands[1] = c
        for sh in shls:
            sh.operands[1] = s22
        n += 1
    return n


def _rewrite_function(fn) -> int:
    _requalify_shifters(fn)
    found = []
    walk(fn, lambda o: found.append(o) if _is_chain_op(o) else None)
    if not found:
        return 0
    vi = ir.VectorType.get([LANES], ir.IntegerType.get_signless(32))
    vf = ir.VectorType.get([LANES], ir.F32Type.get())
    zero = _zero(fn)
    qf = []              # (sf value standing for a rewritten op's result, its qf32 value) for chain users

    def qf_of(v):
        for s, q in qf:
            if s == v:
                return q
        return None

    def call(name, args):
        return ir.Operation.create("llvm.call_intrinsic", results=[vi], operands=args, attributes={
            "intrin": ir.StringAttr.get(name), "fastmathFlags": ir.Attribute.parse("#llvm.fastmath<none>"),
            "op_bundle_sizes": ir.DenseI32ArrayAttr.get([]),
            "operandSegmentSizes": ir.DenseI32ArrayAttr.get([len(args), 0])}).results[0]

    def bits(v):
        return ir.Operation.create("llvm.bitcast", results=[vi], operands=[v]).results[0]

    # Program order within a block; an operand defined by a chain op in another block was rewritten first
    # when blocks are visited in dominance order, which the lowering's block order is not guaranteed to be,
    # so ops wait until the chain ops defining their operands are done.
    todo = list(found)
    found_blocks = []
    for op in found:
        if not any(b == op.block for b in found_blocks):
            found_blocks.append(op.block)
    done = 0
    while todo:
        pending = []
        for op in todo:
            if any(_is_chain_op(_owner(v)) for v in op.operands if not isinstance(_owner(v), ir.Block)):
                pending.append(op)           # an operand still comes from an unrewritten chain op
                continue
            _rewrite_op(op, qf_of, call, bits, zero, vf, qf)
            done += 1
        if len(pending) == len(todo):
            break                            # cannot happen in SSA form without block arguments; be safe
        todo = pending
    for sf, _ in qf:                           # conversions no user reads (the value stayed in the chain)
        if not list(sf.uses):
            conv = _owner(_owner(sf).operands[0])
            _owner(sf).erase()
            conv.erase()
    _interleave(found_blocks)
    return done


UNROLL = 2
LATENCY_BOUND_DEPTH = 16     # chain ops in a row within one iteration: below this, LLVM's schedule keeps the slots busy


def _chain_depth(block) -> int:
    """The longest run of dependent float ops (fadd/fsub/fmul and their qf32 intrinsics, counted through
    whatever else lies between them) in `block`."""
    depth = {}
    best = 0
    for op in block.operations:
        op = op.operation if hasattr(op, "operation") else op
        own = _is_chain_op(op) or (op.name == "llvm.call_intrinsic"
                                   and ir.StringAttr(op.attributes["intrin"]).value in _CHAIN_INTRINS)
        d = int(own) + max([depth.get(_key(_owner(v)), 0) for v in op.operands
                            if not isinstance(_owner(v), ir.Block)], default=0)
        depth[_key(op)] = d
        best = max(best, d)
    return best


def _key(op):
    return op.operation if hasattr(op, "operation") else op


def _elementwise_loop_latch(b):
    """The latch (llvm.br back to a header whose llvm.cond_br enters `b`) of a loop whose body is `b` alone,
    carries no vector values and has no loop metadata yet, else None."""
    term = b.operations[len(b.operations) - 1]
    if term.name != "llvm.br" or "loop_annotation" in term.attributes:
        return None
    head = term.successors[0]
    hterm = head.operations[len(head.operations) - 1]
    if hterm.name != "llvm.cond_br" or not any(s == b for s in hterm.successors):
        return None
    return None if any(isinstance(a.type, ir.VectorType) for a in head.arguments) else term


def _unroll(term) -> None:
    term.attributes["loop_annotation"] = ir.Attribute.parse(
        f"#llvm.loop_annotation<unroll = #llvm.loop_unroll<count = {UNROLL}>>")


def _interleave(blocks) -> None:
    """Unroll by UNROLL the elementwise loops whose body is one long dependence chain (LLVM loop metadata):
    with one vector per iteration the chain issues one HVX instruction per packet; two independent chains
    share packets. Loops carrying vector values (reductions) and short chains (register-blocked kernels,
    which have independent chains already) are left to LLVM: unrolling them only adds register pressure."""
    for b in blocks:
        term = _elementwise_loop_latch(b)
        if term is not None and _chain_depth(b) >= LATENCY_BOUND_DEPTH:
            _unroll(term)


# LLVM's MachinePipeliner gives up on a loop whose minimal initiation interval exceeds -pipeliner-max-mii
# (27 packets); such a loop is list-scheduled, one dependence chain per iteration.
PIPELINER_MAX_MII = 27
_IEEE_HALF_PACKET = ("llvm.fadd", "llvm.fsub", "llvm.intr.maximum", "llvm.intr.minimum")


def _ieee_mii(block) -> float:
    """Packets one iteration's 32 x f32 IEEE float ops need at least on v68-v75: `vmpy.sf` one a packet,
    `vadd/vsub/vmax/vmin.sf` two (as the pipeliner counts: GELU's loop, 31 multiplies and 27 adds, MII 45)."""
    mii = 0.0
    for op in block.operations:
        op = op.operation if hasattr(op, "operation") else op
        if op.name == "llvm.fmul" and _is_float_op(op):
            mii += 1
        elif op.name in _IEEE_HALF_PACKET and str(op.results[0].type) == "vector<32xf32>":
            mii += 0.5
    return mii


def unroll_unpipelined(module) -> int:
    """IEEE HVX float (v68-v75): unroll by UNROLL the elementwise loops LLVM will not software-pipeline
    (_ieee_mii above PIPELINER_MAX_MII): list-scheduled, one chain an iteration issues about one op a
    packet, two chains share packets (GELU v73 61 -> 52.5 packets a vector). Loops within the limit are
    pipelined and better left whole (SiLU v73: 30 a vector, 36.5 unrolled). Returns the loops unrolled."""
    n = 0
    for f in module.body.operations:
        f = f.operation
        if f.name != "llvm.func" or not len(f.regions[0].blocks):
            continue
        for b in f.regions[0].blocks:
            term = _elementwise_loop_latch(b)
            if term is not None and _ieee_mii(b) > PIPELINER_MAX_MII:
                _unroll(term)
                n += 1
    return n


def _rewrite_op(op, qf_of, call, bits, zero, vf, qf) -> None:
    keep_qf = _stays_in_chain(op)
    with ir.InsertionPoint(op), op.location:
        a, b = op.operands
        qa, qb = qf_of(a), qf_of(b)
        kind = op.name
        if qa is not None and qb is not None:
            args, form = [qa, qb], "qq"
        elif qa is None and qb is None:
            args, form = [bits(a), bits(b)], "ss"
        elif kind == "llvm.fadd":              # commutative: the qf32 operand first
            args, form = ([qa, bits(b)] if qa is not None else [qb, bits(a)]), "qs"
        elif kind == "llvm.fsub" and qa is not None:
            args, form = [qa, bits(b)], "qs"
        else:                                  # sf - qf32, sf * qf32: the sf operand converted to qf32
            qa = qa if qa is not None else call(QF32_FROM_SF, [bits(a), zero])
            qb = qb if qb is not None else call(QF32_FROM_SF, [bits(b), zero])
            args, form = [qa, qb], "qq"
        q = call(_INTRIN[(kind, form)], args)
        s = ir.Operation.create("llvm.bitcast", results=[vf], operands=[call(SF_FROM_QF32, [q])]).results[0]
    op.results[0].replace_all_uses_with(s)
    op.erase()
    if keep_qf:
        qf.append((s, q))


# ---- reductions: vector accumulators carried in qf32 --------------------------------------------------------

QF32_ADD = _I.format("vadd.qf32")
QF32_ADD_MIX = _I.format("vadd.qf32.mix")
QF32_MPY_SF = _I.format("vmpy.qf32.sf")


def accumulators(module, qf: bool = True) -> int:
    """Loop-carried 32 x f32 sums `acc = acc + p` (p often `x * y`) of loops of 8 or more iterations (or an
    unknown count) become two partial sums that rotate, `(a, b) <- (b, a + p)`, combined after the loop:
    LLVM unrolls such loops fully or in part, and a single sum made every add wait for the one before.

    qf (targets with HVX float): the partial sums are qf32, the add `vadd.qf32` (a CVI_VS instruction, any
    slot) and a single-use product `vmpy.qf32.sf`, so a packet holds a multiply and an add; IEEE `vadd.sf`
    (v68-v75) is a CVI_VX instruction that shares slots 2/3 with the multiply (RMSNorm's unrolled sum of
    squares: one op per packet, 76 packets a row). The carried values hold qf32 bits (typed f32, so block
    arguments keep their type): the initial value enters through `vadd.sf(init, 0)`, and every other use of
    the sum reads the partials' qf32 sum converted to sf. Without HVX float (the simulation build, which
    qemu executes) the same rotation in plain f32 ops. Returns how many accumulators were rewritten."""
    n = 0
    for fop in module.body.operations:
        f = fop.operation
        if f.name != "llvm.func" or not len(f.regions[0].blocks):
            continue
        zero = None
        for head in list(f.regions[0].blocks):
            for i, acc in enumerate(list(head.arguments)):
                if str(acc.type) != f"vector<{LANES}xf32>":
                    continue
                plan = _accumulator(f, head, i, acc)
                if plan is None:
                    continue
                if zero is None:
                    zero = _zero(f)
                _rewrite_accumulator(head, acc, i, plan, zero, qf)
                n += 1
    return n


def _zero(f):
    """An all-zero 32 x i32 constant at the function's entry (qf32 zero; sf +0.0)."""
    i32 = ir.IntegerType.get_signless(32)
    vi = ir.VectorType.get([LANES], i32)
    with ir.InsertionPoint.at_block_begin(f.regions[0].blocks[0]), ir.Location.unknown():
        zero = ir.DenseElementsAttr.get_splat(vi, ir.IntegerAttr.get(i32, 0))
        return ir.Operation.create("llvm.mlir.constant", results=[vi], attributes={"value": zero}).results[0]


def _terminator(block):
    return block.operations[len(block.operations) - 1]


def _accumulator(f, head, i, acc):
    """(add op, its other operand, the latch branch, the entry branches) when `acc` (argument i of `head`)
    is a sum carried around one loop; None otherwise."""
    latch, entries = None, []
    for b in f.regions[0].blocks:
        t = _terminator(b)
        if not any(s == head for s in t.successors):
            continue
        if t.name != "llvm.br":
            return None                        # a conditional edge into the header: not handled
        v = t.operands[i]
        o = _owner(v)
        if getattr(o, "name", None) == "llvm.fadd" and any(x == acc for x in o.operands) and b == o.block:
            if latch is not None:
                return None
            latch = (t, o)
        else:
            entries.append(t)
    if latch is None or not entries:
        return None
    t, add = latch
    n = _trip_count(head, t, entries)
    if n is not None and n < MIN_TRIPS:
        return None
    if len(list(add.results[0].uses)) != 1 or add.operands[0] == add.operands[1]:
        return None
    other = add.operands[1] if add.operands[0] == acc else add.operands[0]
    return add, other, t, entries


def _rebranch(t, operands):
    """Re-create the llvm.br `t` with `operands` (appending a block argument's operand needs a new op)."""
    with ir.InsertionPoint(t), t.location:
        new = ir.Operation.create("llvm.br", operands=operands, successors=list(t.successors),
                                  attributes={a.name: a.attr for a in t.attributes})
    t.erase()
    return new


SLT = "2 : i64"      # llvm.icmp's predicate attribute for "slt" (scf.for's bound check)
MIN_TRIPS = 8       # fewer iterations: the combine and the conversion after the loop cost more than they save


def _int_constant(v):
    o = _owner(v)
    if getattr(o, "name", None) != "llvm.mlir.constant" or not isinstance(o.attributes["value"], ir.IntegerAttr):
        return None
    return ir.IntegerAttr(o.attributes["value"]).value


def _trip_count(head, latch, entries):
    """Iterations of the loop `head` heads when its bounds are constants (`iv < ub`, iv from a constant by a
    constant step), else None."""
    cond = _owner(_terminator(head).operands[0])
    if getattr(cond, "name", None) != "llvm.icmp" or str(cond.attributes["predicate"]) != SLT:
        return None
    iv, ub = cond.operands
    k = next((j for j, a in enumerate(head.arguments) if a == iv), None)
    if k is None or len(entries) != 1:
        return None
    lo, hi = _int_constant(entries[0].operands[k]), _int_constant(ub)
    nxt = _owner(latch.operands[k])
    if getattr(nxt, "name", None) != "llvm.add" or lo is None or hi is None:
        return None
    steps = [_int_constant(x) for x in nxt.operands if not x == iv]
    if len(steps) != 1 or not steps[0] or steps[0] <= 0:
        return None
    return max(0, -(-(hi - lo) // steps[0]))


def _rewrite_accumulator(head, acc, i, plan, zero, qf: bool) -> None:
    add, p, latch, entries = plan
    vi = ir.VectorType.get([LANES], ir.IntegerType.get_signless(32))
    vf = acc.type

    def call(name, args):
        return ir.Operation.create("llvm.call_intrinsic", results=[vi], operands=args, attributes={
            "intrin": ir.StringAttr.get(name), "fastmathFlags": ir.Attribute.parse("#llvm.fastmath<none>"),
            "op_bundle_sizes": ir.DenseI32ArrayAttr.get([]),
            "operandSegmentSizes": ir.DenseI32ArrayAttr.get([len(args), 0])}).results[0]

    def cast(v, t):
        return ir.Operation.create("llvm.bitcast", results=[t], operands=[v]).results[0]

    def fop(name, a, b):
        return ir.Operation.create(name, results=[vf], operands=[a, b]).results[0]

    # Each form: qf32 bits carried in the f32-typed value, or plain f32 (no HVX float).
    def plus(a, b):                            # carried + carried
        return cast(call(QF32_ADD, [cast(a, vi), cast(b, vi)]), vf) if qf else fop("llvm.fadd", a, b)

    def to_sf(a):
        return cast(call(SF_FROM_QF32, [cast(a, vi)]), vf) if qf else a

    def from_sf(a):
        return cast(call(QF32_FROM_SF, [cast(a, vi), zero]), vf) if qf else a

    # Two partial sums rotate: (a, b) <- (b, a + p). Each add needs the sum of two iterations ago, so the
    # adds of consecutive iterations (after LLVM unrolls) are independent and share packets.
    other = head.add_argument(vf, acc.location)
    for use in list(acc.uses):                 # every use but the add reads the whole sum (as sf)
        user = use.owner.operation if hasattr(use.owner, "operation") else use.owner
        if user == add:
            continue
        with ir.InsertionPoint(user), user.location:
            user.operands[use.operand_number] = to_sf(plus(acc, other))
    for t in entries:
        with ir.InsertionPoint(t), t.location:
            ops = list(t.operands)
            ops[i] = from_sf(ops[i])
            # the second partial starts at zero: qf32 zero is all-zero bits; in f32, -0.0 (x + -0.0 == x)
            ops.append(cast(zero, vf) if qf else ir.Operation.create("llvm.mlir.constant", results=[vf], attributes={
                "value": ir.DenseElementsAttr.get_splat(vf, ir.FloatAttr.get_f32(-0.0))}).results[0])
        _rebranch(t, ops)
    prod = _owner(p)
    fuse = qf and _is_chain_op(prod) and prod.name == "llvm.fmul" and len(list(p.uses)) == 1
    with ir.InsertionPoint(add), add.location:
        if fuse:
            q = cast(call(QF32_ADD, [cast(acc, vi), call(QF32_MPY_SF, [cast(v, vi) for v in prod.operands])]), vf)
        elif qf:
            q = cast(call(QF32_ADD_MIX, [cast(acc, vi), cast(p, vi)]), vf)
        else:
            q = fop("llvm.fadd", acc, p)
        ops = list(latch.operands)
        ops[i] = other
        ops.append(q)
    _rebranch(latch, ops)
    add.erase()
    if fuse:
        prod.erase()
