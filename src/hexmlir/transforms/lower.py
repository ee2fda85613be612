"""Lowering: remaining linalg (copies, scalar remainders) -> loops, then everything -> LLVM dialect -> LLVM IR.

The index width comes from the target (64-bit host, 32-bit Hexagon). Public functions get a C interface
(`_mlir_ciface_hxk_<name>`, one pointer per memref descriptor, see symbols.py) which is what the artifact
loader calls; it is the only symbol the object exports.
"""
from __future__ import annotations

from torch_mlir import ir

from ..errors import CompileError
from ..ir import apply_transform, funcs, run_passes, verify
from . import asserts, memspace, symbols
from .. import attrs


def to_loops(module, cx) -> None:
    run_passes(module, "func.func(convert-linalg-to-loops), canonicalize, cse", "lower-loops")


def _strided_slices_to_shuffles(module) -> None:
    """1-D vector.extract_strided_slice (the convolution vectorizer's per-tap slices) as vector.shuffle:
    the LLVM conversion has no pattern for it, and a shuffle becomes one shufflevector."""
    from torch_mlir.dialects import vector
    from ..ir import ops_named
    for op in ops_named(module.operation, "vector.extract_strided_slice"):
        src = op.operands[0]
        if ir.VectorType(src.type).rank != 1:
            continue
        off, size, stride = (ir.ArrayAttr(op.attributes[k])[0].value for k in ("offsets", "sizes", "strides"))
        with ir.InsertionPoint(op), op.location:
            sh = vector.ShuffleOp(src, src, [off + i * stride for i in range(size)])
        op.results[0].replace_all_uses_with(sh.result)
        op.erase()


def define_helpers(module) -> None:
    """Give bodies to private helpers declared with a `hexmlir.body` attribute (the Triton conversion's
    CAS-loop atomics: their memref.generic_atomic_rmw region cannot go through one-shot bufferization)."""
    for f in funcs(module):
        if attrs.BODY not in f.attributes:
            continue
        text = ir.StringAttr(f.attributes[attrs.BODY]).value
        try:
            helper = ir.Module.parse(text)
        except ir.MLIRError as e:
            raise CompileError(f"helper body does not parse: {e}", stage="lower-to-llvm") from None
        for op in list(helper.body.operations):
            op.operation.move_before(f)
        f.erase()


RAW_ADDRESS = attrs.RAW_ADDRESS


