#include "denoise_step.hpp"

#include <c10/core/GradMode.h>

#include <cmath>
#include <vector>

#include "../core/cuda_util.hpp"
#include "../core/exec.hpp"
#include "../core/status.hpp"

#ifdef D2G_WITH_CUDA
#include <ATen/autocast_mode.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace d2g::train {

struct DenoiseStep::Graph {
  at::Tensor x0, noise, t, context;  // static inputs (context: token ids when a text encoder is trained)
  at::Tensor out;                    // the captured step's [loss, grad_norm, found_inf]
  int warm = 0;                      // eager warm-up steps done
#ifdef D2G_WITH_CUDA
  std::unique_ptr<at::cuda::CUDAGraph> graph;
#endif
};

DenoiseStep::DenoiseStep(const Config& c, std::shared_ptr<torch::nn::Module> unet, std::shared_ptr<Optimizer> opt,
                         std::shared_ptr<Ema> ema, std::shared_ptr<dist::DataParallel> dp,
                         const at::Tensor& alphas_cumprod)
    : net_(std::move(unet)),
      opt_(std::move(opt)),
      ema_(std::move(ema)),
      dp_(std::move(dp)),
      prediction_(c.str("prediction", "epsilon")),
      precision_(c.str("precision", "f32")),
      max_grad_norm_(c.number("max_grad_norm", 0)),
      ema_decay_(c.number("ema_decay", 0.9999)) {
  graphs_ = c.boolean("cuda_graphs", false);
  c.check_all_used("denoise step");
  unet_ = dynamic_cast<sd::UNet2DConditionModelImpl*>(net_.get());
  if (unet_ == nullptr) fail(D2G_INVALID_ARGUMENT, "the denoise step trains a unet2d_condition module");
  if (!opt_) fail(D2G_INVALID_ARGUMENT, "the denoise step needs an optimizer");
  if (prediction_ != "epsilon" && prediction_ != "v_prediction" && prediction_ != "sample")
    fail(D2G_INVALID_ARGUMENT, "prediction must be epsilon, v_prediction or sample, not '", prediction_, "'");
  if (precision_ != "f32" && precision_ != "bf16" && precision_ != "f16")
    fail(D2G_INVALID_ARGUMENT, "precision must be f32, bf16 or f16, not '", precision_, "'");
  if (!(max_grad_norm_ >= 0)) fail(D2G_INVALID_ARGUMENT, "max_grad_norm must be >= 0 (0: no clipping)");
  if (!(ema_decay_ >= 0 && ema_decay_ <= 1)) fail(D2G_INVALID_ARGUMENT, "ema_decay must be in [0, 1]");
  at::Tensor p0 = net_->parameters().at(0);
  if (precision_ == "f16" && !p0.is_cuda()) fail(D2G_INVALID_ARGUMENT, "f16 training needs CUDA (use bf16 on the CPU)");
  if (alphas_cumprod.dim() != 1 || alphas_cumprod.numel() < 1 || !alphas_cumprod.is_floating_point())
    fail(D2G_INVALID_ARGUMENT, "alphas_cumprod must be a 1-D floating tensor of the schedule's cumulative alphas");
  abar_ = alphas_cumprod.detach().to(p0.device(), at::kFloat).contiguous();
  if (precision_ == "f16") {
    scale_ = at::full({1}, 65536.0, at::TensorOptions().dtype(at::kFloat).device(p0.device()));
    growth_tracker_ = at::zeros({1}, at::TensorOptions().dtype(at::kInt).device(p0.device()));
  }
}

