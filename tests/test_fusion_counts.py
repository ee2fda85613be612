"""Did route B's fusion really fuse? Kernels (top-level loop nests) and DDR intermediates (top-level DDR
allocs) after bufferization, fusion on vs off (hexmlir.transforms.fusion.stats), for the frontend's models at
the test shapes and at shapes large enough to be tiled. The numbers are exact: a change in fusion (or in
torch-mlir's import) shows up here and must be explained in docs/torch.md ("Fusion, counted")."""
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch_mlir")

from hexmlir import Options  # noqa: E402
from hexmlir.frontends.torch.backend import _import_linalg  # noqa: E402
from hexmlir.transforms import fusion  # noqa: E402
from hexmlir.kernels.torch_models import MLP, Block, RMSNormSwiGLU  # noqa: E402


def _linalg(model, shape) -> str:
    """The module compile_model compiles: weights as leading arguments."""
    named = list(model.named_parameters()) + list(model.named_buffers())
    names = [n for n, _ in named]

    class Functional(torch.nn.Module):
        def forward(self, *args):
            return torch.func.functional_call(model, dict(zip(names, args[:len(names)])), args[len(names):])
    return _import_linalg(Functional(), [t.detach() for _, t in named] + [torch.randn(*shape)])


# (model, input shape) -> ((kernels, DDR intermediates) fused, (kernels, DDR intermediates) unfused)
CASES = {
    # Test shapes: each root fits one TCM tile, so there is no tile loop for producers to join and the counts
    # measure elementwise fusion alone. MLP unfused: per Linear transpose(W) + fill + matmul + bias (4 + 4)
    # + GELU = 9 kernels; W1^T, W2^T and the hidden activation are DDR buffers = 3. Fused: bias1 + GELU become
    # one op, the fills fold into nothing new; the fusion barrier keeps both transposes and the GELU out of the
    # matmuls (their operands are broadcast: merged, the weight would be read with stride K and the GELU
    # recomputed per output column): transpose, fill, matmul, bias+GELU per Linear 1, transpose, fill,
    # matmul, bias per Linear 2 = 8 kernels, W1^T, W2^T and the hidden activation in DDR = 3.
    "mlp": (lambda: MLP(), (5, 19), (8, 3), (9, 3)),
    "rmsnorm_swiglu": (lambda: RMSNormSwiGLU(), (2, 3, 19), (13, 5), (21, 7)),
    "block": (lambda: Block(), (2, 5, 24), (39, 18), (82, 33)),
    # Tiled shapes: the plan makes the last op the root and everything feeding it producers, fused into the
    # root's row-tile loop (tcm-tiling): the whole MLP is one tile loop, no DDR intermediate.
    "mlp_tiled": (lambda: MLP(256, 1024), (512, 256), (1, 0), (9, 5)),
    # RMSNorm's sum of squares keeps its dim (map (d0, d1, 0)), which upstream's tile-and-fuse cannot fuse
    # into a tile loop: it stays a separate kernel writing a DDR buffer; the rest is one tile loop.
    "rmsnorm_swiglu_tiled": (lambda: RMSNormSwiGLU(256, 704), (4, 128, 256), (2, 1), (21, 9)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_fusion_reduces_kernels_and_ddr_intermediates(name):
    make, shape, fused, unfused = CASES[name]
    text = _linalg(make().eval(), shape)
    on = fusion.stats(text, Options())
    off = fusion.stats(text, Options(fusion=False))
    assert (on["kernels"], on["ddr_intermediates"]) == fused, on
    assert (off["kernels"], off["ddr_intermediates"]) == unfused, off


def test_count_sees_tile_loops_and_ddr_allocs_only():
    """count() on a hand-written bufferized module: a tile loop is one kernel, a TCM buffer is no DDR one."""
    from hexmlir import ir as hir
    src = """func.func @f(%a: memref<64xf32>, %o: memref<64xf32>) {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %c64 = arith.constant 64 : index
      %t = memref.alloc() : memref<64xf32>
      %s = memref.alloc() : memref<64xf32, 1>
      linalg.copy ins(%a : memref<64xf32>) outs(%t : memref<64xf32>)
      scf.for %i = %c0 to %c64 step %c1 {
        %x = memref.load %t[%i] : memref<64xf32>
        %b = memref.alloc() : memref<64xf32>
        memref.store %x, %o[%i] : memref<64xf32>
        memref.dealloc %b : memref<64xf32>
      }
      memref.copy %o, %s : memref<64xf32> to memref<64xf32, 1>
      memref.dealloc %t : memref<64xf32>
      memref.dealloc %s : memref<64xf32, 1>
      return }"""
    with hir.context(), hir.ir.Location.unknown():
        assert fusion.count(hir.parse(src)) == {"kernels": 3, "ddr_intermediates": 1}