def _raw_address_memrefs(module, index_bits: int) -> None:
    """`builtin.unrealized_conversion_cast %addr {hexmlir.raw_address} : i64 to memref<?xT>` (the Triton
    conversion's tt.int_to_ptr) -> the memref's LLVM descriptor: base and aligned pointer `addr`, offset 0,
    the largest extent, stride 1, cast back to the memref (reconciled with the memref lowering's casts).
    A pure cast until here, so buffer deallocation takes the memref as not owned and never frees it."""
    casts = []

    def visit(op):
        if op.name == "builtin.unrealized_conversion_cast" and RAW_ADDRESS in op.attributes:
            casts.append(op)
        return ir.WalkResult.ADVANCE
    module.operation.walk(visit)
    if not casts:
        return
    ix = ir.IntegerType.get_signless(index_bits)
    ptr = ir.Type.parse("!llvm.ptr")
    desc = ir.Type.parse(f"!llvm.struct<(ptr, ptr, i{index_bits}, array<1 x i{index_bits}>, "
                         f"array<1 x i{index_bits}>)>")

    def make(name, operands, rtype, **attrs):
        return ir.Operation.create(name, results=[rtype], operands=operands, attributes=attrs).results[0]
    for op in casts:
        mt = ir.MemRefType(op.results[0].type)
        esize = max(1, mt.element_type.width // 8)
        with ir.InsertionPoint(op), op.location:
            def const(v):
                return make("llvm.mlir.constant", [], ix, value=ir.IntegerAttr.get(ix, v))
            p = make("llvm.inttoptr", [op.operands[0]], ptr)
            d = make("llvm.mlir.poison", [], desc)
            fields = [([0], p), ([1], p), ([2], const(0)),
                      ([3, 0], const(((1 << (index_bits - 1)) - 1) // esize)), ([4, 0], const(1))]
            for pos, v in fields:
                d = make("llvm.insertvalue", [d, v], desc, position=ir.DenseI64ArrayAttr.get(pos))
            m = make("builtin.unrealized_conversion_cast", [d], mt)
        op.results[0].replace_all_uses_with(m)
        op.erase()


def to_llvm_dialect(module, cx) -> None:
    define_helpers(module)
    if cx.target.hvx and cx.options.vectorize:
        from . import hvx
        hvx.aligned_loop_versions(module)                   # 128-byte aligned arguments: aligned vmem
    _raw_address_memrefs(module, cx.target.index_bits)
    noalias = {}
    if cx.target.hvx:
        from . import hvx
        noalias = hvx.noalias_positions(module)              # written arguments never overlap others
    for f in funcs(module):
        if "sym_visibility" not in f.attributes:
            f.attributes["llvm.emit_c_interface"] = ir.UnitAttr.get()
    if cx.target.scratchpad:              # memory space 1 comes only from the scratchpad stages (tcm-promote/stage)
        memspace.erase(module)
    asserts.lower(module, cx)             # cf.assert -> hx_assert_fail(id) on failure (runtime check)
    _copies_to_loops(module)
    _strided_slices_to_shuffles(module)
    if cx.target.runs_here:               # copies and scalar leftovers: loops LLVM need not unroll (clang time)
        from . import loop_hints
        loop_hints.linalg_to_loops_no_unroll(module)
    run_passes(module, ", ".join([
        "func.func(convert-linalg-to-loops)",
        "func.func(convert-vector-to-scf{full-unroll})",
        "func.func(lower-affine)",
        "expand-strided-metadata",
        "func.func(lower-affine)",
        "convert-scf-to-cf",
        "math-extend-to-supported-types",     # f16 tanh/exp/erf computed in f32 when not fast-math
        # bf16 arithmetic in f32, and f32<->bf16 conversions as integer ops: no compiler-rt builtins
        # (__truncsfbf2) are needed at load time on either target
        "arith-emulate-unsupported-floats{source-types=bf16 target-type=f32}",
        "arith-expand{include-bf16=true}",
        "canonicalize",
        "convert-math-to-llvm",               # intrinsics first; what is left (erf) becomes libm calls
        "convert-math-to-libm",
    ]), "lower-to-llvm")
    # n-D vectors become 1-D before the conversion, which handles only 1-D to_elements/from_elements: for an
    # n-D to_elements (canonicalize makes them of row-by-row built n-D masks, a partial tile's
    # vector<8x1x64xi1>) it extracts from the !llvm.array it converts the source to, which does not verify.
    apply_transform(module, """
    %f = transform.structured.match ops{["func.func"]} in %root : (!transform.any_op) -> !transform.any_op
    transform.apply_patterns to %f {
      transform.apply_patterns.vector.lower_transfer max_transfer_rank = 1
      transform.apply_patterns.vector.transfer_permutation_patterns
      transform.apply_patterns.vector.lower_broadcast
      transform.apply_patterns.vector.lower_shape_cast
      transform.apply_patterns.vector.lower_transpose
      transform.apply_patterns.vector.unroll_from_elements
      transform.apply_patterns.vector.unroll_to_elements
    } : !transform.any_op""", "lower-to-llvm")
    # One conversion with one type converter, so every dialect agrees on the index width
    # (the per-dialect passes do not all read the data layout; 32-bit Hexagon would be left with casts).
    apply_transform(module, f"""
    transform.apply_conversion_patterns to %root {{
      transform.apply_conversion_patterns.vector.vector_to_llvm
      transform.apply_conversion_patterns.dialect_to_llvm "memref"
      transform.apply_conversion_patterns.dialect_to_llvm "math"
      transform.apply_conversion_patterns.dialect_to_llvm "arith"
      transform.apply_conversion_patterns.dialect_to_llvm "index"
      transform.apply_conversion_patterns.dialect_to_llvm "cf"
      transform.apply_conversion_patterns.dialect_to_llvm "ub"
      transform.apply_conversion_patterns.func.func_to_llvm
    }} with type_converter {{
      transform.apply_conversion_patterns.memref.memref_to_llvm_type_converter {{index_bitwidth = {cx.target.index_bits}}}
    }} {{legal_dialects = ["llvm"], partial_conversion}} : !transform.any_op""", "lower-to-llvm",
                    consumes_root=True)
    run_passes(module, "reconcile-unrealized-casts", "lower-to-llvm")
    _buffers_from_runtime(module, cx)
    symbols.internalize(module, symbols.entry(cx.signature["name"]))
    _bool_vectors_as_bytes(module)
    if cx.target.hvx:
        _float_masked_as_ints(module)
        _loads_in_bounds(module, cx.target.index_bits)
    run_passes(module, "canonicalize, cse", "lower-to-llvm")
    if not cx.options.vectorize:
        _no_implicit_vectors(module)
    if cx.target.hvx:
        from . import hvx
        hvx.tcm_pointers(module, cx.target.index_bits)      # TCM buffers: noalias, 128-byte aligned
        hvx.reduction_trees(module)                          # horizontal reductions: vector trees
        hvx.requantize_narrowing(module)                     # requantize: vasr:rnd:sat, vpack:sat
        hvx.exact_loop_exits(module)                         # aligned_loop_versions' loops: hardware loops
        hvx.noalias_args(module, noalias)
        _odd_stores_in_bounds(module, cx.target.index_bits)  # after the last canonicalize (i1 constants)
    leftovers = set()

    def visit(op):
        if not op.name.startswith("llvm.") and op.name not in ("builtin.module",):
            leftovers.add(op.name)
        # math-extend-to-supported-types leaves arith fastmath flags on llvm.fpext/fptrunc; LLVM 22's
        # translator (no arith dialect) rejects them, and they carry no meaning there.
        for name in list(op.attributes):
            if str(op.attributes[name]).startswith("#arith."):
                del op.attributes[name]
    from ..ir import walk
    walk(module.operation, visit)
    if leftovers:
        raise CompileError(f"ops left after lowering to LLVM: {', '.join(sorted(leftovers))}",
                           stage="lower-to-llvm", op=sorted(leftovers)[0])


# memref.alloc / memref.dealloc lower to these libc calls; kernels call the runtime's instead.
_BUFFER_CALLS = {"malloc": "hx_buf_alloc", "free": "hx_buf_free"}


def _buffers_from_runtime(module, cx) -> None:
    """Intermediate buffers (memref.alloc / dealloc, lowered to malloc / free) come from the runtime's
    hx_buf_alloc / hx_buf_free, which keep large freed blocks for the next call: through libc they went back
    to the OS at every call and were page-faulted in again (docs/runtime.md, "Kernel buffers"). Nothing
    else in a kernel calls malloc or free: results are out-parameters, so no buffer escapes the call."""
    table = ir.SymbolTable(module.operation)
    found = False
    for old, new in _BUFFER_CALLS.items():
        if old not in table:
            continue
        if new in table:
            raise CompileError(f"the module already defines the runtime symbol {new}", stage="lower-to-llvm",
                               op="llvm.func")
        table.replace_all_symbol_uses(old, new, module.operation)
        ir.SymbolTable.set_symbol_name(table[old], new)
        found = True
    if found:
        cx.uses_runtime = True


def _no_implicit_vectors(module) -> None:
    """Scalar builds: every function `noimplicitfloat`, so the code generator does not expand a memset or
    memcpy (a zero fill) with vector registers either (clang's -mno-implicit-float does not reach
    functions given to it as LLVM IR)."""
    for op in module.body.operations:
        op = op.operation
        if op.name != "llvm.func" or not op.regions[0].blocks:
            continue
        old = [str(a).strip('"') for a in ir.ArrayAttr(op.attributes["passthrough"])] if "passthrough" in op.attributes else []
        if "noimplicitfloat" not in old:
            op.attributes["passthrough"] = ir.ArrayAttr.get([ir.StringAttr.get(a) for a in old + ["noimplicitfloat"]])


# op -> (index of the stored value operand or None, index of the pass-through operand or None, has result)
_MEMORY_OPS = {
    "llvm.load": (None, None, True),
    "llvm.store": (0, None, False),
    "llvm.intr.masked.load": (None, 2, True),
    "llvm.intr.masked.store": (0, None, False),
    "llvm.intr.masked.gather": (None, 2, True),
    "llvm.intr.masked.scatter": (0, None, False),
}


def _data_type(op):
    """The type of the data a memory op moves (its result, or its stored value; never the mask)."""
    value, _, has_result = _MEMORY_OPS[op.name]
    return op.results[0].type if has_result else op.operands[value].type


def _retype_access(op, bits: int, to_mem, from_mem) -> None:
    """Re-create vector memory op `op` moving integers of `bits` per element instead of its data type:
    `to_mem(v, mem_type)` converts the stored value and the pass-through before it, `from_mem(r, data_type)`
    converts a loaded result back."""
    value, passthru, has_result = _MEMORY_OPS[op.name]
    data = _data_type(op)
    operands = list(op.operands)
    with ir.InsertionPoint(op), op.location:
        mem_type = _with_width(data, bits)
        for i in (value, passthru):
            if i is not None and i < len(operands) and operands[i].type == data:
                operands[i] = to_mem(operands[i], mem_type)
        new = ir.Operation.create(op.name, results=[mem_type] if has_result else [], operands=operands,
                                  attributes={a: op.attributes[a] for a in op.attributes})
        if has_result:
            op.results[0].replace_all_uses_with(from_mem(new.results[0], data))
    op.erase()


def _bool_vectors_as_bytes(module) -> None:
    """i1 in memory is one byte per element (numpy/torch bool, and what a scalar `llvm.load i1` reads).
    LLVM stores `<N x i1>` bit-packed, so every vector memory access of i1 goes through `<N x i8>` with
    zext before a store and trunc after a load; vectorized and scalar code then agree on the layout."""
    from ..ir import walk
    found = []

    def visit(op):
        if op.name not in _MEMORY_OPS:
            return
        data = _data_type(op)
        if _is_bool_vector(data):
            found.append(op)
        elif "xi1>" in str(data):                                                  # e.g. an array of them
            raise CompileError(f"{op.name} of {data}: no byte-per-element form for i1 in memory",
                               stage="lower-to-llvm", op=op.name)
    walk(module.operation, visit)
    for op in found:
        _retype_access(op, 8, lambda v, t: _cast("llvm.zext", v, 8), lambda r, t: _cast("llvm.trunc", r, 1))


def _float_masked_as_ints(module) -> None:
    """Masked loads and stores of float vectors go through same-width integer vectors (bitcasts).

    Without HVX float (the hexagon-sim build) LLVM-22 scalarizes a float masked load/store and turns its
    `<N x i1>` mask into an integer bitmask one bit per predicate *byte*, not per lane: a `vector<32xf32>`
    store with n lanes on writes 4n lanes, past the row's end (docs/simulation.md). Integer vectors of the
    same width are legal HVX types and lower to predicated `vmem` stores; the bitcasts cost nothing."""
    from ..ir import walk
    found = []

    def visit(op):
        if op.name in ("llvm.intr.masked.load", "llvm.intr.masked.store"):
            data = _data_type(op)
            if isinstance(data, ir.VectorType) and isinstance(ir.VectorType(data).element_type, ir.FloatType):
                found.append(op)
    walk(module.operation, visit)

    def bitcast(v, t):
        return ir.Operation.create("llvm.bitcast", results=[t], operands=[v]).results[0]
    for op in found:
        bits = ir.FloatType(ir.VectorType(_data_type(op)).element_type).width
        _retype_access(op, bits, bitcast, bitcast)


HVX_BYTES = 128
HVX_WIDEN_BYTES = 16          # LLVM widens vectors of at least this many bytes to whole HVX vectors
VALIGN = "llvm.hexagon.V6.valignb.128B"       # Vd = (Vu:Vv) >> 8*(Rt & 127): Vu the high vector
_SAFE_BLOCK = "hx_masked_load_dummy"


def _load_bytes(op) -> tuple[int, int] | None:
    """(lanes, bytes per lane) of a vector load _loads_in_bounds rewrites, else None."""
    if op.name not in ("llvm.load", "llvm.intr.masked.load") or not isinstance(op.results[0].type, ir.VectorType):
        return None
    t = ir.VectorType(op.results[0].type)
    et = t.element_type
    if t.rank != 1 or not isinstance(et, (ir.IntegerType, ir.FloatType)) or et.width % 8:
        return None
    esize, lanes = et.width // 8, t.shape[0]
    align = ir.IntegerAttr(op.attributes["alignment"]).value if "alignment" in op.attributes else 1
    nbytes = lanes * esize
    if align >= HVX_BYTES or HVX_BYTES % esize or "volatile_" in op.attributes:
        return None
    if op.name == "llvm.load" and (nbytes % HVX_BYTES == 0 or nbytes < HVX_WIDEN_BYTES):
        return None             # whole vectors, or not widened: LLVM reads only the bytes asked for
    return lanes, esize


VMUX = "llvm.hexagon.V6.vmux.128B"             # Vd = Q ? Vu : Vv, Q one bit per byte


def _llvm(name, operands, rtype, **attrs):
    """An LLVM-dialect op at the current insertion point; its results."""
    return ir.Operation.create(name, results=[rtype] if rtype else [], operands=operands,
                               attributes=attrs).results


def _llvm_const(t, v):
    return _llvm("llvm.mlir.constant", [], t, value=ir.Attribute.parse(f"{v} : {t}"))[0]


def _llvm_binop(name, a, b):
    return _llvm(name, [a, b], a.type)[0]


def _vmux(mask, on, off, per: int, esize: int, make, const):
    """select(mask, on, off) per 128-byte piece through the HVX vmux intrinsic, with the lane mask widened to
    a byte predicate. A plain select with a mask LLVM folds to a constant becomes a shuffle with zeros, and
    LLVM-22's HVX instruction selection crashes on some of those combined with the int8 matmul's
    interleaving shuffles."""
    i1, i8, i32 = (ir.IntegerType.get_signless(b) for b in (1, 8, 32))
    t = ir.VectorType(on.type)
    n = t.shape[0]
    words = ir.VectorType.get([HVX_BYTES // 4], i32)
    lanes_t = ir.VectorType.get([n], ir.IntegerType.get_signless(8 * esize))
    wide = ir.VectorType.get([n * esize // 4], i32)
    m = make("llvm.bitcast", [make("llvm.sext", [mask], lanes_t)[0]], wide)[0]
    a = make("llvm.bitcast", [on], wide)[0]
    b = make("llvm.bitcast", [off], wide)[0]
    out = None
    for c in range(n // per):
        idx = list(range(c * HVX_BYTES // 4, (c + 1) * HVX_BYTES // 4))

        def piece(v):
            return v if n == per else make("llvm.shufflevector", [v, v], words, mask=ir.DenseI32ArrayAttr.get(idx))[0]
        mb = make("llvm.bitcast", [piece(m)], ir.VectorType.get([HVX_BYTES], i8))[0]
        q = make("llvm.icmp", [mb, const(ir.VectorType.get([HVX_BYTES], i8), "dense<0>")],
                 ir.VectorType.get([HVX_BYTES], i1), predicate=ir.IntegerAttr.get(ir.IntegerType.get_signless(64), 1))[0]
        r = make("llvm.call_intrinsic", [q, piece(a), piece(b)], words, intrin=ir.StringAttr.get(VMUX),
                 op_bundle_sizes=ir.DenseI32ArrayAttr.get([]), operandSegmentSizes=ir.DenseI32ArrayAttr.get([3, 0]))[0]
        if out is None:
            out = r
        else:
            k = ir.VectorType(out.type).shape[0]
            if k != HVX_BYTES // 4:
                r = make("llvm.shufflevector", [r, r], out.type, mask=ir.DenseI32ArrayAttr.get(
                    list(range(HVX_BYTES // 4)) + [-1] * (k - HVX_BYTES // 4)))[0]
            out = make("llvm.shufflevector", [out, r], ir.VectorType.get([k + HVX_BYTES // 4], i32),
                       mask=ir.DenseI32ArrayAttr.get(list(range(k + HVX_BYTES // 4))))[0]
    return make("llvm.bitcast", [out], t)[0]


def _loads_in_bounds(module, index_bits: int) -> None:
    """Vector loads on HVX that read only the 128-byte blocks holding bytes they load.

    LLVM-22 reads past a load's last byte in three ways: a masked load of an HVX vector becomes a full
    unaligned `vmemu` and a select (a tail load reads up to 127 bytes past the last active lane), a short
    masked load (`<4 x i8>`) is scalarized with lanes that are off loaded too, and a load
    of a vector that is not whole HVX vectors (the vectorizer's static remainder, `<104 x i8>`) is widened
    to whole vectors. Past the end of the buffer that faults when it ends at a page boundary
    (tests/test_hexagon_guard.py). Here each 128-byte piece of such a load becomes two aligned loads, of the
    blocks holding its first and last active byte (one block twice when they share it), a `valign` and a
    select; an aligned block that holds an active byte cannot cross a page. A piece with no active lane
    reads a zero constant block. A plain load is a masked one whose mask is its lanes (constants fold).
    Loads stated 128-byte aligned stay as they are."""
    from ..ir import walk
    found = []

    def visit(op):
        if _load_bytes(op) is not None:
            found.append(op)
    walk(module.operation, visit)
    if not found:
        return
    ix = ir.IntegerType.get_signless(index_bits)
    i1, i32 = ir.IntegerType.get_signless(1), ir.IntegerType.get_signless(32)
    ptr = ir.Type.parse("!llvm.ptr")
    words = ir.VectorType.get([HVX_BYTES // 4], i32)
    g = ir.Operation.parse(f"llvm.mlir.global internal constant @{_SAFE_BLOCK}(dense<0> : {words}) "
                           f"{{addr_space = 0 : i32, alignment = {HVX_BYTES} : i64}} : {words}")
    ir.InsertionPoint.at_block_begin(module.body).insert(g)

    make, const, binop = _llvm, _llvm_const, _llvm_binop

    def shuffle(a, b, idx, t):
        return make("llvm.shufflevector", [a, b], t, mask=ir.DenseI32ArrayAttr.get(idx))[0]

    def piece(p, mask, lanes, esize, safe, active=None):
        """The 128 bytes at p, lanes of `esize` bytes, read from the blocks holding mask's first and last
        active lanes (lanes that are off hold anything); `active`: those lanes' (first, end) as constants,
        instead of a mask."""
        if active is not None:
            first, end = (const(ix, v) for v in active)
        else:
            lt = ir.VectorType.get([lanes], ir.IntegerType.get_signless(8 * esize))  # 0..lanes fits (unsigned)
            iota = const(lt, f"dense<[{', '.join(map(str, range(lanes)))}]>")
            iota1 = const(lt, f"dense<[{', '.join(map(str, range(1, lanes + 1)))}]>")
            end = make("llvm.intr.vector.reduce.umax",
                       [make("llvm.select", [mask, iota1, const(lt, "dense<0>")], lt)[0]], lt.element_type)[0]
            first = make("llvm.intr.vector.reduce.umin",
                         [make("llvm.select", [mask, iota, const(lt, f"dense<{lanes}>")], lt)[0]], lt.element_type)[0]
            if esize * 8 < index_bits:
                end, first = (make("llvm.zext", [v], ix)[0] for v in (end, first))
        pi = make("llvm.ptrtoint", [p], ix)[0]
        e, down = const(ix, esize), const(ix, -HVX_BYTES)
        lo = binop("llvm.and", binop("llvm.add", pi, binop("llvm.mul", first, e)), down)
        hi = binop("llvm.and", binop("llvm.add", pi, binop("llvm.sub", binop("llvm.mul", end, e), const(ix, 1))),
                   down)
        none = make("llvm.icmp", [end, const(ix, 0)], i1,
                    predicate=ir.IntegerAttr.get(ir.IntegerType.get_signless(64), 0))[0]            # eq
        vals = []
        for a in (lo, hi):
            a = make("llvm.select", [none, safe, a], ix)[0]
            vals.append(make("llvm.load", [make("llvm.inttoptr", [a], ptr)[0]], words,
                             alignment=ir.IntegerAttr.get(ir.IntegerType.get_signless(64), HVX_BYTES))[0])
        shift = binop("llvm.and", pi, const(ix, HVX_BYTES - 1))
        if index_bits != 32:
            shift = make("llvm.trunc", [shift], i32)[0]
        return make("llvm.call_intrinsic", [vals[1], vals[0], shift], words, intrin=ir.StringAttr.get(VALIGN),
                    op_bundle_sizes=ir.DenseI32ArrayAttr.get([]),
                    operandSegmentSizes=ir.DenseI32ArrayAttr.get([3, 0]))[0]

    for op in found:
        lanes, esize = _load_bytes(op)
        t = ir.VectorType(op.results[0].type)
        per = HVX_BYTES // esize                                    # lanes per piece
        padded = -(-lanes // per) * per
        pt = ir.VectorType.get([padded], t.element_type)
        mt = ir.VectorType.get([padded], i1)
        with ir.InsertionPoint(op), op.location:
            p = op.operands[0]
            if op.name == "llvm.load":
                mask = None
            elif padded == lanes:
                mask = op.operands[1]
            else:                   # lanes past the load's: the false constant's first lane
                m0 = op.operands[1]
                off = const(ir.VectorType.get([lanes], i1), "dense<false>")
                mask = shuffle(m0, off, list(range(lanes)) + [lanes] * (padded - lanes), mt)
            safe = make("llvm.ptrtoint", [make("llvm.mlir.addressof", [], ptr,
                                               global_name=ir.FlatSymbolRefAttr.get(_SAFE_BLOCK))[0]], ix)[0]
            ct = ir.VectorType.get([per], i1)
            pieces = []
            for c in range(padded // per):
                mc = mask if padded == per or mask is None else shuffle(mask, mask, list(range(c * per, (c + 1) * per)), ct)
                pc = p if c == 0 else make("llvm.getelementptr", [p], ptr,
                                           rawConstantIndices=ir.DenseI32ArrayAttr.get([c * HVX_BYTES]),
                                           elem_type=ir.TypeAttr.get(ir.IntegerType.get_signless(8)))[0]
                pieces.append(piece(pc, mc, per, esize, safe,
                                    None if mask is not None else (0, min(per, lanes - c * per))))
            v = pieces[0]
            for b in pieces[1:]:                # concatenated (shufflevector takes operands of one type)
                na = ir.VectorType(v.type).shape[0]
                if na != per * esize // 4:
                    b = shuffle(b, b, list(range(HVX_BYTES // 4)) + [-1] * (na - HVX_BYTES // 4), v.type)
                v = shuffle(v, b, list(range(na + HVX_BYTES // 4)), ir.VectorType.get([na + HVX_BYTES // 4], i32))
            v = make("llvm.bitcast", [v], pt)[0]
            if op.name == "llvm.intr.masked.load":
                pass_t = op.operands[2]
                if padded != lanes:
                    pass_t = shuffle(pass_t, pass_t, list(range(lanes)) + [0] * (padded - lanes), pt)
                v = _vmux(mask, v, pass_t, per, esize, make, const)
            if padded != lanes:
                v = shuffle(v, v, list(range(lanes)), t)
            op.results[0].replace_all_uses_with(v)
        op.erase()


VLALIGN = "llvm.hexagon.V6.vlalignb.128B"     # Vd = (Vu:Vv) << 8*(Rt & 127), the top 128 bytes: Vu the high


def _odd_stores_in_bounds(module, index_bits: int) -> None:
    """Stores on HVX of vectors that are not whole HVX vectors (the vectorizer's static remainder,
    `<104 x i8>`) as two predicated stores to the aligned blocks holding their first and last byte.

    LLVM-22 widens such a store to whole vectors and its HVX realignment then loads and stores back the
    aligned block after the last one that holds a stored byte (`if (p0) v0 = vmem(r0); if (p0) vmem(r0) =
    v0.new`): past the end of the buffer (a fault at a page boundary, tests/test_hexagon_guard.py), and a
    write another thread may race with. Runs after the last canonicalization: the byte masks are compares of
    constants, folded by LLVM (MLIR's i1 constants do not survive mlir-translate-22)."""
    from ..ir import walk
    found = []

    def visit(op):
        if op.name != "llvm.store" or "volatile_" in op.attributes:
            return
        t = op.operands[0].type
        if not isinstance(t, ir.VectorType):
            return
        t = ir.VectorType(t)
        et = t.element_type
        if t.rank != 1 or not isinstance(et, (ir.IntegerType, ir.FloatType)) or et.width % 8:
            return
        nbytes = t.shape[0] * et.width // 8
        align = ir.IntegerAttr(op.attributes["alignment"]).value if "alignment" in op.attributes else 1
        if align < HVX_BYTES and nbytes >= HVX_WIDEN_BYTES and nbytes % HVX_BYTES and HVX_BYTES % (et.width // 8) == 0:
            found.append(op)
    walk(module.operation, visit)
    ix = ir.IntegerType.get_signless(index_bits)
    i1, i8, i32 = (ir.IntegerType.get_signless(b) for b in (1, 8, 32))
    ptr = ir.Type.parse("!llvm.ptr")
    words = ir.VectorType.get([HVX_BYTES // 4], i32)
    bytes_t = ir.VectorType.get([HVX_BYTES], i8)
    mask_t = ir.VectorType.get([HVX_BYTES], i1)

    make, const, binop = _llvm, _llvm_const, _llvm_binop

    def vlalign(hi, lo, sh):
        return make("llvm.call_intrinsic", [hi, lo, sh], words, intrin=ir.StringAttr.get(VLALIGN),
                    op_bundle_sizes=ir.DenseI32ArrayAttr.get([]),
                    operandSegmentSizes=ir.DenseI32ArrayAttr.get([3, 0]))[0]

    def masked_store(v, addr, m):
        make("llvm.intr.masked.store", [v, make("llvm.inttoptr", [addr], ptr)[0], m], None,
             alignment=ir.IntegerAttr.get(i32, HVX_BYTES))

    for op in found:
        val, p = op.operands[0], op.operands[1]
        t = ir.VectorType(val.type)
        esize = t.element_type.width // 8
        lanes, nbytes = t.shape[0], t.shape[0] * esize
        per = HVX_BYTES // esize
        padded = -(-lanes // per) * per
        with ir.InsertionPoint(op), op.location:
            v = make("llvm.shufflevector", [val, val], ir.VectorType.get([padded], t.element_type),
                     mask=ir.DenseI32ArrayAttr.get(list(range(lanes)) + [-1] * (padded - lanes)))[0]
            v = make("llvm.bitcast", [v], ir.VectorType.get([padded * esize // 4], i32))[0]
            iota = const(bytes_t, f"dense<[{', '.join(map(str, range(HVX_BYTES)))}]>")
            zero = const(words, "dense<0>")
            for c in range(padded // per):
                k = min(HVX_BYTES, nbytes - c * HVX_BYTES)              # bytes this piece stores
                x = v if padded == per else make("llvm.shufflevector", [v, v], words, mask=ir.DenseI32ArrayAttr.get(
                    list(range(c * HVX_BYTES // 4, (c + 1) * HVX_BYTES // 4))))[0]
                on = make("llvm.icmp", [iota, make("llvm.mlir.constant", [], bytes_t,
                                                   value=ir.Attribute.parse(f"dense<{k if k < 128 else 127}> : {bytes_t}"))[0]],
                          mask_t, predicate=ir.IntegerAttr.get(ir.IntegerType.get_signless(64), 6 if k < 128 else 7))[0]
                m8 = make("llvm.select", [on, const(bytes_t, "dense<-1>"), const(bytes_t, "dense<0>")], bytes_t)[0]
                m = make("llvm.bitcast", [m8], words)[0]
                pc = p if c == 0 else make("llvm.getelementptr", [p], ptr,
                                           rawConstantIndices=ir.DenseI32ArrayAttr.get([c * HVX_BYTES]),
                                           elem_type=ir.TypeAttr.get(i8))[0]
                pi = make("llvm.ptrtoint", [pc], ix)[0]
                down = const(ix, -HVX_BYTES)
                lo = binop("llvm.and", pi, down)
                hi = binop("llvm.and", binop("llvm.add", pi, const(ix, k - 1)), down)
                sh = binop("llvm.and", pi, const(ix, HVX_BYTES - 1))
                if index_bits != 32:
                    sh = make("llvm.trunc", [sh], i32)[0]
                for addr, (a, b) in ((lo, (x, zero)), (hi, (zero, x))):
                    data = vlalign(a, b, sh)
                    mb = make("llvm.bitcast", [vlalign(*((m, zero) if a is x else (zero, m)), sh)], bytes_t)[0]
                    mq = make("llvm.icmp", [mb, const(bytes_t, "dense<0>")], mask_t,
                              predicate=ir.IntegerAttr.get(ir.IntegerType.get_signless(64), 1))[0]      # ne
                    masked_store(make("llvm.bitcast", [data], bytes_t)[0], addr, mq)
        op.erase()


def _is_bool_vector(t) -> bool:
    return isinstance(t, ir.VectorType) and ir.VectorType(t).element_type == ir.IntegerType.get_signless(1)


def _with_width(t, bits):
    return ir.VectorType.get(ir.VectorType(t).shape, ir.IntegerType.get_signless(bits))


def _cast(name, v, bits):
    return ir.Operation.create(name, results=[_with_width(v.type, bits)], operands=[v]).results[0]


def _copies_to_loops(module) -> None:
    """memref.copy between non-contiguous (strided, dynamic) views lowers to a call of `memrefCopy` from
    MLIR's C runner utils, which kernels do not link; as linalg.copy it becomes a loop nest instead."""
    from torch_mlir.dialects import linalg

    from ..ir import ops_named
    for op in ops_named(module.operation, "memref.copy"):
        with ir.InsertionPoint(op):
            linalg.copy(op.operands[0], outs=[op.operands[1]])
        op.erase()


def to_llvm_ir(module, cx) -> str:
    """Translate the LLVM-dialect module to LLVM IR text with mlir-translate-22.

    The in-process translator segfaults on malformed input and prints LLVM-24 float syntax that
    llc-22/clang-22 reject; the out-of-process LLVM-22 tool does neither.
    """
    import subprocess
    from ..targets.tools import tool
    verify(module, "translate")
    text = module.operation.get_asm(enable_debug_info=False)
    r = subprocess.run([tool("mlir-translate"), "--mlir-to-llvmir"], input=text, capture_output=True, text=True)
    if r.returncode != 0:
        raise CompileError(f"mlir-translate failed: {r.stderr.strip()[:2000]}", stage="translate")
    from .threads import launchers
    return launchers(r.stdout, cx.target.index_bits)
