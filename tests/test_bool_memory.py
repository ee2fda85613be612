"""i1 in memory is one byte per element (numpy/torch bool) everywhere: kernel arguments and results,
intermediates in DDR and TCM, Triton mask blocks; vectorized and scalar code agree (LLVM would pack
`<N x i1>` vector stores into bits). Linalg, torch and Triton, vectorize on and off, odd sizes."""
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch_mlir")

import hexmlir  # noqa: E402
from hexmlir import Options  # noqa: E402
from conftest import current_seed  # noqa: E402

SHAPES = [(1000,), (33, 17), (1,)]
VEC = [True, False]


def _ty(shape, et):
    return f"tensor<{'x'.join(map(str, shape))}x{et}>"


def _elementwise(shape, ins, out_et, body):
    """A one-generic module: ins = [(name, elem type)], body = the block's ops ending in a yield of %r."""
    rank = len(shape)
    dims = ", ".join(f"d{i}" for i in range(rank))
    m = f"affine_map<({dims}) -> ({dims})>"
    args = ", ".join(f"%{n}: {_ty(shape, et)}" for n, et in ins)
    bb = ", ".join([f"%b{n}: {et}" for n, et in ins] + [f"%o: {out_et}"])
    return f"""
func.func @f({args}) -> {_ty(shape, out_et)} {{
  %e = tensor.empty() : {_ty(shape, out_et)}
  %r = linalg.generic {{indexing_maps = [{", ".join([m] * (len(ins) + 1))}],
                       iterator_types = [{", ".join(['"parallel"'] * rank)}]}}
      ins({", ".join("%" + n for n, _ in ins)} : {", ".join(_ty(shape, et) for _, et in ins)})
      outs(%e : {_ty(shape, out_et)}) {{
  ^bb0({bb}):
    {body}
  }} -> {_ty(shape, out_et)}
  return %r : {_ty(shape, out_et)}
}}"""


def _bools(rng, shape):
    return rng.random(shape) > 0.5


# ---- Linalg ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("vec", VEC)
@pytest.mark.parametrize("shape", SHAPES)
def test_linalg_bool_xor(shape, vec):
    """i1 arguments and an i1 result (the issue's 443-of-1000-wrong xor)."""
    seed = current_seed()
    rng = np.random.default_rng(seed)
    src = _elementwise(shape, [("a", "i1"), ("b", "i1")], "i1",
                       "%z = arith.xori %ba, %bb : i1\n    linalg.yield %z : i1")
    a, b = _bools(rng, shape), _bools(rng, shape)
    got = hexmlir.compile(src, Options(vectorize=vec))(a, b)
    assert got.dtype == np.bool_ and got.shape == a.shape
    assert np.array_equal(got, a ^ b), f"seed={seed}: {int((got != (a ^ b)).sum())} wrong"


@pytest.mark.parametrize("vec", VEC)
@pytest.mark.parametrize("shape", SHAPES)
def test_linalg_compare_as_output(shape, vec):
    seed = current_seed()
    rng = np.random.default_rng(seed)
    src = _elementwise(shape, [("x", "f32")], "i1",
                       "%c0 = arith.constant 0.0 : f32\n    %z = arith.cmpf ogt, %bx, %c0 : f32\n"
                       "    linalg.yield %z : i1")
    x = rng.standard_normal(shape).astype(np.float32)
    got = hexmlir.compile(src, Options(vectorize=vec))(x)
    assert np.array_equal(got, x > 0), f"seed={seed}: {int((got != (x > 0)).sum())} wrong"


@pytest.mark.parametrize("vec", VEC)
@pytest.mark.parametrize("shape", SHAPES)
def test_linalg_select_with_bool_mask_input(shape, vec):
    seed = current_seed()
    rng = np.random.default_rng(seed)
    src = _elementwise(shape, [("c", "i1"), ("x", "f32"), ("y", "f32")], "f32",
                       "%z = arith.select %bc, %bx, %by : f32\n    linalg.yield %z : f32")
    c = _bools(rng, shape)
    x, y = rng.standard_normal(shape).astype(np.float32), rng.standard_normal(shape).astype(np.float32)
    got = hexmlir.compile(src, Options(vectorize=vec))(c, x, y)
    assert np.array_equal(got, np.where(c, x, y)), f"seed={seed}"


