"""The picture of the stages, drawn from pipeline.py itself: which stage runs on which target with default
options, and the one-line comment each stage carries in pipeline.py.

    python -m hexmlir.tools.stage_map            # rewrite the table in docs/architecture.md and docs/img/stages.png

tests/test_structure.py checks that the committed table equals what the code gives, so it cannot go stale.
"""
from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

from .. import pipeline, targets
from ..options import Options

TARGETS = ("host", "npu-emu", "hexagon")
BEGIN, END = "<!-- stage-map: begin (python -m hexmlir.tools.stage_map) -->", "<!-- stage-map: end -->"


def _comments(fn) -> dict[str, str]:
    """Stage name -> the comment on its `Stage(...)` line(s) in pipeline.py."""
    src = inspect.getsource(fn)
    out = {}
    for m in re.finditer(r'Stage\("([\w-]+)"[^\n]*?(?:#\s*([^\n]*))?\n', src):
        out[m.group(1)] = (m.group(2) or "").strip()
    return out


def rows(kind: str) -> list[tuple[str, dict[str, bool], str]]:
    """(stage, {target: runs with default options}, comment) for the `kernel` or `grid` stage list."""
    fn = pipeline.stages if kind == "kernel" else pipeline.grid_stages
    notes = _comments(fn)
    tgs = {t: targets.get(t) for t in TARGETS}
    out = []
    for st in fn():
        runs = {t: st.off(Options(target=t), tg) is None for t, tg in tgs.items()}
        out.append((st.name, runs, notes.get(st.name, "")))
    return out


def table() -> str:
    lines = []
    for kind, title in (("kernel", "Linalg kernels (`stages()`)"), ("grid", "Triton grids (`grid_stages()`)")):
        lines += [f"**{title}**, default options (`x`: runs; `-`: off, the target lacks what it needs):", "",
                  "| # | stage | " + " | ".join(TARGETS) + " | what it does |",
                  "|---:|---|" + "|".join(":-:" for _ in TARGETS) + "|---|"]
        for i, (name, runs, note) in enumerate(rows(kind), 1):
            lines.append(f"| {i} | {name} | " + " | ".join("x" if runs[t] else "-" for t in TARGETS)
                         + f" | {note.replace('|', chr(92) + '|')} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def current_block(doc: str) -> str:
    return doc.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def plot(path: Path) -> None:
    """Both stage lists as columns of boxes, a box filled per target that runs the stage."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    kinds = [("kernel", "Linalg kernels"), ("grid", "Triton grids")]
    n = max(len(rows(k)) for k, _ in kinds)
    fig, ax = plt.subplots(figsize=(11, 0.42 * n + 1.2))
    colors = dict(zip(TARGETS, ("#4c72b0", "#dd8452", "#55a868")))
    for col, (kind, title) in enumerate(kinds):
        x0 = col * 5.5
        ax.text(x0 + 1.7, n + 0.3, title, ha="center", fontsize=11, weight="bold")
        for i, (name, runs, _) in enumerate(rows(kind)):
            y = n - 1 - i
            ax.add_patch(Rectangle((x0, y + 0.1), 3.4, 0.8, fill=False, lw=1))
            ax.text(x0 + 0.1, y + 0.5, f"{i + 1:2d} {name}", va="center", fontsize=9, family="monospace")
            for j, t in enumerate(TARGETS):
                ax.add_patch(Rectangle((x0 + 3.5 + 0.5 * j, y + 0.25), 0.4, 0.5,
                                       color=colors[t] if runs[t] else "#eeeeee"))
            if i:
                ax.annotate("", (x0 + 1.7, y + 0.9), (x0 + 1.7, y + 1.1), arrowprops=dict(arrowstyle="->", lw=0.6))
    ax.legend(handles=[Rectangle((0, 0), 1, 1, color=c) for c in colors.values()],
              labels=[f"runs on {t}" for t in TARGETS], loc="lower center", ncol=3, bbox_to_anchor=(0.5, -0.06),
              frameon=False)
    ax.set_xlim(-0.2, 11.2)
    ax.set_ylim(-0.5, n + 0.8)
    ax.axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    root = Path(__file__).resolve().parents[3]
    doc_path = root / "docs" / "architecture.md"
    doc = doc_path.read_text()
    if BEGIN not in doc:
        print(f"{doc_path}: no stage-map markers", file=sys.stderr)
        return 1
    head, rest = doc.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    doc_path.write_text(head + BEGIN + "\n" + table() + END + tail)
    plot(root / "docs" / "img" / "stages.png")
    print(f"wrote {doc_path} and docs/img/stages.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
