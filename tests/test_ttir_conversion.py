"""TTIR -> Linalg conversion: the pointer analysis finds strided blocks where they exist, falls back to
gathers where they do not, and masked accesses never touch memory past the end of an allocation."""
import json
import subprocess
import sys

import pytest

pytest.importorskip("triton")
torch = pytest.importorskip("torch")

from hexmlir.conversion import convert_ttir  # noqa: E402
from hexmlir.frontends.triton.compiler import to_ttir  # noqa: E402
from hexmlir.kernels.triton_suite import gather, softmax, vector_add  # noqa: E402

ADD = (vector_add.add_kernel, {"x_ptr": "*fp32", "y_ptr": "*fp32", "out_ptr": "*fp32", "n_elements": "i32",
                               "BLOCK_SIZE": "constexpr"}, {"BLOCK_SIZE": 256})
SOFTMAX = (softmax.softmax_kernel, {"output_ptr": "*fp32", "input_ptr": "*fp32", "input_row_stride": "i32",
                                    "output_row_stride": "i32", "n_cols": "i32", "BLOCK_SIZE": "constexpr"},
           {"BLOCK_SIZE": 128})
EMBED = (gather.embedding_block_kernel, {"ids_ptr": "*i64", "table_ptr": "*fp32", "out_ptr": "*fp32",
                                         "n_tokens": "i32", "D": "i32", "stride_table": "i32", "stride_out": "i32",
                                         "BLOCK_T": "constexpr", "BLOCK_D": "constexpr"},
         {"BLOCK_T": 8, "BLOCK_D": 32})


def _convert(case):
    fn, sig, consts = case
    return convert_ttir(to_ttir(fn, sig, consts))


@pytest.mark.parametrize("case", [ADD, SOFTMAX], ids=["add", "softmax"])
def test_affine_pointers_become_strided_views_not_gathers(case):
    ck = _convert(case)
    assert "memref.reinterpret_cast" in ck.mlir and "memref.subview" in ck.mlir    # masked blocks
    assert "tensor.extract %argt" not in ck.mlir and "memref.store" not in ck.mlir  # no gather/scatter
    sig = [t for t in case[1].values() if t != "constexpr"]
    assert [p["kind"] for p in ck.params] == ["ptr" if t.startswith("*") else "scalar" for t in sig]


def test_data_dependent_rows_become_a_gather():
    ck = _convert(EMBED)
    assert "tensor.extract %argt" in ck.mlir


def test_params_and_grid_signature():
    ck = _convert(ADD)
    assert ck.name == "add_kernel"
    assert ck.params == [{"kind": "ptr", "dtype": "float32"}] * 3 + [{"kind": "scalar", "dtype": "int32"}]
    assert "%gx: i32, %gy: i32, %gz: i32" in ck.mlir


def test_unparseable_input_is_a_typed_error():
    from hexmlir.errors import UnsupportedError
    with pytest.raises(UnsupportedError, match="generic form"):
        convert_ttir("tt.func @k() { tt.return }")


CHILD = r"""
import ctypes, json, mmap, sys
import numpy as np
import hexmlir
libc = ctypes.CDLL(None)
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
PAGE = mmap.PAGESIZE
keep = []

def guarded(n, dtype):
    # n elements whose last byte is the last byte before a PROT_NONE page
    nbytes = n * np.dtype(dtype).itemsize
    pages = -(-nbytes // PAGE) + 1
    buf = mmap.mmap(-1, pages * PAGE)
    base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    assert libc.mprotect(base + (pages - 1) * PAGE, PAGE, 0) == 0
    keep.append(buf)
    return np.frombuffer(buf, dtype=dtype, count=n, offset=(pages - 1) * PAGE - nbytes)

k = hexmlir.load(sys.argv[1])
case = json.loads(sys.argv[2])
rng = np.random.default_rng(int(sys.argv[3]))
if case["kind"] == "add":
    n = case["n"]
    x, y, o = guarded(n, "float32"), guarded(n, "float32"), guarded(n, "float32")
    x[:] = rng.standard_normal(n); y[:] = rng.standard_normal(n)
    k.launch([x, y, o, n], (-(-n // 256),))
    assert np.allclose(o, x + y, rtol=1e-6, atol=1e-6)
else:
    r, c = case["rows"], case["cols"]
    x, o = guarded(r * c, "float32"), guarded(r * c, "float32")
    x[:] = rng.standard_normal(r * c)
    k.launch([o, x, c, c, c], (r,))
    xr = x.reshape(r, c).astype(np.float64)
    e = np.exp(xr - xr.max(1, keepdims=True))
    assert np.allclose(o.reshape(r, c), e / e.sum(1, keepdims=True), rtol=1e-5, atol=1e-6)
print("ok")
"""


