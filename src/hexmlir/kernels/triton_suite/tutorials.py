"""Generate the walkthroughs in docs/tutorials/ from real compiles.

    python3 -m hexmlir.kernels.triton_suite.tutorials [--out docs/tutorials] [NAME ...]

For each tutorial kernel: the Triton source and launcher, a host run checked against PyTorch, then one compile
for Hexagon (all mechanisms on) with HEXMLIR_DUMP_DIR set, from which the TTIR, the Linalg after conversion,
the IR after every pipeline stage and the HVX assembly are excerpted. Everything shown is what the compiler
printed; only the choice of excerpt is made here. tests/test_tutorials.py regenerates the pages and compares
their key lines (see key_lines), so a page goes stale only until the tests run.
"""
from __future__ import annotations

import argparse
import collections
import inspect
import os
import re
import sys
import tempfile
from pathlib import Path

# name -> (suite entry, size, dtype name, title, introduction)
TUTORIALS = {
    "vector_add": ("add_1d", 4099, "float32", "Vector add", """\
Triton's first tutorial: each program adds one 1024-element block, and a mask keeps the last, partial block
(4099 = 4 x 1024 + 3) from reading or writing past the end. hexmlir converts the whole grid into one Linalg
function whose programs are iterations of an `scf.forall`, then applies its mechanisms to each program's
block: threads take programs, the block is staged in TCM by DMA, and the add is vectorized to 128-byte HVX
vectors."""),
    "gelu": ("gelu_tanh", 4099, "float32", "GELU (tanh form)", """\
An elementwise kernel with a transcendental: `libdevice.tanh`. hexmlir's Triton backend supplies its own
libdevice, so the call arrives in the TTIR already expanded into arithmetic (no CUDA symbol). Conversion
produces one `linalg.generic` per TTIR op; fusion merges the chain into a single loop body, and
fast-math rewrites what is left of `exp`/division into HVX-friendly polynomial code before vectorization."""),
    "softmax": ("softmax", (33, 781), "float32", "Softmax, one row per program", """\
Triton's softmax tutorial: each program loads one row (781 columns, padded to a 1024-wide block with `-inf`
under the mask), subtracts the row max, exponentiates, and divides by the row sum. The two reductions arrive
as `linalg.reduce` over the block (canonicalize generalizes them to reduction generics); the division by the
sum becomes a multiplication by a Newton-Raphson reciprocal under fast-math."""),
    "matmul": ("matmul", (37, 70, 100), "float32", "Matmul with tl.dot", """\
Triton's matmul tutorial: grouped program ordering (GROUP_SIZE_M rows of blocks walked column by column),
pointer increments along K and masks on the K tail (100 = 3 x 32 + 4). `tl.dot` becomes `linalg.matmul` on
the 32x32x32 blocks inside an `scf.for` over K whose iteration arguments carry the accumulator and the
advancing pointers."""),
    "flash_attention": ("flash_attention_causal", (1, 2, 100, 64), "float32", "Flash attention (causal)", """\
The forward pass of flash attention in the style of Triton's tutorial: a 32-row block of queries walks the
key/value blocks up to the diagonal, keeping a running max and running sum (online softmax, with `exp2`), and
accumulates `P @ V` with a second `tl.dot`. N_CTX = 100 is not a multiple of the 32-wide blocks: rows and
columns past the end are masked."""),
}

# What to show of each pipeline stage: the region around the first line matching its anchor.
STAGE_ANCHORS = {
    "canonicalize": r"linalg\.(generic|matmul|reduce)",
    "fusion": r"= linalg\.generic",
    "plan": r"hexmlir\.[a-z_]+\s*=",
    "fast-math": r"arith\.bitcast|arith\.select",
    "bufferize": r"memref\.alloc|linalg\.generic",
    "threads": r"__hx_parallel|scf\.parallel|scf\.forall",
    "tcm-stage": r"memref<[^>]*, 1>|tcm",
    "hoist-buffers": r"memref\.alloc",
    "vectorize": r"vector\.(transfer_read|load|fma|contract)",
    "dma": r"dma",
    "double-buffer": r"dma|wait",
    "lower-to-llvm": r"vector<\d+x",
}
OP_FAMILIES = ["linalg.generic", "linalg.matmul", "linalg.reduce", "scf.forall", "scf.for", "vector.", "memref.alloc",
               "func.call", "llvm.call"]
