"""Triton constructs real kernels use (issue 13), each through hexmlir's `cpu` backend against Triton's
interpreter on odd sizes, with the mechanisms on and off."""
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
triton = pytest.importorskip("triton")

import triton_construct_kernels as K          # noqa: E402
from triton_oracle import run_interpreted_many  # noqa: E402
from conftest import current_seed  # noqa: E402

KERNELS = str(Path(__file__).with_name("triton_construct_kernels.py"))
OPTS = [dict(), dict(vectorize=False, multithread=False), dict(num_threads=3, tcm_tiling=False)]


def _ids(o):
    return ",".join(f"{k}={v}" for k, v in o.items()) or "default"


@pytest.fixture(scope="module")
def oracle():
    """Interpreter runs for this module, one subprocess: {name: outputs}."""
    n = 1000
    seed = current_seed() % (2**31 - 1)
    x = np.random.default_rng(seed).standard_normal(n).astype(np.float32)
    runs = {
        "rand": ("rand_kernel", [np.zeros(n, np.float32), np.zeros(n, np.float32), np.zeros(n, np.int32),
                                 np.zeros(n, np.int32), n, seed], (8,), {"BLOCK": 128}),
        "dropout": ("dropout_kernel", [x, np.zeros(n, np.float32), n, 0.3, seed], (8,), {"BLOCK": 128}),
    }
    M, N = 7, 45
    xm = np.random.default_rng(seed + 1).uniform(0.5, 1.5, (M, N)).astype(np.float32)
    z = np.zeros((M, N), np.float32)
    runs["scan"] = ("scan_kernel", [xm, z, z, z, M, N], (1,), {"BM": 8, "BN": 64})
    runs["argmax"] = ("running_argmax_kernel", [x[:300], np.zeros(300, np.float32), np.zeros(300, np.int32),
                                                np.zeros(300, np.float32), np.zeros(300, np.int32), 300],
                      (1,), {"BLOCK": 512})
    for w in (True, False):
        runs[f"optional_{w}"] = ("optional_ptr_kernel", [x, x[::-1].copy() if w else None,
                                                         np.zeros(n, np.float32), n], (8,), {"BLOCK": 128})
    runs["early"] = ("early_return_kernel", [x, np.zeros(n, np.float32), n, 850], (8,), {"BLOCK": 128})
    r = np.random.default_rng(seed + 2)
    idx = r.permutation(n).astype(np.int32)
    idx[r.random(n) < 0.3] = -1
    y = r.standard_normal(n).astype(np.float32)
    runs["addr_table"] = ("addr_table_kernel", [x, y, idx, np.zeros(n, np.int64), np.zeros(n, np.float32),
                                                np.zeros(n, np.float32), n], (8,), {"BLOCK": 128})
    for flag in (0, 1):
        runs[f"select_{flag}"] = ("select_ptr_kernel", [x, y, np.zeros(n, np.float32), np.zeros(n, np.float32),
                                                        np.zeros(n, np.float32), n, flag], (8,), {"BLOCK": 128})
    runs["ping_pong"] = ("ping_pong_kernel", [x, np.zeros(n, np.float32), n, 5], (8,), {"BLOCK": 128})
    M, N, S = 33, 17, 20
    rows = r.permutation(M).astype(np.int32)
    rows[r.random(M) < 0.3] = -1
    runs["addr_rows"] = ("addr_rows_kernel", [r.standard_normal((M, S)).astype(np.float32), rows,
                                              np.zeros((M, N), np.float32), np.zeros((M, N), np.float32),
                                              np.zeros(5, np.float32), M, N, S], (5,), {"BM": 8, "BN": 32})
    outs = run_interpreted_many(KERNELS, list(runs.values()))
    return seed, {k: (r[1], o) for (k, r), o in zip(runs.items(), outs)}


def _run(kernel, args, grid, **kw):
    t = [torch.from_numpy(a.copy()) if isinstance(a, np.ndarray) else a for a in args]
    kernel[grid](*t, **kw)
    return [a.numpy() if isinstance(a, torch.Tensor) else a for a in t]


