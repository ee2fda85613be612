#!/bin/bash
# Issue 14's device run, one part per device command (each < 9 minutes; parts write under $OUT/<part>):
#   bash scripts/device_bench.sh host    # host target vs eager, Inductor, IREE, all 11 kernels (204-206 s on 2026-12-03, cap 570 s)
#   bash scripts/device_bench.sh ew      # the same, element-wise kernels only   (150 s, cap 450 s)
#   bash scripts/device_bench.sh rows    # the same, RMSNorm f32/f16, LayerNorm, softmax, matmul, attention (135 s, cap 450 s)
#   bash scripts/device_bench.sh npu     # ablation ladder on npu-emu (no peers) + MT sweep + probes       (109 s, cap 510 s)
#   bash scripts/device_bench.sh models  # PyTorch models: eager, Inductor C++, route B  (4 synthetic: 109 s; with the
#                                        # 4 corpus models (GPT-2, LLaMA, ViT, ResNet-18; transformers needed):
#                                        # 167 s on 2026-12-03 19:03, cap 420 s)
# Inductor: every (kernel, threads) compiles in a process of its own, all in parallel, before anything is timed,
# and waits there to be timed (bench/peers.py `park_inductor`). Session 21's variant, an on-disk cache filled
# by parallel compiles and read by fresh timed processes, was not hit on the device's torch 2.11 (first call
# 44-54 s each: a full compile), so `host` finished 2 of 11 kernels in 570 s.
# Carry: .artifacts/b16 (artifacts, see scripts/device_bench_build.sh), .artifacts/host14/whl (IREE runtime
# wheel). Merge and report here afterwards: see scripts/device_bench_build.sh.
export PYTHONPATH=src HEXMLIR_NO_PROGRESS=1
A=.artifacts/b16
KINDS="vector_add,gelu,gelu_f16,silu,exp_series"
ROWS="rmsnorm,rmsnorm_f16,layernorm,softmax,matmul,attention"
R=15
part=${1:?usage: scripts/device_bench.sh host|ew|rows|npu|models}
python3 -c "import iree.runtime" 2>/dev/null || python3 -m pip install --no-deps .artifacts/host14/whl/*.whl >/dev/null 2>&1
python3 -c "import iree.runtime" && echo "iree ok"
lscpu | grep -i "model name"; date -u
t0=$SECONDS
# `timeout` signals its whole process group: the Inductor compile/timing children stop with the parent
case $part in
host)
  timeout 570 python3 -m hexmlir.cli bench host --artifacts $A/host --out $OUT/host_all --repeats $R \
      --peers eager,inductor,iree --kernels $KINDS,$ROWS 2>&1 | grep -v "it/s" | grep -v "^  numpy"
  grep -A14 "^| kernel | host 1t" $OUT/host_all/tables.md ;;
ew)
  timeout 450 python3 -m hexmlir.cli bench host --artifacts $A/host --out $OUT/host_ew --repeats $R \
      --peers eager,inductor,iree --kernels $KINDS 2>&1 | grep -v "it/s" | grep -v "^  numpy"
  grep -A8 "^| kernel | host 1t" $OUT/host_ew/tables.md ;;
rows)
  timeout 450 python3 -m hexmlir.cli bench host --artifacts $A/host --out $OUT/host_rows --repeats $R \
      --peers eager,inductor,iree --kernels $ROWS 2>&1 | grep -v "it/s" | grep -v "^  numpy"
  grep -A9 "^| kernel | host 1t" $OUT/host_rows/tables.md ;;
npu)
  timeout 300 python3 -m hexmlir.cli bench ladder --artifacts $A/npu --out $OUT/npu --repeats $R --no-peers \
      2>&1 | grep -v "it/s" | tail -4
  echo "ladder done at $((SECONDS - t0)) s"
  timeout $((510 - (SECONDS - t0))) python3 -m hexmlir.cli bench mt-scaling --artifacts $A/npu --out $OUT/npu \
      --repeats $R 2>&1 | grep -v "it/s" | tail -4
  grep -c "" $OUT/npu/ladder.csv $OUT/npu/mt_scaling.csv ;;
models)
  timeout 420 python3 -m hexmlir.cli bench models --artifacts $A/models --out $OUT/models --routes eager,inductor,B \
      --repeats $R 2>&1 | grep -v "it/s" | tail -60 ;;
esac
rm -rf $OUT/*/inductor-cache-*        # left behind only when a part was cut short
echo "part $part: $((SECONDS - t0)) s"; date -u
