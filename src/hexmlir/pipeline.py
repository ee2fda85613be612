"""The whole compiler, top to bottom.

Input: a Linalg-on-tensors module (static shapes; destination-passing style or returning tensors).
Output: an LLVM-dialect module (then LLVM IR, then the target's .s/.o/.so, see driver.py).

Each stage is small, named, switchable by its option, and dumped (HEXMLIR_DUMP_DIR / Options.dump_dir)
as NN-<stage>.mlir. The plan (plan.py) makes every decision up front; the stages only apply it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .options import Options
from .targets import Target


@dataclass
class Stage:
    name: str
    run: Callable                          # run(module, cx)
    enabled: Callable[[Options], bool] = lambda o: True
    needs: str | None = None               # a Target capability (field/property) the stage needs, else off

    def off(self, options: Options, target: Target) -> str | None:
        """Why the stage does not run for these options and this target (None: it runs)."""
        if not self.enabled(options):
            return "off (its option is off)"
        if self.needs and not getattr(target, self.needs):
            return f"off ({target.name} has no {self.needs})"
        return None


@dataclass
class CompileContext:
    options: Options
    target: Target
    plan: object = None                    # plan.Plan: a view of the configs the `plan` stage wrote (explain, metadata)
    signature: dict = field(default_factory=dict)  # args (shape, dtype, role) + result -> arg (bufferize)
    uses_runtime: bool = False             # the kernel calls the runtime (thread pool, TCM pool, DMA)
    dump_dir: Path | None = None
    log: list = field(default_factory=list)
    tcm_scale: dict = field(default_factory=dict)   # root id -> factor on the TCM model (driver's re-plan)
    tcm_usage: dict = field(default_factory=dict)   # function -> per-thread TCM peak, threads, total (tcm-check)
    asserts: list = field(default_factory=list)     # runtime checks: [{message, loc}], indexed by failure id
    db_applied: dict = field(default_factory=dict)  # root id -> double buffering applied (double-buffer)


def _plan(module, cx):
    """Decide, write the decisions into the IR (hexmlir.config per op, hexmlir.plan on the module), check
    them; cx.plan is read back from that IR (the stages read the attributes themselves)."""
    from . import plan
    plan.write(module, plan.build(module, cx.target, cx.options, cx.tcm_scale))
    plan.verify(module, cx.target, cx.options, shapes=True)
    cx.plan = plan.from_ir(module, cx.target, cx.options)
    cx.plan.db_applied = cx.db_applied


def _tcm_check(module, cx):
    """Measure what the generated code takes from the TCM pool (static buffer sizes, DB twins included):
    module attribute hexmlir.tcm_usage, and beside the plan, which states the model's numbers (metadata)."""
    from . import plan
    from .transforms import dma
    cx.tcm_usage = dma.tcm_usage(module)
    plan.write_measured(module, cx.tcm_usage)
    if cx.plan is not None:
        cx.plan.measured = cx.tcm_usage


def _hoist_program_buffers(module, cx):
    """Buffers not staged in TCM (no scratchpad, or tcm_tiling off) allocated once per thread, not per
    program (grid) or per loop iteration (a row reduction's 1-element accumulators: 4 mallocs per row of
    LayerNorm on host)."""
    from .transforms import tcm_tiling
    if not (cx.options.tcm_tiling and cx.target.scratchpad):
        tcm_tiling.hoist_program_buffers(module, cx)


def _fast_math(module, cx):
    from .transforms import fast_math
    fast_math.run(module, native_div=cx.target.native_div)


def _qf_chains(module, cx):
    from .transforms import qf
    qf.chains(module)


def _hvx_accumulators(module, cx):
    from .transforms import qf
    qf.accumulators(module, qf=cx.target.hvx_float)
    if cx.target.hvx_float and not cx.target.qfloat_only:      # IEEE HVX float (v68-v75)
        qf.unroll_unpipelined(module)


def _hvx_contract(module, cx):
    from .transforms import hvx
    hvx.contract(module, cx)


