// The latent autoencoder's training step, whole in native code (the teacher's VAE, AutoencoderKL):
// encode x to the posterior N(μ, σ²), z = μ + σ ε with the given noise ε, decode, and
//   loss = Σ (x̂ − x)² / B + kl_weight · KL,   KL = ½ Σ (μ² + σ² − 1 − log σ²) / B
// (sums over each image's elements, means over the batch, as the latent-diffusion autoencoder's KL
// term is taken); backward; gradients averaged across data-parallel ranks; clipping; optimizer step.
// "bf16" autocasts the forward.
#pragma once

#include <ATen/ATen.h>
#include <torch/torch.h>

#include <memory>
#include <string>

#include "../core/config.hpp"
#include "../dist/data_parallel.hpp"
#include "../models/autoencoder_kl.hpp"
#include "optimizer.hpp"
#include "train_step.hpp"

namespace d2g::train {

class AutoencoderStep : public TrainStep {
 public:
  // config keys: kl_weight (1e-6), precision (f32 | bf16), max_grad_norm (0: off).
  AutoencoderStep(const Config& config, std::shared_ptr<torch::nn::Module> vae, std::shared_ptr<Optimizer> opt,
                  std::shared_ptr<dist::DataParallel> dp);

  // inputs: images [B, C, H, W] in [-1, 1], noise [B, latent_channels, H/f, W/f] (standard normal).
  // Returns loss, gradient norm before clipping (0 without clipping), reconstruction MSE per element,
  // KL per image.
  std::vector<double> run(const std::vector<at::Tensor>& inputs) override;

 private:
  std::shared_ptr<torch::nn::Module> net_;
  sd::AutoencoderKLImpl* vae_;
  std::shared_ptr<Optimizer> opt_;
  std::shared_ptr<dist::DataParallel> dp_;
  std::string precision_;
  double kl_weight_, max_grad_norm_;
};

}  // namespace d2g::train
