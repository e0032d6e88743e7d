#!/usr/bin/env python3
"""Official side of the E-LatentLPIPS speed benchmark (io.d2g.examples.ElpipsBench), same GPU, same run.

The official code (mingukkang/elatentlpips, its checkout on PYTHONPATH) builds ELatentLPIPS for SD1.5
latents with random weights (pretrained=False, pnet_rand=True: nothing is downloaded; the trunk's slices
from its LatentVGG16BN, as its pretrained path takes them) and augmentation preset --preset; each iteration takes forward + backward with respect to the first input: latents
[B, 4, 64, 64], in0 a fresh leaf of fixed values, loss = the mean distance with ensembling on and the L1
term off (as ours is measured). Median milliseconds over --iters after --warmup, synchronised each
iteration, for each batch in fp32 and under bf16 autocast; the extra memory of one iteration at batch 8
(peak allocated minus what was allocated before it: the model and inputs excluded).

Also the pixel-LPIPS route the paper compares with: diffusers' AutoencoderKL in SD1.5's configuration
(random weights) decodes the latents to 512 px, then LPIPS on pixels (torchvision's VGG16 features, five
taps, unit-normalised squared differences through 1x1 heads, spatial mean) against a fixed target
picture; forward + backward with respect to the latents, batch 8, fp32: time and extra memory.

Usage: PYTHONPATH=<elatentlpips checkout>:<diffusers src> python3 scripts/gpu/elatentlpips_reference.py OUT
Only the figures are used by the project; the official code (CC-BY-NC) never enters it.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--device", default="cuda")
p.add_argument("--batches", default="8,32")
p.add_argument("--warmup", type=int, default=10)
p.add_argument("--iters", type=int, default=50)
p.add_argument("--preset", default="bg", help="augmentation preset, or none for plain LatentLPIPS (ensembling off)")
p.add_argument("--cudnn-benchmark", action="store_true", help="torch.backends.cudnn.benchmark = True (PyTorch's default: off)")
p.add_argument("--trace", help="folder for Chrome traces of 3 iterations at the first batch size, per precision")
p.add_argument("--no-pixel", action="store_true", help="skip the pixel-LPIPS route")
args = p.parse_args()
dev = torch.device(args.device)
plain = args.preset == "none"
torch.backends.cudnn.benchmark = args.cudnn_benchmark
cuda = dev.type == "cuda"
torch.manual_seed(0)


def sync():
    if cuda:
        torch.cuda.synchronize(dev)


def timed(step):
    for _ in range(args.warmup):
        step()
    sync()
    ms = []
    for _ in range(args.iters):
        t0 = time.perf_counter()
        step()
        sync()
        ms.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ms)


def extra_memory_gb(step):
    if not cuda:
        return float("nan")
    sync()
    torch.cuda.reset_peak_memory_stats(dev)
    base = torch.cuda.memory_allocated(dev)
    step()
    sync()
    return (torch.cuda.max_memory_allocated(dev) - base) / 2**30


# The official code builds its upfirdn2d CUDA op with torch.utils.cpp_extension.load and then imports it
# by name, which newer PyTorch (2.x: load() no longer registers the module in sys.modules) refuses with
# "No module named 'upfirdn2d_plugin'". Registering what load() returns changes no computation.
import sys  # noqa: E402
import torch.utils.cpp_extension as _cpp  # noqa: E402

_cpp_load = _cpp.load


def _load_and_register(*args, **kwargs):
    module = _cpp_load(*args, **kwargs)
    name = kwargs.get("name", args[0] if args else None)
    if name is not None and module is not None:
        sys.modules.setdefault(name, module)
    return module


_cpp.load = _load_and_register

from elatentlpips import ELatentLPIPS  # noqa: E402
from elatentlpips.vgg16 import LatentVGG16BN  # noqa: E402

model = ELatentLPIPS(pretrained=False, pnet_rand=True, net="vgg16", encoder="sd15", augment="bg" if plain else args.preset,
                     verbose=False)
# Its random-trunk path takes torchvision's pixel VGG16-BN (3 input channels, every max-pool); the latent
# trunk is what its pretrained path copies from LatentVGG16BN (4 channels, the first three pools removed):
# the same here, with random weights.
latent_features = LatentVGG16BN(4).model.features
for k, (a, b) in enumerate([(0, 7), (7, 14), (14, 24), (24, 34), (34, 44)]):
    piece = nn.Sequential()
    for x in range(a, b):
        piece.add_module(str(x), latent_features[x])
    setattr(model.net, f"slice{k + 1}", piece)
model = model.eval().requires_grad_(False).to(dev)
out = {"official": "mingukkang/elatentlpips ELatentLPIPS(pretrained=False, pnet_rand=True, encoder='sd15', augment='"
                   + args.preset + "'), ensembling=" + str(not plain) + ", add_l1_loss=False, normalize=False",
       "torch": torch.__version__, "device": torch.cuda.get_device_name(dev) if cuda else "cpu",
       "cudnn_benchmark": args.cudnn_benchmark, "warmup": args.warmup, "iters": args.iters, "fwd_bwd_ms": {}, "extra_memory_b8_gb": {}}
for precision in ("f32", "bf16"):
    out["fwd_bwd_ms"][precision] = {}
    for b in [int(x) for x in args.batches.split(",")]:
        base0 = torch.randn(b, 4, 64, 64, device=dev)
        x1 = torch.randn(b, 4, 64, 64, device=dev)

        def step():
            x0 = base0.detach().requires_grad_()
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
                loss = model(x0, x1, normalize=False, ensembling=not plain, add_l1_loss=False).mean()
            loss.backward()

        out["fwd_bwd_ms"][precision][str(b)] = timed(step)
        if args.trace and str(b) == args.batches.split(",")[0]:
            import os
            os.makedirs(args.trace, exist_ok=True)
            sync()
            with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]) as prof:
                for _ in range(3):
                    step()
                sync()
            prof.export_chrome_trace(os.path.join(args.trace, f"trace-{precision}.json"))
        if b == 8:
            out["extra_memory_b8_gb"][precision] = extra_memory_gb(step)
        print(f"official {precision} batch {b}: {out['fwd_bwd_ms'][precision][str(b)]:.2f} ms", flush=True)

with open(args.out, "w") as f:  # written now and again below: a failure in the pixel route keeps these
    json.dump(out, f, indent=2)

if not args.no_pixel:
    from diffusers import AutoencoderKL
    import torchvision

    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, sample_size=512,
                        block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
                        up_block_types=("UpDecoderBlock2D",) * 4).to(dev).requires_grad_(False)
    features = torchvision.models.vgg16().features.to(dev).eval().requires_grad_(False)
    taps = [3, 8, 15, 22, 29]  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
    widths = [64, 128, 256, 512, 512]
    lins = nn.ModuleList([nn.Conv2d(w, 1, 1, bias=False) for w in widths]).to(dev).requires_grad_(False)
    shift = torch.tensor([-.030, -.088, -.188], device=dev).view(1, 3, 1, 1)
    scale = torch.tensor([.458, .448, .450], device=dev).view(1, 3, 1, 1)

    def vgg_taps(x):
        x = (x - shift) / scale
        outs = []
        for i, layer in enumerate(features):
            x = layer(x)
            if i in taps:
                outs.append(x)
            if i == taps[-1]:
                break
        return outs

    def unit(f):
        return f / torch.sqrt((f ** 2).sum(1, keepdim=True) + 1e-10)

    target = torch.rand(8, 3, 512, 512, device=dev) * 2 - 1
    with torch.no_grad():
        target_taps = [unit(t) for t in vgg_taps(target)]
    z_base = torch.randn(8, 4, 64, 64, device=dev)

    def pixel_step():
        z = z_base.detach().requires_grad_()
        img = vae.decode(z / 0.18215).sample
        d = sum(lin((unit(a) - b) ** 2).mean((1, 2, 3)) for lin, a, b in zip(lins, vgg_taps(img), target_taps))
        d.mean().backward()

    out["pixel_route"] = {"what": "diffusers AutoencoderKL (SD1.5 configuration, random weights) decode to 512 px + "
                                  "LPIPS on torchvision VGG16 (random), fwd+bwd w.r.t. the latents, batch 8, fp32",
                          "ms": timed(pixel_step), "extra_memory_gb": extra_memory_gb(pixel_step)}
    print(f"pixel route batch 8: {out['pixel_route']['ms']:.2f} ms, {out['pixel_route']['extra_memory_gb']:.2f} GB",
          flush=True)

with open(args.out, "w") as f:
    json.dump(out, f, indent=2)