@pytest.mark.parametrize("opts", OPTS, ids=_ids)
def test_philox_random_numbers_match_triton_bit_for_bit(oracle, opts):
    seed, ref = oracle
    args, want = ref["rand"]
    got = _run(K.rand_kernel, args, (8,), BLOCK=128, **opts)
    np.testing.assert_array_equal(got[2], want[2], err_msg=f"randint, seed {seed}")
    np.testing.assert_array_equal(got[3], want[3], err_msg=f"randint4x, seed {seed}")
    np.testing.assert_array_equal(got[0], want[0], err_msg=f"rand, seed {seed}")
    # randn goes through log/cos (fast-math polynomials when on): close, not bitwise
    np.testing.assert_allclose(got[1], want[1], rtol=2e-4, atol=2e-4, err_msg=f"randn, seed {seed}")


@pytest.mark.parametrize("opts", OPTS[:2], ids=_ids)
def test_low_memory_dropout_matches_the_interpreter(oracle, opts):
    seed, ref = oracle
    args, want = ref["dropout"]
    got = _run(K.dropout_kernel, args, (8,), BLOCK=128, **opts)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6, atol=0, err_msg=f"seed {seed}")


@pytest.mark.parametrize("opts", OPTS, ids=_ids)
def test_scans_match_the_interpreter(oracle, opts):
    seed, ref = oracle
    args, want = ref["scan"]
    got = _run(K.scan_kernel, args, (1,), BM=8, BN=64, **opts)
    for i, what in ((1, "cumsum"), (2, "cumprod axis 0"), (3, "reversed cumsum")):
        np.testing.assert_allclose(got[i], want[i], rtol=1e-5, atol=1e-5, err_msg=f"{what}, seed {seed}")
    args, want = ref["argmax"]
    got = _run(K.running_argmax_kernel, args, (1,), BLOCK=512, **opts)
    np.testing.assert_array_equal(got[1], want[1], err_msg=f"running max, seed {seed}")
    np.testing.assert_array_equal(got[2], want[2], err_msg=f"running argmax, seed {seed}")
    np.testing.assert_array_equal(got[3], want[3], err_msg=f"reversed running max, seed {seed}")
    np.testing.assert_array_equal(got[4], want[4], err_msg=f"reversed running argmax, seed {seed}")


@pytest.mark.parametrize("opts", OPTS, ids=_ids)
def test_optional_pointer_and_early_returns(oracle, opts):
    seed, ref = oracle
    for w in (True, False):
        args, want = ref[f"optional_{w}"]
        got = _run(K.optional_ptr_kernel, args, (8,), BLOCK=128, **opts)
        np.testing.assert_array_equal(got[2], want[2], err_msg=f"weight given: {w}, seed {seed}")
    args, want = ref["early"]
    got = _run(K.early_return_kernel, args, (8,), BLOCK=128, **opts)
    np.testing.assert_array_equal(got[1], want[1], err_msg=f"seed {seed}")


@pytest.mark.parametrize("opts", OPTS, ids=_ids)
def test_tensor_of_addresses_matches_the_interpreter(oracle, opts):
    """tt.int_to_ptr of a tensor (and tt.ptr_to_int of one): per-element addresses into two buffers, written
    to a table and read back, dereferenced with a mask that leaves out addresses before the buffer; one
    address splatted over a block."""
    seed, ref = oracle
    args, want = ref["addr_table"]
    got = _run(K.addr_table_kernel, args, (8,), BLOCK=128, **opts)
    np.testing.assert_array_equal(got[4], want[4], err_msg=f"gather through addresses, seed {seed}")
    np.testing.assert_array_equal(got[5], want[5], err_msg=f"splatted address, seed {seed}")


@pytest.mark.parametrize("opts", OPTS + [dict(target="npu-emu")], ids=_ids)
def test_row_addresses_gather_scatter_atomics_match_the_interpreter(oracle, opts):
    """A [BM] tensor of row addresses broadcast against columns (33x17 of a 33x20 buffer, rows permuted, 30%
    masked off): masked 2-D gather, scatter, and atomic adds with many elements per address."""
    seed, ref = oracle
    args, want = ref["addr_rows"]
    got = _run(K.addr_rows_kernel, args, (5,), BM=8, BN=32, **opts)
    np.testing.assert_array_equal(got[2], want[2], err_msg=f"gather, seed {seed}")
    np.testing.assert_array_equal(got[3], want[3], err_msg=f"scatter, seed {seed}")
    np.testing.assert_allclose(got[4], want[4], rtol=1e-5, atol=1e-5, err_msg=f"atomic adds, seed {seed}")


