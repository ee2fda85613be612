"""hexmlir as a Triton backend (entry point `triton.backends: cpu`).

Once hexmlir is installed, `kernel[grid](cpu_tensors, ..., BLOCK=..., num_threads=4, vectorize=False,
target="host")` compiles the kernel through hexmlir and runs the grid on the runtime's thread pool.
See docs/triton.md.
"""
from .options import set_options, defaults, HEX_FIELDS

__all__ = ["set_options", "defaults", "HEX_FIELDS", "artifact"]


def artifact(compiled):
    """The hexmlir artifact (hexmlir.artifact.Kernel) behind a triton CompiledKernel
    (what `kernel[grid](...)` or `kernel.warmup(...)` returns)."""
    from .driver import load_payload
    return load_payload(compiled.kernel)
