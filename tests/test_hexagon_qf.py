"""qf32 on Hexagon (issue 15): chains kept in qf32 on v79+ (transforms/qf.py `chains`) and vector sums as two
rotating partials (`accumulators`, qf32 where HVX float exists).

qemu-hexagon executes no HVX float instruction, so qf32 arithmetic is checked statically: the conversions
and packets of the hot loop in the assembly, and against the clang-22 auto-HVX peer compiled for the same
arch. The loop surgery of `accumulators` also runs in the simulation build (plain f32 partials), which qemu
executes against NumPy.
"""
from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

pytest.importorskip("torch_mlir")

import hexmlir  # noqa: E402
from hexmlir import Options  # noqa: E402
from hexmlir.bench.hexagon import (FLOAT_PEER_C, clang_autohvx_asm, functions, hot_loops,  # noqa: E402
                                  packets_per_element)
from hexmlir.kernels import linalg_suite as ls  # noqa: E402

from conftest import current_seed  # noqa: E402

needs_qemu = pytest.mark.skipif(shutil.which("qemu-hexagon") is None, reason="qemu-hexagon not installed")
_CONV = re.compile(r"\.sf = v\d+\.qf32")


def _asm(kernel, tmp_path, arch, **kw) -> str:
    out = tmp_path / f"k_{arch}.s"
    hexmlir.compile(kernel.mlir, Options(target="hexagon", arch=arch, multithread=False, **kw), emit="asm",
                    output=str(out))
    return out.read_text()


def _loop(asm: str, label: str) -> str:
    lines = asm.splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith(label + ":"))
    body, closing = [], False
    for ln in lines[i + 1:]:
        body.append(ln)
        closing = closing or bool(re.search(rf"jump(:\w+)? #*{re.escape(label)}\b", ln))
        if ":endloop0" in ln or (closing and ln.strip().startswith("}")):
            break
    return "\n".join(body)


def _store_loop(asm: str) -> tuple[dict, str]:
    """The hot loop packets_per_element measures, and its text."""
    lp = max((x for x in hot_loops(asm) if x["vector_stores"]), key=lambda d: (d["vector_stores"], d["packets"]))
    return lp, _loop(asm, lp["label"])


def _peer_ppe(tmp_path, arch: str, width: int) -> dict:
    """clang-22 -O3 auto-HVX packets per element of the peers' functions (bench.hexagon.FLOAT_PEER_C: the same
    operations, order and constants as fast_math's GELU and SiLU), vector width forced."""
    s = clang_autohvx_asm(FLOAT_PEER_C, tmp_path / f"peer_{arch}_{width}", arch, width,
                          defines={"N": 65536, "ROWS": 64, "COLS": 1024})
    return {name: packets_per_element(body) for name, body in functions(s).items()}


# ---- target capabilities ----------------------------------------------------------------------------------

def test_qfloat_capabilities():
    from hexmlir.targets import get
    assert get("hexagon", "v79").qfloat_only and get("hexagon", "v81").qfloat_only
    assert get("hexagon", "v79").hvx_float and get("hexagon", "v73").hvx_float
    assert not get("hexagon", "v73").qfloat_only                    # IEEE HVX float on v68-v75
    for t in (get("hexagon-sim", "v79"), get("hexagon-sim", "v73"), get("host"), get("npu-emu")):
        assert not t.qfloat_only and not t.hvx_float, t


# ---- qf-chains: which operations convert (LLVM dialect, one function) --------------------------------------

