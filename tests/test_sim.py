"""hexagon-sim: compiled kernels run under qemu-hexagon, outputs against NumPy; the packet profiler.

Default tier: the HVX proof on one tiny int8 kernel (plus no-QEMU unit tests). `--slow`: the CI slice
(`-k qemu`: vector add, GELU, softmax, RMSNorm, matmul, int kernels x all-on/all-off, threads, grid
launch, QEMU abort translation) and the full suite x option ladder.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch_mlir")

import hexmlir  # noqa: E402
from hexmlir import Options  # noqa: E402
from hexmlir.errors import HexmlirError, UnsupportedError  # noqa: E402
from hexmlir.kernels import linalg_suite as ls  # noqa: E402
from hexmlir.profile import parse_log  # noqa: E402
from hexmlir.targets import sim  # noqa: E402

from conftest import assert_close  # noqa: E402

needs_qemu = pytest.mark.skipif(shutil.which("qemu-hexagon") is None, reason="qemu-hexagon not installed")
ALL_ON = Options(target="hexagon-sim")
ALL_OFF = Options.all_off(target="hexagon-sim")
VEC_ONLY = Options.all_off(target="hexagon-sim", vectorize=True, fusion=True)


def _check(kernel, options, rng, tol=None):
    ins = kernel.random_inputs(rng)
    k = hexmlir.compile(kernel.mlir, options)
    assert k.simulated and k.meta["hvx_float"] is False
    got = k(*ins)
    ref = kernel.reference(*ins)
    dt = kernel.outputs[0][1]
    if tol is None:
        assert_close(got, ref, dt)
    else:
        got = got if isinstance(got, tuple) else (got,)
        for g, r in zip(got, ref):
            np.testing.assert_allclose(g.astype(np.float64), r.astype(np.float64), rtol=tol, atol=tol)
    return k


# ------------------------------------------------------------------ no QEMU needed

def test_linalg_stub_builds_descriptors():
    meta = {"entry": "_mlir_ciface_f", "args": [{"shape": [3, 5], "dtype": "float32", "role": "in"},
                                                 {"shape": [], "dtype": "int32", "role": "out"}]}
    c = sim.linalg_stub(meta)
    assert "{l->bufs[0], l->bufs[0], 0, {3, 5}, {5, 1}}" in c
    assert "hx_desc1_t d1 = {l->bufs[1], l->bufs[1], 0};" in c       # rank 0: no sizes/strides
    assert "_mlir_ciface_f(&d0, &d1);" in c


def test_grid_stub_types_and_errors():
    c = sim.grid_stub("k", ["ptr", "int32_t", "ptr", "float"])
    assert "extern void k(void *, int32_t, void *, float, int32_t, int32_t, int32_t, int32_t, int32_t, int32_t);" in c
    assert "(int32_t)l->scalars[0].i" in c and "(float)l->scalars[1].f" in c and "l->bufs[1]" in c
    with pytest.raises(HexmlirError):
        sim.grid_stub("k", ["tensor"])


def test_profile_parser_counts_packets_insns_hvx(tmp_path):
    # Two blocks: one with a duplex word and a constant extender, one with an HVX add; markers around.
    log = tmp_path / "q.log"
    log.write_text(
        "----------------\nIN: hx_sim_kernel_begin\n0x00001000:  0x7f00c000\t{\tnop }\n\n"
        "Trace 0: 0x1 [00000000/0000000000001000/00000000/00000200] hx_sim_kernel_begin\n"
        "----------------\nIN: kern\n"
        "0x00002000:  0x00004b20\t{\timmext(#0x2c800)\n"
        "0x00002004:  0x7800c206\t\tR6 = ##0x2c810 }\n"
        "0x00002008:  0x28003c00\t{\tmemd(r29+#0xfffffff0) = R17:16; allocframe(#0x10) }\n"
        "0x0000200c:  0x1f02c004\t{\tV4.b = vadd(V0.b,V2.b):sat }\n\n"
        "Trace 0: 0x2 [00000000/0000000000002000/00000000/00000200] kern\n"
        "Trace 1: 0x2 [00000000/0000000000002000/00000000/00000200] kern\n"
        "----------------\nIN: hx_sim_kernel_end\n0x00003000:  0x7f00c000\t{\tnop }\n\n"
        "Trace 0: 0x3 [00000000/0000000000003000/00000000/00000200] hx_sim_kernel_end\n"
        "Trace 0: 0x2 [00000000/0000000000002000/00000000/00000200] kern\n")
    p = parse_log(log, kernel_only=True)
    assert (p.packets, p.insns, p.hvx) == (2 * 3, 2 * 4, 2 * 1)      # outside the window: not counted
    assert set(p.threads) == {0, 1} and p.functions["kern"].blocks == 2
    whole = parse_log(log, kernel_only=False)
    assert whole.packets == 3 * 3 + 2                                   # every block, markers included
    empty = tmp_path / "empty.log"
    empty.write_text("")
    with pytest.raises(HexmlirError, match="hx_sim_kernel_begin"):
        parse_log(empty, kernel_only=True)


def test_production_object_with_hvx_float_is_refused(tmp_path):
    """Target 'hexagon' keeps HVX float; linking it for QEMU gives a clear error, not QEMU's abort."""
    k = hexmlir.compile(ls.gelu_tanh((100,)).mlir, target="hexagon")
    assert k.meta["hvx_float"] is True and not k.simulated
    with pytest.raises(HexmlirError, match="hexagon-sim"):
        k(np.zeros(100, np.float32))
    obj = k.path.parent / "kernel.o"
    assert sim.hvx_float_insns(obj)
    with pytest.raises(UnsupportedError, match="HVX floating-point"):
        sim.link([obj], sim.linalg_stub({"entry": k.meta["entry"], "args": k.meta["args"]}), tmp_path / "x")
    with pytest.raises(UnsupportedError, match="cannot be simulated"):
        hexmlir.compile(ls.vector_add(10).mlir, target="hexagon-sim", arch="v79")


