"""The same ladder on Hexagon, in executed packets under qemu-hexagon (a deterministic cycle proxy).

A rung is compiled with ``Options(target="hexagon-sim", **rung)`` and run with
``Kernel.profile(*inputs) -> (outputs, Profile)``. Rows report total packets (work, all threads), the busiest
thread's packets (the parallel critical path, what MT shortens), the share of executed instructions that are
HVX, and every output is checked against the reference like the host ladder.

The simulation build has HVX float off (qemu-hexagon lacks the HVX float/qfloat instructions,
docs/simulation.md): float kernels' vector rungs run their arithmetic as scalar float code, so only the
integer kernels (`INT_KERNELS`, from the Linalg suite) measure real HVX arithmetic. `asm_mix` counts what the
vec rung's object code contains, to show which is which. A different profiler can be passed as
`profile(kernel, inputs) -> (outputs, {thread: packets})`.
"""
from __future__ import annotations

import re
import subprocess

import numpy as np

from ..kernels import linalg_suite as S
from .ladder import LADDER, rung_options
from .registry import REGISTRY, BenchKernel, check, tolerance

# Integer kernels: HVX integer arithmetic is simulated, so their vec rung is real HVX code.
INT_KERNELS: dict[str, BenchKernel] = {k.name: k for k in [
    BenchKernel("add_sat_i8", "saturating add int8", lambda n, dtype: S.int_add_sat(n, "int8"),
                {"n": 1 << 18}, {"n": 1037}, dtype="int8"),
    BenchKernel("int_add_i32", "add int32", lambda n, dtype: S.int_add(n, "int32"),
                {"n": 1 << 16}, {"n": 1037}, dtype="int32"),
    BenchKernel("dot_i8", "row dot int8 -> int32", lambda m, k, dtype: S.int8_dot(m, k),
                {"m": 64, "k": 1024}, {"m": 13, "k": 203}, dtype="int8"),
    BenchKernel("matmul_i8", "matmul int8 -> int32", lambda m, n, k, dtype: S.int8_matmul(m, n, k),
                {"m": 64, "n": 64, "k": 64}, {"m": 13, "n": 45, "k": 29}, dtype="int8"),
    BenchKernel("requantize", "requantize int32 -> int8", lambda n, dtype: S.requantize(n),
                {"n": 1 << 16}, {"n": 1037}, dtype="int32"),
]}


# Sizes for a run under qemu (a few seconds per rung; compiling and linking the simulator binary dominates)
SIM_SIZES = {**{k: {"n": 65536} for k in ("gelu", "gelu_f16", "silu", "vector_add", "exp_series")},
             **{k: {"m": 64, "n": 1024} for k in ("rmsnorm", "rmsnorm_f16", "layernorm", "softmax")},
             "attention": {"s": 128, "d": 64}, "matmul": {"m": 64, "n": 64, "k": 64},
             **{k: e.ladder_size for k, e in INT_KERNELS.items()}}


def kernels() -> dict[str, BenchKernel]:
    return {**REGISTRY, **INT_KERNELS}


def is_float(e: BenchKernel) -> bool:
    return np.issubdtype(np.dtype(e.dtype), np.floating)


def _tolerance(e: BenchKernel) -> float:
    return tolerance(e.dtype) if is_float(e) else 0.0       # integer kernels: exact


def _sim_profile(kern, inputs):
    outs, prof = kern.profile(*inputs)
    per = {t: c.packets for t, c in prof.threads.items()}
    return outs, per, {"insns": prof.insns, "hvx": prof.hvx}


_HVX = re.compile(r"\bv\d+\b|\bvmem\b|\bq[0-3]\b")
_HVX_FLOAT = re.compile(r"\.(sf|hf|qf32|qf16)\b")
_SCALAR_FLOAT = re.compile(r"\b(sf(add|sub|mpy|fma|max|min|cmp\.\w+|recipa|invsqrta|fixup\w)|df(add|sub|mpy\w*)"
                           r"|convert_(sf|df|hf|[uw]+2sf|[ud]*2df)\w*)\b")
_LANE = re.compile(r"\bv(insert|extract)\b")


