"""End-to-end: Linalg kernels through the pipeline on the host, against NumPy on fresh random inputs."""
import itertools

import numpy as np
import pytest

import hexmlir
from hexmlir import Options
from hexmlir.kernels import linalg_suite as S

from conftest import assert_close

MECH = ("vectorize", "fusion", "tcm_tiling", "fast_math")


def _opts(**on):
    # Single-threaded (threading has its own tests); DMA follows tcm_tiling (no TCM, nothing to move).
    return Options(multithread=False, **on)


FAST_COMBOS = {"all-on": _opts(), "all-off": _opts(dma=False, **{m: False for m in MECH}),
               **{f"no-{m}": _opts(**{m: False}) for m in MECH}}
ALL_COMBOS = {"-".join(f"{m[:3]}{int(v)}" for m, v in zip(MECH, bits)): _opts(**dict(zip(MECH, bits)))
              for bits in itertools.product([True, False], repeat=len(MECH))}

KERNELS = {
    "vector_add-1": lambda dt: S.vector_add(1, dt),
    "vector_add-31": lambda dt: S.vector_add(31, dt),
    "vector_add-33": lambda dt: S.vector_add(33, dt),
    "vector_add-1000003": lambda dt: S.vector_add(1000003, dt),
    "vector_add_2d-7x1001": lambda dt: S.vector_add_2d(7, 1001, dt),
    "gelu-1000003": lambda dt: S.gelu_tanh((1000003,), dt),
    "gelu-33x31": lambda dt: S.gelu_tanh((33, 31), dt),
    "silu-31": lambda dt: S.silu((31,), dt),
    "silu-7x1001": lambda dt: S.silu((7, 1001), dt),
    "softmax-7x1001": lambda dt: S.softmax_rows(7, 1001, dt),
    "softmax-1x1": lambda dt: S.softmax_rows(1, 1, dt),
    "rmsnorm-33x31": lambda dt: S.rmsnorm(33, 31, dt),
    "row_sum-7x1001": lambda dt: S.row_sum(7, 1001, dt),
    "matmul-33x17x65": lambda dt: S.matmul(33, 17, 65, dt),
    "matmul-1x1x1": lambda dt: S.matmul(1, 1, 1, dt),
}
F16 = ("vector_add-33", "gelu-33x31", "softmax-7x1001", "rmsnorm-33x31", "silu-7x1001")


def _check(kernel, opts, rng):
    ins = kernel.random_inputs(rng)
    out = hexmlir.compile(kernel.mlir, opts)(*ins)
    dt = kernel.outputs[0][1]
    if opts.fast_math:      # approximations: documented bounds, see docs/fast_math.md
        ref = kernel.reference(*ins)
        got = out if isinstance(out, tuple) else (out,)
        tol = 5e-3 if dt == "float16" else 5e-5
        for g, r in zip(got, ref):
            np.testing.assert_allclose(g.astype(np.float64), r.astype(np.float64), rtol=tol * 4, atol=tol)
    else:
        assert_close(out, kernel.reference(*ins), dt)


@pytest.mark.parametrize("combo", list(FAST_COMBOS))
@pytest.mark.parametrize("name", list(KERNELS))
def test_f32(name, combo, rng):
    _check(KERNELS[name]("float32"), FAST_COMBOS[combo], rng)


@pytest.mark.parametrize("combo", ["all-on", "all-off"])
@pytest.mark.parametrize("name", F16)
def test_f16(name, combo, rng):
    _check(KERNELS[name]("float16"), FAST_COMBOS[combo], rng)


@pytest.mark.slow
@pytest.mark.parametrize("combo", list(ALL_COMBOS))
@pytest.mark.parametrize("name", list(KERNELS))
@pytest.mark.parametrize("dt", ["float32", "float16"])
def test_full_product(name, combo, dt, rng):
    if dt == "float16" and name.startswith("matmul"):
        pytest.skip("f16 matmul is covered by the Triton suite")
    _check(KERNELS[name](dt), ALL_COMBOS[combo], rng)
