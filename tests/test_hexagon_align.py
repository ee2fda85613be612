"""Hexagon loops over kernel arguments have a run-time aligned version (hvx.aligned_loop_versions): with every
argument the loop accesses 128-byte aligned (the simulation harness's buffers) it runs aligned `vmem` loads
and stores, otherwise the unaligned path. Both must stay correct for argument pointers at any offset
(views into larger arrays: the harness's HEXMLIR_SIM_OFFSET hook puts buffer k at (k * N) % 128 bytes past
an aligned address; HEXMLIR_SIM_GUARD=end puts every buffer's end at a PROT_NONE page, its start unaligned).
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest

pytest.importorskip("torch_mlir")

import hexmlir  # noqa: E402
from hexmlir import Options  # noqa: E402
from hexmlir.kernels import linalg_suite as S  # noqa: E402

needs_qemu = pytest.mark.skipif(shutil.which("qemu-hexagon") is None, reason="qemu-hexagon not installed")

VEC = {"vectorize": True, "fusion": True, "fast_math": True}

KERNELS = {
    "add_sat_i8": lambda n: S.int_add_sat(n, "int8"),
    "add_i32": lambda n: S.int_add(n, "int32"),
    "requantize": lambda n: S.requantize(n),
}


def _build(name: str, n: int):
    kern = KERNELS[name](n)
    return kern, hexmlir.compile(kern.mlir, Options.all_off(target="hexagon-sim", **VEC))


def _check(kern, got, ins, what: str):
    ref = kern.reference(*ins)[0]
    bad = np.flatnonzero(np.asarray(got) != ref)
    assert bad.size == 0, f"{what}: {bad.size} wrong, first at {bad[0]}: {got[bad[0]]} != {ref[bad[0]]}"


def test_aligned_version_host_unchanged():
    """The host target's LLVM IR has no alignment test (Hexagon only)."""
    kern = S.int_add_sat(4099, "int8")
    k = hexmlir.compile(kern.mlir, Options.all_off(target="host", **VEC))
    ll = (k.path.parent / "kernel.ll").read_text()
    assert "align 128" not in ll and " 127\n" not in ll


def test_aligned_version_in_ir():
    """A Hexagon loop over whole vectors of its arguments has both versions: aligned loads/stores and the
    unaligned ones."""
    kern, k = _build("add_sat_i8", 4099)
    ll = (k.path.parent / "kernel.ll").read_text()
    assert "load <128 x i8>, ptr %" in ll and ", align 128\n" in ll, ll[:3000]
    assert "store <128 x i8> %" in ll and "align 1\n" in ll


def _placements(monkeypatch, *settings):
    """Each (env, value) in turn, with the harness's other buffer placement variable unset."""
    for env, val in settings:
        monkeypatch.delenv("HEXMLIR_SIM_OFFSET", raising=False)
        monkeypatch.delenv("HEXMLIR_SIM_GUARD", raising=False)
        monkeypatch.setenv(env, val)
        yield env, val


@needs_qemu
@pytest.mark.parametrize("m,k", [(1, 129), (3, 33), (4, 128), (5, 1031), (9, 256), (8, 7), (13, 100)])
def test_qemu_row_dot_blocks_ddr(monkeypatch, m, k):
    """The DDR int8 row dot (blocks of 4 rows, then single rows; whole vectors, then a masked tail) against
    NumPy, with buffers at mixed offsets and ending at a guard page."""
    seed = 1540 + 131 * m + k
    kern = S.int8_dot(m, k)
    k_ = hexmlir.compile(kern.mlir, Options.all_off(target="hexagon-sim", **VEC))
    ins = kern.random_inputs(np.random.default_rng(seed))
    for env, val in _placements(monkeypatch, ("HEXMLIR_SIM_OFFSET", "0"), ("HEXMLIR_SIM_OFFSET", "20"),
                                ("HEXMLIR_SIM_GUARD", "end"), ("HEXMLIR_SIM_GUARD", "block")):
        _check(kern, k_(*ins), ins, f"seed {seed} dot {m}x{k} {env}={val}")


@needs_qemu
@pytest.mark.slow
def test_qemu_row_dot_ddr_packets():
    """The bench's 97x1031 row dot from DDR: 0.0776 packets/element before the row blocks and the dropped
    zero fill (a scalar memset of y), 0.0383 for the intrinsics peer."""
    seed = 1599
    kern = S.int8_dot(97, 1031)
    k = hexmlir.compile(kern.mlir, Options.all_off(target="hexagon-sim", **VEC))
    ins = kern.random_inputs(np.random.default_rng(seed))
    out, prof = k.profile(*ins)
    _check(kern, out, ins, f"seed {seed} dot 97x1031")
    per = prof.packets / (97 * 1031)
    assert per <= 0.045, f"seed {seed}: {per:.4f} packets/element > 0.045"


# packets per element of the vectorized build at n = 100003 with the harness's aligned buffers; before the
# aligned version (two aligned loads + valign per vector, vmemu stores): 0.0308, 0.144, 0.121; the
# intrinsics peers: 0.0161, 0.0630, 0.0720 (docs/simulation.md, "Measurements")
BOUND = {"add_sat_i8": 0.020, "add_i32": 0.076, "requantize": 0.095}


@needs_qemu
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_qemu_aligned_path_packets(name):
    seed = 1500 + sorted(KERNELS).index(name)
    kern, k = _build(name, 100003)
    ins = kern.random_inputs(np.random.default_rng(seed))
    out, prof = k.profile(*ins)
    _check(kern, out, ins, f"seed {seed} {name}")
    per = prof.packets / 100003
    assert per <= BOUND[name], f"seed {seed} {name}: {per:.4f} packets/element > {BOUND[name]} (aligned path not taken?)"


@needs_qemu
@pytest.mark.parametrize("n", [129, 4099])
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_qemu_offset_views_correct(monkeypatch, name, n):
    """Arguments at mixed offsets (buffer k at k * 36 bytes past a 128-byte boundary: one aligned, the others
    not) and all at one unaligned offset (the guard's end placement): the unaligned path, against NumPy."""
    seed = 1510 + 7 * sorted(KERNELS).index(name) + n
    kern, k = _build(name, n)
    ins = kern.random_inputs(np.random.default_rng(seed))
    for env, val in _placements(monkeypatch, ("HEXMLIR_SIM_OFFSET", "36"), ("HEXMLIR_SIM_GUARD", "end")):
        _check(kern, k(*ins), ins, f"seed {seed} {name} n={n} {env}={val}")


@needs_qemu
@pytest.mark.slow
@pytest.mark.parametrize("off", ["1", "4", "124"])
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_qemu_offset_views_large(monkeypatch, name, off):
    """n = 100003 at other offsets (int32 buffers need 4-byte aligned elements: odd offsets only for int8)."""
    if off == "1" and name != "add_sat_i8":
        pytest.skip("int32 elements are 4-byte aligned")
    seed = 1530 + sorted(KERNELS).index(name)
    kern, k = _build(name, 100003)
    ins = kern.random_inputs(np.random.default_rng(seed))
    monkeypatch.setenv("HEXMLIR_SIM_OFFSET", off)
    _check(kern, k(*ins), ins, f"seed {seed} {name} HEXMLIR_SIM_OFFSET={off}")
