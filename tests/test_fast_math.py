"""hexmlir.transforms.fast_math: IR shape, accuracy against float64 references (tools/fast_math_accuracy.py),
special values.

Every test draws fresh random inputs; the seed is in the assertion message of any failure
(measure() returns it; the other tests draw it with _seed()).
"""
from __future__ import annotations

import math
import pathlib

import numpy as np
import pytest

from torch_mlir import ir, passmanager

from hexmlir.tools import fast_math_accuracy as acc, refjit
from hexmlir.transforms import fast_math as fm
from conftest import current_seed

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "fast_math.md"
OPS = ["exp", "tanh", "erf", "sigmoid", "recip", "div"]
F32_MAX = float(np.finfo(np.float32).max)

# What the brief asks for, independent of the documented table (ulp of f32 / f16 at the result).
SPEC_ULP = {("exp", "f32"): 1.5, ("tanh", "f32"): 2.0, ("erf", "f32"): 8.0, ("sigmoid", "f32"): 3.5,
            ("recip", "f32"): 1.5, ("div", "f32"): 2.5}
SPEC_ERF_ABS = 1e-6


def _seed() -> int:
    return current_seed()


_JITS: dict = {}


def jit(op: str, dtype: str = "f32", width: int = 32) -> acc.Jit:
    key = (op, dtype, width)
    if key not in _JITS:
        _JITS[key] = acc.Jit(acc.kernel_source(op, dtype, width))
    return _JITS[key]


def call(op, x, y=None, dtype="f32", width=32):
    """Run the rewritten kernel on x (and y), padding to the vector width."""
    npt = np.float32 if dtype == "f32" else np.float16
    x = np.asarray(x, dtype=npt).ravel()
    n = len(x)
    step = width or 1
    pad = (-n) % step
    xx = np.concatenate([x, np.ones(pad, npt)])
    yy = None if y is None else np.concatenate([np.broadcast_to(np.asarray(y, dtype=npt), (n,)), np.ones(pad, npt)])
    return jit(op, dtype, width)(xx, yy)[:n]


def same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    both_nan = np.isnan(a) & np.isnan(b)
    return bool(np.all(both_nan | (a.view(np.uint32 if a.dtype == np.float32 else np.uint16)
                                   == b.view(np.uint32 if b.dtype == np.float32 else np.uint16))))


def lower_and_jit(module: ir.Module):
    return refjit.engine(module, opt_level=2)


def invoke(engine, *arrays):
    refjit.invoke(engine, "k", arrays)


# ----------------------------------------------------------------------------------------------------------------
# IR: the slow ops are gone, scalar and vector alike
# ----------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype,width", [("f32", 32), ("f16", 64), ("f32", 0), ("f16", 0), ("bf16", 32)])
@pytest.mark.parametrize("op", OPS)
def test_ir_has_no_math_or_divf(op, dtype, width):
    with ir.Context(), ir.Location.unknown():
        m = ir.Module.parse(acc.kernel_source(op, dtype, width))
        n = fm.run(m)
        m.operation.verify()
        text = str(m)
    assert n == 1, text                       # the sigmoid idiom counts as one rewrite
    assert "math." not in text, text
    assert "arith.divf" not in text, text
    assert "scf.if" not in text and "call" not in text
    if dtype != "f32":
        assert "arith.extf" in text and "arith.truncf" in text


def test_2d_vectors_and_ops_in_nested_regions():
    src = """
    func.func @f(%a: vector<4x8xf32>, %c: i1) -> vector<4x8xf32> {
      %r = scf.if %c -> vector<4x8xf32> {
        %t = math.tanh %a : vector<4x8xf32>
        %d = arith.divf %t, %a : vector<4x8xf32>
        scf.yield %d : vector<4x8xf32>
      } else {
        %e = math.erf %a : vector<4x8xf32>
        scf.yield %e : vector<4x8xf32>
      }
      return %r : vector<4x8xf32>
    }"""
    with ir.Context(), ir.Location.unknown():
        m = ir.Module.parse(src)
        assert fm.run(m) == 3
        m.operation.verify()
        text = str(m)
    assert "math." not in text and "arith.divf" not in text
    assert "vector<4x8xi32>" in text


