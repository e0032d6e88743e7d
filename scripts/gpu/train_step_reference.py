#!/usr/bin/env python3
"""PyTorch eager side of the SD1.5 UNet training-step benchmark (GPU machine).

The step that io.d2g.examples.TrainStepBench times through d2g, written in PyTorch from the same
definition: diffusers' UNet2DConditionModel at SD1.5 size (our preset
java/src/main/resources/io/d2g/models/presets/sd15/unet.json), random weights, f32 master weights,
bf16 autocast, x_t = sqrt(abar) x0 + sqrt(1 - abar) eps with SD1.5's scaled_linear schedule,
epsilon-prediction MSE, backward, clip_grad_norm_(1.0), AdamW (fused=True, PyTorch's fastest), on
64x64x4 latents and 77x768 text states. Two layouts: NCHW (the default) and channels_last.
Median milliseconds over --steps steps after --warmup, with torch.cuda.synchronize() around each
step, and the peak memory; written as JSON to OUT.

Usage: PYTHONPATH=<diffusers src> python3 scripts/gpu/train_step_reference.py OUT [--batches 8,32]
Only the figures are used by the project; diffusers' code never enters it.
"""
import argparse
import json
import os
import statistics
import time

import torch

from diffusers import UNet2DConditionModel

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--batches", default="8,32")
p.add_argument("--warmup", type=int, default=5)
p.add_argument("--steps", type=int, default=20)
args = p.parse_args()

presets = os.path.join(os.path.dirname(__file__), "../../java/src/main/resources/io/d2g/models/presets/sd15")
with open(os.path.join(presets, "unet.json")) as f:
    config = {k: v for k, v in json.load(f).items() if not k.startswith("_")}

torch.backends.cuda.matmul.allow_tf32 = True
torch.backends.cudnn.allow_tf32 = True
dev = "cuda"
betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
alphas_cumprod = torch.cumprod(1 - betas, 0).float().to(dev)

results = {"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0), "method": __doc__.split("\n\n")[1]}
for layout in ("nchw", "channels_last"):
    torch.manual_seed(0)
    unet = UNet2DConditionModel(**config).to(dev).train()
    if layout == "channels_last":
        unet = unet.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(unet.parameters(), lr=1e-5, weight_decay=1e-2, fused=True)
    for b in [int(x) for x in args.batches.split(",")]:
        g = torch.Generator(device=dev).manual_seed(1)
        x0 = torch.randn(b, 4, 64, 64, device=dev, generator=g)
        ctx = torch.randn(b, 77, 768, device=dev, generator=g)
        noise = torch.randn(b, 4, 64, 64, device=dev, generator=g)
        t = torch.randint(0, 1000, (b,), device=dev, generator=g)
        if layout == "channels_last":
            x0, noise = x0.contiguous(memory_format=torch.channels_last), noise.contiguous(memory_format=torch.channels_last)

        def step():
            abar = alphas_cumprod[t].view(-1, 1, 1, 1)
            xt = abar.sqrt() * x0 + (1 - abar).sqrt() * noise
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                pred = unet(xt, t, encoder_hidden_states=ctx).sample
            loss = torch.nn.functional.mse_loss(pred.float(), noise)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
            opt.step()
            return loss

        torch.cuda.reset_peak_memory_stats()
        for _ in range(args.warmup):
            step()
        torch.cuda.synchronize()
        ms = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            loss = step()
            loss.item()  # the loss reaches the host, as d2g's step returns it
            torch.cuda.synchronize()
            ms.append((time.perf_counter() - t0) * 1000)
        key = f"{layout}_b{b}"
        results[key] = {"ms": round(statistics.median(ms), 3), "min_ms": round(min(ms), 3),
                        "peak_gb": round(torch.cuda.max_memory_allocated() / 2**30, 3)}
        print(key, results[key], flush=True)
    del unet, opt
    torch.cuda.empty_cache()

with open(args.out, "w") as f:
    json.dump(results, f, indent=2)
