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
    apply_transform(module, """
    %f = transform.structured.match ops{["func.func"]} in %root : (!transform.any_op) -> !transform.any_op
    transform.apply_patterns to %f {
      transform.apply_patterns.vector.lower_transfer max_transfer_rank = 1
      transform.apply_patterns.vector.transfer_permutation_patterns
      transform.apply_patterns.vector.lower_broadcast
      transform.apply_patterns.vector.lower_shape_cast
      transform.apply_patterns.vector.lower_transpose
      transform.apply_patterns.vector.unroll_from_elements
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
    run_passes(module, "canonicalize, cse", "lower-to-llvm")
    if not cx.options.vectorize:
        _no_implicit_vectors(module)
    if cx.target.hvx:
        from . import hvx
        hvx.tcm_pointers(module, cx.target.index_bits)      # TCM buffers: noalias, 128-byte aligned
        hvx.reduction_trees(module)                          # horizontal reductions: vector trees
        hvx.noalias_args(module, noalias)
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
