"""FileCheck-style checks of the IR after key stages, the emitted code, and the hexagon objects."""
import re
import subprocess

import numpy as np
import pytest

import hexmlir
from hexmlir import Options
from hexmlir.kernels import linalg_suite as S
from hexmlir.targets import HEXAGON_ARCHS
from hexmlir.targets.tools import tool
from conftest import current_seed

ST = dict(multithread=False, dma=False, double_buffer=False)


def _dump(tmp_path, kernel, **kw):
    """Stage dumps of a build for the emulated NPU (128-byte vectors, TCM) unless `target` says otherwise."""
    d = tmp_path / "dump"
    hexmlir.compile(kernel.mlir, Options(dump_dir=str(d), **{"target": "npu-emu", **ST, **kw}))
    return {p.name.split("-", 1)[1].rsplit(".", 1)[0]: p.read_text() for p in d.iterdir()}


def test_fusion_makes_one_loop_nest(tmp_path):
    ir = _dump(tmp_path, S.gelu_tanh((1000,)), fast_math=False)
    assert len(re.findall(r"linalg\.\w+ ", ir["canonicalize"])) >= 6
    fused = ir["fusion"]
    assert fused.count("linalg.generic") == 1
    assert fused.count("tensor.empty") == 1           # only the output; no intermediate tensors
    assert "math.tanh" in fused


def test_fusion_keeps_producers_out_of_broadcast_contraction_operands(tmp_path):
    """GELU then nn.Linear (transpose + matmul): the GELU and the transpose stay separate ops (merged, the GELU
    would be recomputed per output column and the matmul would read the weight with stride K)."""
    mlir = """func.func @f(%x: tensor<7x33xf32>, %w: tensor<45x33xf32>) -> tensor<7x45xf32> {
  %c0 = arith.constant 0.0 : f32
  %e0 = tensor.empty() : tensor<7x33xf32>
  %g = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
       iterator_types = ["parallel", "parallel"]} ins(%x : tensor<7x33xf32>) outs(%e0 : tensor<7x33xf32>) {
  ^bb0(%a: f32, %o: f32):
    %t = math.tanh %a : f32
    %m = arith.mulf %a, %t : f32
    linalg.yield %m : f32
  } -> tensor<7x33xf32>
  %e1 = tensor.empty() : tensor<33x45xf32>
  %wt = linalg.transpose ins(%w : tensor<45x33xf32>) outs(%e1 : tensor<33x45xf32>) permutation = [1, 0]
  %e2 = tensor.empty() : tensor<7x45xf32>
  %z = linalg.fill ins(%c0 : f32) outs(%e2 : tensor<7x45xf32>) -> tensor<7x45xf32>
  %r = linalg.matmul ins(%g, %wt : tensor<7x33xf32>, tensor<33x45xf32>) outs(%z : tensor<7x45xf32>) -> tensor<7x45xf32>
  return %r : tensor<7x45xf32>
}"""
    d = tmp_path / "dump"
    k = hexmlir.compile(mlir, Options(dump_dir=str(d), fast_math=False))
    fused = next(d.glob("*-fusion.mlir")).read_text()
    matmul = [ln for ln in fused.splitlines() if '"reduction"' in ln]
    assert len(matmul) == 1 and "ins(%arg0, %arg1" not in matmul[0]       # reads the GELU and transpose results
    assert fused.count("math.tanh") == 1 and "hexmlir.fusion_barrier" not in fused
    rng = np.random.default_rng(current_seed())
    x, w = rng.standard_normal((7, 33), np.float32), rng.standard_normal((45, 33), np.float32)
    np.testing.assert_allclose(k(x, w), (x * np.tanh(x)) @ w.T, rtol=1e-5, atol=1e-5)


def test_unfused_keeps_ops(tmp_path):
    ir = _dump(tmp_path, S.gelu_tanh((1000,)), fusion=False, fast_math=False)
    assert "fusion" not in ir
    assert ir["plan"].count("linalg.generic") >= 6


