"""The reference JIT: a Linalg/memref/vector module lowered by upstream MLIR passes alone and run in this
process by MLIR's ExecutionEngine.

It is the oracle the compiler's kernels are compared with (kernels.linalg_suite.run_naive) and the harness
that measures the fast-math rewrite (tools/fast_math_accuracy.py). It deliberately shares nothing with the
compiler's lowering (transforms/lower.py, used by both the kernel and the grid pipeline): a bug there must
not be repeated by the reference it is checked against.

Notes (the LLVM bindings in the torch-mlir wheel):
 * buffer-results-to-out-params leaves *public* functions alone unless `modify-public-functions` is set;
   without it the ciface returns a freshly malloc'ed result and the caller's out buffers stay untouched.
 * math-to-llvm must run before math-to-libm: libm has no `rsqrtf` (math-to-llvm expands rsqrt to
   1/sqrt); tanh/exp/sqrt become LLVM intrinsics, erf & co. become libm calls (erff, ...).
 * libm has no f16 entry points: math-extend-to-supported-types computes f16 math ops in f32 first. Plain
   f16 arith lowers to LLVM `half` and runs on x86 (F16C) without extra runtime libraries.
 * no `shared_libs` are needed: malloc/free and libm symbols resolve from the host (Python) process.
"""
from __future__ import annotations

PASSES = (
    "one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map}",
    "buffer-results-to-out-params{hoist-static-allocs modify-public-functions}",
    "buffer-deallocation-pipeline",          # frees the intermediates (no leak per call)
    "func.func(convert-linalg-to-loops)",
    "convert-bufferization-to-memref",
    "convert-vector-to-scf",
    "math-extend-to-supported-types",
    "convert-math-to-llvm",
    "convert-math-to-libm",
    "convert-scf-to-cf",
    "expand-strided-metadata",
    "lower-affine",
    "convert-vector-to-llvm",
    "finalize-memref-to-llvm",
    "convert-arith-to-llvm",
    "convert-func-to-llvm",
    "convert-cf-to-llvm",
    "reconcile-unrealized-casts",
)
PIPELINE = f"builtin.module({','.join(PASSES)})"


def lower(module) -> None:
    """Lower `module` (tensors or memrefs; the functions to call marked llvm.emit_c_interface) to the LLVM
    dialect, in place. Call inside the module's context."""
    from torch_mlir import passmanager
    passmanager.PassManager.parse(PIPELINE).run(module.operation)


def engine(module, opt_level: int = 2):
    """lower() then an ExecutionEngine for `module`."""
    from torch_mlir.execution_engine import ExecutionEngine
    lower(module)
    return ExecutionEngine(module, opt_level=opt_level)


def invoke(eng, name: str, arrays) -> None:
    """Call function `name` (C interface) on numpy arrays passed as memrefs; the arrays must stay alive
    (and C-contiguous) for the call: the descriptors point at their memory."""
    import ctypes

    from torch_mlir.runtime import get_ranked_memref_descriptor
    descs = [get_ranked_memref_descriptor(a) for a in arrays]
    eng.invoke(name, *[ctypes.pointer(ctypes.pointer(d)) for d in descs])
