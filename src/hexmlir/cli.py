"""`hexmlir` command line: compile, explain, opt, profile, demo, bench."""
from __future__ import annotations

import argparse
import sys

from . import targets
from .errors import HexmlirError
from .options import Options


def _add_option_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", default="host", choices=list(targets.NAMES))
    p.add_argument("--isa", default="auto", help="host/npu-emu x86-64 level: auto (this CPU's), x86-64-v3, x86-64-v4")
    p.add_argument("--arch", default="v73")
    for name in ("vectorize", "register-tiling", "pack-b", "fusion", "tcm-tiling", "fast-math", "multithread", "dma",
                 "double-buffer"):
        p.add_argument(f"--no-{name}", action="store_true", help=f"turn {name} off")
    p.add_argument("--num-threads", type=int, default=0, help="hardware threads (0: target default)")
    p.add_argument("--tcm-budget", type=int, default=0, help="TCM bytes (0: target default)")
    p.add_argument("--tile-elems", type=int, default=0, help="override elements per TCM tile")
    p.add_argument("--dump-dir", default=None, help="write the IR after every stage here")


def options_from(a) -> Options:
    return Options(target=a.target, arch=a.arch, isa=getattr(a, "isa", "auto"), vectorize=not a.no_vectorize,
                   register_tiling=not a.no_register_tiling, pack_b=not a.no_pack_b, fusion=not a.no_fusion,
                   tcm_tiling=not a.no_tcm_tiling, fast_math=not a.no_fast_math,
                   multithread=not a.no_multithread, dma=not a.no_dma,
                   double_buffer=not a.no_double_buffer,
                   num_threads=a.num_threads, tcm_budget=a.tcm_budget, tile_elems=a.tile_elems,
                   dump_dir=a.dump_dir)




