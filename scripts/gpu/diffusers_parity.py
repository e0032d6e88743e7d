#!/usr/bin/env python3
"""Diffusers' side of the format check (io.d2g.examples.DiffusersParity): does diffusers itself load our
teacher folder and make the same pictures from the same initial latents?

Loads FOLDER with diffusers' StableDiffusionPipeline (float32, TF32 off, the folder's own scheduler:
DDIM for the emoji teacher), draws the initial latents from torch.randn on the CPU with --seed, runs
the pipeline on the prompts below with --steps and guidance --cfg and output_type="latent", then decodes
with the pipeline's VAE (latents / scaling_factor, not clamped). Writes OUT (safetensors): "noise"
[B, C, H, W], "latents" (the sampler's result), "images" [B, 3, h, w] in about [-1, 1], with the prompts,
steps, guidance and versions in the metadata. The Java side reads it, runs our pipeline on the same
noise and compares.

Usage: PYTHONPATH=<diffusers src> python3 scripts/gpu/diffusers_parity.py FOLDER OUT [--device cuda]
Only the outputs are used by the project; diffusers' code never enters it.
"""
import argparse
import json

import diffusers
import torch
import transformers
from diffusers import StableDiffusionPipeline
from safetensors.torch import save_file

PROMPTS = ["cat face, noto style", "a red car on a blue background, twemoji style",
           "a dog to the left of a tree, fluent 3d style", "hot springs, emojione style", "grinning face, noto style",
           "a purple hammer and pick on a green background, fluent 3d style", "top hat, twemoji style",
           "a smiling face with sunglasses above a pizza, noto style"]

p = argparse.ArgumentParser()
p.add_argument("folder")
p.add_argument("out")
p.add_argument("--device", default="cuda")
p.add_argument("--steps", type=int, default=50)
p.add_argument("--cfg", type=float, default=5.0)
p.add_argument("--seed", type=int, default=1)
a = p.parse_args()
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False

pipe = StableDiffusionPipeline.from_pretrained(a.folder, torch_dtype=torch.float32, safety_checker=None,
                                               feature_extractor=None, requires_safety_checker=False).to(a.device)
pipe.set_progress_bar_config(disable=True)
side = pipe.unet.config.sample_size
g = torch.Generator("cpu").manual_seed(a.seed)
noise = torch.randn(len(PROMPTS), pipe.unet.config.in_channels, side, side, generator=g, dtype=torch.float32)
with torch.no_grad():
    latents = pipe(PROMPTS, height=side * pipe.vae_scale_factor, width=side * pipe.vae_scale_factor,
                   num_inference_steps=a.steps, guidance_scale=a.cfg, latents=noise.to(a.device),
                   output_type="latent").images
    images = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample
meta = {"prompts": json.dumps(PROMPTS), "steps": str(a.steps), "cfg": str(a.cfg), "seed": str(a.seed),
        "scheduler": type(pipe.scheduler).__name__, "device": str(a.device),
        "diffusers": diffusers.__version__, "transformers": transformers.__version__, "torch": torch.__version__}
save_file({"noise": noise.contiguous(), "latents": latents.float().cpu().contiguous(),
           "images": images.float().cpu().contiguous()}, a.out, metadata=meta)
print(f"wrote {a.out}: {len(PROMPTS)} prompts, {a.steps} steps, guidance {a.cfg}, {meta['scheduler']}")
