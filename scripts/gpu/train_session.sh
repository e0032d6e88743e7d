#!/usr/bin/env bash
# The training-step figures of benchmarks/results/train-step.json, in one GPU call: builds the shim
# against the device's LibTorch, runs PyTorch eager's SD1.5 UNet training step
# (scripts/gpu/train_step_reference.py, diffusers' source carried as .ref/diffusers-src.tar.xz), then
# ours (io.d2g.examples.TrainStepBench) on the same GPU, one after the other. From the repo root:
#   source .gpu/env.sh && bash scripts/gpu/train_session.sh
# with carry [".gpu", ".ref"]; results land in $OUT. STEPS/WARMUP (environment) set both sides' counts;
# BENCH_ARGS adds options to ours (e.g. --no-channels-last). TRACE=1: both sides also record one step per
# batch as a Chrome trace, and scripts/gpu/trace_summary.py sums their kernels into $out/trace-summary.json
# (the traces themselves stay on the device: they are large).
set -uo pipefail
out=${OUT:-/tmp/out}; mkdir -p "$out"
steps=${STEPS:-20}; warmup=${WARMUP:-5}
jv() { java --enable-native-access=ALL-UNNAMED -Dd2g.library=build-gpu/native/libd2g.so -cp '.gpu/lib/*' "$@"; }
mkdir -p /tmp/dsrc && tar -C /tmp/dsrc -xJf .ref/diffusers-src.tar.xz
t0=$(date +%s)
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release 2>&1 | grep 'd2g:'
cmake --build build-gpu -j16 --target d2g 2>&1 | grep -E 'error|undefined' | head -20
echo "build: $(( $(date +%s) - t0 )) s"
# PyTorch first, alone on the GPU and the CPUs (its eager launches are CPU-bound), then ours.
trace=(); [ "${TRACE:-0}" = 1 ] && trace=(--trace /tmp/traces)
PYTHONPATH=/tmp/dsrc python3 scripts/gpu/train_step_reference.py "$out/train-step-reference.json" \
  --warmup "$warmup" --steps "$steps" "${trace[@]}" > "$out/reference.log" 2>&1; echo "reference rc=$?"; tail -4 "$out/reference.log"
echo "reference done: $(( $(date +%s) - t0 )) s"
jv io.d2g.examples.TrainStepBench --reference "$out/train-step-reference.json" --warmup "$warmup" --steps "$steps" \
  --out "$out" "${trace[@]}" ${BENCH_ARGS:-} 2>&1 | tail -15
echo "ours done: $(( $(date +%s) - t0 )) s"
if [ "${TRACE:-0}" = 1 ]; then
  python3 scripts/gpu/trace_summary.py "$out/trace-summary.json" /tmp/traces/*.json 2>&1 | tail -60
fi
