"""hexagon-sim: link a compiled kernel into a static Hexagon executable and run it under qemu-hexagon.

The executable = the kernel object + a call stub generated here (C, a few lines) + the harness
(runtime/sim_harness.c: reads an argument manifest, loads input buffers from files, calls the stub, writes
the output buffers) + the hexmlir runtime and musl/pthreads built for hexagon-linux-musl by zig.

One executable serves every call: shapes are static (Linalg), and anything that varies per launch goes
through the manifest at run time (buffers, scalar values, the grid), so a Triton-style launch
`kernel[grid](ptrs..., scalars...)` can reuse it; see `grid_stub`.

qemu-hexagon 10 cannot execute HVX floating point (QEMU aborts). Simulation builds turn it off (the
hexagon-sim target's features), and `check_no_hvx_float` refuses an object that still has such
instructions before QEMU sees it.
"""
from __future__ import annotations

import functools
import math
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import HexmlirError, ToolchainError, UnsupportedError

QEMU = "qemu-hexagon"
#: CPUs qemu-hexagon 10 emulates (`-cpu`).
QEMU_CPUS = ("v66", "v67", "v68", "v69", "v71", "v73")
EXE_NAME = "kernel.sim"

_C_TYPES = {"float32": "float", "float16": "_Float16", "float64": "double", "int8": "int8_t",
            "int16": "int16_t", "int32": "int32_t", "int64": "int64_t", "uint8": "uint8_t", "bool": "_Bool"}
# An HVX register operand with a floating-point type suffix: v3.sf, v1:0.qf32, v2.hf ...
_HVX_FLOAT = re.compile(r"\bv\d+(?::\d+)?\.(?:sf|hf|qf32|qf16|bf)\b")


@functools.lru_cache(None)
def qemu() -> str:
    p = shutil.which(QEMU)
    if p is None:
        raise ToolchainError(f"{QEMU} not found: install qemu-user 10 from bookworm-backports "
                             f"(scripts/setup.sh does it)", stage="simulate")
    return p


def check_arch(arch: str) -> None:
    if arch not in QEMU_CPUS:
        raise UnsupportedError(f"qemu-hexagon emulates {', '.join(QEMU_CPUS)}; arch {arch} cannot be "
                               f"simulated", stage="simulate")


# ------------------------------------------------------------------ call stubs

def _desc_struct(i: int, rank: int) -> str:
    extra = f" intptr_t sizes[{rank}], strides[{rank}];" if rank else ""
    return f"typedef struct {{ void *allocated, *aligned; intptr_t offset;{extra} }} hx_desc{i}_t;"


def linalg_stub(meta: dict) -> str:
    """C stub calling the entry (`_mlir_ciface_hxk_<fn>`) once with one memref descriptor per argument
    (buffer i = argument i, contiguous row-major)."""
    args = meta["args"]
    out = ['#include <stdint.h>', '#include <stdio.h>', '#include <stdlib.h>', '#include "sim_harness.h"']
    out += [_desc_struct(i, len(a["shape"])) for i, a in enumerate(args)]
    out.append(f"extern void {meta['entry']}({', '.join(f'hx_desc{i}_t *' for i in range(len(args)))});")
    out.append("void hx_sim_invoke(const hx_sim_launch_t *l) {")
    out.append(f'  if (l->nbufs != {len(args)}) {{ fprintf(stderr, "hexmlir-sim: expected {len(args)} '
               f'buffers\\n"); exit(4); }}')
    for i, a in enumerate(args):
        shape = [int(d) for d in a["shape"]]
        strides = [math.prod(shape[k + 1:]) for k in range(len(shape))]
        init = f"l->bufs[{i}], l->bufs[{i}], 0"
        if shape:
            init += f", {{{', '.join(map(str, shape))}}}, {{{', '.join(map(str, strides))}}}"
        out.append(f"  hx_desc{i}_t d{i} = {{{init}}};")
    out.append(f"  {meta['entry']}({', '.join(f'&d{i}' for i in range(len(args)))});")
    out.append("}")
    return "\n".join(out) + "\n"