@pytest.mark.parametrize("opts", OPTS[:2], ids=_ids)
@pytest.mark.parametrize("flag", [0, 1])
def test_pointer_select_matches_the_interpreter(oracle, opts, flag):
    """tl.where between pointers: offsets selected within one argument, addresses (raw pointers) between
    two; loads and a store through them (it used to fail inside the conversion: no element expression).
    Pointers into different arguments out of an `if` (they used to keep the first branch's argument with
    the second's offsets: a silent wrong answer when the flag took the else branch)."""
    seed, ref = oracle
    args, want = ref[f"select_{flag}"]
    got = _run(K.select_ptr_kernel, args, (8,), BLOCK=128, **opts)
    np.testing.assert_array_equal(got[2], want[2], err_msg=f"seed {seed}")
    np.testing.assert_array_equal(got[3], want[3], err_msg=f"seed {seed}")
    np.testing.assert_array_equal(got[4], want[4], err_msg=f"pointers out of an if, seed {seed}")


@pytest.mark.parametrize("opts", OPTS[:2], ids=_ids)
def test_loop_carried_pointers_that_swap_arguments(oracle, opts):
    """Ping-pong buffers: pointers carried by a loop swap arguments every iteration (5 steps); they travel
    as addresses (this was an UnsupportedError)."""
    seed, ref = oracle
    args, want = ref["ping_pong"]
    got = _run(K.ping_pong_kernel, args, (8,), BLOCK=128, **opts)
    np.testing.assert_array_equal(got[0], want[0], err_msg=f"seed {seed}")
    np.testing.assert_array_equal(got[1], want[1], err_msg=f"seed {seed}")


def test_host_pointer_table_of_unequal_buffers():
    """Grouped-GEMM style: a table of the data_ptr()s of G buffers of unequal lengths, loaded as an int64
    tensor, converted to pointers and read with a per-buffer length mask (no element past a buffer's end),
    also through pointers carried by a loop."""
    seed = current_seed()
    g = torch.Generator().manual_seed(seed)
    G, Kc = 5, 37
    bufs = [torch.randn(int(n), generator=g) for n in torch.randint(1, 50, (G,), generator=g)]
    tab = torch.tensor([b.data_ptr() for b in bufs])
    lens = torch.tensor([len(b) for b in bufs], dtype=torch.int32)
    out, sums = torch.zeros(G, Kc), torch.zeros(G)
    K.ptr_table_kernel[(1,)](tab, lens, out, sums, G, Kc, BG=8, BK=64)
    want = torch.full((G, Kc), -7.0)
    for i, b in enumerate(bufs):
        want[i, :min(len(b), Kc)] = b[:Kc]
    assert torch.equal(out, want), f"seed {seed}"
    want_sums = torch.stack([b[:Kc].double().sum() for b in bufs]).float()
    torch.testing.assert_close(sums, want_sums, rtol=1e-5, atol=1e-5, msg=lambda m: f"seed {seed}: {m}")


@pytest.mark.parametrize("opts", OPTS, ids=_ids)
def test_bool_pointers_in_and_out(opts):
    seed = current_seed() % (2**31 - 1)
    g = torch.Generator().manual_seed(seed)
    n = 1000
    x = torch.randn(n, generator=g)
    b = torch.rand(n, generator=g) > 0.5
    out, pos = torch.zeros(n), torch.zeros(n, dtype=torch.bool)
    K.bool_ptr_kernel[(8,)](b, x, out, pos, n, BLOCK=128, **opts)
    torch.testing.assert_close(out, torch.where(b, x, -x), rtol=0, atol=0, msg=f"seed {seed}")
    assert torch.equal(pos, x > 0), f"seed {seed}"
    assert pos.view(torch.uint8).max() <= 1, "a bool is stored as one byte, 0 or 1"


# Vectorized mask tensors read by the scalar atomic loop (i1 in memory: one byte per element, issue 12 item 1).
@pytest.mark.parametrize("opts", [dict(), dict(num_threads=4, mt_threshold=1),
                                  dict(vectorize=False, num_threads=4, mt_threshold=1),
                                  dict(vectorize=False, multithread=False)], ids=_ids)
