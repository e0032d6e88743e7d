#!/usr/bin/env python3
"""Reference side of the full-size SD1.5 parity check and PyTorch baseline timings (GPU machine).

Builds diffusers' UNet2DConditionModel and AutoencoderKL and transformers' CLIPTextModel at SD1.5
size from our preset configs (java/src/main/resources/io/d2g/models/presets/sd15), with random weights
(seeded), saves them as a diffusers folder (safetensors), and runs fixed inputs through them in f32
(TF32 off) and f16. Writes:
  OUT/unet, OUT/vae, OUT/text_encoder     the weights (f32), diffusers layout
  OUT/io_f32.safetensors, io_f16.safetensors, io_bf16.safetensors   inputs and reference outputs
  OUT/baseline.json                       eager PyTorch timings (median ms) for batch 1 and 4
Usage: PYTHONPATH=<diffusers src> python3 scripts/gpu/sd15_reference.py OUT [--no-timing]
Only the outputs are used by the project; diffusers' code never enters it.
"""
import json
import os
import sys
import time

import torch
from safetensors.torch import save_file

from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

out = sys.argv[1]
timing = "--no-timing" not in sys.argv
# D2G_PRESETS: where the presets are when java/ is left out of a call (pack.sh copies them to .gpu/presets)
presets = os.environ.get("D2G_PRESETS") or os.path.join(os.path.dirname(__file__), "../../java/src/main/resources/io/d2g/models/presets/sd15")


def cfg(name):
    with open(os.path.join(presets, name)) as f:
        return {k: v for k, v in json.load(f).items() if not k.startswith("_")}


torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = os.environ.get("D2G_REF_DEVICE", "cuda")
torch.manual_seed(0)
unet = UNet2DConditionModel(**cfg("unet.json")).to(dev).eval()
vae = AutoencoderKL(**cfg("vae.json")).to(dev).eval()
te_cfg = cfg("text_encoder.json")
te_cfg.pop("architectures", None)
text = CLIPTextModel(CLIPTextConfig(**te_cfg)).to(dev).eval()
for name, m in (("unet", unet), ("vae", vae), ("text_encoder", text)):
    m.save_pretrained(os.path.join(out, name), safe_serialization=True)
print("saved weights", flush=True)

g = torch.Generator(device="cpu").manual_seed(1)
ids = torch.randint(3, 49405, (1, 77), generator=g)
ids[0, 0] = 49406
ids[0, 20:] = 49407  # eos then padding with eos, like SD1.5's tokenizer
latents = torch.randn(1, 4, 64, 64, generator=g)
timestep = torch.tensor([999], dtype=torch.int64)
sf = vae.config.scaling_factor


@torch.no_grad()
def run(dtype):
    for m in (unet, vae, text):
        m.to(dtype)
    t = text(ids.to(dev))
    hidden = t.last_hidden_state
    eps = unet(latents.to(dev, dtype), timestep.to(dev), encoder_hidden_states=hidden).sample
    img = vae.decode(eps / sf).sample
    return {"input_ids": ids, "latents": latents, "timestep": timestep,
            "text_hidden": hidden.float().cpu(), "text_pooled": t.pooler_output.float().cpu(),
            "unet_out": eps.float().cpu(), "vae_decoded": img.float().cpu()}


ref32 = run(torch.float32)
save_file(ref32, os.path.join(out, "io_f32.safetensors"))
if dev != "cpu":
    # f32 -> f16 -> bf16, the same chain of weight conversions as Sd15Bench's (bf16 from the f16
    # weights), so that both sides hold identical bf16 weights.
    own = {}
    for name, dt in (("f16", torch.float16), ("bf16", torch.bfloat16)):
        r = run(dt)
        save_file(r, os.path.join(out, f"io_{name}.safetensors"))
        # The reference's own error in half precision against its f32 outputs: the noise floor.
        own[name] = {k: float((r[k] - ref32[k]).norm() / ref32[k].norm())
                     for k in ("text_hidden", "text_pooled", "unet_out", "vae_decoded")}
    print("reference half vs its own f32:", json.dumps(own), flush=True)
    with open(os.path.join(out, "reference_half_vs_f32.json"), "w") as f:
        json.dump(own, f, indent=1)
    for m in (unet, vae, text):
        m.to(torch.float16)  # the timings below use f16
print("saved reference outputs", flush=True)

if timing and dev != "cpu":
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    res = {}
    for b in (1, 4):
        bids = ids.repeat(b, 1).to(dev)
        blat = latents.repeat(b, 1, 1, 1).to(dev, torch.float16)
        bt = timestep.repeat(b).to(dev)
        parts = {"text": lambda: text(bids).last_hidden_state}
        h = parts["text"]()
        parts["unet"] = lambda: unet(blat, bt, encoder_hidden_states=h).sample
        parts["vae_decode"] = lambda: vae.decode(blat / sf).sample
        parts["onestep"] = lambda: vae.decode(unet(blat, bt, encoder_hidden_states=text(bids).last_hidden_state).sample / sf).sample
        for k, f in parts.items():
            with torch.no_grad():
                for _ in range(5):
                    f()
                torch.cuda.synchronize()
                ts = []
                for _ in range(20):
                    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    s.record()
                    f()
                    e.record()
                    torch.cuda.synchronize()
                    ts.append(s.elapsed_time(e))
            ts.sort()
            res[f"{k}_b{b}_ms"] = round(ts[len(ts) // 2], 3)
            print(f"pytorch eager f16 {k} b{b}: {res[f'{k}_b{b}_ms']} ms", flush=True)
    res["torch"] = torch.__version__
    res["gpu"] = torch.cuda.get_device_name(0)
    with open(os.path.join(out, "baseline.json"), "w") as f:
        json.dump(res, f, indent=1)

if os.environ.get("D2G_PROFILE") and dev != "cpu":
    # Where the time goes, kernel by kernel, in the eager reference (channels_last, f16, batch 1):
    # tells which fusions matter for our own UNet and VAE decoder (same ATen kernels underneath).
    from torch.profiler import ProfilerActivity, profile
    lat = latents.to(dev, torch.float16).contiguous(memory_format=torch.channels_last)
    h1 = text(ids.to(dev)).last_hidden_state
    for name, m, f in (("vae_decode", vae, lambda: vae.decode(lat / sf).sample),
                       ("unet", unet, lambda: unet(lat, timestep.to(dev), encoder_hidden_states=h1).sample)):
        m.to(memory_format=torch.channels_last)
        with torch.no_grad():
            for _ in range(3):
                f()
            torch.cuda.synchronize()
            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                for _ in range(5):
                    f()
                torch.cuda.synchronize()
        print(f"---- profile: diffusers {name}, channels_last f16 b1, 5 runs ----")
        for key in ("self_device_time_total", "self_cuda_time_total"):
            try:
                print(prof.key_averages().table(sort_by=key, row_limit=22, max_name_column_width=70))
                break
            except Exception as e:  # the key's name changed across PyTorch versions
                print(f"(sort key {key}: {e})")