def grid_stub(entry: str, params: Sequence[str], grid_params: Sequence[str] = ("int32_t",) * 6) -> str:
    """C stub for a grid launch: for every program id (x fastest... z slowest) call
    `entry(params..., pid_x, pid_y, pid_z, num_x, num_y, num_z)`.

    params: per kernel parameter, "ptr" (the next manifest buffer, as `void *`) or a C scalar type
    ("int32_t", "int64_t", "float", "double": the next manifest scalar). grid_params: the C types of the
    trailing grid arguments (pass () for a kernel that takes none)."""
    if len(grid_params) not in (0, 6):
        raise HexmlirError("grid_params: the 6 types of (pid_x, pid_y, pid_z, num_x, num_y, num_z), or none")
    decl, call = [], []
    nb = ns = 0
    for p in params:
        if p == "ptr":
            decl.append("void *")
            call.append(f"l->bufs[{nb}]")
            nb += 1
        elif p in ("int8_t", "int16_t", "int32_t", "int64_t", "uint32_t", "uint64_t"):
            decl.append(p)
            call.append(f"({p})l->scalars[{ns}].i")
            ns += 1
        elif p in ("float", "double"):
            decl.append(p)
            call.append(f"({p})l->scalars[{ns}].f")
            ns += 1
        else:
            raise HexmlirError(f"grid_stub: unknown parameter kind {p!r}")
    decl += list(grid_params)
    if grid_params:
        g = grid_params
        call += [f"({g[0]})x", f"({g[1]})y", f"({g[2]})z", f"({g[3]})l->grid[0]", f"({g[4]})l->grid[1]",
                 f"({g[5]})l->grid[2]"]
    return "\n".join([
        '#include <stdint.h>', '#include <stdio.h>', '#include <stdlib.h>', '#include "sim_harness.h"',
        f"extern void {entry}({', '.join(decl) or 'void'});",
        "void hx_sim_invoke(const hx_sim_launch_t *l) {",
        f'  if (l->nbufs != {nb} || l->nscalars != {ns}) {{ fprintf(stderr, "hexmlir-sim: expected {nb} '
        f'buffers and {ns} scalars\\n"); exit(4); }}',
        "  for (int z = 0; z < l->grid[2]; z++)",
        "    for (int y = 0; y < l->grid[1]; y++)",
        "      for (int x = 0; x < l->grid[0]; x++)",
        f"        {entry}({', '.join(call)});",
        "}",
    ]) + "\n"


def triton_stub(entry: str, args: Sequence[dict]) -> str:
    """C stub for a grid kernel with the Triton plugin's ABI (artifact meta "args" with roles ptr/scalar/grid):
    `entry(ptr descriptors..., scalars..., grid counts...)`, called once (the kernel loops over the grid).
    A ptr is a 1-D memref descriptor over its whole manifest buffer (size = bytes / element size); scalars
    come from the manifest in order (float16/bfloat16 as their bit patterns); grid args are the manifest's
    grid."""
    decl, pre, call = [], [], []
    nb = ns = ng = 0
    for k, a in enumerate(args):
        role, dt = a["role"], a["dtype"]
        if role == "ptr":
            pre.append(_desc_struct(k, 1))
            decl.append(f"hx_desc{k}_t *")
            call.append(f"&d{k}")
            nb += 1
        else:
            ct = {"float16": "uint16_t", "bfloat16": "uint16_t"}.get(dt, _C_TYPES.get(dt))
            if ct is None:
                raise HexmlirError(f"triton_stub: unsupported {role} dtype {dt!r}")
            decl.append(ct)
            if role == "grid":
                call.append(f"({ct})l->grid[{ng}]")
                ng += 1
            else:
                field = "f" if ct in ("float", "double") else "i"
                call.append(f"({ct})l->scalars[{ns}].{field}")
                ns += 1
    body = []
    k_buf = 0
    for k, a in enumerate(args):
        if a["role"] == "ptr":
            size = np.dtype("float16" if a["dtype"] == "bfloat16" else a["dtype"]).itemsize
            body.append(f"  hx_desc{k}_t d{k} = {{l->bufs[{k_buf}], l->bufs[{k_buf}], 0, "
                        f"{{l->nbytes[{k_buf}] / {size} > 0 ? l->nbytes[{k_buf}] / {size} : 1}}, {{1}}}};")
            k_buf += 1
    return "\n".join([
        '#include <stdint.h>', '#include <stdio.h>', '#include <stdlib.h>', '#include "sim_harness.h"', *pre,
        f"extern void {entry}({', '.join(decl) or 'void'});",
        "void hx_sim_invoke(const hx_sim_launch_t *l) {",
        f'  if (l->nbufs != {nb} || l->nscalars != {ns}) {{ fprintf(stderr, "hexmlir-sim: expected {nb} '
        f'buffers and {ns} scalars\\n"); exit(4); }}',
        *body,
        f"  {entry}({', '.join(call)});",
        "}",
    ]) + "\n"


# ------------------------------------------------------------------ build

def hvx_float_insns(obj: str | os.PathLike, limit: int = 5) -> list[str]:
    """Up to `limit` disassembled HVX floating-point instructions in an object ('function: insn')."""
    from .tools import tool
    r = subprocess.run([tool("llvm-objdump"), "-d", str(obj)], capture_output=True, text=True)
    if r.returncode != 0:
        raise ToolchainError(f"llvm-objdump failed on {obj}: {r.stderr.strip()[:500]}", stage="simulate")
    found, fn = [], "?"
    for line in r.stdout.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.+)>:", line)
        if m:
            fn = m.group(1)
        elif _HVX_FLOAT.search(line):
            found.append(f"{fn}: {line.split(chr(9))[-1].strip(' {}')}")
            if len(found) >= limit:
                break
    return found


def check_no_hvx_float(obj: str | os.PathLike) -> None:
    """Raise UnsupportedError if the object holds HVX float instructions (qemu-hexagon 10 aborts on them)."""
    bad = hvx_float_insns(obj)
    if bad:
        raise UnsupportedError(
            "the object uses HVX floating-point instructions, which qemu-hexagon 10 cannot execute "
            f"(e.g. {'; '.join(bad[:3])}). Compile for target 'hexagon-sim' (HVX float off: "
            "-hvx-qfloat,-hvx-ieee-fp) to simulate; keep target 'hexagon' for the device", stage="simulate")


