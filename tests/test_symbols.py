"""A kernel's name never clashes with libc, libm or the runtime: its symbol is `hxk_<name>`, only the
entry `_mlir_ciface_hxk_<name>` is exported, everything else is internal (transforms/symbols.py)."""
import subprocess

import numpy as np
import pytest

pytest.importorskip("torch_mlir")

import hexmlir  # noqa: E402
from hexmlir import Options  # noqa: E402
from hexmlir.targets.tools import tool  # noqa: E402

NAMES = ["dup", "free", "malloc", "exp", "memcpy"]


def _exported(so) -> set[str]:
    out = subprocess.run([tool("llvm-nm"), "-D", "--defined-only", "--format=just-symbols", str(so)],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def _linalg(name, n=1000):
    """exp(x) * 2 as two generics with an intermediate buffer (fusion off: malloc/free in the kernel)."""
    t = f"tensor<{n}xf32>"
    m = "affine_map<(d0) -> (d0)>"
    gen = """%{r} = linalg.generic {{indexing_maps = [{m}, {m}], iterator_types = ["parallel"]}}
      ins(%{a} : {t}) outs(%{e} : {t}) {{
  ^bb0(%v: f32, %o: f32):
    {body}
    linalg.yield %w : f32
  }} -> {t}"""
    return f"""
func.func @{name}(%x: {t}) -> {t} {{
  %e0 = tensor.empty() : {t}
  %e1 = tensor.empty() : {t}
  %c2 = arith.constant 2.0 : f32
  {gen.format(r="t0", a="x", e="e0", m=m, t=t, body="%w = math.exp %v : f32")}
  {gen.format(r="t1", a="t0", e="e1", m=m, t=t, body="%w = arith.mulf %v, %c2 : f32")}
  return %t1 : {t}
}}"""


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("opts", [dict(opt_level=0), dict(fusion=False, tcm_tiling=False, multithread=False)],
                         ids=["O0", "unfused-ddr"])
def test_linalg_kernel_named_like_libc(name, opts):
    seed = int(np.random.SeedSequence().entropy % 2**32)
    x = np.random.default_rng(seed).standard_normal(1000).astype(np.float32)
    k = hexmlir.compile(_linalg(name), Options(**opts))
    np.testing.assert_allclose(k(x), np.exp(x) * 2, rtol=2e-6, atol=1e-6, err_msg=f"@{name}, seed {seed}")
    assert k.name == name
    assert _exported(k.path) == {f"_mlir_ciface_hxk_{name}"}


def test_hexagon_object_exports_only_the_entry(tmp_path):
    so = hexmlir.compile(_linalg("free"), Options(target="hexagon", multithread=True), emit="so",
                         output=str(tmp_path / "k.so"))
    assert _exported(so.path) == {"_mlir_ciface_hxk_free"}


@pytest.mark.parametrize("name", NAMES + ["hx_parallel_for"])
@pytest.mark.parametrize("opts", [dict(opt_level=0), dict(tcm_tiling=False, num_threads=3)], ids=["O0", "ddr-mt"])
def test_triton_kernel_named_like_libc(name, opts):
    torch = pytest.importorskip("torch")
    pytest.importorskip("triton")
    import triton_libc_name_kernels as K
    seed = int(np.random.SeedSequence().entropy % 2**32)
    x = torch.from_numpy(np.random.default_rng(seed).standard_normal(1000).astype(np.float32))
    y = torch.zeros(1000)
    getattr(K, name)[(8,)](x, y, 1000, BLOCK=128, **opts)
    np.testing.assert_allclose(y.numpy(), np.exp(x.numpy()) * 2, rtol=2e-6, atol=1e-6,
                               err_msg=f"kernel {name}, seed {seed}")
