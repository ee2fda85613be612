"""Results -> CSV, markdown tables, PNG plots and docs/benchmarks.md.

Everything is computed from results.json (what `hexmlir bench ... --out DIR` writes), so a run on another
machine is reported here by pointing at its results directory.
"""
from __future__ import annotations

import csv
import json
import math
import re
import statistics
from pathlib import Path

from .ladder import LADDER, NPU_RUNGS

#: side rung -> the rung its "x prev" column compares with
SIDE = {"vec+db": "vec", "vec/nodma": "vec", "vec+mt/nodma": "vec+mt"}
PUBLISHED = {"gelu_f16": 63.9, "gelu": 16.1, "rmsnorm": 46.5}
PUBLISHED_MT = {32768: 2.28, 524288: 3.95, 1048576: 3.40}
ROUTE_LABEL = {"eager": "eager", "inductor": "Inductor C++", "A": "A: Inductor->Triton->hexmlir",   # models.ROUTES
               "B": "B: Linalg, one hexmlir kernel"}


def crossover(rows, kernel: str = "gelu", margin: float = 1.15):
    """Smallest n from which the best MT variant beats single-thread vec by `margin` (above the ~5-10% spread
    of small sizes) at this and every larger size."""
    sizes = sorted({r["n"] for r in rows if r["kernel"] == kernel})
    wins = []
    for n in sizes:
        vec = [r["ms"] for r in rows if (r["kernel"], r["n"], r["rung"], r["impl"]) == (kernel, n, "vec", "hexmlir")
               and r["ms"]]
        mt = [r["ms"] for r in rows if (r["kernel"], r["n"], r["rung"]) == (kernel, n, "vec+mt") and r["ms"]]
        wins.append(bool(vec and mt and vec[0] / min(mt) >= margin))
    for i, n in enumerate(sizes):
        if all(wins[i:]):
            return n
    return None


def write_csv(rows, path) -> None:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in r.items()})


def _f(x, fmt="{:.2f}", none="–"):
    return none if x is None or (isinstance(x, float) and math.isnan(x)) else fmt.format(x)


def _get(rows, kernel, impl, rung=None, threads=None):
    for r in rows:
        if r["kernel"] == kernel and r["impl"] == impl and (rung is None or r["rung"] == rung) and \
                (threads is None or r["threads"] == threads):
            return r
    return None


def _best(rows, kernel, threads_pred, rungs=None):
    c = [r for r in rows if r["kernel"] == kernel and r["impl"] == "hexmlir" and r.get("ms")
         and threads_pred(r["threads"]) and (rungs is None or r["rung"] in rungs)]
    return min(c, key=lambda r: r["ms"]) if c else None


