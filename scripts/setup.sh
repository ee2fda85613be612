#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian bookworm machine: apt toolchain + pinned Python packages + hexmlir.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
need_apt=()
for b in clang-22 ld.lld-22 llc-22 mlir-translate-22; do command -v "$b" >/dev/null || need_apt+=(x); done
command -v qemu-hexagon >/dev/null || need_apt+=(q)
if [ ${#need_apt[@]} -gt 0 ]; then
  # qemu-user 10 (qemu-hexagon v66..v73) lives in bookworm-backports, same mirror as the configured sources.
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/backports.list >/dev/null
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clang-22 lld-22 llvm-22 mlir-22-tools >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t bookworm-backports qemu-user >/dev/null
fi

PY=${PYTHON:-python3}
# Pins: the CPU torch wheel is pre-placed for the default index; a looser pin pulls CUDA wheels.
# transformers: the real-model corpus (tests/test_model_corpus.py, random-init configs, no downloads).
# liger-kernel: real Triton kernels run through the plugin (tests/test_liger.py); needs only torch and triton.
if ! $PY -c "import torch_mlir, triton, torch, xdist, ml_dtypes, transformers, liger_kernel" 2>/dev/null; then
  $PY -m pip install -q torch==2.13.0
  $PY -m pip install -q torch-mlir==20261001 triton==3.9.0 ziglang numpy pytest pytest-xdist matplotlib ml_dtypes \
    transformers==5.24.0 liger-kernel==0.8.5
fi
# Optional benchmark peers and progress bars (hexmlir bench): IREE llvm-cpu and tqdm. Failure is not fatal:
# without them the bench reports those peers as "not installed" and uses its own progress bar.
if ! $PY -c "import iree.compiler, iree.runtime, tqdm" 2>/dev/null; then
  $PY -m pip install -q iree-base-compiler==3.13.0 iree-base-runtime==3.13.0 tqdm \
    || echo "setup: optional bench peers (IREE, tqdm) not installed" >&2
fi
# (Re)install hexmlir when it is missing, installed from another checkout, or its entry points (the Triton
# backend, the torch.compile backend) changed since it was installed.
if ! $PY -c "import hexmlir, pathlib, sys, tomllib, importlib.metadata as md
assert pathlib.Path(hexmlir.__file__).resolve().parent == pathlib.Path('src/hexmlir').resolve()
want = tomllib.load(open('pyproject.toml', 'rb'))['project'].get('entry-points', {})
have = {(e.group, e.name) for e in md.distribution('hexmlir').entry_points}
sys.exit(any((g, n) not in have for g, eps in want.items() for n in eps))" 2>/dev/null; then
  $PY -m pip install -q --no-deps -e .
fi
