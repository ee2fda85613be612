"""Assertions compiled as runtime checks (transforms/asserts.py, runtime hx_assert_fail/hx_assert_take):
a failing `cf.assert` raises KernelAssertionError naming the message and source location, the kernel never
reads out of bounds, and torch models with bounds checks (nn.Embedding, gather) compile whole."""
import threading
import warnings

import numpy as np
import pytest

import hexmlir
from hexmlir.errors import KernelAssertionError
from conftest import current_seed

ROWS, COLS, N = 50, 33, 1000

# A gather with torch-mlir's bounds checks, plus a check on a computed predicate (the gathered value's
# square stays below a bound the caller passes in a 0-d tensor).
GATHER = f"""
#map = affine_map<(d0, d1) -> (d0)>
#map1 = affine_map<(d0, d1) -> (d0, d1)>
#map2 = affine_map<(d0, d1) -> ()>
func.func @gather(%tab: tensor<{ROWS}x{COLS}xf32>, %ids: tensor<{N}xi64>, %lim: tensor<f32>) -> tensor<{N}x{COLS}xf32> {{
  %c{ROWS} = arith.constant {ROWS} : index
  %c0 = arith.constant 0 : i64
  %e = tensor.empty() : tensor<{N}x{COLS}xf32>
  %r = linalg.generic {{indexing_maps = [#map, #map2, #map1], iterator_types = ["parallel", "parallel"]}}
      ins(%ids, %lim : tensor<{N}xi64>, tensor<f32>) outs(%e : tensor<{N}x{COLS}xf32>) {{
  ^bb0(%in: i64, %l: f32, %out: f32):
    %i = arith.index_cast %in : i64 to index
    %j = linalg.index 1 : index
    %lt = arith.cmpi slt, %i, %c{ROWS} : index
    cf.assert %lt, "index must be smaller than dim size"
    %ge = arith.cmpi sge, %in, %c0 : i64
    cf.assert %ge, "index must be larger or equal to 0"
    %x = tensor.extract %tab[%i, %j] : tensor<{ROWS}x{COLS}xf32>
    %y = arith.mulf %x, %x : f32
    %ok = arith.cmpf olt, %y, %l : f32
    cf.assert %ok, "square exceeds the limit"
    linalg.yield %y : f32
  }} -> tensor<{N}x{COLS}xf32>
  return %r : tensor<{N}x{COLS}xf32>
}}
"""

def _line(message):
    """The input line of the cf.assert with that message (its location in the parsed text)."""
    return next(i for i, l in enumerate(GATHER.splitlines(), 1) if "cf.assert" in l and message in l)


OPTIONS = {
    "all-on": {},
    "no-vectorize": {"vectorize": False},
    "no-threads": {"multithread": False},
    "threads-no-tcm": {"tcm_tiling": False, "num_threads": 4, "mt_threshold": 1},
    "threads-forced": {"num_threads": 4, "mt_threshold": 1},
    "no-dma-db": {"dma": False, "double_buffer": False},
}


@pytest.fixture(scope="module", params=list(OPTIONS))
def gather_kernel(request):
    return hexmlir.compile(GATHER, hexmlir.Options(**OPTIONS[request.param])), request.param


def _inputs(seed):
    rng = np.random.default_rng(seed)
    tab = rng.standard_normal((ROWS, COLS)).astype(np.float32)
    return tab, rng.integers(0, ROWS, N), np.array(np.inf, dtype=np.float32)


def test_assert_passes_on_good_input(gather_kernel):
    k, opt = gather_kernel
    seed = current_seed()
    tab, ids, lim = _inputs(seed)
    np.testing.assert_array_equal(k(tab, ids, lim), tab[ids] ** 2, err_msg=f"seed={seed} options={opt}")
    assert [a["message"] for a in k.meta["asserts"]] == [
        "index must be smaller than dim size", "index must be larger or equal to 0", "square exceeds the limit"]