def test_tcm_tiling_promotes_to_memory_space_1(tmp_path):
    ir = _dump(tmp_path, S.softmax_rows(300, 1001), fast_math=False)
    assert "scf.forall" in ir["tcm-tiling"]
    promoted = ir["tcm-promote"]
    assert re.search(r"memref\.alloc\(\)[^\n]*: memref<\d+xi8, 1>", promoted)
    assert re.search(r"linalg\.copy ins\([^\n]*\) outs\([^\n]*, 1>\)", promoted)      # DDR -> TCM
    assert re.search(r"linalg\.copy ins\([^\n]*, 1>\) outs\([^\n]*\)\n", promoted)    # TCM -> DDR
    # the fused softmax (max, exp-sum, normalize) stays in one tile loop
    assert promoted.count("scf.for") >= 1 and "linalg.generic" in promoted


def test_no_tcm_tiling_means_no_memory_space_1(tmp_path):
    ir = _dump(tmp_path, S.softmax_rows(300, 1001), tcm_tiling=False, fast_math=False)
    assert "tcm-promote" not in ir and ", 1>" not in ir["vectorize"]


def test_vectorize_f32_f16(tmp_path):
    assert "vector<32xf32>" in _dump(tmp_path / "a", S.vector_add(1000))["vectorize"]
    assert "vector<64xf16>" in _dump(tmp_path / "b", S.vector_add(1000, "float16"))["vectorize"]
    assert "vector<1x32xf32>" in _dump(tmp_path / "c", S.softmax_rows(7, 1001))["vectorize"]


def test_scalar_build_has_no_vectors(tmp_path):
    ir = _dump(tmp_path, S.gelu_tanh((1000,)), vectorize=False)
    assert "vector<" not in ir["lower-to-llvm"]
    asm = ir["target"]
    assert not re.search(r"\b(v(add|mul|sub|fmadd\w*|max|min)ps)\b", asm), "packed SIMD in a scalar build"
    assert "ymm" not in asm


def test_vector_build_has_vectors(tmp_path):
    asm = _dump(tmp_path, S.vector_add(100000))["target"]
    assert re.search(r"vaddps\s+[^\n]*%[yz]mm", asm)      # AVX2 or AVX-512 (the isa level)


def test_contraction_accumulator_is_carried_in_registers(tmp_path):
    """The C tile of a vectorized matmul is read before the k loop, carried as an iter_arg, written after."""
    vec = _dump(tmp_path, S.matmul(33, 17, 65))["vectorize"]
    carried = re.findall(r"scf\.for [^\n]*iter_args\([^\n]*-> \(vector<1x\d+xf32>\)", vec)
    assert carried, "k loop does not carry the accumulator"
    k_loop = vec[vec.index(carried[0]):]
    k_loop = k_loop[:k_loop.index("scf.yield")]
    assert "vector.transfer_write" not in k_loop


def _hexagon_obj(tmp_path, kernel, arch, vectorize):
    out = tmp_path / f"{kernel.name}-{arch}-{vectorize}.o"
    hexmlir.compile(kernel.mlir, Options(target="hexagon", arch=arch, vectorize=vectorize, **ST), emit="obj",
                    output=str(out))
    return subprocess.run([tool("llvm-objdump"), "-d", str(out)], capture_output=True, text=True).stdout


HVX = re.compile(r"\bv\d+(:\d+)?(\.\w+)?\s*=|=\s*v\w+\(v\d+|vmem\(")


@pytest.mark.parametrize("arch", HEXAGON_ARCHS)
def test_hexagon_objects_have_hvx_iff_vectorized(tmp_path, arch):
    k = S.vector_add(4099)
    assert HVX.search(_hexagon_obj(tmp_path, k, arch, True))
    assert not HVX.search(_hexagon_obj(tmp_path, k, arch, False))


INT8_ADD = """
func.func @add_i8(%a: tensor<1000xi8>, %b: tensor<1000xi8>) -> tensor<1000xi8> {
  %e = tensor.empty() : tensor<1000xi8>
  %r = linalg.add ins(%a, %b : tensor<1000xi8>, tensor<1000xi8>) outs(%e : tensor<1000xi8>) -> tensor<1000xi8>
  return %r : tensor<1000xi8>
}"""


def test_int8_vectorizes_to_128_lanes(tmp_path):
    d = tmp_path / "dump"
    k = hexmlir.compile(INT8_ADD, Options(target="npu-emu", dump_dir=str(d), **ST))
    assert "vector<128xi8>" in next(d.glob("*-vectorize.mlir")).read_text()
    import numpy as np
    rng = np.random.default_rng(current_seed())
    a, b = (rng.integers(-128, 128, 1000, dtype=np.int8) for _ in range(2))
    np.testing.assert_array_equal(k(a, b), a + b)       # wrap-around, as linalg.add on i8
    out = tmp_path / "i8.o"
    hexmlir.compile(INT8_ADD, Options(target="hexagon", **ST), emit="obj", output=str(out))
    dis = subprocess.run([tool("llvm-objdump"), "-d", str(out)], capture_output=True, text=True).stdout
    assert re.search(r"\.b\s*=\s*vadd\(v\d+\.b,v\d+\.b\)", dis)


