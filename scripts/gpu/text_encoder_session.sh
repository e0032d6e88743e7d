#!/usr/bin/env bash
# Issue 11's text-encoder comparison in one GPU call: the teacher's text encoder pretrained contrastively
# (pretrain-text-encoder, TEXT_STEPS steps of 256 scenes), then a teacher trained on it with the shipped
# teacher's recipe otherwise (train-teacher's defaults, --batch 256 --steps TEACHER_STEPS, the shipped
# autoencoder models/emoji-teacher/vae); MODE=frozen (default: --freeze-text-encoder, as Stable Diffusion keeps
# CLIP's) or MODE=finetune (trained on with the UNet). Then this teacher and the shipped one (the text encoder
# trained jointly from scratch) sample the same prompts and seeds (.gpu/prompts/real.jsonl; DDIM 50, guidance 5),
# for the judge to grade on the CPU afterwards (./d2g eval / ./d2g tables). With the dataset in .gpu the carry has
# room for the shipped autoencoder but not the shipped teacher's UNet and text encoder: slim those out, drop the jars
# these runs never load (rm -f .gpu/lib/{common,imageio,logback}-*.jar; d2g sample needs progressbar and jline), and sample the shipped
# teacher's row in another call (d2g sample with the same prompts; the same seeds draw the same noise).
# Here first: ./d2g data scenes --out runs/eval/real; WITH_DATA=1 bash scripts/gpu/pack.sh;
# ../shared/gpu/slim on test/ docs/ java/ examples/ bindings/ benchmarks/src benchmarks/results benchmarks/pom.xml
# models/judge models/emoji-latent-lpips models/emoji-teacher/unet models/emoji-teacher/text_encoder. On the device machine, with carry [".gpu"], from the repo root:
#   source .gpu/env.sh && bash scripts/gpu/text_encoder_session.sh
# Results in $OUT: text-encoder.tar.gz (the pretraining run without checkpoints), teacher-clip.tar.gz (the run
# without checkpoints), clip-real-50.tar and shipped-real-50.tar (sample folders), session.log and the logs.
set -uo pipefail
out=${OUT:-/tmp/out}; mkdir -p "$out"
log() { echo "[$SECONDS s] $*" | tee -a "$out/session.log"; }
mode=${MODE:-frozen}
jv() { java --enable-native-access=ALL-UNNAMED -Dd2g.library=build-gpu/native/libd2g.so \
  -Dlogback.configurationFile=scripts/logback-cli.xml -cp '.gpu/lib/*' "$@"; }
mkdir -p data/emoji-64 && mv .gpu/data/* data/emoji-64/ && tar -C data/emoji-64 -xJf .gpu/data-meta.tar.xz
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release 2>&1 | grep 'd2g:' >> "$out/session.log"
cmake --build build-gpu -j16 --target d2g 2>&1 | grep -E ' error|undefined' | head -20
[ -f build-gpu/native/libd2g.so ] || { log "the build failed"; exit 1; }
log "built"
jv io.d2g.examples.Examples pretrain-text-encoder --device cuda --out runs/text --steps "${TEXT_STEPS:-1500}" --batch 256 \
  --log-every 100 > "$out/text-encoder.log" 2>&1
log "pretrain-text-encoder rc=$?"; grep -E '^step|top1' -A1 "$out/text-encoder.log" | tail -8 | tee -a "$out/session.log"
freeze=(); [ "$mode" = frozen ] && freeze=(--freeze-text-encoder)
jv io.d2g.examples.Examples train-teacher --device cuda --vae models/emoji-teacher/vae --text-encoder runs/text "${freeze[@]}" \
  --out runs/teacher-clip --batch 256 --steps "${TEACHER_STEPS:-3600}" --log-every 250 --checkpoint-every 2000 \
  > "$out/teacher-clip.log" 2>&1
log "train-teacher ($mode) rc=$?"; tail -4 "$out/teacher-clip.log" | tee -a "$out/session.log"
mkdir -p runs/eval
for t in clip:runs/teacher-clip/teacher shipped:models/emoji-teacher; do
  [ -f "${t#*:}/unet/config.json" ] || continue  # the shipped teacher's networks may be slimmed out to fit the carry
  jv io.d2g.cli.Main sample --model "${t#*:}" --device cuda --steps 50 --cfg 5 --batch 256 --prompts .gpu/prompts/real.jsonl \
    --out "runs/eval/${t%%:*}-real-50.png" --sample-folder "runs/eval/${t%%:*}-real-50" 2>&1 | tail -2 | tee -a "$out/session.log"
  tar -C runs/eval -cf "$out/${t%%:*}-real-50.tar" "${t%%:*}-real-50"
done
tar -C runs -czf "$out/text-encoder.tar.gz" --exclude=checkpoints text
tar -C runs -czf "$out/teacher-clip.tar.gz" --exclude=checkpoints --exclude=teacher/vae teacher-clip
# Optional, while the call has time (DETERMINISM_UNTIL seconds into it): the one-step pipeline's concurrency check
# (reliability-bench, 16 threads against sequential calls, with its controls) on the new teacher, with the shim as
# built, then with .gpu/group_norm_deterministic.cu (a GroupNorm statistics kernel without atomics) in its place.
if [ -f .gpu/group_norm_deterministic.cu ] && [ "$SECONDS" -lt "${DETERMINISM_UNTIL:-420}" ]; then
  rb() { timeout 90 java -Xms1g -Xmx1g --enable-native-access=ALL-UNNAMED -Dd2g.library=build-gpu/native/libd2g.so \
    -Dlogback.configurationFile=scripts/logback-cli.xml -cp '.gpu/lib/*' io.d2g.examples.Examples reliability-bench \
    --model runs/teacher-clip/teacher --calls 100 --device cuda --force --out "$1" > "$1.log" 2>&1; }
  mkdir -p "$out/det-atomic" "$out/det-fixed"
  rb "$out/det-atomic"; log "reliability (GroupNorm with atomics) rc=$?"; tail -7 "$out/det-atomic.log" | tee -a "$out/session.log"
  cp .gpu/group_norm_deterministic.cu native/src/kernels/group_norm.cu
  cmake --build build-gpu -j16 --target d2g 2>&1 | grep -E ' error|undefined' | head -20 | tee -a "$out/session.log"
  rb "$out/det-fixed"; log "reliability (deterministic GroupNorm) rc=$?"; tail -7 "$out/det-fixed.log" | tee -a "$out/session.log"
  tar -C "$out" -czf "$out/determinism.tar.gz" det-atomic det-fixed det-atomic.log det-fixed.log && rm -rf "$out"/det-*
fi
log "done"
