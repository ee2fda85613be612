"""fast_math with `native_div=True` (the host target: a CPU divides vectors natively): divf kept, tanh/erf/
sigmoid divide once instead of a Newton-Raphson reciprocal; accuracy within docs/fast_math.md's table, the
special values as documented, and the host pipeline using it while npu-emu does not.

Fresh random inputs per test; the seed is in every assertion message.
"""
from __future__ import annotations

import numpy as np
import pytest

from torch_mlir import ir

from hexmlir.tools import fast_math_accuracy as acc
from hexmlir.transforms import fast_math as fm
from conftest import current_seed
from test_fast_math import SPEC_ULP, _doc_table, same_bits

_JITS: dict = {}


def call(op, x, width=32):
    key = (op, width)
    if key not in _JITS:
        _JITS[key] = acc.Jit(acc.kernel_source(op, "f32", width), native_div=True)
    x = np.asarray(x, np.float32).ravel()
    n, step = len(x), width or 1
    xx = np.concatenate([x, np.ones((-n) % step, np.float32)])
    return _JITS[key](xx)[:n]


def _ops(text: str) -> dict:
    """Op name -> count in rewritten, canonicalized + CSE'd IR (constants not counted)."""
    out: dict = {}
    for line in text.splitlines():
        for tok in line.split():
            if tok.startswith("arith.") and tok != "arith.constant":
                out[tok] = out.get(tok, 0) + 1
                break
    return out


def rewritten(op: str, native_div: bool, width: int = 32) -> dict:
    from torch_mlir import passmanager
    with ir.Context(), ir.Location.unknown():
        m = ir.Module.parse(acc.kernel_source(op, "f32", width))
        fm.run(m, native_div=native_div)
        passmanager.PassManager.parse("builtin.module(canonicalize, cse)").run(m.operation)
        m.operation.verify()
        return _ops(str(m))


@pytest.mark.parametrize("op", ["tanh", "erf", "sigmoid"])
def test_one_divf_and_no_newton_steps(op):
    new, old = rewritten(op, True), rewritten(op, False)
    assert new.get("arith.divf") == 1, new
    assert "arith.divf" not in old, old
    # the reciprocal's magic-constant estimate (subi) and its 3 Newton steps are gone
    assert new.get("arith.subi", 0) == old.get("arith.subi", 0) - 1, (new, old)
    assert sum(new.values()) <= sum(old.values()) - 6, (new, old)


def test_divf_is_kept():
    assert rewritten("recip", True) == {"arith.divf": 1}
    # a / b -> a * (1 / b): the division hoists out of loops where b is invariant
    assert rewritten("div", True) == {"arith.divf": 1, "arith.mulf": 1}


def test_constant_denominator_still_becomes_a_multiply():
    src = acc.kernel_source("div", "f32", 32).replace("arith.divf %x, %y", "arith.divf %x, %c3").replace(
        "%one = arith.constant", "%c3 = arith.constant dense<3.0> : vector<32xf32>\n  %one = arith.constant")
    with ir.Context(), ir.Location.unknown():
        m = ir.Module.parse(src)
        assert fm.run(m, native_div=True) == 1
        assert "arith.divf" not in str(m) and "arith.mulf" in str(m)


def test_exp_is_unchanged():
    assert rewritten("exp", True) == rewritten("exp", False)


@pytest.mark.parametrize("op", ["tanh", "erf", "sigmoid", "recip", "div"])
@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_accuracy_within_documented_bounds(op, dtype):
    m = acc.measure(op, dtype, n=1 << 17, native_div=True)
    doc = _doc_table()[(op, dtype)]
    msg = f"{op} {dtype} native_div seed={m['seed']} measured={m} documented={doc}"
    assert m["ulp"] <= doc["ulp"] and m["rel"] <= doc["rel"], msg
    if doc["abs"] is not None:
        assert m["abs"] <= doc["abs"], msg
    if dtype == "f32":
        assert m["ulp"] <= SPEC_ULP[(op, dtype)], msg


