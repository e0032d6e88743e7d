// The guided multi-step sampling loop (pipelines/guided_sampler.hpp).
#include "guided_sampler.hpp"

#include <cmath>

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

// The per-step numbers in the device buffer `coef`: the Step's four, then 1 - w and w.
constexpr int64_t kCoefs = 6;

struct GuidedSampler::Buffers {  // static inputs and state of one captured shape
  at::Tensor x;        // f32 [B, C, H, W], the sample, updated in place
  at::Tensor context;  // the UNet's dtype, [2B, T, D] ([uncond; cond]) or [B, T, D]
  at::Tensor coef;     // f32 [kCoefs] on the device, this step's numbers
  bool guided = false;
#ifdef D2G_WITH_CUDA
  std::unique_ptr<at::cuda::CUDAGraph> graph;
#endif
};

GuidedSampler::GuidedSampler(std::shared_ptr<sd::UNet2DConditionModelImpl> unet, bool use_cuda_graphs)
    : unet_(std::move(unet)) {
  if (!unet_) fail(D2G_INVALID_ARGUMENT, "guided sampler: the UNet is missing");
  options_ = module_options(*unet_);
  graphs_ = use_cuda_graphs && options_.device().is_cuda();
#ifndef D2G_WITH_CUDA
  graphs_ = false;
#endif
}

GuidedSampler::~GuidedSampler() = default;

// One step on the buffers (what the graph captures): every number comes from the device buffer.
void GuidedSampler::step(Buffers& b) {
  const at::Tensor& c = b.coef;
  const int64_t batch = b.x.size(0);
  at::Tensor in = (b.x * c.select(0, 1)).to(options_.dtype());
  at::Tensor t = c.narrow(0, 0, 1);
  at::Tensor g;
  if (b.guided) {
    at::Tensor out = unet_->forward(at::cat({in, in}), t, b.context).to(at::kFloat);
    g = at::mul(out.narrow(0, 0, batch), c.select(0, 4)).add_(at::mul(out.narrow(0, batch, batch), c.select(0, 5)));
  } else {
    g = unet_->forward(in, t, b.context).to(at::kFloat);
  }
  b.x.mul_(c.select(0, 2)).add_(g.mul_(c.select(0, 3)));
}

at::Tensor GuidedSampler::run(const at::Tensor& noise, const at::Tensor& cond, const at::Tensor& uncond, double guidance,
                              const std::vector<Step>& steps) {
  if (noise.dim() != 4 || !noise.is_floating_point())
    fail(D2G_INVALID_ARGUMENT, "noise must be floating [batch, channels, height, width], not ", describe(noise));
  const int64_t batch = noise.size(0);
  if (cond.dim() != 3 || cond.size(0) != batch || !cond.is_floating_point())
    fail(D2G_INVALID_ARGUMENT, "cond must be floating text states [", batch, " (the noise's batch), tokens, width], not ",
         describe(cond));
  if (!std::isfinite(guidance) || guidance < 0 || guidance > 100)
    fail(D2G_INVALID_ARGUMENT, "guidance must be 0 to 100, not ", guidance);
  const bool guided = guidance != 1.0;
  if (guided && !uncond.defined()) fail(D2G_INVALID_ARGUMENT, "guidance ", guidance, " needs unconditional text states");
  if (guided && !uncond.sizes().equals(cond.sizes()))
    fail(D2G_INVALID_ARGUMENT, "the unconditional text states ", describe(uncond), " must have the prompts' shape ",
         describe(cond));
  if (steps.empty() || steps.size() > 1000) fail(D2G_INVALID_ARGUMENT, "steps must be 1 to 1000, not ", steps.size());
  for (size_t i = 0; i < steps.size(); i++)
    for (double v : steps[i])
      if (!std::isfinite(v)) fail(D2G_INVALID_ARGUMENT, "step ", i, " has a coefficient ", v);

  std::lock_guard<std::mutex> lock(mutex_);
  torch::NoGradGuard no_grad;
  auto key = std::make_tuple(batch, noise.size(1), noise.size(2), noise.size(3), cond.size(1), guided);
  auto& slot = cache_[key];
  const bool fresh = !slot;
  if (fresh) {
    auto b = std::make_unique<Buffers>();
    b->guided = guided;
    b->x = at::empty(noise.sizes(), options_.dtype(at::kFloat));
    b->context = at::empty({guided ? 2 * batch : batch, cond.size(1), cond.size(2)}, options_);
    b->coef = at::zeros({kCoefs}, options_.dtype(at::kFloat));
    // the UNet's own checks, once per shape (a captured graph skips them)
    unet_->check_inputs(at::empty({b->context.size(0), noise.size(1), noise.size(2), noise.size(3)}, options_),
                        b->coef.narrow(0, 0, 1), b->context);
    slot = std::move(b);
  }
  Buffers& b = *slot;
  b.x.copy_(noise, true);
  if (guided) b.context.copy_(at::cat({uncond.to(b.context.device()), cond.to(b.context.device())}), true);
  else b.context.copy_(cond, true);
  // All steps' numbers in one upload; each step copies its row into `coef` on the device.
  at::Tensor table = at::empty({static_cast<int64_t>(steps.size()), kCoefs}, at::dtype(at::kFloat));
  auto rows = table.accessor<float, 2>();
  for (size_t i = 0; i < steps.size(); i++) {
    for (int j = 0; j < 4; j++) rows[i][j] = static_cast<float>(steps[i][j]);
    rows[i][4] = static_cast<float>(1 - guidance);
    rows[i][5] = static_cast<float>(guidance);
  }
  table = table.to(options_.device());
#ifdef D2G_WITH_CUDA
  if (graphs_) {
    c10::cuda::CUDAGuard device_guard(options_.device());
    if (fresh) {
      // Warm up on a side stream (lazy init, cuDNN's choices), capture one step, then start x afresh.
      b.coef.copy_(table[0]);
      auto side = c10::cuda::getStreamFromPool();
      stream_wait(side, c10::cuda::getCurrentCUDAStream());
      {
        c10::cuda::CUDAStreamGuard sg(side);
        for (int i = 0; i < 2; i++) step(b);
        b.graph = std::make_unique<at::cuda::CUDAGraph>();
        b.graph->capture_begin();
        step(b);
        b.graph->capture_end();
      }
      stream_wait(c10::cuda::getCurrentCUDAStream(), side);
      b.x.copy_(noise, true);
    }
    for (size_t i = 0; i < steps.size(); i++) {
      b.coef.copy_(table[static_cast<int64_t>(i)], true);
      b.graph->replay();
    }
    return b.x.clone();
  }
#endif
  for (size_t i = 0; i < steps.size(); i++) {
    b.coef.copy_(table[static_cast<int64_t>(i)]);
    step(b);
  }
  return b.x.clone();
}

}  // namespace d2g::pipelines
