#!/usr/bin/env python3
"""PyTorch's bf16 8192^3 matmul on the GPU machine, timed exactly as GpuSmoke times ours: random
normal inputs, about 2 s of warm-up, then the median of 9 batches of 50 products (after 3 more),
each batch closed by a synchronise, on the host clock. Prints one JSON line:
  {"torch": "...", "tflops": x, "ms": y}
Usage: python3 scripts/gpu/matmul_reference.py [M] [--inputs randn|zeros|ones]
(GpuSmoke --matmul-ref runs it with randn). Constant inputs switch fewer transistors, so the card
stays further below its power limit: they show how far power, not the kernel, limits the figure.
"""
import argparse
import json
import time

import torch

parser = argparse.ArgumentParser(description="PyTorch's bf16 matmul, timed as GpuSmoke times ours")
parser.add_argument("m", nargs="?", type=int, default=8192, help="matrix size (default 8192)")
parser.add_argument("--inputs", choices=["randn", "zeros", "ones"], default="randn")
opts = parser.parse_args()
m, inputs = opts.m, opts.inputs
make = {"randn": torch.randn, "zeros": torch.zeros, "ones": torch.ones}[inputs]
dev = torch.device("cuda", 0)
torch.manual_seed(0)
a = make(m, m, device=dev, dtype=torch.bfloat16)
b = make(m, m, device=dev, dtype=torch.bfloat16)

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
print(json.dumps({"torch": torch.__version__, "inputs": inputs, "tflops": round(2.0 * m**3 / per / 1e12, 3), "ms": round(per * 1e3, 3)}))
