"""Build everything (here, with MLIR) / run everything from an artifacts directory (anywhere, numpy only).

    hexmlir bench build DIR [--tiny] [--threads 16]       # ladder + MT sweep + overhead probes (+ IREE .vmfb)
    hexmlir bench --artifacts DIR --out RESULTS            # ladder + mt-scaling + peaks + overheads -> RESULTS
    hexmlir bench report RESULTS --doc docs/benchmarks.md  # tables, plots, the report
"""
from __future__ import annotations

import datetime
import sys
from pathlib import Path

from . import ladder, mt_scaling, report
from .machine import machine, peaks

TINY_SIZES = [1000 + 37, 3 * 4096 + 5]


def build(out_dir, threads: int = 16, tiny: bool = False, kernels=None, log=print, isa: str = "auto") -> None:
    ladder.build(out_dir, kernels=kernels, threads=threads, tiny=tiny, isa=isa)
    ts = tuple(t for t in (2, 4, 8, 16, 32, 64) if t <= threads)
    mt_scaling.build(out_dir, sizes=TINY_SIZES if tiny else mt_scaling.SIZES, threads=ts or (threads,))
    log(f"built into {out_dir}")


def merge(paths, out_dir) -> dict:
    """Merge results.json files of partial runs on one machine (e.g. the ladder split over two commands):
    later files win per (kernel) for the ladder, per part otherwise."""
    import json
    res = None
    for p in paths:
        r = json.loads(Path(p).read_text())
        if res is None:
            res = r
            continue
        done = {x["kernel"] for x in r.get("ladder", [])}
        res["ladder"] = [x for x in res.get("ladder", []) if x["kernel"] not in done] + r.get("ladder", [])
        for k in ("mt", "overheads"):
            if r.get(k):
                res[k] = r[k]
        for k in r:                      # `hexmlir bench models` parts (models, models_dev, their machines)
            if k.startswith("models"):
                res[k] = r[k]
        res.setdefault("parts", []).append({"date": r.get("date") or r.get("models_meta", {}).get("date", ""),
                                            "run_cmd": r.get("run_cmd", "")})
    report.write_outputs(res, out_dir)
    return res


def run(art_dir, out_dir, warmup: int = 3, repeats: int = 15, peers: bool = True, quick: bool = False,
        which=("ladder", "mt"), log=print, kernels=None, peer_set=None) -> dict:
    import json
    idx = json.loads((Path(art_dir) / "index.json").read_text())
    N = idx["threads"]
    res = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "machine": machine(), "threads": N, "warmup": warmup, "repeats": repeats,
           "run_cmd": "hexmlir bench " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["bench"] else "",
           "ladder": [], "mt": []}
    log(f"machine: {res['machine']}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if (out / "results.json").exists():          # a second run (the other half) into the same directory
        old = json.loads((out / "results.json").read_text())
        res.update({k: old[k] for k in ("ladder", "mt", "overheads", "peaks") if k in old})

    def checkpoint():
        (out / "results.json").write_text(json.dumps(res, indent=1))
    if "peaks" not in res:
        res["peaks"] = peaks(N, quick=quick)
        log(f"peaks: {res['peaks']}")
        checkpoint()
    if "ladder" in which:
        res["ladder"] = []
        ladder.run(art_dir, warmup, repeats, with_peers=peers, log=log, rows=res["ladder"], checkpoint=checkpoint,
                   kernels=kernels, peer_set=peer_set or ladder.PEER_NAMES)
    if "mt" in which:
        res["mt"] = mt_scaling.run(art_dir, warmup + 2, repeats + 6, with_peers=peers, log=log)
        checkpoint()
        res["overheads"] = mt_scaling.overheads(art_dir, repeats=51 if quick else 201, log=log)
    report.write_outputs(res, out_dir)
    return res