# ------------------------------------------------------------------------------------------ the host target

def test_host_tiles_in_place_at_the_isa_width(tmp_path):
    """host: cache tiles computed in place (no memory space 1, no TCM pool or DMA calls), vectors of the
    pinned ISA level (x86-64-v3: 32 bytes, v4: 64 bytes), threads over the tile loop."""
    for isa, lanes in (("x86-64-v3", 8), ("x86-64-v4", 16)):
        ir = _dump(tmp_path / isa, S.softmax_rows(300, 1001), target="host", isa=isa, multithread=True,
                   num_threads=4, mt_threshold=1)
        assert "scf.forall" in ir["tcm-tiling"]
        assert "tcm-promote" not in ir and "dma" not in ir and ", 1>" not in ir["vectorize"]
        assert f"vector<1x{lanes}xf32>" in ir["vectorize"]
        assert "hx_parallel_for" in ir["llvm"] and "hx_tcm" not in ir["llvm"] and "hx_dma" not in ir["llvm"]


def test_host_threads_without_tcm_tiling(tmp_path):
    """tcm_tiling=False still splits the outer parallel loop over the threads (it used to run on one)."""
    k = S.softmax_rows(300, 1001)
    ir = _dump(tmp_path, k, target="host", tcm_tiling=False, multithread=True, num_threads=4, mt_threshold=1)
    assert "hx_parallel_for" in ir["llvm"]
    kern = hexmlir.compile(k.mlir, Options(target="host", tcm_tiling=False, num_threads=4, mt_threshold=1))
    seed = int(np.random.SeedSequence().entropy % (1 << 31))
    x = np.random.default_rng(seed).standard_normal((300, 1001)).astype(np.float32)
    e = np.exp(x - x.max(-1, keepdims=True))
    np.testing.assert_allclose(kern(x), e / e.sum(-1, keepdims=True), rtol=1e-4, atol=1e-6, err_msg=f"seed {seed}")


def test_isa_level_pinned_and_refused_where_missing(tmp_path, monkeypatch):
    """An artifact records its x86-64 level and refuses (typed error, not SIGILL) to load on a CPU without it."""
    from hexmlir import targets
    from hexmlir.artifact import Kernel
    from hexmlir.errors import HexmlirError
    v3 = {"sse4_2", "popcnt", "ssse3", "avx2", "fma", "bmi2", "f16c", "movbe"}
    assert targets.cpu_isa_level(v3) == "x86-64-v3"
    assert targets.cpu_isa_level(v3 | {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}) == "x86-64-v4"
    assert not targets.isa_supported("x86-64-v4", v3) and targets.isa_supported("x86-64-v2", v3)
    if not targets.is_x86():
        pytest.skip("x86-64 levels only")
    out = tmp_path / "k.so"
    hexmlir.compile(S.vector_add(1000).mlir, Options(isa="x86-64-v3", multithread=False), output=str(out))
    assert Kernel.load(out).meta["isa"] == "x86-64-v3"
    monkeypatch.setattr(targets, "_cpu_flags", lambda: {"sse4_2", "popcnt", "ssse3"})
    with pytest.raises(HexmlirError, match="x86-64-v3"):
        Kernel.load(out)
    with pytest.raises(HexmlirError, match="isa"):
        Options(isa="avx9000")


def test_host_fuses_multiply_adds(tmp_path):
    """host (x86-64-v3 and up has FMA): the fast-math polynomials' multiply-adds become FMAs; the emulated
    NPU keeps HVX's separate multiply and add. Results stay within the fast-math bound."""
    from hexmlir import targets
    if not targets.is_x86():
        pytest.skip("x86-64 only")
    k = S.gelu_tanh((1000,))
    host = _dump(tmp_path / "h", k, target="host", isa="x86-64-v3")["target"]
    npu = _dump(tmp_path / "n", k)["target"]
    assert re.search(r"\bvfn?m(add|sub)\w*ps\b", host) and not re.search(r"\bvfn?m(add|sub)\w*ps\b", npu)
    seed = int(np.random.SeedSequence().entropy % (1 << 31))
    x = k.random_inputs(np.random.default_rng(seed))
    kern = hexmlir.compile(k.mlir, Options(target="host", isa="x86-64-v3", multithread=False))
    np.testing.assert_allclose(kern(*x), k.reference(*x)[0], rtol=2e-5, atol=2e-6, err_msg=f"seed {seed}")