def asm_mix(obj_path) -> dict:
    """Static instruction mix of a Hexagon object: instructions, HVX ones, HVX float ones (.sf/.hf/.qf*),
    scalar float ones (sfadd, sfmpy, conversions), and vinsert/vextract (scalar values moved into or out of
    vector lanes: the sign of arithmetic done in scalar registers around vector loads and stores)."""
    from ..targets.tools import tool
    objdump = tool("llvm-objdump")
    txt = subprocess.run([objdump, "-d", str(obj_path)], capture_output=True, text=True, check=True).stdout
    mix = {"insns": 0, "hvx": 0, "hvx_float": 0, "scalar_float": 0, "lane_moves": 0}
    for line in txt.splitlines():
        parts = line.split("\t")           # address:, bytes, word + packet brace, instruction
        if len(parts) < 4 or not re.fullmatch(r"\s*[0-9a-f]+:", parts[0]):
            continue
        ins = parts[3].strip().strip("{}").strip()
        if not ins or ins == "nop" or ins.startswith("immext"):
            continue
        mix["insns"] += 1
        if _HVX.search(ins):
            mix["hvx"] += 1
            mix["hvx_float"] += bool(_HVX_FLOAT.search(ins))
            mix["lane_moves"] += bool(_LANE.search(ins))
        elif _SCALAR_FLOAT.search(ins):
            mix["scalar_float"] += 1
    return mix


def ladder(kernels_=None, tiny: bool = True, threads: int = 4, profile=None, arch: str = "v73", log=print,
           sizes: dict | None = None) -> list:
    """Packets per rung per kernel. tiny=True uses the test sizes (qemu is slow), `sizes` overrides per kernel
    (e.g. {"gelu": {"n": 65536}}); threads: HW threads for MT. Kernels: the bench registry plus INT_KERNELS."""
    import hexmlir
    from ..errors import HexmlirError, UnsupportedError
    custom = profile is not None
    profile = profile or _sim_profile
    known = kernels()
    unknown = [n for n in (kernels_ or []) if n not in known]
    if unknown:
        raise HexmlirError(f"unknown kernel(s) {', '.join(unknown)}; known: {', '.join(known)}")
    rows = []
    for name in kernels_ or list(known):
        e = known[name]
        size = (sizes or {}).get(name) or (e.tiny_size if tiny else e.ladder_size)
        k = e.kernel(size)
        xs = k.random_inputs()
        refs = k.reference(*xs)
        for rung in LADDER:
            try:
                kern = hexmlir.compile(k.mlir, rung_options(rung, threads, target="hexagon-sim", arch=arch))
                if not custom and not hasattr(kern, "profile"):
                    raise UnsupportedError("this hexmlir has no packet profiler (Kernel.profile)")
                got = profile(kern, xs)
            except HexmlirError as err:
                rows.append({"kernel": name, "rung": rung, "packets": None, "note": str(err)[:200]})
                continue
            outs, per = got[0], got[1]
            extra = got[2] if len(got) > 2 else {}
            outs = outs if isinstance(outs, (list, tuple)) else [outs]
            err = check(outs, refs, e.dtype)
            row = {"kernel": name, "label": e.label, "rung": rung, "threads": threads if "mt" in rung else 1,
                   "packets": sum(per.values()), "critical_packets": max(per.values()), **extra,
                   "err": err, "ok": err <= _tolerance(e), "size": size, "float": is_float(e),
                   "hvx_float": bool(getattr(kern, "meta", {}).get("hvx_float", True))}
            if rung == "vec" and not custom:
                try:
                    row["asm"] = asm_mix(kern.path.parent / "kernel.o")
                except (OSError, subprocess.CalledProcessError, HexmlirError) as ex:
                    row["asm_note"] = str(ex)[:120]
            rows.append(row)
            log(f"{name:12s} {rung:10s} {row['critical_packets']:>12} packets (busiest thread)")
    return rows


def _label(r) -> str:
    if r.get("float") and not r.get("hvx_float", True):
        return f"{r['label']} †"
    return r["label"]


