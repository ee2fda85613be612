"""The Triton backend plugin: activation, options routing, caching, autotune/heuristics, libdevice, errors,
and the interpreter oracle. Kernels live in triton_plugin_kernels.py (the oracle re-imports them)."""
import inspect
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
triton = pytest.importorskip("triton")

import hexmlir                                             # noqa: E402
from hexmlir.errors import HexmlirError, UnsupportedError  # noqa: E402
from hexmlir.frontends import triton as hxt                # noqa: E402
from hexmlir.frontends.triton import options as hopts      # noqa: E402
import triton_plugin_kernels as K                          # noqa: E402
from triton_oracle import run_interpreted_many                 # noqa: E402

KERNELS = str(Path(__file__).with_name("triton_plugin_kernels.py"))


def _conversion_available():
    try:
        from hexmlir.conversion import convert_ttir  # noqa: F401
        return True
    except ImportError:
        return False


# End-to-end tests need the TTIR -> Linalg conversion (hexmlir.conversion); they run once it imports.
e2e = pytest.mark.skipif(not _conversion_available(), reason="hexmlir.conversion not importable yet")


def _grid(n, block):
    return (triton.cdiv(n, block), )


@pytest.fixture(scope="module")
def interpreted():
    """All interpreter runs of this module in one subprocess (each costs a torch + triton import).
    Fresh random inputs every session; returns {name: (inputs, outputs)}."""
    rng = np.random.default_rng()
    n, m = 700, 300
    x = (rng.standard_normal(n) * 3).astype(np.float32)
    x[:6] = [0.0, -0.0, 1e-6, -1e-5, 0.29, -0.31]
    bx = (rng.standard_normal(m) * 3).astype(np.float32)
    by = (rng.standard_normal(m) * 2).astype(np.float32)
    bx[:4] = [-2.0, -2.0, 0.0, 1.0]
    by[:4] = [3.0, 2.0, 2.5, np.nan]
    ax, ay = rng.standard_normal(1000).astype(np.float32), rng.standard_normal(1000).astype(np.float32)
    lx = (rng.standard_normal(500) * 2).astype(np.float32)
    runs = {
        "unary": ("hx_unary_kernel", [x, np.zeros(20 * n, np.float32), n], _grid(n, 256), {"BLOCK": 256}),
        "binary": ("hx_binary_kernel", [bx, by, np.zeros(6 * m, np.float32), m], _grid(m, 128), {"BLOCK": 128}),
        "axpy": ("axpy_kernel", [ax, ay, np.zeros(1000, np.float32), 1000, 0.5], _grid(1000, 128),
                 {"BLOCK": 128}),
    }
    for x_ in (lx, lx.astype(np.float16)):
        runs[f"libdevice_{x_.dtype}"] = ("libdevice_kernel", [x_, np.zeros(5 * 500, x_.dtype), 500],
                                         _grid(500, 128), {"BLOCK": 128})
    outs = run_interpreted_many(KERNELS, list(runs.values()))
    return {k: (r[1], o) for (k, r), o in zip(runs.items(), outs)}


# ---- activation and options (no compile) ---------------------------------------------------------------

def test_plugin_is_the_active_driver():
    from importlib.metadata import entry_points
    eps = {ep.name: ep.value for ep in entry_points().select(group="triton.backends")}
    assert eps.get("cpu") == "hexmlir.frontends.triton"
    from triton.runtime.driver import driver
    from hexmlir.frontends.triton.driver import HexmlirDriver
    assert isinstance(driver.active, HexmlirDriver)
    t = driver.active.get_current_target()
    assert t.backend == "cpu"
    from triton.compiler.compiler import make_backend
    from hexmlir.frontends.triton.compiler import HexmlirBackend
    assert isinstance(make_backend(t), HexmlirBackend)


def test_options_map_to_hexmlir_options():
    o = hopts.parse({"num_threads": 3, "vectorize": False, "tcm_tiling": False, "fast_math": False})
    h = o.hexmlir()
    assert isinstance(h, hexmlir.Options)
    assert (h.num_threads, h.vectorize, h.tcm_tiling, h.fast_math) == (3, False, False, False)
    assert h.target == "host" and hopts.parse({}).hexmlir() == hexmlir.Options()
    assert o.hash() != hopts.parse({}).hash()        # options are part of triton's cache key
    assert o.default_dot_input_precision == "ieee" and o.allowed_dot_input_precisions == ("ieee", )


