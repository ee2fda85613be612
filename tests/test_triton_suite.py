"""The Triton kernel suite (hexmlir.kernels.triton_suite, with the Inductor kernels) end to end.

* The kernels and launchers themselves, under Triton's interpreter, against PyTorch.
* Launched through hexmlir's Triton backend on the host: all mechanisms on, and each one switched off.
* Compiled for Hexagon: an ELF object whose assembly uses HVX vector registers.

Every comparison is against the entry's PyTorch reference on fresh random inputs. The default tier runs a
slice (DEFAULT entries at their first size, and one entry per switched-off mechanism); --slow runs the whole
product of entries x dtypes x sizes (x mechanisms).
"""
import json
import os
import re
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("triton")

from hexmlir.kernels.triton_suite import SUITE, torch_generator  # noqa: E402

MECHANISMS = ("vectorize", "multithread", "tcm_tiling", "dma", "double_buffer", "fast_math", "fusion")

# (entry, dtype) run at the entry's first size in the default tier; the slow tier runs every entry, dtype, size.
DEFAULT = [("add_1d", "float16"), ("axpy", "float32"), ("gelu_tanh", "float32"), ("softmax", "float16"),
           ("softmax_online", "float32"), ("rmsnorm", "float32"), ("rope", "float16"), ("int8_matmul", "int8"),
           ("matmul", "float32"), ("embedding", "float32"), ("inductor_layernorm", "float32")]
# One entry per switched-off mechanism in the default tier: the mechanism matters for that kernel.
DEFAULT_OFF = {"vectorize": "softmax", "multithread": "add_2d", "tcm_tiling": "gelu_tanh", "dma": "rmsnorm",
               "double_buffer": "rope", "fast_math": "gelu_erf", "fusion": "silu"}
# Compiled for Hexagon in the default tier.
DEFAULT_HEXAGON = ["add_1d", "softmax"]


def _id(name, dtype, size):
    return f"{name}-{str(dtype).replace('torch.', '')}-{'x'.join(map(str, size)) if isinstance(size, tuple) else size}"


def _cases(default=()):
    """(name, dtype, size) params: the (name, dtype) pairs in `default` at their first size in the default
    tier, everything else slow."""
    out = []
    for name, e in SUITE.items():
        for dt in e.dtypes:
            for i, size in enumerate(e.sizes):
                fast = (name, str(dt).replace("torch.", "")) in default and i == 0
                out.append(pytest.param(name, dt, size, id=_id(name, dt, size),
                                        marks=() if fast else pytest.mark.slow))
    return out


def _check(name, dtype, size, rng, **launch_kw):
    e = SUITE[name]
    inputs = e.make_inputs(torch_generator(rng), size, dtype)
    got = e.run(*inputs, **launch_kw)
    e.check(got, e.reference(*inputs), dtype)


def test_registry_is_uniform():
    for name, e in SUITE.items():
        assert e.name == name and e.sizes and e.dtypes and callable(e.run) and callable(e.reference)
        assert hasattr(e.kernel, "fn"), f"{name}: kernel is not a @triton.jit function"
    families = {e.family for e in SUITE.values()}
    assert {"vector_add", "gelu", "silu", "exp_series", "rmsnorm", "layernorm", "softmax", "reductions", "rope",
            "matmul", "flash_attention", "int8", "gather", "descriptor", "inductor"} <= families


# Slow under the interpreter (triton_helpers.max2 reduces with a Python combine function: ~40 s)
INTERPRETER_SLOW = ["inductor_softmax"]


@pytest.mark.parametrize("names", [
    pytest.param([n for n in SUITE if n not in INTERPRETER_SLOW], id="suite"),
    pytest.param(INTERPRETER_SLOW, id="interpreter-slow", marks=pytest.mark.slow)])
def test_kernels_under_triton_interpreter(names):
    """Each kernel + launcher is right by itself: Triton's interpreter vs PyTorch, every dtype and size."""
    r = subprocess.run([sys.executable, "-m", "hexmlir.kernels.triton_suite.interpret", *names],
                       capture_output=True, text=True, timeout=600, env=dict(os.environ, TRITON_INTERPRET="1"))
    recs = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert len(recs) == sum(len(SUITE[n].dtypes) * len(SUITE[n].sizes) for n in names), r.stderr[-3000:]
    bad = [f"{x['name']} {x['dtype']} {x['size']}: {x['error']}" for x in recs if not x["ok"]]
    assert not bad and r.returncode == 0, "\n".join(bad) or r.stderr[-3000:]


@pytest.mark.parametrize("name,dtype,size", _cases(DEFAULT))
def test_host_all_mechanisms(name, dtype, size, rng):
    _check(name, dtype, size, rng)


def _off_cases():
    out = []
    for mech in MECHANISMS:
        for p in _cases():
            name, dt, size = p.values
            fast = DEFAULT_OFF[mech] == name and dt == SUITE[name].dtypes[0] and size == SUITE[name].sizes[0]
            out.append(pytest.param(mech, name, dt, size, id=f"no_{mech}-{p.id}",
                                    marks=() if fast else pytest.mark.slow))
    return out


@pytest.mark.parametrize("mechanism,name,dtype,size", _off_cases())
def test_host_mechanism_off(mechanism, name, dtype, size, rng):
    _check(name, dtype, size, rng, **{mechanism: False})


_HVX_WRITE = re.compile(r"\bv\d+(?::\d+)?(?:\.[a-z0-9]+)?\s*=")     # an instruction writing an HVX register
EM_HEXAGON = 164


def _hexagon_cases():
    out = []
    for name, e in SUITE.items():
        for dt in e.dtypes:
            fast = name in DEFAULT_HEXAGON and dt == e.dtypes[0]
            out.append(pytest.param(name, dt, id=_id(name, dt, e.sizes[0]), marks=() if fast else pytest.mark.slow))
    return out


@pytest.mark.parametrize("name,dtype", _hexagon_cases())
def test_hexagon_object_has_hvx(name, dtype, rng):
    import hexmlir.frontends.triton as hxt
    e = SUITE[name]
    inputs = e.make_inputs(torch_generator(rng), e.sizes[0], dtype)
    (compiled,) = e.compile_only(*inputs, target="hexagon")
    art = hxt.artifact(compiled)
    assert art.meta["target"] == "hexagon"
    obj = (art.path.parent / "kernel.o").read_bytes()
    assert obj[:4] == b"\x7fELF" and int.from_bytes(obj[18:20], "little") == EM_HEXAGON
    asm = (art.path.parent / "kernel.s").read_text()
    hvx = [line.strip() for line in asm.splitlines() if _HVX_WRITE.search(line)]
    assert hvx, f"{name}: no HVX instruction in kernel.s"


@pytest.mark.slow
@pytest.mark.parametrize("case", ["gelu_pointwise", "softmax_persistent", "rmsnorm_reduction"])
def test_inductor_sources_are_current_inductor_output(case):
    """The saved kernel body is what Inductor generates today for the recorded program (header aside)."""
    from pathlib import Path
    r = subprocess.run([sys.executable, "-m", "hexmlir.kernels.inductor.capture", case], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    saved = (Path(__file__).parents[1] / "src/hexmlir/kernels/inductor" / f"{case}.py").read_text()

    def body(text):
        return text[text.index("\n@triton.jit"):].strip()      # the kernel, not the header's comment
    assert body(r.stdout) == body(saved)