BOOL_INTERMEDIATE = """
#m = affine_map<(d0, d1) -> (d0, d1)>
#t = affine_map<(d0, d1) -> (d1, d0)>
func.func @f(%x: tensor<7x1000xf32>, %y: tensor<7x1000xf32>) -> tensor<1000x7xf32> {
  %c0 = arith.constant 0.0 : f32
  %e1 = tensor.empty() : tensor<7x1000xi1>
  %m = linalg.generic {indexing_maps = [#m, #m], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<7x1000xf32>) outs(%e1 : tensor<7x1000xi1>) {
  ^bb0(%a: f32, %o: i1):
    %c = arith.cmpf ogt, %a, %c0 : f32
    linalg.yield %c : i1
  } -> tensor<7x1000xi1>
  %e2 = tensor.empty() : tensor<1000x7xf32>
  %r = linalg.generic {indexing_maps = [#t, #t, #t, #m], iterator_types = ["parallel", "parallel"]}
      ins(%m, %x, %y : tensor<7x1000xi1>, tensor<7x1000xf32>, tensor<7x1000xf32>) outs(%e2 : tensor<1000x7xf32>) {
  ^bb0(%c: i1, %a: f32, %b: f32, %o: f32):
    %s = arith.select %c, %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<1000x7xf32>
  return %r : tensor<1000x7xf32>
}"""


@pytest.mark.parametrize("opts", [dict(fusion=False), dict(fusion=False, tcm_tiling=False),
                                  dict(fusion=False, multithread=False, dma=False)],
                         ids=["tcm", "ddr", "tcm-nodma"])
@pytest.mark.parametrize("vec", VEC)
def test_linalg_bool_intermediate(opts, vec):
    """An i1 tensor between two unfused ops, in DDR or in TCM: written by a vector loop (along 1000), read by a
    scalar one (the transposed consumer's inner loop has 7 iterations)."""
    seed = current_seed()
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((7, 1000)).astype(np.float32), rng.standard_normal((7, 1000)).astype(np.float32)
    got = hexmlir.compile(BOOL_INTERMEDIATE, Options(vectorize=vec, **opts))(x, y)
    assert np.array_equal(got, np.where(x > 0, x, y).T), f"seed={seed}"


def test_hexagon_bool_vectors_are_bytes():
    """Hexagon: HVX code for an i1 xor loads and stores bytes (it crashed instruction selection before)."""
    src = _elementwise((1000,), [("a", "i1"), ("b", "i1")], "i1",
                       "%z = arith.xori %ba, %bb : i1\n    linalg.yield %z : i1")
    ll = Path(hexmlir.compile(src, Options(target="hexagon", multithread=False), emit="llvm",
                              output=str(Path(__import__("tempfile").mkdtemp()) / "k.ll"))).read_text()
    assert "load <128 x i8>" in ll and "store <128 x i8>" in ll
    assert " x i1>, ptr" not in ll and "load <128 x i1>" not in ll


@pytest.mark.skipif(shutil.which("qemu-hexagon") is None, reason="qemu-hexagon not installed")
def test_hexagon_sim_bool_xor():
    seed = current_seed()
    rng = np.random.default_rng(seed)
    src = _elementwise((1000,), [("a", "i1"), ("b", "i1")], "i1",
                       "%z = arith.xori %ba, %bb : i1\n    linalg.yield %z : i1")
    a, b = _bools(rng, 1000), _bools(rng, 1000)
    got = hexmlir.compile(src, Options(target="hexagon-sim", multithread=False))(a, b)
    assert np.array_equal(got, a ^ b), f"seed={seed}"


# ---- PyTorch (compile_model) -------------------------------------------------------------------------------

TORCH_CASES = {
    "where": (lambda c, x, y: __import__("torch").where(c, x, y), ["b", "f", "f"]),
    "masked_fill": (lambda x, m: x.masked_fill(m, -1.5), ["f", "b"]),
    "gt_output": (lambda x: x > 0, ["f"]),
    "bool_xor": (lambda a, b: a ^ b, ["b", "b"]),
}