def test_bad_options_are_typed_errors():
    with pytest.raises(HexmlirError, match="target=.gpu. is invalid"):
        hopts.parse({"target": "gpu"})
    with pytest.raises(HexmlirError, match="IEEE"):
        hopts.parse({"default_dot_input_precision": "tf32"})
    with pytest.raises(HexmlirError, match="unknown hexmlir option"):
        hxt.set_options(vectorise=False)


def test_set_options_and_generation():
    try:
        g0 = hopts.generation()
        hxt.set_options(num_threads=2, fast_math=False)
        assert hopts.parse({}).hexmlir().num_threads == 2
        assert hopts.parse({"num_threads": 5}).num_threads == 5        # a launch's kwargs win
        g1 = hopts.generation()
        assert g1 != g0                                               # new defaults: new JIT cache slot
        from triton.runtime.driver import driver
        assert driver.active.get_current_device() == g1
    finally:
        hxt.set_options()
    assert hopts.generation() == g0 and hopts.parse({}).hexmlir() == hexmlir.Options()


def test_disable_switch():
    code = ("from triton.runtime.driver import driver\n"
            "try:\n    driver.active\nexcept RuntimeError as e:\n    print('none:', e)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=dict(os.environ, HEXMLIR_TRITON_DISABLE="1"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("none: 0 active drivers"), r.stdout


def test_env_target_default():
    code = ("from hexmlir.frontends.triton import options as o; "
            "print(o.parse({}).target, o.parse({'target': 'host'}).target)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=dict(os.environ, HEXMLIR_TRITON_TARGET="hexagon"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["hexagon", "host"]


# ---- libdevice ------------------------------------------------------------------------------------------

_SIG = {"x_ptr": "*fp32", "out_ptr": "*fp32", "n": "i32", "BLOCK": "constexpr"}


def test_libdevice_has_no_cuda_externs():
    from hexmlir.frontends.triton.compiler import to_ttir
    text = to_ttir(K.libdevice_kernel, _SIG, {"BLOCK": 64})
    assert "tt.func" in text and "math.exp" in text
    assert "__nv_" not in text and "extern_elementwise" not in text
    # The same kernel with CUDA's module map does carry extern symbols (what the mapping replaces).
    from triton._C.libtriton import ir
    from triton.compiler.compiler import ASTSource
    from triton.language.extra.cuda import libdevice as cuda_libdevice
    from hexmlir.frontends.triton.compiler import HexmlirBackend
    from triton.backends.compiler import GPUTarget
    b = HexmlirBackend(GPUTarget("cpu", "hexmlir", 1))
    opts = b.parse_options({})
    ctx = ir.context()
    ir.load_dialects(ctx)
    mod = ASTSource(K.libdevice_kernel, _SIG, {"BLOCK": 64}).make_ir(
        b.target, opts, b.get_codegen_implementation(opts),
        {"triton.language.extra.libdevice": cuda_libdevice}, ctx)
    assert "__nv_tanhf" in mod.str()


def test_missing_libdevice_function_names_itself():
    x = torch.randn(64)
    with pytest.raises(Exception) as ei:
        K.missing_libdevice_kernel[(1, )](x, torch.empty(64), 64, BLOCK=64)
    msg = str(ei.value)
    assert "libdevice.not_a_libdevice_fn" in msg and "UnsupportedError" in msg and "libdevice.not_a_libdevice_fn(x)" in msg


def test_libdevice_formulas_under_interpreter(interpreted):
    """hexmlir's libdevice formulas (core tl ops only) against numpy/float64, run by Triton's interpreter."""
    (x, _, n), unary = interpreted["unary"]
    out = unary[1].reshape(20, n)
    f32 = np.float32
    xd = x.astype(np.float64)
    d = lambda a: np.asarray(a, np.float32).astype(np.float64)  # noqa: E731  (the fp32-rounded argument)
    from math import erfc
    ref = {
        0: np.tanh(xd), 1: np.expm1(xd), 2: np.log1p(np.abs(xd)), 3: np.sinh(xd), 4: np.cosh(xd),
        5: np.arcsinh(xd), 6: np.arctan(xd), 7: np.vectorize(erfc)(xd), 8: np.log10(d(np.abs(x) + f32(0.01))),
        9: np.rint(xd * 4), 10: np.trunc(xd * 4), 11: np.sign(xd) * np.floor(np.abs(xd * 4) + 0.5),
        12: np.signbit(x).astype(np.float64), 13: np.cbrt(xd), 14: np.arcsin(xd * .25), 15: np.arccos(xd * .25),
        16: np.tan(xd * .25), 17: np.arctanh(xd * .25), 18: np.arccosh(d(np.abs(x) + f32(1))),
    }
    ok = np.abs(x * 0.25) < 1                                    # asin/acos/atanh domain
    for k, r in ref.items():
        sel = ok if k in (14, 15, 17) else slice(None)
        rtol = 2e-5 if k == 7 else 2e-6
        np.testing.assert_allclose(out[k][sel], r[sel], rtol=rtol, atol=1e-30, err_msg=f"row {k}")
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(out[19], np.isnan(np.log(x)).astype(np.float32))
    # binary functions
    (x, y, _, m), binary = interpreted["binary"]
    out = binary[2].reshape(6, m)
    xd, yd = x.astype(np.float64), y.astype(np.float64)
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(out[0], np.power(xd, yd), rtol=5e-6, equal_nan=True)
        np.testing.assert_allclose(out[1], np.arctan2(xd, yd), rtol=2e-6, atol=1e-7)
        np.testing.assert_allclose(out[2], np.fmod(xd, yd), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(out[3], np.hypot(xd, yd), rtol=2e-6)
        np.testing.assert_array_equal(out[4], np.copysign(x, y))
        np.testing.assert_allclose(out[5], xd ** 3, rtol=5e-6)


def test_oracle_runs_the_interpreter(interpreted):
    (x, y, _, n, alpha), res = interpreted["axpy"]
    np.testing.assert_allclose(res[2], np.float32(alpha) * x + y, rtol=1e-6)
    np.testing.assert_array_equal(res[0], x)                     # inputs come back untouched
    assert res[3] == n and res[4] == alpha                       # scalars as given


# ---- end to end (needs hexmlir.conversion) --------------------------------------------------------------

@e2e
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_vector_add(dtype):
    n = 1000                                                     # not a multiple of BLOCK
    x, y = torch.randn(n).to(dtype), torch.randn(n).to(dtype)
    out = torch.empty(n, dtype=dtype)
    K.add_kernel[_grid(n, 256)](x, y, out, n, BLOCK=256)
    torch.testing.assert_close(out, x + y)


@e2e
def test_scalar_operand(rng):
    n = 777
    x, y = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    out = torch.zeros(n)
    K.axpy_kernel[_grid(n, 128)](torch.from_numpy(x), torch.from_numpy(y), out, n, -1.25, BLOCK=128)
    np.testing.assert_allclose(out.numpy(), np.float32(-1.25) * x + y, rtol=1e-6, atol=1e-6)


@e2e
def test_libdevice_matches_oracle(interpreted):
    """Inductor-style libdevice calls, fp32 and fp16, against the interpreter with numpy libdevice."""
    for dtype, rtol in (("float32", 1e-4), ("float16", 2e-3)):
        (x, _, n), ref = interpreted[f"libdevice_{dtype}"]
        out = torch.zeros(5 * n, dtype=torch.from_numpy(x).dtype)
        K.libdevice_kernel[_grid(n, 128)](torch.from_numpy(x), out, n, BLOCK=128)
        assert out.dtype == torch.from_numpy(x).dtype
        # fast_math (default on) uses polynomial tanh/exp/erf: compare at the fast-math tolerance
        np.testing.assert_allclose(out.numpy().astype(np.float32), ref[1].astype(np.float32), rtol=rtol,
                                   atol=rtol / 10 if dtype == "float32" else rtol, err_msg=dtype)


def _artifact_dir(compiled):
    return Path(hxt.artifact(compiled).path).parent


@e2e
def test_options_change_the_emitted_code():
    n = 1000
    x, y = torch.randn(n), torch.randn(n)
    out = torch.empty(n)
    vec = K.add_kernel[_grid(n, 256)](x, y, out, n, BLOCK=256)
    torch.testing.assert_close(out, x + y)
    out.zero_()
    novec = K.add_kernel[_grid(n, 256)](x, y, out, n, BLOCK=256, vectorize=False, num_threads=2)
    torch.testing.assert_close(out, x + y)
    m_vec, m_novec = hxt.artifact(vec).meta, hxt.artifact(novec).meta
    assert m_vec["options"]["vectorize"] and not m_novec["options"]["vectorize"]
    assert m_novec["options"]["num_threads"] == 2
    vector_type = re.compile(r"<\d+ x (float|i\d+)>")            # LLVM vector types
    assert vector_type.search((_artifact_dir(vec) / "kernel.ll").read_text())
    assert not vector_type.search((_artifact_dir(novec) / "kernel.ll").read_text())


@e2e
def test_set_options_applies_to_later_launches():
    n = 300
    x, y, out = torch.randn(n), torch.randn(n), torch.empty(n)
    try:
        hxt.set_options(vectorize=False)
        c = K.add_kernel[_grid(n, 128)](x, y, out, n, BLOCK=128)
        assert hxt.artifact(c).meta["options"]["vectorize"] is False
    finally:
        hxt.set_options()
    c = K.add_kernel[_grid(n, 128)](x, y, out, n, BLOCK=128)
    assert hxt.artifact(c).meta["options"]["vectorize"] is True
    torch.testing.assert_close(out, x + y)


@e2e
def test_hexagon_target_builds_and_refuses_to_run_here():
    n = 256
    x, y, out = torch.randn(n), torch.randn(n), torch.empty(n)
    c = K.add_kernel.warmup(x, y, out, n, BLOCK=128, grid=(2, ), target="hexagon")
    art = hxt.artifact(c)
    assert art.meta["target"] == "hexagon" and art.path.is_file()
    with pytest.raises(HexmlirError, match="cannot run on this host"):
        K.add_kernel[(2, )](x, y, out, n, BLOCK=128, target="hexagon")


@e2e
def test_second_launch_does_not_recompile(monkeypatch, tmp_path):
    """Cold compile, in-process hit, and triton's disk cache after the JIT forgets the kernel."""
    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path / "triton"))     # cold for both caches
    monkeypatch.setenv("HEXMLIR_CACHE_DIR", str(tmp_path / "hexmlir"))
    K.add_kernel.device_caches.clear()
    from hexmlir import driver as hdriver
    calls = []
    real = hdriver.compile
    monkeypatch.setattr(hdriver, "compile", lambda *a, **k: calls.append(1) or real(*a, **k))
    n = 555
    x, y, out = torch.randn(n), torch.randn(n), torch.empty(n)
    block = 32
    t0 = time.perf_counter()
    K.add_kernel[_grid(n, block)](x, y, out, n, BLOCK=block)
    cold = time.perf_counter() - t0
    assert len(calls) == 1
    t0 = time.perf_counter()
    K.add_kernel[_grid(n, block)](x, y, out, n, BLOCK=block)
    warm = time.perf_counter() - t0
    K.add_kernel.device_caches.clear()                          # as a new process would: triton's disk cache
    t0 = time.perf_counter()
    K.add_kernel[_grid(n, block)](x, y, out, n, BLOCK=block)
    disk = time.perf_counter() - t0
    assert len(calls) == 1, "a cached launch compiled again"
    torch.testing.assert_close(out, x + y)
    print(f"\nadd_kernel BLOCK={block}: cold {cold * 1e3:.0f} ms, in-process {warm * 1e3:.2f} ms, "
          f"triton disk cache {disk * 1e3:.1f} ms")


@e2e
@pytest.mark.parametrize("threads", [dict(multithread=False), dict(num_threads=3)])
def test_grid_program_ids(threads):
    nx, ny, nz = 100, 5, 3
    out = torch.full((nz, ny, nx), -1, dtype=torch.int32)
    K.grid3d_kernel[(triton.cdiv(nx, 32), ny, nz)](out, nx, ny, nz, BLOCK=32, **threads)
    z, y, x = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    np.testing.assert_array_equal(out.numpy(), x + 1000 * y + 1000000 * z)


@e2e
def test_autotune_and_heuristics():
    n = 1000
    x, y, out = torch.randn(n), torch.randn(n), torch.empty(n)
    K.add_autotuned[lambda meta: (triton.cdiv(n, meta["BLOCK"]), )](x, y, out, n)
    torch.testing.assert_close(out, x + y)
    assert K.add_autotuned.best_config in K.add_autotuned.configs
    assert len(K.add_autotuned.configs_timings) == 3
    # each Config's hexmlir options reached its compiled artifact
    from triton.runtime.driver import driver
    kernels = K.add_autotuned.fn.device_caches[driver.active.get_current_device()][0].values()
    opts = {(hxt.artifact(c).meta["options"]["num_threads"], hxt.artifact(c).meta["options"]["vectorize"])
            for c in kernels}
    assert opts == {(0, True), (2, True), (0, False)}, opts
    for n in (1024, 1000):                                      # EVEN and masked variants
        x, out = torch.randn(n), torch.zeros(n)
        K.scale_heuristic[_grid(n, 256)](x, out, n, BLOCK=256)
        torch.testing.assert_close(out, x * 3.0)


@e2e
def test_unsupported_op_names_the_source_line():
    x = torch.randn(64)
    with pytest.raises(UnsupportedError) as ei:
        K.inline_asm_kernel[(1, )](x, torch.empty(64), 64, BLOCK=64)
    lines, start = inspect.getsourcelines(K.inline_asm_kernel.fn)
    line = start + next(i for i, t in enumerate(lines) if "inline_asm_elementwise" in t)
    msg = str(ei.value)
    assert f"triton_plugin_kernels.py:{line}" in msg, msg
    assert "inline_asm" in msg


_INDUCTOR = r"""
import torch, torch._inductor.config as cfg
cfg.cpu_backend = "triton"
def f(x, y):
    return torch.tanh(x) * y + torch.exp(y) - torch.erf(x)
x, y = torch.randn(1003), torch.randn(1003)
torch.testing.assert_close(torch.compile(f)(x, y), f(x, y), rtol=1e-4, atol=1e-5)
"""


@e2e
@pytest.mark.slow
def test_inductor_cpu_triton_runs_through_the_plugin(tmp_path):
    env = dict(os.environ, TRITON_CACHE_DIR=str(tmp_path / "triton"), TORCHINDUCTOR_CACHE_DIR=str(tmp_path / "ind"))
    r = subprocess.run([sys.executable, "-c", _INDUCTOR], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert list((tmp_path / "triton").rglob("*.hexmlir")), "Inductor's kernel did not go through hexmlir"


@e2e
def test_tl_assume_is_dropped(rng):
    """Inductor's mm templates carry tl.assume(pid_m >= 0) (llvm.intr.assume in TTIR): a hint, no conversion."""
    n = 1000 + 37
    x, y = (torch.from_numpy(rng.standard_normal(n).astype(np.float32)) for _ in range(2))
    out = torch.empty(n)
    K.assume_add_kernel[_grid(n, 256)](x, y, out, n, BLOCK=256)
    np.testing.assert_allclose(out.numpy(), (x + y).numpy(), rtol=0, atol=0)


@e2e
@pytest.mark.parametrize("grid, msg", [((2**31 + 4,), "above 2\\^31-1"), ((2**32 + 4,), "above 2\\^31-1"),
                                       ((1, 1, 2**31), "above 2\\^31-1")])
def test_grids_beyond_32_bit_program_ids_are_refused(grid, msg):
    """int32 grids used to wrap: 2^31+4 programs hung, 2^32+4 ran only 4."""
    x = torch.zeros(8, dtype=torch.int32)
    with pytest.raises(HexmlirError, match=msg):
        K.grid3d_kernel[grid](x, 1, 1, 1, BLOCK=32)


def test_hexagon_grid_product_must_fit_its_32_bit_index():
    from hexmlir.artifact import Kernel
    k = Kernel.__new__(Kernel)
    k.name, k.meta = "k", {"target": "hexagon"}
    assert k._grid((2**16, 2**14)) == (2**16, 2**14, 1)
    with pytest.raises(HexmlirError, match="more than the hexagon target's index"):
        k._grid((2**16, 2**16))


class _TensorWrapper:
    """What op libraries pass: an object with data_ptr() and dtype, no storage, no device."""

    def __init__(self, t):
        self.t, self.dtype = t, t.dtype

    def data_ptr(self):
        return self.t.data_ptr()


@e2e
def test_pointer_arguments_that_only_have_data_ptr_and_dtype():
    g = torch.Generator().manual_seed(31)
    n = 1000
    x, y, out = torch.randn(n, generator=g), torch.randn(n, generator=g), torch.empty(n)
    K.add_kernel[_grid(n, 128)](_TensorWrapper(x), _TensorWrapper(y), _TensorWrapper(out), n, BLOCK=128)
    torch.testing.assert_close(out, x + y, rtol=0, atol=0)


@e2e
def test_triton_testing_do_bench_on_the_cpu_device():
    n = 1000
    x, y, out = torch.randn(n), torch.randn(n), torch.empty(n)
    ms = triton.testing.do_bench(lambda: K.add_kernel[_grid(n, 128)](x, y, out, n, BLOCK=128), warmup=5, rep=20)
    assert 0 < ms < 1000
    q = triton.testing.do_bench(lambda: K.add_kernel[_grid(n, 128)](x, y, out, n, BLOCK=128), warmup=5, rep=20,
                                quantiles=[0.2, 0.5, 0.8])
    assert len(q) == 3 and q[0] <= q[1] <= q[2]
    torch.testing.assert_close(out, x + y)
