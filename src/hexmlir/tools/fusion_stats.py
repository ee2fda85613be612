"""Fusion, counted (docs/torch.md): kernels and DDR intermediates of a module after bufferization, the
numbers tests/test_fusion_counts.py pins for fusion on and off."""
from torch_mlir import ir

from ..ir import funcs

_LOOP_NESTS = ("scf.forall", "scf.for", "scf.parallel", "memref.copy")


def count(module) -> dict:
    """Kernels and DDR intermediates of a bufferized module (the IR right after the bufferize stage, before
    threads outlines anything and before vectorization).

    kernels: loop nests at the top level of the function body, each one pass over its operands: linalg ops
      (a generic, or a fill/copy) and tile loops (scf.forall/for with fused producers inside) and copies.
    ddr_intermediates: memref.alloc at the top level in the default memory space: full-size buffers one
      kernel writes and a later one reads back from DDR (function results are out-parameters, not allocs;
      tile-local buffers live inside the tile loops)."""
    kernels = ddr = 0
    for f in funcs(module):
        for op in f.regions[0].blocks[0].operations:
            name = op.operation.name
            if name.startswith("linalg.") or name in _LOOP_NESTS:
                kernels += 1
            elif name == "memref.alloc" and ir.MemRefType(op.result.type).memory_space is None:
                ddr += 1
    return {"kernels": kernels, "ddr_intermediates": ddr}


def stats(source, options=None) -> dict:
    """count() for a Linalg module (text) compiled with `options`: runs the pipeline up to bufferize."""
    from .. import ir as hir
    from .. import pipeline, targets
    from ..options import Options
    options = options or Options()
    with hir.context(), hir.ir.Location.unknown():
        module = hir.parse(str(source))
        pipeline.run(module, options, targets.get(options.target, options.arch, options.isa), until="bufferize")
        return count(module)
