// Contrastive pretraining of a text encoder (models/clip_model.hpp).
#include "clip_model.hpp"

#include <cmath>

#include "../core/module.hpp"

namespace d2g::clip {

namespace {

CLIPTextOptions text_options(const Config& c) {
  CLIPTextOptions o(c);
  if (o.projection_dim <= 0) fail(D2G_INVALID_ARGUMENT, "clip_model: projection_dim (the embedding width) is required");
  return o;
}

judge::ImageTextJudgeOptions image_options(const Config& c, int64_t embed_dim) {
  judge::ImageTextJudgeOptions o;
  o.image_widths = c.integers("image_widths", o.image_widths);
  o.norm_groups = c.integer("norm_groups", o.norm_groups);
  o.embed_dim = embed_dim;
  judge::check_image_tower("clip_model", o.image_widths, o.norm_groups);
  return o;
}

}  // namespace

CLIPModelImpl::CLIPModelImpl(const Config& c) {
  const CLIPTextOptions t = text_options(c);
  text = std::make_shared<CLIPTextModelImpl>(t);
  for (const auto& child : text->named_children()) register_module(child.key(), child.value());  // text_model, text_projection
  vision_model = register_module("vision_model", std::make_shared<judge::ImageTowerImpl>(image_options(c, t.projection_dim)));
  logit_scale = register_parameter("logit_scale", torch::full({}, std::log(1 / 0.07)));
}

at::Tensor CLIPModelImpl::encode_image(const at::Tensor& pixels) {
  return vision_model->forward(judge::prepare_images(*this, pixels, "clip_model"));
}

at::Tensor CLIPModelImpl::encode_text(const at::Tensor& ids) {
  at::Tensor pooled = text->forward(text->prepare_ids(ids), text->options.num_hidden_layers, true, true).second;
  return text->project(pooled);
}

static RegisterKind reg_clip_model("clip_model", [](const Config& c) {
  return std::static_pointer_cast<torch::nn::Module>(std::make_shared<CLIPModelImpl>(c));
});

}  // namespace d2g::clip