@pytest.mark.parametrize("vec", VEC)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", list(TORCH_CASES))
def test_torch_bool(name, shape, vec):
    torch = pytest.importorskip("torch")
    seed = current_seed()
    g = torch.Generator().manual_seed(seed)
    fn, kinds = TORCH_CASES[name]
    args = tuple(torch.randn(shape, generator=g) > 0 if k == "b" else torch.randn(shape, generator=g)
                 for k in kinds)

    class M(torch.nn.Module):
        def forward(self, *a):
            return fn(*a)
    cm = hexmlir.compile_model(M(), args, vectorize=vec, strict=True)
    got, ref = cm(*args), fn(*args)
    assert got.dtype == ref.dtype and got.shape == ref.shape
    assert torch.equal(got, ref), f"seed={seed}: {int((got != ref).sum())} wrong"


# ---- Triton ------------------------------------------------------------------------------------------------

KERNELS = str(Path(__file__).with_name("triton_mask_kernels.py"))
TRITON_N = [1000, 33 * 17, 1]
BLOCK = 128


@pytest.fixture(scope="module")
def triton_runs():
    """Inputs and the interpreter's outputs for every Triton case of this module (one subprocess)."""
    pytest.importorskip("triton")
    from triton_oracle import run_interpreted_many
    seed = current_seed()
    rng = np.random.default_rng(seed)
    runs = {}
    for n in TRITON_N:
        grid = (-(-n // BLOCK),)
        x = rng.standard_normal(n).astype(np.float32)
        runs[("emask", n)] = ("emask_kernel", [x, np.zeros(n, np.float32), n], grid, {"BLOCK": BLOCK})
        runs[("xor", n)] = ("bool_xor_kernel", [_bools(rng, n), _bools(rng, n), np.zeros(n, bool),
                                                np.zeros(n, bool), x, n], grid, {"BLOCK": BLOCK})
        runs[("where", n)] = ("where_kernel", [_bools(rng, n), x, rng.standard_normal(n).astype(np.float32),
                                               np.zeros(n, np.float32), n], grid, {"BLOCK": BLOCK})
    outs = run_interpreted_many(KERNELS, list(runs.values()))
    return seed, {k: (r, o) for (k, r), o in zip(runs.items(), outs)}


def _launch(name, run, vec):
    import torch
    import triton_mask_kernels as K
    fn, args, grid, ce = run
    targs = [torch.from_numpy(a.copy()) if isinstance(a, np.ndarray) else a for a in args]
    getattr(K, fn)[grid](*targs, **ce, vectorize=vec)
    return [t.numpy() if isinstance(t, torch.Tensor) else t for t in targs]


@pytest.mark.parametrize("vec", VEC)
@pytest.mark.parametrize("n", TRITON_N)
@pytest.mark.parametrize("case", ["emask", "xor", "where"])
def test_triton_bool(triton_runs, case, n, vec):
    seed, runs = triton_runs
    run, ref = runs[(case, n)]
    got = _launch(case, run, vec)
    for i, (g, r) in enumerate(zip(got, ref)):
        if isinstance(r, np.ndarray):
            assert np.array_equal(g, r), f"seed={seed} arg {i}: {int((g != r).sum())} of {r.size} wrong"


GUARD_CHILD = r"""
import ctypes, mmap, sys
import numpy as np
import torch
sys.path.insert(0, sys.argv[1])
import triton_mask_kernels as K
libc = ctypes.CDLL(None)
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
PAGE = mmap.PAGESIZE
keep = []

def guarded(a):
    # a copy of `a` whose last byte is the last byte before a PROT_NONE page
    pages = -(-a.nbytes // PAGE) + 1
    buf = mmap.mmap(-1, pages * PAGE)
    base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    assert libc.mprotect(base + (pages - 1) * PAGE, PAGE, 0) == 0
    g = np.frombuffer(buf, dtype=a.dtype, count=a.size, offset=(pages - 1) * PAGE - a.nbytes)
    g[...] = a
    keep.append(buf)
    return g

x = np.load(sys.argv[2])
n = x.size
for vec in (True, False):
    out = torch.zeros(n)
    K.emask_kernel[(-(-n // 128),)](torch.from_numpy(guarded(x)), out, n, BLOCK=128, vectorize=vec)
    np.save(f"{sys.argv[3]}/out_{int(vec)}.npy", out.numpy())
print("ok")
"""


@pytest.mark.parametrize("n", [1000, pytest.param(1, marks=pytest.mark.slow)])
def test_triton_element_mask_guard_page(triton_runs, tmp_path, n):
    """The element-wise-masked load of emask_kernel with its input ending at a PROT_NONE page: no fault, the
    interpreter's answer (it read past the end and later died of `double free or corruption`)."""
    seed, runs = triton_runs
    run, ref = runs[("emask", n)]
    np.save(tmp_path / "x.npy", run[1][0])
    r = subprocess.run([sys.executable, "-c", GUARD_CHILD, str(Path(__file__).parent), str(tmp_path / "x.npy"),
                        str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "ok" in r.stdout, f"seed={seed} rc={r.returncode}: {r.stderr[-2000:]}"
    for vec in (1, 0):
        got = np.load(tmp_path / f"out_{vec}.npy")
        assert np.array_equal(got, ref[1]), f"seed={seed} vectorize={bool(vec)}"


def test_lowering_masked_bool_vectors_go_through_bytes():
    """Every LLVM vector memory op on i1 data (plain, masked, gather, scatter) is rewritten to i8 data; masks
    stay i1; a non-bool masked load is left alone."""
    from hexmlir.ir import context
    from hexmlir.transforms.lower import _bool_vectors_as_bytes
    from torch_mlir import ir
    with context():
        m = ir.Module.parse("""
llvm.func @f(%p: !llvm.ptr, %m: vector<8xi1>, %v: vector<8xi1>, %ps: vector<8x!llvm.ptr>, %x: vector<8xf32>)
    -> vector<8xi1> {
  %0 = llvm.load %p {alignment = 1 : i64} : !llvm.ptr -> vector<8xi1>
  llvm.store %0, %p {alignment = 1 : i64} : vector<8xi1>, !llvm.ptr
  %1 = llvm.intr.masked.load %p, %m, %v {alignment = 1 : i32} : (!llvm.ptr, vector<8xi1>, vector<8xi1>) -> vector<8xi1>
  llvm.intr.masked.store %1, %p, %m {alignment = 1 : i32} : vector<8xi1>, vector<8xi1> into !llvm.ptr
  %2 = llvm.intr.masked.gather %ps, %m, %1 {alignment = 1 : i32} : (vector<8x!llvm.ptr>, vector<8xi1>, vector<8xi1>) -> vector<8xi1>
  llvm.intr.masked.scatter %2, %ps, %m {alignment = 1 : i32} : vector<8xi1>, vector<8xi1> into vector<8x!llvm.ptr>
  %3 = llvm.intr.masked.load %p, %m, %x {alignment = 4 : i32} : (!llvm.ptr, vector<8xi1>, vector<8xf32>) -> vector<8xf32>
  llvm.return %2 : vector<8xi1>
}""")
        _bool_vectors_as_bytes(m)
        m.operation.verify()
        text = str(m)
    import re
    for line in text.splitlines():
        if re.search(r"llvm\.(load|store|intr\.masked\.\w+)", line) and "xf32" not in line:
            data = re.findall(r"vector<8xi(\d+)>", line)
            assert "8" in data, line                     # the data is bytes (masks are still i1)
    assert text.count("llvm.trunc") == 3 and text.count("llvm.zext") >= 4
    assert "vector<8xf32>) -> vector<8xf32>" in text


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("qemu-hexagon") is None, reason="qemu-hexagon not installed")
@pytest.mark.parametrize("case", ["emask", "xor"])
def test_triton_bool_hexagon_sim(triton_runs, case):
    """The same bool/mask kernels built for Hexagon (HVX) and run under qemu-hexagon."""
    import torch
    import triton_mask_kernels as K
    seed, runs = triton_runs
    (fn, args, grid, ce), ref = runs[(case, 1000)]
    targs = [torch.from_numpy(a.copy()) if isinstance(a, np.ndarray) else a for a in args]
    getattr(K, fn)[grid](*targs, **ce, target="hexagon-sim")
    for i, (g, r) in enumerate(zip(targs, ref)):
        if isinstance(r, np.ndarray):
            assert np.array_equal(g.numpy(), r), f"seed={seed} arg {i}"
