"""Did route B's fusion really fuse? Kernels (top-level loop nests) and DDR intermediates (top-level DDR
allocs) after bufferization, fusion on vs off (hexmlir.tools.fusion_stats.stats), for the frontend's models at
the test shapes and at shapes large enough to be tiled. The numbers are exact: a change in fusion (or in
torch-mlir's import) shows up here and must be explained in docs/torch.md ("Fusion, counted")."""
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch_mlir")

from hexmlir import Options  # noqa: E402
from hexmlir.frontends.torch.backend import model_linalg  # noqa: E402
from hexmlir.tools import fusion_stats  # noqa: E402
from hexmlir.kernels.torch_models import MLP, Block, RMSNormSwiGLU  # noqa: E402


def _linalg(model, shape) -> str:
    """The module compile_model compiles: weights as leading arguments."""
    return model_linalg(model, [torch.randn(*shape)])


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
    # RMSNorm+SwiGLU and the block: the barrier also looks through the reshapes torch-mlir puts around every
    # 3-D Linear (collapse to 2-D, matmul, expand), so silu(gate) * up stays a kernel of its own (with its
    # DDR buffer) instead of being recomputed inside the down projection for every output column.
    "rmsnorm_swiglu": (lambda: RMSNormSwiGLU(), (2, 3, 19), (14, 5), (21, 7)),
    # The block's LayerNorm statistics are f32 (importer's var_mean; torch-mlir's went through an f64 copy of the
    # input: 4 kernels and 3 DDR buffers more fused, 12 and 4 more unfused).
    "block": (lambda: Block(), (2, 5, 24), (43, 18), (70, 28)),
    # Tiled shapes: fusion is bounded by TCM (plan._unfuse_if_too_big). A producer joins its consumer's tile
    # loop only if the group's smallest tile (keeping whole the loops a producer does not follow, so nothing
    # is recomputed) fits one thread's tile budget (512 KiB). MLP 256-1024-256 on 512 tokens: each Linear's
    # matmul + bias (+ GELU) is one tile loop, with the hidden activation between them in DDR. Each weight
    # transpose W^T is its own kernel writing DDR: fused, the matmul's rows would have to stay whole (W^T
    # does not depend on them) and the whole input plus a W slice exceeds 512 KiB. 4 kernels, W1^T, hidden
    # and W2^T in DDR = 3. (Before the bound, the whole MLP was one row-tile loop holding both weight
    # matrices, 4 MiB per tile: one thread, 100x slower than eager at the bench size.)
    "mlp_tiled": (lambda: MLP(256, 1024), (512, 256), (4, 3), (9, 5)),
    # RMSNorm + SwiGLU 256-704 on 4x128 tokens: RMSNorm (statistics and y) as one tile loop; each of the three
    # weight transposes alone; gate matmul + up matmul + silu(gate) * up as one loop (both matmuls are
    # producers of the product: an epilogue; their zero inits, a fill behind a reshape until
    # fusion._fill_reshapes, in its tile); down projection + residual as one loop: 6 kernels. DDR: the three
    # W^T, the gate-up product = 4. (With fusion, the zero inits of the test shapes' 3-D Linears are no DDR
    # buffer either: one fewer there.)
    "rmsnorm_swiglu_tiled": (lambda: RMSNormSwiGLU(256, 704), (4, 128, 256), (6, 4), (21, 9)),
}


# On FMA hosts the fold-transposes stage (after fusion) folds each Linear's weight transpose into its matmul
# (read as B^T): (kernels, DDR intermediates) fewer, fused and unfused, the block's output projection included
# (fusion's barrier keeps the head merge's reshape out of the matmul, so its k is not split into heads x
# head_dim, which the contract stage cannot block as B^T); at RMSNorm+SwiGLU's test shape only two of its three W^T had a DDR buffer of their own.
FOLDED = {
    "mlp": ((2, 2), (2, 2)),
    "rmsnorm_swiglu": ((3, 2), (3, 2)),
    "block": ((4, 4), (4, 4)),
    "mlp_tiled": ((2, 2), (2, 2)),
    "rmsnorm_swiglu_tiled": ((3, 3), (3, 2)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_fusion_reduces_kernels_and_ddr_intermediates(name):
    from hexmlir.targets import host_target
    make, shape, fused, unfused = CASES[name]
    if host_target().fma:
        fused, unfused = (tuple(a - b for a, b in zip(c, f)) for c, f in zip((fused, unfused), FOLDED[name]))
    text = _linalg(make().eval(), shape)
    on = fusion_stats.stats(text, Options())
    off = fusion_stats.stats(text, Options(fusion=False))
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
        assert fusion_stats.count(hir.parse(src)) == {"kernels": 3, "ddr_intermediates": 1}
