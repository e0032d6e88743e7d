// LatentLPIPS (models/latent_lpips.hpp).
#include "latent_lpips.hpp"

#include <string>

#include "../core/cuda_util.hpp"
#include "../core/exec.hpp"
#include "../core/module.hpp"
#include "../core/tensor.hpp"
#include "latent_augment.hpp"

#ifdef D2G_WITH_CUDA
#include <ATen/autocast_mode.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace d2g::lpips {

LatentLpipsOptions::LatentLpipsOptions(const Config& c) {
  latent_channels = c.integer("latent_channels", latent_channels);
  widths = c.integers("widths", widths);
  add_l1 = c.boolean("add_l1", add_l1);
  lean_backward = c.boolean("lean_backward", lean_backward);
  fixed_augment_padding = c.boolean("fixed_augment_padding", fixed_augment_padding);
  if (latent_channels < 1 || latent_channels > 1024)
    fail(D2G_INVALID_ARGUMENT, "latent_lpips: latent_channels must be 1 to 1024, not ", latent_channels);
  if (widths.size() != 5) fail(D2G_INVALID_ARGUMENT, "latent_lpips: widths must have 5 values (one per stage)");
  for (int64_t w : widths)
    if (w < 1 || w > 4096) fail(D2G_INVALID_ARGUMENT, "latent_lpips: widths must be 1 to 4096, not ", w);
}

namespace {
// Where the five slices end in torchvision's 44 layers (the taps).
constexpr int kSliceEnd[5] = {7, 14, 24, 34, 44};

// A named holder, so that state names read net.slice1.0.weight and lin0.model.1.weight.
struct Holder : torch::nn::Module {};

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

bool channels_last(const at::Tensor& x) { return x.is_contiguous(at::MemoryFormat::ChannelsLast) && !x.is_contiguous(); }

at::Tensor unit(const at::Tensor& f) { return f / at::sqrt(f.pow(2).sum(1, true) + 1e-8); }

// relu(conv3x3(x, w, b)) with a frozen w, b: the backward needs w and where the output is positive
// (kept as a byte mask), not x: grad x is the data gradient of the convolution (cuDNN's backward-data on
// CUDA; the input passed along is an unfilled one of x's shape and layout, which it does not read).
struct FrozenConvRelu : torch::autograd::Function<FrozenConvRelu> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
    at::Tensor y = at::conv2d(x, w, b, /*stride=*/1, /*padding=*/1);
    y.relu_();
    ctx->save_for_backward({y.gt(0), w});
    ctx->saved_data["shape"] = x.sizes().vec();
    ctx->saved_data["channels_last"] = channels_last(x);
    return y;
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    NoAutocast exact;  // in w's dtype, as the forward ran
    auto saved = ctx->get_saved_variables();
    const at::Tensor& w = saved[1];
    at::Tensor g = (grads[0] * saved[0]).to(w.scalar_type());
    at::Tensor shape_of_x = at::empty(ctx->saved_data["shape"].toIntVector(), g.options().memory_format(
        ctx->saved_data["channels_last"].toBool() ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous));
    // (not conv_transpose2d: LibTorch 1.13's CPU bf16 path for it checks the wrong channel count)
    auto grad = at::convolution_backward(g, shape_of_x, w, c10::nullopt, {1, 1}, {1, 1}, {1, 1}, false, {0, 0}, 1,
                                         {true, false, false});
    return {std::get<0>(grad), at::Tensor(), at::Tensor()};
  }
};

// 2x2 max-pooling of stride 2 keeping, for the backward, which of the four won (a byte an output, the
// first maximum as max_pool2d takes it) instead of the input and int64 indices.
struct LeanMaxPool : torch::autograd::Function<LeanMaxPool> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x) {
    at::Tensor y = at::max_pool2d(x, {2, 2}, {2, 2});
    at::Tensor won = at::full_like(y, 3, y.options().dtype(at::kByte));
    for (int k = 2; k >= 0; k--)
      won = at::where(quarter(x, k).eq(y), at::full({}, k, won.options()), won);
    ctx->save_for_backward({won});
    ctx->saved_data["shape"] = x.sizes().vec();
    ctx->saved_data["channels_last"] = channels_last(x);
    return y;
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    at::Tensor won = ctx->get_saved_variables()[0];
    const at::Tensor& g = grads[0];
    const bool cl = ctx->saved_data["channels_last"].toBool();
    at::Tensor gx = at::zeros(ctx->saved_data["shape"].toIntVector(), g.options().memory_format(
        cl ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous));
    for (int k = 0; k < 4; k++) quarter(gx, k).copy_(g * won.eq(k));
    return {gx};
  }
  // The k-th of the four positions of every 2x2 window (k = 2 * row + column).
  static at::Tensor quarter(const at::Tensor& x, int k) {
    const int64_t h = x.size(2) / 2 * 2, w = x.size(3) / 2 * 2;
    return x.slice(2, k / 2, h, 2).slice(3, k % 2, w, 2);
  }
};