def test_special_values():
    seed = current_seed()
    rng = np.random.default_rng(seed)
    big = np.concatenate([np.linspace(9.1, 20, 512), np.geomspace(20, 3e38, 512), [np.inf]]).astype(np.float32)
    assert np.all(call("tanh", big) == 1.0) and np.all(call("tanh", -big) == -1.0)
    tiny = (rng.choice([-1.0, 1.0], 1024) * np.exp2(rng.uniform(-149, -13, 1024))).astype(np.float32)
    assert same_bits(call("tanh", tiny), tiny), f"seed={seed}"
    for op in ("tanh", "erf"):
        z = call(op, np.array([0.0, -0.0, np.nan], np.float32))
        assert z[0] == 0 and not np.signbit(z[0]) and z[1] == 0 and np.signbit(z[1]) and np.isnan(z[2]), op
        x = rng.uniform(-12, 12, 1 << 12).astype(np.float32)
        t = call(op, x)
        assert np.all(np.abs(t) <= 1) and same_bits(call(op, -x), -t), f"{op} seed={seed}"
    e = call("erf", np.array([4.0, 30.0, 3e38, np.inf], np.float32))
    assert np.all(e == 1.0)
    x = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 17.0, 1e30, -88.0, -1e30], np.float32)
    s = call("sigmoid", x)
    assert s[0] == 0.5 and s[1] == 0.5 and np.isnan(s[2])
    assert s[3] == 1 and s[4] == 0 and s[5] == 1 and s[6] == 1 and s[7] == 0 and s[8] == 0
    xs = rng.uniform(-200, 200, 1 << 12).astype(np.float32)
    assert same_bits(call("sigmoid", xs, width=0), call("sigmoid", xs)), f"seed={seed}"


_SILU = """
func.func @silu(%x: tensor<1000xf32>) -> tensor<1000xf32> {
  %e = tensor.empty() : tensor<1000xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>],
                       iterator_types = ["parallel"]} ins(%x : tensor<1000xf32>) outs(%e : tensor<1000xf32>) {
  ^bb0(%a: f32, %o: f32):
    %n = arith.negf %a : f32
    %x2 = math.exp %n : f32
    %one = arith.constant 1.0 : f32
    %d = arith.addf %x2, %one : f32
    %q = arith.divf %a, %d : f32
    linalg.yield %q : f32
  } -> tensor<1000xf32>
  return %r : tensor<1000xf32>
}
"""


@pytest.mark.parametrize("target,fdiv", [("host", True), ("npu-emu", False)])
def test_pipeline_divides_natively_on_host_only(target, fdiv, tmp_path):
    import hexmlir
    from hexmlir import Options
    out = tmp_path / "k.ll"
    hexmlir.compile(_SILU, Options(target=target), emit="llvm", output=str(out))
    assert (" fdiv " in out.read_text()) == fdiv


def test_host_silu_matches_torch():
    import torch
    import hexmlir
    from hexmlir import Options
    seed = current_seed()
    x = np.random.default_rng(seed).uniform(-100, 100, 1000).astype(np.float32)
    x[:4] = [0.0, -0.0, 88.0, -88.0]
    k = hexmlir.compile(_SILU, Options(target="host"))
    got = np.asarray(k(x))
    ref = torch.nn.functional.silu(torch.from_numpy(x.astype(np.float64))).numpy()
    np.testing.assert_allclose(got, ref, rtol=4e-7, atol=1e-30, err_msg=f"seed={seed}")


# ----------------------------------------------------------------------------------------------------------------
# The tanh-GELU idiom 1 + tanh(u) -> 2 / (1 + exp(-2u))
# ----------------------------------------------------------------------------------------------------------------

def test_one_plus_tanh_is_one_exp_and_one_divf():
    ops = rewritten("tanh1p", True)
    assert ops.get("arith.divf") == 1, ops
    assert ops.get("arith.shli") == 1, ops              # one exp (its 2^k scaling), the tanh's two branches gone
    assert sum(ops.values()) <= 33, ops                 # exp (29) + 4; tanh alone was 69 (docs/fast_math.md)
    assert sum(rewritten("tanh1p", False).values()) > 50     # without native division: the plain tanh + 1


