"""Structure checks on hexmlir's source (no compiler run): its modules import each other without cycles,
and no code outside targets/ branches on a target's name (docs/architecture.md, "Module layering").

Import graph: every `import` / `from ... import` of a hexmlir module, at module level and inside functions
alike. A function-level import does not fail at import time, but it is still a dependency: the cycles
this test was written against (artifact -> targets/sim -> profile -> driver -> artifact; pipeline <->
fusion) were all function-level. `from pkg import name` depends on pkg.name when that is a module, else
on pkg. A module's implicit dependency on its parent package is not counted: Python runs a package's
__init__ before any submodule, so a package that re-exports its submodules is no cycle.
"""
from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
TARGET_NAMES = {"host", "npu-emu", "hexagon", "hexagon-sim"}


def _modules(src: Path, top: str) -> dict[str, tuple[Path, bool]]:
    """module name -> (file, is a package)."""
    out = {}
    for p in sorted((src / top).rglob("*.py")):
        parts = list(p.relative_to(src).with_suffix("").parts)
        pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if pkg else parts)] = (p, pkg)
    return out


def import_graph(src: Path = SRC, top: str = "hexmlir") -> dict[str, dict[str, int]]:
    """module -> {module it imports: line of the first such import}, hexmlir modules only."""
    mods = _modules(src, top)

    def owner(name: str) -> str | None:           # the longest hexmlir module that `name` starts with
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, dict[str, int]] = {m: {} for m in mods}
    for mod, (path, is_pkg) in mods.items():
        package = mod if is_pkg else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [owner(a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                    base_name = ".".join(base + ([node.module] if node.module else []))
                else:
                    base_name = node.module or ""
                for a in node.names:
                    sub = f"{base_name}.{a.name}"
                    targets.append(sub if sub in mods else owner(base_name))
            for t in targets:
                if t and t != mod:
                    graph[mod].setdefault(t, node.lineno)
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(graph[w])))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def _describe(graph, comps) -> str:
    lines = []
    for comp in comps:
        lines.append("cycle among " + ", ".join(comp) + ":")
        members = set(comp)
        for m in comp:
            lines += [f"  {m} imports {t} (line {ln})" for t, ln in sorted(graph[m].items()) if t in members]
    return "\n".join(lines)


def test_hexmlir_imports_have_no_cycle():
    graph = import_graph()
    assert len(graph) > 100 and "hexmlir.driver" in graph["hexmlir.tools.profile_cli"]   # the walk sees them
    comps = cycles(graph)
    assert not comps, ("import cycles (move the analysis or tool out of the lower module, or the shared "
                       "helper down):\n" + _describe(graph, comps))


def test_cycle_check_catches_function_level_and_package_cycles(tmp_path):
    """The checker itself: a cycle through a function-level import and one through `from . import name` are
    found; a package re-exporting its submodules is not a cycle."""
    pkg = tmp_path / "p"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .a import f\n")
    (pkg / "a.py").write_text("def f():\n    from . import b\n    return b\n")
    (pkg / "b.py").write_text("from .a import f\n")
    (pkg / "sub" / "__init__.py").write_text("from . import x\nREG = {}\n")
    (pkg / "sub" / "x.py").write_text("from .y import g\n")
    (pkg / "sub" / "y.py").write_text("def g():\n    from . import REG\n")
    (pkg / "c.py").write_text("from .sub import x\n")
    graph = import_graph(tmp_path, "p")
    assert sorted(cycles(graph)) == [["p.a", "p.b"], ["p.sub", "p.sub.x", "p.sub.y"]], graph
    (pkg / "b.py").write_text("X = 1\n")
    (pkg / "sub" / "y.py").write_text("def g():\n    pass\n")
    assert cycles(import_graph(tmp_path, "p")) == []


def _is_target_literal(node) -> bool:
    if isinstance(node, ast.Constant):
        return node.value in TARGET_NAMES
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_is_target_literal(e) for e in node.elts)
    return False


def _is_target_ref(node) -> bool:
    """`target`, `x.target`, `x.name` (a Target's name): what a branch on a target's name compares."""
    return ((isinstance(node, ast.Name) and node.id in ("target", "target_name"))
            or (isinstance(node, ast.Attribute) and node.attr in ("name", "target")))


def name_branches(root: Path) -> list[str]:
    found = []
    for p in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text(), str(p))):
            if not isinstance(node, ast.Compare):
                continue
            sides = [node.left, *node.comparators]
            if any(_is_target_literal(s) for s in sides) and any(_is_target_ref(s) for s in sides):
                found.append(f"{p.relative_to(root.parent)}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_branch_on_target_names_outside_targets():
    """Stages, the driver and the frontends read a Target's fields (scratchpad, copy_engine, hvx, runs_here,
    simulated, ...) or call its methods (Target.build); only targets/ maps names to targets."""
    root = SRC / "hexmlir"
    found = [f for f in name_branches(root) if not f.startswith("hexmlir/targets/")]
    assert not found, "branches on a target's name:\n" + "\n".join(found)


def test_name_branch_check_finds_them(tmp_path):
    (tmp_path / "m.py").write_text('if target.name == "hexagon":\n    pass\n'
                                   'sim = options.target != "hexagon-sim"\n'
                                   'bad = target not in ("host", "npu-emu")\n'
                                   'fine = a.which == "hexagon" or meta["rung"] == "host"\n')
    assert [f.split(":")[1] for f in name_branches(tmp_path)] == ["1", "3", "4"]


def test_the_stage_picture_in_architecture_md_is_current():
    """docs/architecture.md's stage table is what pipeline.py gives (regenerate: python -m hexmlir.tools.stage_map)."""
    from hexmlir.tools import stage_map
    doc = (Path(__file__).resolve().parents[1] / "docs" / "architecture.md").read_text()
    assert stage_map.current_block(doc) == stage_map.table(), \
        "docs/architecture.md's stage map is stale: python -m hexmlir.tools.stage_map"


def test_ir_attributes_are_declared_in_one_place():
    """Stages hand work on only through the attributes hexmlir/attrs.py declares: no `"hexmlir.<name>"`
    string (nor one inside an f-string's text) anywhere else in the source."""
    import re
    from hexmlir import attrs
    import hexmlir
    pat = re.compile(r"(?<![\w.`])hexmlir\.([a-z_]+)(?=$|[\s=}\"'])")
    python_names = {p.stem for p in (SRC / "hexmlir").iterdir()} | set(dir(hexmlir))   # hexmlir.artifact, ...
    found = []
    for path in sorted((SRC / "hexmlir").rglob("*.py")):
        if path.name == "attrs.py" and path.parent.name == "hexmlir":
            continue
        tree = ast.parse(path.read_text())
        docs = {id(n.body[0].value) for n in ast.walk(tree)
                if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and n.body
                and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                for m in pat.finditer(node.value):
                    if m.group(1) in python_names:
                        continue
                    found.append(f"{path.relative_to(SRC)}:{node.lineno}: {m.group(0)}")
    assert not found, "declare these in hexmlir/attrs.py and import them:\n" + "\n".join(found)
    assert attrs.ALL >= {attrs.CONFIG, attrs.ID, attrs.TILE_LOOP, attrs.GRID}
