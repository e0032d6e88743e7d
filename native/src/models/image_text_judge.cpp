// The evaluation judge (models/image_text_judge.hpp).
#include "image_text_judge.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <tuple>

#include "../core/module.hpp"

namespace d2g::judge {

void check_image_tower(const char* where, const std::vector<int64_t>& widths, int64_t groups) {
  if (groups <= 0 || groups > 1024)  // before it divides the widths
    fail(D2G_INVALID_ARGUMENT, where, ": config key 'norm_groups' must be positive and at most 1024, not ", groups);
  if (widths.empty() || widths.size() > 8) fail(D2G_INVALID_ARGUMENT, where, ": image_widths must have 1 to 8 values");
  for (int64_t w : widths)
    if (w <= 0 || w > 4096 || w % groups != 0)
      fail(D2G_INVALID_ARGUMENT, where, ": image_widths must be positive multiples of norm_groups (", groups,
           ") up to 4096, not ", w);
}

ImageTextJudgeOptions::ImageTextJudgeOptions(const Config& c) {
  const std::string where = "image_text_judge";
  image_widths = c.integers("image_widths", image_widths);
  norm_groups = c.integer("norm_groups", norm_groups);
  text_width = c.integer("text_width", text_width);
  text_layers = c.integer("text_layers", text_layers);
  text_max_bytes = c.integer("text_max_bytes", text_max_bytes);
  embed_dim = c.integer("embed_dim", embed_dim);
  check_image_tower(where.c_str(), image_widths, norm_groups);
  for (auto [key, v, max] : {std::tuple<const char*, int64_t, int64_t>{"text_width", text_width, 4096}, {"text_layers", text_layers, 64},
                             {"text_max_bytes", text_max_bytes, 4096}, {"embed_dim", embed_dim, 4096}})
    if (v <= 0 || v > max)
      fail(D2G_INVALID_ARGUMENT, where, ": config key '", key, "' must be positive and at most ", max, ", not ", v);
}

namespace {

torch::nn::GroupNorm group_norm(int64_t groups, int64_t channels) {
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, channels).eps(1e-5));
}

Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  return Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2));
}

// Pre-activation residual block: x + conv2(silu(norm2(conv1(silu(norm1(x)))))), with a 1x1
// (strided) shortcut when the width or the resolution changes.
struct ResBlockImpl : torch::nn::Module {
  ResBlockImpl(int64_t in, int64_t out, int64_t stride, int64_t groups) {
    norm1 = register_module("norm1", group_norm(groups, in));
    conv1 = register_module("conv1", conv(in, out, 3, stride));
    norm2 = register_module("norm2", group_norm(groups, out));
    conv2 = register_module("conv2", conv(out, out, 3, 1));
    if (in != out || stride != 1) shortcut = register_module("shortcut", conv(in, out, 1, stride));
  }
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor h = conv1(at::silu(norm1(x)));
    h = conv2(at::silu(norm2(h)));
    return (shortcut ? shortcut(x) : x) + h;
  }
  torch::nn::GroupNorm norm1{nullptr}, norm2{nullptr};
  Conv2d conv1{nullptr}, conv2{nullptr}, shortcut{nullptr};
};
TORCH_MODULE(ResBlock);

// Residual convolution over positions of [B, W, 1, L]: x + conv(gelu(norm(x))), with LayerNorm over
// the channels of each position, and padding positions zeroed before and after the convolution, so
// that a text's embedding does not depend on how much padding its batch adds.
struct TextBlockImpl : torch::nn::Module {
  explicit TextBlockImpl(int64_t width) {
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(1e-5)));
    conv = register_module("conv", Conv2d(torch::nn::Conv2dOptions(width, width, {1, 3}).padding({0, 1})));
  }
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask) {
    at::Tensor h = norm(x.permute({0, 2, 3, 1})).permute({0, 3, 1, 2});
    return x + conv(at::gelu(h) * mask) * mask;
  }
  torch::nn::LayerNorm norm{nullptr};
  Conv2d conv{nullptr};
};
TORCH_MODULE(TextBlock);

}  // namespace

ImageTowerImpl::ImageTowerImpl(const ImageTextJudgeOptions& o) {
  const auto& w = o.image_widths;
  stem = register_module("stem", conv(3, w[0], 3, 1));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (size_t i = 0; i < w.size(); i++)
    blocks->push_back(ResBlock(i == 0 ? w[0] : w[i - 1], w[i], 2, o.norm_groups));
  norm = register_module("norm", group_norm(o.norm_groups, w.back()));
  proj = register_module("proj", Linear(w.back(), o.embed_dim));
}

