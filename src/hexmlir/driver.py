"""compile(): source -> pipeline -> LLVM IR -> target binary -> cached artifact (Kernel)."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from . import cache, targets
from .errors import HexmlirError
from .options import Options

EMITS = ("mlir", "llvm", "asm", "obj", "so")


def _read(source) -> str:
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and source.endswith(".mlir")):
        p = Path(source)
        if not p.is_file():
            raise HexmlirError(f"no such file: {p}")
        return p.read_text()
    if not isinstance(source, str):
        return str(source)           # an ir.Module from a frontend
    return source


def _dump_dir(options: Options) -> Path | None:
    d = options.dump_dir or os.environ.get("HEXMLIR_DUMP_DIR")
    return Path(d) if d else None


TCM_ATTEMPTS = 3


def _tcm_overflow(cx) -> dict:
    """Roots whose generated code takes more TCM (per thread x threads) than the budget, with the ratio of
    measured to modelled bytes per thread (> 1: the plan's model undercounted them)."""
    plan = cx.plan
    if plan is None:
        return {}
    out = {}
    for m in cx.tcm_usage.values():
        if m["total"] <= plan.budget:
            continue
        for rid in m["roots"]:
            p = plan.ops.get(rid)
            if p is not None and p.tcm_per_thread and m["per_thread"] > p.tcm_per_thread:
                out[rid] = m["per_thread"] / p.tcm_per_thread
    return out


def compile_to_llvm(text: str, options: Options, target, dump: Path | None):
    """Run the pipeline; returns (llvm_ir_text, compile context, llvm-dialect mlir)."""
    from . import ir as hir
    from . import pipeline
    from .transforms import lower
    scale: dict = {}
    for attempt in range(TCM_ATTEMPTS):
        with hir.context(), hir.ir.Location.unknown():
            module = hir.parse(text)
            cx = pipeline.run(module, options, target, dump, tcm_scale=scale)
            over = _tcm_overflow(cx)
            if over and attempt + 1 < TCM_ATTEMPTS:
                for rid, ratio in over.items():   # the model undercounted these roots: scale it, replan
                    scale[rid] = scale.get(rid, 1.0) * ratio * 1.02
                continue
            mlir_text = str(module)
            ll = lower.to_llvm_ir(module, cx)
            break
    if dump:
        (dump / "90-llvm.ll").write_text(ll)
    return ll, cx, mlir_text


def compile(source, options: Options | None = None, *, emit: str = "so", output: str | None = None, **kw):
    """Compile a Linalg module. emit="so" returns a loaded Kernel; other emits write `output` and return its path."""
    options = (options or Options()).replace(**kw)
    target = targets.get(options.target, options.arch, options.isa)
    if emit not in EMITS:
        raise HexmlirError(f"unknown emit {emit!r}; one of {', '.join(EMITS)}")
    text = _read(source)
    dump = _dump_dir(options)
    from .targets.tools import versions
    k = cache.key(text, options.key(), repr(target), versions())
    hit = None if dump else cache.lookup(k, "kernel")
    if hit is None:
        hit = _build(text, options, target, dump, k)
    if output:
        src = {"mlir": "kernel.llvm.mlir", "llvm": "kernel.ll", "asm": "kernel.s", "obj": "kernel.o",
               "so": "kernel.so"}[emit]
        _install(hit / src, output)
        if emit == "so":            # the artifact: .so + .json (+ the runtime it was linked against)
            _install(hit / "kernel.json", Path(output).with_suffix(".json"))
            rt = json.loads((hit / "kernel.json").read_text()).get("runtime")
            if rt:
                _install(hit / rt, Path(output).parent / rt)
        if emit != "so":
            return Path(output)
    if dump:
        shutil.copyfile(hit / "kernel.s", dump / "91-target.s")
    from .artifact import Kernel
    try:
        return Kernel.load(hit / "kernel.json")
    except (OSError, KeyError, TypeError, ValueError) as e:   # a library that does not load: rebuild once
        cache.discard(k, f"it does not load: {e}")
        return Kernel.load(_build(text, options, target, dump, k) / "kernel.json")


def _install(src: Path, dst) -> None:
    """Copy src to dst through a temporary file renamed over it: a library this process (or another) has
    loaded from dst keeps its old file (copying in place would rewrite pages it has mapped: a crash), and
    an interrupted copy leaves no half-written dst."""
    dst = Path(dst)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def explain(source, options: Options | None = None) -> str:
    """The plan compile applies, as text: the `hexmlir.config` attributes the `plan` stage wrote, read back
    from the IR of the very pipeline run compile makes (its TCM re-plan included), and the measured TCM."""
    options = options or Options()
    target = targets.get(options.target, options.arch, options.isa)
    _, cx, _ = compile_to_llvm(_read(source), options, target, _dump_dir(options))
    return cx.plan.describe() if cx.plan else ""


def _build(text, options, target, dump, k) -> Path:
    ll, cx, mlir_text = compile_to_llvm(text, options, target, dump)
    sig, plan_text = cx.signature, (cx.plan.describe() if cx.plan else "")
    from .transforms.symbols import entry as entry_symbol
    entry = entry_symbol(sig["name"])       # the one exported symbol (`hxk_`-prefixed: no libc clash)
    bdir = cache.build_dir(k)
    try:
        (bdir / "kernel.llvm.mlir").write_text(mlir_text)
        # threads: the plan's bound on threads running tiles at once (a simulator starts that many)
        files, target_meta = target.build(ll, bdir, options, {"entry": entry, "args": sig["args"],
                                                              "threads": cx.plan.threads if cx.plan else 1},
                                          cx.uses_runtime)
        meta = {
            "name": sig["name"], "entry": entry, "args": sig["args"],
            "results": sig["results"], "writes": sig.get("writes", []), **target_meta,
            "options": options.key(), "plan": plan_text,
            "files": sorted(p.name for p in files.values()) + ["kernel.llvm.mlir"],
            "asserts": cx.asserts,        # runtime checks: failure id -> {message, loc} (artifact.py raises)
        }
        (bdir / "kernel.json").write_text(json.dumps(meta, indent=1))
        return cache.store(k, bdir)
    finally:
        shutil.rmtree(bdir, ignore_errors=True)
