"""The threading threshold (plan.choose_threads): libm calls weigh LIBM_WEIGHT ops (LLaMA's RoPE cos/sin
tables, 8,192 calls, were one serial tile) and, in a kernel with KERNEL_WARM_WORK of work in all, whose pool
workers spin between its parallel regions, the threshold drops to MT_THRESHOLD_WARM (GPT-2's per-head
copies of 65,536 elements ran serially in hxk_main at 16 threads). Small kernels stay serial; at one thread
nothing changes. Plans checked; results against PyTorch on odd sizes at 3 and 16 threads."""
import copy
import re

import numpy as np
import pytest

import hexmlir
from hexmlir import opt, plan
from conftest import current_seed

# a [b, h, s, d] -> [b, s, h, d] head copy, optionally after a matmul that makes the kernel large
COPY = """func.func @f({args}%x: tensor<2x{s}x4x{d}xf32>) -> ({rets}tensor<2x4x{s}x{d}xf32>) {{
  {mm}%e = tensor.empty() : tensor<2x4x{s}x{d}xf32>
  %c = linalg.generic {{indexing_maps = [affine_map<(b, h, s, d) -> (b, s, h, d)>,
                                         affine_map<(b, h, s, d) -> (b, h, s, d)>],
                       iterator_types = ["parallel", "parallel", "parallel", "parallel"]}}
      ins(%x : tensor<2x{s}x4x{d}xf32>) outs(%e : tensor<2x4x{s}x{d}xf32>) {{
  ^bb0(%i: f32, %o: f32):
    linalg.yield %i : f32
  }} -> tensor<2x4x{s}x{d}xf32>
  return {rvals}%c : {rets}tensor<2x4x{s}x{d}xf32>
}}"""

MM = """%z = arith.constant 0.0 : f32
  %me = tensor.empty() : tensor<256x256xf32>
  %mf = linalg.fill ins(%z : f32) outs(%me : tensor<256x256xf32>) -> tensor<256x256xf32>
  %m = linalg.matmul ins(%a, %b : tensor<256x256xf32>, tensor<256x256xf32>) outs(%mf : tensor<256x256xf32>) -> tensor<256x256xf32>
  """


def _copy_mlir(s, d, big):
    if not big:
        return COPY.format(s=s, d=d, args="", rets="", mm="", rvals="")
    return COPY.format(s=s, d=d, args="%a: tensor<256x256xf32>, %b: tensor<256x256xf32>, ",
                       rets="tensor<256x256xf32>, ", mm=MM, rvals="%m, ")


def _threads_of_copy(text):
    """threads of the pure copy's root (the generic whose body is a lone yield)."""
    cfgs = re.findall(r"hexmlir\.config = \{([^}]*)\}, hexmlir\.id = \d+[^\n]*\n\s*\^bb0\(%in: f32, %out: f32\):"
                      r"\s*linalg\.yield %in ", text)
    assert len(cfgs) == 1, text
    return int(re.search(r"threads = (\d+)", cfgs[0]).group(1))


def _plan(text, threads):
    return opt.run_stages(text, "check-input..plan", {"num_threads": threads, "isa": "x86-64-v4"})


def test_head_copy_threaded_in_a_large_kernel():
    """A 2x4x128x64 head copy (65,536 elements, below MT_THRESHOLD) next to a 256^3 matmul: threaded at 16
    threads (the pool is warm), one thread at 1 (failed before: threads = 1 at 16)."""
    text = _copy_mlir(128, 64, big=True)
    assert _threads_of_copy(_plan(text, 16)) > 1
    assert _threads_of_copy(_plan(text, 1)) == 1


def test_head_copy_alone_stays_serial():
    """The same copy as a kernel of its own: nothing keeps the pool awake, it stays on one thread."""
    assert _threads_of_copy(_plan(_copy_mlir(128, 64, big=False), 16)) == 1


TRIG = """func.func @f(%x: tensor<{r}x{c}xf32>) -> tensor<{r}x{c}xf32> {{
  %e = tensor.empty() : tensor<{r}x{c}xf32>
  %y = linalg.generic {{indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                       iterator_types = ["parallel", "parallel"]}}
      ins(%x : tensor<{r}x{c}xf32>) outs(%e : tensor<{r}x{c}xf32>) {{
  ^bb0(%i: f32, %o: f32):
    %v = math.{fn} %i : f32
    linalg.yield %v : f32
  }} -> tensor<{r}x{c}xf32>
  return %y : tensor<{r}x{c}xf32>
}}"""


