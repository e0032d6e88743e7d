// A diffusion model's training step, whole in native code: from clean latents, text states,
// timesteps and noise to updated weights, in one call. x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps;
// the UNet predicts eps ("epsilon"), v ("v_prediction": sqrt(abar) eps - sqrt(1 - abar) x0) or x0
// ("sample"); loss = mean squared error; backward; gradients averaged across data-parallel ranks;
// clipping; optimizer step; EMA. Mixed precision: "bf16" autocasts the forward to bf16 with f32
// weights; "f16" autocasts to f16 and scales the loss dynamically (as torch.amp.GradScaler: x2 every
// 2000 steps without overflow, /2 and the step skipped on an overflow).
//
// cuda_graphs=true (CUDA, f32 or bf16, AdamW, no data parallelism): after two warm-up steps, the
// whole step — forward, loss, backward, clipping, optimizer, EMA — is captured once as a CUDA graph
// and replayed for every later batch of the same shapes (the inputs are copied into static buffers;
// the learning rate is read from the device; a non-finite loss or norm skips the update on the
// device). A batch of other shapes runs eagerly. One host synchronisation per step: the metrics.
#pragma once

#include <ATen/ATen.h>
#include <torch/torch.h>

#include <memory>
#include <string>

#include "../core/config.hpp"
#include "../dist/data_parallel.hpp"
#include "../models/clip_text_model.hpp"
#include "../models/unet2d_condition.hpp"
#include "ema.hpp"
#include "optimizer.hpp"
#include "train_step.hpp"

namespace d2g::train {

struct StepMetrics {
  double loss = 0;         // mean over the batch (and over ranks)
  double grad_norm = 0;    // before clipping; 0 without clipping
  double loss_scale = 1;   // f16's scale after this step
  bool stepped = true;     // false when f16 found an overflow and skipped the update
};

class DenoiseStep : public TrainStep {
 public:
  // config keys: prediction (epsilon), precision (f32), max_grad_norm (0: off), ema_decay (0.9999 when
  // an EMA is given). alphas_cumprod: the schedule's cumulative alphas, [T].
  DenoiseStep(const Config& config, std::shared_ptr<torch::nn::Module> unet, std::shared_ptr<Optimizer> opt,
              std::shared_ptr<Ema> ema, std::shared_ptr<dist::DataParallel> dp, const at::Tensor& alphas_cumprod);

  StepMetrics run(const at::Tensor& x0, const at::Tensor& context, const at::Tensor& timesteps, const at::Tensor& noise);
  // inputs x0, context, timesteps, noise; returns loss, grad_norm, loss_scale, stepped (1 or 0).
  std::vector<double> run(const std::vector<at::Tensor>& inputs) override;

  // role "text_encoder": a clip_text_model trained with the UNet (the optimizer must hold its
  // parameters too); context is then token ids [B, T] and the UNet reads the encoder's last hidden
  // state, computed inside the step.
  void set_module(const std::string& role, std::shared_ptr<torch::nn::Module> net) override;

 private:
  std::shared_ptr<torch::nn::Module> net_;
  sd::UNet2DConditionModelImpl* unet_;
  std::shared_ptr<torch::nn::Module> text_net_;
  clip::CLIPTextModelImpl* text_ = nullptr;
  std::shared_ptr<Optimizer> opt_;
  std::shared_ptr<Ema> ema_;
  std::shared_ptr<dist::DataParallel> dp_;
  at::Tensor abar_;
  std::string prediction_, precision_;
  double max_grad_norm_, ema_decay_;
  at::Tensor scale_, growth_tracker_;  // f16 only

  // The step without host synchronisation (what the graph captures): returns [loss, grad_norm,
  // found_inf] as f32 on the device.
  at::Tensor capturable_body(const at::Tensor& x0, const at::Tensor& noise, const at::Tensor& t, const at::Tensor& context);
  bool graphs_ = false;  // config cuda_graphs
  struct Graph;
  std::shared_ptr<Graph> graph_;
  StepMetrics run_graphed(const at::Tensor& x0, const at::Tensor& noise, const at::Tensor& t, const at::Tensor& context);
};

}  // namespace d2g::train
