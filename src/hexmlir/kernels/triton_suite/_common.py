"""Helpers shared by the suite's kernel families: input generation and the Entry record."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

F32, F16 = torch.float32, torch.float16


def torch_generator(rng=None) -> torch.Generator:
    """A CPU torch.Generator from a numpy Generator, a torch Generator, an int seed or None (fresh)."""
    if isinstance(rng, torch.Generator):
        return rng
    g = torch.Generator()
    if rng is None:
        g.seed()
    elif isinstance(rng, int):
        g.manual_seed(rng)
    else:                                   # numpy.random.Generator (the tests' `rng` fixture)
        g.manual_seed(int(rng.integers(0, 2**62)))
    return g


def randn(gen, shape, dtype, scale=1.0, shift=0.0) -> torch.Tensor:
    """Normal samples drawn in f32 (so f16 and f32 inputs of one seed agree), cast to dtype."""
    return (torch.randn(shape, generator=gen, dtype=F32) * scale + shift).to(dtype)


def uniform(gen, shape, dtype, lo, hi) -> torch.Tensor:
    return (torch.rand(shape, generator=gen, dtype=F32) * (hi - lo) + lo).to(dtype)


def randint(gen, shape, lo, hi, dtype) -> torch.Tensor:
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return torch.randint(lo, hi, shape, generator=gen, dtype=torch.int64).to(dtype)


@dataclass(frozen=True)
class Entry:
    """One kernel of the suite; see the package docstring for how the fields are used."""

    name: str
    family: str                             # module in hexmlir.kernels.triton_suite
    kernel: Any                             # the @triton.jit function run() launches
    run: Callable[..., Any]                 # run(*inputs, **launch_kw) -> tensor | tuple of tensors
    reference: Callable[..., Any]           # reference(*inputs) -> same structure, PyTorch only
    make_inputs: Callable[..., tuple]       # make_inputs(gen, size, dtype) -> tuple (tensors, scalars)
    sizes: Sequence[Any]                    # test sizes; include non-multiples of the kernel's BLOCK
    dtypes: Sequence[torch.dtype] = (F32, F16)
    tol: dict = field(default_factory=dict)  # dtype -> (rtol, atol); missing dtypes: exact
    bench_size: Any = None                  # a larger size for benchmarks (None: the last test size)
    doc: str = ""

    def inputs(self, rng, size=None, dtype=None) -> tuple:
        """Fresh inputs: rng as accepted by torch_generator; defaults: first size, first dtype."""
        return self.make_inputs(torch_generator(rng), self.sizes[0] if size is None else size,
                                self.dtypes[0] if dtype is None else dtype)

    def compile_only(self, *inputs, **launch_kw) -> list:
        """Compile what run(*inputs, **launch_kw) would launch, without launching (triton's warmup path);
        returns the CompiledKernels. For targets that cannot run here (target="hexagon")."""
        k, compiled = self.kernel, []
        launch = type(k).run

        def warm(*args, grid, warmup, **kw):
            c = launch(k, *args, grid=grid, warmup=True, **kw)
            compiled.append(c)
            return c
        k.run = warm                        # kernel[grid](...) calls self.run(grid=..., warmup=False, ...)
        try:
            self.run(*inputs, **launch_kw)
        finally:
            del k.run
        return compiled

    def check(self, got, ref, dtype) -> float:
        """Assert got matches ref within this entry's tolerance for dtype; returns the max abs error."""
        got = got if isinstance(got, (tuple, list)) else (got,)
        ref = ref if isinstance(ref, (tuple, list)) else (ref,)
        assert len(got) == len(ref), (len(got), len(ref))
        rtol, atol = self.tol.get(dtype, (0.0, 0.0))
        worst = 0.0
        for i, (g, r) in enumerate(zip(got, ref)):
            assert g.shape == r.shape and g.dtype == r.dtype, \
                f"{self.name} output {i}: {tuple(g.shape)} {g.dtype} vs reference {tuple(r.shape)} {r.dtype}"
            g64, r64 = g.to(torch.float64), r.to(torch.float64)
            if g64.numel():
                worst = max(worst, float((g64 - r64).abs().max()))
            torch.testing.assert_close(g64, r64, rtol=rtol, atol=atol, equal_nan=True,
                                       msg=lambda m, i=i: f"{self.name} output {i} ({dtype}): {m}")
        return worst
