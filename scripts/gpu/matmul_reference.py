#!/usr/bin/env python3
"""PyTorch's bf16 8192^3 matmul on the GPU machine, timed exactly as GpuSmoke times ours: random
normal inputs, about 2 s of warm-up, then the median of 9 batches of 50 products (after 3 more),
each batch closed by a synchronise, on the host clock. Prints one JSON line:
  {"torch": "...", "tflops": x, "ms": y}
Usage: python3 scripts/gpu/matmul_reference.py [M]   (GpuSmoke --matmul-ref runs it)
"""
import json
import sys
import time

import torch

m = int(sys.argv[1]) if len(sys.argv) > 1 else 8192
dev = torch.device("cuda", 0)
torch.manual_seed(0)
a = torch.randn(m, m, device=dev, dtype=torch.bfloat16)
b = torch.randn(m, m, device=dev, dtype=torch.bfloat16)

end = time.perf_counter() + 2.0
while time.perf_counter() < end:
    for _ in range(20):
        torch.matmul(a, b)
    torch.cuda.synchronize(dev)


def batch(inner=50):
    t0 = time.perf_counter()
    for _ in range(inner):
        torch.matmul(a, b)
    torch.cuda.synchronize(dev)
    return (time.perf_counter() - t0) / inner


for _ in range(3):
    batch()
per = sorted(batch() for _ in range(9))[4]
print(json.dumps({"torch": torch.__version__, "tflops": round(2.0 * m**3 / per / 1e12, 3), "ms": round(per * 1e3, 3)}))
