"""The packets bench's hand-written HVX intrinsics peers (bench/hvx_peers.py) under qemu-hexagon against NumPy,
on sizes that are not multiples of the vector width, and the table's ratio columns."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from hexmlir.bench import hvx_peers
from hexmlir.bench import sim_packets as sp

from conftest import current_seed

needs_qemu = pytest.mark.skipif(shutil.which("qemu-hexagon") is None, reason="qemu-hexagon not installed")


def _i8(rng, shape):
    return rng.integers(-128, 128, shape, dtype=np.int8)


def _case(key, size, rng):
    """(inputs, reference output, C scalars) of one peer call."""
    if key == "add_sat_i8":
        a, b = _i8(rng, size), _i8(rng, size)
        return [a, b], np.clip(a.astype(np.int64) + b, -128, 127).astype(np.int8), [size]
    if key == "add_i32":
        a, b = (rng.integers(-2**31, 2**31, size, dtype=np.int64).astype(np.int32) for _ in range(2))
        return [a, b], (a.astype(np.int64) + b).astype(np.int32), [size]
    if key == "dot_i8":
        m, k = size
        a, b = _i8(rng, (m, k)), _i8(rng, (m, k))
        return [a, b], (a.astype(np.int64) * b).sum(1).astype(np.int32), [m, k]
    if key == "matmul_i8":
        m, n, k = size
        a, b = _i8(rng, (m, k)), _i8(rng, (k, n))
        return [a, b], (a.astype(np.int64) @ b).astype(np.int32), [m, n, k]
    if key == "conv_i8":
        n, c, h, w, f, k, st = size
        x, wt = _i8(rng, (n, c, h, w)), _i8(rng, (f, c, k, k))
        oh, ow = (h - k) // st + 1, (w - k) // st + 1
        win = np.lib.stride_tricks.sliding_window_view(x.astype(np.int64), (k, k), axis=(2, 3))
        out = np.einsum("ncpqij,fcij->nfpq", win[:, :, ::st, ::st][:, :, :oh, :ow], wt.astype(np.int64))
        return [x, wt], out.astype(np.int32), list(size)
    n, mult, shift, zp = size
    x = rng.integers(-2**31, 2**31, n, dtype=np.int64)
    x[:4] = [-2**31, 2**31 - 1, 0, -1]
    v = (x * mult + (1 << (31 + shift))) >> (32 + shift)
    return [x.astype(np.int32)], np.clip(v + zp, -128, 127).astype(np.int8), [n, mult, shift, zp]


CASES = [("add_sat_i8", 4099), ("add_sat_i8", 77), ("add_i32", 1001), ("dot_i8", (5, 1031)), ("dot_i8", (7, 100)),
         ("matmul_i8", (6, 133, 29)), ("matmul_i8", (9, 37, 23)), ("matmul_i8", (5, 257, 131)),
         ("conv_i8", (1, 5, 13, 11, 7, 3, 1)), ("conv_i8", (2, 3, 9, 200, 5, 3, 1)), ("conv_i8", (2, 4, 9, 10, 3, 3, 2)),
         ("requantize", (4099, sp.RQ_MULT, sp.RQ_SHIFT, sp.RQ_ZP)), ("requantize", (1000, 2**31 - 1, 1, 127)),
         ("requantize", (333, 1, 15, -128))]


@needs_qemu
@pytest.mark.slow
@pytest.mark.parametrize("key,size", CASES, ids=[f"{k}-{s}" for k, s in CASES])
def test_qemu_intrinsics_peer_matches_numpy(key, size, rng, tmp_path):
    ins, ref, scalars = _case(key, size, rng)
    out, prof, comp = sp.run_peer(key, ins, ref, scalars, tmp_path, "intrinsics")
    np.testing.assert_array_equal(out, ref, err_msg=f"{key} {size} seed {current_seed()}")
    assert prof.hvx > 0 and 0 < comp <= prof.packets


# the element-wise peers' vmemu paths (the harness's buffers are 128-byte aligned): called one element in
UNALIGNED = {
    "add_sat_i8": "void ref(const int8_t *a, const int8_t *b, int8_t *c, int32_t n) "
                  "{ ref_(a + 1, b + 1, c + 1, n - 1); }",
    "add_i32": "void ref(const int32_t *a, const int32_t *b, int32_t *c, int32_t n) "
               "{ ref_(a + 1, b + 1, c + 1, n - 1); }",
    "requantize": "void ref(const int32_t *x, int8_t *y, int32_t n, int32_t m, int32_t s, int32_t z) "
                  "{ ref_(x + 1, y + 1, n - 1, m, s, z); }",
}


@needs_qemu
@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(UNALIGNED))
def test_qemu_intrinsics_peer_unaligned_matches_numpy(key, rng, tmp_path, monkeypatch):
    size = (1001, 1518500250, 7, -3) if key == "requantize" else 1001
    ins, ref, scalars = _case(key, size, rng)
    ref = ref.copy()
    ref[0] = 0                          # the wrapper's output starts one element in
    src = hvx_peers.SOURCES[key].replace("void ref(", "static void ref_(") + "\n" + UNALIGNED[key] + "\n"
    monkeypatch.setitem(hvx_peers.SOURCES, key, src)
    out, _, _ = sp.run_peer(key, ins, ref, scalars, tmp_path, "intrinsics")
    np.testing.assert_array_equal(out, ref, err_msg=f"{key} unaligned seed {current_seed()}")


def test_table_ratio_columns():
    counts = {"packets": 400, "hvx": 10, "compiled_packets": 300}
    row = {"kernel": "k", "elements": 1000, "builds": {"scalar": counts, "vectorized": counts,
                                                      "vectorized+TCM/DMA/DB": counts},
           "c_autohvx": counts, "intrinsics": {"packets": 200, "hvx": 5, "compiled_packets": 100}}
    line = sp.table([row]).splitlines()[-1]
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[6] == "0.200 (0.100)"        # intrinsics: all packets (compiled code's)
    assert cells[7] == "2.00" and cells[8] == "3.00", line      # vec / intrinsics, TCM compiled / intrinsics
    no_peer = dict(row, intrinsics=None)
    assert "| – | – | – |" in sp.table([no_peer])


def test_hexagon_bench_stores_packet_rows(tmp_path, monkeypatch):
    import json

    from hexmlir.bench import hexagon, report
    counts = {"packets": 400, "hvx": 10, "compiled_packets": 300}
    fake = [{"kernel": "int8 matmul (per MAC)", "key": "matmul_i8", "elements": 1000, "per": "MAC",
             "builds": {"vectorized": counts}, "c_autohvx": counts, "intrinsics": counts}]
    asked = []
    monkeypatch.setattr(sp, "measure", lambda quick, kernels: asked.append((quick, kernels)) or fake)
    pk = hexagon.packets_rows(quick=True, log=lambda s: None)
    assert asked == [(True, hexagon.PACKETS_KERNELS)] and pk["rows"] == fake
    path = tmp_path / "results.json"
    hexagon.store([], path, "meta", None, pk)
    res = json.loads(path.read_text())
    assert res["hexagon_packets"]["rows"] == fake
    assert "| int8 matmul (per MAC) | 1000 |" in report._hexagon_section(res)