def test_untouched_types_are_left_alone():
    src = """
    func.func @f(%a: f64, %b: vector<8xf64>, %t: tensor<8xf32>) -> (f64, vector<8xf64>, tensor<8xf32>, f64) {
      %e = math.exp %a : f64
      %v = math.tanh %b : vector<8xf64>
      %w = math.erf %t : tensor<8xf32>
      %d = arith.divf %e, %a : f64
      return %e, %v, %w, %d : f64, vector<8xf64>, tensor<8xf32>, f64
    }"""
    with ir.Context(), ir.Location.unknown():
        m = ir.Module.parse(src)
        before = str(m)
        assert fm.run(m) == 0
        assert str(m) == before


def test_vector_fdiv_only():
    src = """
    func.func @f(%a: vector<32xf32>, %s: f32) -> (vector<32xf32>, f32) {
      %e = math.exp %a : vector<32xf32>
      %d = arith.divf %e, %a : vector<32xf32>
      %q = arith.divf %s, %s : f32
      return %d, %q : vector<32xf32>, f32
    }"""
    with ir.Context(), ir.Location.unknown():
        m = ir.Module.parse(src)
        assert fm.run(m, vector_fdiv_only=True) == 1
        text = str(m)
        assert "math.exp" in text
        assert text.count("arith.divf") == 1 and "arith.divf %arg1, %arg1 : f32" in text
        assert fm.run(m) == 2                 # the rest on a second, full run
        assert "math." not in str(m) and "arith.divf" not in str(m)


def test_run_outside_a_context_manager():
    ctx = ir.Context()
    with ctx:
        m = ir.Module.parse("func.func @f(%a: f32) -> f32 {\n %e = math.exp %a : f32\n return %e : f32\n}")
    assert fm.run(m) == 1


def test_emitters_take_f32_only():
    with ir.Context(), ir.Location.unknown():
        m = ir.Module.parse("func.func @f(%a: f16) -> f16 {\n return %a : f16\n}")
        func = m.body.operations[0]
        arg = func.regions[0].blocks[0].arguments[0]
        with ir.InsertionPoint.at_block_begin(func.regions[0].blocks[0]):
            with pytest.raises(TypeError):
                fm.emit_exp(arg)


# ----------------------------------------------------------------------------------------------------------------
# Sigmoid idiom
# ----------------------------------------------------------------------------------------------------------------

_SIG_VARIANTS = {
    "negf_exp_plus_1": "%n = arith.negf %x : f32\n%e = math.exp %n : f32\n%s = arith.addf %e, %one : f32",
    "1_plus_exp": "%n = arith.negf %x : f32\n%e = math.exp %n : f32\n%s = arith.addf %one, %e : f32",
    "subf_zero": "%n = arith.subf %zero, %x : f32\n%e = math.exp %n : f32\n%s = arith.addf %e, %one : f32",
}


def _sigmoid_module(body: str, extra_use: bool = False) -> str:
    ret = "%r, %e : f32, f32" if extra_use else "%r : f32"
    rty = "(f32, f32)" if extra_use else "f32"
    return f"""
    func.func @f(%x: f32) -> {rty} {{
      %one = arith.constant 1.0 : f32
      %zero = arith.constant 0.0 : f32
      {body}
      %r = arith.divf %one, %s : f32
      return {ret}
    }}"""


@pytest.mark.parametrize("variant", sorted(_SIG_VARIANTS))
def test_sigmoid_idiom_is_matched_whole(variant):
    with ir.Context(), ir.Location.unknown():
        m = ir.Module.parse(_sigmoid_module(_SIG_VARIANTS[variant]))
        assert fm.run(m) == 1
        m.operation.verify()
        text = str(m)
    assert "math." not in text and "arith.divf" not in text
    assert "arith.negf" not in text            # the dead negation went too