// One tap's term: mean over positions of lin((n(fa) - n(fc))^2), in f32, for fa with gradients and fc
// without; the backward keeps the two taps (not the normalised ones and their squares).
struct LeanTapTerm : torch::autograd::Function<LeanTapTerm> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& fa, const at::Tensor& fc, const at::Tensor& w) {
    NoAutocast f32;
    ctx->save_for_backward({fa, fc, w});
    const at::ScalarType t = at::promote_types(fa.scalar_type(), at::kFloat);  // f32, or f64 for an f64 module
    at::Tensor d = (unit(fa.to(t)) - unit(fc.to(t))).pow(2);
    return (d * w.to(t).view({1, -1, 1, 1})).sum(1).mean({1, 2});
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    NoAutocast f32;
    auto s = ctx->get_saved_variables();
    const at::ScalarType t = at::promote_types(s[0].scalar_type(), at::kFloat);
    at::Tensor fa = s[0].to(t);
    at::Tensor inv = (fa.pow(2).sum(1, true) + 1e-8).rsqrt();
    at::Tensor na = fa * inv;
    const double positions = static_cast<double>(fa.size(2) * fa.size(3));
    at::Tensor dna = (na - unit(s[1].to(t))) * s[2].to(t).view({1, -1, 1, 1}) *
                     (grads[0].to(t) * (2.0 / positions)).view({-1, 1, 1, 1});
    return {(dna - na * (dna * na).sum(1, true)) * inv, at::Tensor(), at::Tensor()};
  }
};
}  // namespace

LatentLpipsImpl::LatentLpipsImpl(const LatentLpipsOptions& o) : options(o) {
  // torchvision's vgg16_bn configuration "D": convs per stage 2, 2, 3, 3, 3, a max-pool after each.
  const int convs[5] = {2, 2, 3, 3, 3};
  auto net = register_module("net", std::make_shared<Holder>());
  std::vector<std::shared_ptr<Holder>> slice;
  for (int s = 0; s < 5; s++) slice.push_back(net->register_module("slice" + std::to_string(s + 1), std::make_shared<Holder>()));
  int index = 0, s = 0;
  int64_t in = o.latent_channels;
  auto holder = [&]() -> Holder& {
    while (index >= kSliceEnd[s]) s++;
    return *slice[s];
  };
  for (int stage = 0; stage < 5; stage++) {
    for (int k = 0; k < convs[stage]; k++) {
      Layer conv{Layer::CONV};
      conv.conv = Conv2d(torch::nn::Conv2dOptions(in, o.widths[stage], 3).padding(1));
      holder().register_module(std::to_string(index++), conv.conv);
      layers.push_back(conv);
      Layer norm{Layer::NORM};
      norm.norm = torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(o.widths[stage]));
      holder().register_module(std::to_string(index++), norm.norm);
      layers.push_back(norm);
      layers.push_back(Layer{Layer::RELU});
      index++;
      in = o.widths[stage];
    }
    layers.push_back(Layer{stage < 3 ? Layer::SKIP : Layer::POOL});  // the first three pools removed
    index++;
  }
  for (int k = 0; k < 5; k++) {
    auto lin = register_module("lin" + std::to_string(k), std::make_shared<Holder>());
    auto model = lin->register_module("model", std::make_shared<Holder>());
    lins.push_back(model->register_module("1", Conv2d(torch::nn::Conv2dOptions(o.widths[k], 1, 1).bias(false))));
  }
  for (auto& p : parameters()) p.set_requires_grad(false);
  eval();  // as the official module runs; only the trunk's classifier training switches to train()
}

