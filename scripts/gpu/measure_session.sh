#!/usr/bin/env bash
# The speed figures of the shipped models in one GPU call, each side alone on the GPU (no trainer beside it):
#  1. teacher-bench: the emoji teacher's training step and sampling against PyTorch eager / diffusers (issue 11);
#  2. pairs-bench: 100,000 emoji teacher pairs and the reader's pairs per second (issue 12, pairs.json);
#  3. with ELPIPS=1, scripts/gpu/elpips_session.sh: E-LatentLPIPS against the official code (issue 13).
# Here first: bash scripts/gpu/pack.sh (WITH_DATA=1: pairs-bench takes its prompts from data/emoji-64), then
# ../shared/gpu/slim on test/ docs/ java/ examples/ bindings/ benchmarks/src benchmarks/results benchmarks/pom.xml
# (models/ travels: the teacher is models/emoji-teacher). On the device machine, with carry [".gpu", ".ref"]:
#   mkdir -p data/emoji-64 && mv .gpu/data/* data/emoji-64/ && tar -C data/emoji-64 -xJf .gpu/data-meta.tar.xz
#   source .gpu/env.sh && bash scripts/gpu/measure_session.sh
# Results in $OUT: teacher-speed.json, teacher-reference.json, pairs.json, the logs; with ELPIPS=1 the E-LatentLPIPS files.
set -uo pipefail
out=${OUT:-/tmp/out}; mkdir -p "$out"
log() { echo "[$SECONDS s] $*" | tee -a "$out/session.log"; }
teacher=${TEACHER_DIR:-models/emoji-teacher}
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release 2>&1 | grep 'd2g:' >> "$out/session.log"
cmake --build build-gpu -j16 --target d2g 2>&1 | grep -E ' error|undefined' | head -20
[ -f build-gpu/native/libd2g.so ] || { log "the build failed"; exit 1; }
log "built"
set -f  # the class path's * is java's, not the shell's
ex="java --enable-native-access=ALL-UNNAMED -Dd2g.library=build-gpu/native/libd2g.so -Dlogback.configurationFile=scripts/logback-cli.xml -cp .gpu/lib/* io.d2g.examples.Examples"
src=$(mktemp -d) && tar -C "$src" -xJf .ref/diffusers-src.tar.xz
PYTHONPATH="$src" python3 scripts/gpu/teacher_reference.py "$teacher" "$out/teacher-reference.json" > "$out/teacher-reference.log" 2>&1
log "teacher reference rc=$?"
$ex teacher-bench --model "$teacher" --reference "$out/teacher-reference.json" --device cuda --out "$out" 2>&1 | tail -14 | tee -a "$out/session.log"
timeout "${PAIRS_TIMEOUT:-300}" $ex pairs-bench --teacher "$teacher" --pairs "${PAIRS:-100000}" --device cuda --out "$out" > "$out/pairs.log" 2>&1
log "pairs-bench rc=$? (124: stopped by PAIRS_TIMEOUT)"; tail -12 "$out/pairs.log" | tee -a "$out/session.log"
set +f
[ "${ELPIPS:-0}" = 1 ] && bash scripts/gpu/elpips_session.sh
log "done"
