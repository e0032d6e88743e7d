// CLIPModel: contrastive text–image pretraining of a Stable Diffusion text encoder, the way SD's own
// text encoder (OpenAI CLIP) was made: transformers' CLIPModel, with the judge's small residual
// convolutional image tower in place of CLIP's ViT. The teacher's trainer can start from its text
// encoder (frozen, as SD keeps CLIP, or trained on with the UNet) instead of training one jointly
// from scratch (examples/TrainTextEncoder, issue 11's comparison).
//
//   text:  ids [B, T] -> CLIPTextModel -> pooled (final_layer_norm at each row's EOS) -> text_projection -> [B, E]
//   image: [B, 3, S, S] in [-1, 1] -> stem conv 3x3 -> per width a residual block (halving) -> mean ->
//          Linear -> [B, E]   (ImageTowerImpl of image_text_judge.hpp)
//   logit_scale: a learnt scalar, init ln(1/0.07) (CLIP's)
//
// State names: the text side exactly as CLIPTextModelWithProjection's (text_model.*, text_projection.weight),
// so the text encoder is the state's text_model.* entries; vision_model.{stem,blocks.N.*,norm,proj}.*;
// logit_scale.
//
// Config keys: CLIPTextConfig's (vocab_size, hidden_size, intermediate_size, num_hidden_layers,
// num_attention_heads, max_position_embeddings, hidden_act, layer_norm_eps, attention_dropout,
// eos_token_id), projection_dim (E, required), image_widths, norm_groups (8). Kind "clip_model".
#pragma once

#include <torch/torch.h>

#include <memory>

#include "../core/config.hpp"
#include "clip_text_model.hpp"
#include "contrastive_model.hpp"
#include "image_text_judge.hpp"

namespace d2g::clip {

struct CLIPModelImpl : torch::nn::Module, ContrastiveModel {
  explicit CLIPModelImpl(const Config& c);

  // [B, 3, H, W] (H, W >= 8) -> [B, projection_dim], not normalised.
  at::Tensor encode_image(const at::Tensor& pixels) override;
  // token ids [B, T] (as the text encoder takes them) -> [B, projection_dim], not normalised.
  at::Tensor encode_text(const at::Tensor& ids) override;
  at::Tensor logit_scale_parameter() override { return logit_scale; }

  std::shared_ptr<CLIPTextModelImpl> text;  // its children are registered here (text_model, text_projection)
  std::shared_ptr<judge::ImageTowerImpl> vision_model;
  at::Tensor logit_scale;
};
TORCH_MODULE(CLIPModel);

}  // namespace d2g::clip
