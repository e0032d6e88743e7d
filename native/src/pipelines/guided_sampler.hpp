// The multi-step sampling loop of a latent diffusion model with classifier-free guidance, in one native
// call: what recording a teacher's ODE pairs spends its time on. It serves the samplers whose step is
// linear in the sample and the guided network output (DDIM with eta 0, Euler): per step i,
//
//   out = unet(x * in_scale_i, t_i, [uncond; cond])           (one pass on both halves)
//   g   = out_u + w (out_c - out_u)                           (w = 1: one pass on cond only)
//   x   = cx_i x + cm_i g
//
// The sample and this arithmetic stay in float32 whatever the UNet's dtype; the UNet sees its own dtype.
// On CUDA one step is captured per (batch, channels, height, width, tokens, guided) as a CUDA graph and
// replayed for every step and every later call: the step's coefficients live in a device buffer that a
// device-to-device copy refills before each replay, so a whole run makes no host synchronisation.
// Thread-safe: runs from several threads take turns (they share those buffers).
#pragma once

#include <torch/torch.h>

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "../models/unet2d_condition.hpp"

namespace d2g::pipelines {

class GuidedSampler {
 public:
  // One step's numbers: {timestep, input scale, sample coefficient cx, output coefficient cm}.
  using Step = std::array<double, 4>;

  // The sampler shares the UNet (it stays alive while the sampler lives). Don't change its weights,
  // device or dtype while a sampler with CUDA graphs uses it.
  GuidedSampler(std::shared_ptr<sd::UNet2DConditionModelImpl> unet, bool use_cuda_graphs);
  ~GuidedSampler();
  GuidedSampler(const GuidedSampler&) = delete;
  GuidedSampler& operator=(const GuidedSampler&) = delete;

  // noise: floating [B, C, H, W], the loop's first x (already times the scheduler's initial sigma);
  // cond and uncond: text states [B, T, D] (uncond undefined when guidance is 1); any device.
  // Returns the final x, float32 [B, C, H, W] on the UNet's device; asynchronous on CUDA.
  at::Tensor run(const at::Tensor& noise, const at::Tensor& cond, const at::Tensor& uncond, double guidance,
                 const std::vector<Step>& steps);

 private:
  struct Buffers;
  void step(Buffers& b);

  std::shared_ptr<sd::UNet2DConditionModelImpl> unet_;
  bool graphs_;
  at::TensorOptions options_;  // the UNet's device and dtype
  std::map<std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, bool>, std::unique_ptr<Buffers>> cache_;
  std::mutex mutex_;  // one run at a time: the buffers and graphs are shared
};

}  // namespace d2g::pipelines
