"""Register-blocked contractions on the host (transforms/contract.py): results against NumPy on odd shapes,
f16, batch matmul, threads on and off; the micro-kernel's shape in the IR and the FMAs in the assembly."""
import re

import numpy as np
import pytest

import hexmlir
from hexmlir import Options
from hexmlir.kernels import linalg_suite as S
from hexmlir.targets import cpu_isa_level, host_target, is_x86
from hexmlir.transforms import contract
from conftest import current_seed

ODD = [(33, 17, 65), (1, 1000, 3), (127, 129, 131), (64, 64, 64), (70, 200, 9)]


def _check(kern, opts, tol):
    seed = current_seed()
    rng = np.random.default_rng(seed)
    ins = kern.random_inputs(rng)
    got = hexmlir.compile(kern.mlir, opts)(*ins)
    want = kern.reference(*ins)[0]
    err = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))) if got.size else 0.0
    assert got.shape == want.shape and err <= tol, f"seed={seed} max err {err}"


@pytest.mark.parametrize("mt", [False, True], ids=["1t", "mt"])
@pytest.mark.parametrize("mnk", ODD, ids=lambda s: "x".join(map(str, s)))
def test_matmul_f32_matches_numpy(mnk, mt):
    m, n, k = mnk
    _check(S.matmul(m, n, k), Options(multithread=mt, num_threads=3 if mt else 0, mt_threshold=1 if mt else 0),
           1e-4 * k)


@pytest.mark.parametrize("mt", [False, True], ids=["1t", "mt"])
@pytest.mark.parametrize("mnk", [(65, 49, 33), (71, 63, 40), (9, 111, 20), (15, 17, 3), (1000, 1001, 67)],
                         ids=lambda s: "x".join(map(str, s)))
def test_micro_tile_edges_match_numpy(mnk, mt):
    """Row edges (m mod MR of 1..7) and column edges (a masked vector of 1, 15 or 17 lanes, or a whole
    vector short of NR) of the native-width micro-kernel, whole and split over threads."""
    m, n, k = mnk
    _check(S.matmul(m, n, k), Options(multithread=mt, num_threads=3 if mt else 0, mt_threshold=1 if mt else 0),
           1e-4 * k)


@pytest.mark.parametrize("mt", [False, True], ids=["1t", "mt"])
@pytest.mark.parametrize("mnk", [(33, 17, 65), (127, 129, 131)], ids=lambda s: "x".join(map(str, s)))
def test_matmul_f64_matches_numpy(mnk, mt):
    m, n, k = mnk
    _check(S.matmul(m, n, k, "float64"), Options(multithread=mt, num_threads=3 if mt else 0,
                                                  mt_threshold=1 if mt else 0), 1e-12 * k)


@pytest.mark.parametrize("mnk", [(33, 17, 65), (127, 129, 131)], ids=lambda s: "x".join(map(str, s)))
def test_matmul_f16_matches_numpy(mnk):
    m, n, k = mnk
    _check(S.matmul(m, n, k, "float16"), Options(multithread=False), 2e-3 * k)


@pytest.mark.parametrize("isa", ["x86-64-v3", "x86-64-v4"])
def test_matmul_at_each_isa_level(isa):
    """AVX2 (16 registers: 6 x 2 vectors) and AVX-512 (32: 6 x 4) micro-kernels, where this CPU runs them."""
    from hexmlir.targets import isa_supported
    if not is_x86() or not isa_supported(isa):
        pytest.skip(f"this CPU cannot run {isa}")
    _check(S.matmul(127, 129, 131), Options(multithread=False, isa=isa), 1e-2)


BMM = """func.func @bmm(%a: tensor<3x{m}x{k}xf32>, %b: tensor<3x{k}x{n}xf32>) -> tensor<3x{m}x{n}xf32> {{
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x{m}x{n}xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<3x{m}x{n}xf32>) -> tensor<3x{m}x{n}xf32>
  %r = linalg.batch_matmul ins(%a, %b : tensor<3x{m}x{k}xf32>, tensor<3x{k}x{n}xf32>)
                           outs(%f : tensor<3x{m}x{n}xf32>) -> tensor<3x{m}x{n}xf32>
  return %r : tensor<3x{m}x{n}xf32>
}}"""


