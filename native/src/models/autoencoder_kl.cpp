// The Stable Diffusion VAE (models/autoencoder_kl.hpp).
#include "autoencoder_kl.hpp"

#include <tuple>

#include "../core/module.hpp"
#include "../core/tensor.hpp"

namespace d2g::sd {

AutoencoderKLOptions::AutoencoderKLOptions(const Config& c) {
  const std::string where = "autoencoder_kl";
  in_channels = c.integer("in_channels", 3);
  out_channels = c.integer("out_channels", 3);
  latent_channels = c.integer("latent_channels", 4);
  layers_per_block = c.integer("layers_per_block", 1);
  groups = c.integer("norm_num_groups", 32);
  block_out_channels = c.integers("block_out_channels", {64});
  down_block_types = c.strings("down_block_types", {"DownEncoderBlock2D"});
  up_block_types = c.strings("up_block_types", {"UpDecoderBlock2D"});
  act = activation(c.str("act_fn", "silu"), where + ": act_fn");
  use_quant_conv = c.boolean("use_quant_conv", true);
  use_post_quant_conv = c.boolean("use_post_quant_conv", true);
  mid_block_add_attention = c.boolean("mid_block_add_attention", true);

  // Positive, and bounded: a config is outside input, and a count of 2^31 would only exhaust memory.
  for (auto [key, v, max] : {std::tuple<const char*, int64_t, int64_t>{"in_channels", in_channels, 4096},
                             {"out_channels", out_channels, 4096}, {"latent_channels", latent_channels, 4096},
                             {"layers_per_block", layers_per_block, 64}, {"norm_num_groups", groups, 4096}})
    if (v <= 0 || v > max)
      fail(D2G_INVALID_ARGUMENT, where, ": config key '", key, "' must be positive and at most ", max, ", not ", v);
  if (block_out_channels.empty() || block_out_channels.size() > 16)
    fail(D2G_INVALID_ARGUMENT, where, ": block_out_channels must have 1 to 16 values");
  for (auto v : block_out_channels)
    if (v <= 0 || v > (1 << 16))
      fail(D2G_INVALID_ARGUMENT, where, ": block_out_channels must be positive and at most 65536, not ", v);
  if (down_block_types.size() != block_out_channels.size() || up_block_types.size() != block_out_channels.size())
    fail(D2G_INVALID_ARGUMENT, where, ": down_block_types (", down_block_types.size(), "), up_block_types (",
         up_block_types.size(), ") and block_out_channels (", block_out_channels.size(), ") must have the same length");
  for (auto& t : down_block_types)
    if (t != "DownEncoderBlock2D")
      fail(D2G_INVALID_ARGUMENT, where, ": down block type '", t, "' is not supported (supported: DownEncoderBlock2D)");
  for (auto& t : up_block_types)
    if (t != "UpDecoderBlock2D")
      fail(D2G_INVALID_ARGUMENT, where, ": up block type '", t, "' is not supported (supported: UpDecoderBlock2D)");
}

namespace {

ResnetBlock2DOptions resnet(int64_t in, int64_t out, const AutoencoderKLOptions& c) {
  ResnetBlock2DOptions r;
  r.in_channels = in;
  r.out_channels = out;
  r.groups = c.groups;
  r.eps = 1e-6;
  r.act = c.act;
  return r;
}

UNetMidBlock2DOptions mid_block(const AutoencoderKLOptions& c) {
  UNetMidBlock2DOptions m;
  m.in_channels = c.block_out_channels.back();
  m.eps = 1e-6;
  m.groups = c.groups;
  m.act = c.act;
  m.add_attention = c.mid_block_add_attention;
  m.attention_head_dim = c.block_out_channels.back();  // one head over all channels
  return m;
}

// resnets.<j>, then downsamplers.0 (padding 0: the input is padded on the right and bottom).
class DownEncoderBlock2DImpl : public torch::nn::Module {
 public:
  DownEncoderBlock2DImpl(int64_t in, int64_t out, bool add_downsample, const AutoencoderKLOptions& c, const std::string& where) {
    std::vector<std::shared_ptr<ResnetBlock2DImpl>> rs;
    for (int64_t i = 0; i < c.layers_per_block; i++) {
      resnets.push_back(ResnetBlock2D(resnet(i == 0 ? in : out, out, c), where + ".resnets." + std::to_string(i)));
      rs.push_back(resnets.back().ptr());
    }
    register_list(*this, "resnets", rs);
    if (add_downsample) {
      downsampler = Downsample2D(out, out, 0);
      register_list(*this, "downsamplers", std::vector<std::shared_ptr<Downsample2DImpl>>{downsampler.ptr()});
    }
  }
  at::Tensor forward(at::Tensor h) {
    for (auto& r : resnets) h = r(h, at::Tensor());
    return downsampler ? downsampler(h) : h;
  }
  std::vector<ResnetBlock2D> resnets;
  Downsample2D downsampler{nullptr};
};
TORCH_MODULE(DownEncoderBlock2D);

// resnets.<j> (layers_per_block + 1 of them), then upsamplers.0.
class UpDecoderBlock2DImpl : public torch::nn::Module {
 public:
  UpDecoderBlock2DImpl(int64_t in, int64_t out, bool add_upsample, const AutoencoderKLOptions& c, const std::string& where) {
    std::vector<std::shared_ptr<ResnetBlock2DImpl>> rs;
    for (int64_t i = 0; i < c.layers_per_block + 1; i++) {
      resnets.push_back(ResnetBlock2D(resnet(i == 0 ? in : out, out, c), where + ".resnets." + std::to_string(i)));
      rs.push_back(resnets.back().ptr());
    }
    register_list(*this, "resnets", rs);
    if (add_upsample) {
      upsampler = Upsample2D(out, out);
      register_list(*this, "upsamplers", std::vector<std::shared_ptr<Upsample2DImpl>>{upsampler.ptr()});
    }
  }
  at::Tensor forward(at::Tensor h) {
    for (auto& r : resnets) h = r(h, at::Tensor());
    return upsampler ? upsampler(h) : h;
  }
  std::vector<ResnetBlock2D> resnets;
  Upsample2D upsampler{nullptr};
};
TORCH_MODULE(UpDecoderBlock2D);

d2g::Conv2d conv3x3(int64_t in, int64_t out) {
  return d2g::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1));
}

