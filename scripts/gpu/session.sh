#!/usr/bin/env bash
# One GPU-machine session that measures everything recorded under benchmarks/results/:
# builds the shim against the device's LibTorch, then GpuSmoke, the scene composer, and the
# full-size SD1.5 parity + one-step speed (reference side: scripts/gpu/sd15_reference.py with
# diffusers' source carried as .ref/diffusers-src.tar.xz). Run from the repo root on the device:
#   source .gpu/env.sh && bash scripts/gpu/session.sh
# with carry [".gpu", ".ref", "data/emoji-64-bench"]; results land in $OUT (SD1.5 ones in $OUT/sd15).
# PARTS (environment) picks what to run: any of "smoke composer kernels sd15 sd15bench" (default: the
# first four; sd15bench re-times the pipeline with cuDNN benchmarking in a fresh process, after sd15).
set -uo pipefail
parts=" ${PARTS:-smoke composer kernels sd15} "
out=${OUT:-/tmp/out}; mkdir -p "$out"
src=.gpu/src; [ -d "$src" ] || src=.
cp='.gpu/lib/*'
jv() { java --enable-native-access=ALL-UNNAMED -Dd2g.library=/tmp/bg/native/libd2g.so -cp "$cp" "$@"; }
mkdir -p /tmp/dsrc && tar -C /tmp/dsrc -xJf .ref/diffusers-src.tar.xz
ref=""
[[ $parts == *" sd15 "* ]] && ( D2G_PROFILE=${D2G_PROFILE:-}  PYTHONPATH=/tmp/dsrc python3 scripts/gpu/sd15_reference.py /tmp/sd15 > "$out/ref.log" 2>&1; echo "rc=$?" >> "$out/ref.log" ) &
[[ $parts == *" sd15 "* ]] && ref=$!
t0=$(date +%s)
cmake -S "$src" -B /tmp/bg -DCMAKE_BUILD_TYPE=Release 2>&1 | grep 'd2g:'
cmake --build /tmp/bg -j16 --target d2g d2g_c_api_test 2>&1 | grep -E 'error|undefined|warning: unused' | head -20
[[ $parts == *" smoke "* ]] && cmake --build /tmp/bg -j16 --target d2g_memcpy_ref 2>&1 | grep -E 'error|undefined' | head -20
[[ $parts == *" kernels "* ]] && cmake --build /tmp/bg -j16 2>&1 | grep -E 'error|undefined' | head -20
echo "build: $(( $(date +%s) - t0 )) s"
/tmp/bg/native/d2g_c_api_test | tail -1
[ -x /tmp/bg/native/d2g_group_norm_bench ] && [[ $parts == *" kernels "* ]] && /tmp/bg/native/d2g_group_norm_bench "$out/group-norm-kernel.json" > "$out/kernels.log" 2>&1; tail -40 "$out/kernels.log"
[ -n "$ref" ] && { wait $ref; tail -12 "$out/ref.log"; }  # its GPU work must not overlap our timings
if [[ $parts == *" smoke "* ]]; then
  # SM clock, power and temperature every 0.5 s while the smoke test runs (is the matmul power-capped?)
  nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.max.sm,power.draw,power.limit,temperature.gpu --format=csv -lms 500 \
    > "$out/smi-smoke.csv" 2>&1 & smi=$!
  jv io.d2g.examples.GpuSmoke --memcpy-ref /tmp/bg/native/d2g_memcpy_ref \
    --matmul-ref "python3 scripts/gpu/matmul_reference.py" --out "$out/gpu-smoke.json"
  kill $smi 2>/dev/null
fi
[[ $parts == *" composer "* ]] && [ -d data/emoji-64-bench ] && jv io.d2g.examples.SceneComposerBench --data data/emoji-64-bench --device cuda \
  --batch 256 --size 64 --threads 16 --seconds 20 --out "$out/scene-composer.json" 2>&1 | tail -5
[[ $parts == *" sd15 "* ]] && jv io.d2g.examples.Sd15Bench /tmp/sd15 "$out/sd15" ${SD15_ARGS:-}  # a folder of its own: $out holds logs
# cuDNN's benchmarked algorithms, in a fresh process (the heuristic variant above fills the plan cache first)
[[ $parts == *" sd15bench "* ]] && jv io.d2g.examples.Sd15Bench /tmp/sd15 "$out/sd15" --no-parity --variants graphs_nhwc_benchmark,graphs_benchmark \
  --name sd15-onestep-cudnn-benchmark | grep -E "^graphs"