def table(rows) -> str:
    out = ["| kernel | rung | threads | packets (all threads) | packets (busiest thread) | x prev | x scalar "
           "| HVX share of executed insns | check |",
           "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for name in dict.fromkeys(r["kernel"] for r in rows):
        rs = [r for r in rows if r["kernel"] == name]
        sc = next((r for r in rs if r["rung"] == "scalar" and r["packets"]), None)
        prev = None
        for r in rs:
            if not r["packets"]:
                out.append(f"| {name} | {r['rung']} | – | not run: {r['note']} | | | | | |")
                continue
            xp = prev["critical_packets"] / r["critical_packets"] if prev else None
            xs = sc["critical_packets"] / r["critical_packets"] if sc else None
            share = f"{100 * r['hvx'] / r['insns']:.0f}%" if r.get("insns") else "–"
            out.append(f"| {_label(r)} | {r['rung']} | {r['threads']} | {r['packets']} | {r['critical_packets']} | "
                       f"{'' if xp is None else f'{xp:.2f}'} | {'' if xs is None else f'{xs:.1f}'} | {share} | "
                       f"{'ok' if r['ok'] else 'WRONG'} |")
            prev = r
    if any(r.get("float") and not r.get("hvx_float", True) for r in rows):
        out += ["", "† float kernel in a simulation build: HVX float is off (qemu-hexagon cannot execute HVX "
                "float/qfloat instructions), so its vector rungs do their float arithmetic in scalar registers; "
                "these rows do not measure HVX float code. Integer kernels run real HVX."]
    asm = [r for r in rows if r.get("asm")]
    if asm:
        out += ["", "Object code of the vec rung (static count, `llvm-objdump -d kernel.o`):", "",
                "| kernel | insns | HVX | HVX float | scalar float | vinsert/vextract |",
                "|---|---:|---:|---:|---:|---:|"]
        for r in asm:
            a = r["asm"]
            out.append(f"| {_label(r)} | {a['insns']} | {a['hvx']} | {a['hvx_float']} | {a['scalar_float']} | "
                       f"{a['lane_moves']} |")
    return "\n".join(out)


def meta(rows, threads: int, seconds: float, command: str) -> str:
    """The paragraph above the table in docs/benchmarks.md (stored as results.json's hexagon_meta)."""
    import datetime
    import platform
    sizes = "; ".join(f"{r['kernel']}: {'x'.join(str(v) for v in r['size'].values())}"
                      for r in rows if r.get("rung") == "scalar" and r.get("size"))
    bad = [f"{r['kernel']}/{r['rung']}" for r in rows if r.get("packets") and not r["ok"]]
    return (f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on the development machine "
            f"({platform.machine()}, {__import__('os').cpu_count()} cores) in {seconds / 60:.0f} min: `{command}`. "
            f"qemu-hexagon (v73), target `hexagon-sim`, {threads} threads for the MT rungs, kernel-only packet counts "
            "(between the harness's begin/end markers, all threads incl. DMA copy threads). Sizes (smaller than "
            f"the host ladder because qemu is slow): {sizes}. Packets are a deterministic cycle proxy with no "
            "memory stalls, so DB cannot show a gain here (there is no latency to hide in a functional "
            "simulator); 'busiest thread' is the MT critical path; 'HVX share' is HVX instructions / all "
            "executed instructions (all threads). "
            + ("Every output matched the reference (integer kernels exactly)." if not bad
               else f"Outputs that did NOT match: {', '.join(bad)}."))


# the packets bench's integer kernels (sim_packets): hexmlir builds vs. clang auto-HVX and HVX intrinsics
PACKETS_KERNELS = ["add_sat_i8", "add_i32", "dot_i8", "matmul_i8", "conv_i8", "requantize"]


def packets_rows(quick: bool = False, log=print) -> dict:
    """Packets per element (matmul, conv: per MAC) of the integer kernels against both C peers, in one run
    (`sim_packets.measure`); stored under "hexagon_packets" in results.json."""
    import datetime

    from .sim_packets import measure, table
    rows = measure(quick, PACKETS_KERNELS)
    log(table(rows))
    return {"date": f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC", "quick": quick,
            "rows": rows}


def store(rows, results_path, meta_text: str, static: dict | None = None, packets: dict | None = None) -> None:
    """Put the rows (replacing earlier rows of the same kernels), the meta paragraph, the static float rows
    (static_rows, when given) and the packets-vs-peers rows (packets_rows, when given) into results.json."""
    import json
    from pathlib import Path
    p = Path(results_path)
    res = json.loads(p.read_text()) if p.exists() else {}
    names = {r["kernel"] for r in rows}
    res["hexagon"] = [r for r in res.get("hexagon", []) if r["kernel"] not in names] + list(rows)
    res["hexagon_meta"] = meta_text
    if static is not None:
        res["hexagon_static"] = static
    if packets is not None:
        res["hexagon_packets"] = packets
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(res, indent=1))


# ---- static hot-loop counts from the assembly (float kernels: qemu cannot execute HVX float) --------------

_LABEL = re.compile(r"^(\.LBB\d+_\d+):")
# float additions and their f32/f16 lanes: a MAC is one product added into an accumulator lane
_VSTORE = re.compile(r"\bvmemu?\([^)]*\)(:\w+)? = v\d+(\.new)?\b")
# float multiplies and their lanes (a widening f16 multiply makes 64 products; conversions by a multiply
# with 1.0, as clang's hf -> sf, count too: macs below takes the smaller of products and additions)
_FMUL_LANES = [(re.compile(r"\.(qf32|sf) \+?= vmpy\(v\d+\.hf,v\d+\.hf\)"), 64),
               (re.compile(r"\.(qf32|sf) = vmpy\(v\d+\.(sf|qf32),v\d+\.(sf|qf32)\)"), 32),
               (re.compile(r"\.(qf16|hf) = vmpy\(v\d+\.(hf|qf16),v\d+\.(hf|qf16)\)"), 64),
               (re.compile(r"\bsfmpy\("), 1)]
