"""Masked float vector loads/stores on Hexagon without HVX float (the hexagon-sim build).

LLVM-22 scalarizes them there and builds the lane bitmask from the HVX predicate one bit per *byte*:
a `<32 x float>` masked store with n lanes on writes min(4n, 32) lanes (past a row's end). The lower
stage (`_float_masked_as_ints`) sends them through same-width integer vectors, which are legal HVX types
(predicated vmem). docs/simulation.md has the reproducer.
"""
from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

pytest.importorskip("torch_mlir")

from hexmlir import Options  # noqa: E402
from hexmlir.ir import context, parse, run_passes  # noqa: E402
from hexmlir.kernels import linalg_suite as ls  # noqa: E402
from hexmlir.targets import hexagon, hexagon_target, sim  # noqa: E402
from hexmlir.transforms import lower  # noqa: E402

needs_qemu = pytest.mark.skipif(shutil.which("qemu-hexagon") is None, reason="qemu-hexagon not installed")
FLOAT_MASKED = re.compile(r"llvm\.masked\.(?:load|store)\.v\d+(?:f16|f32|bf16)\b")
ROWS = 4


def _row_copy(lanes: int, elt: str) -> str:
    """out[1, :n] = in[1, :n] with one masked load and one masked store, n at run time (LLVM dialect)."""
    iota = ", ".join(map(str, range(lanes)))
    zeros = ", ".join(["0"] * lanes)
    v, vi, m = f"vector<{lanes}x{elt}>", f"vector<{lanes}xi32>", f"vector<{lanes}xi1>"
    return f"""
llvm.func @k(%in: !llvm.ptr, %out: !llvm.ptr, %n: i32) {{
  %pi = llvm.getelementptr %in[{lanes}] : (!llvm.ptr) -> !llvm.ptr, {elt}
  %po = llvm.getelementptr %out[{lanes}] : (!llvm.ptr) -> !llvm.ptr, {elt}
  %iota = llvm.mlir.constant(dense<[{iota}]> : {vi}) : {vi}
  %u = llvm.mlir.poison : {vi}
  %c0 = llvm.mlir.constant(0 : i32) : i32
  %ins = llvm.insertelement %n, %u[%c0 : i32] : {vi}
  %spl = llvm.shufflevector %ins, %u [{zeros}] : {vi}
  %m = llvm.icmp "slt" %iota, %spl : {vi}
  %z = llvm.mlir.constant(dense<0.0> : {v}) : {v}
  %x = llvm.intr.masked.load %pi, %m, %z {{alignment = 4 : i32}} : (!llvm.ptr, {m}, {v}) -> {v}
  llvm.intr.masked.store %x, %po, %m {{alignment = 4 : i32}} : {v}, {m} into !llvm.ptr
  llvm.return
}}
"""


def _lowered_ir(lanes: int, elt: str, rewrite: bool) -> str:
    with context():
        module = parse(_row_copy(lanes, elt))
        if rewrite:
            lower._float_masked_as_ints(module)
            run_passes(module, "canonicalize, cse", "test")
        return module.operation.get_asm()


def _build(tmp_path, lanes: int, elt: str, rewrite: bool):
    import subprocess
    from hexmlir.targets.tools import tool
    text = _lowered_ir(lanes, elt, rewrite)
    r = subprocess.run([tool("mlir-translate"), "--mlir-to-llvmir"], input=text, capture_output=True, text=True,
                       check=True)
    target = hexagon_target(simulate=True)
    out = tmp_path / ("fixed" if rewrite else "raw")
    files = hexagon.build(r.stdout, out, "kernel", Options(target="hexagon-sim"), target, {"asm", "obj"})
    return files, target


@pytest.mark.parametrize("lanes,elt", [(32, "f32"), (64, "f32"), (64, "f16")])
def test_float_masked_become_integer_masked(lanes, elt):
    """Static: after the lower-stage rewrite no float masked load/store is left for LLVM to scalarize."""
    text = _lowered_ir(lanes, elt, rewrite=True)
    assert "llvm.intr.masked.load" in text and "llvm.intr.masked.store" in text
    assert not re.search(r"masked\.(?:load|store)[^\n]*-> vector<\d+xf|masked\.store[^\n]*: vector<\d+xf", text), text
    assert f"vector<{lanes}xi{16 if elt == 'f16' else 32}>" in text


def test_f16_matmul_sim_ir_has_no_float_masked_accesses(tmp_path):
    """The one pipeline path on main that emitted a float masked access (the f16 matmul's B edge loads,
    `llvm.masked.load.v64f16`) now uses integer vectors; no kernel may hand LLVM a float one. (Masked loads
    then become aligned block loads, lower._loads_in_bounds; the partial C blocks' stores stay masked.)"""
    import hexmlir
    p = hexmlir.compile(ls.matmul(9, 45, 7, "float16").mlir, Options(target="hexagon-sim"), emit="llvm",
                        output=str(tmp_path / "k.ll"))
    text = open(p).read()
    assert "llvm.masked.store.v64i32" in text      # C's edge columns: masked, through integer vectors
    assert not FLOAT_MASKED.findall(text), FLOAT_MASKED.findall(text)


@needs_qemu
@pytest.mark.parametrize("lanes,elt", [(32, "f32"), (64, "f32"), (64, "f16")])
def test_qemu_masked_row_copy_matches_numpy(tmp_path, lanes, elt):
    """Run the rewritten row copy under qemu-hexagon for n = 0..lanes: row 1 gets exactly n elements;
    the rest of row 1 and the guard rows 0, 2, 3 keep their values."""
    files, target = _build(tmp_path, lanes, elt, rewrite=True)
    exe = sim.link([files["obj"]], sim.grid_stub("k", ["ptr", "ptr", "int32_t"], ()), tmp_path / "k.sim")
    dt = np.float16 if elt == "f16" else np.float32
    seed = 1500 + lanes
    rng = np.random.default_rng(seed)
    for n in sorted({0, 1, 5, 23, lanes - 1, lanes} | set(rng.integers(0, lanes, 4).tolist())):
        a = rng.standard_normal((ROWS, lanes)).astype(dt)
        o = rng.standard_normal((ROWS, lanes)).astype(dt)
        want = o.copy()
        want[1, :n] = a[1, :n]
        sim.run(exe, [a, o], outputs=[1], scalars=[n], arch=target.arch)
        bad = np.argwhere(o != want).tolist()
        assert not bad, f"seed {seed} lanes {lanes} {elt} n={n}: wrong elements {bad[:8]}"
