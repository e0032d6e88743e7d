#!/usr/bin/env python3
"""Sums the GPU kernels of Chrome traces (d2g's D2g.stopTrace, torch.profiler's export_chrome_trace) by name.

For each trace: the kernels' total time, their count, the GPU's busy time (the union of the kernels'
intervals) against the traced wall span, CUDA launch calls on the host, and the top kernels by total
time (names shortened: template arguments dropped). Two or more traces print side by side, so that the
kernels where one step spends more than the other stand out.

Usage: python3 scripts/gpu/trace_summary.py OUT.json TRACE.json [TRACE.json ...] [--top 40]
"""
import argparse
import collections
import json
import re

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("traces", nargs="+")
p.add_argument("--top", type=int, default=40)
args = p.parse_args()


def short(name):
    name = re.sub(r"<.*>", "<>", name)  # template arguments
    name = re.sub(r"\(.*\)", "()", name)
    return name[:120]


summary = {}
for path in args.traces:
    with open(path) as f:
        trace = json.load(f)
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    kernels = [e for e in events if e.get("ph") == "X" and e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset")]
    launches = sum(1 for e in events if e.get("ph") == "X" and e.get("cat") == "cuda_runtime"
                   and "Launch" in e.get("name", ""))
    by = collections.defaultdict(lambda: [0.0, 0])
    spans = []
    for e in kernels:
        by[short(e["name"])][0] += e.get("dur", 0)
        by[short(e["name"])][1] += 1
        spans.append((e["ts"], e["ts"] + e.get("dur", 0)))
    spans.sort()
    busy, end = 0.0, None
    for a, b in spans:
        if end is None or a > end:
            busy += b - a
            end = b
        elif b > end:
            busy += b - end
            end = b
    wall = (spans[-1][1] - spans[0][0]) if spans else 0
    top = sorted(by.items(), key=lambda kv: -kv[1][0])[: args.top]
    summary[path] = {"kernel_ms": round(sum(v[0] for v in by.values()) / 1e3, 3), "kernels": sum(v[1] for v in by.values()),
                     "gpu_busy_ms": round(busy / 1e3, 3), "gpu_span_ms": round(wall / 1e3, 3), "launch_calls": launches,
                     "top": [{"name": k, "ms": round(v[0] / 1e3, 3), "count": v[1]} for k, v in top]}
    s = summary[path]
    print(f"{path}: {s['kernels']} kernels, {s['kernel_ms']} ms in kernels, GPU busy {s['gpu_busy_ms']} of "
          f"{s['gpu_span_ms']} ms, {s['launch_calls']} launch calls")
    for row in s["top"][:15]:
        print(f"  {row['ms']:9.3f} ms {row['count']:6d}  {row['name']}")

with open(args.out, "w") as f:
    json.dump(summary, f, indent=2)