_FADD_LANES = [(re.compile(r"\.(qf32|sf) \+?= vadd\(|\.(qf32|sf) \+?= vsub\("), 32),
               (re.compile(r"\.(qf16|hf) \+?= vadd\("), 64),
               (re.compile(r":\d+\.sf \+= vmpy\(v\d+\.hf,v\d+\.hf\)"), 64),     # widening multiply-accumulate
               (re.compile(r"\bsfadd\(|\bsfmpy\(\w+,\w+,\w+\)|\+= sfmpy\("), 1)]


def hot_loops(asm: str) -> list[dict]:
    """The innermost loops of a Hexagon assembly listing (LLVM's "Inner Loop Header" blocks up to the packet
    that branches back or ends the hardware loop): {"label", "packets" per iteration, "fadd_lanes": float
    lanes added per iteration}, most packets first."""
    lines = asm.splitlines()
    loops = []
    for i, ln in enumerate(lines):
        m = _LABEL.match(ln)
        # LLVM's comment lines after the label say the block heads an innermost loop
        if not m:
            continue
        head = [ln]
        for ln2 in lines[i + 1:]:
            if not ln2.strip().startswith("//"):
                break
            head.append(ln2)
        if "This Inner Loop Header" not in " ".join(head):
            continue
        label = m.group(1)
        back = re.compile(rf"jump(:\w+)? #*{re.escape(label)}\b")
        body, closing = [], False
        for ln2 in lines[i + 1:]:
            body.append(ln2)
            # the branch back may come before other instructions of its packet (a store): read to the "}"
            closing = closing or bool(back.search(ln2))
            if ":endloop0" in ln2 or (closing and ln2.strip().startswith("}")):
                break
        packets = sum(1 for b in body if b.strip() == "{")
        lanes = sum(n for b in body for pat, n in _FADD_LANES if pat.search(b))
        muls = sum(n for b in body for pat, n in _FMUL_LANES if pat.search(b))
        # spills are vector stores too: not to the stack pointer r29 or a register set from it
        stack = {"r29"} | {m.group(1) for b in body for m in [re.search(r"\b(r\d+) = add\(r29,", b)] if m}
        stores = sum(1 for b in body if _VSTORE.search(b)
                     and re.search(r"vmemu?\((r\d+)", b).group(1) not in stack)
        loops.append({"label": label, "packets": packets, "fadd_lanes": lanes, "fmul_lanes": muls,
                      "macs": min(lanes, muls), "vector_stores": stores})
    return sorted(loops, key=lambda d: -d["packets"])