@pytest.mark.parametrize("mt", [False, True], ids=["1t", "mt"])
@pytest.mark.parametrize("mnk", [(33, 17, 65), (127, 129, 131)], ids=lambda s: "x".join(map(str, s)))
def test_batch_matmul_matches_numpy(mnk, mt):
    m, n, k = mnk
    seed = current_seed()
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1, 1, (3, m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (3, k, n)).astype(np.float32)
    kern = hexmlir.compile(BMM.format(m=m, n=n, k=k), Options(multithread=mt, num_threads=3 if mt else 0,
                                                               mt_threshold=1 if mt else 0))
    err = float(np.max(np.abs(kern(a, b) - np.matmul(a.astype(np.float64), b))))
    assert err <= 1e-4 * k, f"seed={seed} max err {err}"


def _dump(tmp_path, kernel, **kw):
    d = tmp_path / "dump"
    hexmlir.compile(kernel.mlir, Options(dump_dir=str(d), **{"multithread": False, **kw}))
    return {p.name.split("-", 1)[1].rsplit(".", 1)[0]: p.read_text() for p in d.iterdir()}


def test_micro_kernel_keeps_c_tile_in_registers(tmp_path):
    """The k loop carries the MR x NR-vector C tile as MR * NR native-width accumulators (read before it,
    written after it) and the assembly's hot loop is broadcasts and FMAs on full-width vectors."""
    if not is_x86() or cpu_isa_level() not in ("x86-64-v3", "x86-64-v4"):
        pytest.skip("needs an FMA x86-64 level")
    t = host_target()
    mr, nr = contract.micro_kernel(t, 4, 64, 64)
    assert mr * nr + nr + 1 <= contract.vector_regs(t)
    ir = _dump(tmp_path, S.matmul(64, 64, 256))
    lanes = t.vector_lanes(4)
    acc = ", ".join([f"vector<{lanes}xf32>"] * (mr * nr))
    assert re.search(rf"%\w+:{mr * nr} = scf\.for [^\n]*iter_args\([^)]*\) -> \({acc}\)", ir["vectorize"]), \
        ir["vectorize"]
    reg = "zmm" if t.vector_bytes == 64 else "ymm"
    assert len(re.findall(rf"vfmadd\w+ps\s+%{reg}", ir["target"])) >= mr * nr


def test_option_off_and_scalar_builds():
    """register_tiling=False: no contract stage; vectorize=False: no contract stage either (no vectors)."""
    from hexmlir import pipeline
    st = {s.name: s for s in pipeline.stages()}["contract"]
    t = host_target()
    assert st.off(Options(register_tiling=False), t)
    assert st.off(Options(vectorize=False), t)
    from hexmlir.targets import npu_emu_target
    assert st.off(Options(), npu_emu_target())               # no FMA on the emulated NPU: unchanged there
    if t.fma:
        assert st.off(Options(), t) is None


def test_scalar_build_of_matmul_has_no_packed_simd(tmp_path):
    ir = _dump(tmp_path, S.matmul(33, 17, 65), vectorize=False)
    assert "vector<" not in ir["lower-to-llvm"]
    asm = ir["target"]
    # (the zero fill is a memset that clang expands into vector stores: moves, no arithmetic)
    assert not re.search(r"\bv(add|mul|sub|fmadd\w*|max|min|broadcast\w*)p?s\b[^\n]*%[yz]mm", asm), \
        "packed SIMD arithmetic in a scalar build"


@pytest.mark.parametrize("mnk", [(33, 17, 65), (127, 129, 131)], ids=lambda s: "x".join(map(str, s)))
def test_register_tiling_off_matches_numpy(mnk):
    m, n, k = mnk
    _check(S.matmul(m, n, k), Options(multithread=False, register_tiling=False), 1e-4 * k)