def _trig_cfg(r, c, threads, fn="cos"):
    text = _plan(TRIG.format(r=r, c=c, fn=fn), threads)
    cfg = re.search(r"threads = (\d+) : i64, tile = array<i64: ([\d, ]+)>", text)
    assert cfg, text
    return int(cfg.group(1)), [int(t) for t in cfg.group(2).split(",")]


def test_rope_table_cos_split_over_threads():
    """LLaMA's RoPE table: 128x64 cos calls (one MIN_TILE_ELEMS tile before: threads = 1 at 16). Now tiles
    of MIN_TILE_ELEMS / 8 spread over 8 threads; at one thread one whole tile as before."""
    used, tile = _trig_cfg(128, 64, 16)
    assert used == 8 and tile == [16, 0], (used, tile)
    assert _trig_cfg(128, 64, 1) == (1, [0, 0])


def test_small_libm_kernel_and_fast_math_exp_stay_serial():
    """4,096 cos calls alone (below MT_THRESHOLD even weighted) and 8,192 exps (a polynomial under fast-math,
    not a libm call) stay on one thread."""
    assert _trig_cfg(64, 64, 16)[0] == 1
    assert _trig_cfg(128, 64, 16, fn="exp")[0] == 1


def test_body_cost_weights_libm_calls_only():
    from hexmlir import ir as hir
    text = TRIG.format(r=4, c=4, fn="sin").replace("linalg.yield %v", "%w = arith.mulf %v, %v : f32\n"
                                                   "    linalg.yield %w")
    with hir.context(), hir.ir.Location.unknown():
        m = hir.parse(text)
        g = []
        hir.walk(m.operation, lambda op: g.append(op) if op.name == "linalg.generic" else None)
        assert plan.body_cost(g[0], hexmlir.Options()) == plan.LIBM_WEIGHT + 1


@pytest.mark.parametrize("threads", [3, 16])
def test_trig_table_matches_numpy(rng, threads):
    """Threaded libm tiles with a partial last tile (129 x 65: not a multiple of the tile or the lanes)."""
    x = rng.uniform(-10, 10, (129, 65)).astype(np.float32)
    f = hexmlir.compile(TRIG.format(r=129, c=65, fn="sin"), hexmlir.Options(num_threads=threads))
    got = np.asarray(f(x))
    np.testing.assert_allclose(got, np.sin(x.astype(np.float64)), rtol=1e-5, atol=1e-5,
                               err_msg=f"seed {current_seed()} threads {threads}")


@pytest.mark.slow
@pytest.mark.parametrize("threads", [3, 16])
def test_block_head_copies_threaded_and_match_torch(tmp_path, threads):
    """The GPT-2 style block at odd sizes (head dim 50, sequence 100: head copies of 40,000 elements): no
    top-level serial loop left in hxk_main at 16 threads (the head copies were two), results against eager
    on fresh inputs."""
    torch = pytest.importorskip("torch")
    from hexmlir.kernels.torch_models import Block
    torch.manual_seed(current_seed())
    m = Block(d=200, heads=4, h=520).eval()
    x = torch.randn(2, 100, 200)
    d = tmp_path / "dump"
    c = hexmlir.compile_model(m, (x,), num_threads=threads, dump_dir=str(d))
    m64 = copy.deepcopy(m).double()
    for _ in range(2):
        xi = torch.randn(2, 100, 200)
        with torch.no_grad():
            ref = m64(xi.double())
            got = c(xi).detach().numpy()
        np.testing.assert_allclose(got, ref.numpy(), rtol=2e-4, atol=2e-4,
                                   err_msg=f"seed {current_seed()} threads {threads}")
    lines = next(d.glob("*-threads.mlir")).read_text().split("\n")
    i = next(k for k, ln in enumerate(lines) if ln.startswith("  func.func @hxk_main"))
    j = next(k for k in range(i + 1, len(lines)) if lines[k].startswith("  func.func") or lines[k] == "  }")
    serial = [ln for ln in lines[i + 1:j] if re.match(r"^    (%\S+ = )?scf\.for", ln)]
    if threads == 16:
        assert not serial, serial