_CHAIN_FN = """
llvm.func @f(%x: vector<32xf32>, %p: !llvm.ptr, %q: !llvm.ptr, %r: !llvm.ptr) {
  %c = llvm.mlir.constant(dense<0.5> : vector<32xf32>) : vector<32xf32>
  %m = llvm.mlir.constant(dense<12582912.0> : vector<32xf32>) : vector<32xf32>
  %a = llvm.fmul %x, %x : vector<32xf32>
  %b = llvm.fadd %a, %c : vector<32xf32>
  %t = llvm.fadd %b, %m : vector<32xf32>
  %k = llvm.fsub %t, %m : vector<32xf32>
  %i = llvm.bitcast %t : vector<32xf32> to vector<32xi32>
  %y = llvm.fmul %k, %b : vector<32xf32>
  %z = llvm.fsub %c, %y : vector<32xf32>
  %w = llvm.fmul %z, %c : vector<32xf32>
  %g = llvm.fcmp "ogt" %z, %c : vector<32xf32>
  llvm.store %w, %p : vector<32xf32>, !llvm.ptr
  llvm.store %i, %q : vector<32xi32>, !llvm.ptr
  llvm.store %g, %r : vector<32xi1>, !llvm.ptr
  llvm.return
}"""


def _intrinsics(fn_text: str) -> list[str]:
    from hexmlir import ir as hir
    from hexmlir.transforms import qf
    with hir.context(), hir.ir.Location.unknown():
        m = hir.parse(fn_text)
        n = qf.chains(m)
        m.operation.verify()
        text = str(m)
    return n, re.findall(r'llvm\.hexagon\.V6\.([\w.]+)\.128B', text), text


def test_chain_converts_only_where_values_leave():
    """x*x+c stays qf32; the rounding add (constant 1.5*2^23) leaves the chain, so its subtract reads the
    converted sum (vsub.sf), and so does the bitcast; 0.5 - y converts 0.5 (vadd.sf(c, 0)); z has a compare
    and a multiply as users: one conversion, both read it; the stored product converts."""
    n, names, text = _intrinsics(_CHAIN_FN)
    assert n == 7, text
    assert names.count("vconv.sf.qf32") == 3, text                  # t, z, w
    assert names.count("vmpy.qf32.sf") == 2 and names.count("vmpy.qf32") == 1, text     # x*x, z*c; k*b
    assert names.count("vadd.qf32.mix") == 2, text                  # a + c, b + M
    assert names.count("vsub.sf") == 1 and names.count("vsub.qf32") == 1, text         # t - M; c - y
    assert names.count("vadd.sf") == 1, text                         # c as qf32
    assert not re.search(r"llvm\.f(add|sub|mul) ", text), text
    assert "0x4AC00000" not in text                                  # no shift by 23 follows: M kept


_SHIFTER_FN = """
llvm.func @f(%y: vector<32xf32>, %p: !llvm.ptr, %q: !llvm.ptr) {
  %m = llvm.mlir.constant(dense<12582912.0> : vector<32xf32>) : vector<32xf32>
  %c23 = llvm.mlir.constant(dense<23> : vector<32xi32>) : vector<32xi32>
  %t = llvm.fadd %y, %m : vector<32xf32>
  %k = llvm.fsub %t, %m : vector<32xf32>
  %i = llvm.bitcast %t : vector<32xf32> to vector<32xi32>
  %s = llvm.shl %i, %c23 : vector<32xi32>
  llvm.store %k, %p : vector<32xf32>, !llvm.ptr
  llvm.store %s, %q : vector<32xi32>, !llvm.ptr
  llvm.return
}"""


def test_round_to_integer_shifter_fits_qf32():
    """exp's `t = y + 1.5*2^23; k = t - 1.5*2^23; bits(t) << 23`: qf32's sums near 1.5*2^23 step by 2, so
    the shifter becomes 1.5*2^22 with `<< 22` (the same k and 2^k wherever sums keep 23 bits or more)."""
    import struct
    n, names, text = _intrinsics(_SHIFTER_FN)
    assert n == 2 and "dense<0x4AC00000>" in text and "dense<22>" in text, text    # 1.5*2^22, << 22
    assert len(re.findall(r"llvm\.bitcast %3 ", text)) == 2, text      # the add and the subtract
    assert re.search(r"llvm\.shl %\d+, %4 ", text), text
    # the identity the rewrite relies on, in IEEE sf: bits(S' + k) << 22 == k << 23 (mod 2^32)
    for k in range(-150, 151):
        t = np.float32(6291456.0) + np.float32(k)
        bits = struct.unpack("<I", struct.pack("<f", t))[0]
        assert (bits << 22) & 0xFFFFFFFF == (k << 23) & 0xFFFFFFFF and t - np.float32(6291456.0) == k


