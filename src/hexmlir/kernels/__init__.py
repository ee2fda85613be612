"""Kernel suites hexmlir is tested and benchmarked on."""

from hexmlir.kernels.linalg_suite import (
    SUITE,
    LinalgKernel,
    count_linalg_ops,
    gelu_tanh,
    matmul,
    rmsnorm,
    row_sum,
    run_naive,
    silu,
    softmax_rows,
    vector_add,
    vector_add_2d,
)

__all__ = [
    "SUITE",
    "LinalgKernel",
    "count_linalg_ops",
    "gelu_tanh",
    "matmul",
    "rmsnorm",
    "row_sum",
    "run_naive",
    "silu",
    "softmax_rows",
    "vector_add",
    "vector_add_2d",
]