// x -> 2 * latent_channels moments (mean, logvar) at 1 / 2^(levels-1) of the resolution.
}  // namespace

// The encoder and decoder (declared in the header only by name: parts of the VAE, not a public API).

class EncoderImpl : public torch::nn::Module {
 public:
  explicit EncoderImpl(const AutoencoderKLOptions& c) {
    const auto& ch = c.block_out_channels;
    conv_in = register_module("conv_in", conv3x3(c.in_channels, ch[0]));
    std::vector<std::shared_ptr<DownEncoderBlock2DImpl>> ds;
    for (size_t i = 0; i < ch.size(); i++) {
      down_blocks.push_back(DownEncoderBlock2D(i == 0 ? ch[0] : ch[i - 1], ch[i], i + 1 < ch.size(), c,
                                               "encoder.down_blocks." + std::to_string(i)));
      ds.push_back(down_blocks.back().ptr());
    }
    register_list(*this, "down_blocks", ds);
    mid_block = register_module("mid_block", UNetMidBlock2D(sd::mid_block(c), "encoder.mid_block"));
    conv_norm_out = register_module("conv_norm_out", group_norm(c.groups, ch.back(), 1e-6, "encoder.conv_norm_out"));
    conv_out = register_module("conv_out", conv3x3(ch.back(), 2 * c.latent_channels));
  }
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor h = conv_forward(conv_in, x);
    for (auto& b : down_blocks) h = b(h);
    h = mid_block(h, at::Tensor());
    return conv_forward(conv_out, norm_act(conv_norm_out, Act::SiLU, h));
  }
  d2g::Conv2d conv_in{nullptr}, conv_out{nullptr};
  std::vector<DownEncoderBlock2D> down_blocks;
  UNetMidBlock2D mid_block{nullptr};
  torch::nn::GroupNorm conv_norm_out{nullptr};
};