StepMetrics DenoiseStep::run(const at::Tensor& x0_in, const at::Tensor& context_in, const at::Tensor& t_in,
                             const at::Tensor& noise_in) {
  at::Tensor p0 = net_->parameters().at(0);
  const at::Device device = p0.device();
  if (x0_in.dim() != 4 || !noise_in.sizes().equals(x0_in.sizes()))
    fail(D2G_INVALID_ARGUMENT, "x0 must be [B, C, H, W] and noise of the same shape");
  if (t_in.dim() != 1 || t_in.size(0) != x0_in.size(0) || at::isFloatingType(t_in.scalar_type()))
    fail(D2G_INVALID_ARGUMENT, "timesteps must be integers [B], one per sample");
  c10::NoGradGuard setup;
  at::Tensor x0 = x0_in.to(device, at::kFloat), noise = noise_in.to(device, at::kFloat);
  at::Tensor t = t_in.to(device, at::kLong);
  if (t.numel() > 0 && (t.min().item<int64_t>() < 0 || t.max().item<int64_t>() >= abar_.size(0)))
    fail(D2G_INVALID_ARGUMENT, "timesteps must be in 0..", abar_.size(0) - 1);
  // With a text encoder the context is token ids, encoded inside the step (with gradients).
  at::Tensor ids = text_ != nullptr ? text_->prepare_ids(context_in) : at::Tensor();
  at::Tensor context = text_ != nullptr ? at::Tensor() : context_in.to(device, p0.scalar_type());
  if (graphs_ && device.is_cuda() && !dp_ && precision_ != "f16" && opt_->capturable()) {
    if (text_ == nullptr) unet_->check_inputs(x0.to(p0.scalar_type()), t, context);
    if (!graph_ || (graph_->x0.sizes().equals(x0.sizes()) && graph_->t.sizes().equals(t.sizes()) &&
                    graph_->context.sizes().equals((text_ != nullptr ? ids : context).sizes())))
      return run_graphed(x0, noise, t, text_ != nullptr ? ids.to(device) : context);
  }
  at::Tensor abar = abar_.index_select(0, t).view({-1, 1, 1, 1});
  at::Tensor sa = abar.sqrt(), sb = (1 - abar).sqrt();
  at::Tensor xt = (sa * x0 + sb * noise).to(p0.scalar_type());
  at::Tensor target = prediction_ == "epsilon" ? noise : prediction_ == "v_prediction" ? sa * noise - sb * x0 : x0;
  if (text_ == nullptr) unet_->check_inputs(xt, t, context);

  opt_->zero_grad();
  StepMetrics m;
  at::Tensor loss;
  {
    int exec = D2G_EXEC_GRAD | (precision_ == "bf16" ? D2G_EXEC_AUTOCAST_BF16 : 0) |
               (precision_ == "f16" ? D2G_EXEC_AUTOCAST_F16 : 0);
    ExecScope scope(exec, device.type());
    if (text_ != nullptr) {
      context = text_->forward(ids, text_->options.num_hidden_layers, true, false).first;
      unet_->check_inputs(xt, t, context);
    }
    at::Tensor pred = unet_->forward(xt, t, context, nullptr);
    loss = at::mse_loss(pred.to(at::kFloat), target);
  }
  {
    c10::AutoGradMode grad(true);
    (scale_.defined() ? loss * scale_ : loss).backward();
  }
  if (dp_) dp_->finish();

  c10::NoGradGuard no_grad;
  // A loss that is not finite (f32/bf16: a bad batch or diverging weights) skips the update, as f16's
  // overflow does; the caller sees stepped = 0.
  bool overflow = !scale_.defined() && !std::isfinite(loss.detach().item<double>());
  if (scale_.defined()) {
    std::vector<at::Tensor> grads;
    for (auto& g : opt_->groups())
      for (auto& p : g.params)
        if (p.grad().defined()) grads.push_back(p.grad());
    at::Tensor found_inf = at::zeros({1}, at::TensorOptions().dtype(at::kFloat).device(device));
    at::_amp_foreach_non_finite_check_and_unscale_(grads, found_inf, scale_.reciprocal());
    overflow = found_inf.item<float>() > 0;
    at::_amp_update_scale_(scale_, growth_tracker_, found_inf, 2.0, 0.5, 2000);
    m.loss_scale = scale_.item<double>();
  }
  if (!overflow && max_grad_norm_ > 0) {
    m.grad_norm = opt_->clip_grad_norm(max_grad_norm_);
    overflow = !std::isfinite(m.grad_norm);  // gradients that overflowed though the loss did not
  }
  if (!overflow) {
    opt_->step();
    if (ema_) ema_->update(ema_decay_);
  }
  m.stepped = !overflow;
  at::Tensor l = loss.detach().reshape({1}).clone();
  if (dp_) {
    std::vector<at::Tensor> one{l};
    dp_->group().all_reduce(one, true);
  }
  m.loss = l.item<double>();
  return m;
}