def test_atomics_under_contention(opts):
    seed = current_seed() % (2**31 - 1)
    g = torch.Generator().manual_seed(seed)
    n, P = 1000, 8
    x = torch.randn(n, generator=g)
    mx, mn = torch.full((5,), -1e30), torch.full((1,), 1e30)
    sums = torch.zeros(3, dtype=torch.int32)
    K.float_atomics_kernel[(P,)](x, mx, mn, sums, n, BLOCK=128, **opts)
    assert mx[0] == x.max() and mn[0] == x.min(), f"seed {seed}"
    for r in range(4):
        assert mx[1 + r] == x[r::4].max(), f"seed {seed}, slot {r}"
    assert sums.tolist() == [len(range(r, n, 3)) for r in range(3)]
    Q = 40
    bits = torch.tensor([0, -1, 0], dtype=torch.int32)
    cas, olds = torch.zeros(3, dtype=torch.int32), torch.full((Q,), -1, dtype=torch.int32)
    xchg, xolds = torch.zeros(1, dtype=torch.int32), torch.full((Q,), -1, dtype=torch.int32)
    K.int_atomics_kernel[(Q,)](bits, cas, olds, xchg, xolds, **opts)
    mask = 0
    for p in range(Q):
        mask |= 1 << (p % 31)
    assert bits[0].item() == np.int32(np.uint32(mask)) and bits[1].item() == np.int32(np.uint32(~mask & 0xFFFFFFFF))
    assert bits[2].item() == np.bitwise_xor.reduce(np.arange(Q))
    for slot in range(3):                  # exactly one program per slot saw 0 and wrote its id
        mine = [p for p in range(Q) if p % 3 == slot]
        winners = [p for p in mine if olds[p] == 0]
        assert len(winners) == 1 and cas[slot] == winners[0] + 1
        assert all(olds[p] == cas[slot] for p in mine if p != winners[0])
    # the exchanges form one chain: every old value but one was written by another program
    assert sorted(xolds.tolist() + [xchg.item()]) == list(range(Q + 1))


def _ulp(x, dtype):
    return float(np.spacing(np.abs(np.asarray(x, dtype=dtype))))


@pytest.mark.parametrize("dtype, n", [("float32", 60001), ("float16", 60001),
                                      pytest.param("float32", (1 << 20) - 3, marks=pytest.mark.slow),
                                      pytest.param("float16", (1 << 20) - 3, marks=pytest.mark.slow)])
def test_long_sums_stay_accurate(dtype, n):
    """f16 accumulates in f32 and long rows sum as a 64-ary tree: the result is within a couple of ulp of
    the exact sum (sequential f16 accumulation saturated at 2048; sequential f32 drifted by ~6 ulp at 1M)."""
    seed = current_seed() % (2**31 - 1)
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, n).astype(dtype) if dtype == "float32" else (rng.uniform(0, 1, n) / 16).astype(dtype)
    out = torch.zeros(1, dtype=getattr(torch, dtype))
    K.long_sum_kernel[(1,)](torch.from_numpy(x), out, n, BLOCK=triton.next_power_of_2(n))
    exact = np.sum(x.astype(np.float64))
    err = abs(out.item() - exact)
    # Three levels of <= 64 sequential adds plus the final rounding: a few ulp at worst (seen: 2.4 ulp).
    # Sequential f16 accumulation would be off by thousands of ulp (it saturates at 2048).
    assert err <= 4 * _ulp(exact, dtype), f"seed {seed}: {out.item()} vs exact {exact} ({err / _ulp(exact, dtype):.1f} ulp)"


@pytest.mark.parametrize("opts", OPTS[:2], ids=_ids)
def test_row_and_column_sums_of_a_masked_block(opts):
    seed = current_seed() % (2**31 - 1)
    M, N = 5, 3001
    x = np.random.default_rng(seed).standard_normal((M, N)).astype(np.float32)
    rows, cols = torch.zeros(M), torch.zeros(N)
    K.row_sums_kernel[(1,)](torch.from_numpy(x), rows, cols, M, N, BM=8, BN=4096, **opts)
    np.testing.assert_allclose(rows.numpy(), x.astype(np.float64).sum(1), rtol=1e-5, atol=1e-4, err_msg=f"seed {seed}")
    np.testing.assert_allclose(cols.numpy(), x.astype(np.float64).sum(0), rtol=1e-5, atol=1e-5, err_msg=f"seed {seed}")