def test_sigmoid_idiom_with_shared_exp_falls_back_to_pieces():
    with ir.Context(), ir.Location.unknown():
        m = ir.Module.parse(_sigmoid_module(_SIG_VARIANTS["negf_exp_plus_1"], extra_use=True))
        assert fm.run(m) == 2                   # exp and divf rewritten separately (exp is used twice)
        m.operation.verify()
        assert "math." not in str(m) and "arith.divf" not in str(m)


# ----------------------------------------------------------------------------------------------------------------
# Accuracy
# ----------------------------------------------------------------------------------------------------------------

def _doc_table() -> dict:
    return acc.parse_table(DOC.read_text())


def test_doc_table_covers_every_measured_row():
    assert set(_doc_table()) == set(acc._samplers())


@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize("op", OPS)
def test_accuracy_within_documented_and_required_bounds(op, dtype):
    m = acc.measure(op, dtype, n=1 << 17)
    doc = _doc_table()[(op, dtype)]
    msg = f"{op} {dtype} seed={m['seed']} measured={m} documented={doc}"
    assert m["ulp"] <= doc["ulp"], msg
    assert m["rel"] <= doc["rel"], msg
    if doc["abs"] is not None:
        assert m["abs"] <= doc["abs"], msg
    if dtype == "f32":
        assert m["ulp"] <= SPEC_ULP[(op, dtype)], msg
    else:
        assert m["ulp"] <= 0.75, msg            # f16: f32 result rounded once more; at most 0.75 f16 ulp
    if op == "erf" and dtype == "f32":
        assert m["abs"] <= SPEC_ERF_ABS, msg


@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize("op", OPS)
def test_scalar_code_matches_vector_code_bitwise(op, dtype):
    seed = _seed()
    rng = np.random.default_rng(seed)
    lim = 100.0 if dtype == "f32" else 12.0
    x = rng.uniform(-lim, lim, 4096)
    x[:8] = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-3, -1e-3, 0.5]
    y = rng.uniform(-lim, lim, 4096)
    w = 32 if dtype == "f32" else 64
    vec = call(op, x, y, dtype=dtype, width=w)
    sca = call(op, x, y, dtype=dtype, width=0)
    assert same_bits(vec, sca), f"seed={seed}"


def test_small_magnitudes_relative_accuracy():
    seed = _seed()
    rng = np.random.default_rng(seed)
    x = (rng.choice([-1.0, 1.0], 1 << 14) * np.exp2(rng.uniform(-120, 0, 1 << 14))).astype(np.float32)
    for op in ("tanh", "erf"):
        got = call(op, x)
        e = acc.errors(op, "f32", x, None, got)
        assert e["ulp"] <= SPEC_ULP[(op, "f32")], f"{op} seed={seed} {e}"


def test_accuracy_script_prints_a_parseable_table(capsys):
    assert acc.main(["--accuracy", "-n", "4096"]) == 0
    table = acc.parse_table(capsys.readouterr().out)
    assert set(table) == set(acc._samplers())


# ----------------------------------------------------------------------------------------------------------------
# Division: sign, zeros, infinities, subnormals, NaN (as documented in docs/fast_math.md)
# ----------------------------------------------------------------------------------------------------------------

def test_division_by_negative_keeps_the_sign():
    seed = _seed()
    rng = np.random.default_rng(seed)
    a = (rng.choice([-1.0, 1.0], 8192) * np.exp2(rng.uniform(-40, 40, 8192))).astype(np.float32)
    b = (-np.exp2(rng.uniform(-40, 40, 8192))).astype(np.float32)
    q = call("div", a, b)
    assert np.all(np.sign(q) == -np.sign(a)), f"seed={seed}"
    r = call("recip", b)
    assert np.all(r < 0), f"seed={seed}"
    ref = 1.0 / b.astype(np.float64)
    assert np.max(np.abs(r - ref) / np.abs(ref)) < 2 * 2.0 ** -23, f"seed={seed}"


