#!/usr/bin/env python3
"""Summarises a Chrome trace written by D2g.stopTrace / d2g_profiler_stop: GPU time per kernel name
(sum, count, mean), largest first, and the total. Developer aid, not part of the build.

    python3 scripts/dev/trace_summary.py TRACE.json [--runs N] [--top K]
"""
import argparse
import collections
import json

ap = argparse.ArgumentParser()
ap.add_argument("trace")
ap.add_argument("--runs", type=int, default=1, help="divide times by this many recorded runs")
ap.add_argument("--top", type=int, default=40)
a = ap.parse_args()
with open(a.trace) as f:
    events = json.load(f)["traceEvents"]
by_name = collections.defaultdict(lambda: [0.0, 0])
for e in events:
    if e.get("ph") == "X" and e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset"):
        by_name[e["name"]][0] += e.get("dur", 0.0)
        by_name[e["name"]][1] += 1
total = sum(v[0] for v in by_name.values())
print(f"GPU time per run: {total / a.runs / 1000:.3f} ms over {sum(v[1] for v in by_name.values()) // a.runs} kernels")
print(f"{'ms/run':>8} {'share':>6} {'calls':>6} {'us/call':>8}  name")
for name, (dur, n) in sorted(by_name.items(), key=lambda kv: -kv[1][0])[: a.top]:
    print(f"{dur / a.runs / 1000:8.3f} {100 * dur / total:5.1f}% {n // a.runs:6d} {dur / n:8.2f}  {name[:110]}")
