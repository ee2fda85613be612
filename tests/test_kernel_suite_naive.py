"""The Linalg kernel suite, checked through the naive lower-to-loops + JIT oracle.

Independent of hexmlir's compiler: every kernel's MLIR is run with
``run_naive`` on fresh random inputs (no fixed seed) and compared with its
numpy reference.
"""

import numpy as np
import pytest

pytest.importorskip("torch_mlir")

from torch_mlir import ir  # noqa: E402

from hexmlir.kernels import (  # noqa: E402
    SUITE,
    LinalgKernel,
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
from conftest import current_seed  # noqa: E402

DTYPES = ["float32", "float16"]
# (rtol, atol); atol is scaled by max(1, max|reference|) so reductions with
# cancellation and large-magnitude outputs get an absolute error budget.
TOL = {"float32": (1e-5, 1e-6), "float16": (1e-2, 1e-3)}

SIZES_1D = [1, 31, 33, 1000]
SHAPES_2D = [(1, 1), (7, 1001), (33, 31)]
MATMUL_SHAPES = [(1, 1, 1), (33, 17, 65), (64, 64, 64)]


def _check(kernel: LinalgKernel) -> None:
    rng = np.random.default_rng(current_seed())
    inputs = kernel.random_inputs(rng)
    for arr, (shape, dtype) in zip(inputs, kernel.inputs):
        assert arr.shape == tuple(shape) and arr.dtype == np.dtype(dtype)
    got = run_naive(kernel, inputs)
    ref = kernel.reference(*inputs)
    assert len(got) == len(ref) == len(kernel.outputs)
    for g, r, (shape, dtype) in zip(got, ref, kernel.outputs):
        assert g.shape == r.shape == tuple(shape)
        assert g.dtype == r.dtype == np.dtype(dtype)
        rtol, atol = TOL[dtype]
        r64 = r.astype(np.float64)
        scale = max(1.0, float(np.max(np.abs(r64))))
        np.testing.assert_allclose(
            g.astype(np.float64), r64, rtol=rtol, atol=atol * scale,
            err_msg=f"{kernel.name} {dtype} {kernel.inputs}",
        )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", SIZES_1D)
@pytest.mark.parametrize("builder", [vector_add, lambda n, d: gelu_tanh((n,), d), lambda n, d: silu((n,), d)],
                         ids=["vector_add", "gelu", "silu"])
def test_elementwise_1d(builder, n, dtype):
    _check(builder(n, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES_2D, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("builder", [vector_add_2d, softmax_rows, rmsnorm, row_sum],
                         ids=["vector_add_2d", "softmax", "rmsnorm", "row_sum"])
def test_rows_2d(builder, shape, dtype):
    _check(builder(*shape, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("builder", [gelu_tanh, silu], ids=["gelu", "silu"])
def test_elementwise_nd(builder, dtype):
    _check(builder((7, 1001), dtype))
    _check(builder((2, 3, 5), dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mnk", MATMUL_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_matmul(mnk, dtype):
    _check(matmul(*mnk, dtype))


def _linalg_ops(kernel: LinalgKernel) -> list[str]:
    ctx = ir.Context()
    module = ir.Module.parse(kernel.mlir, ctx)
    names = []
    for op in module.body.operations:
        for region in op.regions:
            for block in region.blocks:
                names += [o.operation.name for o in block.operations if o.operation.name.startswith("linalg.")]
    return names


def test_gelu_is_an_unfused_chain():
    names = _linalg_ops(gelu_tanh((33,)))
    compute = [n for n in names if n != "linalg.fill"]
    assert len(compute) >= 6, names
    assert "linalg.generic" in names and "linalg.mul" in names and "linalg.add" in names


def test_softmax_and_rmsnorm_use_reductions_and_broadcasts():
    sm = _linalg_ops(softmax_rows(7, 1001))
    assert "linalg.reduce" in sm and "linalg.broadcast" in sm and "linalg.exp" in sm and "linalg.div" in sm
    rn = _linalg_ops(rmsnorm(7, 1001))
    assert "linalg.reduce" in rn and "linalg.broadcast" in rn and "linalg.rsqrt" in rn


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(SUITE))
def test_module_signature_matches_declaration(name, dtype):
    args = {"vector_add": (5,), "gelu": ((3, 4),), "silu": ((6,),), "matmul": (3, 4, 5)}.get(name, (3, 7))
    k = SUITE[name](*args, dtype)
    assert k.name == name
    ctx = ir.Context()
    module = ir.Module.parse(k.mlir, ctx)
    assert module.operation.verify()
    funcs = [op for op in module.body.operations if op.operation.name == "func.func"]
    assert len(funcs) == 1
    with ctx:
        f = funcs[0]
        assert ir.StringAttr(f.attributes["sym_name"]).value == name
        ftype = ir.FunctionType(ir.TypeAttr(f.attributes["function_type"]).value)
        np_of = {"f32": "float32", "f16": "float16"}

        def decl(t):
            rt = ir.RankedTensorType(t)
            return (tuple(rt.shape), np_of[str(rt.element_type)])

        assert [decl(t) for t in ftype.inputs] == [(tuple(s), d) for s, d in k.inputs]
        assert [decl(t) for t in ftype.results] == [(tuple(s), d) for s, d in k.outputs]
    assert k.bytes_moved > 0 and k.flops > 0


def test_random_inputs_are_fresh_and_in_range():
    k = softmax_rows(4, 50)
    a, = k.random_inputs(np.random.default_rng())
    b, = k.random_inputs(np.random.default_rng())
    assert not np.array_equal(a, b)
    assert a.min() >= -8 and a.max() <= 8


def test_run_naive_rejects_bad_inputs():
    k = vector_add(4)
    with pytest.raises(ValueError):
        run_naive(k, [np.zeros(4, np.float32)])
    with pytest.raises(ValueError):
        run_naive(k, [np.zeros(4, np.float64), np.zeros(4, np.float32)])
