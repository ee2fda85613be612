"""Lowering: remaining linalg (copies, scalar remainders) -> loops, then everything -> LLVM dialect -> LLVM IR.

The index width comes from the target (64-bit host, 32-bit Hexagon). Public functions get a C interface
(`_mlir_ciface_<name>`, one pointer per memref descriptor) which is what the artifact loader calls.
"""
from __future__ import annotations

from torch_mlir import ir

from ..errors import CompileError
from ..ir import funcs, run_passes, verify
from . import memspace


def to_loops(module, cx) -> None:
    run_passes(module, "func.func(convert-linalg-to-loops), canonicalize, cse", "lower-loops")


def to_llvm_dialect(module, cx) -> None:
    for f in funcs(module):
        if "sym_visibility" not in f.attributes:
            f.attributes["llvm.emit_c_interface"] = ir.UnitAttr.get()
    memspace.erase(module)
    ib = cx.target.index_bits
    run_passes(module, ", ".join([
        "func.func(convert-linalg-to-loops)",
        "func.func(convert-vector-to-scf{full-unroll})",
        "func.func(lower-affine)",
        "expand-strided-metadata",
        "func.func(lower-affine)",
        "convert-scf-to-cf",
        "canonicalize",
        f"convert-vector-to-llvm",
        f"finalize-memref-to-llvm{{index-bitwidth={ib}}}",
        "convert-math-to-llvm",
        "convert-math-to-libm",
        f"convert-arith-to-llvm{{index-bitwidth={ib}}}",
        f"convert-index-to-llvm{{index-bitwidth={ib}}}",
        f"convert-cf-to-llvm{{index-bitwidth={ib}}}",
        f"convert-func-to-llvm{{index-bitwidth={ib}}}",
        "convert-ub-to-llvm",
        "reconcile-unrealized-casts",
        "canonicalize", "cse",
    ]), "lower-to-llvm")
    leftovers = set()

    def visit(op):
        if not op.name.startswith("llvm.") and op.name not in ("builtin.module",):
            leftovers.add(op.name)
    from ..ir import walk
    walk(module.operation, visit)
    if leftovers:
        raise CompileError(f"ops left after lowering to LLVM: {', '.join(sorted(leftovers))}",
                           stage="lower-to-llvm", op=sorted(leftovers)[0])


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
    return r.stdout