def stages() -> list[Stage]:
    from .transforms import (asserts, bufferize, canonicalize, causal, check_input, concat, contract, conv, dma,
                             double_buffer, epilogue, fusion, half, invariants, lower, merge_regions, pad, symbols,
                             tcm_tiling, threads, vectorize)
    return [
        Stage("check-input", check_input.run),                               # static shapes, known ops
        Stage("symbols", symbols.mangle),                                    # @f -> @hxk_f: no libc clash
        Stage("asserts", asserts.guard),                                     # accesses after cf.assert clamped
        Stage("decompose-pad", pad.run),                                     # tensor.pad -> fill + insert
        Stage("decompose-concat", concat.run),                               # tensor.concat -> inserts
        Stage("canonicalize", canonicalize.run),                             # + generalize named ops
        Stage("fusion", fusion.run, lambda o: o.fusion),                     # elementwise chains -> one op
        Stage("fold-transposes", contract.fold_transposes,                   # weight transpose -> B^T matmul
              lambda o: o.vectorize and o.register_tiling, needs="fma"),     # (after fusion: its reshapes)
        Stage("asserts-prune", asserts.prune),                               # unread assert generics
        Stage("hoist-invariants", invariants.run, lambda o: o.fusion),       # per-channel work once per channel
        Stage("half", half.run, needs="half_via_f32"),                       # f16 bodies computed in f32
        Stage("conv-im2col", conv.run,                                       # conv -> matmul, FMA/int8 HVX
              lambda o: o.vectorize and o.register_tiling, needs="conv_matmul"),  # (over a window copy)
        Stage("conv-epilogue", epilogue.run,                                 # conv's BN/ReLU/add in its tiles
              lambda o: o.conv_epilogue and o.fusion and o.vectorize and o.register_tiling, needs="fma"),
        Stage("causal-skip", causal.run, lambda o: o.causal_skip),          # causal attention: row segments
                                                                             # skip fully masked key columns
        Stage("plan", _plan),                                                # decide tiles, roles, vectors
        Stage("tcm-tiling", tcm_tiling.tile),                                # forall over TCM/cache/thread tiles
        Stage("fast-math", _fast_math, lambda o: o.fast_math),  # polynomial tanh/exp/erf, recip
        Stage("bufferize", bufferize.run),                                   # tensors -> memrefs
        Stage("threads", threads.run),                                       # forall -> threads | loop
        Stage("merge-regions", merge_regions.run,                            # independent regions: 1 join
              lambda o: o.multithread and o.merge_regions, needs="shared_chunks"),
        Stage("tcm-promote", tcm_tiling.promote, lambda o: o.tcm_tiling,     # DDR tiles -> TCM buffers
              needs="scratchpad"),
        Stage("hvx-contract", _hvx_contract, lambda o: o.vectorize,          # Hexagon: int8 dots -> vrmpy
              needs="hvx"),
        Stage("contract", contract.run, lambda o: o.vectorize and o.register_tiling,  # FMA targets: matmul
              needs="fma"),                                                  # register micro-kernels
        Stage("vectorize", vectorize.run, lambda o: o.vectorize),            # target-width vectors, peeled tails
        Stage("hoist-buffers", _hoist_program_buffers),                      # per-row scratch: once per call
        # After vectorization: DMA calls take addresses as integers, so MLIR cannot see what they write;
        # vector-transfer hoisting must run while the transfers are still visible linalg.copy ops.
        Stage("dma", dma.run, lambda o: o.dma and o.tcm_tiling,              # TCM pool buffers, DMA copies
              needs="copy_engine"),
        Stage("double-buffer", double_buffer.run,                            # ping-pong sets, async DMA
              lambda o: o.double_buffer and o.dma and o.tcm_tiling, needs="copy_engine"),
        Stage("tcm-check", _tcm_check, lambda o: o.dma and o.tcm_tiling,     # measure the TCM the code takes
              needs="copy_engine"),
        Stage("lower-to-llvm", lower.to_llvm_dialect),                       # loops, LLVM dialect
        Stage("hvx-accumulators", _hvx_accumulators, lambda o: o.vectorize,  # vector sums: 2 qf32 partials
              needs="hvx"),                                                  # (plain f32 without HVX float)
        Stage("qf-chains", _qf_chains, lambda o: o.vectorize,                # v79+: f32 chains in qf32
              needs="qfloat_only"),                                          # (sf where values leave them)
    ]


