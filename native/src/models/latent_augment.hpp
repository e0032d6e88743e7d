// The augmentation of E-LatentLPIPS: the same random differentiable transform applied to both inputs
// of the distance (the official code's AdaAugment, StyleGAN2-ADA's pipeline with DiffAugment-style
// colour ops, at probability 1). This file applies given parameters; drawing them is separate, so that
// the transform itself is checked against the official code with the official draws.
//
//   geometric (when g_inv is given): g_inv [B, 3, 3] maps output pixel centres to input ones (x right,
//     y down, origin at the image centre). Both inputs are reflect-padded by one margin for the whole
//     batch (from where the corners land, plus the filter's reach), upsampled 2x with the sym6 wavelet
//     lowpass, resampled bilinearly through the transform (zeros outside), and downsampled 2x with the
//     same filter — as the official pipeline does.
//   colour (each when given, [B] draws u in [0, 1)): brightness x + (u - 1/2); contrast
//     (x - m) (u + 1/2) + m with m the sample's mean over channels and positions; saturation
//     (x - m) 2u + m with m the mean over channels. Each input uses its own means.
//   cutout (when cutout_center [B, 2] in [0, 1) and cutout_size [B] are given): positions whose centre
//     is within size/2 of the centre on both axes are zeroed (size 0: none).
#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>

namespace d2g::lpips {

struct AugmentParams {
  at::Tensor g_inv, brightness, contrast, saturation, cutout_center, cutout_size;
  // g_inv's copy on the CPU when the draw made one (draw_params does), so that augment_pair need not
  // wait for the device to read it; else it copies g_inv itself.
  at::Tensor g_inv_host;
};

// The two inputs [B, C, H, W] (one shape) transformed alike, in one pass over both; differentiable
// with respect to each input that requires grad (an output whose input does not is detached).
// fixed_padding: the geometric transform pads by the most any draw can need (the sides less one) instead
// of what this batch's draws need, and builds its resampling on the device: nothing is read back and
// every shape is fixed, as a CUDA graph capture needs (g_inv_host is not used); the same values up to
// f32 rounding, for more work on the larger padded canvas.
std::pair<at::Tensor, at::Tensor> augment_pair(const at::Tensor& x0, const at::Tensor& x1, const AugmentParams& p,
                                               bool fixed_padding = false);

// Fresh per-sample parameters for a batch [B, C, H, W], as the official pipeline draws them at
// probability 1. preset: letters of b (x-flip, quarter turns, integer translation up to 1/8 of a side),
// g (isotropic scale 2^N(0, 0.2^2), rotation uniform in (-pi, pi] before and after an anisotropic
// scale 2^N(0, 0.2^2), fractional translation N(0, 0.125^2) of a side), c (brightness, contrast,
// saturation: uniform draws), o (cutout of half the side at a uniform centre): b g c o bg bgc bgco co.
AugmentParams draw_params(const std::string& preset, int64_t b, int64_t c, int64_t h, int64_t w,
                          const at::Device& device, c10::optional<at::Generator> gen);

}  // namespace d2g::lpips
