#!/bin/bash
# Issue 14 device run: build here (MLIR present), run scripts/device_bench.sh there, merge + report here.
# From the repository root, after the merges (the artifacts must be built from the code that is measured).
export PYTHONPATH=src HEXMLIR_NO_PROGRESS=1
rm -rf .artifacts/b16

# 1. host target peers view: rungs host / host+mt (16 threads) + IREE .vmfb, all at x86-64-v4, all 11 kernels
#    (dev machine, 2 cores: ~1 min warm cache, several minutes cold; ~1.5 MiB)
python3 -m hexmlir.cli bench host-build --artifacts .artifacts/b16/host --threads 16 --isa x86-64-v4 \
    --kernels vector_add,gelu,gelu_f16,silu,exp_series,rmsnorm,rmsnorm_f16,layernorm,softmax,matmul,attention

# 2. the ablation ladder on npu-emu (every rung, 11 kernels) + the MT sweep (GELU, vector add; 4K..16M, 2..16
#    threads) + the overhead probes, x86-64-v4 (IREE .vmfb too: unused there, the ladder runs --no-peers)
python3 -m hexmlir.cli bench build --artifacts .artifacts/b16/npu --threads 16 --isa x86-64-v4

# 3. PyTorch models: weights, inputs, route B artifacts (16 threads); no run here. Default set: the 4 synthetic
#    models and the 4 corpus models (GPT-2, LLaMA, ViT, ResNet-18 at bench size; ~35 MiB for the 8, 24 of them
#    the corpus models' weights; dev machine 2026-12-03: 10-17 s of compile_model each, warm cache)
python3 -m hexmlir.cli bench models --build --artifacts .artifacts/b16/models --threads 16 --no-dev-run

# the IREE runtime wheel for the device's Python 3.12 (it reaches no registry): once per fresh checkout
[ -d .artifacts/host14/whl ] || pip download iree-base-runtime==3.13.0 --no-deps --python-version 3.12 \
    --only-binary=:all: --platform manylinux_2_28_x86_64 -d .artifacts/host14/whl
du -sh .artifacts/b16 .artifacts/host14/whl     # carried (the scripts travel with the tree): must total < 64 MiB

# Device (3 commands, each < 4 min on 2026-12-03; carry .artifacts/b16 .artifacts/host14/whl):
#   bash scripts/device_bench.sh host ; bash scripts/device_bench.sh models ; bash scripts/device_bench.sh npu
# Fetch the three $OUT folders into e.g. /tmp/d16/{host,models,npu}, then here:
#   later files win per ladder row (kernel, impl, rung, threads) and per top-level key; the old results set
#   goes first so its Hexagon rows stay; the host part last so its copy bandwidth is the one the report divides by
python3 -m hexmlir.cli bench merge docs/benchmarks/results.json /tmp/d16/npu/npu/results.json \
    /tmp/d16/models/models/results.json /tmp/d16/host/host_all/results.json --out docs/benchmarks
python3 -m hexmlir.cli bench report --out docs/benchmarks --doc docs/benchmarks.md --reading docs/benchmarks/reading.md
# then: update docs/benchmarks/reading.md (it reads the 2026-12-03 15:05 run) and prune the `<!-- kept: host -->`
# blocks of docs/benchmarks.md that the new run supersedes; run the report again.
# `bench merge` prints "merge: KERNEL: N row(s) kept from FILE beside newer ones" when a part left rows of an
# older run in place (a part cut short, a peer missing): expect no such line after a complete run.
# Dev-machine check of these commands (2026-12-03, subsets): host-build 11 kernels 57 s / 0.7 MiB; bench build
# --kernels vector_add,softmax 46 s / 3.4 MiB (MT sweep included; all 11 kernels ~5 MiB); models --build
# --models mlp 8 s / 2.4 MiB (the four synthetic: ~11 MiB as .artifacts/m20; with the corpus models ~35 MiB);
# whl 15 MiB -> ~57 MiB carried in all (limit 64 MiB with the tracked tree, ~3.5 MiB).
# device_bench.sh parts run here on those subsets: ew 294 s (2 cores), npu 61 s, models 72 s.