void LatentLpipsImpl::check(const at::Tensor& x, const char* what) const {
  if (!x.defined() || x.dim() != 4 || x.size(1) != options.latent_channels || x.size(0) < 1 || x.size(2) < 4 ||
      x.size(3) < 4 || x.size(2) % 4 != 0 || x.size(3) % 4 != 0)
    fail(D2G_INVALID_ARGUMENT, "latent_lpips: ", what, " must be [B, ", options.latent_channels,
         ", H, W] with H and W multiples of 4 (the trunk halves them twice), got ",
         x.defined() ? describe(x) : std::string("nothing"));
  if (!x.is_floating_point()) fail(D2G_INVALID_ARGUMENT, "latent_lpips: ", what, " must be floating point");
}

std::vector<at::Tensor> LatentLpipsImpl::features(const at::Tensor& latents) {
  check(latents, "latents");
  const auto& p0 = lins[0]->weight;
  return run_trunk(latents.to(p0.device(), p0.scalar_type()), is_training());
}

std::vector<at::Tensor> LatentLpipsImpl::run_trunk(const at::Tensor& x, bool batch_statistics, bool lean) {
  at::Tensor h = x;
  // Convolution weights stored channels-last (set_channels_last): the activations follow.
  const at::Tensor& w0 = layers[0].conv->weight;
  if (h.is_cuda() && w0.is_contiguous(at::MemoryFormat::ChannelsLast) && !w0.is_contiguous())
    h = h.contiguous(at::MemoryFormat::ChannelsLast);
  std::vector<at::Tensor> taps;
  int s = 0;
  for (size_t i = 0; i < layers.size(); i++) {
    Layer& l = layers[i];
    switch (l.kind) {
      case Layer::CONV: {
        // With running statistics and a frozen trunk, batch norm is an affine map per channel: folded
        // into the convolution (one pass over the activations less, forward and backward).
        Layer* norm = i + 1 < layers.size() && layers[i + 1].kind == Layer::NORM ? &layers[i + 1] : nullptr;
        if (norm != nullptr && !batch_statistics && !l.conv->weight.requires_grad() && !norm->norm->weight.requires_grad()) {
          // Under autocast the folded weights are kept in its dtype too (it would cast them every call).
          at::ScalarType target = autocast_target(h.device().type());
          auto wb = folded(i, target == at::ScalarType::Undefined ? l.conv->weight.scalar_type() : target);
          if (lean && i + 2 < layers.size() && layers[i + 2].kind == Layer::RELU) {  // no tap ends inside a triple
            h = FrozenConvRelu::apply(h, wb.first, wb.second);
            i += 2;  // the norm and the ReLU are done
          } else {
            h = at::conv2d(h, wb.first, wb.second, /*stride=*/1, /*padding=*/1);  // the trunk's 3x3
            i++;  // the norm is done
          }
        } else {
          h = l.conv->forward(h);
        }
        break;
      }
      case Layer::NORM:  // batch statistics (updating the running ones) only when training the trunk
        h = at::batch_norm(h, l.norm->weight, l.norm->bias, l.norm->running_mean, l.norm->running_var,
                           batch_statistics, 0.1, l.norm->options.eps(), at::globalContext().userEnabledCuDNN());
        break;
      case Layer::RELU: h = at::relu(h); break;
      case Layer::POOL: h = lean ? LeanMaxPool::apply(h) : at::max_pool2d(h, {2, 2}, {2, 2}); break;
      case Layer::SKIP: break;
    }
    if (static_cast<int>(i) + 1 == kSliceEnd[s]) {
      taps.push_back(h);
      s++;
    }
  }
  return taps;
}

