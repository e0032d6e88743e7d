#!/usr/bin/env bash
# Issue 13's speed figures in one GPU call: the official E-LatentLPIPS code and ours on the same GPU.
# Here first: bash scripts/gpu/pack.sh; tar -C <elatentlpips checkout> -cJf .ref/elatentlpips-src.tar.xz elatentlpips (the inner package folder)
# (diffusers' source is .ref/diffusers-src.tar.xz already, for the pixel route); ../shared/gpu/slim on test/ models/ docs/.
# On the device machine, with carry [".gpu", ".ref"], from the repo root:
#   source .gpu/env.sh && bash scripts/gpu/elpips_session.sh
# Results in $OUT: elatentlpips.json (ours against the official code; ratio = ours / official), the
# reference's own figures and session.log. RECON="LatentLPIPS folder:autoencoder folder" also runs the
# reconstruction experiment (lpips-recon, RECON_STEPS steps, default the official 15,000) into recon.tar.gz,
# on the dataset the command unpacked to data/emoji-64 (pack.sh WITH_DATA=1). VARIANTS=1 also times both
# sides with other settings (cuDNN benchmark mode, NCHW, the lean backward, the fixed augmentation padding,
# one native call, one CUDA graph, no augmentation; VARIANTS="lean none ..." picks some of them by name:
# see want below), each into variants.tar.gz and one line each in session.log, to see where the time
# goes; TRACE=1 records kernel traces of both at batch 8 (traces.tar.gz) and sums them by kernel (trace-summary.txt, scripts/dev/trace_summary.py).
set -uo pipefail
out=${OUT:-/tmp/out}; mkdir -p "$out"
log() { echo "[$SECONDS s] $*" | tee -a "$out/session.log"; }
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release 2>&1 | grep 'd2g:' >> "$out/session.log"
cmake --build build-gpu -j16 --target d2g 2>&1 | grep -E ' error|undefined' | head -20
[ -f build-gpu/native/libd2g.so ] || { log "the build failed"; exit 1; }
log "built"
src=$(mktemp -d) && tar -C "$src" -xJf .ref/elatentlpips-src.tar.xz && tar -C "$src" -xJf .ref/diffusers-src.tar.xz
PYTHONPATH="$src" python3 scripts/gpu/elatentlpips_reference.py "$out/elatentlpips-reference.json" \
  ${TRACE:+--trace "$out/official-traces"} > "$out/reference.log" 2>&1; tail -8 "$out/reference.log" | tee -a "$out/session.log"  # the whole log comes back too
[ -f "$out/elatentlpips-reference.json" ] || { log "the official code's run failed: see reference.log"; exit 1; }
log "reference done"
java --enable-native-access=ALL-UNNAMED -Dd2g.library=build-gpu/native/libd2g.so \
  -Dlogback.configurationFile=scripts/logback-cli.xml -cp '.gpu/lib/*' io.d2g.examples.Examples elpips-bench \
  --device cuda --reference "$out/elatentlpips-reference.json" --out "$out" ${TRACE:+--trace} 2>&1 | tail -8 | tee -a "$out/session.log"
if [ -n "${TRACE:-}" ]; then  # TRACE=1: kernel traces of both sides at batch 8, summarised, in traces.tar.gz
  mkdir -p "$out/traces" && mv "$out"/trace-*.json "$out/traces/" 2>/dev/null
  for f in "$out"/official-traces/*.json; do [ -f "$f" ] && mv "$f" "$out/traces/official-$(basename "$f")"; done
  rmdir "$out/official-traces" 2>/dev/null
  python3 scripts/dev/trace_summary.py --runs 3 --top 25 "$out"/traces/*.json > "$out/trace-summary.txt" 2>&1
  tar -C "$out" -czf "$out/traces.tar.gz" traces && rm -rf "$out/traces"
fi
if [ -n "${VARIANTS:-}" ] && [ "$VARIANTS" != 0 ]; then
  ref_variant() {  # name, reference options
    local d="$out/variants/official-$1"; mkdir -p "$d"; shift
    PYTHONPATH="$src" python3 scripts/gpu/elatentlpips_reference.py "$d/elatentlpips-reference.json" --no-pixel "$@" \
      > "$d/reference.log" 2>&1; log "official $* : $(grep -c official "$d/reference.log") lines"; grep official "$d/reference.log" | tee -a "$out/session.log"
  }
  our_variant() {  # name, bench options
    local d="$out/variants/ours-$1"; mkdir -p "$d"; shift
    java --enable-native-access=ALL-UNNAMED -Dd2g.library=build-gpu/native/libd2g.so \
      -Dlogback.configurationFile=scripts/logback-cli.xml -cp '.gpu/lib/*' io.d2g.examples.Examples elpips-bench \
      --device cuda --out "$d" "$@" > "$d/bench.log" 2>&1; log "ours $* :"; grep -E 'batch|rror' "$d/bench.log" | tee -a "$out/session.log"
  }
  want() { [ "$VARIANTS" = 1 ] || [[ " $VARIANTS " == *" $1 "* ]]; }
  want official-benchmark && ref_variant benchmark --cudnn-benchmark
  want official-none && ref_variant none --preset none
  want benchmark && our_variant benchmark --cudnn-benchmark
  want nchw && our_variant nchw --no-channels-last
  want nchw-benchmark && our_variant nchw-benchmark --no-channels-last --cudnn-benchmark
  want lean && our_variant lean --lean-backward
  want fixed-padding && our_variant fixed-padding --fixed-augment-padding
  want one-call && our_variant one-call --one-call
  want graph && our_variant graph --cuda-graph
  want none && our_variant none --preset none
  want none-benchmark && our_variant none-benchmark --preset none --cudnn-benchmark
  tar -C "$out" -czf "$out/variants.tar.gz" variants && rm -rf "$out/variants"
fi
if [ -n "${RECON:-}" ]; then
  java --enable-native-access=ALL-UNNAMED -Dd2g.library=build-gpu/native/libd2g.so \
    -Dlogback.configurationFile=scripts/logback-cli.xml -cp '.gpu/lib/*' io.d2g.examples.Examples lpips-recon \
    --device cuda --model "${RECON%%:*}" --vae "${RECON#*:}" --steps "${RECON_STEPS:-15000}" --every 250 --out runs/recon \
    > "$out/recon.log" 2>&1; log "recon rc=$?"; tail -8 "$out/recon.log" | tee -a "$out/session.log"
  tar -C runs -czf "$out/recon.tar.gz" recon
fi
log "done"
