"""Packet profiler for qemu-hexagon runs: executed VLIW packets, instructions and HVX instructions.

Executed packets are a deterministic cycle proxy for the VLIW core that needs no hardware (QEMU's wall
time says nothing about HVX speed). QEMU logs every translated block with its packets (`-d in_asm`:
"IN: <function>" then one line per instruction word) and every block execution (`-d exec,nochain`:
"Trace <cpu>: ... [.../<pc>/...]"); executions x per-block counts give exact per-function totals.

Instruction counting works on the encoding: a word whose parse bits (15:14) are 00 is a duplex (two
sub-instructions), a constant extender (`immext`: ICLASS 0, parse bits not 00) is no instruction, every
other word is one instruction. An HVX instruction is one that names an HVX register (V<n>, Q<n>) or
vmem/vtmp. Single-threaded runs give the same counts every time; with threads the split between
threads (and any waiting) varies, the kernel's own work does not.

Kernel-only mode counts what runs between the harness's hx_sim_kernel_begin and hx_sim_kernel_end
markers, on every thread (pool workers and DMA copy threads included), not the harness's file I/O,
TCM arena creation or thread-pool start-up.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

BEGIN, END = "hx_sim_kernel_begin", "hx_sim_kernel_end"
_HVX = re.compile(rb"\b[VQ]\d+\b|\bvmem|\bvtmp", re.I)
_INSN = re.compile(rb"^0x([0-9a-f]+):\s+0x([0-9a-f]{8})\s(.*)$")


@dataclass
class Counts:
    packets: int = 0
    insns: int = 0
    hvx: int = 0
    blocks: int = 0          # block executions

    def add(self, other: "Counts", times: int = 1) -> None:
        self.packets += other.packets * times
        self.insns += other.insns * times
        self.hvx += other.hvx * times
        self.blocks += other.blocks * times


@dataclass
class Profile:
    """Counts of one run: per function (all threads), per thread, per thread and function."""
    kernel_only: bool
    functions: dict[str, Counts] = field(default_factory=dict)
    threads: dict[int, Counts] = field(default_factory=dict)
    thread_functions: dict[int, dict[str, Counts]] = field(default_factory=dict)
    elements: int | None = None      # for packets per element (set by the caller)

    @property
    def total(self) -> Counts:
        t = Counts()
        for c in self.threads.values():
            t.add(c)
        return t

    @property
    def packets(self) -> int:
        return self.total.packets

    @property
    def insns(self) -> int:
        return self.total.insns

    @property
    def hvx(self) -> int:
        return self.total.hvx

    def packets_per_element(self, elements: int | None = None) -> float:
        n = elements or self.elements
        if not n:
            raise ValueError("packets per element needs the element count")
        return self.packets / n

    def to_dict(self) -> dict:
        t = self.total
        d = {"kernel_only": self.kernel_only, "packets": t.packets, "insns": t.insns, "hvx": t.hvx,
             "elements": self.elements,
             "functions": {f: vars(c) for f, c in sorted(self.functions.items(), key=lambda x: -x[1].packets)},
             "threads": {str(k): vars(c) for k, c in sorted(self.threads.items())}}
        if self.elements:
            d["packets_per_element"] = t.packets / self.elements
        return d

    def format(self, top: int = 12) -> str:
        t = self.total
        scope = "kernel only" if self.kernel_only else "whole process"
        lines = [f"packets {t.packets}  instructions {t.insns}  HVX instructions {t.hvx}  ({scope})"]
        if self.elements:
            lines[0] += f"  elements {self.elements}  packets/element {t.packets / self.elements:.3f}"
        lines.append(f"{'function':<40} {'packets':>11} {'insns':>11} {'hvx':>9} {'%pkts':>6}")
        for name, c in sorted(self.functions.items(), key=lambda x: -x[1].packets)[:top]:
            pct = 100.0 * c.packets / max(t.packets, 1)
            lines.append(f"{name[:40]:<40} {c.packets:>11} {c.insns:>11} {c.hvx:>9} {pct:>6.1f}")
        if len(self.threads) > 1:
            lines.append("per thread (QEMU cpu index; 0 = main):")
            for k, c in sorted(self.threads.items()):
                fs = self.thread_functions.get(k, {})
                topf = max(fs.items(), key=lambda x: x[1].packets)[0] if fs else "-"
                lines.append(f"  thread {k}: packets {c.packets}  hvx {c.hvx}  (most in {topf})")
        return "\n".join(lines)


def _word_insns(word: int) -> int:
    parse = (word >> 14) & 3
    if parse == 0:
        return 2                                  # duplex: two sub-instructions in one word
    if word >> 28 == 0:
        return 0                                  # constant extender
    return 1


def parse_log(path: str | Path, exe=None, kernel_only: bool = True) -> Profile:
    """Profile from a `qemu-hexagon -d in_asm,exec,nochain` log (streamed; logs can be large)."""
    blocks: dict[int, tuple[str, Counts]] = {}
    prof = Profile(kernel_only=kernel_only)
    # Counts per (thread, pc) first, folded into functions at the end (cheap per trace line).
    execs: dict[tuple[int, int], int] = {}
    in_window = not kernel_only
    seen_begin = False
    cur_fn: str | None = None
    cur_pc: int | None = None
    cur = Counts()
    with open(path, "rb") as f:
        for line in f:
            if line.startswith(b"Trace "):
                parts = line.split()
                pc = int(parts[3].split(b"/")[1], 16)
                cpu = int(parts[1].rstrip(b":"))
                if kernel_only:
                    fn = blocks.get(pc, ("?",))[0]
                    if fn == BEGIN:
                        in_window, seen_begin = True, True
                        continue
                    if fn == END:
                        in_window = False
                        continue
                if in_window:
                    k = (cpu, pc)
                    execs[k] = execs.get(k, 0) + 1
                continue
            if line.startswith(b"IN:"):
                cur_fn = line[3:].strip().decode(errors="replace") or "?"
                cur_pc, cur = None, Counts(blocks=1)
                continue
            if cur_fn is not None:
                m = _INSN.match(line)
                if m:
                    if cur_pc is None:
                        cur_pc = int(m.group(1), 16)
                    word, text = int(m.group(2), 16), m.group(3)
                    if b"{" in text:
                        cur.packets += 1
                    n = _word_insns(word)
                    cur.insns += n
                    if n == 1 and _HVX.search(text):
                        cur.hvx += 1
                elif line.strip() == b"" or line.startswith(b"---"):
                    if cur_pc is not None:
                        blocks[cur_pc] = (cur_fn, cur)
                    cur_fn = None
    if cur_fn is not None and cur_pc is not None:
        blocks[cur_pc] = (cur_fn, cur)
    if kernel_only and not seen_begin:
        from .errors import HexmlirError
        raise HexmlirError("kernel-only profile: the log has no hx_sim_kernel_begin (not a hexmlir harness run?)")
    for (cpu, pc), n in execs.items():
        fn, c = blocks.get(pc, ("?", Counts()))
        prof.functions.setdefault(fn, Counts()).add(c, n)
        prof.threads.setdefault(cpu, Counts()).add(c, n)
        prof.thread_functions.setdefault(cpu, {}).setdefault(fn, Counts()).add(c, n)
    return prof
