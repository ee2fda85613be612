"""FileCheck tests of single pipeline stages: tests/lit/<stage>/*.mlir (docs/architecture.md, "Stage tests").

Each file's `// RUN:` lines are pipelines of `hexmlir opt ...` (run in this process, so the tier stays fast),
`FileCheck ...` (FileCheck-22 from llvm-22, else the `filecheck` Python package) and `not` (expects a
failing exit status). `%s` is the test file, `%S` its directory; `2>&1` at the end of a command sends its
stderr down the pipe too.
"""
import contextlib
import io
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

LIT = Path(__file__).parent / "lit"
TESTS = sorted(p for p in LIT.rglob("*.mlir") if "Inputs" not in p.parts)


def _filecheck() -> list[str]:
    exe = shutil.which("FileCheck-22") or shutil.which("FileCheck")
    if exe:
        return [exe]
    try:
        import filecheck  # noqa: F401
    except ImportError:
        pytest.skip("neither FileCheck-22 (llvm-22) nor the filecheck Python package is installed")
    return [sys.executable, "-m", "filecheck"]


def run_lines(path: Path) -> list[str]:
    lines, cur = [], ""
    for line in path.read_text().splitlines():
        s = line.strip()
        if not s.startswith("// RUN:"):
            continue
        cur += s[len("// RUN:"):].strip()
        if cur.endswith("\\"):
            cur = cur[:-1] + " "
            continue
        lines.append(cur)
        cur = ""
    return lines


def _hexmlir(argv: list[str], stdin: str) -> tuple[int, str, str]:
    from hexmlir.cli import main
    out, err = io.StringIO(), io.StringIO()
    old_in = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main(argv)
            except SystemExit as e:           # argparse errors
                rc = e.code if isinstance(e.code, int) else 2
    finally:
        sys.stdin = old_in
    return rc, out.getvalue(), err.getvalue()


def run_pipeline(cmd: str, path: Path) -> None:
    cmd = cmd.replace("%s", str(path)).replace("%S", str(path.parent))
    data = ""
    for seg in cmd.split("|"):
        argv = shlex.split(seg)
        expect_fail = argv[:1] == ["not"]
        argv = argv[1:] if expect_fail else argv
        merge = argv[-1:] == ["2>&1"]
        argv = argv[:-1] if merge else argv
        if argv[0] == "hexmlir":
            rc, out, err = _hexmlir(argv[1:], data)
        elif argv[0] == "FileCheck":
            p = subprocess.run(_filecheck() + argv[1:], input=data, capture_output=True, text=True)
            rc, out, err = p.returncode, p.stdout, p.stderr
        else:
            raise AssertionError(f"{path}: RUN line runs {argv[0]!r}; only hexmlir, FileCheck and not are known")
        if (rc != 0) != expect_fail:
            raise AssertionError(f"{path.relative_to(LIT)}: `{seg.strip()}` exited {rc}\n"
                                 f"--- stderr ---\n{err}\n--- stdin was ---\n{data[:4000]}")
        data = out + err if merge else out


@pytest.mark.parametrize("path", TESTS, ids=[str(p.relative_to(LIT)) for p in TESTS])
def test_lit(path):
    lines = run_lines(path)
    assert lines, f"{path} has no RUN line"
    for cmd in lines:
        run_pipeline(cmd, path)


def test_every_stage_has_a_lit_test():
    from hexmlir import pipeline
    dirs = {p.parent.name for p in TESTS}
    missing = [s.name for s in pipeline.stages() if s.name not in dirs]
    missing += [f"grid-{s.name}" for s in pipeline.grid_stages() if f"grid-{s.name}" not in dirs]
    assert not missing, f"stages without a test directory under tests/lit/: {missing}"


@pytest.mark.parametrize("target", ["host", "npu-emu"])
@pytest.mark.parametrize("kernel", ["silu.mlir", "grid_silu.mlir"])
def test_stages_one_at_a_time_equal_the_whole_pipeline(kernel, target):
    """Running each stage alone on the previous one's printed IR (the plan as IR, the signature travelling
    as an attribute) gives the same module as running them all in one go, and as compile's pipeline.run."""
    from hexmlir import opt, pipeline, targets
    from hexmlir import ir as hir
    from hexmlir.options import Options
    text = (LIT / "Inputs" / kernel).read_text()
    with hir.context():
        grid = pipeline.is_grid(hir.parse(text))
    names = [s.name for s in (pipeline.grid_stages() if grid else pipeline.stages())]
    o = {"target": target, "num_threads": 4, "tcm_budget": 65536, "mt_threshold": 1}
    notes = []
    whole = opt.run_stages(text, f"{names[0]}..{names[-1]}", o, note=notes.append)
    step = opt.run_stages(text, names[0], o)
    for n in names[1:]:
        step = opt.run_stages(step, n, o)
    assert step == whole
    # the same stages run (and are off) as in compile, whose module is the same bar opt's attributes
    options = Options(**o)
    with hir.context(), hir.ir.Location.unknown():
        module = hir.parse(text)
        cx = pipeline.run(module, options, targets.get(target, options.arch, options.isa))
        compiled = str(module)
    off = [x.split(":")[0] for x in cx.log if ": off" in x]
    assert off == [n.split(":")[0].removeprefix("stage ") for n in notes], (off, notes)
    assert target == "npu-emu" or "tcm-promote" in off or "tcm-stage" in off
    with hir.context():
        m = hir.parse(whole)
        del m.operation.attributes[opt.SIGNATURE_ATTR]     # the plan is IR in compile too (hexmlir.config)
        assert str(m) == compiled