def test_reciprocal_special_values():
    inf, nan = np.inf, np.nan
    big = fm._bits_to_f32(fm._RECIP_BIG_BITS)
    nxt = np.nextafter(np.float32(big), np.float32(inf))
    x = np.array([0.0, -0.0, inf, -inf, nan, 1e-40, -1e-40, 2.0 ** -127, 2.0 ** -126, -2.0 ** -126,
                  big, -big, nxt, -nxt, F32_MAX, -F32_MAX, 1.0, -1.0, 3.0, -0.1], np.float32)
    r = call("recip", x)
    expect_inf = [np.inf, -np.inf]
    assert list(r[:2]) == expect_inf and np.signbit(r[1])
    assert r[2] == 0 and not np.signbit(r[2]) and r[3] == 0 and np.signbit(r[3])
    assert np.isnan(r[4])
    assert list(r[5:8]) == [np.inf, -np.inf, np.inf]                   # subnormal -> +-inf
    assert r[8] == 2.0 ** 126 and r[9] == -2.0 ** 126
    assert r[10] > 0 and r[11] < 0                                      # largest |b| still computed
    assert abs(r[10] * np.float64(big) - 1) < 2.0 ** -22
    for v, s in zip(r[12:16], [False, True, False, True]):              # flushed to zero, sign kept
        assert v == 0 and np.signbit(v) == s
    assert r[16] == 1.0 and r[17] == -1.0
    assert abs(r[18] * 3.0 - 1) < 2.0 ** -22 and abs(r[19] * -0.1 - 1) < 2.0 ** -22


def test_division_special_values():
    inf, nan = np.inf, np.nan
    a = np.array([1.0, -1.0, 1.0, -1.0, 0.0, inf, inf, -inf, 5.0, 0.0, 3.0, nan, inf, 3e38], np.float32)
    b = np.array([0.0, 0.0, -0.0, -0.0, 0.0, inf, 2.0, -2.0, nan, -5.0, 1e38, 1.0, -1e38, -1e38], np.float32)
    q = call("div", a, b)
    assert list(q[:4]) == [inf, -inf, -inf, inf]
    assert np.isnan(q[4]) and np.isnan(q[5])           # 0/0, inf/inf
    assert q[6] == inf and q[7] == inf
    assert np.isnan(q[8])
    assert q[9] == 0 and np.signbit(q[9])              # 0 / -5 = -0
    assert q[10] == 0                                   # |b| > 8.08e37: flushed (documented)
    assert np.isnan(q[11])
    assert np.isnan(q[12])                              # inf * 0
    assert q[13] == 0 and np.signbit(q[13])             # 3e38 / -1e38: -0, not -3 (documented caveat)


def test_f16_reciprocal_of_signed_zero():
    r = call("recip", np.array([0.0, -0.0, -2.0, np.inf, -np.inf], np.float16), dtype="f16", width=64)
    assert r[0] == np.inf and r[1] == -np.inf and r[2] == -0.5
    assert r[3] == 0 and not np.signbit(r[3]) and r[4] == 0 and np.signbit(r[4])


def test_constant_denominator_is_folded_to_a_multiply():
    src = """
    func.func @k(%a: memref<?xf32>, %b: memref<?xf32>, %out: memref<?xf32>) attributes {llvm.emit_c_interface} {
      %c0 = arith.constant 0 : index
      %c32 = arith.constant 32 : index
      %n = memref.dim %a, %c0 : memref<?xf32>
      %three = arith.constant dense<-3.0> : vector<32xf32>
      %one = arith.constant dense<1.0> : vector<32xf32>
      scf.for %i = %c0 to %n step %c32 {
        %x = vector.load %a[%i] : memref<?xf32>, vector<32xf32>
        %q = arith.divf %x, %three : vector<32xf32>
        %r = arith.divf %one, %three : vector<32xf32>
        %s = arith.addf %q, %r : vector<32xf32>
        vector.store %s, %out[%i] : memref<?xf32>, vector<32xf32>
      }
      return
    }"""
    with ir.Context(), ir.Location.unknown():
        m = ir.Module.parse(src)
        assert fm.run(m) == 2
        text = str(m)
        assert "arith.divf" not in text and "arith.bitcast" not in text
        engine = lower_and_jit(m)
        seed = _seed()
        x = np.random.default_rng(seed).uniform(-1e3, 1e3, 256).astype(np.float32)
        out = np.zeros_like(x)
        invoke(engine, x, x.copy(), out)
    ref = x.astype(np.float64) / -3.0 + 1.0 / -3.0
    assert np.max(np.abs(out - ref) / np.maximum(np.abs(ref), 1.0)) < 4 * 2.0 ** -23, f"seed={seed}"


