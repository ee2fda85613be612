"""Lowering: remaining linalg (copies, scalar remainders) -> loops, then everything -> LLVM dialect -> LLVM IR.

The index width comes from the target (64-bit host, 32-bit Hexagon). Public functions get a C interface
(`_mlir_ciface_<name>`, one pointer per memref descriptor) which is what the artifact loader calls.
"""
from __future__ import annotations

from torch_mlir import ir

from ..errors import CompileError
from ..ir import apply_transform, funcs, run_passes, verify
from . import asserts, memspace


def to_loops(module, cx) -> None:
    run_passes(module, "func.func(convert-linalg-to-loops), canonicalize, cse", "lower-loops")


def to_llvm_dialect(module, cx) -> None:
    for f in funcs(module):
        if "sym_visibility" not in f.attributes:
            f.attributes["llvm.emit_c_interface"] = ir.UnitAttr.get()
    memspace.erase(module)
    asserts.lower(module, cx)             # cf.assert -> hx_assert_fail(id) on failure (runtime check)
    _copies_to_loops(module)
    run_passes(module, ", ".join([
        "func.func(convert-linalg-to-loops)",
        "func.func(convert-vector-to-scf{full-unroll})",
        "func.func(lower-affine)",
        "expand-strided-metadata",
        "func.func(lower-affine)",
        "convert-scf-to-cf",
        "math-extend-to-supported-types",     # f16 tanh/exp/erf computed in f32 when not fast-math
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
    run_passes(module, "reconcile-unrealized-casts, canonicalize, cse", "lower-to-llvm")
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