def _bench(a) -> int:
    import json
    import tempfile
    from pathlib import Path
    kernels = a.kernels.split(",") if a.kernels else None
    if a.repeats is None:
        a.repeats = 3 if a.which == "compile-time" else 15
    if a.which == "compile-time":
        from .bench import compile_time
        compile_time.main(a.models.split(",") if a.models else compile_time.MODELS, a.repeats,
                          a.out if a.out != "bench-results" else None)
        return 0
    if a.which == "gelu":
        from .bench.gelu import main as gelu
        gelu([int(s) for s in a.sizes.split(",")], a.repeats)
        return 0
    if a.which == "report":
        from .bench import report
        res = json.loads((Path(a.out) / "results.json").read_text())
        report.write_outputs(res, a.out)
        if a.doc:
            rel = Path(a.out).resolve().relative_to(Path(a.doc).resolve().parent) \
                if Path(a.out).resolve().is_relative_to(Path(a.doc).resolve().parent) else Path(a.out).resolve()
            report.document(res, a.doc, str(rel), Path(a.reading).read_text() if a.reading else "")
            print(a.doc)
        return 0
    if a.which == "merge":
        from .bench import suite
        suite.merge(a.parts, a.out)
        print(a.out)
        return 0
    if a.which == "models":
        from .bench import models
        names = a.models.split(",") if a.models else None
        if a.build:
            if not a.artifacts:
                raise HexmlirError("bench models --build needs --artifacts DIR")
            models.build(a.artifacts, threads=a.threads, tiny=a.tiny, models=names, dev_run=not a.no_dev_run,
                         warmup=a.warmup, repeats=a.repeats)
            return 0
        if not a.artifacts:
            raise HexmlirError("bench models needs --artifacts DIR (made by `hexmlir bench models --build`)")
        res = models.run(a.artifacts, None if a.dev else a.out, routes=a.routes.split(",") if a.routes else None,
                         models=names, warmup=a.warmup, repeats=a.repeats, procs=a.procs)
        if a.dev:                        # this machine's run travels with the artifacts (route A runs only here)
            import json
            (Path(a.artifacts) / "dev_results.json").write_text(json.dumps(res, indent=1))
            print(Path(a.artifacts) / "dev_results.json")
            return 0
        print(f"results in {a.out} (tables.md, models.csv); report: hexmlir bench merge ... / hexmlir bench report")
        return 0
    if a.which == "hexagon":
        import tempfile
        import time
        from .bench import hexagon
        t0 = time.time()
        rows = hexagon.ladder(kernels, tiny=a.tiny, sizes=None if a.tiny else hexagon.SIM_SIZES)
        print(hexagon.table(rows))
        if a.out != "bench-results" or (Path(a.out) / "results.json").exists():
            cmd = "hexmlir bench hexagon" + (" --tiny" if a.tiny else "") + (f" --kernels {a.kernels}" if a.kernels else "")
            with tempfile.TemporaryDirectory(prefix="hexmlir-static-") as td:    # float rows, from the assembly
                static = hexagon.static_rows(td)
            packets = hexagon.packets_rows(quick=a.tiny)      # integer kernels vs. auto-HVX and intrinsics
            hexagon.store(rows, Path(a.out) / "results.json", hexagon.meta(rows, 4, time.time() - t0, cmd), static,
                          packets)
        return 0
    from .bench import suite
    if a.which == "host-build":          # the host target's peers view: host rungs at 1 and N threads + IREE
        from .bench import ladder, registry
        if not a.artifacts:
            raise HexmlirError("bench host-build needs --artifacts DIR")
        ladder.build(a.artifacts, kernels=kernels or registry.HOST_SUITE, threads=a.threads, tiny=a.tiny,
                     rungs=list(ladder.HOST_RUNGS), isa=a.isa)
        return 0
    if a.which == "build":
        if not a.artifacts:
            raise HexmlirError("bench build needs --artifacts DIR")
        suite.build(a.artifacts, threads=a.threads, tiny=a.tiny, kernels=kernels, isa=a.isa)
        return 0
    art = a.artifacts
    if art is None:                      # build first (needs MLIR), into a scratch directory
        art = tempfile.mkdtemp(prefix="hexmlir-bench-")
        suite.build(art, threads=a.threads, tiny=a.tiny, kernels=kernels, isa=a.isa)
    which = {"all": ("ladder", "mt"), "ladder": ("ladder",), "host": ("ladder",), "mt-scaling": ("mt",)}[a.which]
    res = suite.run(art, a.out, a.warmup, a.repeats, peers=not a.no_peers, quick=a.tiny, which=which,
                    kernels=kernels, peer_set=a.peers.split(",") if a.peers else None)
    if a.triton:
        from .bench import report, triton_rungs
        res["ladder"] += triton_rungs.rows(a.triton.split(","), res["threads"], a.warmup, a.repeats)
        report.write_outputs(res, a.out)
    print(f"results in {a.out} (tables.md, *.csv, *.png); report: hexmlir bench report --out {a.out} "
          f"--doc docs/benchmarks.md")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="hexmlir", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compile", help="compile a Linalg .mlir file")
    c.add_argument("file")
    c.add_argument("--emit", default="so", choices=["mlir", "llvm", "asm", "obj", "so"])
    c.add_argument("-o", "--output", required=True)
    _add_option_flags(c)
    e = sub.add_parser("explain", help="print the plan (tiles, roles, vector sizes) for a .mlir file")
    e.add_argument("file")
    _add_option_flags(e)
    o = sub.add_parser("opt", help="run pipeline stages alone on IR, like mlir-opt (prints the IR)")
    o.add_argument("file", help="an .mlir file, or - for stdin")
    o.add_argument("-p", "--passes", required=True, help="stages: name[,name...] or first..last (pipeline order)")
    o.add_argument("--option", action="append", metavar="K=V", help="an Options field, e.g. multithread=false "
                   "(repeatable)")
    o.add_argument("-o", "--output", default=None, help="write the IR here (default stdout)")
    d = sub.add_parser("demo", help="compile and run real kernels; print what each mechanism buys")
    d.add_argument("--quick", action="store_true")
    pr = sub.add_parser("profile", help="run a kernel under qemu-hexagon and count executed packets "
                        "(target hexagon-sim; see docs/simulation.md)")
    pr.add_argument("file", nargs="?", help="a Linalg .mlir file (random inputs), or use --suite")
    pr.add_argument("--suite", default=None, help="a suite kernel NAME:ARG,ARG,... e.g. int_add:100003,int8 "
                    "(checked against its NumPy reference)")
    pr.add_argument("--whole", action="store_true", help="count the whole process, not only the kernel call")
    pr.add_argument("--threads", type=int, default=0, help="simulated thread-pool size (0: the build's)")
    pr.add_argument("--top", type=int, default=12, help="functions to list")
    pr.add_argument("--json", default=None, help="also write the counts as JSON here")
    _add_option_flags(pr)
    pr.set_defaults(target="hexagon-sim")
    b = sub.add_parser("bench", help="benchmarks: ablation ladder, MT scaling, peers, report (docs/benchmarks.md)")
    b.add_argument("which", nargs="?", default="all",
                   choices=["all", "ladder", "mt-scaling", "build", "host-build", "host", "report", "merge", "hexagon", "packets", "gelu",
                            "models", "compile-time"],
                   help="all/ladder/mt-scaling: run (from --artifacts DIR, else build first; building needs MLIR); "
                   "build: compile artifacts into --artifacts DIR; host-build / host: the host target at 1 and N "
                   "threads (default options, --isa) against the peers (build here, run anywhere with numpy); report: tables, plots and the doc from --out DIR; "
                   "merge: combine partial results.json files (positional) into --out; "
                   "models: the PyTorch models per route (eager, Inductor C++, route A, route B; --build here first); "
                   "hexagon: the ladder in executed packets under qemu-hexagon; packets: the Linalg suite in packets per element (docs/simulation.md); gelu: the single-thread GELU study; "
                   "compile-time: compile_model of a 2-layer hidden-128 GPT-2 and LLaMA, cold and cached (--models "
                   "gpt2,llama, --repeats, default 3; --out DIR also writes compile_time.json)")
    b.add_argument("parts", nargs="*", help="merge: results.json files, later ones win")
    b.add_argument("--triton", default=None, help="ladder: also run these Triton-suite kernels in-process "
                   "(comma-separated hexmlir.kernels.triton_suite names; needs MLIR, torch, triton)")
    b.add_argument("--artifacts", default=None, help="precompiled artifacts directory (run needs only numpy)")
    b.add_argument("--out", default="bench-results", help="results directory (JSON, CSV, markdown, PNG)")
    b.add_argument("--threads", type=int, default=16, help="build: N threads for the MT rungs")
    b.add_argument("--isa", default="x86-64-v3", help="build: x86-64 level of the host/npu-emu artifacts and IREE "
                   "(the machine they run on: x86-64-v4 for AVX-512)")
    b.add_argument("--tiny", action="store_true", help="build: test sizes (seconds, not minutes)")
    b.add_argument("--kernels", default=None, help="comma-separated registry names (default: all)")
    b.add_argument("--no-peers", action="store_true")
    b.add_argument("--peers", default=None, help="ladder/host: comma-separated subset of eager,inductor,iree "
                   "(default: all; Inductor compiles in a fresh process per thread count, the slow one)")
    b.add_argument("--warmup", type=int, default=3)
    b.add_argument("--repeats", type=int, default=None, help="timed repeats (default 15; compile-time: 3)")
    b.add_argument("--doc", default=None, help="report: write the markdown report here (e.g. docs/benchmarks.md)")
    b.add_argument("--reading", default=None, help="report: markdown file with the written reading to include")
    b.add_argument("--sizes", default="1048576,16777216", help="gelu: sizes")
    b.add_argument("--build", action="store_true", help="models: build weights, inputs and route B artifacts into "
                   "--artifacts (needs MLIR, torch-mlir), then time every route here into DIR/dev_results.json")
    b.add_argument("--no-dev-run", action="store_true", help="models --build: skip the run on this machine")
    b.add_argument("--dev", action="store_true", help="models: write this run into --artifacts DIR/dev_results.json "
                   "(the development machine's run, route A included, shown beside the device's)")
    b.add_argument("--models", default=None, help="models, compile-time: comma-separated names (default: all)")
    b.add_argument("--procs", type=int, default=3, help="models: fresh processes that each time every 1-thread "
                   "route together (0: eager and route B in this process, Inductor in its own)")
    b.add_argument("--routes", default=None, help="models: comma-separated subset of eager,inductor,A,B "
                   "(default: all; A is reported n/a where MLIR or triton is missing)")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "compile":
            from .driver import compile as hcompile
            hcompile(a.file, options_from(a), emit=a.emit, output=a.output)
            print(a.output)
        elif a.cmd == "explain":
            from .driver import explain
            print(explain(a.file, options_from(a)))
        elif a.cmd == "opt":
            from .opt import main as opt
            return opt(a)
        elif a.cmd == "demo":
            from .demo import main as demo
            demo(quick=a.quick)
        elif a.cmd == "profile":
            from .tools.profile_cli import main as profile
            profile(a, options_from(a))
        elif a.cmd == "bench" and a.which == "packets":
            from .bench.sim_packets import main as packets
            packets([])
        elif a.cmd == "bench":
            return _bench(a)
    except HexmlirError as err:
        print(f"hexmlir: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
