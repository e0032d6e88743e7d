// ImageTextJudge: the evaluation suite's independent image–text model (a small CLIP-style dual
// encoder), trained contrastively on the emoji corpus and used only to grade other models (FD in its
// image space, text–image score, retrieval). Its architecture shares nothing with the teacher: a
// residual convolutional image tower and a byte-level convolutional text tower (any text, no
// vocabulary, so held-out words still encode through their spelling).
//
//   image: [B, 3, S, S] in [-1, 1] -> stem conv 3x3 -> per width a residual block (two 3x3 convs with
//          GroupNorm + SiLU; each halves the resolution) -> mean over positions -> Linear -> [B, E]
//   text:  [B, L] int64 bytes + 1 (0 = padding) -> Embedding(257, W) -> text_layers residual
//          convolutions over positions (kernel 3, LayerNorm over channels + GELU; padding masked, so an
//          embedding does not depend on its batch's padding) -> max over non-padding positions
//          -> Linear -> [B, E]
//   logit_scale: a learnt scalar, log of the contrastive temperature's inverse (CLIP's), init ln(1/0.07)
//
// State names:
//   image.stem.{weight,bias}, image.blocks.N.{norm1,conv1,norm2,conv2}.{weight,bias},
//   image.blocks.N.shortcut.{weight,bias} (1x1, stride 2), image.proj.{weight,bias}
//   text.embed.weight, text.blocks.N.{norm,conv}.{weight,bias}, text.proj.{weight,bias}, logit_scale
//
// Config keys: image_widths (32,64,128,256), norm_groups (8), text_width (128), text_layers (4),
// text_max_bytes (96), embed_dim (128). Kind "image_text_judge" in the module registry.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "../core/config.hpp"
#include "../nn/layers.hpp"
#include "contrastive_model.hpp"

namespace d2g::judge {

// The image tower's configuration checks (image_widths: 1 to 8 positive multiples of norm_groups up to
// 4096; norm_groups 1 to 1024), `where` naming the model in errors.
void check_image_tower(const char* where, const std::vector<int64_t>& widths, int64_t groups);

struct ImageTextJudgeOptions {
  std::vector<int64_t> image_widths{32, 64, 128, 256};
  int64_t norm_groups = 8, text_width = 128, text_layers = 4, text_max_bytes = 96, embed_dim = 128;

  ImageTextJudgeOptions() = default;
  explicit ImageTextJudgeOptions(const Config& c);
};

// The image tower (also clip_model's vision_model): uses image_widths, norm_groups and embed_dim.
struct ImageTowerImpl : torch::nn::Module {
  explicit ImageTowerImpl(const ImageTextJudgeOptions& o);
  // [B, 3, H, W] on the tower's device and dtype -> [B, embed_dim].
  at::Tensor forward(const at::Tensor& x);
  Conv2d stem{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::GroupNorm norm{nullptr};
  Linear proj{nullptr};
};

// Checks images ([B, 3, H, W] floating, H, W >= 8; `who` names the model in errors) and returns them
// on the module's device and dtype.
at::Tensor prepare_images(const torch::nn::Module& m, const at::Tensor& pixels, const char* who);

struct TextTowerImpl;

struct ImageTextJudgeImpl : torch::nn::Module, ContrastiveModel {
  explicit ImageTextJudgeImpl(const ImageTextJudgeOptions& o);

  // [B, 3, H, W] (H, W >= 8) -> [B, embed_dim], not normalised.
  at::Tensor encode_image(const at::Tensor& pixels) override;
  // [B, L] integer bytes + 1 (0 = padding; L <= text_max_bytes; every row has a non-padding byte)
  // -> [B, embed_dim], not normalised.
  at::Tensor encode_text(const at::Tensor& bytes) override;
  at::Tensor logit_scale_parameter() override { return logit_scale; }

  ImageTextJudgeOptions options;
  std::shared_ptr<ImageTowerImpl> image;
  std::shared_ptr<TextTowerImpl> text;
  at::Tensor logit_scale;
};
TORCH_MODULE(ImageTextJudge);

}  // namespace d2g::judge