def test_micro_kernel_choice():
    """MR x NR from the register count (all accumulators, B's vectors and a broadcast fit) and the tile:
    the fewest FMA cycles over its full and edge micro-tiles, then the most accumulators, then rows."""
    from hexmlir.targets import Target
    avx512 = Target("host", "v73", 0, 64, 1, 64, None, "x86-64-v4", fma=True)
    avx2 = Target("host", "v73", 0, 32, 1, 64, None, "x86-64-v3", fma=True)
    assert contract.micro_kernel(avx512, 4, None, None) == (8, 3)
    assert contract.micro_kernel(avx2, 4, None, None) == (6, 2)
    for t, shape in ((avx512, (512, 512)), (avx512, (128, 2304)), (avx512, (1000, 1000)), (avx2, (512, 512))):
        mr, nr = contract.micro_kernel(t, 4, *shape)
        assert mr * nr + nr + 1 <= contract.vector_regs(t) and mr * nr >= 12, (t.cpu, shape, mr, nr)
    assert contract.micro_kernel(avx512, 4, 64, 64) == (6, 4)       # 64 columns: 4 whole vectors
    assert contract.micro_kernel(avx512, 4, 16, 32) == (8, 2)       # two vectors of columns: more rows
    assert contract.micro_kernel(avx512, 4, 127, 20) == (8, 2)      # 20 columns: a vector and a masked one
    # the cycle model: 64 x 4 vectors are 128 cycles of FMAs on 2 ports, full or edge micro-tiles; a
    # 1-row edge is bound by the FMA latency, an 8 x 1 tile by its 9 loads
    assert contract._tile_cycles(64, 64, 6, 4, 16) == contract._tile_cycles(64, 64, 4, 4, 16) == 128
    assert contract._tile_cycles(65, 64, 8, 4, 16) == 8 * 16 + 4
    assert contract._tile_cycles(8, 16, 8, 1, 16) == 4.5


def test_k_chunks_are_even(monkeypatch):
    """The fewest k chunks whose B panel fits PACK_BYTES, equal where a divisor of k allows."""
    monkeypatch.setattr(contract, "PACK_BYTES", 100 * 192)          # 100 steps of 192-byte rows
    assert [contract.k_chunk(k, 192) for k in (7, 100, None)] == [7, 100, 100]
    assert contract.k_chunk(1500, 192) == 100                        # 15 chunks
    assert contract.k_chunk(1024, 192) == 64                         # 16 chunks, not 10 of 100 and one of 24
    assert contract.k_chunk(101, 192) == 51                          # prime: 51 + 50


@pytest.mark.parametrize("mt", [False, True], ids=["1t", "mt"])
def test_packed_panels_and_k_chunks_match_numpy(tmp_path, mt):
    """k = 1500 at AVX-512 (8 x 3 vectors): two 750-deep chunks (a 256 KiB panel holds 1365 steps), whose
    750 x 48 B panels (rows 2400 bytes apart) are packed into a stack buffer; pack_b=False gives the same
    numbers."""
    m, n, k = 40, 600, 1500
    kern = S.matmul(m, n, k)
    seed = current_seed()
    ins = kern.random_inputs(np.random.default_rng(seed))
    want = kern.reference(*ins)[0]
    o = dict(multithread=mt, num_threads=3 if mt else 0, mt_threshold=1 if mt else 0)
    got = hexmlir.compile(kern.mlir, Options(**o))(*ins)
    flat = hexmlir.compile(kern.mlir, Options(pack_b=False, **o))(*ins)
    for g in (got, flat):
        err = float(np.max(np.abs(g.astype(np.float64) - want)))
        assert err <= 1e-4 * k, f"seed={seed} max err {err}"
    if not mt and host_target().vector_bytes == 64:
        ir = _dump(tmp_path, kern)
        mr, nr = contract.micro_kernel(host_target(), 4, m, n)
        kc = contract.k_chunk(k, nr * 64)
        assert kc < k and k % kc == 0, (mr, nr, kc)
        assert re.search(rf"memref\.alloca\(\) \{{alignment = 64 : i64\}} : memref<{kc * nr * 64}xi8>", ir["contract"])


def test_register_blocked_contraction_gets_thread_tiles_only():
    """plan.register_blocked: no cache tile for a host contraction the contract stage blocks itself (one
    thread: the whole nest); with register_tiling off the cache tiles are back."""
    import json
    from hexmlir import ir as hir, pipeline
    from hexmlir.targets import get
    kern = S.matmul(256, 256, 256)
    t = get("host")
    if not t.fma:
        pytest.skip("no FMA on this host")

    def tiles(**kw):
        with hir.context(), hir.ir.Location.unknown():
            m = hir.parse(kern.mlir)
            cx = pipeline.run(m, Options(multithread=False, **kw), t, until="plan")
        return [p.tcm_tile for p in cx.plan.ops.values() if p.role == "root"]
    assert all(not any(x) for x in tiles())
    assert any(any(x) for x in tiles(register_tiling=False))