@pytest.mark.parametrize("opts", [{}, {"vectorize": False, "tcm_tiling": False, "multithread": False}],
                         ids=["all-on", "scalar-ddr"])
@pytest.mark.parametrize("case", [{"kind": "add", "n": 1000}, {"kind": "add", "n": 4099},
                                  {"kind": "softmax", "rows": 7, "cols": 100}], ids=["add-1000", "add-4099", "softmax-7x100"])
def test_masked_tails_stay_inside_guarded_allocations(tmp_path, case, opts, seed):
    import hexmlir
    ck = _convert(ADD if case["kind"] == "add" else SOFTMAX)
    out = tmp_path / "k.so"
    hexmlir.compile(ck.mlir, emit="so", output=str(out), **opts)
    r = subprocess.run([sys.executable, "-c", CHILD, str(out.with_suffix(".json")), json.dumps(case), str(seed)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), (r.returncode, r.stderr[-2000:])


def test_unknown_op_is_a_typed_error_naming_op_and_source_line():
    import inspect

    from hexmlir.errors import UnsupportedError
    ttir = to_ttir(*ADD)
    assert '"tt.get_program_id"' in ttir
    with pytest.raises(UnsupportedError) as ei:
        convert_ttir(ttir.replace('"tt.get_program_id"', '"tt.get_fancy_id"'))
    lines, start = inspect.getsourcelines(vector_add.add_kernel.fn)
    line = start + next(i for i, t in enumerate(lines) if "program_id" in t)
    assert ei.value.op == "tt.get_fancy_id", ei.value
    assert ei.value.loc.endswith(f"vector_add.py:{line}"), ei.value


def test_adding_an_op_is_registering_one_function():
    """ops.OPS is keyed by op name: a conversion registered for a new name is used, with the op's
    properties read as typed attributes."""
    from hexmlir.conversion.ttir import ops
    from hexmlir.conversion.ttir.reader import attr_int
    ttir = to_ttir(*ADD)
    seen = []

    @ops.converts("tt.get_fancy_id")
    def fancy(cv, op):
        seen.append(attr_int(op, "axis"))
        cv.res(op, cv.pid[attr_int(op, "axis")])
    try:
        got = convert_ttir(ttir.replace('"tt.get_program_id"', '"tt.get_fancy_id"'))
    finally:
        del ops.OPS["tt.get_fancy_id"]
    assert seen == [0]
    assert got.mlir == convert_ttir(ttir).mlir


def test_properties_are_read_as_typed_attributes():
    """tt.* ops are unregistered in torch-mlir's context: their properties dict is parsed back into
    attributes, strings included (quotes, `}>`, non-ASCII survive), and re-escaped exactly."""
    from torch_mlir import ir

    from hexmlir.conversion.ttir.reader import attr_bool, attr_int, attr_ints, attr_str
    from hexmlir.conversion.ttir.util import mlir_escape
    msg = 'bad }> "index"\n\u00e9'
    text = ('"builtin.module"() ({\n  %c = "arith.constant"() <{value = true}> : () -> i1\n'
            f'  "tt.assert"(%c) <{{message = "{mlir_escape(msg)}", order = array<i32: 1, 0>, axis = 2 : i32, '
            'reverse = true}> : (i1) -> ()\n}) : () -> ()\n')
    ctx = ir.Context()
    ctx.allow_unregistered_dialects = True
    with ctx, ir.Location.unknown():
        op = ir.Module.parse(text).body.operations[1].operation
        assert op.name == "tt.assert"
        assert attr_str(op, "message") == msg
        assert attr_ints(op, "order") == [1, 0] and attr_int(op, "axis") == 2 and attr_bool(op, "reverse")
        assert attr_int(op, "missing", 7) == 7
        assert ir.StringAttr(ir.Attribute.parse(f'"{mlir_escape(msg)}"')).value == msg
