"""Bad input gives typed errors naming op and stage; the cache survives corruption; the CLI works."""
import json
import subprocess
import sys

import numpy as np
import pytest

import hexmlir
from hexmlir import CompileError, HexmlirError, Options, UnsupportedError
from hexmlir.kernels import linalg_suite as S

DYNAMIC = """
func.func @f(%a: tensor<?xf32>) -> tensor<?xf32> {
  %c0 = arith.constant 0 : index
  %d = tensor.dim %a, %c0 : tensor<?xf32>
  %e = tensor.empty(%d) : tensor<?xf32>
  %r = linalg.add ins(%a, %a : tensor<?xf32>, tensor<?xf32>) outs(%e : tensor<?xf32>) -> tensor<?xf32>
  return %r : tensor<?xf32>
}"""

UNKNOWN_OP = """
func.func @f(%a: tensor<8xf32>) -> tensor<8xf32> {
  %r = scf.execute_region -> tensor<8xf32> {
    scf.yield %a : tensor<8xf32>
  }
  return %r : tensor<8xf32>
}"""


def test_dynamic_shape_is_a_clear_error():
    with pytest.raises(UnsupportedError) as e:
        hexmlir.compile(DYNAMIC)
    assert e.value.stage == "check-input" and e.value.op == "func.func" and "dynamic shape" in str(e.value)


def test_unknown_op_is_named():
    with pytest.raises(UnsupportedError) as e:
        hexmlir.compile(UNKNOWN_OP)
    assert e.value.op == "scf.execute_region" and e.value.stage == "check-input"


def test_parse_error_is_typed():
    with pytest.raises(UnsupportedError) as e:
        hexmlir.compile("func.func @f( {")
    assert e.value.stage == "parse"


def test_translation_failure_does_not_crash():
    """Unconverted ops reaching translation give CompileError (the in-process translator would segfault)."""
    from hexmlir import ir as hir
    from hexmlir.pipeline import CompileContext
    from hexmlir.targets import host_target
    from hexmlir.transforms import lower
    with hir.context(), hir.ir.Location.unknown():
        m = hir.parse("func.func @f(%a: memref<4xf32>) { return }")
        with pytest.raises(CompileError) as e:
            lower.to_llvm_ir(m, CompileContext(Options(), host_target()))
    assert e.value.stage == "translate"


def test_wrong_inputs_are_rejected():
    k = hexmlir.compile(S.vector_add(8).mlir, Options.all_off())
    with pytest.raises(HexmlirError):
        k(np.zeros(8, np.float32))
    with pytest.raises(HexmlirError):
        k(np.zeros(9, np.float32), np.zeros(8, np.float32))


def test_unknown_option():
    with pytest.raises(HexmlirError):
        Options().replace(vectorise=True)


@pytest.mark.parametrize("kw, allowed", [
    (dict(num_threads=-1), "from 0 to 1024"), (dict(num_threads=2.5), "integer"),
    (dict(tcm_budget=1), "at least 4096"), (dict(tile_elems=7), "multiple of 32"),
    (dict(opt_level=7), "from 0 to 3"), (dict(vectorize="no"), "True or False"),
    (dict(mt_threshold=-5), "from 0"), (dict(target="gpu"), "host, npu-emu, hexagon"), (dict(isa="x86-64-v9"), "x86-64-v4"), (dict(arch="v1"), "v73"),
    (dict(fusion=1), "True or False")])
def test_every_option_is_validated_with_its_range(kw, allowed):
    name = next(iter(kw))
    with pytest.raises(HexmlirError, match=f"option {name}=.*invalid.*{allowed}"):
        Options(**kw)
    with pytest.raises(HexmlirError, match=f"option {name}="):
        Options().replace(**kw)
    with pytest.raises(HexmlirError, match=f"option {name}="):
        hexmlir.compile(S.vector_add(8).mlir, **kw)