TWO_MM = """func.func @two(%a: tensor<64x300xf32>, %b: tensor<300x640xf32>, %d: tensor<640x520xf32>) -> tensor<64x520xf32> {
  %z = arith.constant 0.0 : f32
  %e0 = tensor.empty() : tensor<64x640xf32>
  %f0 = linalg.fill ins(%z : f32) outs(%e0 : tensor<64x640xf32>) -> tensor<64x640xf32>
  %ab = linalg.matmul ins(%a, %b : tensor<64x300xf32>, tensor<300x640xf32>) outs(%f0 : tensor<64x640xf32>) -> tensor<64x640xf32>
  %e1 = tensor.empty() : tensor<64x520xf32>
  %f1 = linalg.fill ins(%z : f32) outs(%e1 : tensor<64x520xf32>) -> tensor<64x520xf32>
  %r = linalg.matmul ins(%ab, %d : tensor<64x640xf32>, tensor<640x520xf32>) outs(%f1 : tensor<64x520xf32>) -> tensor<64x520xf32>
  return %r : tensor<64x520xf32>
}"""


def test_two_matmuls_share_one_packing_buffer(tmp_path):
    """Both matmuls pack their B panels (300 and 640 rows, 2560 and 2080 bytes apart) into one stack
    buffer at the function's entry, sized for the larger: the panels are never live together, and a buffer
    per op would add up."""
    seed = current_seed()
    rng = np.random.default_rng(seed)
    a, b, d = (rng.uniform(-1, 1, s).astype(np.float32) for s in ((64, 300), (300, 640), (640, 520)))
    o = Options(multithread=False, dump_dir=str(tmp_path / "dump"))
    got = hexmlir.compile(TWO_MM, o)(a, b, d)
    want = (a.astype(np.float64) @ b) @ d
    err = float(np.max(np.abs(got - want)))
    assert err <= 1e-2, f"seed={seed} max err {err}"
    if host_target().vector_bytes == 64:
        ir = next((tmp_path / "dump").glob("*-contract.mlir")).read_text()
        nr = contract.micro_kernel(host_target(), 4, 64, 640)[1]
        assert ir.count("memref.alloca") == 1 and f"memref<{640 * nr * 64}xi8>" in ir, ir


def test_three_vector_micro_kernel_is_native_width_fmas(tmp_path):
    """A 48-column tile at AVX-512 gets the 8 x 3-vector micro-kernel: 24 vector<16xf32> accumulators
    carried across k, each row split into its three vectors, so LLVM sees no 48-lane value in the loop
    (it scalarized a loop-carried <48 x float>: the GPT-2 block's QKV projection ran 15x slower, issue 15)
    and the hot loop is 24 FMAs on zmm registers with no spills."""
    from hexmlir.targets import Target
    avx512 = Target("host", "v73", 0, 64, 1, 64, None, "x86-64-v4", fma=True)
    assert contract.micro_kernel(avx512, 4, 128, 48) == (8, 3)
    m, n, k = 128, 48, 256
    _check(S.matmul(m, n, k), Options(multithread=False), 1e-4 * k)
    if not is_x86() or host_target().vector_bytes != 64:
        return
    ir = _dump(tmp_path, S.matmul(m, n, k))
    assert not re.search(r"<(48|96|144|192|240|288|336|384) x float>", ir["llvm"]), "a 48-lane row reached LLVM"
    loops = re.split(r"\n\.LBB\d+_\d+:", ir["target"])
    hot = [b for b in loops if len(re.findall(r"vfmadd\w+ps\s+[^\n]*%zmm", b)) == 24]
    assert hot, "no loop with the 8 x 3 micro-kernel's 24 FMAs"
    assert not re.search(r"vextract|vinsert|\(%rsp\)", hot[0]), hot[0]


@pytest.mark.parametrize("mnk", [(37, 48, 100), (128, 57, 256)], ids=lambda s: "x".join(map(str, s)))
def test_three_vector_wide_tiles_stay_vector(tmp_path, mnk):
    """48-57 columns at AVX-512: no non-power-of-two vector reaches LLVM, and the result matches NumPy."""
    m, n, k = mnk
    _check(S.matmul(m, n, k), Options(multithread=False), 1e-4 * k)
    t = host_target()
    if not is_x86() or t.vector_bytes != 64:
        return
    ll = _dump(tmp_path, S.matmul(m, n, k))["llvm"]
    assert not re.search(r"<(48|96|144|192|240|288|336|384) x float>", ll), "a 3-vector-wide f32 row reached LLVM"