# ---- v79: GELU, SiLU, exp series against clang auto-HVX ---------------------------------------------------

@pytest.mark.parametrize("name", ["gelu", "silu"])
def test_v79_chain_below_clang_autohvx(name, tmp_path):
    """v79 hot loop: at most 8 qf32->sf conversions per output vector (GELU had 38, SiLU 21: one after
    nearly every op) and fewer packets per element than clang-22 auto-HVX at width 32 and 64."""
    k = ls.gelu_tanh((65536,)) if name == "gelu" else ls.silu((65536,))
    s = _asm(k, tmp_path, "v79")
    lp, body = _store_loop(s)
    assert len(_CONV.findall(body)) <= 8 * lp["vector_stores"], body
    ours = packets_per_element(s)
    peers = [_peer_ppe(tmp_path, "v79", w)[name] for w in (32, 64)]
    assert ours < min(peers), (ours, peers)
    assert ours < {"gelu": 2.0, "silu": 1.5}[name], ours            # before: 3.06, 1.94


def test_v79_exp_series_converts_at_boundaries(tmp_path):
    from hexmlir.bench.registry import exp_series
    s = _asm(exp_series(65536), tmp_path, "v79")
    lp, body = _store_loop(s)
    assert len(_CONV.findall(body)) <= lp["vector_stores"], body    # before: 9 per vector


def test_v73_unrolls_only_loops_the_pipeliner_leaves(tmp_path):
    """IEEE HVX float: GELU's loop (31 multiplies, 27 adds: MII 45 > LLVM's pipeliner limit of 27) is unrolled
    by 2, two chains sharing packets (61 -> 52.5 a vector); SiLU's (MII 26) is software-pipelined and stays
    one vector an iteration (30 packets; 36.5 a vector unrolled)."""
    for name, k, stores, limit in (("gelu", ls.gelu_tanh((65536,)), 2, 1.70), ("silu", ls.silu((65536,)), 1, 0.97)):
        s = _asm(k, tmp_path, "v73")
        lp, _ = _store_loop(s)
        assert lp["vector_stores"] == stores and packets_per_element(s) <= limit, (name, lp)


def test_v73_keeps_ieee_float(tmp_path):
    """The chain rewrite is v79+ only: v73's GELU and SiLU stay IEEE HVX float (no qf32 at all)."""
    for k in (ls.gelu_tanh((65536,)), ls.silu((65536,))):
        s = _asm(k, tmp_path, "v73")
        assert "qf32" not in s


# ---- sums: two rotating partials ---------------------------------------------------------------------------

@pytest.mark.parametrize("arch,limit", [("v73", 60), ("v79", 62)])
def test_rmsnorm_sum_of_squares_packets(arch, limit, tmp_path):
    """RMSNorm 64x1024: the row's sum of squares (32 vectors, unrolled by LLVM) pairs each multiply with an
    add: v73 76 packets with IEEE vadd.sf (CVI_VX, slots 2/3 like the multiply), 67 with qf32 and one sum."""
    s = _asm(ls.rmsnorm(64, 1024), tmp_path, arch)
    loop = next(lp for lp in hot_loops(s) if lp["fmul_lanes"] == 32 * 32)
    assert loop["packets"] <= limit, loop
    body = _loop(s, loop["label"])
    assert len(_CONV.findall(body)) <= (1 if arch == "v73" else 6), body   # v79: + the horizontal tree