@pytest.mark.parametrize("bad,message", [
    (ROWS, "index must be smaller than dim size"),
    (-1, "index must be larger or equal to 0"),
    (10**12, "index must be smaller than dim size"),     # far out: a read there would fault
    (-10**12, "index must be larger or equal to 0"),
])
def test_assert_raises_on_bad_index(gather_kernel, bad, message):
    k, opt = gather_kernel
    seed = current_seed()
    tab, ids, lim = _inputs(seed)
    ids[np.random.default_rng(seed).integers(0, N)] = bad
    with pytest.raises(KernelAssertionError, match=message) as e:
        k(tab, ids, lim)
    assert e.value.loc == f"<input>:{_line(message)}" and e.value.kernel == "gather", (seed, opt, str(e.value))
    # the failure was taken: the next good call passes
    tab, ids, lim = _inputs(seed + 1)
    np.testing.assert_array_equal(k(tab, ids, lim), tab[ids] ** 2, err_msg=f"seed={seed} options={opt}")


def test_assert_on_computed_value(gather_kernel):
    k, opt = gather_kernel
    seed = current_seed()
    tab, ids, _ = _inputs(seed)
    sq = tab[ids] ** 2
    lim = np.array(np.float32(sq.max()), dtype=np.float32)        # the largest square fails (not <)
    with pytest.raises(KernelAssertionError, match="square exceeds the limit"):
        k(tab, ids, lim)
    np.testing.assert_array_equal(k(tab, ids, np.array(sq.max() * 2, dtype=np.float32)), sq,
                                  err_msg=f"seed={seed} options={opt}")


def test_runtime_first_failure_wins():
    from hexmlir import runtime
    lib = runtime.load_host()
    assert lib.hx_assert_take() == -1
    lib.hx_assert_fail(3)
    lib.hx_assert_fail(5)
    assert lib.hx_assert_take() == 3 and lib.hx_assert_take() == -1


TSAN_MAIN = r"""
#include "hexmlir_rt.h"
#include <pthread.h>
#include <stdio.h>
static void body(void *ctx, intptr_t i) { if (i % 7 == (intptr_t)ctx) hx_assert_fail((int32_t)(i % 5)); }
static void *caller(void *arg) {
  intptr_t which = (intptr_t)arg, bad = 0;
  for (int r = 0; r < 200; r++) {
    hx_parallel_for(1000, body, which ? (void *)3 : (void *)-1);   /* caller 0 never fails */
    int32_t id = hx_assert_take();
    if ((which && id < 0) || (!which && id >= 0)) bad++;
  }
  return (void *)bad;
}
int main(void) {
  hx_set_num_threads(4);
  pthread_t t[2];
  void *r[2];
  for (intptr_t k = 0; k < 2; k++) pthread_create(&t[k], 0, caller, (void *)k);
  for (int k = 0; k < 2; k++) pthread_join(t[k], &r[k]);
  printf("mismatches %ld %ld\n", (long)(intptr_t)r[0], (long)(intptr_t)r[1]);
  return r[0] || r[1];
}
"""