at::Tensor DenoiseStep::capturable_body(const at::Tensor& x0, const at::Tensor& noise, const at::Tensor& t,
                                        const at::Tensor& context_in) {
  at::Tensor p0 = net_->parameters().at(0);
  const at::Device device = p0.device();
  at::Tensor abar = abar_.index_select(0, t).view({-1, 1, 1, 1});
  at::Tensor sa = abar.sqrt(), sb = (1 - abar).sqrt();
  at::Tensor xt = (sa * x0 + sb * noise).to(p0.scalar_type());
  at::Tensor target = prediction_ == "epsilon" ? noise : prediction_ == "v_prediction" ? sa * noise - sb * x0 : x0;
  at::Tensor loss;
  {
    int exec = D2G_EXEC_GRAD | (precision_ == "bf16" ? D2G_EXEC_AUTOCAST_BF16 : 0);
    ExecScope scope(exec, device.type());
    at::Tensor context =
        text_ != nullptr ? text_->forward(text_->prepare_ids(context_in), text_->options.num_hidden_layers, true, false).first
                         : context_in;
    at::Tensor pred = unet_->forward(xt, t, context, nullptr);
    loss = at::mse_loss(pred.to(at::kFloat), target);
  }
  {
    c10::AutoGradMode grad(true);
    loss.backward();
  }
  c10::NoGradGuard no_grad;
  at::Tensor l = loss.detach().reshape({});
  at::Tensor total = max_grad_norm_ > 0 ? opt_->clip_grad_norm_async(max_grad_norm_).reshape({})
                                        : at::zeros({}, l.options());
  at::Tensor found_inf = at::logical_not(at::logical_and(at::isfinite(l), at::isfinite(total))).to(at::kFloat);
  opt_->step_capturable(found_inf);
  if (ema_) ema_->update_capturable(ema_decay_, found_inf);
  return at::stack({l, total, found_inf});
}

StepMetrics DenoiseStep::run_graphed(const at::Tensor& x0, const at::Tensor& noise, const at::Tensor& t,
                                                  const at::Tensor& context) {
  if (!graph_) {
    graph_ = std::make_shared<Graph>();
    graph_->x0 = at::empty_like(x0);
    graph_->noise = at::empty_like(noise);
    graph_->t = at::empty_like(t);
    graph_->context = at::empty_like(context);
  }
  Graph& g = *graph_;
  g.x0.copy_(x0, true);
  g.noise.copy_(noise, true);
  g.t.copy_(t, true);
  g.context.copy_(context, true);
  opt_->refresh_device_lrs();
  at::Tensor out;
#ifdef D2G_WITH_CUDA
  c10::cuda::CUDAGuard device_guard(x0.device());
  auto current = c10::cuda::getCurrentCUDAStream();
  auto side = c10::cuda::getStreamFromPool();
  if (!g.graph) {
    // Warm-up steps (real steps on this batch) and the capture run on a side stream, as
    // torch.cuda.graph does; the capture records the step without running it, so it is replayed after.
    stream_wait(side, current);
    {
      c10::cuda::CUDAStreamGuard sg(side);
      opt_->zero_grad();
      if (g.warm < 2) {
        out = capturable_body(g.x0, g.noise, g.t, g.context);
        g.warm++;
      } else {
        // As torch.cuda.graph does: give the warm-up's cached blocks back first, so that the graph's
        // private pool can have the memory (else a large step holds it twice and runs out).
        c10::cuda::CUDACachingAllocator::emptyCache();
        bool cache = at::autocast::is_autocast_cache_enabled();
        at::autocast::set_autocast_cache_enabled(false);
        auto graph = std::make_unique<at::cuda::CUDAGraph>();
        graph->capture_begin();
        g.out = capturable_body(g.x0, g.noise, g.t, g.context);
        graph->capture_end();
        at::autocast::set_autocast_cache_enabled(cache);
        g.graph = std::move(graph);
      }
    }
    stream_wait(current, side);
  }
  if (g.graph) {
    g.graph->replay();
    out = g.out;
  }
#else
  opt_->zero_grad();
  out = capturable_body(g.x0, g.noise, g.t, g.context);
#endif
  at::Tensor host = out.to(at::kCPU, at::kDouble);
  StepMetrics m;
  m.loss = host[0].item<double>();
  m.grad_norm = host[1].item<double>();
  m.stepped = host[2].item<double>() == 0;
  return m;
}

std::vector<double> DenoiseStep::run(const std::vector<at::Tensor>& in) {
  if (in.size() != 4) fail(D2G_INVALID_ARGUMENT, "the denoise step takes x0, context, timesteps and noise");
  StepMetrics m = run(in[0], in[1], in[2], in[3]);
  return {m.loss, m.grad_norm, m.loss_scale, m.stepped ? 1.0 : 0.0};
}

void DenoiseStep::set_module(const std::string& role, std::shared_ptr<torch::nn::Module> net) {
  if (role != "text_encoder") fail(D2G_INVALID_ARGUMENT, "the denoise step takes a text_encoder, not a ", role);
  auto* text = dynamic_cast<clip::CLIPTextModelImpl*>(net.get());
  if (text == nullptr) fail(D2G_INVALID_ARGUMENT, "the denoise step's text_encoder must be a clip_text_model");
  text_net_ = std::move(net);
  text_ = text;
}

}  // namespace d2g::train