def link(objects: Sequence[str | os.PathLike], stub_c: str, out: str | os.PathLike, arch: str = "v73") -> Path:
    """Static hexagon-linux-musl executable: objects + stub + harness + runtime (HVX float off)."""
    from .. import runtime
    check_arch(arch)
    for o in objects:
        check_no_hvx_float(o)
    out = Path(out)
    stub = out.with_name(out.name + ".stub.c")
    stub.write_text(stub_c)
    runtime.link_hexagon_executable([stub, runtime.source_dir() / "sim_harness.c", *objects], out, arch=arch,
                                    hvx_float=False)
    return out


def build_linalg(obj: str | os.PathLike, meta: dict, out_dir: Path) -> Path:
    """The executable of a compiled Linalg kernel (kernel.o + its metadata) in out_dir/kernel.sim."""
    return link([obj], linalg_stub(meta), Path(out_dir) / EXE_NAME, meta["arch"])


# ------------------------------------------------------------------ run

def run(exe: str | os.PathLike, buffers: Sequence[np.ndarray], *, inputs: Sequence[int] | None = None,
        outputs: Sequence[int] = (), scalars: Sequence[int | float] = (), grid: Sequence[int] = (1, 1, 1),
        threads: int | None = None, arch: str = "v73", profile: str | None = None, timeout: float = 600,
        env: dict | None = None):
    """Run a simulation executable under qemu-hexagon.

    buffers: every buffer argument in manifest order; `inputs` (default all) are copied in, `outputs`
    are copied back into the arrays in place. scalars: Python ints/floats (ints go as int64, floats as
    double; the stub casts). threads: thread-pool size in the simulated process (None: runtime default).
    profile: None, "kernel" (count only the kernel call) or "all" (the whole process); then a
    profile.Profile is returned, else None. Returns (stdout of the harness, Profile | None).
    """
    check_arch(arch)
    q = qemu()
    inputs = range(len(buffers)) if inputs is None else inputs
    with tempfile.TemporaryDirectory(prefix="hexmlir-sim-") as td:
        tdir = Path(td)
        lines = [] if threads is None else [f"threads {int(threads)}"]
        if tuple(grid) != (1, 1, 1):
            lines.append("grid " + " ".join(str(int(g)) for g in grid))
        for i, a in enumerate(buffers):
            if not a.flags.c_contiguous:
                raise HexmlirError(f"buffer {i} must be C-contiguous")
            src = dst = "-"
            if i in inputs:
                src = str(tdir / f"in{i}.bin")
                a.tofile(src)
            if i in outputs:
                dst = str(tdir / f"out{i}.bin")
            lines.append(f"buf {a.nbytes} {src} {dst}")
        for s in scalars:
            if isinstance(s, (bool, int, np.integer)):
                lines.append(f"int {int(s)}")
            else:
                lines.append(f"float {float(s)!r}")
        manifest = tdir / "manifest.txt"
        manifest.write_text("\n".join(lines) + "\n")
        penv = dict(os.environ)
        # Under QEMU, waiting threads should sleep, not spin (spins only add packets and wall time), and
        # the TCM arena need not be pre-faulted (8 MiB of memset per run).
        penv.setdefault("HEXMLIR_SPIN_US", "0")
        penv.setdefault("HEXMLIR_TCM_PREFAULT", "0")
        penv.update(env or {})
        cmd = [q, "-cpu", arch]
        log = None
        if profile:
            if profile not in ("kernel", "all"):
                raise HexmlirError(f"profile must be 'kernel' or 'all', not {profile!r}")
            log = tdir / "qemu.log"
            cmd += ["-d", "in_asm,exec,nochain", "-D", str(log)]
        cmd += [str(exe), str(manifest)]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=penv)
        except subprocess.TimeoutExpired as e:
            raise HexmlirError(f"qemu-hexagon run of {exe} exceeded {timeout} s") from e
        if r.returncode != 0 or "OK" not in r.stdout:
            err = (r.stderr or "").strip()
            if "should not be reached" in err or "illegal instruction" in err.lower() or r.returncode == -4:
                raise UnsupportedError(
                    f"qemu-hexagon stopped on an instruction it cannot execute (HVX floating point is not "
                    f"emulated by QEMU 10; simulate builds of target 'hexagon-sim'): {err[-500:]}",
                    stage="simulate")
            raise HexmlirError(f"simulated run failed (exit {r.returncode}): {err[-2000:]}\n{r.stdout[-500:]}")
        for i in outputs:
            a = buffers[i]
            got = np.fromfile(tdir / f"out{i}.bin", dtype=a.dtype)
            if got.size != a.size:
                raise HexmlirError(f"output {i}: got {got.size} elements, expected {a.size}")
            np.copyto(a, got.reshape(a.shape))
        prof = None
        if log is not None:
            from ..profile import parse_log
            prof = parse_log(log, exe, kernel_only=(profile == "kernel"))
        return r.stdout, prof
