"""Attention on the host target: the Triton flash-attention kernel of the suite (online softmax over K/V
blocks) and the Linalg attention of the bench registry, against PyTorch's SDPA / NumPy on fresh seeded
inputs with sequence lengths that are not multiples of the blocks; and what the hot K/V loop must not do
(call libm's exp2 per element, allocate or copy buffers per iteration)."""
import math

import numpy as np
import pytest
import torch

from hexmlir.tools import fast_math_accuracy as acc
from conftest import current_seed


# ---------------------------------------------------------------------------------------------------------
# exp2 (flash attention's softmax): a vectorizable polynomial, not a libm call per element


def test_exp2_is_rewritten_and_accurate():
    j = acc.Jit(acc.kernel_source("exp2", "f32", 32))
    assert j.rewritten == 1 and "math.exp2" not in j.rewritten_ir
    seed = current_seed()
    rng = np.random.default_rng(seed)
    x = np.concatenate([np.linspace(-126, 127.99, 1 << 14), rng.uniform(-126, 127.99, 1 << 14),
                        rng.uniform(-1, 1, 1 << 14)]).astype(np.float32)
    y = j(x)
    ref = np.exp2(x.astype(np.float64))
    err = float(np.max(np.abs(y - ref) / acc.ulp(ref, "f32")))
    assert err <= 1.5, f"seed={seed} max error {err} ulp"


def test_exp2_special_values():
    j = acc.Jit(acc.kernel_source("exp2", "f32", 32))
    x = np.array([np.inf, -np.inf, np.nan, 128.0, np.nextafter(np.float32(128), np.float32(0)), -126.0,
                  np.nextafter(np.float32(-126), np.float32(-200)), 0.0, -0.0, 1e30, -1e30, -1e6, 1.0, 0.5]
                 + [0.0] * 18, np.float32)
    y = j(x)[:14]
    assert y[0] == np.inf and y[1] == 0 and np.isnan(y[2]) and y[3] == np.inf
    assert np.isfinite(y[4]) and abs(y[4] / 2.0 ** float(x[4]) - 1) < 2.0 ** -22
    assert y[5] == 2.0 ** -126 and y[6] == 0
    assert y[7] == 1 and y[8] == 1 and y[9] == np.inf and y[10] == 0 and y[11] == 0
    assert y[12] == 2 and abs(y[13] - math.sqrt(2)) <= 2.0 ** -23
