"""vectorize._strided_operand on views of any layout: a window map with a strided result (`d1 * 2`, a stride-2
convolution's window copy) reads its operand through a stepped memref.subview. The subview's type is passed
(the bindings' helper infers one only from static source strides, and raised a ValueError on a view with a
dynamic stride or offset); the vectorized strided read of such a view runs, checked against NumPy."""
import ctypes

import numpy as np
import pytest

pytest.importorskip("torch_mlir")

from hexmlir import opt  # noqa: E402
from hexmlir.ir import context, ops_named, parse  # noqa: E402
from hexmlir.transforms import vectorize  # noqa: E402


def _window_copy(t: str) -> str:
    """A generic reading row 0 of `t` with step 2 (the unit loop d0 folds to 0): a folded window map."""
    return f"""
func.func @f(%a: {t}, %o: memref<1x4xf32>) {{
  linalg.generic {{indexing_maps = [affine_map<(d0, d1) -> (d0 * 3, d1 * 2)>, affine_map<(d0, d1) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel"]}}
      ins(%a : {t}) outs(%o : memref<1x4xf32>) {{
  ^bb0(%x: f32, %y: f32):
    linalg.yield %x : f32
  }}
  return
}}"""


@pytest.mark.parametrize("layout,view", [
    ("", "strided<[9, 2]>"),
    (", strided<[9, 1], offset: 5>", "strided<[9, 2], offset: 5>"),
    (", strided<[9, 1], offset: ?>", "strided<[9, 2], offset: ?>"),
    (", strided<[?, 1]>", "strided<[?, 2]>"),                          # these three raised before
    (", strided<[?, 1], offset: ?>", "strided<[?, 2], offset: ?>"),
    (", strided<[?, ?], offset: 3>", "strided<[?, ?], offset: 3>"),
])
def test_strided_operand_subview_type(layout, view):
    with context():
        m = parse(_window_copy(f"memref<3x9xf32{layout}>"))
        vectorize._fold_unit_windows(ops_named(m.operation, "linalg.generic")[0])
        assert m.operation.verify()
        sv = ops_named(m.operation, "memref.subview")
        assert len(sv) == 1 and str(sv[0].results[0].type) == f"memref<1x4xf32, {view}>", str(m)
        g = ops_named(m.operation, "linalg.generic")[0]
        assert g.operands[0] == sv[0].results[0] and "(0, d1)" in str(g.attributes["indexing_maps"]), str(m)


_PLAN = ('hexmlir.plan = {budget = 262144 : i64, options = {arch = "v73", causal_skip = true, dma = true, '
         'double_buffer = true, fast_math = true, fusion = true, isa = "auto", mt_threshold = 0 : i64, '
         'multithread = false, num_threads = 0 : i64, opt_level = 3 : i64, pack_b = true, register_tiling = true, '
         'target = "host", tcm_budget = 0 : i64, tcm_tiling = false, tile_elems = 0 : i64, vectorize = true}, '
         'threads = 1 : i64, tile_budget = 262144 : i64}')


def _strided_kernel(rows: int, cols: int, outs: int) -> str:
    """After bufferize: out[r, j] = 2 * a[r, 2 j], `a` a view with a dynamic row stride and offset (a caller's
    strided array), vectorized along j (16 lanes: 2 vectors and a tail of 5 at outs = 37)."""
    t = f"memref<{rows}x{cols}xf32, strided<[?, 1], offset: ?>>"
    sig = ('{\\22args\\22: [{\\22dtype\\22: \\22float32\\22, \\22role\\22: \\22in\\22, \\22shape\\22: '
           f'[{rows}, {cols}]}}, {{\\22dtype\\22: \\22float32\\22, \\22role\\22: \\22out\\22, \\22shape\\22: '
           f'[{rows}, {outs}]}}], \\22name\\22: \\22strided\\22, \\22results\\22: [1], \\22writes\\22: []}}')
    cfg = ("{buffers = 1 : i64, tcm = false, tcm_bytes = 0 : i64, threads = 1 : i64, tile = array<i64: 0, 0>, "
           f"tile_bytes = 0 : i64, vector = array<i64: 1, 16>, work = {rows * outs} : i64}}")
    return f"""
module attributes {{{_PLAN}, hexmlir.signature = "{sig}"}} {{
func.func @hxk_strided(%a: {t}, %o: memref<{rows}x{outs}xf32>) {{
  %c2 = arith.constant 2.0 : f32
  linalg.generic {{indexing_maps = [affine_map<(d0, d1) -> (d0, d1 * 2)>, affine_map<(d0, d1) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel"]}}
      ins(%a : {t}) outs(%o : memref<{rows}x{outs}xf32>) attrs = {{hexmlir.id = 0 : i64, hexmlir.config = {cfg}}} {{
  ^bb0(%x: f32, %y: f32):
    %m = arith.mulf %x, %c2 : f32
    linalg.yield %m : f32
  }}
  return
}}
}}"""


