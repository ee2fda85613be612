"""`hexmlir opt`: run pipeline stages alone on IR, like mlir-opt.

    hexmlir opt INPUT.mlir -p stage[,stage|first..last ...] [--option k=v ...] [-o OUT]

The stages are pipeline.py's (the grid list for a module marked `hexmlir.grid`, i.e. a converted Triton
kernel). A stage that an option switches off, or that needs what the target lacks (`Stage.needs`: tcm-promote,
dma, ... on `host`, which has no TCM and no DMA engine), is skipped, as in compile, and said so on stderr.

The plan is IR (plan.py, "the plan as IR"): the `plan` stage writes each op's decisions as its
`hexmlir.config` attribute and the module-wide facts (budget, thread bound, the options planned with, the
target among them) as the module attribute `hexmlir.plan`; the later stages read those attributes, so the
printed IR carries everything a later stage needs. Read back, `hexmlir.plan` restores those options
(`--option` still overrides them) and the configs are verified (plan.verify: a bad one is a PlanError naming
the op and the field). Nothing is re-planned implicitly: a stage after `plan` given IR without a plan is an
error, because re-planning already transformed IR would not reproduce compile's decisions.

The signature: `bufferize` records the kernel's signature (cx.signature: its name, arguments, results), which
`lower-to-llvm` reads (the exported entry is `_mlir_ciface_hxk_<name>`). It travels the same way, as the
module attribute `hexmlir.signature` (JSON), and a stage after `bufferize` given IR without one is an error.
"""
from __future__ import annotations

import dataclasses
import json
import sys

from .errors import HexmlirError
from .options import Options
from . import attrs

SIGNATURE_ATTR = attrs.SIGNATURE


def signature_from_json(text: str) -> dict:
    try:
        sig = json.loads(text)
        if not isinstance(sig, dict) or not isinstance(sig.get("name"), str):
            raise ValueError("no kernel name")
    except ValueError as e:
        raise HexmlirError(f"the {SIGNATURE_ATTR} attribute does not hold a signature: {e}", stage="opt") from None
    return sig


def parse_option(kv: str) -> tuple[str, object]:
    """`k=v` for an Options field (dashes or underscores); booleans as true/false/on/off/1/0."""
    if "=" not in kv:
        raise HexmlirError(f"--option wants k=v, got {kv!r}")
    k, v = kv.split("=", 1)
    k = k.strip().replace("-", "_")
    fields = {f.name: f for f in dataclasses.fields(Options)}
    if k not in fields or k == "dump_dir":
        raise HexmlirError(f"unknown option {k!r}; one of {', '.join(n for n in fields if n != 'dump_dir')}")
    default = getattr(Options(), k)
    if isinstance(default, bool):
        low = v.strip().lower()
        if low not in ("true", "false", "on", "off", "1", "0"):
            raise HexmlirError(f"option {k}={v!r} is invalid: true or false")
        return k, low in ("true", "on", "1")
    if isinstance(default, int):
        try:
            return k, int(v, 0)
        except ValueError:
            raise HexmlirError(f"option {k}={v!r} is invalid: an integer") from None
    return k, v


def select(spec: str, names: list[str], pipeline_name: str) -> list[str]:
    """Stage names from `a,b,c` (any order, repeats allowed) and `first..last` (pipeline order, inclusive)."""
    out = []
    for part in (s.strip() for s in spec.split(",")):
        if not part:
            continue
        ends = part.split("..", 1) if ".." in part else [part]
        for e in ends:
            if e not in names:
                raise HexmlirError(f"unknown stage {e!r} for the {pipeline_name} pipeline; stages: "
                                   f"{', '.join(names)}", stage="opt")
        if len(ends) == 2:
            i, j = names.index(ends[0]), names.index(ends[1])
            if i > j:
                raise HexmlirError(f"stage range {part!r} runs backwards (pipeline order: {', '.join(names)})",
                                   stage="opt")
            out += names[i:j + 1]
        else:
            out.append(part)
    if not out:
        raise HexmlirError("no stage given (-p stage[,stage...])", stage="opt")
    return out


def run_stages(text: str, spec: str, overrides: dict | None = None, note=None) -> str:
    """Parse `text`, run the stages `spec` names, return the printed module (its plan attributes included).
    `overrides`: Options fields; `note(msg)` receives what was skipped."""
    from . import ir as hir
    from . import pipeline, plan, targets
    note = note or (lambda m: None)
    overrides = dict(overrides or {})
    with hir.context(), hir.ir.Location.unknown():
        module = hir.parse(text)
        attrs = module.operation.attributes
        sig_text = hir.ir.StringAttr(attrs[SIGNATURE_ATTR]).value if SIGNATURE_ATTR in attrs else None
        if sig_text is not None:
            del attrs[SIGNATURE_ATTR]
        facts = plan.module_facts(module)
        if facts is not None:
            stored = facts.get("options", {}) if isinstance(facts.get("options"), dict) else {}
            base = {k: v for k, v in stored.items() if k in {f.name for f in dataclasses.fields(Options)}}
            options = Options(**{**base, **overrides})
        else:
            options = Options(**overrides)
        target = targets.get(options.target, options.arch, options.isa)
        plan.verify(module, target, options, stage="opt")
        grid = pipeline.is_grid(module)
        stages = pipeline.grid_stages() if grid else pipeline.stages()
        names = [s.name for s in stages]
        by_name = {s.name: s for s in stages}
        chosen = select(spec, names, "grid" if grid else "tensor")
        cx = pipeline.CompileContext(options, target)
        if sig_text is not None:
            cx.signature = signature_from_json(sig_text)
        after_plan = set(names[names.index("plan") + 1:])
        after_bufferize = set(names[names.index("bufferize") + 1:])
        for name in chosen:
            st = by_name[name]
            why = st.off(options, target)
            if why:
                note(f"stage {name}: {why}")
                continue
            if name in after_plan and plan.module_facts(module) is None:
                raise HexmlirError(f"stage {name} reads the plan, and the input carries none: run `plan` first "
                                   f"(-p plan,...,{name}) or give IR printed by `hexmlir opt` after `plan` "
                                   f"(it carries the {plan.PLAN_ATTR} attribute and the ops' "
                                   f"{plan.CONFIG_ATTR})", stage=name)
            if name in after_bufferize and not cx.signature:
                raise HexmlirError(f"stage {name} reads the kernel signature that `bufferize` records, and the "
                                   f"input carries none: run `bufferize` first or give IR printed by `hexmlir opt` "
                                   f"after `bufferize` (it carries the {SIGNATURE_ATTR} attribute)", stage=name)
            st.run(module, cx)
            hir.verify(module, name)
        if cx.signature:
            module.operation.attributes[SIGNATURE_ATTR] = hir.ir.StringAttr.get(
                json.dumps(cx.signature, sort_keys=True))
        return str(module)


def main(a) -> int:
    """CLI entry (argparse namespace from cli.py)."""
    from pathlib import Path
    if a.file == "-":
        text = sys.stdin.read()
    else:
        p = Path(a.file)
        if not p.is_file():
            raise HexmlirError(f"no such file: {p}")
        text = p.read_text()
    overrides = dict(parse_option(kv) for kv in a.option or [])
    out = run_stages(text, a.passes, overrides, note=lambda m: print(f"hexmlir opt: {m}", file=sys.stderr))
    if a.output and a.output != "-":
        Path(a.output).write_text(out)
    else:
        sys.stdout.write(out)
    return 0
