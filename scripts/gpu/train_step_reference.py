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
On the CPU, for operator counts against d2g's (D2G_OP_COUNTS): --device cpu --config tiny.json --layouts nchw
--batches 1 --warmup 1 --steps 1 --op-counts FILE (FILE.nchw_b1 is written).
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
p.add_argument("--device", default="cuda")
p.add_argument("--config", help="another UNet config.json than the SD1.5 preset (e.g. a small one on the CPU)")
p.add_argument("--layouts", default="nchw,channels_last")
p.add_argument("--precision", default="bf16", choices=["bf16", "f32"])
p.add_argument("--op-counts", help="also count ATen operators over one more step into this file ('<count>\\t<name>' "
               "lines, as d2g's D2G_OP_COUNTS writes them)")
p.add_argument("--trace", help="also record one more step with torch.profiler (CPU and CUDA) into this folder as "
               "<layout>_b<batch>.json Chrome traces (scripts/gpu/trace_summary.py sums their kernels)")
args = p.parse_args()

# D2G_PRESETS: where the presets are when java/ is left out of a call (pack.sh copies them to .gpu/presets)
presets = os.environ.get("D2G_PRESETS") or os.path.join(os.path.dirname(__file__), "../../java/src/main/resources/io/d2g/models/presets/sd15")
with open(args.config or os.path.join(presets, "unet.json")) as f:
    config = {k: v for k, v in json.load(f).items() if not k.startswith("_")}

torch.backends.cuda.matmul.allow_tf32 = True
torch.backends.cudnn.allow_tf32 = True
dev = args.device
cuda = dev.startswith("cuda")
betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
alphas_cumprod = torch.cumprod(1 - betas, 0).float().to(dev)

results = {"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0) if cuda else "cpu",
           "method": __doc__.split("\n\n")[1]}
side, dim = config.get("sample_size", 64), config.get("cross_attention_dim", 768)
for layout in args.layouts.split(","):
    torch.manual_seed(0)
    unet = UNet2DConditionModel(**config).to(dev).train()
    if layout == "channels_last":
        unet = unet.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(unet.parameters(), lr=1e-5, weight_decay=1e-2, fused=cuda)
    for b in [int(x) for x in args.batches.split(",")]:
        g = torch.Generator(device=dev).manual_seed(1)
        x0 = torch.randn(b, 4, side, side, device=dev, generator=g)
        ctx = torch.randn(b, 77, dim, device=dev, generator=g)
        noise = torch.randn(b, 4, side, side, device=dev, generator=g)
        t = torch.randint(0, 1000, (b,), device=dev, generator=g)
        if layout == "channels_last":
            x0, noise = x0.contiguous(memory_format=torch.channels_last), noise.contiguous(memory_format=torch.channels_last)

        def step():
            abar = alphas_cumprod[t].view(-1, 1, 1, 1)
            xt = abar.sqrt() * x0 + (1 - abar).sqrt() * noise
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cuda" if cuda else "cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
                pred = unet(xt, t, encoder_hidden_states=ctx).sample
            loss = torch.nn.functional.mse_loss(pred.float(), noise)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
            opt.step()
            return loss

        sync = torch.cuda.synchronize if cuda else (lambda: None)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        for _ in range(args.warmup):
            step()
        sync()
        ms = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            loss = step()
            loss.item()  # the loss reaches the host, as d2g's step returns it
            sync()
            ms.append((time.perf_counter() - t0) * 1000)
        key = f"{layout}_b{b}"
        results[key] = {"ms": round(statistics.median(ms), 3), "min_ms": round(min(ms), 3),
                        "peak_gb": round(torch.cuda.max_memory_allocated() / 2**30, 3) if cuda else None}
        print(key, results[key], flush=True)
        if args.trace:
            os.makedirs(args.trace, exist_ok=True)
            acts = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if cuda else [])
            with torch.profiler.profile(activities=acts) as prof:
                step().item()
                sync()
            prof.export_chrome_trace(os.path.join(args.trace, f"pytorch_{key}.json"))
        if args.op_counts:
            with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
                step().item()
            rows = sorted(((e.count, e.key) for e in prof.key_averages()), key=lambda r: (-r[0], r[1]))
            with open(f"{args.op_counts}.{key}", "w") as f:
                f.writelines(f"{n}\t{name}\n" for n, name in rows)
    del unet, opt
    if cuda:
        torch.cuda.empty_cache()

with open(args.out, "w") as f:
    json.dump(results, f, indent=2)