def test_dynamic_stride_strided_read_matches_numpy(rng):
    """The host pipeline's vectorize..lower-to-llvm on the kernel, run by MLIR's ExecutionEngine on a
    non-contiguous NumPy view (row stride 97, offset 100 elements: both only known at run time)."""
    from torch_mlir import ir
    from torch_mlir.execution_engine import ExecutionEngine
    from torch_mlir.runtime import get_ranked_memref_descriptor
    rows, cols, outs = 2, 80, 37
    vec = opt.run_stages(_strided_kernel(rows, cols, outs), "vectorize")
    assert "strided<[?, 2], offset: ?>>" in vec and "vector.shuffle" in vec, vec   # vectorized, not scalar
    llvm = opt.run_stages(vec, "hoist-buffers..lower-to-llvm")
    base = rng.standard_normal((5, 97)).astype(np.float32)
    a = base[1:5:2, 3:3 + cols]
    o = rng.standard_normal((rows, outs)).astype(np.float32)       # every element must be written
    with ir.Context():
        ee = ExecutionEngine(ir.Module.parse(llvm), opt_level=2)
        ee.invoke("hxk_strided", *[ctypes.pointer(ctypes.pointer(get_ranked_memref_descriptor(x))) for x in (a, o)])
    np.testing.assert_array_equal(o, a[:, 0:2 * outs:2] * 2)


@pytest.mark.parametrize("layout", ["", ", strided<[40, 1], offset: 7>", ", strided<[80, 2]>", ", strided<[?, 1]>",
                                    ", strided<[8, ?], offset: ?>"])
@pytest.mark.parametrize("sizes,steps", [([5, 8], [1, 1]), ([3, 4], [2, 2]), ([1, 7], [1, 3])])
def test_subview_type_matches_the_bindings_where_they_infer(layout, sizes, steps):
    """ir.subview_type (also tcm_tiling._wrap_in_subview's) is the bindings' inferred type where they infer
    one (static source strides; identity layout for row-major strides at offset 0), and the verifier takes it
    where they raise (a dynamic stride)."""
    from torch_mlir import ir
    from torch_mlir.dialects import func, memref
    from hexmlir.ir import subview_type
    with context(), ir.Location.unknown():
        t = ir.Type.parse(f"memref<6x40xf32{layout}>")
        m = ir.Module.create()
        with ir.InsertionPoint(m.body):
            f = func.FuncOp("f", ir.FunctionType.get([t], []))
            with ir.InsertionPoint(f.add_entry_block()):
                got = subview_type(ir.MemRefType(t), sizes, steps)
                memref.subview(f.arguments[0], [0, 0], sizes, steps, result_type=got)
                if "?" not in layout.split("offset")[0]:
                    want = memref.subview(f.arguments[0], [0, 0], sizes, steps).type
                    assert got == want, (got, want)
                else:
                    with pytest.raises(ValueError):
                        memref.subview(f.arguments[0], [0, 0], sizes, steps)
                func.ReturnOp([])
        assert m.operation.verify(), str(m)