def test_one_plus_tanh_needs_single_use_and_a_one():
    src = acc.kernel_source("tanh1p", "f32", 32)
    for variant in (src.replace("arith.addf %t, %one", "arith.addf %one, %t"),):     # either order matches
        with ir.Context(), ir.Location.unknown():
            m = ir.Module.parse(variant)
            assert fm.run(m, native_div=True) == 1 and "arith.shli" in str(m) and str(m).count("arith.divf") == 1
    for variant in (src.replace("arith.addf %t, %one", "arith.addf %t, %x"),          # not 1 + tanh
                    src.replace("%r = arith.addf %t, %one : vector<32xf32>",          # tanh used twice
                                "%s = arith.addf %t, %one : vector<32xf32>\n%r = arith.mulf %s, %t : vector<32xf32>")):
        with ir.Context(), ir.Location.unknown():
            m = ir.Module.parse(variant)
            fm.run(m, native_div=True)
            assert "arith.divf" in str(m) and str(m).count("arith.shli") == 1      # the plain tanh


def test_one_plus_tanh_accuracy_and_limits():
    seed = current_seed()
    rng = np.random.default_rng(seed)
    x = np.concatenate([np.linspace(-43.6, 12, 1 << 15), rng.uniform(-43.6, 12, 1 << 15),
                        rng.choice([-1.0, 1.0], 1 << 12) * np.geomspace(1e-30, 1, 1 << 12)]).astype(np.float32)
    got = call("tanh1p", x)
    m = acc.errors("tanh1p", "f32", x, None, got)
    assert m["rel"] <= 1.6e-7 and m["ulp"] <= 2.5, f"seed={seed} {m}"     # docs/fast_math.md
    # IEEE-ish limits: 2 for large u, +0 far below, NaN propagates; never above 2 or below 0
    s = call("tanh1p", np.array([9.1, 100.0, np.inf, -44.4, -1e30, -np.inf, np.nan, 0.0, -0.0], np.float32))
    assert list(s[:6]) == [2.0, 2.0, 2.0, 0.0, 0.0, 0.0] and np.isnan(s[6]) and s[7] == 1 and s[8] == 1, s
    assert np.all((got >= 0) & (got <= 2)), f"seed={seed}"
    # the same value as torch's tanh-GELU (float64) through the whole expression
    import torch
    xt = rng.uniform(-20, 20, 4096).astype(np.float32)
    u = np.float32(0.7978845608028654) * (xt + np.float32(0.044715) * xt * xt * xt)
    g = np.float32(0.5) * xt * call("tanh1p", u)
    ref = torch.nn.functional.gelu(torch.from_numpy(xt.astype(np.float64)), approximate="tanh").numpy()
    np.testing.assert_allclose(g, ref, rtol=2e-6, atol=1e-6, err_msg=f"seed={seed}")   # torch: 1+tanh cancels


def test_one_plus_tanh_folds_the_constant_scale_exactly():
    """u = v * C: -2u is emitted as v * (-2C), one multiply less and the same bits (scaling by 2 is exact)."""
    seed = current_seed()
    rng = np.random.default_rng(seed)
    c = np.float32(0.7978845608028654)
    src = acc.kernel_source("tanh1p", "f32", 32).replace(
        "%t = math.tanh %x", f"%cc = arith.constant dense<{float(c)!r}> : vector<32xf32>\n"
        "%u = arith.mulf %x, %cc : vector<32xf32>\n%t = math.tanh %u")
    with ir.Context(), ir.Location.unknown():
        m = ir.Module.parse(src)
        fm.run(m, native_div=True)
        from torch_mlir import passmanager
        passmanager.PassManager.parse("builtin.module(canonicalize, cse)").run(m.operation)
        text = str(m)
    assert text.count("arith.mulf %arg") + text.count("arith.mulf %") >= 1 and "-1.59576" in text, text
    folded = acc.Jit(src, native_div=True)
    plain = acc.Jit(acc.kernel_source("tanh1p", "f32", 32), native_div=True)
    x = np.concatenate([rng.uniform(-60, 60, 1 << 14), [0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e30]]
                       ).astype(np.float32)
    x = np.concatenate([x, np.ones((-len(x)) % 32, np.float32)])
    assert same_bits(folded(x), plain((x * c).astype(np.float32))), f"seed={seed}"


def _divf_numerators(m) -> list:
    """What each arith.divf divides: "load of arg N" where the numerator is a vector.load of argument N."""
    found = []

    def visit(op):
        if op.name == "arith.divf":
            src = op.operands[0].owner
            src = src.operation if hasattr(src, "operation") else src
            if src.name == "vector.load" and isinstance(src.operands[0], ir.BlockArgument):
                found.append(f"load of arg {ir.BlockArgument(src.operands[0]).arg_number}")
            else:
                found.append(src.name)
        return ir.WalkResult.ADVANCE

    m.operation.walk(visit)
    return found