class DecoderImpl : public torch::nn::Module {
 public:
  explicit DecoderImpl(const AutoencoderKLOptions& c) {
    const auto& ch = c.block_out_channels;
    const size_t n = ch.size();
    conv_in = register_module("conv_in", conv3x3(c.latent_channels, ch.back()));
    mid_block = register_module("mid_block", UNetMidBlock2D(sd::mid_block(c), "decoder.mid_block"));
    std::vector<std::shared_ptr<UpDecoderBlock2DImpl>> us;
    int64_t prev = ch.back();
    for (size_t i = 0; i < n; i++) {
      const int64_t out = ch[n - 1 - i];
      up_blocks.push_back(UpDecoderBlock2D(prev, out, i + 1 < n, c, "decoder.up_blocks." + std::to_string(i)));
      us.push_back(up_blocks.back().ptr());
      prev = out;
    }
    register_list(*this, "up_blocks", us);
    conv_norm_out = register_module("conv_norm_out", group_norm(c.groups, ch[0], 1e-6, "decoder.conv_norm_out"));
    conv_out = register_module("conv_out", conv3x3(ch[0], c.out_channels));
  }
  at::Tensor forward(const at::Tensor& z) {
    at::Tensor h = mid_block(conv_forward(conv_in, z), at::Tensor());
    for (auto& b : up_blocks) h = b(h);
    return conv_forward(conv_out, norm_act(conv_norm_out, Act::SiLU, h));
  }
  d2g::Conv2d conv_in{nullptr}, conv_out{nullptr};
  UNetMidBlock2D mid_block{nullptr};
  std::vector<UpDecoderBlock2D> up_blocks;
  torch::nn::GroupNorm conv_norm_out{nullptr};
};

AutoencoderKLImpl::AutoencoderKLImpl(const AutoencoderKLOptions& c) : config(c) {
  encoder = register_module("encoder", std::make_shared<EncoderImpl>(c));
  decoder = register_module("decoder", std::make_shared<DecoderImpl>(c));
  const int64_t l = c.latent_channels;
  if (c.use_quant_conv) quant_conv = register_module("quant_conv", d2g::Conv2d(torch::nn::Conv2dOptions(2 * l, 2 * l, 1)));
  if (c.use_post_quant_conv)
    post_quant_conv = register_module("post_quant_conv", d2g::Conv2d(torch::nn::Conv2dOptions(l, l, 1)));
}

std::pair<at::Tensor, at::Tensor> AutoencoderKLImpl::encode(const at::Tensor& x) {
  at::Tensor moments = encoder->forward(x);
  if (quant_conv) moments = quant_conv(moments);
  auto parts = moments.chunk(2, 1);
  return {parts[0].contiguous(), at::clamp(parts[1], -30.0, 20.0)};
}

at::Tensor AutoencoderKLImpl::decode(const at::Tensor& z) {
  return decoder->forward(post_quant_conv ? conv_forward(post_quant_conv, z) : z);
}

at::Tensor AutoencoderKLImpl::sample(const at::Tensor& mean, const at::Tensor& logvar, c10::optional<at::Generator> gen) {
  at::Tensor noise = at::randn(mean.sizes(), gen, mean.options());
  return mean + at::exp(0.5 * at::clamp(logvar, -30.0, 20.0)) * noise;
}

static RegisterKind reg_autoencoder_kl("autoencoder_kl", [](const Config& c) {
  return std::static_pointer_cast<torch::nn::Module>(std::make_shared<AutoencoderKLImpl>(AutoencoderKLOptions(c)));
});

}  // namespace d2g::sd
