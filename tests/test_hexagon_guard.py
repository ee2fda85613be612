"""Hexagon kernels never read past the end of a buffer: under qemu-hexagon every buffer ends right before a
PROT_NONE page (the simulation harness's HEXMLIR_SIM_GUARD hook), so an over-read faults (SIGSEGV).

Two placements: "end" (the buffer's last byte is the last byte before the page; its start is then not
128-byte aligned) and "block" (128-byte aligned start, the 128-byte block holding the last byte ends at the
page). Sources of accesses past the end found and fixed: LLVM's lowering of a masked load of an HVX vector
to a full `vmemu`, of a short masked load (`<4 x i8>`) to lane loads that ignore the mask, and of a load of a
vector that is not whole HVX vectors to whole ones (lower._loads_in_bounds); LLVM's realignment of such a
store, which loads and stores back the block after the last one (lower._odd_stores_in_bounds); zig's HVX
memcpy, which reads 64-byte pieces with 128-byte loads (the simulation executable has its own memcpy,
runtime/sim_harness.c).
"""
from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

pytest.importorskip("torch_mlir")

import hexmlir  # noqa: E402
from hexmlir import Options  # noqa: E402
from hexmlir.errors import HexmlirError  # noqa: E402
from hexmlir.kernels import linalg_suite as S  # noqa: E402

needs_qemu = pytest.mark.skipif(shutil.which("qemu-hexagon") is None, reason="qemu-hexagon not installed")

# the kernel reads its arguments directly (no TCM copies, whose DMA would read them instead)
DIRECT = {"dma": False, "tcm_tiling": False}

CASES = {
    "vector_add-33": lambda: S.vector_add(33),
    "vector_add-1000": lambda: S.vector_add(1000),
    "int_add_i32-33": lambda: S.int_add(33, "int32"),
    "add_sat_i8-1000": lambda: S.int_add_sat(1000, "int8"),
    "add_sat_i8-129": lambda: S.int_add_sat(129, "int8"),
    "requantize-1000": lambda: S.requantize(1000),
    "gelu-33": lambda: S.gelu_tanh((33,)),
    "gelu-f16-129": lambda: S.gelu_tanh((129,), "float16"),
    "softmax-1x33": lambda: S.softmax_rows(1, 33),
    "softmax-3x127": lambda: S.softmax_rows(3, 127),
    "rmsnorm-3x129": lambda: S.rmsnorm(3, 129),
    "dot_i8-3x33": lambda: S.int8_dot(3, 33),
    "dot_i8-2x129": lambda: S.int8_dot(2, 129),
    "dot_i8-5x1000": lambda: S.int8_dot(5, 1000),
    "matmul_i8-13x45x29": lambda: S.int8_matmul(13, 45, 29),
    "matmul_i8-5x3x300": lambda: S.int8_matmul(5, 3, 300),
    "matmul_f16-9x45x7": lambda: S.matmul(9, 45, 7, "float16"),
    "matmul_f16-3x127x33": lambda: S.matmul(3, 127, 33, "float16"),
    "matmul_f16-33x129x17": lambda: S.matmul(33, 129, 17, "float16"),
    "matmul_f32-33x17x65": lambda: S.matmul(33, 17, 65),
}


def _run_guarded(monkeypatch, kern, opts: dict, mode: str, seed: int):
    monkeypatch.setenv("HEXMLIR_SIM_GUARD", mode)
    k = hexmlir.compile(kern.mlir, Options(target="hexagon-sim", multithread=False, **opts))
    ins = kern.random_inputs(np.random.default_rng(seed))
    try:
        got = k(*ins)
    except HexmlirError as e:
        pytest.fail(f"seed {seed} {kern.name} guard={mode} {opts}: {str(e)[:300]}")
    got = got if isinstance(got, tuple) else (got,)
    ref = kern.reference(*ins)
    ref = ref if isinstance(ref, (list, tuple)) else [ref]
    for g, r in zip(got, ref):
        g, r = np.asarray(g, np.float64), np.asarray(r, np.float64)
        tol = 0 if np.issubdtype(kern.outputs[0][1], np.integer) else 2e-2 * max(1.0, float(np.abs(r).max()))
        err = float(np.abs(g - r).max())
        assert err <= tol, f"seed {seed} {kern.name} guard={mode} {opts}: max error {err} > {tol}"