def test_triton_stub_matches_plugin_abi():
    args = [{"role": "ptr", "dtype": "float32"}, {"role": "ptr", "dtype": "float16"},
            {"role": "scalar", "dtype": "int32"}, {"role": "scalar", "dtype": "float32"},
            {"role": "grid", "dtype": "int32"}, {"role": "grid", "dtype": "int32"}, {"role": "grid", "dtype": "int32"}]
    c = sim.triton_stub("_mlir_ciface_k", args)
    assert ("extern void _mlir_ciface_k(hx_desc0_t *, hx_desc1_t *, int32_t, float, int32_t, int32_t, int32_t);"
            in c)
    assert "l->nbytes[1] / 2" in c and "(float)l->scalars[1].f" in c and "(int32_t)l->grid[2]" in c


# ------------------------------------------------------------------ default tier: one tiny kernel

@needs_qemu
def test_vectorized_int_kernel_executes_hvx_scalar_build_none(rng):
    kern = ls.int_add_sat(301, "int8")
    ins = kern.random_inputs(rng)
    ref = kern.reference(*ins)[0]
    vec = hexmlir.compile(kern.mlir, VEC_ONLY)
    out, p = vec.profile(*ins)
    np.testing.assert_array_equal(out, ref)
    assert p.hvx > 0 and p.functions[vec.meta["entry"]].hvx > 0
    _, p2 = vec.profile(*ins)                       # single-threaded counts are deterministic
    assert (p2.packets, p2.insns, p2.hvx) == (p.packets, p.insns, p.hvx)
    out, ps = hexmlir.compile(kern.mlir, ALL_OFF).profile(*ins)
    np.testing.assert_array_equal(out, ref)
    assert ps.hvx == 0 and ps.packets > p.packets
    assert ps.packets_per_element() > 0 and p.elements == 301


# ------------------------------------------------------------------ slow: CI slice (-k qemu)

CI_KERNELS = {
    "vector_add-1000": lambda: ls.vector_add(1000),
    "gelu-33x31": lambda: ls.gelu_tanh((33, 31)),
    "softmax-7x131": lambda: ls.softmax_rows(7, 131),
    "rmsnorm-5x97": lambda: ls.rmsnorm(5, 97),
    "matmul-33x17x65": lambda: ls.matmul(33, 17, 65),
    "add_sat_i8-1001": lambda: ls.int_add_sat(1001, "int8"),
    "int_add_i32-777": lambda: ls.int_add(777, "int32"),
    "matmul_i8-13x17x65": lambda: ls.int8_matmul(13, 17, 65),
    "dot_i8-5x131": lambda: ls.int8_dot(5, 131),
    "requantize-1001": lambda: ls.requantize(1001),
}


@needs_qemu
@pytest.mark.slow
@pytest.mark.parametrize("opts", [ALL_ON, ALL_OFF], ids=["all_on", "all_off"])
@pytest.mark.parametrize("name", sorted(CI_KERNELS))
def test_qemu_kernel_matches_reference(name, opts, rng):
    _check(CI_KERNELS[name](), opts, rng)


@needs_qemu
@pytest.mark.slow
def test_qemu_four_threads_share_the_work_with_dma(rng):
    kern = ls.int_add(1 << 18, "int32")          # large enough for the planner to split over 4 threads
    ins = kern.random_inputs(rng)
    k = hexmlir.compile(kern.mlir, ALL_ON)
    assert k.meta["sim_threads"] == 4
    out, p = k.profile(*ins)
    np.testing.assert_array_equal(out, kern.reference(*ins)[0])
    workers = [t for t, fs in p.thread_functions.items()
               if any(f"hxk_{kern.name}_par" in f and c.packets > 0 for f, c in fs.items())]
    assert len(workers) >= 4, p.format()
    assert any(f.startswith("dma_") for f in p.functions), p.format()


