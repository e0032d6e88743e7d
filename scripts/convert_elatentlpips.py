#!/usr/bin/env python3
"""Converts an official E-LatentLPIPS checkpoint into a folder d2g loads (io.d2g.models.LatentLpips).

The official package (mingukkang/elatentlpips) keeps its calibrated network as a PyTorch pickle,
e.g. sd15_latest_vgg16_tuned.pth: the ELatentLPIPS module's state dict, with the trunk under
net.sliceS.I.* and each lin head twice (lin{k}.model.1.weight and lins.{k}.model.1.weight). This
writes OUT/config.json and OUT/diffusion_pytorch_model.safetensors with one copy of each tensor, under
the official names, which are d2g's. The latent channel count and the stage widths are read from the
weights. Run it where PyTorch is; the checkpoint's licence (CC-BY-NC) travels with its weights.

Usage: python3 scripts/convert_elatentlpips.py CHECKPOINT.pth OUT_DIR [--add-l1]
  --add-l1  make the distance add mean |x0 - x1| as the official forward does by default
"""
import argparse
import json
import os
import sys

import torch
from safetensors.torch import save_file


def convert(checkpoint, out, add_l1=False):
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    state = {k[7:] if k.startswith("module.") else k: v for k, v in state.items()}
    kept = {k: v.contiguous() for k, v in state.items() if k.startswith("net.") or (k.startswith("lin") and not k.startswith("lins."))}
    missing = [f"lin{k}.model.1.weight" for k in range(5) if f"lin{k}.model.1.weight" not in kept]
    if "net.slice1.0.weight" not in kept or missing:
        sys.exit(f"{checkpoint} is not an E-LatentLPIPS state dict (no net.slice1.0.weight or {missing})")
    first = kept["net.slice1.0.weight"]
    widths = [int(kept[f"lin{k}.model.1.weight"].shape[1]) for k in range(5)]
    os.makedirs(out, exist_ok=True)
    save_file(kept, os.path.join(out, "diffusion_pytorch_model.safetensors"))
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump({"_class_name": "LatentLPIPS", "_converted_from": os.path.basename(checkpoint),
                   "latent_channels": int(first.shape[1]), "widths": widths, "add_l1": add_l1}, f, indent=2)
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("out")
    p.add_argument("--add-l1", action="store_true")
    a = p.parse_args()
    if os.path.exists(os.path.join(a.out, "diffusion_pytorch_model.safetensors")):
        sys.exit(f"{a.out} already holds weights; choose another folder")
    print("wrote", convert(a.checkpoint, a.out, a.add_l1))