def grid_stages() -> list[Stage]:
    """Triton kernels (converted by conversion/ttir/): the module's function runs a grid of
    programs, each program's block is already a tile. Same mechanisms, mapped onto programs: programs are
    split over hardware threads, a program's buffers live in TCM and move by DMA, its ops are vectorized."""
    from .transforms import (asserts, bufferize, canonicalize, contract, dma, fusion, lower, symbols, tcm_tiling,
                             threads, vectorize)
    return [
        Stage("symbols", symbols.mangle),                                    # @f -> @hxk_f: no libc clash
        Stage("asserts", asserts.guard),                                     # accesses after cf.assert clamped
        Stage("canonicalize", canonicalize.run),                             # + generalize named ops
        Stage("fusion", fusion.run, lambda o: o.fusion),                     # elementwise chains -> one op
        Stage("asserts-prune", asserts.prune),                               # unread assert generics
        Stage("plan", _plan),                                                # vector tiles, work estimates
        Stage("fast-math", _fast_math, lambda o: o.fast_math),               # polynomial tanh/exp/erf, recip
        Stage("bufferize", bufferize.run_grid),                              # program blocks -> buffers
        Stage("threads", threads.run_grid),                                  # programs -> thread pool
        Stage("tcm-stage", tcm_tiling.stage_programs, lambda o: o.tcm_tiling,    # program buffers in TCM
              needs="scratchpad"),
        Stage("hoist-buffers", _hoist_program_buffers),                      # unless staged in TCM
        Stage("contract", contract.run, lambda o: o.vectorize and o.register_tiling,  # tl.dot: register
              needs="fma"),                                                  # micro-kernels
        Stage("vectorize", vectorize.run, lambda o: o.vectorize),            # target-width vectors, peeled tails
        Stage("dma", dma.run, lambda o: o.dma and o.tcm_tiling,              # DDR <-> TCM copies by DMA
              needs="copy_engine"),
        Stage("lower-to-llvm", lower.to_llvm_dialect),                       # loops, LLVM dialect
        Stage("hvx-accumulators", _hvx_accumulators, lambda o: o.vectorize,  # vector sums: 2 qf32 partials
              needs="hvx"),                                                  # (plain f32 without HVX float)
        Stage("qf-chains", _qf_chains, lambda o: o.vectorize,                # v79+: f32 chains in qf32
              needs="qfloat_only"),                                          # (sf where values leave them)
    ]


def is_grid(module) -> bool:
    from .conversion.ttir import is_grid
    return is_grid(module)


def run(module, options: Options, target: Target, dump_dir: Path | None = None,
        tcm_scale: dict | None = None, until: str | None = None) -> CompileContext:
    """Run the stages in order on `module`; with `until`, stop after the stage of that name (for analyses
    such as tools/fusion_stats.py)."""
    cx = CompileContext(options, target, dump_dir=dump_dir, tcm_scale=dict(tcm_scale or {}))
    if dump_dir:
        dump_dir.mkdir(parents=True, exist_ok=True)
        (dump_dir / "00-input.mlir").write_text(str(module))
    for i, st in enumerate(grid_stages() if is_grid(module) else stages(), 1):
        why = st.off(options, target)
        if why:
            cx.log.append(f"{st.name}: off" if not st.enabled(options) else f"{st.name}: {why}")
            continue
        st.run(module, cx)
        cx.log.append(st.name)
        if dump_dir:
            (dump_dir / f"{i:02d}-{st.name}.mlir").write_text(str(module))
        if st.name == until:
            break
    return cx
