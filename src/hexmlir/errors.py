"""Typed errors. Every failure the user can cause surfaces as one of these, never as a crash in the bindings."""


class HexmlirError(Exception):
    """Base class. `stage` names the pipeline stage, `op` the offending operation (if known)."""

    def __init__(self, message: str, *, stage: str | None = None, op: str | None = None, loc: str | None = None):
        self.stage, self.op, self.loc = stage, op, loc
        where = " ".join(p for p in (f"[stage {stage}]" if stage else "", f"[op {op}]" if op else "",
                                      f"[at {loc}]" if loc else "") if p)
        super().__init__(f"{where} {message}".strip())


class UnsupportedError(HexmlirError):
    """The input uses something hexmlir cannot compile (dynamic shape, unknown op, ...)."""


class CompileError(HexmlirError):
    """A pass or tool failed on input that looked valid."""


class PlanError(CompileError):
    """A lowering config (`hexmlir.config` on an op, `hexmlir.plan` on the module) that the target or the op
    cannot carry out: names the op and the field."""


class ToolchainError(HexmlirError):
    """An external tool (clang-22, llc-22, ld.lld-22, qemu-hexagon) is missing or failed."""


class KernelAssertionError(HexmlirError):
    """A compiled kernel's runtime check failed (`cf.assert`, Triton's `tl.device_assert`, torch-mlir's index
    bounds checks). `loc` is the check's source location, `kernel` the kernel's name. The kernel finished
    with its accesses kept in bounds, so its outputs are not meaningful."""

    def __init__(self, message: str, *, kernel: str | None = None, loc: str | None = None):
        self.kernel, self.assert_message = kernel, message
        super().__init__(f"assertion failed in kernel {kernel}: {message}" if kernel else
                         f"assertion failed: {message}", op="cf.assert", loc=loc)