# ----------------------------------------------------------------------------------------------------------------
# exp / tanh / erf / sigmoid special values and limits
# ----------------------------------------------------------------------------------------------------------------

def test_exp_limits():
    inf, nan = np.inf, np.nan
    hi = np.float32(fm._EXP_HI)
    lo = np.float32(fm._EXP_LO)
    x = np.array([inf, -inf, nan, 0.0, -0.0, hi, np.nextafter(hi, inf), lo, np.nextafter(lo, -inf),
                  100.0, -100.0, 1e30, -1e30, 1.0], np.float32)
    y = call("exp", x)
    assert y[0] == inf and y[1] == 0 and np.isnan(y[2])
    assert y[3] == 1 and y[4] == 1
    assert np.isfinite(y[5]) and abs(y[5] / math.exp(float(hi)) - 1) < 2.0 ** -22
    assert y[6] == inf
    assert y[7] >= 2.0 ** -126 and abs(y[7] / math.exp(float(lo)) - 1) < 2.0 ** -22
    assert y[8] == 0
    assert list(y[9:13]) == [inf, 0, inf, 0]
    assert abs(y[13] - math.e) <= 2.0 ** -22
    seed = _seed()
    xs = np.random.default_rng(seed).uniform(-1e4, 1e4, 1 << 14).astype(np.float32)
    ys = call("exp", xs)
    assert not np.any(np.isnan(ys)), f"seed={seed}"
    assert np.all(ys[xs > hi] == inf) and np.all(ys[xs < lo] == 0), f"seed={seed}"
    assert np.all(np.isfinite(ys[xs <= hi])), f"seed={seed}"


def test_tanh_limits():
    seed = _seed()
    rng = np.random.default_rng(seed)
    big = np.concatenate([np.linspace(9.1, 20, 4096), np.geomspace(20, 3e38, 4096), [np.inf]]).astype(np.float32)
    assert np.all(call("tanh", big) == 1.0)
    assert np.all(call("tanh", -big) == -1.0)
    tiny = (rng.choice([-1.0, 1.0], 4096) * np.exp2(rng.uniform(-149, -13, 4096))).astype(np.float32)
    assert same_bits(call("tanh", tiny), tiny), f"seed={seed}"       # tanh(x) = x for |x| < 2^-13
    z = call("tanh", np.array([0.0, -0.0, np.nan], np.float32))
    assert z[0] == 0 and not np.signbit(z[0]) and z[1] == 0 and np.signbit(z[1]) and np.isnan(z[2])
    x = rng.uniform(-12, 12, 1 << 14).astype(np.float32)
    t = call("tanh", x)
    assert np.all(np.abs(t) <= 1) and same_bits(call("tanh", -x), -t), f"seed={seed}"