HVX_LINE = re.compile(r"\bv\d+(?::\d+)?(?:\.[a-z0-9]+)?\s*=|vmem[u]?\(")


def _strip_locs(line: str) -> str:
    """The line without its ` loc(...)` annotations (balanced parentheses; `memref.alloc()` is not one)."""
    while (i := line.find(" loc(")) >= 0:
        depth, j = 0, i + 4
        for j in range(i + 4, len(line)):
            depth += {"(": 1, ")": -1}.get(line[j], 0)
            if depth == 0:
                break
        line = line[:i] + line[j + 1:]
    return line


def _clean(ir: str) -> list[str]:
    """IR lines without location info, #loc aliases and blank lines."""
    return [_strip_locs(line).rstrip() for line in ir.splitlines() if line.strip() and not line.startswith("#loc")]


def _cap(lines: list[str], n: int) -> str:
    if len(lines) <= n:
        return "\n".join(lines)
    return "\n".join(lines[:n] + [f"    // ... {len(lines) - n} more lines"])


def _window(lines: list[str], anchor: str, n: int = 28) -> str:
    """n lines from (a little before) the first line matching anchor, constants left out."""
    body = [l for l in lines if "arith.constant" not in l and not l.lstrip().startswith("#map")]
    idx = next((i for i, l in enumerate(body) if re.search(anchor, l)), None)
    if idx is None:
        return _cap(body, n)
    start = max(0, idx - 3)
    return _cap(body[start:], n)


def _op_counts(text: str) -> list[int]:
    return [len(re.findall(re.escape(op) + (r"" if op.endswith(".") else r"\b"), text)) for op in OP_FAMILIES]


def _hvx_excerpt(asm: str, n: int = 40) -> tuple[str, int, list[tuple[str, int]]]:
    """The n-line window of code with the most HVX instructions, the total HVX instruction count and the most
    frequent HVX mnemonics."""
    code = [line.rstrip() for line in asm.splitlines()
            if line.strip() and not line.lstrip().startswith(("//", ".p2align", ".loc", ".cfi", "#", ".file"))]
    is_hvx = [1 if HVX_LINE.search(line) else 0 for line in code]
    best = max(range(max(1, len(code) - n + 1)), key=lambda i: sum(is_hvx[i:i + n]))
    hvx = [l for l in code if HVX_LINE.search(l)]
    mnem = collections.Counter()
    for l in hvx:
        m = re.search(r"=\s*(v\w+)\(", l) or re.search(r"(vmem[u]?)\(", l)
        if m:
            mnem[m.group(1)] += 1
    return "\n".join(code[best:best + n]), len(hvx), mnem.most_common(8)