at::Tensor ImageTowerImpl::forward(const at::Tensor& x) {
  at::Tensor h = stem(x);
  for (const auto& b : *blocks) h = b->as<ResBlockImpl>()->forward(h);
  h = at::silu(norm(h)).mean({2, 3});
  return proj(h);
}

at::Tensor prepare_images(const torch::nn::Module& m, const at::Tensor& pixels, const char* who) {
  if (pixels.dim() != 4 || pixels.size(1) != 3 || pixels.size(2) < 8 || pixels.size(3) < 8)
    fail(D2G_INVALID_ARGUMENT, who, ": images must be [B, 3, H, W] with H, W >= 8, got ", pixels.sizes());
  if (!pixels.is_floating_point()) fail(D2G_INVALID_ARGUMENT, who, ": images must be floating point");
  const auto opts = module_options(m);
  return pixels.to(opts.device(), opts.dtype().toScalarType());
}

struct TextTowerImpl : torch::nn::Module {
  explicit TextTowerImpl(const ImageTextJudgeOptions& o) {
    embed = register_module("embed", Embedding(257, o.text_width));
    blocks = register_module("blocks", torch::nn::ModuleList());
    for (int64_t i = 0; i < o.text_layers; i++) blocks->push_back(TextBlock(o.text_width));
    proj = register_module("proj", Linear(o.text_width, o.embed_dim));
  }
  at::Tensor forward(const at::Tensor& bytes) {
    at::Tensor mask = (bytes > 0).unsqueeze(1).unsqueeze(2);                 // [B, 1, 1, L]
    at::Tensor h = embed(bytes).permute({0, 2, 1}).unsqueeze(2);              // [B, W, 1, L]
    at::Tensor m = mask.to(h.scalar_type());
    h = h * m;
    for (const auto& b : *blocks) h = b->as<TextBlockImpl>()->forward(h, m);
    h = h.masked_fill(mask.logical_not(), -std::numeric_limits<float>::infinity()).amax({2, 3});
    return proj(h);
  }
  Embedding embed{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  Linear proj{nullptr};
};

ImageTextJudgeImpl::ImageTextJudgeImpl(const ImageTextJudgeOptions& o) : options(o) {
  image = register_module("image", std::make_shared<ImageTowerImpl>(o));
  text = register_module("text", std::make_shared<TextTowerImpl>(o));
  logit_scale = register_parameter("logit_scale", torch::full({}, std::log(1 / 0.07)));
}

at::Tensor ImageTextJudgeImpl::encode_image(const at::Tensor& pixels) {
  return image->forward(prepare_images(*this, pixels, "image_text_judge"));
}

at::Tensor ImageTextJudgeImpl::encode_text(const at::Tensor& bytes) {
  if (bytes.dim() != 2 || bytes.size(1) < 1 || bytes.size(1) > options.text_max_bytes)
    fail(D2G_INVALID_ARGUMENT, "image_text_judge: text must be [B, L] with 1 <= L <= ", options.text_max_bytes,
         ", got ", bytes.sizes());
  if (at::isFloatingType(bytes.scalar_type()) || bytes.scalar_type() == at::kBool)
    fail(D2G_INVALID_ARGUMENT, "image_text_judge: text must be integer bytes + 1");
  const auto opts = module_options(*this);
  at::Tensor b = bytes.to(opts.device(), at::kLong);
  if (b.numel() > 0) {
    if (b.min().item<int64_t>() < 0 || b.max().item<int64_t>() > 256)
      fail(D2G_INVALID_ARGUMENT, "image_text_judge: text values must be 0 (padding) or a byte + 1 (1..256)");
    if ((b > 0).sum(1).min().item<int64_t>() == 0)
      fail(D2G_INVALID_ARGUMENT, "image_text_judge: every text needs at least one byte");
  }
  return text->forward(b);
}

static RegisterKind reg_image_text_judge("image_text_judge", [](const Config& c) {
  return std::static_pointer_cast<torch::nn::Module>(std::make_shared<ImageTextJudgeImpl>(ImageTextJudgeOptions(c)));
});

}  // namespace d2g::judge
