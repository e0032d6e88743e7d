#!/usr/bin/env bash
# Issue 11's autoencoder: several configurations trained side by side on one GPU in one call (the
# autoencoder is far too small to fill the GPU alone), each for as many steps as fit BUDGET seconds.
# Here first: bash scripts/gpu/pack.sh and ../shared/gpu/slim on test/ models/ docs/. On the device
# machine, with carry [".gpu", "data"], from the repo root:
#   source .gpu/env.sh && bash scripts/gpu/autoencoder_sweep.sh
# CONFIGS: space-separated name:widths:layers:lr entries; BATCH (default 128). Each trainer first runs a
# short probe (all at once, as they will run) that measures seconds per step; the real runs' steps fill
# what is left of BUDGET (default 540 s from the start), less the validation and packing. Results in
# $OUT: session.log (with train-check, CPU against GPU), and <name>.tar.gz per configuration (the
# shipped f16 folder, metrics.jsonl, the validation and the reconstructions PNG).
set -uo pipefail
out=${OUT:-/tmp/out}; mkdir -p "$out"
budget=${BUDGET:-540}; batch=${BATCH:-128}; probe=${PROBE_STEPS:-80}
configs=${CONFIGS:-"a:32,64,64:1:1e-3 b:48,96,96:1:8e-4 c:64,128,128:1:6e-4"}
t0=$(date +%s); left() { echo $(( budget - ($(date +%s) - t0) )); }
log() { echo "[$(( $(date +%s) - t0 )) s] $*" | tee -a "$out/session.log"; }
dev=${DEVICE:-cuda}; lib=${D2G_LIB:-build-gpu/native/libd2g.so}
ex() { java --enable-native-access=ALL-UNNAMED -Dd2g.library="$lib" \
  -Dlogback.configurationFile=scripts/logback-cli.xml -cp '.gpu/lib/*' io.d2g.examples.Examples "$@"; }
sps() { grep -o '([0-9.]* s/step)' "$1" | tail -1 | tr -dc '0-9.'; }
scratch=$(mktemp -d)

if [ -z "${D2G_LIB:-}" ]; then
  cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release 2>&1 | grep 'd2g:' >> "$out/session.log"
  cmake --build build-gpu -j16 --target d2g 2>&1 | grep -E 'error|undefined' | head -20
  [ -f "$lib" ] || { log "the build failed"; exit 1; }
  log "built"
fi
[ "$dev" = cpu ] || ex train-check --device "$dev" 2>&1 | tee -a "$out/session.log"

train() { # name widths layers lr steps folder
  ex train-autoencoder --device "$dev" --out "$6/$1" --widths "$2" --layers "$3" --lr "$4" --steps "$5" \
    --batch "$batch" --log-every "$7" --checkpoint-every 1000000 "${@:8}"
}
for c in $configs; do IFS=: read -r n w l r <<< "$c"
  train "$n" "$w" "$l" "$r" "$probe" "$scratch" "$probe" --eval-scenes 8 > "$scratch/$n.log" 2>&1 &
done; wait
steps=()
for c in $configs; do IFS=: read -r n w l r <<< "$c"
  s=$(sps "$scratch/$n.log"); log "$n ($w, layers $l, lr $r): probe ${s:-failed} s/step"
  [ -n "$s" ] || { grep -v '^ \{2,\}' "$scratch/$n.log" | tail -15 | tee -a "$out/session.log"; exit 1; }
  steps+=("$(python3 -c "print(max(200, int(($(left) - 60) / $s) // 100 * 100))")")
done
i=0; mkdir -p runs/ae
for c in $configs; do IFS=: read -r n w l r <<< "$c"
  log "$n: ${steps[$i]} steps"; train "$n" "$w" "$l" "$r" "${steps[$i]}" runs/ae 250 > "$out/$n.log" 2>&1 &
  i=$((i + 1))
done; wait
for c in $configs; do IFS=: read -r n w l r <<< "$c"
  grep 'step [0-9]*/' "$out/$n.log" | tail -1 >> "$out/session.log"
  log "$n: $(grep -E '"(psnr_db|scaling_factor)"' "runs/ae/$n/autoencoder-validation.json" | tr -d ' \n')"
  tar -C runs/ae -czf "$out/$n.tar.gz" --exclude=checkpoints "$n"; rm -f "$out/$n.log"
done
log "done"
