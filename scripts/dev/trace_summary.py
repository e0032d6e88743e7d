#!/usr/bin/env python3
"""Summarises Chrome traces written by D2g.stopTrace / d2g_profiler_stop (or torch.profiler's
export_chrome_trace): GPU time per kernel name (sum, count, mean), largest first, and the total; and the
span from the first kernel's start to the last one's end, so that busy / span shows how much of the time
the GPU worked (well under 100 %: the host's launches are the bottleneck). Developer aid, not part of
the build.

    python3 scripts/dev/trace_summary.py TRACE.json [TRACE.json ...] [--runs N] [--top K]
"""
import argparse
import collections
import json

ap = argparse.ArgumentParser()
ap.add_argument("traces", nargs="+")
ap.add_argument("--runs", type=int, default=1, help="divide times by this many recorded runs")
ap.add_argument("--top", type=int, default=40)
a = ap.parse_args()
for path in a.traces:
    with open(path) as f:
        events = json.load(f)
    events = events["traceEvents"] if isinstance(events, dict) else events
    kernels = [e for e in events if e.get("ph") == "X" and e.get("cat") in ("kernel", "Kernel", "gpu_memcpy", "gpu_memset")]
    if not kernels:
        print(f"== {path}: no GPU kernels")
        continue
    by_name = collections.defaultdict(lambda: [0.0, 0])
    for e in kernels:
        by_name[e["name"]][0] += e.get("dur", 0.0)
        by_name[e["name"]][1] += 1
    total = sum(v[0] for v in by_name.values())
    span = max(e["ts"] + e.get("dur", 0.0) for e in kernels) - min(e["ts"] for e in kernels)
    print(f"== {path}")
    print(f"GPU time per run: {total / a.runs / 1000:.3f} ms over {len(kernels) // a.runs} kernels; "
          f"busy {100 * total / span:.0f}% of the {span / a.runs / 1000:.3f} ms from the first kernel to the last")
    print(f"{'ms/run':>8} {'share':>6} {'calls':>6} {'us/call':>8}  name")
    for name, (dur, n) in sorted(by_name.items(), key=lambda kv: -kv[1][0])[: a.top]:
        print(f"{dur / a.runs / 1000:8.3f} {100 * dur / total:5.1f}% {n // a.runs:6d} {dur / n:8.2f}  {name[:110]}")