std::pair<at::Tensor, at::Tensor> LatentLpipsImpl::folded(size_t index, at::ScalarType dtype) {
  const auto& conv = layers[index].conv;
  const auto& bn = layers[index + 1].norm;
  std::vector<int64_t> stamp;
  for (const at::Tensor* t : {&conv->weight, &conv->bias, &bn->weight, &bn->bias, &bn->running_mean, &bn->running_var}) {
    if (!t->defined()) {
      stamp.insert(stamp.end(), {0, 0, 0});
      continue;
    }
    stamp.insert(stamp.end(), {reinterpret_cast<int64_t>(t->data_ptr()), static_cast<int64_t>(t->_version()),
                               static_cast<int64_t>(t->device().type()) * 1024 + t->device().index()});
  }
  stamp.push_back(conv->weight.is_contiguous() ? 0 : 1);
  std::lock_guard<std::mutex> lock(fold_mutex_);
  Folded& f = folded_[{index, static_cast<int>(dtype)}];
  if (f.stamp != stamp) {
    c10::NoGradGuard no_grad;
    NoAutocast f32;
    at::Tensor scale = bn->weight * (bn->running_var + bn->options.eps()).rsqrt();
    at::Tensor shift = bn->bias - bn->running_mean * scale;
    if (conv->bias.defined()) shift = shift + conv->bias * scale;
    f.weight = (conv->weight * scale.view({-1, 1, 1, 1}).to(conv->weight.scalar_type())).to(dtype);
    f.bias = shift.to(dtype);
    f.stamp = std::move(stamp);
  }
  return {f.weight, f.bias};
}

void LatentLpipsImpl::check_pair(const at::Tensor& x0, const at::Tensor& x1) const {
  check(x0, "x0");
  check(x1, "x1");
  if (!x0.sizes().equals(x1.sizes()))
    fail(D2G_INVALID_ARGUMENT, "latent_lpips: x0 ", x0.sizes(), " and x1 ", x1.sizes(), " differ in shape");
}

std::vector<at::Tensor> LatentLpipsImpl::tap_differences(const at::Tensor& a, const at::Tensor& c) {
  const int64_t b = a.size(0);
  std::vector<at::Tensor> out;
  if (a.requires_grad() != c.requires_grad()) {
    // One side needs gradients (a generator's output against its target): two passes, so that the
    // backward runs through that side only.
    std::vector<at::Tensor> ta = run_trunk(a, false), tc = run_trunk(c, false);
    for (size_t k = 0; k < ta.size(); k++) out.push_back((unit(ta[k]) - unit(tc[k])).pow(2));
    return out;
  }
  // One trunk pass over both, with running statistics, so that the halves do not mix.
  std::vector<at::Tensor> taps = run_trunk(at::cat({a, c}, 0), false);
  for (auto& t : taps) {
    auto halves = t.split(b, 0);
    out.push_back((unit(halves[0]) - unit(halves[1])).pow(2));
  }
  return out;
}

bool LatentLpipsImpl::lean_for(const at::Tensor& a, const at::Tensor& c) {
  if (!options.lean_backward || is_training() || !c10::GradMode::is_enabled() || !a.requires_grad() || c.requires_grad())
    return false;
  for (const auto& p : parameters())
    if (p.requires_grad()) return false;
  return true;
}

at::Tensor LatentLpipsImpl::lean_distance(const at::Tensor& a, const at::Tensor& c) {
  std::vector<at::Tensor> ta = run_trunk(a, false, /*lean=*/true), tc;
  {
    c10::NoGradGuard no_grad;
    tc = run_trunk(c, false);
  }
  at::Tensor total;
  for (size_t k = 0; k < ta.size(); k++) {
    at::Tensor r = LeanTapTerm::apply(ta[k], tc[k], lins[k]->weight);
    total = total.defined() ? total + r : r;
  }
  return total;
}

at::Tensor LatentLpipsImpl::weigh(const std::vector<at::Tensor>& differences) {
  if (differences.size() != lins.size()) fail(D2G_INVALID_ARGUMENT, "latent_lpips: 5 tap differences expected");
  at::Tensor total;
  for (size_t k = 0; k < differences.size(); k++) {
    at::Tensor r = lins[k]->forward(differences[k]).mean({1, 2, 3});
    total = total.defined() ? total + r : r;
  }
  return total;
}

at::Tensor LatentLpipsImpl::pair_distance(const at::Tensor& a, const at::Tensor& c) {
  if (lean_for(a, c)) return lean_distance(a, c);
  if (lean_for(c, a)) return lean_distance(c, a);  // the distance is symmetric
  return weigh(tap_differences(a, c));
}

at::Tensor LatentLpipsImpl::distance(const at::Tensor& x0, const at::Tensor& x1) {
  check_pair(x0, x1);
  const auto& p0 = lins[0]->weight;
  at::Tensor a = x0.to(p0.device(), p0.scalar_type()), c = x1.to(p0.device(), p0.scalar_type());
  at::Tensor d = pair_distance(a, c);
  return options.add_l1 ? d + (a - c).abs().mean({1, 2, 3}) : d;
}

