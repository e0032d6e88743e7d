#!/usr/bin/env python3
"""PyTorch side of the teacher benchmark (io.d2g.examples.TeacherBench), on the same diffusers folder.

Training: transformers' CLIPTextModel and diffusers' UNet2DConditionModel loaded from the folder in
float32 (TF32 on), trained together as TeacherBench does: x_t from the folder's scaled-linear schedule,
the folder's prediction type (epsilon or v), MSE, backward, clip_grad_norm_(1.0), torch.optim.AdamW
(fused on CUDA; no weight decay on biases and norms), EMA of the UNet by torch._foreach_lerp_; median
milliseconds over --steps after --warmup, with the loss read on the host each step.
Sampling: diffusers' StableDiffusionPipeline on the folder, DDIM, --sample-steps steps with guidance
--cfg on --sample-batch prompts, output_type="np" (8-bit pictures' worth of work); images per second,
median of --sample-runs runs after one.

Usage: PYTHONPATH=<diffusers src> python3 scripts/gpu/teacher_reference.py FOLDER OUT [--device cuda]
Only the figures are used by the project; diffusers' and transformers' code never enter it.
"""
import argparse
import json
import os
import statistics
import time

import torch

from diffusers import DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTokenizer

PROMPTS = ["cat face, noto style", "a red car on a blue background, twemoji style",
           "a dog to the left of a tree, fluent 3d style", "hot springs, emojione style", "", "grinning face, noto style",
           "a purple hammer and pick on a green background, fluent 3d style", "top hat, twemoji style"]

p = argparse.ArgumentParser()
p.add_argument("folder")
p.add_argument("out")
p.add_argument("--device", default="cuda")
p.add_argument("--batch", type=int, default=64)
p.add_argument("--warmup", type=int, default=5)
p.add_argument("--steps", type=int, default=30)
p.add_argument("--sample-batch", type=int, default=256)
p.add_argument("--sample-steps", type=int, default=50)
p.add_argument("--sample-runs", type=int, default=3)
p.add_argument("--cfg", type=float, default=5.0)
a = p.parse_args()
dev = a.device
cuda = dev.startswith("cuda")
torch.backends.cuda.matmul.allow_tf32 = True
torch.backends.cudnn.allow_tf32 = True


def sync():
    if cuda:
        torch.cuda.synchronize()


with open(os.path.join(a.folder, "scheduler", "scheduler_config.json")) as f:
    sc = json.load(f)
n = sc["num_train_timesteps"]
betas = torch.linspace(sc["beta_start"] ** 0.5, sc["beta_end"] ** 0.5, n, dtype=torch.float64) ** 2
abar_table = torch.cumprod(1 - betas, 0).float().to(dev)
v_pred = sc.get("prediction_type", "epsilon") == "v_prediction"

tok = CLIPTokenizer.from_pretrained(os.path.join(a.folder, "tokenizer"))
text = CLIPTextModel.from_pretrained(os.path.join(a.folder, "text_encoder"), torch_dtype=torch.float32).to(dev).train()
unet = UNet2DConditionModel.from_pretrained(os.path.join(a.folder, "unet"), torch_dtype=torch.float32).to(dev).train()
named = [("unet." + k, v) for k, v in unet.named_parameters()] + [("text_encoder." + k, v) for k, v in text.named_parameters()]
plain = lambda k: k.endswith(".bias") or "norm" in k
groups = [{"params": [v for k, v in named if not plain(k)], "weight_decay": 0.01},
          {"params": [v for k, v in named if plain(k)], "weight_decay": 0.0}]
opt = torch.optim.AdamW(groups, lr=1e-4, fused=cuda)
unet_params = list(unet.parameters())
ema = [q.detach().clone() for q in unet_params]

b, c, side = a.batch, unet.config.in_channels, unet.config.sample_size
g = torch.Generator(device=dev).manual_seed(1)
x0 = torch.randn(b, c, side, side, device=dev, generator=g)
noise = torch.randn(b, c, side, side, device=dev, generator=g)
t = torch.randint(0, n, (b,), device=dev, generator=g)
ids = tok([PROMPTS[i % len(PROMPTS)] for i in range(b)], padding="max_length", max_length=tok.model_max_length,
          truncation=True, return_tensors="pt").input_ids.to(dev)


def step():
    opt.zero_grad(set_to_none=True)
    abar = abar_table[t].view(-1, 1, 1, 1)
    xt = abar.sqrt() * x0 + (1 - abar).sqrt() * noise
    target = abar.sqrt() * noise - (1 - abar).sqrt() * x0 if v_pred else noise
    ctx = text(ids).last_hidden_state
    pred = unet(xt, t, encoder_hidden_states=ctx).sample
    loss = torch.nn.functional.mse_loss(pred.float(), target)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(unet_params + list(text.parameters()), 1.0)
    opt.step()
    with torch.no_grad():
        torch._foreach_lerp_(ema, unet_params, 1 - 0.999)
    return loss


for _ in range(a.warmup):
    step()
sync()
ms = []
for _ in range(a.steps):
    t0 = time.perf_counter()
    step().item()
    sync()
    ms.append((time.perf_counter() - t0) * 1000)
results = {"torch": torch.__version__, "device": torch.cuda.get_device_name(0) if cuda else "cpu",
           "train": {"ms": round(statistics.median(ms), 3), "min_ms": round(min(ms), 3), "batch": b}}
print("train", results["train"], flush=True)
del opt, text, unet, ema
if cuda:
    torch.cuda.empty_cache()

pipe = StableDiffusionPipeline.from_pretrained(a.folder, torch_dtype=torch.float32, safety_checker=None,
                                               requires_safety_checker=False).to(dev)
pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
pipe.set_progress_bar_config(disable=True)
prompts = [PROMPTS[i % len(PROMPTS)] or "smiling face, noto style" for i in range(a.sample_batch)]
size = pipe.unet.config.sample_size * pipe.vae_scale_factor


def sample():
    pipe(prompts, height=size, width=size, num_inference_steps=a.sample_steps, guidance_scale=a.cfg,
         output_type="np", generator=torch.Generator(device=dev).manual_seed(0))


sample()
sync()
sec = []
for _ in range(a.sample_runs):
    t0 = time.perf_counter()
    sample()
    sync()
    sec.append(time.perf_counter() - t0)
results["sample"] = {"images_per_s": round(a.sample_batch / statistics.median(sec), 3),
                     "seconds": round(statistics.median(sec), 3), "batch": a.sample_batch, "steps": a.sample_steps,
                     "cfg": a.cfg}
print("sample", results["sample"], flush=True)
with open(a.out, "w") as f:
    json.dump(results, f, indent=2)
