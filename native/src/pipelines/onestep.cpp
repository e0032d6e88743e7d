// The one-step text-to-image pipeline (pipelines/onestep.hpp).
#include "onestep.hpp"

#include <chrono>

#include "../core/cuda_util.hpp"
#include "../core/module.hpp"
#include "../core/tensor.hpp"

#ifdef D2G_WITH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#endif

namespace d2g::pipelines {

struct OneStepPipeline::Buffers {  // static inputs and outputs of one captured shape
  at::Tensor ids, noise, timestep, alpha_bar, hidden, x0, image;
#ifdef D2G_WITH_CUDA
  std::unique_ptr<at::cuda::CUDAGraph> text_graph, unet_graph, vae_graph;
#endif
};

OneStepPipeline::OneStepPipeline(std::shared_ptr<clip::CLIPTextModelImpl> text,
                                 std::shared_ptr<sd::UNet2DConditionModelImpl> unet,
                                 std::shared_ptr<sd::AutoencoderKLImpl> vae, Prediction prediction,
                                 double scaling_factor, bool use_cuda_graphs)
    : text_(std::move(text)), unet_(std::move(unet)), vae_(std::move(vae)), prediction_(prediction),
      scaling_factor_(scaling_factor) {
  if (!text_ || !unet_ || !vae_) fail(D2G_INVALID_ARGUMENT, "one-step pipeline: a network is missing");
  if (!(scaling_factor > 0)) fail(D2G_INVALID_ARGUMENT, "scaling_factor must be positive");
  options_ = module_options(*unet_);
  const std::pair<const char*, at::Device> others[] = {{"clip_text_model", module_options(*text_).device()},
                                                       {"autoencoder_kl", module_options(*vae_).device()}};
  for (const auto& [kind, device] : others)
    if (device != options_.device())
      fail(D2G_INVALID_ARGUMENT, "the ", kind, " is on ", device, " but the UNet on ", options_.device(),
           ": move all three to one device");
  vae_dtype_ = module_options(*vae_).dtype().toScalarType();
  graphs_ = use_cuda_graphs && options_.device().is_cuda();
  // cuDNN's algorithm choice is left to the caller (d2g_set_cudnn_benchmark): its heuristics are as
  // fast as benchmarking here and keep the first image quick (benchmarks/README.md).
#ifndef D2G_WITH_CUDA
  graphs_ = false;
#endif
}

OneStepPipeline::~OneStepPipeline() {
#ifdef D2G_WITH_CUDA
  for (auto e : events_)
    if (e != nullptr) cudaEventDestroy(static_cast<cudaEvent_t>(e));
#endif
}

// The three stages, reading and writing the buffers (these are what the graphs capture).
void OneStepPipeline::text_stage(Buffers& b) {
  at::Tensor h = text_->forward(text_->prepare_ids(b.ids), text_->options.num_hidden_layers, true, false).first;
  if (!b.hidden.defined()) b.hidden = at::empty_like(h, options_.dtype());
  b.hidden.copy_(h);
}

void OneStepPipeline::unet_stage(Buffers& b) {
  unet_->check_inputs(b.noise, b.timestep, b.hidden);
  at::Tensor pred = unet_->forward(b.noise, b.timestep, b.hidden);
  at::Tensor abar = b.alpha_bar.to(pred.scalar_type());
  at::Tensor x0;
  if (prediction_ == Prediction::Epsilon) x0 = (b.noise - (1 - abar).sqrt() * pred) / abar.sqrt();
  else if (prediction_ == Prediction::V) x0 = abar.sqrt() * b.noise - (1 - abar).sqrt() * pred;
  else x0 = pred;
  if (!b.x0.defined()) b.x0 = at::empty_like(x0);
  b.x0.copy_(x0 / scaling_factor_);
}

void OneStepPipeline::vae_stage(Buffers& b) {
  at::Tensor img = vae_->decode(b.x0.to(vae_dtype_));
  // [-1, 1] NCHW → u8 NHWC, rounded like PIL conversions of (x / 2 + 0.5) * 255
  at::Tensor u8 = ((img.to(at::kFloat) / 2 + 0.5).clamp(0, 1) * 255).round().to(at::kByte).permute({0, 2, 3, 1});
  if (!b.image.defined()) b.image = at::empty(u8.sizes(), u8.options());
  b.image.copy_(u8);
}

at::Tensor OneStepPipeline::run(const at::Tensor& ids, const at::Tensor& x, int64_t timestep, double alpha_bar) {
  if (ids.dim() != 2 || (ids.scalar_type() != at::kLong && ids.scalar_type() != at::kInt))
    fail(D2G_INVALID_ARGUMENT, "input_ids must be i64 or i32 [batch, tokens], not ", describe(ids));
  if (x.dim() != 4 || x.size(0) != ids.size(0))
    fail(D2G_INVALID_ARGUMENT, "noise must be [batch, channels, height, width] with the ids' batch ", ids.size(0),
         ", not ", describe(x));
  if (!(alpha_bar > 0 && alpha_bar <= 1)) fail(D2G_INVALID_ARGUMENT, "alpha_bar must be in (0, 1], got ", alpha_bar);
  if (!x.is_floating_point()) fail(D2G_INVALID_ARGUMENT, "noise must be floating, not ", describe(x));
  // The text encoder skips its id check inside a captured graph, so check here (free for host ids,
  // one synchronisation for device ids).
  text_->prepare_ids(ids);
  std::lock_guard<std::mutex> lock(mutex_);
  torch::NoGradGuard no_grad;
  auto key = std::make_tuple(x.size(0), x.size(1), x.size(2), x.size(3));
  auto& slot = cache_[key];
  bool fresh = !slot;
  if (fresh) {
    slot = std::make_unique<Buffers>();
    slot->ids = at::empty(ids.sizes(), options_.dtype(at::kLong));
    slot->noise = at::empty(x.sizes(), options_);
    slot->timestep = at::empty({x.size(0)}, options_.dtype(at::kLong));
    slot->alpha_bar = at::empty({1}, options_.dtype(at::kFloat));
  }
  Buffers& b = *slot;
  if (!ids.sizes().equals(b.ids.sizes()))
    fail(D2G_INVALID_ARGUMENT, "input_ids ", ids.sizes(), " differ from the ", b.ids.sizes(),
         " this pipeline first saw for this batch and size: pad prompts to the same length");
  b.ids.copy_(ids, true);
  b.noise.copy_(x, true);
  b.timestep.fill_(timestep);
  b.alpha_bar.fill_(alpha_bar);
#ifdef D2G_WITH_CUDA
  if (graphs_) {
    c10::cuda::CUDAGuard device_guard(options_.device());
    if (fresh) {
      // Warm up on a side stream (lazy init, cuDNN autotuning), then capture each stage.
      auto side = c10::cuda::getStreamFromPool();
      stream_wait(side, c10::cuda::getCurrentCUDAStream());
      {
        c10::cuda::CUDAStreamGuard sg(side);
        for (int i = 0; i < 2; i++) {
          text_stage(b);
          unet_stage(b);
          vae_stage(b);
        }
        b.text_graph = std::make_unique<at::cuda::CUDAGraph>();
        b.text_graph->capture_begin();
        text_stage(b);
        b.text_graph->capture_end();
        b.unet_graph = std::make_unique<at::cuda::CUDAGraph>();
        b.unet_graph->capture_begin();
        unet_stage(b);
        b.unet_graph->capture_end();
        b.vae_graph = std::make_unique<at::cuda::CUDAGraph>();
        b.vae_graph->capture_begin();
        vae_stage(b);
        b.vae_graph->capture_end();
      }
      stream_wait(c10::cuda::getCurrentCUDAStream(), side);
    }
    auto stream = c10::cuda::getCurrentCUDAStream();
    for (auto& e : events_)
      if (e == nullptr) {
        cudaEvent_t created;
        C10_CUDA_CHECK(cudaEventCreate(&created));
        e = created;
      }
    auto ev = [&](int i) { return static_cast<cudaEvent_t>(events_[i]); };
    C10_CUDA_CHECK(cudaEventRecord(ev(0), stream));
    b.text_graph->replay();
    C10_CUDA_CHECK(cudaEventRecord(ev(1), stream));
    b.unet_graph->replay();
    C10_CUDA_CHECK(cudaEventRecord(ev(2), stream));
    b.vae_graph->replay();
    C10_CUDA_CHECK(cudaEventRecord(ev(3), stream));
    events_recorded_ = true;
    return b.image.clone();
  }
#endif
  auto t0 = std::chrono::steady_clock::now();
  text_stage(b);
  auto t1 = std::chrono::steady_clock::now();
  unet_stage(b);
  auto t2 = std::chrono::steady_clock::now();
  vae_stage(b);
  auto t3 = std::chrono::steady_clock::now();
  auto ms = [](auto a, auto z) { return std::chrono::duration<float, std::milli>(z - a).count(); };
  last_ms_ = {ms(t0, t1), ms(t1, t2), ms(t2, t3)};
  return b.image.clone();
}

std::array<float, 3> OneStepPipeline::last_timings() {
  std::lock_guard<std::mutex> lock(mutex_);
#ifdef D2G_WITH_CUDA
  if (graphs_) {
    if (!events_recorded_) fail(D2G_INVALID_ARGUMENT, "no run yet");
    C10_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(events_[3])));
    for (int i = 0; i < 3; i++)
      C10_CUDA_CHECK(cudaEventElapsedTime(&last_ms_[i], static_cast<cudaEvent_t>(events_[i]),
                                          static_cast<cudaEvent_t>(events_[i + 1])));
  }
#endif
  return last_ms_;
}

}  // namespace d2g::pipelines
