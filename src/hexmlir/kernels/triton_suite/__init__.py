"""The Triton kernel suite: kernels written the way Triton users write them, each with a launcher
and a PyTorch reference, for testing hexmlir's Triton frontend and for benchmarks.

Importing this package imports torch and triton (the kernels are ``@triton.jit`` functions);
nothing else in hexmlir imports it.

API
---
``SUITE`` maps a kernel name to an :class:`Entry` (ordered: simple kernels first). Every entry has:

* ``kernel``: the ``@triton.jit`` function; ``family``: the module it lives in (``vector_add``,
  ``gelu``, ``silu``, ``exp_series``, ``rmsnorm``, ``layernorm``, ``softmax``, ``reductions``, ``rope``,
  ``matmul``, ``flash_attention``, ``int8``, ``gather``, ``descriptor``, ``inductor``).
* ``make_inputs(gen, size, dtype) -> tuple``: fresh random CPU tensors (and Python scalars where the
  kernel takes one) for a ``size`` from ``sizes``/``bench_size`` and a ``dtype`` from ``dtypes``.
  ``gen`` is a ``torch.Generator``; :func:`torch_generator` makes one from a numpy Generator, an int
  seed or None. ``entry.inputs(rng, size, dtype)`` does both.
* ``run(*inputs, **launch_kw)``: allocates the outputs, launches ``kernel[grid](..., **launch_kw)``
  and returns the output tensor (or a tuple). ``launch_kw`` go to the launch unchanged: with hexmlir's
  Triton backend active they are compiler options (``vectorize=False``, ``num_threads=4``, ...).
* ``reference(*inputs)``: the same outputs computed by PyTorch alone (float64 or float32, then cast).
* ``check(got, ref, dtype)``: asserts a match within ``tol[dtype] = (rtol, atol)`` (exact when the
  dtype has no entry, e.g. int8 and index outputs) and returns the max absolute error.
* ``compile_only(*inputs, **launch_kw)``: compiles what ``run`` would launch without launching it
  (Triton's warmup path), e.g. with ``target="hexagon"``; returns Triton's CompiledKernels.
* ``sizes``: small test sizes, including ones that are not multiples of the kernel's BLOCK;
  ``bench_size``: a larger size for benchmarks; ``dtypes``: those the kernel is meant for
  (float32 and float16 unless it is an integer kernel); ``doc``: one line on what it exercises.

Example::

    from hexmlir.kernels.triton_suite import SUITE, torch_generator
    e = SUITE["softmax"]
    x = e.make_inputs(torch_generator(0), e.sizes[-1], torch.float16)
    e.check(e.run(*x, vectorize=False), e.reference(*x), torch.float16)

``hexmlir.kernels.inductor`` holds Inductor-generated kernels (saved source); their entries are in
``inductor.py`` here, family ``inductor``.
"""
from __future__ import annotations

import importlib

from ._common import Entry, torch_generator

FAMILIES = ("vector_add", "gelu", "silu", "exp_series", "rmsnorm", "layernorm", "softmax", "reductions", "rope",
            "matmul", "flash_attention", "int8", "gather", "descriptor", "inductor")


def _collect() -> dict:
    suite = {}
    for mod in [importlib.import_module(f"{__name__}.{f}") for f in FAMILIES]:
        for e in mod.ENTRIES:
            assert e.name not in suite, f"duplicate suite entry {e.name}"
            suite[e.name] = e
    return suite


SUITE: dict[str, Entry] = _collect()

__all__ = ["SUITE", "Entry", "FAMILIES", "torch_generator"]