def ladder_table(res) -> str:
    rows = res["ladder"]
    bw = res["peaks"]["copy_GBps"]
    fl = res["peaks"]["GFLOPs"]
    ov = res.get("overheads") or {}
    out = ["| kernel | rung | threads | median ms | spread | x prev rung | x scalar | GB/s | % copy BW | "
           "GFLOP/s | % peak FLOP/s | cores busy | DMA copies/call | MT+DMA overhead est. us/call | check |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name in dict.fromkeys(r["kernel"] for r in rows):
        sc = _get(rows, name, "hexmlir", "scalar")
        prev = None
        for rung in LADDER + list(SIDE):
            r = _get(rows, name, "hexmlir", rung)
            if r is None:
                continue
            if r["ms"] is None:
                out.append(f"| {r['label']} | {rung} | {r['threads']} | failed: {r['note']} |" + " |" * 11)
                continue
            base = _get(rows, name, "hexmlir", SIDE[rung]) if rung in SIDE else prev
            t = "N" if r["threads"] > 1 else "1"
            xprev = base["ms"] / r["ms"] if base and base.get("ms") else None
            xs = sc["ms"] / r["ms"] if sc and sc.get("ms") else None
            out.append(f"| {r['label']} | {rung} | {r['threads']} | {r['ms']:.3f} | {r['spread']:.0%} | "
                       f"{_f(xprev)} | {_f(xs, '{:.1f}')} | {r['GBps']:.1f} | {100 * r['GBps'] / bw[t]:.0f}% | "
                       f"{r['GFLOPs']:.1f} | {100 * r['GFLOPs'] / fl[t]:.1f}% | {r['cpu']:.1f} | "
                       f"{_f(r.get('dma_copies'), '{:.0f}')} | {_f(_overhead_us(r, ov), '{:.0f}')} | "
                       f"{'ok' if r['ok'] else 'WRONG'} ({r['err']:.0e}) |")
            if rung in LADDER:
                prev = r
    return "\n".join(out)


def _overhead_us(r, ov):
    """The mechanisms' own cost in one call of this rung, from the separately measured probes: one fork/join at
    the rung's thread count (MT rungs) plus DMA copies x the per-copy hand-off (DMA and DB rungs). None when
    the probes are missing. Thread start-up is once per process and not included. An estimate: the probe's
    per-copy cost is the hand-off plus a 16 KiB copy, and MT divides the copies evenly over the threads."""
    if "mt" not in ov:
        return None
    us = 0.0
    if r["threads"] > 1:
        fj = ov["mt"].get(str(r["threads"])) or ov["mt"].get(r["threads"])
        if fj is None:
            return None
        us += max(0.0, fj["forkjoin_us"])
    copies = r.get("dma_copies") or 0
    if copies:
        d = ov["dma"].get("db" if r["rung"].endswith("db") else "dma")
        if d is None:
            return None
        us += copies * max(0.0, d["per_copy_us"]) / r["threads"]     # MT: the copies are spread over threads
    return us


def peers_table(res) -> str:
    """Peers against the best NPU-emulation rung (the ladder's) at 1 and N threads."""
    from .ladder import NPU_RUNGS
    rows, N = res["ladder"], res["threads"]
    impls = ["torch eager", "torch inductor", "IREE llvm-cpu"]
    head = "| kernel | hexmlir 1t ms | " + " | ".join(f"{i} 1t" for i in impls) + " | numpy 1t | " + \
        f"hexmlir {N}t ms | " + " | ".join(f"{i} {N}t" for i in impls) + " |"
    out = [head, "|---|" + "---:|" * (head.count("|") - 2)]
    notes = set()
    for name in dict.fromkeys(r["kernel"] for r in rows if r["rung"] in NPU_RUNGS):
        cells = [rows_label(rows, name)]
        for t, pred in ((1, lambda x: x == 1), (N, lambda x: x > 1)):
            b = _best(rows, name, pred, NPU_RUNGS)
            cells.append(_f(b["ms"] if b else None, "{:.3f}") + (f" ({b['rung']})" if b else ""))
            for impl in impls + (["numpy"] if t == 1 else []):
                p = _get(rows, name, impl, "peer", t)
                if p is None or p["ms"] is None:
                    cells.append("n/a")
                    if p is not None:
                        notes.add(f"{impl}: {p['note']}")
                elif b:
                    bad = " WRONG" if p.get("ok") is False else ""
                    cells.append(f"{p['ms'] / b['ms']:.2f}x{bad}")
                else:
                    cells.append("–")
        out.append("| " + " | ".join(cells) + " |")
    s = "\n".join(out)
    if notes:
        s += "\n\nPeers not measured: " + "; ".join(sorted(notes))
    return s


PEERS = ("torch eager", "torch inductor", "IREE llvm-cpu")
PEER_SHORT = {"torch eager": "eager", "torch inductor": "Inductor", "IREE llvm-cpu": "IREE"}
#: issue 14's goal: an element-wise kernel at this share of the measured N-thread copy bandwidth
COPY_GOAL = 0.8


def _goal_suite():
    from .registry import HOST_SUITE
    return HOST_SUITE


def _elementwise(name) -> bool:
    from .registry import REGISTRY
    return name in REGISTRY and REGISTRY[name].elementwise


def _host_cmp(rows, name, N):
    """Per thread count (1, N): (host row, best peer row or None, the peer rows measured)."""
    out = []
    for rung, t in (("host", 1), ("host+mt", N)):
        h = _get(rows, name, "hexmlir", rung)
        ps = [p for p in (_get(rows, name, i, "peer", t) for i in PEERS) if p and p.get("ms")]
        out.append((h if h and h.get("ms") else None, min(ps, key=lambda p: p["ms"]) if ps else None, ps))
    return out


def _host_verdict(name, cmp, bw_n, N) -> str:
    """Issue 14's goal per kernel: at least the best peer's speed at 1 and N threads, and, element-wise,
    >= COPY_GOAL of the copy bandwidth at N threads."""
    if name not in _goal_suite():
        return "(not in the goal)"
    miss = []
    for (h, best, _), t in zip(cmp, ("1t", f"{N}t")):
        if h is None or best is None:
            miss.append(f"{t} not measured")
        elif best["ms"] < h["ms"]:
            miss.append(f"{t} {best['ms'] / h['ms']:.2f}x")
    h = cmp[1][0]
    if _elementwise(name) and h is not None and h["GBps"] < COPY_GOAL * bw_n:
        miss.append(f"copy BW {100 * h['GBps'] / bw_n:.0f}%")
    return "met" if not miss else "not met: " + ", ".join(miss)


def host_peers_table(res) -> str:
    """The host target (rungs host / host+mt) against the best peer at 1 and N threads (which one), its GB/s
    at N threads and, for element-wise kernels, its share of the measured N-thread copy bandwidth; the goal
    column is issue 14's."""
    rows, N = res["ladder"], res["threads"]
    bw = res["peaks"]["copy_GBps"]
    out = [f"| kernel | host 1t ms | best peer 1t ms | best peer / host 1t | host {N}t ms | best peer {N}t ms | "
           f"best peer / host {N}t | GB/s {N}t | % copy BW {N}t | goal | check |",
           "|---|---:|---|---:|---:|---|---:|---:|---:|---|---|"]
    for name in dict.fromkeys(r["kernel"] for r in rows if r["rung"] in ("host", "host+mt")):
        cmp = _host_cmp(rows, name, N)
        cells, ok = [rows_label(rows, name)], True
        for h, best, _ in cmp:
            cells.append(_f(h["ms"] if h else None, "{:.3f}"))
            cells.append(f"{best['ms']:.3f} ({PEER_SHORT[best['impl']]})" if best else "n/a")
            cells.append(_f(best["ms"] / h["ms"] if best and h else None))
            ok = ok and (h is None or h["ok"])
        h = cmp[1][0]
        cells.append(_f(h["GBps"] if h else None, "{:.1f}"))
        cells.append(_f(100 * h["GBps"] / bw["N"] if h and _elementwise(name) else None, "{:.0f}%"))
        cells.append(_host_verdict(name, cmp, bw["N"], N))
        cells.append("ok" if ok else "WRONG")
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def host_peers_detail(res) -> str:
    """Every peer's time beside the host target's, per kernel and thread count (ms; n/a with the reason
    below the table). Inductor's first call (its compile, or its load from the run's cache) in parentheses."""
    rows, N = res["ladder"], res["threads"]
    out = ["| kernel | threads | host ms | torch eager ms | Inductor ms (first call s) | IREE ms | numpy ms |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    notes = {}
    for name in dict.fromkeys(r["kernel"] for r in rows if r["rung"] in ("host", "host+mt")):
        for rung, t in (("host", 1), ("host+mt", N)):
            h = _get(rows, name, "hexmlir", rung)
            cells = [rows_label(rows, name), str(t), _f(h["ms"] if h and h.get("ms") else None, "{:.3f}")]
            for impl in PEERS + (("numpy",) if t == 1 else ()):
                p = _get(rows, name, impl, "peer", t)
                if p is None or p.get("ms") is None:
                    cells.append("n/a" if p else "–")
                    if p is not None:
                        notes[f"{PEER_SHORT.get(impl, impl)}: {p['note']}"] = None
                    continue
                c = f"{p['ms']:.3f}" + (" WRONG" if p.get("ok") is False else "")
                if p.get("compile_s") is not None:
                    c += f" ({p['compile_s']:.1f})"
                cells.append(c)
            if t != 1:
                cells.append("–")
            out.append("| " + " | ".join(cells) + " |")
    s = "\n".join(out)
    return s + ("\n\nNot measured: " + "; ".join(notes) if notes else "")


def host_goal_summary(res) -> str:
    """One paragraph: how many of the goal's kernels meet it at 1 and N threads, and element-wise ones
    the copy-bandwidth share."""
    rows, N = res["ladder"], res["threads"]
    bw = res["peaks"]["copy_GBps"]["N"]
    names = [n for n in dict.fromkeys(r["kernel"] for r in rows if r["rung"] in ("host", "host+mt"))
             if n in _goal_suite()]
    if not names:
        return ""
    at = {1: [], N: []}
    ew = []
    for n in names:
        cmp = _host_cmp(rows, n, N)
        for (h, best, _), t in zip(cmp, (1, N)):
            if h and best:
                at[t].append(best["ms"] >= h["ms"])
        h = cmp[1][0]
        if _elementwise(n) and h:
            ew.append((rows_label(rows, n), h["GBps"] / bw))
    s = (f"Issue 14's goal, from this table: at least the best peer's speed on {sum(at[1])} of {len(names)} "
         f"kernels at 1 thread and {sum(at[N])} of {len(names)} at {N} threads")
    if ew:
        s += (f"; element-wise kernels at >= {COPY_GOAL:.0%} of the {N}-thread copy bandwidth ({bw:.1f} GB/s): "
              f"{sum(x >= COPY_GOAL for _, x in ew)} of {len(ew)} (" +
              ", ".join(f"{n} {x:.0%}" for n, x in ew) + ")")
    return s + "."


def rows_label(rows, name):
    return next(r["label"] for r in rows if r["kernel"] == name)


def mt_table(res, kernel) -> str:
    rows, N = res["mt"], res["threads"]
    ts = sorted({r["threads"] for r in rows if r["rung"] == "vec+mt"})
    head = ("| n | vec 1t ms | " + " | ".join(f"MT{t} x vec" for t in ts) +
            f" | +DB{N} x MT{N} | DB x vec (1t) | best GB/s | best / copy BW ({N}t) | eager 1t / hexmlir 1t | "
            f"eager {N}t / hexmlir {N}t |")
    out = [head, "|" + "---:|" * (head.count("|") - 1)]
    bw = res["peaks"]["copy_GBps"]["N"]
    for n in sorted({r["n"] for r in rows if r["kernel"] == kernel}):
        g = {(r["rung"], r["threads"]): r for r in rows if r["kernel"] == kernel and r["n"] == n}
        ms = lambda rung, t=1: (g.get((rung, t)) or {}).get("ms")   # noqa: E731
        v = ms("vec")
        cells = [f"{_f(v / ms('vec+mt', t)) if v and ms('vec+mt', t) else '–'}" for t in ts]
        hx = [r for r in g.values() if r["impl"] == "hexmlir" and r.get("ms")]
        best = min(hx, key=lambda r: r["ms"]) if hx else None
        db = ms("vec+mt", N) / ms("vec+mt+db", N) if ms("vec+mt", N) and ms("vec+mt+db", N) else None
        db1 = v / ms("vec+db") if v and ms("vec+db") else None
        e1, eN = ms("torch eager", 1), ms("torch eager", N)
        h1 = min([x for x in (v, ms("vec+db")) if x], default=None)
        hN = min([x for x in (ms("vec+mt", N), ms("vec+mt+db", N)) if x], default=None)
        out.append(f"| {n} | {_f(v, '{:.4f}')} | " + " | ".join(cells) + f" | {_f(db)} | {_f(db1)} | "
                   f"{_f(best['GBps'] if best else None, '{:.1f}')} | "
                   f"{_f(best['GBps'] / bw if best else None)} | "
                   f"{_f(e1 / h1 if e1 and h1 else None)} | {_f(eN / hN if eN and hN else None)} |")
    return "\n".join(out)


def overhead_table(res) -> str:
    o = res.get("overheads") or {}
    if "mt" not in o:
        return f"(not measured: {o.get('error', 'no probes')})"
    out = [f"Probe: vector add of {o['probe_elems']} f32 elements (negligible work); pool {o['pool_threads']} threads.",
           "", "| mechanism | threads | steady call us | mechanism cost us | what |", "|---|---:|---:|---:|---|"]
    out.append(f"| none (vec, DMA off) | 1 | {o['vec_nodma_us']:.2f} | – | baseline |")
    for t, m in sorted(o["mt"].items(), key=lambda kv: int(kv[0])):
        out.append(f"| MT fork/join | {t} | {m['pooled_us']:.2f} | {m['forkjoin_us']:.2f} | pool at {t} vs inline "
                   f"({m['inline_us']:.2f} us), per parallel region |")
        out.append(f"| MT thread start-up | {t} | – | {m['startup_us']:.1f} | resize pool 1->{t} + first call, "
                   f"minus a steady call (once per process) |")
    for what, m in o["dma"].items():
        name = {"dma": "synchronous DMA", "db": "DB (async DMA, ping-pong)"}[what]
        out.append(f"| {name} | 1 | {m['call_us']:.2f} | {m['per_copy_us']:.2f} per copy | "
                   f"{m['copies_per_call']:.0f} copies/call; (call - DMA-off call) / copies |")
    return "\n".join(out)


def findings(res) -> list[tuple[str, str, str]]:
    """(published finding, our measurement, verdict) computed from the run."""
    lad, mt, N = res["ladder"], res["mt"], res["threads"]
    out = []
    for k, pub in PUBLISHED.items():
        s, v = _get(lad, k, "hexmlir", "scalar"), _get(lad, k, "hexmlir", "vec")
        if s and v and s.get("ms") and v.get("ms"):
            x = s["ms"] / v["ms"]
            mt_x = None
            m = _get(lad, k, "hexmlir", "vec+mt")
            if m and m.get("ms"):
                mt_x = v["ms"] / m["ms"]
            out.append((f"Vec is the primary gain for {k}: {pub}x on HVX",
                        f"Vec {x:.1f}x over scalar" + (f"; MT{N} then adds {mt_x:.1f}x" if mt_x else ""),
                        "confirmed (Vec is the largest single-thread gain)" if x > 2 else "refuted"))
    g = [r for r in mt if r["kernel"] == "gelu"]
    if g:
        c = crossover(mt, "gelu")
        out.append(("MT pays once overhead is amortized; single-threaded wins below ~16K elements",
                    f"crossover (best MT >= 1.15x vec at this and every larger size): n = {c}",
                    "confirmed" if c and 8192 <= c <= 65536 else ("close" if c else "not observed")))
        for n, pub in PUBLISHED_MT.items():
            v = [r["ms"] for r in g if r["n"] == n and r["rung"] == "vec" and r["impl"] == "hexmlir" and r["ms"]]
            m4 = [r["ms"] for r in g if r["n"] == n and r["rung"] == "vec+mt" and r["threads"] == 4 and r["ms"]]
            mb = [r["ms"] for r in g if r["n"] == n and r["rung"] == "vec+mt" and r["ms"]]
            if v and m4:
                out.append((f"GELU MT speedup {pub}x at {n} elements (4 HW threads)",
                            f"MT4 {v[0] / m4[0]:.2f}x, best MT {v[0] / min(mb):.2f}x",
                            "confirmed" if v[0] / m4[0] >= 0.8 * pub else "weaker here"))
    one, many = [], []
    for name in dict.fromkeys(r["kernel"] for r in lad):
        v, d1 = _get(lad, name, "hexmlir", "vec"), _get(lad, name, "hexmlir", "vec+db")
        m, dN = _get(lad, name, "hexmlir", "vec+mt"), _get(lad, name, "hexmlir", "vec+mt+db")
        if v and d1 and v.get("ms") and d1.get("ms"):
            one.append(f"{name} {v['ms'] / d1['ms']:.2f}x")
        if m and dN and m.get("ms") and dN.get("ms"):
            many.append(m["ms"] / dN["ms"])
    if one:
        out.append(("DB helps between the memory-bound and compute-bound extremes",
                    "DB over Vec, 1 thread: " + ", ".join(one) +
                    (f"; over Vec+MT at {N} threads: {min(many):.2f}-{max(many):.2f}x" if many else ""),
                    "confirmed on the kernel classes (see the reading: which kernels sit where)"))
    return out


# ---------------------------------------------------------------------------------------------------------
# Plots


def plots(res, out_dir) -> list[str]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    lad = res.get("ladder") or []
    names = list(dict.fromkeys(r["kernel"] for r in lad))
    if names:
        files += _ladder_plot(plt, res, lad, names, out)
    mt = res.get("mt") or []
    kernels = list(dict.fromkeys(r["kernel"] for r in mt))
    if kernels:
        files += _mt_plot(plt, mt, kernels, out)
    if names:
        files += _roofline_plot(plt, res, lad, names, out)
    return files


def _ladder_plot(plt, res, lad, names, out) -> list[str]:
    cols = 3
    fig, axes = plt.subplots(math.ceil(len(names) / cols), cols, figsize=(5 * cols, 3.6 * math.ceil(len(names) / cols)))
    for ax, name in zip(axes.flat, names):
        rs = [_get(lad, name, "hexmlir", r) for r in LADDER]
        rs = [r for r in rs if r and r.get("ms")]
        sc = rs[0]["ms"] if rs and rs[0]["rung"] == "scalar" else None
        xs = [r["rung"] for r in rs]
        ys = [sc / r["ms"] if sc else 0 for r in rs]
        bars = ax.bar(xs, ys, color=["#999", "#4a8", "#48c", "#a4c"][:len(xs)])
        for i, (b, r) in enumerate(zip(bars, rs)):
            prev = rs[i - 1]["ms"] / r["ms"] if i else None
            ax.annotate(f"{ys[i]:.1f}x" + (f"\n({prev:.2f}x prev)" if prev else ""), (b.get_x() + b.get_width() / 2,
                        b.get_height()), ha="center", va="bottom", fontsize=8)
        ax.set_yscale("log")
        ax.set_title(rs[0]["label"] if rs else name, fontsize=10)
        ax.set_ylabel("speedup over scalar")
        ax.set_ylim(0.5, max(ys + [1]) * 4)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.suptitle(f"Ablation ladder on {res['machine']['cpus']} cores (N = {res['threads']} threads)")
    fig.tight_layout()
    fig.savefig(out / "ladder.png", dpi=90)
    plt.close(fig)
    return ["ladder.png"]


def _mt_plot(plt, mt, kernels, out) -> list[str]:
    if kernels:
        fig, axes = plt.subplots(1, len(kernels), figsize=(6 * len(kernels), 4), squeeze=False)
        for ax, k in zip(axes[0], kernels):
            sizes = sorted({r["n"] for r in mt if r["kernel"] == k})
            vec = {r["n"]: r["ms"] for r in mt if r["kernel"] == k and r["rung"] == "vec" and r["impl"] == "hexmlir"}
            for rung, t in sorted({(r["rung"], r["threads"]) for r in mt if r["kernel"] == k and
                                   r["rung"] in ("vec+mt", "vec+mt+db", "vec+db", "torch eager")}):
                pts = [(n, vec[n] / r["ms"]) for n in sizes for r in mt if r["kernel"] == k and r["n"] == n and
                       (r["rung"], r["threads"]) == (rung, t) and r.get("ms") and vec.get(n)]
                if pts:
                    ax.plot(*zip(*pts), marker="o", ls="--" if "db" in rung or "torch" in rung else "-",
                            label=f"{rung} t={t}")
            ax.axhline(1, color="k", lw=0.5)
            c = crossover(mt, k)
            if c:
                ax.axvline(c, color="r", lw=0.8, ls=":", label=f"crossover {c}")
            ax.set_xscale("log", base=2)
            ax.set_xlabel("elements")
            ax.set_ylabel("speedup over vec, 1 thread")
            ax.set_title(f"MT scaling: {k}")
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "mt_scaling.png", dpi=90)
        plt.close(fig)
    return ["mt_scaling.png"]


def _roofline_plot(plt, res, lad, names, out) -> list[str]:
    """Best hexmlir point per kernel at 1 and N threads against the measured peaks."""
    fig, ax = plt.subplots(figsize=(7, 5))
    pk = res["peaks"]
    ai = [10 ** (e / 10) for e in range(-20, 31)]
    for t, ls in (("1", ":"), ("N", "-")):
        ax.plot(ai, [min(pk["GFLOPs"][t], a * pk["copy_GBps"][t]) for a in ai], "k" + ls, lw=1,
                label=f"roof {t}t: {pk['copy_GBps'][t]:.0f} GB/s, {pk['GFLOPs'][t]:.0f} GFLOP/s")
    cmap = plt.get_cmap("tab20")
    for i, name in enumerate(names):
        for pred, mk in ((lambda x: x == 1, "o"), (lambda x: x > 1, "s")):
            b = _best(lad, name, pred)
            if b and b["GFLOPs"] > 0:
                ax.plot(b["GFLOPs"] / b["GBps"], b["GFLOPs"], mk, color=cmap(i % 20),
                        label=f"{name} {'1t' if mk == 'o' else 'Nt'}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (flop / compulsory DRAM byte)")
    ax.set_ylabel("GFLOP/s")
    ax.legend(fontsize=6, ncol=2)
    ax.set_title("Roofline (measured peaks), best hexmlir rung per kernel")
    fig.tight_layout()
    fig.savefig(out / "roofline.png", dpi=90)
    plt.close(fig)
    return ["roofline.png"]


def write_outputs(res, out_dir) -> None:
    """results.json, ladder.csv, mt_scaling.csv, tables.md and the PNGs into out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(res, indent=1))
    write_csv(res["ladder"], out / "ladder.csv") if res.get("ladder") else None
    write_csv(res["mt"], out / "mt_scaling.csv") if res.get("mt") else None
    md = []
    if any(r["rung"] in NPU_RUNGS for r in res.get("ladder", [])):
        md += ["## Ladder", "", ladder_table(res), "", "## Peers (peer time / hexmlir time; > 1: hexmlir faster)",
               "", peers_table(res), ""]
    if any(r["rung"] == "host+mt" for r in res.get("ladder", [])):
        md += ["## Host target vs peers (best peer time / host time; > 1: hexmlir faster)", "",
               host_peers_table(res), "", host_goal_summary(res), "", host_peers_detail(res), ""]
    for k in dict.fromkeys(r["kernel"] for r in res.get("mt", [])):
        md += [f"## MT scaling: {k}", "", mt_table(res, k), ""]
    if res.get("overheads"):
        md += ["## Mechanism overheads", "", overhead_table(res), ""]
    if res.get("models"):
        write_csv(res["models"], out / "models.csv")
        md += ["## PyTorch models", "", models_section(res, heading="###"), ""]
    (out / "tables.md").write_text("\n".join(md))
    plots(res, out)


HEXAGON_NOTE = """Not run yet. `hexmlir bench hexagon --out docs/benchmarks` compiles every ladder rung with
`Options(target="hexagon-sim", ...)`, runs it under qemu-hexagon with `Kernel.profile(*inputs)`, checks the
outputs against the same reference and stores the rows under `"hexagon"` in results.json; this section then
shows them. A different profiler plugs in as `hexagon.ladder(profile=fn)` with
`fn(kernel, inputs) -> (outputs, {thread: packets})`."""


HEXAGON_STATIC_NOTE = """qemu-hexagon cannot execute HVX float, so float kernels are measured from the assembly of the `hexagon`
target (one thread, `hexmlir compile --target hexagon --emit asm`) and of a clang-22 peer compiled in the same
run (`clang-22 -O3 -mhvx -mhvx-length=128b -mllvm -hexagon-autohvx -mllvm -force-vector-width=N`, with
`-mhvx-ieee-fp` on {arch}; v79 has qfloat only). f16 matmul: packets of the innermost loop with the most
multiply-accumulates per MAC (MACs = the smaller of its float product lanes and float addition lanes,
padding lanes of a partial vector included); peer `F16_MATMUL_C`, width 64. Elementwise (64K elements):
packets of the hot loop (the innermost loop with the most vector stores) per stored element. Row kernels
(64 x 1024): the whole kernel, packets a row / 1024, where packets a row = the sum over all loops of the
packets of the loop's own blocks x its runs a row (a hardware loop's immediate count x its parent's runs; a
loop advancing a pointer by a vector or more: row bytes / advance; else once per parent run), plus code
outside loops / 64 (`kernel_packets`); calls (sqrt, DMA) count one packet. The peers (`FLOAT_PEER_C`, width
32) are the same operations, order and constants written as plain C loops, a row's sums reassociable
(`#pragma clang fp reassociate`). The last two columns list the loops that carry the count (packets x runs a
row; elementwise: the hot loop). `hexmlir bench hexagon` stores these rows under `"hexagon_static"` in
results.json (`bench/hexagon.py`: `static_rows`); `python -m hexmlir.bench.hexagon [arch]` prints the table
alone. Run {date} on the development machine."""


def _hexagon_section(res) -> str:
    """Static float rows (`hexagon_static`) then the ladder (`hexagon`), each with its reading text
    (`hexagon_static_reading`, `hexagon_reading`) when results.json has one."""
    parts = []
    st = res.get("hexagon_static")
    if st:
        from .hexagon import static_table
        parts += ["### HVX float: static packets against clang auto-HVX (f16 matmul, f32 elementwise and row "
                  "kernels)", "",
                  HEXAGON_STATIC_NOTE.format(arch=st.get("arch", "v73"), date=st.get("date", "(date not stored)")), "",
                  static_table(st)]
        if res.get("hexagon_static_reading"):
            parts += ["", res["hexagon_static_reading"]]
        parts.append("")
    pk = res.get("hexagon_packets")
    if pk:
        from .sim_packets import table as packets_table
        per_mac = "int8 matmul and conv" if any(r.get("key") == "conv_i8" for r in pk["rows"]) else "int8 matmul"
        parts += [f"### Integer kernels against clang auto-HVX and HVX intrinsics ({pk.get('date', '')})", "",
                  f"Packets per element ({per_mac}: per MAC) under qemu-hexagon, single thread "
                  "(`hexmlir bench packets`, docs/simulation.md).", "", packets_table(pk["rows"]), ""]
    if st or pk:
        parts += ["### Ladder (executed packets under qemu-hexagon)", ""]
    if res.get("hexagon"):
        from .hexagon import table
        parts.append(res.get("hexagon_meta", ""))
        if res.get("hexagon_reading"):
            parts += ["", res["hexagon_reading"]]
        parts += ["", table(res["hexagon"])]
    else:
        parts.append(HEXAGON_NOTE)
    return "\n".join(parts)


def _kernels_cell(route, k) -> str:
    if not k:
        return "–"
    if route == "eager":
        return f"{k['aten']} ATen ops"
    if route == "B":
        return f"{k['hexmlir']} hexmlir"
    kind = "cpp" if route == "inductor" else "triton"
    return f"{k[kind]} {kind} + {k['extern']} extern" + (f" ({', '.join(o.split('.')[-1] for o in k['extern_ops'])})"
                                                         if k["extern"] else "")


def _paired(other, r) -> list[float]:
    """other's time / r's time in each process that timed both (1-thread rows timed in several processes)."""
    a, b = (other or {}).get("procs_ms"), r.get("procs_ms")
    if not a or not b or len(a) != len(b) or len(a) < 2:
        return []
    return sorted(x / y for x, y in zip(a, b))


def _ratio_cell(other, r) -> str:
    """other / r: over several processes the median of the per-process ratios with their range in parentheses
    (each process times the routes in turns, so its own speed level cancels from its ratio; the ratio of
    pooled medians mixes the levels and can fall outside every process's ratio), else of the medians."""
    if not other or not other.get("ms"):
        return _f(None)
    if other is r:
        return _f(1.0)
    q = _paired(other, r)
    if q:
        return f"{_f(statistics.median(q))} ({q[0]:.2f}-{q[-1]:.2f})"
    return _f(other["ms"] / r["ms"])


def models_table(rows) -> str:
    """model, route, threads, median, spread, kernels, x eager and x Inductor (their time / this route's time at
    the same thread count, same machine: > 1 means this route is faster; on rows timed in several processes,
    the median of the per-process ratios and their range in parentheses)."""
    out = ["| model | route | threads | median ms | spread | kernels | x eager | x Inductor | check |",
           "|---|---|---:|---:|---:|---|---:|---:|---|"]
    get = {(r["model"], r["route"], r["threads"]): r for r in rows}
    for r in rows:
        if r["ms"] is None:
            out.append(f"| {r['label']} | {ROUTE_LABEL.get(r['route'], r['route'])} | {r['threads']} | n/a: "
                       f"{r['note'][:160]} | | | | | |")
            continue
        e, i = get.get((r["model"], "eager", r["threads"])), get.get((r["model"], "inductor", r["threads"]))
        chk = "–" if r.get("ok") is None else (f"{'ok' if r['ok'] else 'WRONG'} ({r['err']:.0e})")
        note = f" ({r['note']})" if r.get("note") else ""
        out.append(f"| {r['label']} | {ROUTE_LABEL.get(r['route'], r['route'])}{note} | {r['threads']} | "
                   f"{r['ms']:.3f} | {r['spread']:.0%} | {_kernels_cell(r['route'], r.get('kernels'))} | "
                   f"{_ratio_cell(e, r)} | {_ratio_cell(i, r)} | {chk} |")
    return "\n".join(out)


def _machine_line(m) -> str:
    return (f"{m.get('cpu_model', '?')}, {m.get('cpus')} logical CPUs ({m.get('isa', '?')}); torch "
            f"{m.get('torch', '–')}, numpy {m.get('numpy')}, Python {m.get('python')}")


def _inputs_cell(b) -> str:
    """A model's inputs for the method text: (2, 128, 256), or int64 (2, 128) + int64 (2, 128)."""
    ins = b.get("inputs")
    if not ins or (len(ins) == 1 and ins[0][0] == "float32"):
        return str(tuple(b["shape"]))
    return " + ".join(f"{dt} {tuple(sh)}" for dt, sh in ins)


def models_section(res, heading="##") -> str:
    """The "PyTorch models" section: the run's table and the development machine's (route A) table."""
    meta = res.get("models_meta", {})
    lines = [f"Models of `hexmlir.kernels.torch_models` at their {meta.get('size', '?')} size "
             f"(inputs: " + "; ".join(f"{b['name']} {_inputs_cell(b)}" for b in meta.get("build", [])) + "): "
             "the synthetic MLP, RMSNorm + SwiGLU, conv net and GPT-2 style block, and real models of the model "
             "corpus (`kernels.model_corpus`: transformers GPT-2 and LLaMA with their LM heads and an int64 padding "
             "mask, ViT, a ResNet-18 at width 16), where run, built again from their config and loaded with the "
             "saved weights (every parameter and buffer). f32 compute. "
             f"{meta.get('repeats')} timed calls, median, spread = IQR / median"
             + (f", in {meta['rounds']} interleaved rounds (every route and thread count of a model set up first, then "
                f"timed once per round in a shuffled order, {meta.get('warmup')} warm-up calls excluded each time)"
                if meta.get("rounds") else f", {meta.get('warmup')} warm-up calls excluded, one route after the other")
             + (f"; every route's 1-thread rows on CPU {meta['one_thread_cpu']} (`timing.one_cpu`)"
                if meta.get("one_thread_cpu") is not None else "")
             + (f"; the 1-thread rows of eager, Inductor and route B timed together in each of "
                f"{meta['one_thread_procs']} fresh processes, taking turns round by round (a process's 1-thread "
                "speed on the lent machine moves as a whole from one process to the next: routes timed in "
                "different processes compare the processes); median ms over all their calls, while x eager and "
                "x Inductor are the median of the per-process ratios (paired: a process's level cancels from "
                "its own ratio), their range in parentheses" if meta.get("one_thread_procs") else "")
             + ", same input every call (the weights dominate the working set). "
             + ("Otherwise e" if meta.get("one_thread_procs") else "E") + "ager and route B run in "
             "the benchmark's process (route B: `hexmlir.load` of the saved artifact with the weights from the npz, "
             "threads via the runtime's `hx_set_num_threads`; built with threads on, "
             f"`num_threads={meta.get('build_threads')}`); Inductor C++ and route A compile per thread count in a "
             "fresh process (Inductor: `cpp.threads` and OMP_NUM_THREADS), compile time excluded. Kernels: eager = "
             "ATen ops dispatched per call; Inductor / route A = kernels in the generated code plus extern calls "
             "(ATen/MKL); route B = hexmlir kernels. x eager / x Inductor = their time / this row's time at the "
             "same thread count on the same machine (> 1: this row is faster). Every output is checked against "
             "eager (max error / max(1, |ref|) <= 1e-4).", ""]
    if res.get("models"):
        fma = meta.get("fma_GFLOPs")
        lines += [f"Run on: {_machine_line(res.get('models_machine', {}))}; {meta.get('date', '')}"
                  + (f"; its f32 vector-FMA peak {fma['1']:.0f} GFLOP/s on 1 thread, {fma['N']:.0f} on N "
                     "(`runtime.fma_peak`: the ceiling of a matmul-bound model)" if fma else "") + ".", "",
                  models_table(res["models"]), ""]
    lines += [f"{heading} Commands", "", "    # development machine (MLIR, torch-mlir, triton): weights + inputs (npz), route B artifacts "
              "(threads on, N = 16), then every route timed here, route A included, into DIR/dev_results.json",
              "    hexmlir bench models --build --artifacts .artifacts/models --threads 16 --no-dev-run",
              "    hexmlir bench models --artifacts .artifacts/models --dev",
              "    # device (numpy + torch): eager, Inductor C++, route B from the artifacts at 1 and os.cpu_count() "
              "threads; route A reported n/a",
              "    hexmlir bench models --artifacts art --out /tmp/res_models",
              "    # here: merge into the benchmark results and regenerate this document",
              "    hexmlir bench merge docs/benchmarks/results.json /tmp/res_models/results.json --out docs/benchmarks",
              "    hexmlir bench report --out docs/benchmarks --doc docs/benchmarks.md --reading docs/benchmarks/reading.md",
              ""]
    if res.get("models_dev"):
        lines += [f"{heading} On the development machine (route A needs MLIR and triton at launch, so it runs "
                  "only here)", "", f"Run on: {_machine_line(res.get('models_dev_machine', {}))}.", "",
                  models_table(res["models_dev"]), ""]
    return "\n".join(lines)


KEPT = re.compile(r"<!-- kept: ([\w-]+) -->\n.*?<!-- /kept -->\n", re.S)
#: where hand-written blocks go back in the regenerated document (any other name: at its end)
KEPT_SLOTS = ("host", "models")


def kept_blocks(text: str) -> dict[str, list[str]]:
    """Hand-written blocks of a previous document, markers included, per slot name: a block starts with a line
    `<!-- kept: NAME -->` and ends with a line `<!-- /kept -->`; `document` puts each back in its slot."""
    out: dict[str, list[str]] = {}
    for m in KEPT.finditer(text):
        out.setdefault(m.group(1), []).append(m.group(0).rstrip("\n"))
    return out


def host_section(res, kept=()) -> list[str]:
    """The "Host target vs peers" section: generated from the run's host rows, then the kept blocks."""
    N = res["threads"]
    pk = res["peaks"]["copy_GBps"]
    return [
        "## Host target vs peers",
        "",
        "The `host` target (the CPU as itself, default options: cache-sized tiles computed in place, vectors at "
        "the artifacts' ISA level" + (f" ({res['isa']})" if res.get("isa") else "") + ", threads over the outer "
        "parallel loops, no TCM or DMA "
        f"emulation; `hexmlir bench host-build`) at 1 and N = {N} threads against the best of torch eager, "
        "Inductor (C++) and IREE llvm-cpu in the same run (`hexmlir bench host`). best peer / host > 1: hexmlir "
        "faster. GB/s counts compulsory bytes (inputs read once, outputs written once); % copy BW (element-wise "
        f"kernels, issue 14's goal: >= {COPY_GOAL:.0%}) divides it by the copy bandwidth measured in the run "
        f"({pk['N']:.1f} GB/s on N threads, {pk['1']:.1f} on 1). goal: issue 14's, for its suite (at least the "
        "best peer's speed at 1 and N threads; element-wise also the copy-bandwidth share); matmul and attention "
        "are reported for the contraction work.",
        "",
        host_peers_table(res),
        "",
        host_goal_summary(res),
        "",
        "Every peer (ms, median; Inductor's first call in s in parentheses: its compile, in its own process, "
        "all kernels' compiles in parallel before anything was timed):",
        "",
        host_peers_detail(res),
        "",
    ] + [x for b in kept for x in (b, "")]


def document(res, doc_path, assets_rel: str, reading: str = "") -> None:
    """docs/benchmarks.md from a results dict; `assets_rel` is the PNG folder relative to the doc. Hand-written
    blocks of the previous document (`kept_blocks`) and its "## Compile time" section are carried over."""
    m, pk = res["machine"], res["peaks"]
    N = res["threads"]
    fnd = findings(res)
    old = Path(doc_path).read_text() if Path(doc_path).exists() else ""
    kept = kept_blocks(old)
    has_host = any(r["rung"] == "host+mt" for r in res.get("ladder", []))
    has_npu = any(r["rung"] in NPU_RUNGS for r in res.get("ladder", []))
    isa = res.get("isa")
    isa_note = f" ({isa})" if isa else ""
    cmds = [c for c in [res.get("run_cmd", "")] + [p["run_cmd"] for p in res.get("parts", [])] if c]
    lines = [
        "# Benchmarks: ablation ladder, MT scaling, peers, roofline",
        "",
        "Generated by `hexmlir bench report` from one run (results, CSVs and plots in "
        f"[{assets_rel}/]({assets_rel}/)). Do not edit the tables by hand; rerun and regenerate. Hand-written "
        "text outside the reading goes between `<!-- kept: host -->` (or `models`) and `<!-- /kept -->` lines: "
        "the report carries those blocks over.",
        "",
        "## Machine, date, commands",
        "",
        f"- Run on: {m['cpu_model']}, {m['cpus']} logical CPUs, flags: {m['isa']}; {m['platform']}",
        f"- Date: {res['date']}; Python {m['python']}, numpy {m['numpy']}, torch {m.get('torch') or '–'}, "
        f"IREE runtime {m.get('iree') or '–'}",
        f"- hexmlir artifacts built on the development machine{isa_note} with `hexmlir bench build` (the ladder, the "
        "MT sweep) and `hexmlir bench host-build` (the host target), run on the machine above with numpy only "
        "(`hexmlir bench ... --artifacts DIR`): " + "; ".join(f"`{c}`" for c in cmds),
        f"- N = {N} threads for every MT rung and every N-thread peer.",
        "",
        "## Method",
        "",
        "- Targets: the ladder and the MT sweep measure the NPU's mechanisms on the CPU (target `npu-emu`); the "
        "CPU as itself (target `host`) is measured against the peers in \"Host target vs peers\".",
        "- Rungs: scalar (vectorize off: no vector ops in the IR, LLVM's loop/SLP vectorizers off) -> +Vec "
        "(128-byte vectors) -> +Vec+MT (outer parallel loop over N threads of the runtime's pool, threading forced "
        "at any size) -> +Vec+MT+DB (ping-pong TCM sets, asynchronous DMA). Side rungs: +Vec+DB at 1 thread; "
        "vec/nodma and vec+mt/nodma keep TCM tiling but copy tiles with inline loops instead of the DMA engine.",
        "- TCM tiling with synchronous DMA is on at every rung: tiles are staged DDR -> TCM -> DDR by the runtime's "
        "DMA engine (start + immediate wait); fusion and fast-math are on everywhere.",
        f"- Timing: {res['repeats']} timed calls per row, median reported, spread = IQR / median, in "
        f"{res.get('rounds', 1)} interleaved round(s): every row of a kernel (rungs and peers at 1 and N threads, each "
        f"set up first: loaded, checked, peers compiled and waiting in their processes) is timed once per round "
        f"in a shuffled order, {res['warmup']} warm-up calls excluded each time, 50 ms apart (libgomp's threads stop "
        "spinning), so a load that passes on the shared machine is spread over every row instead of moving one "
        "(NumPy last, after the rounds: its BLAS threads spin for 0.1 s); inputs rotated over enough sets that the working set exceeds twice the last-level cache "
        "(sysfs, at least 64 MiB), so caches do not flatter small sizes. Outputs: the NPU rungs write rotated "
        "preallocated buffers; the host rungs write one output set on every call, as the peers do (they allocate per "
        "call and get back the block just freed, still cached). 'cores busy' = process CPU time / wall time over the "
        "timed calls (checks the thread count really used). One thing is timed at a time: nothing else of the "
        "benchmark runs meanwhile.",
        "- 'MT+DMA overhead est.' per call = one fork/join at the rung's thread count + DMA copies per call x "
        "the per-copy cost (divided by the threads for MT rungs), both from the probes in 'Mechanism overheads' "
        "(measured separately on a kernel with negligible work); for DB rungs it is the cost DB overlaps, not added "
        "time; thread start-up is once per process, listed there.",
        "- Every rung's output (and IREE's) is checked against a float64 NumPy reference on the first input set "
        "(max error / max(1, |ref|) <= 2e-4 f32, 2e-2 f16); the check column shows it.",
        "- Peers on the same inputs (one seed) at 1 and N threads: PyTorch eager (torch.set_num_threads, same "
        "process); torch.compile with Inductor's C++/OpenMP CPU backend and IREE llvm-cpu 3.13 each in a fresh "
        "process per thread count, because both fix their thread count at first compile / device creation "
        "(Inductor: cpp.threads and OMP_NUM_THREADS = threads; IREE: the same Linalg with named ops generalized, "
        f"built for {isa + ', as hexmlir' if isa else 'the x86-64 level of hexmlir'}'s artifacts, "
        "`--task_topology_group_count` = threads, inputs uploaded once); NumPy "
        "(single-threaded ufuncs; its matmul uses BLAS threads). Their outputs are checked too. Inductor's compiles "
        "run first, every (kernel, thread count) in a process of its own, in parallel, before anything is timed; "
        "each process then waits, compiled, until the run times it (compile time excluded). When the ladder is run without peers, the Peers table uses the peers of the "
        "host run (same machine, same session).",
        f"- Physical limits, measured in the run: copy bandwidth {pk['copy_GBps']['1']:.1f} GB/s on 1 thread and "
        f"{pk['copy_GBps']['N']:.1f} GB/s on N (best of {', '.join(pk['copy_sources'])}; read + write counted, "
        f"{pk['copy_mib']} MiB); f32 peak {pk['GFLOPs']['1']:.0f} GFLOP/s on 1 thread, {pk['GFLOPs']['N']:.0f} on N "
        f"({pk['flops_source'].replace(', 1 threads', '')})"
        + (f"; vector-FMA peak {pk['fma_GFLOPs']['1']:.0f} GFLOP/s on 1 thread, {pk['fma_GFLOPs']['N']:.0f} on N "
           "(`runtime.fma_peak`: 16 independent FMA chains of the widest vectors)" if pk.get("fma_GFLOPs") else "")
        + f". Roofline position = achieved GB/s (compulsory bytes: inputs read once, outputs "
        "written once) and GFLOP/s against these.",
        "",
        "## Findings against the published numbers",
        "",
        "| published finding | measured here | verdict |",
        "|---|---|---|",
    ] + [f"| {a} | {b} | {c} |" for a, b, c in fnd] + [
        "",
        reading,
        "",
    ]
    if has_npu:
        lines += ["## Ladder", "", f"![ladder]({assets_rel}/ladder.png)", "", ladder_table(res), "",
                  "## Peers", "", "Ratios are peer time / best hexmlir rung of the ladder (target `npu-emu`) at the "
                  "same thread count (> 1: hexmlir faster).", "", peers_table(res), ""]
    if has_host or kept.get("host"):
        lines += host_section(res, kept.get("host", [])) if has_host else \
            ["## Host target vs peers", "", "(no host rows in this run)", ""] + \
            [x for b in kept["host"] for x in (b, "")]
    lines += [
        "![roofline](" + assets_rel + "/roofline.png)",
        "",
        "## MT scaling",
        "",
        f"![mt scaling]({assets_rel}/mt_scaling.png)",
        "",
    ]
    for k in dict.fromkeys(r["kernel"] for r in res.get("mt", [])):
        lines += [f"### {k} (f32); crossover n = {crossover(res['mt'], k)}", "", mt_table(res, k), ""]
    lines += ["## Mechanism overheads, measured separately", "", overhead_table(res), "",
              "## Hexagon (executed packets under qemu-hexagon)", "", _hexagon_section(res), ""]
    if res.get("models") or res.get("models_dev") or kept.get("models"):
        lines += ["## PyTorch models", "", models_section(res, heading="###")]
        lines += [x for x in (res.get("models_reading"),) if x] + [""]
        lines += [x for b in kept.get("models", []) for x in (b, "")]
    lines += [x for slot, bs in kept.items() if slot not in KEPT_SLOTS for b in bs for x in (b, "")]
    if "\n## Compile time" in old:                 # written by `hexmlir bench compile-time`, not from these results
        lines += [old[old.index("\n## Compile time") + 1:].rstrip(), ""]
    Path(doc_path).write_text("\n".join(lines))
