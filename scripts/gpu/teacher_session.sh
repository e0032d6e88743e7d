#!/usr/bin/env bash
# Issue 11 on one GPU in one call: the autoencoder, then the teacher, then the evaluation's sample folders.
# Here first: bash scripts/gpu/pack.sh (jars, runtime, the real rows' prompts into .gpu/prompts/) and
# ../shared/gpu/slim on test/ models/ docs/ (never benchmarks/native: CMake builds from it). Then on the device machine, with carry [".gpu", "data"]
# (the emoji dataset; add ".ref" for the speed benchmark), from the repo root:
#   source .gpu/env.sh && bash scripts/gpu/teacher_session.sh
# A short probe of each trainer measures seconds per step; the steps of the real runs are then chosen to
# fill BUDGET seconds (default 540) from the script's start, capped by VAE_MAX / TEACHER_MAX. Results
# (DEVICE=cpu D2G_LIB=build/native/libd2g.so BUDGET=... try it on the CPU) land in $OUT as vae.tar.gz,
# teacher.tar.gz, one tar per sample folder, session.log and, with .ref carried (diffusers' source), the
# speed benchmark's teacher-speed.json. TEACHER=0 trains the autoencoder alone, VAE_DIR=folder the teacher
# alone on that autoencoder; VAE_BATCH sets the autoencoder's batch. LPIPS="train-lpips options" trains
# LatentLPIPS weights on the same autoencoder beside the teacher (lpips.tar.gz; issue 13). With .ref carried,
# diffusers itself samples the trained folder from the same latents as ours (diffusers-parity.json).
# TEACHER_ARGS: more train-teacher options (e.g. "--batch 128").
set -uo pipefail
out=${OUT:-/tmp/out}; mkdir -p "$out"
budget=${BUDGET:-540}; vae_max=${VAE_MAX:-12000}; teacher_max=${TEACHER_MAX:-40000}; vae_batch=${VAE_BATCH:-32}
teacher=${TEACHER:-1}  # 0: the autoencoder alone, with all the time
probe=${PROBE_STEPS:-60}; scratch=$(mktemp -d)  # the probes' runs, thrown away
t0=$(date +%s); left() { echo $(( budget - ($(date +%s) - t0) )); }
log() { echo "[$(( $(date +%s) - t0 )) s] $*" | tee -a "$out/session.log"; }
dev=${DEVICE:-cuda}; lib=${D2G_LIB:-build-gpu/native/libd2g.so}
jv() { java --enable-native-access=ALL-UNNAMED -Dd2g.library="$lib" \
  -Dlogback.configurationFile=scripts/logback-cli.xml -cp '.gpu/lib/*' "$@"; }
ex() { jv io.d2g.examples.Examples "$@"; }
cli() { jv io.d2g.cli.Main "$@"; }
# Seconds per step after warm-up: the trainers print the mean since the start every --log-every steps, so the
# steady rate comes from the first and last of those lines (a probe's own mean counts its warm-up: 0.092 against
# a steady 0.072 for the teacher); a log with one such line gives its mean.
sps() { grep -oE 'step [0-9]+/[0-9]+ .*\([0-9.]+ s/step\)' "$1" | sed -E 's|step ([0-9]+)/.*\(([0-9.]+) s/step\)|\1 \2|' \
  | awk 'NR == 1 { n1 = $1; m1 = $2 } { n = $1; m = $2 } END { if (NR == 0) exit; if (n > n1) printf "%.4f", (n * m - n1 * m1) / (n - n1); else printf "%s", m }'; }

if [ -z "${D2G_LIB:-}" ]; then
  cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release 2>&1 | grep 'd2g:' >> "$out/session.log"
  cmake --build build-gpu -j16 --target d2g > $scratch/build.log 2>&1
  [ -f build-gpu/native/libd2g.so ] || { log "the build failed (slimmed away a folder CMake reads? benchmarks/native is one):"
    grep -E 'error|Error|No rule|not found' $scratch/build.log | head -20 | tee -a "$out/session.log"; exit 1; }
  log "built"