def test_reductions_carry_a_vector_accumulator(tmp_path):
    """Row reductions (softmax's max and sum) carry a full vector across the reduction loop and reduce it
    horizontally once after it, instead of a horizontal reduction into a scalar per vector step."""
    k = S.softmax_rows(33, 1001)
    vec = _dump(tmp_path, k, fast_math=False)["vectorize"]
    assert re.search(r"scf\.for [^\n]*iter_args\([^\n]*-> \(vector<32xf32>\)", vec)
    assert "-> (vector<1xf32>)" not in vec
    kern = hexmlir.compile(k.mlir, Options(target="npu-emu", multithread=False, fast_math=False))
    seed = int(np.random.SeedSequence().entropy % (1 << 31))
    x = np.random.default_rng(seed).standard_normal((33, 1001)).astype(np.float32) * 8
    e = np.exp(x.astype(np.float64) - x.max(-1, keepdims=True))
    np.testing.assert_allclose(kern(x), e / e.sum(-1, keepdims=True), rtol=2e-5, atol=1e-7, err_msg=f"seed {seed}")


def test_scalar_build_zero_fill_uses_no_vector_registers(tmp_path):
    """A reduction's zero fill becomes a memset; LLVM expanded it with ymm stores in a vectorize=False build
    until every function was marked noimplicitfloat."""
    ir = _dump(tmp_path, S.row_sum(33, 1000), vectorize=False)
    assert "noimplicitfloat" in ir["lower-to-llvm"]
    asm = ir["target"]
    assert not re.search(r"%[yz]mm\d", asm), "vector registers in a scalar build"


@pytest.mark.parametrize("threads", [1, 2])
def test_row_reduction_scratch_is_not_allocated_per_row(tmp_path, threads):
    """A row reduction's 1-element accumulator buffers are allocated once per thread body on host, not per
    row inside the row loop (LayerNorm 4096x1024: 4 malloc/free pairs per row cost 15-19% at 1 thread)."""
    from hexmlir.bench.registry import layernorm
    k = layernorm(33, 1000)                   # rows of 4000 B: one row per tile step
    ir = _dump(tmp_path, k, target="host", multithread=threads > 1, num_threads=threads)
    from hexmlir.ir import context, enclosing_loop, ops_named, parse

    def allocs_in_loops(text):
        with context():
            m = parse(text)                     # kept alive while its ops are inspected
            return sum(enclosing_loop(a) is not None for a in ops_named(m.operation, "memref.alloc"))
    assert allocs_in_loops(ir["vectorize"]) >= 2               # the shape this test is about
    assert allocs_in_loops(ir["hoist-buffers"]) == 0
    kern = hexmlir.compile(k.mlir, Options(target="host", multithread=threads > 1, num_threads=threads))
    seed = current_seed()
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((33, 1000)).astype(np.float32) * 3 + 1
    w, b = rng.standard_normal(1000).astype(np.float32), rng.standard_normal(1000).astype(np.float32)
    np.testing.assert_allclose(kern(x, w, b), k.reference(x, w, b)[0], rtol=2e-4, atol=2e-4, err_msg=f"seed {seed}")


