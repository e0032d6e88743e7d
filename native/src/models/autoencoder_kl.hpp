// AutoencoderKL: the Stable Diffusion VAE, the function of diffusers' AutoencoderKL
// (diffusers/models/autoencoders/autoencoder_kl.py and vae.py) with its state_dict keys:
//
//   encoder.conv_in, encoder.down_blocks.<i>.{resnets.<j>, downsamplers.0.conv}, encoder.mid_block,
//   encoder.conv_norm_out, encoder.conv_out, quant_conv, post_quant_conv,
//   decoder.conv_in, decoder.mid_block, decoder.up_blocks.<i>.{resnets.<j>, upsamplers.0.conv},
//   decoder.conv_norm_out, decoder.conv_out
//
// Config keys (config.json): in_channels, out_channels, down_block_types (DownEncoderBlock2D),
// up_block_types (UpDecoderBlock2D), block_out_channels, layers_per_block, act_fn, latent_channels,
// norm_num_groups, use_quant_conv, use_post_quant_conv, mid_block_add_attention. scaling_factor,
// shift_factor, latents_mean/std, force_upcast and sample_size concern callers, not this network.
// Kind "autoencoder_kl" in the module registry.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../core/config.hpp"
#include "../nn/layers.hpp"
#include "../nn/sd_blocks.hpp"

namespace d2g::sd {

// The network's configuration: the keys of diffusers' config.json with its defaults.
struct AutoencoderKLOptions {
  int64_t in_channels, out_channels, latent_channels, layers_per_block, groups;
  std::vector<int64_t> block_out_channels;
  std::vector<std::string> down_block_types, up_block_types;
  Act act;
  bool use_quant_conv, use_post_quant_conv, mid_block_add_attention;


  AutoencoderKLOptions() : AutoencoderKLOptions(Config()) {}
  explicit AutoencoderKLOptions(const Config& c);

  // 2^(number of blocks - 1): how much smaller the latents are than the image.
  int64_t downscale() const { return int64_t{1} << (block_out_channels.size() - 1); }
};

class EncoderImpl;
class DecoderImpl;

class AutoencoderKLImpl : public torch::nn::Module {
 public:
  explicit AutoencoderKLImpl(const AutoencoderKLOptions& options);

  // The posterior's mean and log-variance (clamped to [-30, 20], like DiagonalGaussianDistribution).
  std::pair<at::Tensor, at::Tensor> encode(const at::Tensor& x);
  at::Tensor decode(const at::Tensor& z);

  // mean + exp(logvar / 2) * noise, the noise standard-normal from gen (an undefined generator: the
  // default one of mean's device).
  static at::Tensor sample(const at::Tensor& mean, const at::Tensor& logvar, c10::optional<at::Generator> gen);

  AutoencoderKLOptions config;
  std::shared_ptr<EncoderImpl> encoder;
  std::shared_ptr<DecoderImpl> decoder;
  d2g::Conv2d quant_conv{nullptr}, post_quant_conv{nullptr};
};
TORCH_MODULE(AutoencoderKL);

}  // namespace d2g::sd
