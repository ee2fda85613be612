"""Build everything (here, with MLIR) / run everything from an artifacts directory (anywhere, numpy only).

    hexmlir bench build DIR [--tiny] [--threads 16]       # ladder + MT sweep + overhead probes (+ IREE .vmfb)
    hexmlir bench --artifacts DIR --out RESULTS            # ladder + mt-scaling + peaks + overheads -> RESULTS
    hexmlir bench report RESULTS --doc docs/benchmarks.md  # tables, plots, the report
"""
from __future__ import annotations

import datetime
import shutil
import sys
import tempfile
from pathlib import Path

from . import ladder, mt_scaling, report
from .machine import machine, peaks

TINY_SIZES = [1000 + 37, 3 * 4096 + 5]


def build(out_dir, threads: int = 16, tiny: bool = False, kernels=None, log=print, isa: str = "auto") -> None:
    ladder.build(out_dir, kernels=kernels, threads=threads, tiny=tiny, isa=isa)
    ts = tuple(t for t in (2, 4, 8, 16, 32, 64) if t <= threads)
    mt_scaling.build(out_dir, sizes=TINY_SIZES if tiny else mt_scaling.SIZES, threads=ts or (threads,), isa=isa)
    log(f"built into {out_dir}")


def row_key(r) -> tuple:
    """What a ladder row measures: a later measurement of the same key replaces it."""
    return r["kernel"], r["impl"], r["rung"], r["threads"]


def merge_rows(old, new) -> list:
    """`old` rows that `new` does not measure again, then `new`."""
    keys = {row_key(r) for r in new}
    return [r for r in old if row_key(r) not in keys] + list(new)


def merge(paths, out_dir, log=print) -> dict:
    """Merge results.json files of runs on one machine (the host peers view, the ladder, the MT sweep,
    `bench models`, each its own command) and, first, an older results.json whose parts not measured again
    are kept (e.g. the Hexagon rows of docs/benchmarks/results.json). Later files win: ladder rows per
    (kernel, impl, rung, threads), every other top-level key whole. The commands listed ("parts") are those
    of the files that still contribute something. Rows kept from a file for a kernel that a later file measured
    too (a part that stopped early, a peer left out) are listed through `log`: they come from another run."""
    import json
    res, srcs = {}, []                                   # srcs: per file, (its commands, what it set)
    for p in paths:
        r = json.loads(Path(p).read_text())
        cmds = [{"date": r.get("date") or r.get("models_meta", {}).get("date", ""),
                 "run_cmd": r.get("run_cmd", "")}] + r.get("parts", [])
        for k, v in r.items():
            if k in ("parts", "run_cmd"):
                continue
            if k == "ladder":
                for x in v:
                    x["_src"] = len(srcs)
                res["ladder"] = merge_rows(res.get("ladder", []), v)
            elif v or k not in res:                      # an empty mt / ladder list does not erase data
                res[k] = v
                if k in ("mt", "overheads") and v:
                    for s in srcs:
                        s[1].discard(k)
        # the commands listed are those of the ladder, MT sweep and probes (models and Hexagon rows carry their own)
        srcs.append((cmds, {k for k in ("mt", "overheads") if r.get(k)}))

    def group(x):                                        # rows one command measures together
        return x["kernel"], ("peer" if x["rung"] == "peer" else "host" if x["rung"] in ladder.HOST_RUNGS else "npu")
    later = {}                                           # group -> the last file that has rows of it
    for x in res.get("ladder", []):
        later[group(x)] = max(later.get(group(x), -1), x["_src"])
    mixed = {}
    for x in res.get("ladder", []):
        if x["_src"] < later[group(x)]:
            mixed.setdefault((x["_src"], x["kernel"]), []).append(f"{x['impl']} {x['rung']} t={x['threads']}")
    for (i, k), what in mixed.items():
        log(f"merge: {k}: {len(what)} row(s) kept from {paths[i]} beside newer ones: {', '.join(what[:6])}"
            + (" ..." if len(what) > 6 else ""))
    used = {x.pop("_src") for x in res.get("ladder", [])}
    res["run_cmd"] = ""
    res["parts"] = [c for i, (cmds, parts) in enumerate(srcs) if i in used or parts
                    for c in cmds if c.get("run_cmd") or c.get("date")]
    report.write_outputs(res, out_dir)
    return res


def run(art_dir, out_dir, warmup: int = 3, repeats: int = 15, peers: bool = True, quick: bool = False,
        which=("ladder", "mt"), log=print, kernels=None, peer_set=None) -> dict:
    import json
    idx = json.loads((Path(art_dir) / "index.json").read_text())
    N = idx["threads"]
    res = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "machine": machine(), "threads": N, "warmup": warmup, "repeats": repeats, "isa": idx.get("isa"),
           "rounds": ladder.ROUNDS,
           "run_cmd": "hexmlir bench " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["bench"] else "",
           "ladder": [], "mt": []}
    log(f"machine: {res['machine']}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if (out / "results.json").exists():          # another part (other kernels, the MT sweep) into the same directory
        old = json.loads((out / "results.json").read_text())
        res.update({k: v for k, v in old.items() if k not in ("date", "run_cmd", "warmup", "repeats", "parts")})
        res["parts"] = old.get("parts", []) + ([{"date": old.get("date", ""), "run_cmd": old["run_cmd"]}]
                                               if old.get("run_cmd") else [])

    def checkpoint():
        (out / "results.json").write_text(json.dumps(res, indent=1))
    if "peaks" not in res:
        res["peaks"] = peaks(N, quick=quick, art_dir=art_dir)
        log(f"peaks: {res['peaks']}")
        checkpoint()
    if "ladder" in which:
        kept, new_rows = res.get("ladder", []), []

        def checkpoint_rows():                   # rows measured again replace the old ones, others stay
            res["ladder"] = merge_rows(kept, new_rows)
            checkpoint()
        # Inductor's compiles go to a cache under the results directory (not the user's), removed after
        cache = tempfile.mkdtemp(prefix="inductor-cache-", dir=out)
        try:
            ladder.run(art_dir, warmup, repeats, with_peers=peers, log=log, rows=new_rows,
                       checkpoint=checkpoint_rows, kernels=kernels, peer_set=peer_set or ladder.PEER_NAMES,
                       inductor_cache=cache)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        res["ladder"] = merge_rows(kept, new_rows)
    if "mt" in which:
        res["mt"] = mt_scaling.run(art_dir, warmup + 2, repeats + 6, with_peers=peers, log=log)
        checkpoint()
        res["overheads"] = mt_scaling.overheads(art_dir, repeats=51 if quick else 201, log=log)
    report.write_outputs(res, out_dir)
    return res
