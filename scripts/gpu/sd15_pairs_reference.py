#!/usr/bin/env python3
"""Reference side of the SD1.5-scale pair-recording benchmark (io.d2g.examples.Sd15PairsBench), GPU machine.

Builds diffusers' UNet2DConditionModel and AutoencoderKL and transformers' CLIPTextModel at SD1.5 size
from our preset configs (java/src/main/resources/io/d2g/models/presets/sd15) with random weights
(seeded), saves them in f16 as a diffusers StableDiffusionPipeline folder (the scheduler: SD1.5's DDIM
config; the tokenizer: a copy of TOKENIZER, any CLIP BPE tokenizer folder, since random weights make
the prompts' words irrelevant), then times diffusers' StableDiffusionPipeline on it as a user records
pairs: f16, DDIM, --steps steps with guidance --cfg, prompts encoded by the pipeline, fixed initial
latents, output_type="latent" (the pairs keep latents, no decode). Per batch of --batches: one run
untimed, then the median of --runs runs, host clock with torch.cuda.synchronize().

Writes OUT/sd15 (the folder) and OUT/sd15-pairs-reference.json.
Usage: PYTHONPATH=<diffusers src> python3 scripts/gpu/sd15_pairs_reference.py OUT TOKENIZER [--batches 8,32,64]
Only the figures are used by the project; diffusers' and transformers' code never enter it.
"""
import argparse
import json
import os
import shutil
import statistics
import time

import torch

from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("tokenizer")
p.add_argument("--batches", default="8,32,64")
p.add_argument("--steps", type=int, default=50)
p.add_argument("--cfg", type=float, default=7.5)
p.add_argument("--runs", type=int, default=2)
a = p.parse_args()
# D2G_PRESETS: where the presets are when java/ is left out of a call (pack.sh copies them to .gpu/presets)
presets = os.environ.get("D2G_PRESETS") or os.path.join(os.path.dirname(__file__), "../../java/src/main/resources/io/d2g/models/presets/sd15")


def cfg(name):
    with open(os.path.join(presets, name)) as f:
        return {k: v for k, v in json.load(f).items() if not k.startswith("_")}


torch.backends.cuda.matmul.allow_tf32 = True
torch.backends.cudnn.allow_tf32 = True
torch.manual_seed(0)
dt = torch.float16
unet = UNet2DConditionModel(**cfg("unet.json")).to("cuda", dt).eval()
vae = AutoencoderKL(**cfg("vae.json")).to("cuda", dt).eval()
te = cfg("text_encoder.json")
te.pop("architectures", None)
text = CLIPTextModel(CLIPTextConfig(**te)).to("cuda", dt).eval()
sched_cfg = cfg("scheduler.json")
scheduler = DDIMScheduler.from_config({**sched_cfg, "clip_sample": False})  # SD1.5's DDIM settings
folder = os.path.join(a.out, "sd15")
shutil.copytree(a.tokenizer, os.path.join(folder, "tokenizer"), dirs_exist_ok=True)
tokenizer = CLIPTokenizer.from_pretrained(os.path.join(folder, "tokenizer"))
pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                               safety_checker=None, feature_extractor=None, requires_safety_checker=False)
pipe.set_progress_bar_config(disable=True)
pipe.save_pretrained(folder, safe_serialization=True)
print("saved", folder, flush=True)

words = ["cat face", "a red car", "a dog left of a tree", "hot springs", "grinning face", "top hat", "a blue heart",
         "a green apple"]
res = {"batches": {}, "steps": a.steps, "cfg": a.cfg, "dtype": "f16", "sampler": "DDIMScheduler",
       "torch": torch.__version__, "gpu": torch.cuda.get_device_name(0),
       "method": "StableDiffusionPipeline(prompts, latents=fixed, num_inference_steps=steps, guidance_scale=cfg, "
                 "output_type='latent'), eager, f16 weights, TF32 on, default attention (SDPA); one run untimed, "
                 "median of runs, host clock after torch.cuda.synchronize()"}
g = torch.Generator(device="cpu").manual_seed(1)
for b in [int(x) for x in a.batches.split(",")]:
    prompts = [words[i % len(words)] + ", noto style" for i in range(b)]
    lat = torch.randn(b, 4, 64, 64, generator=g).to("cuda", dt)

    def once():
        with torch.no_grad():
            out = pipe(prompts, num_inference_steps=a.steps, guidance_scale=a.cfg, latents=lat, output_type="latent").images
        torch.cuda.synchronize()
        return out

    once()
    ts = []
    for _ in range(a.runs):
        t0 = time.perf_counter()
        once()
        ts.append(time.perf_counter() - t0)
    sec = statistics.median(ts)
    res["batches"][str(b)] = {"seconds": round(sec, 4), "pairs_per_s": round(b / sec, 3), "runs": [round(t, 4) for t in ts],
                              "peak_gb": round(torch.cuda.max_memory_allocated() / 2**30, 3)}
    print(f"diffusers b{b}: {sec:.3f} s, {b / sec:.2f} pairs/s", flush=True)
with open(os.path.join(a.out, "sd15-pairs-reference.json"), "w") as f:
    json.dump(res, f, indent=1)