def _dump_stage(kernel, target, stage) -> str:
    """The module after `stage` (hexmlir opt's stage runner: no code generation)."""
    from hexmlir import opt
    return opt.run_stages(kernel.mlir, f"check-input..{stage}", {"target": target, "multithread": False})


_TWO_PARTIALS = re.compile(r"\^bb\d+\(%\d+: i32, %\d+: vector<32xf32>, %\d+: vector<32xf32>\)")


def test_short_sum_loops_keep_one_accumulator():
    """4 vectors a row (128 columns): the combine and conversion after the loop would cost what they save."""
    ir_ = _dump_stage(ls.row_sum(8, 128), "hexagon", "hvx-accumulators")
    assert not _TWO_PARTIALS.search(ir_)
    ir_ = _dump_stage(ls.row_sum(8, 1024), "hexagon", "hvx-accumulators")
    assert _TWO_PARTIALS.search(ir_) and "vadd.qf32" in ir_


@needs_qemu
@pytest.mark.parametrize("m,n", [pytest.param(5, 1000, marks=pytest.mark.slow),
                                 pytest.param(33, 17, marks=pytest.mark.slow), (3, 288), (2, 257)])
def test_qemu_rotated_partial_sums_match_numpy(m, n, rng):
    """The simulation build rotates plain f32 partial sums through the same rewritten loop (new block
    argument, re-created branches, the combine before the horizontal tree): qemu runs it against NumPy.
    n: 31 vectors + 8-lane tail; 17 (tail only); 9 vectors exactly (the first count rotated); 8 + 1."""
    for kern in (ls.row_sum(m, n), ls.rmsnorm(m, n)):
        x = kern.random_inputs(rng)
        k = hexmlir.compile(kern.mlir, Options(target="hexagon-sim", multithread=False))
        np.testing.assert_allclose(k(*x), kern.reference(*x)[0], rtol=2e-5, atol=1e-5,
                                   err_msg=f"{kern.name} {m}x{n} seed {current_seed()}")


def test_sim_build_rotates_plain_f32():
    ir_ = _dump_stage(ls.row_sum(5, 1000), "hexagon-sim", "hvx-accumulators")
    assert _TWO_PARTIALS.search(ir_) and "qf32" not in ir_


def test_hot_loop_stores_exclude_spills():
    """Spills are vector stores too (to r29, the stack pointer, or a register set from it): with the
    unrolled GELU loop's spills counted as outputs, packets per element read 0.88 instead of 1.77."""
    asm = "\n".join([
        ".LBB0_3:                                // =>This Inner Loop Header: Depth=1",
        "\t{", "\t\tr24 = add(r29,#2048)", "\t\tv1 = vmem(r8+#0)", "\t}",
        "\t{", "\t\tvmem(r24+#-6) = v5", "\t\tv2.qf32 = vmpy(v1.sf,v1.sf)", "\t}",
        "\t{", "\t\tvmem(r29+#2) = v2", "\t}",
        "\t{", "\t\tv3.sf = v2.qf32", "\t\tvmem(r7++#1) = v3.new", "\t} :endloop0"])
    (lp,) = hot_loops(asm)
    assert lp["vector_stores"] == 1 and lp["packets"] == 4, lp
    assert packets_per_element(asm) == 4 / 32


def test_splat_arithmetic_left_scalar_on_v79(tmp_path):
    """RMSNorm's statistic (sum / n + eps, then rsqrt) is computed on a broadcast vector in the vectorized
    loop; as qf32 intrinsics it stayed a vector and its sqrt became 32 scalar calls a row (LLVM scalarizes
    plain splat arithmetic: one call, as on v73)."""
    for k in (ls.rmsnorm(64, 1024), ls.rmsnorm(5, 1000)):
        calls = [_asm(k, tmp_path, a).count("call __hexagon_sqrtf") for a in ("v79", "v73")]
        assert calls[0] == calls[1] <= 2, calls