@pytest.mark.parametrize("cols,k", [(1024, 4), (1000, 2), (1008, 0)])
def test_row_sums_carry_independent_accumulators(tmp_path, cols, k):
    """A row sum over cached data is one dependency chain per vector accumulator (4 cycles per vaddps): the
    loop carries 4 (or 2, whatever divides the trip count) independent partial vectors, combined after it,
    and the horizontal sum is a shuffle tree (reassoc), not one scalar add per lane. cols 1000 on x86-64-v4:
    62 vectors (2 accumulators) + an 8-lane tail; 1008: 63 vectors, odd, one accumulator."""
    from hexmlir.bench.registry import layernorm
    kern_src = layernorm(5, cols)
    vec = _dump(tmp_path, kern_src, target="host", isa="x86-64-v4")["vectorize"]
    carried = [len(m.group(1).split(",")) for m in
               re.finditer(r"scf\.for [^\n]*iter_args\(([^)]*)\) -> \((?:vector<16xf32>(?:, )?)+\)", vec)]
    assert carried and all(c == max(k, 1) for c in carried), carried
    assert "vector.reduction <add>" in vec and "fastmath<reassoc>" in vec
    kern = hexmlir.compile(kern_src.mlir, Options(target="host", multithread=False))   # this CPU's ISA
    seed = current_seed()
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((5, cols)) * 4 + 3).astype(np.float32)
    w, b = rng.standard_normal(cols).astype(np.float32), rng.standard_normal(cols).astype(np.float32)
    np.testing.assert_allclose(kern(x, w, b), kern_src.reference(x, w, b)[0], rtol=1e-4, atol=1e-4,
                               err_msg=f"seed {seed}")


def _rows3d_mlir(h, r, c):
    t, o = f"tensor<{h}x{r}x{c}xf32>", f"tensor<{h}x{r}xf32>"
    m3, m2 = "affine_map<(b, i, j) -> (b, i, j)>", "affine_map<(b, i, j) -> (b, i)>"
    red = '"parallel", "parallel", "reduction"'
    return f"""
func.func @rows3d(%x: {t}) -> ({o}, {o}) {{
  %z = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %e = tensor.empty() : {o}
  %fz = linalg.fill ins(%z : f32) outs(%e : {o}) -> {o}
  %fm = linalg.fill ins(%ninf : f32) outs(%e : {o}) -> {o}
  %mx = linalg.generic {{indexing_maps = [{m3}, {m2}], iterator_types = [{red}]}} ins(%x : {t}) outs(%fm : {o}) {{
  ^bb0(%a: f32, %acc: f32):
    %y = arith.maximumf %a, %acc : f32
    linalg.yield %y : f32
  }} -> {o}
  %sm = linalg.generic {{indexing_maps = [{m3}, {m2}], iterator_types = [{red}]}} ins(%x : {t}) outs(%fz : {o}) {{
  ^bb0(%a: f32, %acc: f32):
    %y = arith.addf %a, %acc : f32
    linalg.yield %y : f32
  }} -> {o}
  return %mx, %sm : {o}, {o}
}}
"""


def test_3d_row_reductions_vectorize_along_the_reduced_dim(tmp_path):
    """A reduction over [heads, rows, cols] -> [heads, rows] (route B SDPA's softmax) vectorizes along the
    contiguous reduced dim and carries vector accumulators, like the 2-D row reductions. Before: planned
    like a contraction (vector across rows: one strided element per row and lane), ~30% of SDPA's cycles."""
    torch = pytest.importorskip("torch")
    h, r, c = 3, 33, 1000
    src = _rows3d_mlir(h, r, c)
    d = tmp_path / "dump"
    hexmlir.compile(src, Options(target="host", isa="x86-64-v4", multithread=False, dump_dir=str(d)))
    vec = next(p for p in d.iterdir() if p.name.endswith("-vectorize.mlir")).read_text()
    assert "vector<1x16xf32>" not in vec and "vector<16x1xf32>" not in vec    # not across rows
    assert "-> (vector<1x1xf32>)" not in vec                                   # no scalar chain
    carried = re.findall(r"scf\.for [^\n]*iter_args\([^)]*\) -> \((vector<16xf32>[^)]*)\)", vec)
    assert len(carried) >= 2, carried                                           # the max and the sum
    assert "vector.reduction <maximumf>" in vec and "vector.reduction <add>" in vec
    kern = hexmlir.compile(src, Options(target="host", multithread=False))      # this CPU's ISA
    seed = current_seed()
    x = torch.randn(h, r, c, generator=torch.Generator().manual_seed(seed)) * 4 + 1
    mx, sm = kern(x.numpy())
    torch.testing.assert_close(torch.from_numpy(np.asarray(mx)), x.amax(-1), rtol=0, atol=0,
                               msg=lambda m: f"seed {seed}: max {m}")
    torch.testing.assert_close(torch.from_numpy(np.asarray(sm)), x.double().sum(-1).float(), rtol=1e-5,
                               atol=1e-3, msg=lambda m: f"seed {seed}: sum {m}")
