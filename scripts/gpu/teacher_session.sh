#!/usr/bin/env bash
# Issue 11 on one GPU in one call: the autoencoder, then the teacher, then the evaluation's sample folders.
# From the repo root on the device machine, with carry [".gpu", "data"] (the emoji dataset) and the
# prompt files of the real sample folders copied to .gpu/prompts/{real,real-heldout}.jsonl:
#   source .gpu/env.sh && bash scripts/gpu/teacher_session.sh
# A short probe of each trainer measures seconds per step; the steps of the real runs are then chosen to
# fill BUDGET seconds (default 540) from the script's start, capped by VAE_MAX / TEACHER_MAX. Results
# (DEVICE=cpu D2G_LIB=build/native/libd2g.so BUDGET=... try it on the CPU) land in $OUT as vae.tar.gz,
# teacher.tar.gz, one tar per sample folder and session.log. TEACHER=0 trains the autoencoder alone;
# VAE_BATCH sets its batch.
set -uo pipefail
out=${OUT:-/tmp/out}; mkdir -p "$out"
budget=${BUDGET:-540}; vae_max=${VAE_MAX:-12000}; teacher_max=${TEACHER_MAX:-40000}; vae_batch=${VAE_BATCH:-32}
teacher=${TEACHER:-1}  # 0: the autoencoder alone, with all the time
t0=$(date +%s); left() { echo $(( budget - ($(date +%s) - t0) )); }
log() { echo "[$(( $(date +%s) - t0 )) s] $*" | tee -a "$out/session.log"; }
dev=${DEVICE:-cuda}; lib=${D2G_LIB:-build-gpu/native/libd2g.so}
jv() { java --enable-native-access=ALL-UNNAMED -Dd2g.library="$lib" \
  -Dlogback.configurationFile=scripts/logback-cli.xml -cp '.gpu/lib/*' "$@"; }
ex() { jv io.d2g.examples.Examples "$@"; }
cli() { jv io.d2g.cli.Main "$@"; }
sps() { grep -o '([0-9.]* s/step)' "$1" | tail -1 | tr -dc '0-9.'; }

if [ -z "${D2G_LIB:-}" ]; then
  cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release 2>&1 | grep 'd2g:' >> "$out/session.log"
  cmake --build build-gpu -j16 --target d2g 2>&1 | grep -E 'error|undefined' | head -20
  log "built"
fi
ex train-check --device "$dev" 2>&1 | tee -a "$out/session.log"  # CPU against GPU, for the record
mkdir -p runs
# Probes: 60 steps each, thrown away.
ex train-autoencoder --device "$dev" --out /tmp/probe-vae --steps 60 --batch "$vae_batch" --log-every 20 --eval-scenes 64 \
  > /tmp/probe-vae.log 2>&1
vs=$(sps /tmp/probe-vae.log); log "autoencoder probe: ${vs} s/step"; tail -3 /tmp/probe-vae.log >> "$out/session.log"
p0=$(date +%s)
ex train-teacher --device "$dev" --vae /tmp/probe-vae/vae --out /tmp/probe-teacher --steps 60 --log-every 20 \
  --sample-steps 2 > /tmp/probe-teacher.log 2>&1
ts=$(sps /tmp/probe-teacher.log); tw=$(( $(date +%s) - p0 )); log "teacher probe: ${ts} s/step, ${tw} s in all"
tail -3 /tmp/probe-teacher.log >> "$out/session.log"
[ -n "$vs" ] && [ -n "$ts" ] || { log "a probe failed"; for f in /tmp/probe-vae.log /tmp/probe-teacher.log; do
  echo "== $f"; grep -v '^ \{2,\}\|^Usage\|^  -' "$f" | tail -25; done | tee -a "$out/session.log"; exit 1; }
# What is left, less the sampling and packing (~70 s) and two start-ups (~2 x 25 s), split 30 / 70.
r=$(( $(left) - 120 ))
share=$([ "$teacher" = 1 ] && echo 0.3 || echo 0.85)
vae_steps=$(python3 -c "print(min($vae_max, max(500, int($share * $r / $vs) // 100 * 100)))")
teacher_steps=$(python3 -c "print(min($teacher_max, max(500, int(0.7 * $r / $ts) // 100 * 100)))")
log "autoencoder: $vae_steps steps; teacher: $teacher_steps steps"
ex train-autoencoder --device "$dev" --out runs/vae --steps "$vae_steps" --batch "$vae_batch" --log-every 250 > "$out/vae.log" 2>&1
log "autoencoder rc=$?"; tail -4 "$out/vae.log" | tee -a "$out/session.log"
if [ "$teacher" != 1 ]; then tar -C runs -czf "$out/vae.tar.gz" --exclude=checkpoints vae; log "done"; exit 0; fi
ex train-teacher --device "$dev" --vae runs/vae/vae --out runs/teacher --steps "$teacher_steps" --log-every 250 \
  --checkpoint-every 2000 > "$out/teacher.log" 2>&1
log "teacher rc=$?"; tail -4 "$out/teacher.log" | tee -a "$out/session.log"
# The evaluation rows: the real folders' prompts and seeds, DDIM with guidance 5.
mkdir -p runs/eval
rows=${ROWS:-"real:50 real:8 real:4 real:2 real:1 real-heldout:50"}
for row in $rows; do
  set -- ${row/:/ }
  [ "$(left)" -gt 25 ] || { log "no time left for $1 $2"; continue; }
  cli sample --model runs/teacher/teacher --device "$dev" --steps "$2" --cfg 5 --batch 256 --prompts ".gpu/prompts/$1.jsonl" \
    --out "runs/eval/teacher-$1-$2.png" --sample-folder "runs/eval/teacher-$1-$2" 2>&1 | tail -2 | tee -a "$out/session.log"
done
tar -C runs -czf "$out/vae.tar.gz" --exclude=checkpoints vae
tar -C runs -czf "$out/teacher.tar.gz" --exclude=checkpoints --exclude=teacher/vae teacher
# Sample folders of generated pictures compress little (~8 MB per 1000): one file each, under 16 MiB.
for d in runs/eval/teacher-*/; do tar -C runs/eval -cf "$out/$(basename "$d").tar" "$(basename "$d")"; done
ls -la "$out" | tee -a "$out/session.log"; log "done"