def test_erf_limits():
    seed = _seed()
    rng = np.random.default_rng(seed)
    big = np.concatenate([np.linspace(4.0, 30, 4096), np.geomspace(30, 3e38, 4096), [np.inf]]).astype(np.float32)
    assert np.all(call("erf", big) == 1.0)
    assert np.all(call("erf", -big) == -1.0)
    z = call("erf", np.array([0.0, -0.0, np.nan], np.float32))
    assert z[0] == 0 and not np.signbit(z[0]) and z[1] == 0 and np.signbit(z[1]) and np.isnan(z[2])
    x = rng.uniform(-6, 6, 1 << 14).astype(np.float32)
    e = call("erf", x)
    assert np.all(np.abs(e) <= 1) and same_bits(call("erf", -x), -e), f"seed={seed}"
    tiny = (rng.choice([-1.0, 1.0], 4096) * np.exp2(rng.uniform(-120, -20, 4096))).astype(np.float32)
    got = call("erf", tiny).astype(np.float64)
    assert np.max(np.abs(got / (tiny.astype(np.float64) * (2 / math.sqrt(math.pi))) - 1)) < 4 * 2.0 ** -24


def test_silu_idiom_same_bits_as_pieces():
    """x / (1 + exp(-x)): the idiom (clamped exp argument, emit_recip_pos), the positive-denominator division
    alone (numerator not the exp's negated argument) and the plain exp + emit_div path (denominator hidden
    behind e * 1) give the same bits everywhere, specials and both clamp edges included; and SiLU itself
    is within 4 ulp of float64 where 1 / (1 + exp(-x)) is normal (x > -86; below, the reciprocal flushes
    to zero as emit_recip documents)."""
    seed = _seed()
    rng = np.random.default_rng(seed)
    edges = np.concatenate([np.linspace(a - 0.5, a + 0.5, 512) for a in (-88.7, -88.0, -87.3, -86.6, 87.0, 87.3)])
    x = np.concatenate([rng.uniform(-200, 200, 1 << 13), rng.uniform(-20, 20, 1 << 13), edges,
                        rng.choice([-1.0, 1.0], 2048) * np.exp2(rng.uniform(-140, 127, 2048)),
                        [0.0, -0.0, np.nan, np.inf, -np.inf, 3e38, -3e38]]).astype(np.float32)
    x = np.concatenate([x, np.ones((-len(x)) % 32, np.float32)])
    src = acc.kernel_source("silu", "f32", 32)
    T = "vector<32xf32>"
    pos_den = src.replace(f"%m = arith.negf %x : {T}", f"%m = arith.negf %y : {T}")
    plain = src.replace(f"%s = arith.addf %e, %one : {T}",
                        f"%e1 = arith.mulf %e, %one : {T}\n%s = arith.addf %e1, %one : {T}")
    jits = [acc.Jit(s) for s in (src, pos_den, plain)]
    assert "arith.maximumf" in jits[0].rewritten_ir and "arith.maximumf" not in jits[1].rewritten_ir
    assert "arith.andi" not in jits[1].rewritten_ir and "arith.andi" in jits[2].rewritten_ir   # no sign split
    got = [j(x, x.copy()) for j in jits]
    assert same_bits(got[0], got[1]) and same_bits(got[0], got[2]), f"seed={seed}"
    x64 = x.astype(np.float64)
    with np.errstate(all="ignore"):
        ref = x64 / (1.0 + np.exp(-x64))
    ok = np.isfinite(ref) & (np.abs(ref) >= 2.0 ** -126) & (x64 > -86)
    ulp = np.spacing(np.abs(ref[ok]).astype(np.float32)).astype(np.float64)
    assert np.max(np.abs(got[0][ok] - ref[ok]) / ulp) <= 4, f"seed={seed}"
    assert np.isnan(got[0][np.isnan(x)]).all() and got[0][x == np.inf][0] == np.inf, f"seed={seed}"
    assert np.all(got[0][(x > -87) & (x < 0) & ok] < 0), f"seed={seed}"


