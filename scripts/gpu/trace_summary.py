#!/usr/bin/env python3
"""Where the GPU time goes in a Chrome trace (LibTorch's Kineto, or torch.profiler's export_chrome_trace):
GPU kernel time summed by kernel name, the top N, and the span from the first kernel's start to the
last kernel's end against the summed kernel time (the GPU's idle share). Usage:
  python3 scripts/gpu/trace_summary.py TRACE.json [...] [--top 25]
"""
import argparse
import collections
import json

p = argparse.ArgumentParser()
p.add_argument("traces", nargs="+")
p.add_argument("--top", type=int, default=25)
args = p.parse_args()
for path in args.traces:
    with open(path) as f:
        events = json.load(f)
    events = events.get("traceEvents", events) if isinstance(events, dict) else events
    kernels = [e for e in events if e.get("ph") == "X" and e.get("cat") in ("kernel", "Kernel", "gpu_memcpy", "gpu_memset")]
    if not kernels:
        print(f"{path}: no GPU kernels")
        continue
    by_name = collections.defaultdict(lambda: [0.0, 0])
    for e in kernels:
        by_name[e["name"]][0] += e.get("dur", 0.0)
        by_name[e["name"]][1] += 1
    busy = sum(v[0] for v in by_name.values())
    span = max(e["ts"] + e.get("dur", 0.0) for e in kernels) - min(e["ts"] for e in kernels)
    print(f"== {path}: {len(kernels)} kernels, busy {busy / 1e3:.2f} ms of a {span / 1e3:.2f} ms span ({100 * busy / span:.0f}%)")
    for name, (dur, n) in sorted(by_name.items(), key=lambda kv: -kv[1][0])[:args.top]:
        print(f"{dur / 1e3:9.3f} ms {100 * dur / busy:5.1f}% {n:5d}x  {name[:150]}")
