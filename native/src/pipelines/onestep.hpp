// The one-step text-to-image pipeline: prompt ids → text encoder → UNet once → x0 → VAE decoder →
// 8-bit RGB image, in one call. Diffusion2GAN's generator is exactly this (a UNet evaluated once);
// so is a single DDIM-style jump of a diffusion teacher.
//
// On CUDA each stage (text, UNet + x0, decoder + to-u8) is captured once per (batch, channels,
// height, width) as a CUDA graph and replayed afterwards: no per-kernel launch cost and no host
// synchronisation inside a run. Static input buffers are refilled before each replay. CPU runs eagerly.
// Thread-safe: runs from several threads take turns (they share those buffers).
#pragma once

#include <torch/torch.h>

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "../models/autoencoder_kl.hpp"
#include "../models/clip_text_model.hpp"
#include "../models/unet2d_condition.hpp"

namespace d2g::pipelines {

// What the UNet predicts (diffusers' prediction_type).
enum class Prediction { Epsilon = 0, V = 1, Sample = 2 };

class OneStepPipeline {
 public:
  // The pipeline shares the three networks (they stay alive while it lives). All three must be on one
  // device. Don't change their weights, device or dtype while a pipeline with CUDA graphs uses them.
  OneStepPipeline(std::shared_ptr<clip::CLIPTextModelImpl> text, std::shared_ptr<sd::UNet2DConditionModelImpl> unet,
                  std::shared_ptr<sd::AutoencoderKLImpl> vae, Prediction prediction, double scaling_factor,
                  bool use_cuda_graphs);
  ~OneStepPipeline();
  OneStepPipeline(const OneStepPipeline&) = delete;
  OneStepPipeline& operator=(const OneStepPipeline&) = delete;

  // ids: i64/i32 [B, T] (any device); noise: [B, C, h, w] floating (any device), the x_t the UNet sees;
  // alpha_bar: the scheduler's cumulative alpha at timestep (ignored for Prediction::Sample).
  // Returns u8 [B, H, W, 3] on the pipeline's device; asynchronous on CUDA.
  at::Tensor run(const at::Tensor& ids, const at::Tensor& noise, int64_t timestep, double alpha_bar);

  // Milliseconds each stage (text, UNet, VAE) took in the last run (CUDA: device time from events;
  // waits for the run).
  std::array<float, 3> last_timings();

 private:
  struct Buffers;
  void text_stage(Buffers& b);
  void unet_stage(Buffers& b);
  void vae_stage(Buffers& b);

  std::shared_ptr<clip::CLIPTextModelImpl> text_;
  std::shared_ptr<sd::UNet2DConditionModelImpl> unet_;
  std::shared_ptr<sd::AutoencoderKLImpl> vae_;
  Prediction prediction_;
  double scaling_factor_;
  bool graphs_;
  at::TensorOptions options_;   // the UNet's device and dtype
  at::ScalarType vae_dtype_;
  std::map<std::tuple<int64_t, int64_t, int64_t, int64_t>, std::unique_ptr<Buffers>> cache_;
  std::array<float, 3> last_ms_{0, 0, 0};  // CPU: measured; CUDA: from events
  std::array<void*, 4> events_{};          // cudaEvent_t, created on first use
  bool events_recorded_ = false;
  std::mutex mutex_;                       // one run at a time: the buffers and graphs are shared
};

}  // namespace d2g::pipelines