@pytest.mark.sanitizers
def test_assert_flag_under_tsan(tmp_path):
    """Failures from pool workers land with the loop's caller, two callers at once, ThreadSanitizer clean."""
    import subprocess

    from hexmlir import runtime
    cc = ["clang-22", "-fsanitize=thread", "-g", "-O1", "-pthread"]
    (tmp_path / "probe.c").write_text("int main(void) { return 0; }\n")
    r = subprocess.run([*cc, str(tmp_path / "probe.c"), "-o", str(tmp_path / "probe")], capture_output=True, text=True)
    if r.returncode != 0 or subprocess.run([str(tmp_path / "probe")]).returncode != 0:
        pytest.skip(f"no ThreadSanitizer build here: {r.stderr[-300:]}")
    (tmp_path / "m.c").write_text(TSAN_MAIN)
    exe = tmp_path / "m"
    r = subprocess.run([*cc, f"-I{runtime.source_dir()}", str(tmp_path / "m.c"),
                        str(runtime.source_dir() / "hexmlir_rt.c"), "-o", str(exe)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300,
                       env={"TSAN_OPTIONS": "halt_on_error=1", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0 and "WARNING" not in r.stderr, r.stdout + r.stderr[-3000:]


def test_assert_flag_is_per_calling_thread():
    """A failure in one Python thread's call is raised there and never in a concurrent good call."""
    k = hexmlir.compile(GATHER, hexmlir.Options(num_threads=4, mt_threshold=1))
    seed = current_seed()
    tab, ids, lim = _inputs(seed)
    bad = ids.copy()
    bad[3] = ROWS
    errors = {"good": 0, "bad": 0}

    def run(which, arr):
        for _ in range(30):
            try:
                k(tab, arr, lim)
            except KernelAssertionError:
                errors[which] += 1
    ts = [threading.Thread(target=run, args=("good", ids)), threading.Thread(target=run, args=("bad", bad))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == {"good": 0, "bad": 30}, (seed, errors)


@pytest.mark.parametrize("target", ["hexagon", pytest.param("hexagon-sim", marks=pytest.mark.slow)])
def test_assert_kernels_compile_for_hexagon(target, tmp_path):
    """One C runtime for both targets: the check is a call of hx_assert_fail in the Hexagon code too; under
    qemu-hexagon the harness reports the simulated process's failure."""
    ll = hexmlir.compile(GATHER, hexmlir.Options(target=target), emit="llvm", output=str(tmp_path / "k.ll"))
    assert "call void @hx_assert_fail(i32" in ll.read_text()
    k = hexmlir.compile(GATHER, hexmlir.Options(target=target))
    if target != "hexagon-sim":
        return
    seed = current_seed()
    tab, ids, lim = _inputs(seed)
    np.testing.assert_array_equal(k(tab, ids, lim), tab[ids] ** 2, err_msg=f"seed={seed}")
    ids[7] = -5
    with pytest.raises(KernelAssertionError, match="larger or equal to 0"):
        k(tab, ids, lim)


# ---------------------------------------------------------------- torch

torch = pytest.importorskip("torch")
pytest.importorskip("torch_mlir")
from hexmlir.frontends.torch import FallbackWarning  # noqa: E402


class EmbedMLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(ROWS, COLS)
        self.lin = torch.nn.Linear(COLS, 17)

    def forward(self, ids):
        return torch.relu(self.lin(self.emb(ids)))


def _seeded_model(seed):
    torch.manual_seed(seed)
    return EmbedMLP().eval()


def test_embedding_compile_model_whole_and_checked():
    seed = current_seed() % 2**31
    m = _seeded_model(seed)
    ids = torch.randint(0, ROWS, (3, 37))
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        c = hexmlir.compile_model(m, ids)
    assert c.compiled and not c.partitions, (seed, c.eager_reason)
    for _ in range(2):
        x = torch.randint(0, ROWS, (3, 37))
        np.testing.assert_allclose(c(x).detach().numpy(), m(x).detach().numpy(), rtol=1e-5, atol=1e-5,
                                   err_msg=f"seed={seed}")
    bad = ids.clone()
    bad[2, 36] = ROWS + 7
    with pytest.raises(KernelAssertionError, match="index must be smaller than dim size") as e:
        c(bad)
    assert e.value.loc and "test_asserts.py" in e.value.loc, e.value.loc     # the model's source line
    bad[2, 36] = -3
    with pytest.raises(KernelAssertionError, match="larger or equal to 0"):
        c(bad)


class Gathers(torch.nn.Module):
    """index_select and x[idx] (negative indices wrap) import without bounds checks of their own."""

    def forward(self, x, i, j):
        return torch.index_select(x, 0, i) * 2.0 + x[j]


def test_unchecked_gathers_get_bounds_checks():
    seed = current_seed() % 2**31
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(ROWS, COLS, generator=g)
    i = torch.randint(0, ROWS, (9,), generator=g)
    j = torch.randint(-ROWS, ROWS, (9,), generator=g)
    m = Gathers()
    c = hexmlir.compile_model(m, (x, i, j))
    assert c.compiled, (seed, c.eager_reason)
    np.testing.assert_allclose(c(x, i, j).numpy(), m(x, i, j).numpy(), rtol=1e-6, err_msg=f"seed={seed}")
    for bad_i, bad_j in ((ROWS, 0), (-1, 0), (0, ROWS), (0, -ROWS - 1), (10**12, 0)):
        i2, j2 = i.clone(), j.clone()
        i2[3], j2[5] = bad_i, bad_j
        with pytest.raises(KernelAssertionError, match="index out of range") as e:
            c(x, i2, j2)
        assert e.value.loc and "test_asserts.py" in e.value.loc, (seed, e.value.loc)


def test_embedding_torch_compile_whole_and_checked():
    seed = current_seed() % 2**31
    m = _seeded_model(seed)
    torch._dynamo.reset()
    f = torch.compile(m, backend="hexmlir", dynamic=False)
    ids = torch.randint(0, ROWS, (4, 9))
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        got = f(ids)
    np.testing.assert_allclose(got.detach().numpy(), m(ids).detach().numpy(), rtol=1e-5, atol=1e-5,
                               err_msg=f"seed={seed}")
    bad = ids.clone()
    bad[0, 0] = 10**9
    with pytest.raises(KernelAssertionError, match="index must be smaller than dim size") as e:
        f(bad)
    assert e.value.loc and "test_asserts.py" in e.value.loc, e.value.loc


# ---------------------------------------------------------------- Triton (tl.device_assert -> tt.assert)

TRITON_OPTIONS = {"all-on": {}, "no-vectorize": {"vectorize": False},
                  "threads-no-tcm": {"tcm_tiling": False, "num_threads": 4, "mt_threshold": 1}}


@pytest.fixture(scope="module")
def triton_case():
    """Kernels, inputs and the interpreter's answer, made once (one interpreter subprocess) for every option set."""
    pytest.importorskip("triton")
    from pathlib import Path

    import triton_assert_kernels as K
    from triton_oracle import run_interpreted
    seed = current_seed()
    rng = np.random.default_rng(seed)
    n, rows, block = 1000, 37, 128
    ids = torch.from_numpy(rng.integers(0, rows, n))
    tab = torch.from_numpy(rng.standard_normal(rows).astype(np.float32))
    grid = ((n + block - 1) // block,)
    ref = run_interpreted(str(Path(K.__file__)), "gather_assert_kernel", [ids, tab, torch.zeros(n), n, rows],
                          grid, BLOCK=block)[2]
    line = next(i for i, ln in enumerate(Path(K.__file__).read_text().splitlines(), 1) if "gather index" in ln)
    return dict(K=K, seed=seed, n=n, rows=rows, block=block, ids=ids, tab=tab, grid=grid, ref=ref,
                loc=f"{K.__file__}:{line}")


@pytest.mark.parametrize("opt", list(TRITON_OPTIONS))
def test_triton_device_assert(triton_case, opt):
    """Valid input: the interpreter's answer (it does not evaluate device_assert); an out-of-range index:
    KernelAssertionError naming the message and the kernel's source line, no out-of-bounds read."""
    c = triton_case
    K, n, rows, block, grid, seed = c["K"], c["n"], c["rows"], c["block"], c["grid"], c["seed"]
    kw = dict(BLOCK=block, **TRITON_OPTIONS[opt])
    out = torch.zeros(n)
    K.gather_assert_kernel[grid](c["ids"], c["tab"], out, n, rows, **kw)
    np.testing.assert_array_equal(out.numpy(), c["ref"], err_msg=f"seed={seed} options={opt}")
    rng = np.random.default_rng(seed)
    for bad in (rows, -1, 1 << 40):
        ids2 = c["ids"].clone()
        ids2[int(rng.integers(0, n))] = bad
        with pytest.raises(KernelAssertionError, match="gather index out of range") as e:
            K.gather_assert_kernel[grid](ids2, c["tab"], out, n, rows, **kw)
        assert e.value.loc == c["loc"], (seed, e.value.loc)
    # scalar condition (one check per program)
    x = torch.from_numpy(rng.standard_normal(n).astype(np.float32))
    K.scale_assert_kernel[grid](x, out, n, 1.5, **kw)
    np.testing.assert_allclose(out.numpy(), x.numpy() * np.float32(1.5), rtol=1e-6, err_msg=f"seed={seed}")
    with pytest.raises(KernelAssertionError, match="scale must be positive"):
        K.scale_assert_kernel[grid](x, out, n, -1.0, **kw)


@pytest.mark.parametrize("opts", [{}, {"fusion": False}, {"vectorize": False, "num_threads": 4, "mt_threshold": 1}])
def test_batchnorm_checks_compile_whole(opts):
    """Eval-mode BatchNorm imports with a cf.assert on sqrt(var + eps) != 0. Fusion copies the check into
    every consumer and leaves the producer as a result-less generic (upstream tiling crashed on it)."""
    seed = current_seed() % 2**31
    torch.manual_seed(seed)
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.ReLU()).eval()
    with torch.no_grad():
        m[1].running_mean.uniform_(-1, 1)
        m[1].running_var.uniform_(0.5, 2)
    x = torch.randn(2, 3, 11, 13)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        c = hexmlir.compile_model(m, x, **opts)
    assert c.compiled, (seed, c.eager_reason)
    x = torch.randn(2, 3, 11, 13)
    np.testing.assert_allclose(c(x).detach().numpy(), m(x).detach().numpy(), rtol=1e-5, atol=1e-5,
                               err_msg=f"seed={seed} opts={opts}")


@pytest.mark.slow
def test_embedding_inductor_route_bounds_check():
    """Route A: Inductor writes its indirect-indexing bounds check as tl.device_assert (tt.assert)."""
    seed = current_seed() % 2**31
    torch.manual_seed(seed)
    m = torch.nn.Embedding(ROWS, COLS).eval()
    ids = torch.randint(0, ROWS, (3, 37))
    c = hexmlir.compile_model(m, ids, route="inductor")
    with torch.no_grad():
        np.testing.assert_array_equal(c(ids).numpy(), m(ids).numpy(), err_msg=f"seed={seed}")
        bad = ids.clone()
        bad[1, 1] = ROWS + 27
        with pytest.raises(KernelAssertionError, match="index out of bounds"):
            c(bad)


def test_prune_drops_unread_checked_generics(seed):
    """A generic with asserts whose result nobody reads (fusion copied its body into its consumer: LLaMA's
    boolean causal mask) is erased by asserts-prune, with the ops that only fed it; the returned gather keeps
    its checks, matches NumPy and still raises on a bad index."""
    from hexmlir import opt
    dead = f"""
  %e2 = tensor.empty() : tensor<{N}x{COLS}xf32>
  %n = linalg.generic {{indexing_maps = [#map, #map1], iterator_types = ["parallel", "parallel"]}}
      ins(%ids : tensor<{N}xi64>) outs(%e2 : tensor<{N}x{COLS}xf32>) {{
  ^bb0(%in: i64, %out: f32):
    %i = arith.index_cast %in : i64 to index
    %lt = arith.cmpi slt, %i, %c{ROWS} : index
    cf.assert %lt, "an unread check"
    %x = tensor.extract %tab[%i, %c0i] : tensor<{ROWS}x{COLS}xf32>
    linalg.yield %x : f32
  }} -> tensor<{N}x{COLS}xf32>
  %m = linalg.generic {{indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel"]}}
      ins(%n : tensor<{N}x{COLS}xf32>) outs(%e2 : tensor<{N}x{COLS}xf32>) {{
  ^bb0(%in: f32, %out: f32):
    %i = arith.fptosi %in : f32 to i64
    %ok = arith.cmpi sge, %i, %c0 : i64
    cf.assert %ok, "a check on the unread value"
    linalg.yield %in : f32
  }} -> tensor<{N}x{COLS}xf32>
  return %r"""
    text = GATHER.replace("  return %r", dead, 1).replace(
        "  %c0 = arith.constant 0 : i64", "  %c0 = arith.constant 0 : i64\n  %c0i = arith.constant 0 : index", 1)
    out = opt.run_stages(text, "check-input..asserts-prune")
    assert "an unread check" not in out and "a check on the unread value" not in out
    assert "square exceeds the limit" in out and "index must be smaller than dim size" in out
    k = hexmlir.compile(text)
    tab, ids, lim = _inputs(seed)
    np.testing.assert_allclose(k(tab, ids, lim), tab[ids] ** 2, rtol=1e-6)
    bad = ids.copy()
    bad[N // 3] = ROWS
    with pytest.raises(KernelAssertionError, match="index must be smaller than dim size"):
        k(tab, bad, lim)