def test_cache_recovers_from_corruption(tmp_path, monkeypatch, rng):
    monkeypatch.setenv("HEXMLIR_CACHE_DIR", str(tmp_path))
    src = S.vector_add(33).mlir
    k1 = hexmlir.compile(src, Options.all_off())
    entry = k1.path.parent
    (entry / "kernel.json").write_text("{ not json")
    k2 = hexmlir.compile(src, Options.all_off())
    a, b = rng.random(33, np.float32), rng.random(33, np.float32)
    np.testing.assert_array_equal(k2(a, b), a + b)
    (entry / "kernel.so").unlink()                    # missing file: rebuilt too
    k3 = hexmlir.compile(src, Options.all_off())
    np.testing.assert_array_equal(k3(a, b), a + b)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temp dirs left behind


def test_artifact_runs_without_mlir(tmp_path, rng):
    """The .so + .json load and run in a process that cannot import torch_mlir."""
    out = tmp_path / "k.so"
    hexmlir.compile(S.gelu_tanh((1001,)).mlir, Options(), emit="so", output=str(out))
    x = rng.uniform(-3, 3, 1001).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    code = f"""
import sys; sys.modules['torch_mlir'] = None; sys.modules['torch'] = None
import numpy as np, hexmlir
k = hexmlir.load({str(out)!r})
np.save({str(tmp_path / 'y.npy')!r}, k(np.load({str(tmp_path / 'x.npy')!r})))
"""
    subprocess.run([sys.executable, "-c", code], check=True)
    y = np.load(tmp_path / "y.npy")
    ref = S.gelu_tanh((1001,)).reference(x)[0]
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["options"]["vectorize"] and meta["target"] == "host"


def test_cli_compile_and_explain(tmp_path):
    src = tmp_path / "sm.mlir"
    src.write_text(S.softmax_rows(64, 100).mlir)
    for emit in ("llvm", "asm", "obj"):
        out = tmp_path / f"out.{emit}"
        r = subprocess.run([sys.executable, "-m", "hexmlir.cli", "compile", str(src), "--emit", emit, "-o", str(out),
                            "--no-multithread", "--no-fast-math", "--target", "hexagon", "--arch", "v69"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert out.stat().st_size > 0
    r = subprocess.run([sys.executable, "-m", "hexmlir.cli", "explain", str(src)], capture_output=True, text=True)
    assert "root" in r.stdout and "producer" in r.stdout
    r = subprocess.run([sys.executable, "-m", "hexmlir.cli", "compile", str(tmp_path / "nope.mlir"), "-o", "x"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "no such file" in r.stderr


def test_dump_dir_env(tmp_path, monkeypatch):
    monkeypatch.setenv("HEXMLIR_DUMP_DIR", str(tmp_path / "d"))
    hexmlir.compile(S.vector_add(64).mlir, Options.all_off())
    names = sorted(p.name for p in (tmp_path / "d").iterdir())
    assert names[0] == "00-input.mlir" and "90-llvm.ll" in names and "91-target.s" in names
    assert any(n.endswith("-lower-to-llvm.mlir") for n in names)


def test_output_written_over_a_loaded_artifact_keeps_both_working(tmp_path):
    """compile(..., output=P) onto a kernel.so (and runtime) this process has loaded: the new files replace
    the old ones by rename, so the loaded library's mapped pages stay intact (copying in place crashed the
    next call of the old kernel). In a child process: a crash must show as a failure, not kill the run."""
    import subprocess
    import sys
    code = f"""
import numpy as np, hexmlir
from hexmlir import Options
from hexmlir.kernels import linalg_suite as S
out = {str(tmp_path / "kernel.so")!r}
o = Options(target="host", num_threads=2)
rng = np.random.default_rng(0)
x = rng.standard_normal(100003).astype(np.float32)
hexmlir.compile(S.vector_add(100003).mlir, o, output=out)
a = hexmlir.load(out)
assert np.array_equal(np.asarray(a(x, x)), x + x)
hexmlir.compile(S.silu((100003,)).mlir, o, output=out)
b = hexmlir.load(out)
assert np.array_equal(np.asarray(a(x, x)), x + x)
np.testing.assert_allclose(np.asarray(b(x)), x / (1 + np.exp(-x.astype(np.float64))), rtol=2e-6, atol=1e-6)
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == "ok", (r.returncode, r.stderr[-2000:])
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
