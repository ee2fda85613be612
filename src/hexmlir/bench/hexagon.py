"""The same ladder on Hexagon, in executed packets under qemu-hexagon (a deterministic cycle proxy).

Hook for the simulator + packet profiler (branch `sim`): a rung is compiled with
``Options(target="hexagon-sim", **rung)`` and run with ``Kernel.profile(*inputs) -> (outputs, Profile)``;
Profile.threads maps thread -> Counts(packets, insns, hvx). Rows report total packets (work, all threads) and
the busiest thread's packets (the parallel critical path, what MT shortens), and every output is checked against
the reference like the host ladder. Until that API exists the run says so (UnsupportedError), nothing is faked.
A different profiler can be passed as `profile(kernel, inputs) -> (outputs, {thread: packets})`.
"""
from __future__ import annotations

from .ladder import LADDER, rung_options
from .registry import REGISTRY, check, tolerance


def _sim_profile(kern, inputs):
    outs, prof = kern.profile(*inputs)
    per = {t: c.packets for t, c in prof.threads.items()}
    return outs, per


def ladder(kernels=None, tiny: bool = True, threads: int = 4, profile=None, arch: str = "v73", log=print,
           sizes: dict | None = None) -> list:
    """Packets per rung per kernel. tiny=True uses the test sizes (qemu is slow), `sizes` overrides per kernel
    (e.g. {"gelu": {"n": 65536}}); threads: HW threads for MT."""
    import hexmlir
    from ..errors import HexmlirError, UnsupportedError
    custom = profile is not None
    profile = profile or _sim_profile
    rows = []
    for name in kernels or list(REGISTRY):
        e = REGISTRY[name]
        k = e.kernel((sizes or {}).get(name) or (e.tiny_size if tiny else e.ladder_size))
        xs = k.random_inputs()
        refs = k.reference(*xs)
        for rung in LADDER:
            try:
                kern = hexmlir.compile(k.mlir, rung_options(rung, threads, target="hexagon-sim", arch=arch))
                if not custom and not hasattr(kern, "profile"):
                    raise UnsupportedError("this hexmlir has no packet profiler (Kernel.profile); merge branch sim")
                outs, per = profile(kern, xs)
            except HexmlirError as err:
                rows.append({"kernel": name, "rung": rung, "packets": None, "note": str(err)[:200]})
                continue
            outs = outs if isinstance(outs, (list, tuple)) else [outs]
            err = check(outs, refs, e.dtype)
            rows.append({"kernel": name, "label": e.label, "rung": rung, "threads": threads if "mt" in rung else 1,
                         "packets": sum(per.values()), "critical_packets": max(per.values()),
                         "err": err, "ok": err <= tolerance(e.dtype)})
            log(f"{name:12s} {rung:10s} {rows[-1]['critical_packets']:>12} packets (busiest thread)")
    return rows


def table(rows) -> str:
    out = ["| kernel | rung | threads | packets (all threads) | packets (busiest thread) | x prev | x scalar | check |",
           "|---|---|---:|---:|---:|---:|---:|---|"]
    for name in dict.fromkeys(r["kernel"] for r in rows):
        rs = [r for r in rows if r["kernel"] == name]
        sc = next((r for r in rs if r["rung"] == "scalar" and r["packets"]), None)
        prev = None
        for r in rs:
            if not r["packets"]:
                out.append(f"| {name} | {r['rung']} | – | not run: {r['note']} | | | | |")
                continue
            xp = prev["critical_packets"] / r["critical_packets"] if prev else None
            xs = sc["critical_packets"] / r["critical_packets"] if sc else None
            out.append(f"| {r['label']} | {r['rung']} | {r['threads']} | {r['packets']} | {r['critical_packets']} | "
                       f"{'' if xp is None else f'{xp:.2f}'} | {'' if xs is None else f'{xs:.1f}'} | "
                       f"{'ok' if r['ok'] else 'WRONG'} |")
            prev = r
    return "\n".join(out)
