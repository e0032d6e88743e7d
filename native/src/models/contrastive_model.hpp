// What a contrastive (CLIP-style) text–image model offers the contrastive training step
// (train/contrastive_step.hpp): two encoders into one embedding space and CLIP's learnt temperature.
// Implemented by the evaluation judge (image_text_judge.hpp) and by clip_model.hpp, which pretrains a
// Stable Diffusion text encoder contrastively.
#pragma once

#include <ATen/ATen.h>

namespace d2g {

struct ContrastiveModel {
  virtual ~ContrastiveModel() = default;
  // [B, 3, H, W] in [-1, 1] -> [B, E], not normalised.
  virtual at::Tensor encode_image(const at::Tensor& pixels) = 0;
  // The model's text input (bytes for the judge, token ids for clip_model) [B, L] -> [B, E], not normalised.
  virtual at::Tensor encode_text(const at::Tensor& text) = 0;
  // The scalar parameter logit_scale (logits = exp(logit_scale) * cosine), shared, not a copy.
  virtual at::Tensor logit_scale_parameter() = 0;
};

}  // namespace d2g