def test_sigmoid_limits():
    seed = _seed()
    rng = np.random.default_rng(seed)
    x = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 17.0, 1e30, -88.0, -1e30], np.float32)
    s = call("sigmoid", x)
    assert s[0] == 0.5 and s[1] == 0.5 and np.isnan(s[2])
    assert s[3] == 1 and s[4] == 0 and s[5] == 1 and s[6] == 1 and s[7] == 0 and s[8] == 0
    xs = rng.uniform(-200, 200, 1 << 14).astype(np.float32)
    ss = call("sigmoid", xs)
    assert np.all((ss >= 0) & (ss <= 1)), f"seed={seed}"
    assert np.all(ss[xs >= 17] == 1) and np.all(ss[xs < fm._EXP_LO] == 0), f"seed={seed}"


# ----------------------------------------------------------------------------------------------------------------
# The main use: rewrite a linalg.generic body, then vectorize it
# ----------------------------------------------------------------------------------------------------------------

_GENERIC = """
#map = affine_map<(d0) -> (d0)>
func.func @k(%a: memref<512xT>, %b: memref<512xT>, %o: memref<512xT>) attributes {llvm.emit_c_interface} {
  linalg.generic {indexing_maps = [#map, #map, #map], iterator_types = ["parallel"]}
     ins(%a, %b : memref<512xT>, memref<512xT>) outs(%o : memref<512xT>) {
  ^bb0(%x: T, %y: T, %out: T):
    %one = arith.constant 1.0 : T
    %t = math.tanh %x : T
    %e = math.erf %y : T
    %n = arith.negf %x : T
    %ex = math.exp %n : T
    %s1 = arith.addf %one, %ex : T
    %sg = arith.divf %one, %s1 : T
    %q = arith.divf %t, %y : T
    %r0 = arith.addf %q, %e : T
    %r = arith.addf %r0, %sg : T
    linalg.yield %r : T
  }
  return
}
"""

_VECTORIZE = """
module attributes {transform.with_named_sequence} {
transform.named_sequence @__transform_main(%root: !transform.any_op {transform.readonly}) {
  %g = transform.structured.match ops{["linalg.generic"]} in %root : (!transform.any_op) -> !transform.any_op
  %t, %l = transform.structured.tile_using_for %g tile_sizes [W] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
  %f = transform.structured.match ops{["func.func"]} in %root : (!transform.any_op) -> !transform.any_op
  %v = transform.structured.vectorize_children_and_apply_patterns %f : (!transform.any_op) -> !transform.any_op
  transform.yield
}
}
"""


@pytest.mark.parametrize("dtype,width", [("f32", 32), ("f16", 64)])
def test_linalg_generic_rewrite_then_vectorize(dtype, width):
    from torch_mlir.dialects.transform import interpreter
    npt = np.float32 if dtype == "f32" else np.float16
    with ir.Context(), ir.Location.unknown():
        m = ir.Module.parse(_GENERIC.replace("T", dtype))
        assert fm.run(m) == 4                         # tanh, erf, sigmoid idiom, divf
        script = ir.Module.parse(_VECTORIZE.replace("[W]", f"[{width}]"))
        interpreter.apply_named_sequence(m.operation, script.body.operations[0], script)
        passmanager.PassManager.parse("builtin.module(canonicalize, cse)").run(m.operation)
        text = str(m)
        assert "linalg.generic" not in text and f"vector<{width}xf32>" in text
        assert "arith.divf" not in text and "math." not in text
        engine = lower_and_jit(m)
        seed = _seed()
        rng = np.random.default_rng(seed)
        a = rng.uniform(-6, 6, 512).astype(npt)
        b = (rng.choice([-1.0, 1.0], 512) * rng.uniform(0.25, 3, 512)).astype(npt)
        o = np.zeros_like(a)
        invoke(engine, a, b, o)
    A, B = a.astype(np.float64), b.astype(np.float64)
    erf = np.vectorize(math.erf)
    # f32: every term within a few ulp of its float64 value; f16: each op rounds once to f16
    ref = np.tanh(A) / B + erf(B) + 1 / (1 + np.exp(-A))
    tol = 2e-6 if dtype == "f32" else 3 * 2.0 ** -10 * 8
    assert np.max(np.abs(o.astype(np.float64) - ref)) < tol, f"seed={seed}"
