"""merge-regions (transforms/merge_regions.py): consecutive parallel regions that touch no memory another one
writes run as one fork/join; dependent or overlapping ones stay apart. Results against NumPy on fresh random
inputs of odd sizes, with the merge on and off."""
import re

import numpy as np
import pytest

import hexmlir

M, K, N, P = 67, 45, 33, 21

_TWO = f"""
func.func @two(%a: tensor<{M}x{K}xf32>, %b: tensor<{K}x{N}xf32>, %c: tensor<{K}x{N}xf32>)
    -> (tensor<{M}x{N}xf32>, tensor<{M}x{N}xf32>) {{
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<{M}x{N}xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<{M}x{N}xf32>) -> tensor<{M}x{N}xf32>
  %x = linalg.matmul ins(%a, %b : tensor<{M}x{K}xf32>, tensor<{K}x{N}xf32>) outs(%f : tensor<{M}x{N}xf32>) -> tensor<{M}x{N}xf32>
  %e2 = tensor.empty() : tensor<{M}x{N}xf32>
  %f2 = linalg.fill ins(%z : f32) outs(%e2 : tensor<{M}x{N}xf32>) -> tensor<{M}x{N}xf32>
  %y = linalg.matmul ins(%a, %c : tensor<{M}x{K}xf32>, tensor<{K}x{N}xf32>) outs(%f2 : tensor<{M}x{N}xf32>) -> tensor<{M}x{N}xf32>
  return %x, %y : tensor<{M}x{N}xf32>, tensor<{M}x{N}xf32>
}}"""

_CHAIN = f"""
func.func @chain(%a: tensor<{M}x{K}xf32>, %b: tensor<{K}x{N}xf32>, %c: tensor<{N}x{P}xf32>) -> tensor<{M}x{P}xf32> {{
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<{M}x{N}xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<{M}x{N}xf32>) -> tensor<{M}x{N}xf32>
  %x = linalg.matmul ins(%a, %b : tensor<{M}x{K}xf32>, tensor<{K}x{N}xf32>) outs(%f : tensor<{M}x{N}xf32>) -> tensor<{M}x{N}xf32>
  %e2 = tensor.empty() : tensor<{M}x{P}xf32>
  %f2 = linalg.fill ins(%z : f32) outs(%e2 : tensor<{M}x{P}xf32>) -> tensor<{M}x{P}xf32>
  %y = linalg.matmul ins(%x, %c : tensor<{M}x{N}xf32>, tensor<{N}x{P}xf32>) outs(%f2 : tensor<{M}x{P}xf32>) -> tensor<{M}x{P}xf32>
  return %y : tensor<{M}x{P}xf32>
}}"""


def _regions(dump_dir) -> int:
    """Parallel calls in the entry function after the last stage that has them (the final LLVM-dialect IR)."""
    text = (sorted(dump_dir.glob("*merge-regions.mlir")) or sorted(dump_dir.glob("*threads.mlir")))[-1].read_text()
    entry = text[text.index("func.func @"):]
    entry = entry[:entry.index("\n  }\n")]
    return len(re.findall(r"call @__hx_parallel_", entry))


def _f64(*xs):
    return [x.astype(np.float64) for x in xs]


@pytest.mark.parametrize("merge", [True, False])
def test_independent_matmuls_share_one_region(merge, tmp_path, rng):
    o = hexmlir.Options(num_threads=4, mt_threshold=1, merge_regions=merge, dump_dir=str(tmp_path))
    k = hexmlir.compile(_TWO, o)
    assert _regions(tmp_path) == (1 if merge else 2)
    a, b, c = (rng.uniform(-1, 1, s).astype(np.float32) for s in ((M, K), (K, N), (K, N)))
    x, y = k(a, b, c)
    a64, b64, c64 = _f64(a, b, c)
    np.testing.assert_allclose(x, a64 @ b64, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(y, a64 @ c64, rtol=1e-4, atol=1e-4)


def test_dependent_regions_stay_apart(tmp_path, rng):
    """Fusion off: X = A B and Y = X C, each its own region (their fills inside). Y reads what X's region
    writes: they stay two fork/joins, and Y matches on 4 threads."""
    def regions(merge):
        d = tmp_path / str(merge)
        k = hexmlir.compile(_CHAIN, hexmlir.Options(num_threads=4, mt_threshold=1, fusion=False,
                                                    merge_regions=merge, dump_dir=str(d)))
        return k, _regions(d)
    (k, on), (_, off) = regions(True), regions(False)
    assert on == off == 2, (on, off)
    a, b, c = (rng.uniform(-1, 1, s).astype(np.float32) for s in ((M, K), (K, N), (N, P)))
    a64, b64, c64 = _f64(a, b, c)
    for _ in range(5):
        np.testing.assert_allclose(k(a, b, c), (a64 @ b64) @ c64, rtol=1e-4, atol=1e-4)


def test_scratchpad_targets_keep_their_regions(tmp_path):
    """npu-emu: a chunk is a thread with its own TCM set; its regions are not merged."""
    hexmlir.compile(_TWO, hexmlir.Options(target="npu-emu", num_threads=4, mt_threshold=1, dump_dir=str(tmp_path)))
    assert not list(tmp_path.glob("*merge-regions.mlir")) or _regions(tmp_path) == 2


def test_causal_segments_write_disjoint_rows_in_one_region(tmp_path, seed):
    """Causal attention's row segments write disjoint static row blocks of one buffer (in place, bufferize's
    eliminate-empty-tensors): one region for all of them, and the result matches torch."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("torch_mlir")
    import torch.nn.functional as F

    class M_(torch.nn.Module):
        def forward(self, q, k, v):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(1, 4, 333, 24, generator=g) for _ in range(3))
    outs = {}
    for merge in (True, False):
        d = tmp_path / str(merge)
        c = hexmlir.compile_model(M_(), (q, k, v), strict=True, num_threads=3, merge_regions=merge, dump_dir=str(d))
        outs[merge] = (c(q, k, v), _regions(d))
    ref = M_()(q.double(), k.double(), v.double())
    for got, _ in outs.values():
        assert float((got.double() - ref).abs().max()) < 1e-5
    assert outs[True][1] == 1 < outs[False][1], {m: r for m, (_, r) in outs.items()}   # 8 segments: 1 region


def test_run_refuses_an_output_overlapping_an_input(rng):
    """What lets merge-regions treat output parameters as fresh memory: the checked low-level call refuses an
    output that shares memory with another argument (the plain call always makes fresh outputs)."""
    k = hexmlir.compile(_TWO, hexmlir.Options(num_threads=4, mt_threshold=1))
    a, b, c = (rng.uniform(-1, 1, s).astype(np.float32) for s in ((M, K), (K, N), (K, N)))
    x = np.empty((M, N), np.float32)
    with pytest.raises(hexmlir.HexmlirError, match="overlaps argument"):
        k.run([a, b, c, x, x])
    y = np.empty((M, N), np.float32)
    k.run([a, b, c, x, y])
    a64, b64, c64 = _f64(a, b, c)
    np.testing.assert_allclose(x, a64 @ b64, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(y, a64 @ c64, rtol=1e-4, atol=1e-4)