fi
[ "${TRAIN_CHECK:-1}" = 1 ] && ex train-check --device "$dev" 2>&1 | tee -a "$out/session.log"  # CPU against GPU
mkdir -p runs
bench=${BENCH:-$([ -f .ref/diffusers-src.tar.xz ] && echo 1 || echo 0)}
[ -f .ref/diffusers-src.tar.xz ] && mkdir -p /tmp/dsrc && tar -C /tmp/dsrc -xJf .ref/diffusers-src.tar.xz
lpips_pid=
if [ -n "${LPIPS:-}" ] && [ -n "${VAE_DIR:-}" ]; then  # beside the teacher, on the same GPU, until 40 s before the end
  timeout $(( $(left) - 40 )) java --enable-native-access=ALL-UNNAMED -Dd2g.library="$lib" \
    -Dlogback.configurationFile=scripts/logback-cli.xml -cp '.gpu/lib/*' io.d2g.examples.Examples \
    train-lpips --device "$dev" --vae "$VAE_DIR" --out runs/lpips $LPIPS > "$out/lpips.log" 2>&1 &
  lpips_pid=$!; log "LatentLPIPS training started beside the teacher: $LPIPS"
fi
# Probes: 60 steps each, thrown away. VAE_DIR (an autoencoder trained before, e.g. carried in .gpu/)
# skips the autoencoder and gives the teacher all the time.
vae_dir=${VAE_DIR:-}
if [ -z "$vae_dir" ]; then
  ex train-autoencoder --device "$dev" --out $scratch/probe-vae --steps "$probe" --batch "$vae_batch" --log-every $(( probe / 3 )) --eval-scenes 64 \
    > $scratch/probe-vae.log 2>&1
  vs=$(sps $scratch/probe-vae.log); log "autoencoder probe: ${vs} s/step"; tail -3 $scratch/probe-vae.log >> "$out/session.log"
else
  vs=skipped; echo "given autoencoder: $vae_dir" > $scratch/probe-vae.log
fi
p0=$(date +%s)
ex train-teacher --device "$dev" --vae "${vae_dir:-$scratch/probe-vae/vae}" --out $scratch/probe-teacher --steps "$probe" --log-every $(( probe / 3 )) \
  --sample-steps 2 ${TEACHER_ARGS:-} > $scratch/probe-teacher.log 2>&1
ts=$(sps $scratch/probe-teacher.log); tw=$(( $(date +%s) - p0 )); log "teacher probe: ${ts} s/step, ${tw} s in all"
tail -3 $scratch/probe-teacher.log >> "$out/session.log"
[ -n "$vs" ] && [ -n "$ts" ] || { log "a probe failed"; for f in $scratch/probe-vae.log $scratch/probe-teacher.log; do
  echo "== $f"; grep -v '^ \{2,\}\|^Usage\|^  -' "$f" | tail -25; done | tee -a "$out/session.log"; exit 1; }
# What is left, less the sampling and packing (~70 s), two start-ups (~2 x 25 s) and, with .ref carried,
# the speed benchmark and the format check (~90 s), split 30 / 70 (or all to the one trained).
r=$(( $(left) - 120 - 90 * bench ))
if [ -z "$vae_dir" ]; then
  share=$([ "$teacher" = 1 ] && echo 0.3 || echo 0.85)
  vae_steps=$(python3 -c "print(min($vae_max, max(500, int($share * $r / $vs) // 100 * 100)))")
  teacher_share=0.7
  log "autoencoder: $vae_steps steps"
  ex train-autoencoder --device "$dev" --out runs/vae --steps "$vae_steps" --batch "$vae_batch" --log-every 250 > "$out/vae.log" 2>&1
  log "autoencoder rc=$?"; tail -4 "$out/vae.log" | tee -a "$out/session.log"
  if [ "$teacher" != 1 ]; then tar -C runs -czf "$out/vae.tar.gz" --exclude=checkpoints vae; log "done"; exit 0; fi
  vae_dir=runs/vae/vae
else
  teacher_share=0.95
