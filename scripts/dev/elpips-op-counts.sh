#!/usr/bin/env bash
# How many ATen operators one E-LatentLPIPS forward + backward asks for (the host's share of its cost
# where kernel launches dominate, as at batch 8 on the GPU): elpips-bench on the CPU with D2G_OP_COUNTS,
# run with 1 and with 3 timed iterations; the difference over the 2 precisions x 2 iterations is one
# iteration's count, nested operators and views included. Extra arguments go to elpips-bench (for
# example --preset none). From the repo root:  bash scripts/dev/elpips-op-counts.sh [--preset none]
set -euo pipefail
tmp=$(mktemp -d)
for n in 1 3; do
  D2G_OP_COUNTS="$tmp/ops-$n.txt" ./d2g example elpips-bench --device cpu --batches 2 --side 16 --warmup 0 \
    --iters "$n" --out "$tmp/out-$n" "$@" > "$tmp/log-$n.txt" 2>&1 || { cat "$tmp/log-$n.txt" >&2; exit 1; }
done
python3 - "$tmp" <<'PY'
import collections, sys
def counts(path):
    c = collections.Counter()
    for line in open(path):
        n, name = line.rstrip("\n").split("\t")
        c[name] = int(n)
    return c
a, b = counts(sys.argv[1] + "/ops-1.txt"), counts(sys.argv[1] + "/ops-3.txt")
per = {k: (b[k] - a[k]) / 4 for k in b}
print(f"ATen operators per iteration: {sum(per.values()):.0f}")
for name, n in sorted(per.items(), key=lambda kv: -kv[1])[:15]:
    print(f"{n:8.1f}  {name}")
PY
rm -rf "$tmp"