@needs_qemu
@pytest.mark.slow
def test_qemu_grid_launch_with_scalars(tmp_path, rng):
    """The Triton-style path: pointers + scalars + a grid, via grid_stub and the manifest."""
    from hexmlir.targets.tools import run, tool
    src = tmp_path / "k.c"
    src.write_text("#include <stdint.h>\nvoid k(float *x, float *y, int32_t n, float a, int32_t px, int32_t py,"
                   " int32_t pz, int32_t gx, int32_t gy, int32_t gz) {\n"
                   "  int32_t blk = (n + gx - 1) / gx;\n"
                   "  for (int32_t i = px * blk; i < n && i < (px + 1) * blk; i++) y[i] = a * x[i] + (float)py;\n}\n")
    obj = tmp_path / "k.o"
    run([tool("clang"), "-O2", "--target=hexagon-unknown-linux-musl", "-mcpu=hexagonv73", "-c", str(src),
         "-o", str(obj)], "test")
    exe = sim.link([obj], sim.grid_stub("k", ["ptr", "ptr", "int32_t", "float"]), tmp_path / "k.sim")
    x = rng.standard_normal(1000).astype(np.float32)
    y = np.zeros_like(x)
    sim.run(exe, [x, y], inputs=[0], outputs=[1], scalars=[1000, 2.5], grid=(7, 1, 1))
    np.testing.assert_allclose(y, 2.5 * x, rtol=1e-6)


@needs_qemu
@pytest.mark.slow
def test_qemu_abort_on_hvx_float_becomes_clear_error(tmp_path):
    from hexmlir import runtime
    k = hexmlir.compile(ls.gelu_tanh((256,)).mlir, target="hexagon")
    stub = tmp_path / "stub.c"
    stub.write_text(sim.linalg_stub({"entry": k.meta["entry"], "args": k.meta["args"]}))
    exe = runtime.link_hexagon_executable([stub, runtime.source_dir() / "sim_harness.c", k.path.parent / "kernel.o"],
                                          tmp_path / "bad.sim", hvx_float=False)   # bypasses the check
    x = np.ones(256, np.float32)
    with pytest.raises(UnsupportedError, match="HVX floating point"):
        sim.run(exe, [x, np.zeros_like(x)], inputs=[0], outputs=[1])


@needs_qemu
@pytest.mark.slow
def test_qemu_profile_cli(tmp_path):
    out = tmp_path / "p.json"
    r = subprocess.run([sys.executable, "-m", "hexmlir.cli", "profile", "--suite", "int_add:300,int8",
                        "--no-multithread", "--json", str(out)], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(Path(hexmlir.__file__).parents[1])})
    assert r.returncode == 0, r.stderr
    assert "matches the NumPy reference: yes" in r.stdout and "packets/element" in r.stdout
    import json
    d = json.loads(out.read_text())
    assert d["hvx"] > 0 and d["kernel_only"] and d["packets_per_element"] > 0


# ------------------------------------------------------------------ slow: full suite

FULL = [
    ("vector_add_2d", lambda d: ls.vector_add_2d(7, 130, d)), ("silu", lambda d: ls.silu((1001,), d)),
    ("row_sum", lambda d: ls.row_sum(9, 257, d)), ("softmax", lambda d: ls.softmax_rows(3, 1001, d)),
    ("gelu", lambda d: ls.gelu_tanh((4099,), d)), ("matmul", lambda d: ls.matmul(31, 33, 35, d)),
    ("rmsnorm", lambda d: ls.rmsnorm(4, 515, d)),
]
LADDER = {"all_off": ALL_OFF, "vec": VEC_ONLY, "vec_tcm": Options.all_off(target="hexagon-sim", vectorize=True,
          fusion=True, fast_math=True, tcm_tiling=True), "no_mt": Options(target="hexagon-sim", multithread=False),
          "all_on": ALL_ON}


@needs_qemu
@pytest.mark.slow
@pytest.mark.parametrize("opt", sorted(LADDER))
@pytest.mark.parametrize("name,build", FULL, ids=[n for n, _ in FULL])
def test_sim_full_suite_f32(name, build, opt, rng):
    _check(build("float32"), LADDER[opt], rng)


INT_FULL = [("add_sat_i16", lambda: ls.int_add_sat(4097, "int16")), ("int_add_i8", lambda: ls.int_add(5000, "int8")),
            ("matmul_i8", lambda: ls.int8_matmul(40, 70, 129)), ("dot_i8", lambda: ls.int8_dot(33, 1031)),
            ("requantize", lambda: ls.requantize(70001))]


@needs_qemu
@pytest.mark.slow
@pytest.mark.parametrize("opt", sorted(LADDER))
@pytest.mark.parametrize("name,build", INT_FULL, ids=[n for n, _ in INT_FULL])
def test_sim_full_suite_int(name, build, opt, rng):
    _check(build(), LADDER[opt], rng)