_READ_AT = """
define void @k(ptr %in, ptr %out, i32 %n) {
  %p = getelementptr i8, ptr %in, i32 %n
  %v = load volatile i8, ptr %p
  store i8 %v, ptr %out
  ret void
}
"""


@needs_qemu
def test_guard_hook_faults_on_a_read_past_the_end(tmp_path):
    """The hook itself: reading byte n of a 100-byte buffer faults exactly from n = 100 ("end") or from the
    next 128-byte block ("block"), and never without the hook."""
    from hexmlir.targets import hexagon, hexagon_target, sim
    t = hexagon_target(simulate=True)
    files = hexagon.build(_READ_AT, tmp_path, "kernel", Options(target="hexagon-sim"), t, {"obj"})
    exe = sim.link([files["obj"]], sim.grid_stub("k", ["ptr", "ptr", "int32_t"], ()), tmp_path / "k.sim")
    a, o = np.arange(100, dtype=np.int8), np.zeros(1, np.int8)
    for mode, first_bad in (("0", None), ("end", 100), ("block", 128)):
        for n in (99, 100, 127, 128):
            bad = first_bad is not None and n >= first_bad
            if bad:
                with pytest.raises(HexmlirError, match="exit -11"):
                    sim.run(exe, [a, o], outputs=[1], scalars=[n], env={"HEXMLIR_SIM_GUARD": mode})
            else:
                sim.run(exe, [a, o], outputs=[1], scalars=[n], env={"HEXMLIR_SIM_GUARD": mode})
                if n < a.size:
                    assert o[0] == a[n], (mode, n)


def test_hvx_masked_loads_read_only_active_blocks(tmp_path):
    """Static: the int8 dot's row tails (masked `<128 x i8>` loads) reach LLVM as two 128-byte aligned loads
    and a valign, not as a masked load LLVM turns into a full vmemu."""
    p = hexmlir.compile(S.int8_dot(3, 33).mlir, Options(target="hexagon-sim", **DIRECT), emit="llvm",
                        output=str(tmp_path / "k.ll"))
    text = open(p).read()
    assert not re.findall(r"llvm\.masked\.load\.v128i8", text)
    assert "llvm.hexagon.V6.valignb.128B" in text and "align 128" in text


@needs_qemu
@pytest.mark.parametrize("mode", ["end", "block"])
def test_int8_dot_tail_at_a_page_end(monkeypatch, mode, seed):
    """Fast representative: 33-byte rows, the masked tail load of the last row ends at the guard page."""
    _run_guarded(monkeypatch, S.int8_dot(3, 33), DIRECT, mode, seed)


@needs_qemu
def test_tcm_copy_of_an_input_at_a_page_end(monkeypatch, seed):
    """The DMA engine's copy (memcpy, 132 bytes) of an input that ends at the guard page (zig's HVX memcpy
    read 64-byte pieces with 128-byte loads)."""
    _run_guarded(monkeypatch, S.int_add(33, "int32"), {}, "end", seed)


@needs_qemu
def test_odd_size_tail_store_at_a_page_end(monkeypatch, seed):
    """1000 int8 = 7 vectors + a `<104 x i8>` remainder: LLVM's realignment of the widened store loaded and
    stored back the block after the output's last one (lower._odd_stores_in_bounds)."""
    _run_guarded(monkeypatch, S.int_add_sat(1000, "int8"), DIRECT, "end", seed)


@needs_qemu
@pytest.mark.slow
@pytest.mark.parametrize("opts", [{}, DIRECT], ids=["tcm", "direct"])
@pytest.mark.parametrize("mode", ["end", "block"])
@pytest.mark.parametrize("name", list(CASES))
def test_no_read_past_the_end(monkeypatch, name, mode, opts, seed):
    _run_guarded(monkeypatch, CASES[name](), opts, mode, seed)