namespace {
// Fresh draws of the preset for a batch like x, in f32 even under autocast.
AugmentParams draw_for(const std::string& preset, const at::Tensor& x, c10::optional<at::Generator> gen) {
  NoAutocast f32;
  return draw_params(preset, x.size(0), x.size(1), x.size(2), x.size(3), x.device(), gen);
}
}  // namespace

at::Tensor LatentLpipsImpl::augmented_distance(const at::Tensor& a, const at::Tensor& c, const AugmentParams* p,
                                               bool fixed_padding) {
  at::Tensor d;
  if (p == nullptr) {
    d = pair_distance(a, c);
  } else {
    at::Tensor ta, tc;
    {
      NoAutocast f32;  // the resampling in f32 even under autocast; the trunk then autocasts
      std::tie(ta, tc) = augment_pair(a.to(at::kFloat), c.to(at::kFloat), *p, fixed_padding);
    }
    d = pair_distance(ta.to(a.scalar_type()), tc.to(a.scalar_type()));
  }
  return options.add_l1 ? d + (a - c).abs().mean({1, 2, 3}) : d;  // L1 on the un-augmented latents
}

at::Tensor LatentLpipsImpl::distance_ensemble(const at::Tensor& x0, const at::Tensor& x1, const std::string& preset,
                                              c10::optional<at::Generator> gen) {
  check_pair(x0, x1);
  const auto& p0 = lins[0]->weight;
  at::Tensor a = x0.to(p0.device(), p0.scalar_type()), c = x1.to(p0.device(), p0.scalar_type());
  AugmentParams p = draw_for(preset, a, gen);
  return augmented_distance(a, c, &p, options.fixed_augment_padding);
}

std::pair<at::Tensor, at::Tensor> LatentLpipsImpl::distance_grad_body(const at::Tensor& x0, const at::Tensor& x1,
                                                                      const AugmentParams* p, bool fixed_padding) {
  c10::AutoGradMode grad(true);
  at::Tensor a = x0.detach().requires_grad_(true);
  at::Tensor d = augmented_distance(a, x1.detach(), p, fixed_padding);
  at::Tensor g = torch::autograd::grad({d.sum()}, {a})[0];
  return {d.detach(), g};
}

struct LatentLpipsImpl::GradGraph {
  std::vector<int64_t> shape;
  std::string preset;
  int autocast = 0;             // the autocast target dtype of the call (Undefined: none)
  at::Tensor x0, x1;            // static inputs
  AugmentParams params;         // static draws (the parts the preset has)
  at::Tensor distance, grad;    // static outputs
#ifdef D2G_WITH_CUDA
  std::unique_ptr<at::cuda::CUDAGraph> graph;
#endif
};

LatentLpipsImpl::~LatentLpipsImpl() = default;

