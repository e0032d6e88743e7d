// UNet2DConditionModel: the Stable Diffusion UNet, the function of diffusers' UNet2DConditionModel
// (diffusers/models/unets/unet_2d_condition.py, unet_2d_blocks.py) with its state_dict keys. Kind
// "unet2d_condition" in the module registry; C++ code (pipelines, a discriminator built from its
// encoder) uses the class directly.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "../core/config.hpp"
#include "../nn/layers.hpp"
#include "../nn/sd_blocks.hpp"

namespace d2g::sd {

// The network's configuration: the keys of diffusers' config.json, with diffusers' defaults (those of
// SD1.5). Built from a Config (every key checked, unsupported features refused by name) or in code.
// attention_head_dim is diffusers' per-block head count; 0 marks a block that has no attention.
struct UNet2DConditionOptions {
  int64_t in_channels, out_channels, groups, downsample_padding, conv_in_kernel, conv_out_kernel, time_embed_dim;
  double norm_eps, dropout, freq_shift, mid_block_scale_factor;
  bool center_input_sample, flip_sin_to_cos, use_linear_projection, upcast_attention, scale_shift;
  Act act;
  c10::optional<Act> time_embedding_act, timestep_post_act;
  std::vector<int64_t> block_out_channels, layers_per_block, heads, cross_attention_dim;
  // Transformer blocks of each attention: down blocks [block][layer]; up blocks [up block, deepest
  // first][layer of layers_per_block + 1] (reverse_transformer_layers_per_block, or the down blocks'
  // counts reversed); the mid block's (transformer_layers_per_block[-1][0], as diffusers passes it).
  std::vector<std::vector<int64_t>> down_transformer_layers, up_transformer_layers;
  int64_t mid_transformer_layers = 1;
  std::vector<bool> only_cross_attention;
  std::vector<std::string> down_block_types, up_block_types;
  std::string mid_block_type;


  // SD1.5's UNet.
  UNet2DConditionOptions() : UNet2DConditionOptions(Config()) {}
  explicit UNet2DConditionOptions(const Config& c);

  ResnetBlock2DOptions resnet(int64_t in, int64_t out) const;
  TransformerOptions transformer(int64_t channels, int64_t block_heads, int64_t layers, int64_t cross_dim,
                                 bool only_cross) const;

 private:
  static void refuse_unsupported(const Config& c);
};

class DownBlockImpl;
class MidBlockImpl;
class UpBlockImpl;

class UNet2DConditionModelImpl : public torch::nn::Module {
 public:
  explicit UNet2DConditionModelImpl(const UNet2DConditionOptions& options);

  // Activations after each down block, the mid block (when there is one) and each up block.
  int64_t feature_count() const;

  // sample [B, in, H, W]; timestep 0-dim or [1] or [B] (any device); context [B, T, cross_attention_dim].
  // Appends the activations to *features when it is not null.
  at::Tensor forward(at::Tensor sample, const at::Tensor& timestep, const at::Tensor& context,
                     std::vector<at::Tensor>* features = nullptr);

  // Checks the inputs of a call against the network; the messages say what to change.
  void check_inputs(const at::Tensor& sample, const at::Tensor& timestep, const at::Tensor& context) const;

  UNet2DConditionOptions config;
  d2g::Conv2d conv_in{nullptr}, conv_out{nullptr};
  TimestepEmbedding time_embedding{nullptr};
  std::vector<std::shared_ptr<DownBlockImpl>> down_blocks;
  std::shared_ptr<MidBlockImpl> mid_block;
  std::vector<std::shared_ptr<UpBlockImpl>> up_blocks;
  torch::nn::GroupNorm conv_norm_out{nullptr};
};
TORCH_MODULE(UNet2DConditionModel);

}  // namespace d2g::sd