fi
teacher_steps=$(python3 -c "print(min($teacher_max, max(500, int($teacher_share * $r / $ts) // 100 * 100)))")
log "teacher: $teacher_steps steps on $vae_dir"
ex train-teacher --device "$dev" --vae "$vae_dir" --out runs/teacher --steps "$teacher_steps" --log-every 250 \
  --checkpoint-every 2000 ${TEACHER_ARGS:-} > "$out/teacher.log" 2>&1
log "teacher rc=$?"; tail -4 "$out/teacher.log" | tee -a "$out/session.log"
# The evaluation rows: the real folders' prompts and seeds, DDIM with guidance 5.
mkdir -p runs/eval
# Generated pictures compress little (~12 MB per 1000 noisy ones): four rows fit what a call brings back;
# the cheap few-step rows can be sampled on a CPU afterwards with d2g sample --prompts.
rows=${ROWS:-"real:50 real:4 real:1 real-heldout:50"}
for row in $rows; do
  set -- ${row/:/ }
  [ "$(left)" -gt 25 ] || { log "no time left for $1 $2"; continue; }
  cli sample --model runs/teacher/teacher --device "$dev" --steps "$2" --cfg 5 --batch 256 --prompts ".gpu/prompts/$1.jsonl" \
    --out "runs/eval/teacher-$1-$2.png" --sample-folder "runs/eval/teacher-$1-$2" 2>&1 | tail -2 | tee -a "$out/session.log"
done
if [ -d /tmp/dsrc ]; then  # diffusers itself on our folder, from the same latents
  PYTHONPATH=/tmp/dsrc ${PYTHON:-python3} scripts/gpu/diffusers_parity.py runs/teacher/teacher $scratch/parity.safetensors --device "$dev" \
    > $scratch/parity.log 2>&1; log "diffusers parity rc=$?"; tail -2 $scratch/parity.log | tee -a "$out/session.log"
  ex diffusers-parity --model runs/teacher/teacher --reference $scratch/parity.safetensors --device "$dev" --out "$out" \
    2>&1 | tail -14 | tee -a "$out/session.log"
fi
if [ "$bench" = 1 ]; then  # the teacher's speeds against PyTorch's, on the trained folder
  PYTHONPATH=/tmp/dsrc ${PYTHON:-python3} scripts/gpu/teacher_reference.py runs/teacher/teacher "$out/teacher-reference.json" \
    > $scratch/teacher-reference.log 2>&1; log "reference rc=$?"; grep -E '^(train|sample) ' $scratch/teacher-reference.log
  ex teacher-bench --model runs/teacher/teacher --reference "$out/teacher-reference.json" --device "$dev" --out "$out" \
    2>&1 | tail -14 | tee -a "$out/session.log"
fi
if [ -n "$lpips_pid" ]; then
  wait "$lpips_pid"; lrc=$?; log "LatentLPIPS rc=$lrc (124: stopped by the time limit; its newest checkpoint resumes it)"
  tail -6 "$out/lpips.log" | tee -a "$out/session.log"
  tar -C runs -czf "$out/lpips.tar.gz" --exclude=checkpoints lpips
  newest=$(ls runs/lpips/checkpoints/*.safetensors 2>/dev/null | tail -1)
  [ "$lrc" != 0 ] && [ -n "$newest" ] && cp "$newest" "$out/lpips-checkpoint-$(basename "$newest")"
fi
[ -d runs/vae ] && tar -C runs -czf "$out/vae.tar.gz" --exclude=checkpoints vae
tar -C runs -czf "$out/teacher.tar.gz" --exclude=checkpoints --exclude=teacher/vae teacher
# Sample folders of generated pictures compress little (~8 MB per 1000): one file each, under 16 MiB.
for d in runs/eval/teacher-*/; do [ -d "$d" ] && tar -C runs/eval -cf "$out/$(basename "$d").tar" "$(basename "$d")"; done
# A call brings back 8 files: the logs and figures travel in one tarball.
log "done"; (cd "$out" && shopt -s nullglob && small=(*.log *.json) && tar -czf report.tar.gz "${small[@]}" && rm -f "${small[@]}"); ls -la "$out"