std::pair<at::Tensor, at::Tensor> LatentLpipsImpl::distance_grad(const at::Tensor& x0, const at::Tensor& x1,
                                                                 const std::string& preset,
                                                                 c10::optional<at::Generator> gen, bool cuda_graph) {
  check_pair(x0, x1);
  const auto& p0 = lins[0]->weight;
  at::Tensor a = x0.to(p0.device(), p0.scalar_type()), c = x1.to(p0.device(), p0.scalar_type());
  const bool plain = preset == "none";
  AugmentParams p = plain ? AugmentParams() : draw_for(preset, a, gen);
#ifdef D2G_WITH_CUDA
  if (cuda_graph && a.is_cuda()) {
    std::lock_guard<std::mutex> lock(grad_graph_mutex_);
    const int autocast = static_cast<int>(autocast_target(a.device().type()));
    GradGraph* g = grad_graph_.get();
    if (g == nullptr || g->shape != a.sizes().vec() || g->preset != preset || g->autocast != autocast ||
        g->x0.scalar_type() != a.scalar_type()) {
      grad_graph_.reset();  // the old graph's memory goes back first
      auto fresh = std::make_unique<GradGraph>();
      fresh->shape = a.sizes().vec();
      fresh->preset = preset;
      fresh->autocast = autocast;
      fresh->x0 = at::empty_like(a, at::MemoryFormat::Contiguous);
      fresh->x1 = at::empty_like(c, at::MemoryFormat::Contiguous);
      auto buffer = [](const at::Tensor& t) { return t.defined() ? at::empty_like(t, at::MemoryFormat::Contiguous) : at::Tensor(); };
      fresh->params = AugmentParams{buffer(p.g_inv), buffer(p.brightness), buffer(p.contrast), buffer(p.saturation),
                                    buffer(p.cutout_center), buffer(p.cutout_size), at::Tensor()};
      g = fresh.get();
      grad_graph_ = std::move(fresh);
    }
    g->x0.copy_(a, true);
    g->x1.copy_(c, true);
    for (auto [to, from] : {std::pair{&g->params.g_inv, &p.g_inv}, {&g->params.brightness, &p.brightness},
                            {&g->params.contrast, &p.contrast}, {&g->params.saturation, &p.saturation},
                            {&g->params.cutout_center, &p.cutout_center}, {&g->params.cutout_size, &p.cutout_size}})
      if (to->defined()) to->copy_(*from, true);
    const AugmentParams* params = plain ? nullptr : &g->params;
    c10::cuda::CUDAGuard device_guard(a.device());
    if (!g->graph) {
      // As torch.cuda.graph: warm-up passes and the capture on a side stream, then the replay below.
      auto current = c10::cuda::getCurrentCUDAStream();
      auto side = c10::cuda::getStreamFromPool();
      stream_wait(side, current);
      {
        c10::cuda::CUDAStreamGuard sg(side);
        for (int i = 0; i < 2; i++) distance_grad_body(g->x0, g->x1, params, true);
        c10::cuda::CUDACachingAllocator::emptyCache();
        bool cache = at::autocast::is_autocast_cache_enabled();
        at::autocast::set_autocast_cache_enabled(false);
        auto graph = std::make_unique<at::cuda::CUDAGraph>();
        graph->capture_begin();
        std::tie(g->distance, g->grad) = distance_grad_body(g->x0, g->x1, params, true);
        graph->capture_end();
        at::autocast::set_autocast_cache_enabled(cache);
        g->graph = std::move(graph);
      }
      stream_wait(current, side);
    }
    g->graph->replay();
    return {g->distance.clone(), g->grad.clone()};
  }
#endif
  (void)cuda_graph;
  return distance_grad_body(a, c, plain ? nullptr : &p, options.fixed_augment_padding);
}

LpipsRankImpl::LpipsRankImpl(int64_t mid) {
  if (mid < 1 || mid > 4096) fail(D2G_INVALID_ARGUMENT, "lpips_rank: mid must be 1 to 4096, not ", mid);
  auto conv = [](int64_t i, int64_t o) { return torch::nn::Conv2d(torch::nn::Conv2dOptions(i, o, 1)); };
  auto leaky = [] { return torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.2)); };
  model = register_module("model", torch::nn::Sequential(conv(5, mid), leaky(), conv(mid, mid), leaky(), conv(mid, 1)));
}

at::Tensor LpipsRankImpl::forward(const at::Tensor& d0_in, const at::Tensor& d1_in) {
  if (!d0_in.defined() || !d1_in.defined() || d0_in.dim() != 1 || !d0_in.sizes().equals(d1_in.sizes()))
    fail(D2G_INVALID_ARGUMENT, "lpips_rank: d0 and d1 must be [B] of one size");
  const at::Tensor w = model->parameters().at(0);
  at::Tensor d0 = d0_in.to(w.device(), w.scalar_type()), d1 = d1_in.to(w.device(), w.scalar_type());
  const double eps = 0.1;
  at::Tensor x = at::stack({d0, d1, d0 - d1, d0 / (d1 + eps), d1 / (d0 + eps)}, 1).view({-1, 5, 1, 1});
  return model->forward(x).view({-1});
}

static RegisterKind reg_lpips_rank("lpips_rank", [](const Config& c) {
  return std::static_pointer_cast<torch::nn::Module>(std::make_shared<LpipsRankImpl>(c.integer("mid", 32)));
});

static RegisterKind reg_latent_lpips("latent_lpips", [](const Config& c) {
  return std::static_pointer_cast<torch::nn::Module>(std::make_shared<LatentLpipsImpl>(LatentLpipsOptions(c)));
});

}  // namespace d2g::lpips
