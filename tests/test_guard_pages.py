"""Tails never touch memory past the end: inputs and outputs end right before a PROT_NONE page.

Runs in a subprocess so an over-read or over-write (SIGSEGV) fails the test instead of killing pytest.
"""
import subprocess
import sys

import pytest

import hexmlir
from hexmlir import Options
from hexmlir.kernels import linalg_suite as S

CHILD = r"""
import ctypes, mmap, sys
import numpy as np
import hexmlir
libc = ctypes.CDLL(None)
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
PAGE = mmap.PAGESIZE
keep = []

def guarded(shape, dtype):
    # an array whose last byte is the last byte before a PROT_NONE guard page
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    pages = -(-nbytes // PAGE) + 1
    buf = mmap.mmap(-1, pages * PAGE)
    base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    assert libc.mprotect(base + (pages - 1) * PAGE, PAGE, 0) == 0
    start = (pages - 1) * PAGE - nbytes
    a = np.frombuffer(buf, dtype=dtype, count=int(np.prod(shape)), offset=start).reshape(shape)
    keep.append(buf)
    return a

k = hexmlir.load(sys.argv[1])
rng = np.random.default_rng(int(sys.argv[2]))
args = []
for spec in k.meta["args"]:
    a = guarded(spec["shape"], spec["dtype"])
    if spec["role"] == "in":
        a[...] = rng.uniform(-2, 2, a.shape).astype(a.dtype)
    args.append(a)
k.run(args)
print("ok")
"""

CASES = {
    "vector_add-1000003": lambda: S.vector_add(1000003),
    "gelu-33": lambda: S.gelu_tanh((33,)),
    "gelu-f16-1001": lambda: S.gelu_tanh((1001,), "float16"),
    "softmax-7x1001": lambda: S.softmax_rows(7, 1001),
    "rmsnorm-33x31": lambda: S.rmsnorm(33, 31),
    "matmul-33x17x65": lambda: S.matmul(33, 17, 65),
}


@pytest.mark.parametrize("threads", [1, 4])
@pytest.mark.parametrize("name", list(CASES))
def test_no_access_past_the_end(tmp_path, name, threads, seed):
    out = tmp_path / "k.so"
    hexmlir.compile(CASES[name]().mlir, Options(num_threads=threads, multithread=threads > 1, mt_threshold=1),
                    emit="so", output=str(out))
    r = subprocess.run([sys.executable, "-c", CHILD, str(out), str(seed)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", (r.returncode, r.stderr[-2000:])
