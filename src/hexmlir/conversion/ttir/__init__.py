"""TTIR -> Linalg-on-tensors (with memref arguments): one Triton kernel becomes one function that runs its grid.

    reader.py     reading TTIR through the MLIR Python bindings (ops, operands, types, attributes)
    forms.py      the abstract values tracked per SSA value, and the MLIR text emitter
    pointers.py   pointer/mask analysis: affine pointer blocks and range masks, the accesses each form becomes
    converter.py  the converter's state, block walking, dispatch by op name, shared emission helpers
    ops/          one function per op family, registered by op name (ops.OPS)
    kernel.py     the module: signature, grid (`scf.forall` over programs), helper declarations

Pointer analysis keeps pointer tensors affine where it can: loads become strided `memref.reinterpret_cast`
views copied into a local buffer (bounded by the mask, the rest filled with `other`), stores become
`bufferization.materialize_in_destination` into bounded subviews. Anything else (computed indices, masks
that are not per-dimension ranges) becomes a gather generic or a scatter loop.
"""
from .kernel import GRID_ATTR, ConvertedKernel, convert_ttir, is_grid
from .reader import ttir_text

__all__ = ["GRID_ATTR", "ConvertedKernel", "convert_ttir", "is_grid", "ttir_text"]