def packets_per_element(asm: str, elem_bytes: int = 4) -> float | None:
    """Hot-loop packets per output element of an elementwise or row kernel: the innermost loop with the most
    vector stores (one 128-byte store = 128 / elem_bytes outputs), packets / outputs per iteration."""
    loops = [lp for lp in hot_loops(asm) if lp["vector_stores"]]
    if not loops:
        return None
    lp = max(loops, key=lambda d: (d["vector_stores"], d["packets"]))
    return lp["packets"] / (lp["vector_stores"] * 128 // elem_bytes)


def packets_per_mac(asm: str) -> float | None:
    """Hot-loop packets per multiply-accumulate of a float contraction: the innermost loop with the most
    MACs (the smaller of its float product lanes and float addition lanes per iteration), packets / MACs
    (None: no loop multiplies and adds floats)."""
    lp = mac_loop(asm)
    return None if lp is None else lp["packets"] / lp["macs"]


def mac_loop(asm: str) -> dict | None:
    """The innermost loop doing the most float multiply-accumulates per iteration (hot_loops' dict)."""
    loops = [lp for lp in hot_loops(asm) if lp["macs"]]
    return max(loops, key=lambda d: (d["macs"], -d["packets"])) if loops else None


# The clang auto-HVX peer of the f16 matmul: the plain loop nest with an f32 accumulator row (what a C
# programmer writes), compiled with the vector width forced and IEEE HVX float, as the peers are.
F16_MATMUL_C = """
void ref(const _Float16 *restrict A, const _Float16 *restrict B, _Float16 *restrict C) {
  for (int i = 0; i < M; i++) {
    float acc[N];
    for (int j = 0; j < N; j++) acc[j] = 0.f;
    for (int k = 0; k < K; k++) {
      float a = (float)A[i * K + k];
      for (int j = 0; j < N; j++) acc[j] += a * (float)B[k * N + j];
    }
    for (int j = 0; j < N; j++) C[i * N + j] = (_Float16)acc[j];
  }
}
"""
F16_MATMUL_SIZES = [(64, 64, 64), (33, 17, 65)]


def clang_autohvx_asm(src: str, workdir, arch: str = "v73", width: int = 64, defines: dict | None = None) -> str:
    """Assembly of a C peer by clang-22 -O3 auto-HVX: vector width forced, IEEE HVX float where the arch has
    it (v68-v75; v79+ are qfloat only)."""
    from pathlib import Path

    from ..targets import get
    from ..targets.tools import run, tool
    d = Path(workdir)
    d.mkdir(parents=True, exist_ok=True)
    c, s = d / "peer.c", d / "peer.s"
    c.write_text(src)
    ieee = [] if get("hexagon", arch).qfloat_only else ["-mhvx-ieee-fp"]
    run([tool("clang"), "-O3", "--target=hexagon-unknown-linux-musl", f"-mcpu=hexagon{arch}", f"-mhvx={arch}",
         "-mhvx-length=128b", *ieee, "-mllvm", "-hexagon-autohvx", "-mllvm",
         f"-force-vector-width={width}", "-ffreestanding",
         *[f"-D{k}={v}" for k, v in (defines or {}).items()], "-S", str(c), "-o", str(s)], "c-reference")
    return s.read_text()


def f16_matmul_static(workdir, arch: str = "v73", sizes=None, peer: bool = True) -> list[dict]:
    """Hot-loop packets per MAC (per multiplied-and-added lane, padding lanes included) of the f16 matmul:
    hexmlir (`hexagon` target, one thread) against the clang auto-HVX peer (`peer`), from the assembly (qemu
    cannot execute HVX float)."""
    from pathlib import Path

    import hexmlir

    from ..kernels import linalg_suite as S
    from ..options import Options
    rows = []
    Path(workdir).mkdir(parents=True, exist_ok=True)
    for m, n, k in sizes or F16_MATMUL_SIZES:
        out = Path(workdir) / f"hx_{arch}_{m}x{n}x{k}.s"
        hexmlir.compile(S.matmul(m, n, k, "float16").mlir, Options(target="hexagon", arch=arch, multithread=False),
                        emit="asm", output=str(out))
        hx = out.read_text()
        pa = clang_autohvx_asm(F16_MATMUL_C, Path(workdir) / f"c_{m}x{n}x{k}", arch,
                               defines={"M": m, "N": n, "K": k}) if peer else None
        rows.append({"kernel": "matmul_f16", "arch": arch, "size": [m, n, k], "hexmlir": packets_per_mac(hx),
                     "clang_autohvx": packets_per_mac(pa) if pa else None,
                     "hexmlir_loop": mac_loop(hx), "clang_loop": mac_loop(pa) if pa else None})
    return rows


# ---- whole-kernel packets per element (elementwise and row kernels), hexmlir and clang from the assembly --

_BLOCK = re.compile(r"^\.LBB(\d+_\d+):|^// %bb\.\d+:")
_LOOP_HEADER = re.compile(r"=>\s*This (Inner )?Loop Header: Depth=(\d+)")
_IN_LOOP = re.compile(r"in Loop: Header=BB(\d+_\d+) Depth=(\d+)")
_PARENT_LOOP = re.compile(r"Parent Loop BB(\d+_\d+) Depth=(\d+)")
_HW_COUNT = re.compile(r"loop[01]\(\.LBB(\d+_\d+),#(\d+)\)")
_SELF_ADD = re.compile(r"\b(r\d+) = add\(\1,#(-?\d+)\)")
_POST_INC = re.compile(r"\b(vmemu?|memu?[bhwd])\((r\d+)\+\+#(-?\d+)\)")


def loop_tree(asm: str) -> dict:
    """The loops of one function's listing from LLVM's loop comments: {header label ("0_7") or None (code
    outside loops): {"parent", "packets" of the loop's own blocks (child loops excluded), "body" lines}}."""
    loops = {None: {"parent": None, "packets": 0, "body": []}}
    cur, lines = None, asm.splitlines()
    for i, ln in enumerate(lines):
        m = _BLOCK.match(ln)
        if m:
            notes = [ln]
            for ln2 in lines[i + 1:]:
                if not ln2.strip().startswith("//"):
                    break
                notes.append(ln2)
            text = "\n".join(notes)
            head, inside = _LOOP_HEADER.search(text), _IN_LOOP.search(text)
            if head and m.group(1):
                cur = m.group(1)
                parents = sorted(((int(d), p) for p, d in _PARENT_LOOP.findall(text)), reverse=True)
                loops.setdefault(cur, {"parent": parents[0][1] if parents else None, "packets": 0, "body": []})
            elif inside:
                cur = inside.group(1)
                loops.setdefault(cur, {"parent": None, "packets": 0, "body": []})
            else:
                cur = None
            continue
        if ln.strip() == "{":
            loops[cur]["packets"] += 1
        loops[cur]["body"].append(ln)
    return loops


def _step_bytes(body) -> int:
    """The largest per-iteration advance of a pointer (self-add or post-increment; not the stack)."""
    stack = {"r29"} | {m.group(1) for b in body for m in [re.search(r"\b(r\d+) = add\(r29,", b)] if m}
    steps: dict[str, int] = {}
    for b in body:
        for r, imm in _SELF_ADD.findall(b):
            steps[r] = steps.get(r, 0) + int(imm)
        for kind, r, imm in _POST_INC.findall(b):
            steps[r] = steps.get(r, 0) + int(imm) * (128 if kind.startswith("vmem") else 1)
    return max((abs(v) for r, v in steps.items() if r not in stack), default=0)


def kernel_packets(asm: str, row_bytes: int, rows: int) -> tuple[float, list[dict]]:
    """Static packets per row of a whole kernel (one function's listing): the sum over its loops of the
    packets of the loop's own blocks x how often they run per row, plus the code outside loops / rows.
    How often (per row): a hardware loop with an immediate count (`loop0(.LBB, #n)`) runs n times per run of
    its parent; else a loop that advances a pointer by a vector or more per iteration walks row data,
    row_bytes / step times a row; else once per run of its parent (per-row statistics loops and tile loops
    over rows: a slight undercount). Returns (packets per row, [{"loop", "packets", "per_row", "how"}])."""
    loops = loop_tree(asm)
    hw = {lab: int(n) for lab, n in _HW_COUNT.findall(asm)}
    per_row, how = {None: 1 / rows}, {None: "once"}

    def runs(lab):
        if lab not in per_row:
            lp = loops[lab]
            if lab in hw:
                per_row[lab], how[lab] = hw[lab] * runs(lp["parent"]), f"count #{hw[lab]}"
            elif (step := _step_bytes(lp["body"])) >= 128:
                per_row[lab], how[lab] = row_bytes / step, f"steps {step} bytes"
            else:
                per_row[lab], how[lab] = runs(lp["parent"]), "once per parent"
        return per_row[lab]
    parts = [{"loop": lab, "packets": lp["packets"], "per_row": runs(lab), "how": how[lab]}
             for lab, lp in loops.items() if lp["packets"]]
    return sum(p["packets"] * p["per_row"] for p in parts), parts


def functions(asm: str) -> dict[str, str]:
    """{name: listing} of the functions in an assembly file."""
    return {m.group(1): m.group(2) for m in re.finditer(r"^(\w+):\s*// @\w+\n(.*?)\.Lfunc_end", asm, re.S | re.M)}


# The clang auto-HVX peers of the f32 elementwise and row kernels: the same operations, order and constants
# as hexmlir's kernels after fast_math (exp, the GELU tanh and SiLU's clamped exp and reciprocal; bit tricks
# through __builtin_bit_cast, SiLU's clamp by __builtin_elementwise_maximum/minimum = llvm.maximum/minimum as
# arith.maximumf/minimumf lower to; no calls), as plain loops. A row's sums may be reassociated (`#pragma clang fp
# reassociate`, as hexmlir's partial sums are); without it clang keeps them in order, one lane at a time.
FLOAT_PEER_C = r"""
#include <stdint.h>
static inline float asf(uint32_t u) { return __builtin_bit_cast(float, u); }
static inline uint32_t asu(float f) { return __builtin_bit_cast(uint32_t, f); }
static inline float expu(float x) {
  float t = x * 1.44269502f + 12582912.0f, k = t - 12582912.0f;
  float r = x - k * 0.693359375f; r = r - k * -2.12194440e-4f;
  float p = ((((0.00138131576f * r + 0.00836941227f) * r + 0.041668456f) * r + 0.166665152f) * r + 0.49999994f);
  p = r * r * p + r + 1.0f;
  return asf(asu(p) + (asu(t) << 23));
}
static inline float recip_pos(float b) {
  float y = asf(0x7EF311C3u - asu(b));
  for (int i = 0; i < 3; i++) y = y + y * (1.0f - b * y);
  return y;
}
void gelu(const float *restrict x, float *restrict y) {
  for (int i = 0; i < N; i++) {
    float v = x[i], u = (v * v * v * 0.044715f + v) * 0.797884583f;
    uint32_t sg = asu(u) & 0x80000000u; float a = asf(asu(u) & 0x7fffffffu), z = a * a;
    float P = (((((0.00173691718f * z - 0.00765722711f) * z + 0.021452019f) * z - 0.0538927205f) * z
                + 0.133326948f) * z - 0.333333164f);
    float small = a + a * (z * P), e = expu((a > 10.0f ? 10.0f : a) * -2.0f);
    float large = 1.0f - (e + e) * recip_pos(1.0f + e);
    y[i] = (asf(asu(a >= 0.75f ? large : small) | sg) + 1.0f) * v * 0.5f;
  }
}
void silu(const float *restrict x, float *restrict y) {
  for (int i = 0; i < N; i++) {
    float v = x[i], m = __builtin_elementwise_minimum(__builtin_elementwise_maximum(-v, -87.0f), 88.0f);
    float d = expu(m) + 1.0f, r = recip_pos(d);
    y[i] = v * (d > asf(0x7E7311C3u) ? 0.0f : r);
  }
}
void vector_add(const float *restrict a, const float *restrict b, float *restrict c) {
  for (int i = 0; i < N; i++) c[i] = a[i] + b[i];
}
void rmsnorm(const float *restrict x, const float *restrict w, float *restrict y) {
  for (int i = 0; i < ROWS; i++) {
    const float *xr = x + i * COLS;
    float s = 0.f;
    { _Pragma("clang fp reassociate(on)") for (int j = 0; j < COLS; j++) s += xr[j] * xr[j]; }
    float r = 1.0f / __builtin_sqrtf(s * (1.0f / COLS) + 1e-6f);
    for (int j = 0; j < COLS; j++) y[i * COLS + j] = xr[j] * r * w[j];
  }
}
void softmax(const float *restrict x, float *restrict y) {
  for (int i = 0; i < ROWS; i++) {
    const float *xr = x + i * COLS;
    float *yr = y + i * COLS, m = -__builtin_inff(), s = 0.f;
    for (int j = 0; j < COLS; j++) m = xr[j] > m ? xr[j] : m;
    { _Pragma("clang fp reassociate(on)")
      for (int j = 0; j < COLS; j++) { float e = expu(xr[j] - m); yr[j] = e; s += e; } }
    float r = 1.0f / s;
    for (int j = 0; j < COLS; j++) yr[j] = yr[j] * r;
  }
}
void layernorm(const float *restrict x, const float *restrict w, const float *restrict b, float *restrict y) {
  for (int i = 0; i < ROWS; i++) {
    const float *xr = x + i * COLS;
    float s = 0.f, v = 0.f;
    { _Pragma("clang fp reassociate(on)") for (int j = 0; j < COLS; j++) s += xr[j]; }
    float mean = s * (1.0f / COLS);
    { _Pragma("clang fp reassociate(on)") for (int j = 0; j < COLS; j++) { float d = xr[j] - mean; v += d * d; } }
    float r = 1.0f / __builtin_sqrtf(v * (1.0f / COLS) + 1e-5f);
    for (int j = 0; j < COLS; j++) y[i * COLS + j] = (xr[j] - mean) * r * w[j] + b[j];
  }
}
"""
FLOAT_N, FLOAT_ROWS, FLOAT_COLS = 65536, 64, 1024


def _float_kernels():
    from ..kernels import linalg_suite as S
    from .registry import layernorm
    n, m, c = FLOAT_N, FLOAT_ROWS, FLOAT_COLS
    return {"gelu": (S.gelu_tanh((n,)), 1, n), "silu": (S.silu((n,)), 1, n), "vector_add": (S.vector_add(n), 1, n),
            "rmsnorm": (S.rmsnorm(m, c), m, c), "softmax": (S.softmax_rows(m, c), m, c),
            "layernorm": (layernorm(m, c), m, c)}


def float_static(workdir, arch: str = "v73", kernels_=None, peer: bool = True) -> list[dict]:
    """Packets per element of the f32 elementwise kernels (64K elements; packets_per_element: the hot loop)
    and of the row kernels (64 x 1024; the whole kernel: kernel_packets per row / row length), hexmlir
    (`hexagon` target, one thread) and the clang-22 auto-HVX peer (FLOAT_PEER_C, width 32), from the assembly
    (qemu cannot execute HVX float). Elementwise kernels keep the hot-loop count: hexmlir splits the vector
    into TCM tiles walked by separate loops, which kernel_packets would count as whole-row walks each."""
    from pathlib import Path

    import hexmlir

    from ..options import Options
    Path(workdir).mkdir(parents=True, exist_ok=True)
    peers = functions(clang_autohvx_asm(FLOAT_PEER_C, Path(workdir) / f"float_c_{arch}", arch, width=32,
                                        defines={"N": FLOAT_N, "ROWS": FLOAT_ROWS, "COLS": FLOAT_COLS})) if peer else {}
    rows = []
    for name, (k, m, c) in _float_kernels().items():
        if kernels_ and name not in kernels_:
            continue
        out = Path(workdir) / f"{name}_{arch}.s"
        hexmlir.compile(k.mlir, Options(target="hexagon", arch=arch, multithread=False), emit="asm", output=str(out))
        hx = out.read_text()
        row = {"kernel": name, "arch": arch, "size": [m, c] if m > 1 else [c],
               "metric": "row" if m > 1 else "hot loop", "qf32_to_sf": len(re.findall(r"\.sf = v\d+\.qf32", hx))}
        for side, asm in (("hexmlir", hx), ("clang_autohvx", peers.get(name))):
            key = "hexmlir_loops" if side == "hexmlir" else "clang_loops"
            if asm is None:
                row[side], row[key] = None, None
            elif m > 1:
                packets, row[key] = kernel_packets(asm, 4 * c, m)
                row[side] = packets / c
            else:
                row[side] = packets_per_element(asm)
                lp = [x for x in hot_loops(asm) if x["vector_stores"]]
                lp = max(lp, key=lambda d: (d["vector_stores"], d["packets"])) if lp else None
                row[key] = [{"loop": lp["label"], "packets": lp["packets"],
                             "per_row": c / (lp["vector_stores"] * 32), "how": "hot loop"}] if lp else None
        rows.append(row)
    return rows


QF32_ARCH = "v79"           # qfloat only (no IEEE HVX float): the f16 matmul's qf32 variant


def static_rows(workdir, arch: str = "v73") -> dict:
    """The static float rows `hexmlir bench hexagon` stores under "hexagon_static" in results.json: the f16
    matmul against clang's peer on `arch`, its qf32 variant (64^3 on v79, no peer), and the f32 elementwise
    and row kernels against their clang peers on `arch` ("float") and on v79 ("float_qf32")."""
    import datetime
    return {"arch": arch, "date": f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
            "matmul_f16": f16_matmul_static(workdir, arch),
            "matmul_f16_qf32": f16_matmul_static(workdir, QF32_ARCH, sizes=[F16_MATMUL_SIZES[0]], peer=False),
            "float": float_static(workdir, arch), "float_qf32": float_static(workdir, QF32_ARCH)}


def _f(v, digits: int) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _loops_cell(parts) -> str:
    """The loops that carry the count: packets x runs per row, largest first."""
    top = sorted((p for p in parts or [] if p["loop"] is not None),
                 key=lambda p: -p["packets"] * p["per_row"])[:3]
    return ", ".join(f"{p['packets']} x {p['per_row']:g}" for p in top)


def static_table(st: dict) -> str:
    """The static float table of docs/benchmarks.md (from static_rows' dict)."""
    arch = st.get("arch", "v73")
    out = [f"| kernel | hexmlir | clang-22 auto-HVX (IEEE HVX on {arch}) | hexmlir / clang | hexmlir: packets x runs "
           "a row | clang: packets x runs a row |", "|---|---:|---:|---:|---|---|"]
    qf = st.get("matmul_f16_qf32", [])
    for r in [*st.get("matmul_f16", []), *qf]:
        lp = r["hexmlir_loop"]
        loop = f"{lp['packets']} packets / {lp['macs']} MACs" if lp else "no MAC loop"
        cl = r.get("clang_loop")
        cloop = f"{cl['packets']} packets / {cl['macs']} MACs" if cl else ""
        ratio = r["hexmlir"] / r["clang_autohvx"] if r.get("hexmlir") and r.get("clang_autohvx") else None
        out.append(f"| f16 matmul {'x'.join(map(str, r['size']))} on {r['arch']}{' (qf32)' if r in qf else ''}, "
                   f"packets/MAC | {_f(r['hexmlir'], 4)} | {_f(r['clang_autohvx'], 3)} | {_f(ratio, 2)} | {loop} | "
                   f"{cloop} |")
    for r in [*st.get("float", []), *st.get("float_qf32", [])]:
        ratio = r["hexmlir"] / r["clang_autohvx"] if r.get("hexmlir") and r.get("clang_autohvx") else None
        out.append(f"| {r['kernel']} f32 {'x'.join(map(str, r['size']))} on {r['arch']}, packets/element | "
                   f"{_f(r['hexmlir'], 3)} | {_f(r['clang_autohvx'], 3)} | {_f(ratio, 2)} | "
                   f"{_loops_cell(r['hexmlir_loops'])} | {_loops_cell(r.get('clang_loops'))} |")
    return "\n".join(out)


if __name__ == "__main__":      # python -m hexmlir.bench.hexagon [arch]: the static float table
    import sys
    import tempfile
    with tempfile.TemporaryDirectory(prefix="hexmlir-static-") as td:
        a = sys.argv[1] if len(sys.argv) > 1 else "v73"
        print(static_table(static_rows(td, a)))
