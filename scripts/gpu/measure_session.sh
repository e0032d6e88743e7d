#!/usr/bin/env bash
# The speed figures of the shipped models in GPU calls, each side alone on the GPU (no trainer beside it).
# STAGES (default "teacher pairs") picks them, in this order:
#  teacher: teacher-bench, the emoji teacher's training step and sampling against PyTorch eager / diffusers (issue 11);
#  pairs:   pairs-bench, 100,000 emoji teacher pairs (PAIRS, batch PAIRS_BATCH) and the reader (issue 12, pairs.json);
#  sd15:    sd15_pairs_reference.py + sd15-pairs-bench, 50-step DDIM + guidance at SD1.5 scale against diffusers
#           at batch 8, 32 and 64 (issue 12, sd15-pairs.json);
#  sd15train: scripts/gpu/train_session.sh with --cuda-graphs, the SD1.5 training step against PyTorch eager (issue 10);
#  elpips:  scripts/gpu/elpips_session.sh, E-LatentLPIPS against the official code (issue 13);
#  reliability: reliability-bench on the teacher's folder, REL_CALLS (10,000) one-step pipeline runs and training
#           steps: resident and GPU memory over the run, 16 threads against sequential calls (issue 15,
#           reliability-load.json).
# Here first: WITH_DATA=1 bash scripts/gpu/pack.sh (pairs-bench takes its prompts from data/emoji-64; or, where the
# dataset does not fit the carry, bash scripts/gpu/pack.sh and ./d2g example pairs-bench --teacher models/emoji-teacher
# --write-prompts .gpu/emoji-prompts.jsonl, with PROMPTS=.gpu/emoji-prompts.jsonl on the device), then
# ../shared/gpu/slim on test/ docs/ java/ examples/ bindings/ benchmarks/src benchmarks/results benchmarks/pom.xml
# (models/ travels: the teacher is models/emoji-teacher). On the device machine, with carry [".gpu", ".ref"]:
#   mkdir -p data/emoji-64 && mv .gpu/data/* data/emoji-64/ && tar -C data/emoji-64 -xJf .gpu/data-meta.tar.xz
#   source .gpu/env.sh && STAGES="pairs sd15" bash scripts/gpu/measure_session.sh
# Results in $OUT: teacher-speed.json, teacher-reference.json, pairs.json, sd15-pairs.json, the logs.
set -uo pipefail
out=${OUT:-/tmp/out}; mkdir -p "$out"
log() { echo "[$SECONDS s] $*" | tee -a "$out/session.log"; }
stages=" ${STAGES:-teacher pairs} "
[ -d .gpu/presets ] && export D2G_PRESETS=${D2G_PRESETS:-$PWD/.gpu/presets}  # java/ may be left out of the call
teacher=${TEACHER_DIR:-models/emoji-teacher}
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release 2>&1 | grep 'd2g:' >> "$out/session.log"
cmake --build build-gpu -j16 --target d2g 2>&1 | grep -E ' error|undefined' | head -20
[ -f build-gpu/native/libd2g.so ] || { log "the build failed"; exit 1; }
log "built"
set -f  # the class path's * is java's, not the shell's
ex="java --enable-native-access=ALL-UNNAMED -Dd2g.library=build-gpu/native/libd2g.so -Dlogback.configurationFile=scripts/logback-cli.xml -cp .gpu/lib/* io.d2g.examples.Examples"
src=$(mktemp -d) && tar -C "$src" -xJf .ref/diffusers-src.tar.xz
if [[ $stages == *" teacher "* ]]; then
  PYTHONPATH="$src" python3 scripts/gpu/teacher_reference.py "$teacher" "$out/teacher-reference.json" > "$out/teacher-reference.log" 2>&1
  log "teacher reference rc=$?"
  $ex teacher-bench --model "$teacher" --reference "$out/teacher-reference.json" --device cuda --out "$out" 2>&1 | tail -14 | tee -a "$out/session.log"
fi
if [[ $stages == *" pairs "* ]]; then
  timeout "${PAIRS_TIMEOUT:-300}" $ex pairs-bench --teacher "$teacher" --pairs "${PAIRS:-100000}" --batch "${PAIRS_BATCH:-1024}" \
    ${PROMPTS:+--prompts "$PROMPTS"} --device cuda --out "$out" > "$out/pairs.log" 2>&1
  log "pairs-bench rc=$? (124: stopped by PAIRS_TIMEOUT)"; tail -12 "$out/pairs.log" | tee -a "$out/session.log"
fi
if [[ $stages == *" sd15 "* ]]; then
  sd=$(mktemp -d)
  PYTHONPATH="$src" python3 scripts/gpu/sd15_pairs_reference.py "$sd" "$teacher/tokenizer" --batches "${SD15_BATCHES:-8,32,64}" \
    > "$out/sd15-reference.log" 2>&1
  log "sd15 reference rc=$?"; tail -4 "$out/sd15-reference.log" | tee -a "$out/session.log"
  $ex sd15-pairs-bench --teacher "$sd/sd15" --reference "$sd/sd15-pairs-reference.json" --batches "${SD15_BATCHES:-8,32,64}" \
    --device cuda --out "$out" > "$out/sd15-pairs.log" 2>&1
  log "sd15-pairs-bench rc=$?"; tail -12 "$out/sd15-pairs.log" | tee -a "$out/session.log"
fi
set +f
if [[ $stages == *" sd15train "* ]]; then
  OUT="$out/train" BENCH_ARGS="--cuda-graphs ${BENCH_ARGS:-}" bash scripts/gpu/train_session.sh > "$out/train-session.log" 2>&1
  log "sd15train rc=$?"; tail -12 "$out/train-session.log" | tee -a "$out/session.log"
  cp "$out"/train/*.json "$out/" 2>/dev/null; rm -rf "$out/train"
fi
[[ $stages == *" elpips "* ]] && bash scripts/gpu/elpips_session.sh
if [[ $stages == *" reliability "* ]]; then  # a fixed, pre-touched heap: the resident set's growth is then the native side's
  java -Xms1g -Xmx1g -XX:+AlwaysPreTouch --enable-native-access=ALL-UNNAMED -Dd2g.library=build-gpu/native/libd2g.so \
    -Dlogback.configurationFile=scripts/logback-cli.xml -cp '.gpu/lib/*' io.d2g.examples.Examples reliability-bench \
    --model "$teacher" --calls "${REL_CALLS:-10000}" --device cuda --out "$out" > "$out/reliability.log" 2>&1
  log "reliability-bench rc=$?"; tail -8 "$out/reliability.log" | tee -a "$out/session.log"
fi
log "done"