def generate(name: str, out_dir: Path) -> Path:
    import torch

    import hexmlir.frontends.triton as hxt
    from . import SUITE, torch_generator
    entry_name, size, dtype_name, title, intro = TUTORIALS[name]
    e = SUITE[entry_name]
    dtype = getattr(torch, dtype_name)
    inputs = e.make_inputs(torch_generator(0), size, dtype)
    err = e.check(e.run(*inputs), e.reference(*inputs), dtype)

    with tempfile.TemporaryDirectory(prefix="hexmlir-tutorial-") as d:
        # a real compile even if this kernel was built before: fresh Triton cache, empty in-memory JIT cache
        # (HEXMLIR_DUMP_DIR makes hexmlir itself skip its cache)
        saved = {k: os.environ.get(k) for k in ("HEXMLIR_DUMP_DIR", "TRITON_CACHE_DIR")}
        os.environ.update(HEXMLIR_DUMP_DIR=d, TRITON_CACHE_DIR=str(Path(d, "triton-cache")))
        e.kernel.device_caches.clear()
        try:
            (compiled,) = e.compile_only(*inputs, target="hexagon")
        finally:
            e.kernel.device_caches.clear()
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        art = hxt.artifact(compiled)
        dumps = sorted(p for p in Path(d).iterdir() if re.match(r"\d\d-.*\.mlir$", p.name))
        stages = [(p.name[3:-5], p.read_text()) for p in dumps]
        asm = Path(d, "91-target.s").read_text()

    ttir = _clean(compiled.asm["ttir"])
    linalg = _clean(compiled.asm["linalg"])
    src = inspect.getsource(e.kernel.fn)
    launcher = inspect.getsource(e.run)
    mod = e.kernel.fn.__module__
    rel = mod.replace(".", "/") + ".py"
    fence = "```"
    md = [f"# Tutorial: {title}", "",
          f"<!-- generated by `python3 -m hexmlir.kernels.triton_suite.tutorials {name}`; do not edit -->", "",
          intro, "",
          f"Regenerate this page: `python3 -m hexmlir.kernels.triton_suite.tutorials --out docs/tutorials {name}`.",
          "", "## 1. The Triton kernel", "",
          f"Suite entry `{entry_name}` (`src/{rel}`); size {size}, {dtype_name}.", "",
          f"{fence}python", src.rstrip(), fence, "",
          "The launcher allocates the output and launches the grid; launch keywords are hexmlir options:", "",
          f"{fence}python", launcher.rstrip(), fence, "",
          "## 2. Running it", "",
          f"{fence}python",
          "from hexmlir.kernels.triton_suite import SUITE, torch_generator",
          f"e = SUITE[{entry_name!r}]",
          f"x = e.make_inputs(torch_generator(0), {size!r}, torch.{dtype_name})",
          "e.check(e.run(*x), e.reference(*x), torch." + dtype_name + ")   # host, all mechanisms on",
          "e.compile_only(*x, target=\"hexagon\")                    # Hexagon object, not run here",
          fence, "",
          f"On the host the result matches PyTorch with a max abs error of {err:.3g} "
          f"(tolerance rtol, atol = {e.tol.get(dtype, (0, 0))}).", "",
          "## 3. TTIR", "",
          "After Triton's own TTIR passes (inlining, canonicalization, combine, CSE); locations stripped.", "",
          f"{fence}mlir", _cap(ttir, 70), fence, "",
          "## 4. Linalg after conversion", "",
          "`hexmlir.conversion.convert_ttir`: the whole grid as one function; each program is an iteration of "
          "the `scf.forall`, its pointer arithmetic resolved into views of the arguments and masks into bounded "
          "subviews.", "",
          f"{fence}mlir", _cap(linalg, 70), fence, "",
          "## 5. Through the pipeline", "",
          "Hexagon target, all mechanisms on. Key operations after each stage:", "",
          "| stage | " + " | ".join(f"`{op}`" for op in OP_FAMILIES) + " | lines |",
          "|---|" + "---|" * (len(OP_FAMILIES) + 1)]
    for st, text in stages:
        md.append(f"| {st} | " + " | ".join(str(c) for c in _op_counts(text)) + f" | {len(_clean(text))} |")
    md.append("")
    for (_, prev), (st, text) in zip(stages, stages[1:]):
        if _clean(prev) == _clean(text):
            md += [f"### {st}", "", "No change for this kernel.", ""]
            continue
        md += [f"### {st}", "", f"{fence}mlir", _window(_clean(text), STAGE_ANCHORS.get(st, r"\S")), fence, ""]
    excerpt, n_hvx, mnem = _hvx_excerpt(asm)
    md += ["## 6. HVX assembly", "",
           f"`kernel.s` for Hexagon {art.meta['arch']} "
           f"({', '.join(art.meta['features'])}): {n_hvx} HVX instructions; most frequent: "
           + ", ".join(f"`{m}` x{c}" for m, c in mnem) + ".", "",
           f"The {40}-line stretch of code with the most HVX instructions:", "",
           f"{fence}asm", excerpt, fence, ""]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.md"
    path.write_text("\n".join(md))
    return path


def key_lines(md: str) -> list[str]:
    """What must not go stale: the headings, the Triton source and launcher, and the stage table's stage names."""
    keys, in_py = [], False
    for line in md.splitlines():
        if line.startswith("#"):
            keys.append(line)
        elif line.startswith("```python"):
            in_py = True
        elif line.startswith("```"):
            in_py = False
        elif in_py:
            keys.append(line)
        elif line.startswith("| ") and not line.startswith("| stage"):
            keys.append(line.split("|")[1].strip())
    return keys


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*")
    ap.add_argument("--out", default="docs/tutorials")
    a = ap.parse_args(argv)
    for name in a.names or list(TUTORIALS):
        if name not in TUTORIALS:
            print(f"unknown tutorial {name}; one of {', '.join(TUTORIALS)}", file=sys.stderr)
            return 2
        print(generate(name, Path(a.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