def _gelu_tail_source(form: str) -> str:
    """0.5 b (1 + tanh(a)) per lane, the tail of the tanh-GELU as torch writes it ("mul_half": (s b) 0.5) or
    with the half taken first ("half_first": (0.5 b) s)."""
    tail = {"mul_half": "%m = arith.mulf %s, %y : vector<32xf32>\n%r = arith.mulf %m, %half : vector<32xf32>",
            "half_first": "%h = arith.mulf %half, %y : vector<32xf32>\n%r = arith.mulf %h, %s : vector<32xf32>",
            "twice": "%m = arith.mulf %s, %y : vector<32xf32>\n%m2 = arith.mulf %m, %half : vector<32xf32>\n"
                     "%r = arith.addf %m2, %m : vector<32xf32>"}[form]
    return acc.kernel_source("tanh1p", "f32", 32).replace(
        "%one = arith.constant", "%half = arith.constant dense<0.5> : vector<32xf32>\n  %one = arith.constant").replace(
        "%r = arith.addf %t, %one : vector<32xf32>", "%s = arith.addf %t, %one : vector<32xf32>\n" + tail)


@pytest.mark.parametrize("form", ["mul_half", "half_first"])
def test_gelu_tail_is_one_division_of_x(form):
    """0.5 x (1 + tanh(u)) -> x / (1 + exp(-2u)): one exp, one divf whose numerator is x, and no multiply
    left after it; numerically the tail in float64 on fresh inputs, and its limits."""
    seed = current_seed()
    rng = np.random.default_rng(seed)
    src = _gelu_tail_source(form)
    with ir.Context(), ir.Location.unknown():
        m = ir.Module.parse(src)
        assert fm.run(m, native_div=True) == 1
        text = str(m)
        assert _divf_numerators(m) == ["load of arg 1"], text
    assert text.count("arith.divf") == 1 and text.count("arith.shli") == 1, text
    assert "hexmlir.final_divf" not in text
    jit = acc.Jit(src, native_div=True)
    n = 1 << 15
    u = np.concatenate([rng.uniform(-50, 12, n - 64), [0.0, -0.0, np.inf, -np.inf, np.nan, 9.5, -45.0, -100.0],
                        rng.uniform(-1e-3, 1e-3, 56)]).astype(np.float32)
    x = rng.uniform(-100, 100, n).astype(np.float32)
    x[n - 64 + 4] = 3.0
    got = jit(u, x)
    with np.errstate(all="ignore"):
        # 0.5 (1 + tanh(u)) = 1 / (1 + exp(-2u)) exactly; in float64 the right side does not cancel for u << 0
        ref_ratio = x.astype(np.float64) / (1.0 + np.exp(-2.0 * u.astype(np.float64)))
    fin = np.isfinite(u)
    # relative error where exp(-2u) is finite (u > -44.36) and the result is a normal float, absolute elsewhere
    rel = fin & (u > -43.6) & (np.abs(ref_ratio) >= np.finfo(np.float32).tiny)
    err = np.abs(got[rel] - ref_ratio[rel]) / np.abs(ref_ratio[rel])
    assert err.max() <= 4e-7, f"seed={seed} max rel err {err.max()}"
    assert np.abs(got[fin & ~rel] - ref_ratio[fin & ~rel]).max() <= 1e-35, f"seed={seed}"
    k = n - 64
    assert got[k + 2] == x[k + 2] and got[k + 5] == x[k + 5], f"seed={seed}"          # u >= 9.1: x
    assert got[k + 3] == 0 and got[k + 6] == 0 and got[k + 7] == 0, f"seed={seed}"      # exp(-2u) -> inf: x / inf
    assert np.isnan(got[k + 4]), f"seed={seed}"
    assert got[k] == x[k] * 0.5 and got[k + 1] == x[k + 1] * 0.5, f"seed={seed}"


def test_gelu_tail_needs_single_uses():
    """A product used twice keeps 1 + tanh(u) (emit_one_plus_tanh) and its multiplies."""
    with ir.Context(), ir.Location.unknown():
        m = ir.Module.parse(_gelu_tail_source("twice"))
        assert fm.run(m, native_div=True) == 1
        assert _divf_numerators(m) == ["arith.constant"], str(m)          # 1 / (0.5 e + 0.5)
