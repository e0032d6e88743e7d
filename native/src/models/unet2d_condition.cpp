// The Stable Diffusion UNet (models/unet2d_condition.hpp), with diffusers' state_dict keys:
//
//   conv_in, time_embedding.linear_1/linear_2,
//   down_blocks.<i>.{resnets.<j>, attentions.<j>, downsamplers.0.conv},
//   mid_block.{resnets.<j>, attentions.0},
//   up_blocks.<i>.{resnets.<j>, attentions.<j>, upsamplers.0.conv},
//   conv_norm_out, conv_out
//
// Block types: CrossAttnDownBlock2D, DownBlock2D, UNetMidBlock2DCrossAttn, UNetMidBlock2D,
// UpBlock2D, CrossAttnUpBlock2D; that covers SD 1.x and 2.x. Config keys (config.json) and their
// diffusers meaning, including its quirk that `attention_head_dim` is the number of heads per block
// (an int or one value per block; each head then has out_channels / heads dimensions). Features
// that SD 1.x/2.x do not use (class/addition embeddings, encoder_hid_proj, GLIGEN, dual cross
// attention, fourier time embedding, ...) are refused by name rather than silently ignored.
#include "unet2d_condition.hpp"

#include <algorithm>

#include "../core/module.hpp"
#include "../core/tensor.hpp"

namespace d2g::sd {
namespace {

const char* const kWhere = "unet2d_condition";

}  // namespace

UNet2DConditionOptions::UNet2DConditionOptions(const Config& c) {
  refuse_unsupported(c);
  in_channels = c.integer("in_channels", 4);
  out_channels = c.integer("out_channels", 4);
  center_input_sample = c.boolean("center_input_sample", false);
  flip_sin_to_cos = c.boolean("flip_sin_to_cos", true);
  freq_shift = c.number("freq_shift", 0);
  down_block_types = c.strings("down_block_types", {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                                    "CrossAttnDownBlock2D", "DownBlock2D"});
  up_block_types = c.strings("up_block_types", {"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D",
                                                "CrossAttnUpBlock2D"});
  mid_block_type = c.str("mid_block_type", "UNetMidBlock2DCrossAttn");
  if (mid_block_type == "none") mid_block_type.clear();  // diffusers' mid_block_type None: no mid block
  block_out_channels = c.integers("block_out_channels", {320, 640, 1280, 1280});
  const size_t n = block_out_channels.size();
  if (n == 0) fail(D2G_INVALID_ARGUMENT, kWhere, ": block_out_channels is empty");
  if (down_block_types.size() != n || up_block_types.size() != n)
    fail(D2G_INVALID_ARGUMENT, kWhere, ": down_block_types (", down_block_types.size(), "), up_block_types (",
         up_block_types.size(), ") and block_out_channels (", n, ") must have the same length");
  for (auto& t : down_block_types) {
    std::string s = t.rfind("UNetRes", 0) == 0 ? t.substr(7) : t;
    if (s != "CrossAttnDownBlock2D" && s != "DownBlock2D")
      fail(D2G_INVALID_ARGUMENT, kWhere, ": down block type '", t,
           "' is not supported (supported: CrossAttnDownBlock2D, DownBlock2D)");
    t = s;
  }
  for (auto& t : up_block_types) {
    std::string s = t.rfind("UNetRes", 0) == 0 ? t.substr(7) : t;
    if (s != "CrossAttnUpBlock2D" && s != "UpBlock2D")
      fail(D2G_INVALID_ARGUMENT, kWhere, ": up block type '", t,
           "' is not supported (supported: CrossAttnUpBlock2D, UpBlock2D)");
    t = s;
  }
  if (!mid_block_type.empty() && mid_block_type != "UNetMidBlock2DCrossAttn" && mid_block_type != "UNetMidBlock2D")
    fail(D2G_INVALID_ARGUMENT, kWhere, ": mid_block_type '", mid_block_type,
         "' is not supported (supported: UNetMidBlock2DCrossAttn, UNetMidBlock2D, none)");
  layers_per_block = c.integers_or_repeat("layers_per_block", n, 2);
  for (auto v : layers_per_block)  // checked first: the per-layer lists below are sized by it
    if (v <= 0 || v > 64)
      fail(D2G_INVALID_ARGUMENT, kWhere, ": config key 'layers_per_block' must be positive and at most 64, not ", v);
  heads = c.integers_or_repeat("attention_head_dim", n, 8);
  // transformer_layers_per_block: "t" (every attention), "t0;t1;..." (per block) or
  // "a,b;c,d" (per block and layer); the same for the up blocks' reverse_transformer_layers_per_block.
  auto per_layer = [&](const char* key, const std::vector<int64_t>& layers) {
    auto v = c.integer_lists(key);
    if (v.size() == 1 && v[0].size() == 1) v.assign(layers.size(), v[0]);
    if (v.size() != layers.size())
      fail(D2G_INVALID_ARGUMENT, kWhere, ": config key '", key, "' has ", v.size(), " blocks, expected 1 or ", layers.size());
    for (size_t i = 0; i < v.size(); i++) {
      if (v[i].size() == 1) v[i].assign(static_cast<size_t>(layers[i]), v[i][0]);
      if (static_cast<int64_t>(v[i].size()) < layers[i])
        fail(D2G_INVALID_ARGUMENT, kWhere, ": config key '", key, "' gives block ", i, " ", v[i].size(),
             " values for its ", layers[i], " layers");
      v[i].resize(static_cast<size_t>(layers[i]));  // as diffusers: extra entries are not read
      for (auto t : v[i])
        if (t < 0 || t > 64)
          fail(D2G_INVALID_ARGUMENT, kWhere, ": config key '", key, "' must hold 0 to 64, not ", t);
    }
    return v;
  };
  down_transformer_layers =
      c.has("transformer_layers_per_block") ? per_layer("transformer_layers_per_block", layers_per_block)
                                            : std::vector<std::vector<int64_t>>(n, std::vector<int64_t>{1});
  if (!c.has("transformer_layers_per_block"))
    for (size_t i = 0; i < n; i++) down_transformer_layers[i].assign(static_cast<size_t>(layers_per_block[i]), 1);
  std::vector<int64_t> up_layers;
  for (size_t i = 0; i < n; i++) up_layers.push_back(layers_per_block[n - 1 - i] + 1);
  if (c.has("reverse_transformer_layers_per_block")) {
    up_transformer_layers = per_layer("reverse_transformer_layers_per_block", up_layers);
  } else {
    for (size_t i = 0; i < n; i++) {
      const auto& down = down_transformer_layers[n - 1 - i];
      for (auto t : down)
        if (t != down[0])
          fail(D2G_INVALID_ARGUMENT, kWhere, ": per-layer transformer_layers_per_block needs "
               "reverse_transformer_layers_per_block for the up blocks");
      up_transformer_layers.emplace_back(static_cast<size_t>(up_layers[i]), down.empty() ? 1 : down[0]);
    }
  }
  mid_transformer_layers = down_transformer_layers.back().empty() ? 1 : down_transformer_layers.back()[0];
  cross_attention_dim = c.integers_or_repeat("cross_attention_dim", n, 1280);
  for (auto s : c.strings("only_cross_attention", {"false"})) only_cross_attention.push_back(s == "true" || s == "1");
  if (only_cross_attention.size() == 1) only_cross_attention.assign(n, only_cross_attention[0]);
  if (only_cross_attention.size() != n)
    fail(D2G_INVALID_ARGUMENT, kWhere, ": config key 'only_cross_attention' has ", only_cross_attention.size(),
         " values, expected 1 or ", n);
  downsample_padding = c.integer("downsample_padding", 1);
  mid_block_scale_factor = c.number("mid_block_scale_factor", 1.0);
  dropout = c.number("dropout", 0.0);
  act = activation(c.str("act_fn", "silu"), std::string(kWhere) + ": act_fn");
  groups = c.integer("norm_num_groups", 32);
  norm_eps = c.number("norm_eps", 1e-5);
  use_linear_projection = c.boolean("use_linear_projection", false);
  upcast_attention = c.boolean("upcast_attention", false);
  const std::string shift = c.str("resnet_time_scale_shift", "default");
  if (shift != "default" && shift != "scale_shift")
    fail(D2G_INVALID_ARGUMENT, kWhere, ": resnet_time_scale_shift '", shift,
         "' is not supported (supported: default, scale_shift)");
  scale_shift = shift == "scale_shift";
  conv_in_kernel = c.integer("conv_in_kernel", 3);
  conv_out_kernel = c.integer("conv_out_kernel", 3);
  time_embed_dim = c.integer("time_embedding_dim", block_out_channels[0] * 4);
  if (c.has("time_embedding_act_fn"))
    time_embedding_act = activation(c.str("time_embedding_act_fn"), std::string(kWhere) + ": time_embedding_act_fn");
  if (c.has("timestep_post_act"))
    timestep_post_act = activation(c.str("timestep_post_act"), std::string(kWhere) + ": timestep_post_act");

  // Positive, and bounded: a config is outside input, and a count of 2^31 would only exhaust memory.
  auto positive = [](const char* key, int64_t v, int64_t max) {
    if (v <= 0 || v > max)
      fail(D2G_INVALID_ARGUMENT, kWhere, ": config key '", key, "' must be positive and at most ", max, ", not ", v);
  };
  if (n > 16) fail(D2G_INVALID_ARGUMENT, kWhere, ": at most 16 blocks, not ", n);
  positive("in_channels", in_channels, 4096);
  positive("out_channels", out_channels, 4096);
  positive("norm_num_groups", groups, 4096);
  positive("time_embedding_dim", time_embed_dim, 1 << 18);
  for (auto v : block_out_channels) positive("block_out_channels", v, 1 << 16);
  for (auto v : layers_per_block) positive("layers_per_block", v, 64);
  for (auto v : cross_attention_dim) positive("cross_attention_dim", v, 1 << 16);
  for (size_t i = 0; i < n; i++) {
    // A block without attention never reads its head count (diffusers accepts null there, sent as 0).
    const bool attention = down_block_types[i] == "CrossAttnDownBlock2D" || up_block_types[n - 1 - i] == "CrossAttnUpBlock2D" ||
                           (i + 1 == n && mid_block_type == "UNetMidBlock2DCrossAttn");
    if (!attention && heads[i] == 0) continue;
    positive("attention_head_dim", heads[i], 4096);
    if (block_out_channels[i] % heads[i] != 0)
      fail(D2G_INVALID_ARGUMENT, kWhere, ": block ", i, " has ", block_out_channels[i],
           " channels, which cannot be split into attention_head_dim = ", heads[i], " heads");
  }
  if (conv_in_kernel <= 0 || conv_in_kernel % 2 == 0 || conv_out_kernel <= 0 || conv_out_kernel % 2 == 0 ||
      conv_in_kernel > 15 || conv_out_kernel > 15)
    fail(D2G_INVALID_ARGUMENT, kWhere, ": conv_in_kernel and conv_out_kernel must be odd, positive and at most 15");
}


// Keys that would change the network in ways this implementation does not have.
void UNet2DConditionOptions::refuse_unsupported(const Config& c) {
  for (const char* key : {"class_embed_type", "addition_embed_type", "encoder_hid_dim", "encoder_hid_dim_type",
                          "num_class_embeds", "time_cond_proj_dim", "num_attention_heads", "cross_attention_norm"})
    if (c.has(key))
      fail(D2G_INVALID_ARGUMENT, kWhere, ": config key '", key, "' (= ", c.str(key),
           ") is not supported; Stable Diffusion 1.x/2.x UNets leave it null");
  const std::pair<const char*, const char*> expected[] = {{"dual_cross_attention", "false"},
                                                          {"class_embeddings_concat", "false"},
                                                          {"attention_type", "default"},
                                                          {"time_embedding_type", "positional"}};
  for (auto& [key, value] : expected)
    if (c.has(key) && c.str(key) != value)
      fail(D2G_INVALID_ARGUMENT, kWhere, ": config key '", key, "' = ", c.str(key), " is not supported (only ", value,
           ")");
}


ResnetBlock2DOptions UNet2DConditionOptions::resnet(int64_t in, int64_t out) const {
  ResnetBlock2DOptions r;
  r.in_channels = in;
  r.out_channels = out;
  r.temb_channels = time_embed_dim;
  r.groups = groups;
  r.eps = norm_eps;
  r.dropout = dropout;
  r.scale_shift = scale_shift;
  r.act = act;
  return r;
}

TransformerOptions UNet2DConditionOptions::transformer(int64_t channels, int64_t block_heads, int64_t layers, int64_t cross_dim,
                               bool only_cross) const {
  TransformerOptions t;
  t.heads = block_heads;
  t.head_dim = channels / block_heads;
  t.in_channels = channels;
  t.num_layers = layers;
  t.cross_attention_dim = cross_dim;
  t.norm_num_groups = groups;
  t.use_linear_projection = use_linear_projection;
  t.only_cross_attention = only_cross;
  t.upcast_attention = upcast_attention;
  t.dropout = dropout;
  return t;
}

namespace {

template <typename T>
std::vector<std::shared_ptr<typename T::ContainedType>> ptrs(const std::vector<T>& holders) {
  std::vector<std::shared_ptr<typename T::ContainedType>> out;
  for (const auto& h : holders) out.push_back(h.ptr());
  return out;
}

}  // namespace

// The blocks of the UNet (declared in the header only by name: they are its parts, not a public API).

// One level of the encoder: (resnet, transformer) x num_layers, then a strided conv. Every output
// along the way is a skip connection for the decoder. A DownBlock2D is the same without transformers.
class DownBlockImpl : public torch::nn::Module {
 public:
  DownBlockImpl(const UNet2DConditionOptions& c, size_t i, int64_t in, const std::string& where) {
    const int64_t out = c.block_out_channels[i];
    const bool cross = c.down_block_types[i] == "CrossAttnDownBlock2D";
    for (int64_t j = 0; j < c.layers_per_block[i]; j++) {
      resnets.push_back(ResnetBlock2D(c.resnet(j == 0 ? in : out, out), where + ".resnets." + std::to_string(j)));
      if (cross)
        attentions.push_back(Transformer2DModel(
            c.transformer(out, c.heads[i], c.down_transformer_layers[i][static_cast<size_t>(j)], c.cross_attention_dim[i],
                          c.only_cross_attention[i]),
            where + ".attentions." + std::to_string(j)));
    }
    if (!attentions.empty()) register_list(*this, "attentions", ptrs(attentions));
    register_list(*this, "resnets", ptrs(resnets));
    if (i + 1 < c.block_out_channels.size()) {
      downsampler = Downsample2D(out, out, c.downsample_padding);
      register_list(*this, "downsamplers", std::vector<std::shared_ptr<Downsample2DImpl>>{downsampler.ptr()});
    }
  }

  at::Tensor forward(at::Tensor h, const at::Tensor& temb, const at::Tensor& context, std::vector<at::Tensor>& skips) {
    for (size_t j = 0; j < resnets.size(); j++) {
      h = resnets[j](h, temb);
      if (!attentions.empty()) h = attentions[j](h, context);
      skips.push_back(h);
    }
    if (downsampler) {
      h = downsampler(h);
      skips.push_back(h);
    }
    return h;
  }

  std::vector<ResnetBlock2D> resnets;
  std::vector<Transformer2DModel> attentions;
  Downsample2D downsampler{nullptr};
};

// UNetMidBlock2DCrossAttn: resnet, then (transformer, resnet) once; UNetMidBlock2D (in a UNet):
// a single resnet. Both scale their resnets' outputs by 1 / mid_block_scale_factor.
class MidBlockImpl : public torch::nn::Module {
 public:
  explicit MidBlockImpl(const UNet2DConditionOptions& c) {
    const int64_t ch = c.block_out_channels.back();
    auto r = c.resnet(ch, ch);
    r.output_scale_factor = c.mid_block_scale_factor;
    const bool cross = c.mid_block_type == "UNetMidBlock2DCrossAttn";
    resnets.push_back(ResnetBlock2D(r, "mid_block.resnets.0"));
    if (cross) {
      attentions.push_back(Transformer2DModel(
          c.transformer(ch, c.heads.back(), c.mid_transformer_layers, c.cross_attention_dim.back(), false),
          "mid_block.attentions.0"));
      resnets.push_back(ResnetBlock2D(r, "mid_block.resnets.1"));
      register_list(*this, "attentions", ptrs(attentions));
    }
    register_list(*this, "resnets", ptrs(resnets));
  }

  at::Tensor forward(const at::Tensor& x, const at::Tensor& temb, const at::Tensor& context) {
    at::Tensor h = resnets[0](x, temb);
    for (size_t j = 0; j < attentions.size(); j++) h = resnets[j + 1](attentions[j](h, context), temb);
    return h;
  }

  std::vector<ResnetBlock2D> resnets;
  std::vector<Transformer2DModel> attentions;
};

// One level of the decoder: (concatenate a skip, resnet, transformer) x (layers + 1), then
// nearest x2 upsampling and a conv. An UpBlock2D is the same without transformers.
class UpBlockImpl : public torch::nn::Module {
 public:
  UpBlockImpl(const UNet2DConditionOptions& c, size_t i, const std::string& where) {
    const size_t n = c.block_out_channels.size();
    const size_t level = n - 1 - i;  // the encoder level this block mirrors
    const int64_t out = c.block_out_channels[level];
    const int64_t prev = c.block_out_channels[std::min(level + 1, n - 1)];      // previous up block's output
    const int64_t skip_in = c.block_out_channels[level == 0 ? 0 : level - 1];  // the level above's channels
    const int64_t layers = c.layers_per_block[level] + 1;
    const bool cross = c.up_block_types[i] == "CrossAttnUpBlock2D";
    for (int64_t j = 0; j < layers; j++) {
      const int64_t res_skip = j == layers - 1 ? skip_in : out;
      const int64_t resnet_in = j == 0 ? prev : out;
      resnets.push_back(ResnetBlock2D(c.resnet(resnet_in + res_skip, out), where + ".resnets." + std::to_string(j)));
      if (cross)
        attentions.push_back(Transformer2DModel(
            c.transformer(out, c.heads[level], c.up_transformer_layers[i][static_cast<size_t>(j)], c.cross_attention_dim[level],
                          c.only_cross_attention[level]),
            where + ".attentions." + std::to_string(j)));
    }
    if (!attentions.empty()) register_list(*this, "attentions", ptrs(attentions));
    register_list(*this, "resnets", ptrs(resnets));
    if (i + 1 < n) {
      upsampler = Upsample2D(out, out);
      register_list(*this, "upsamplers", std::vector<std::shared_ptr<Upsample2DImpl>>{upsampler.ptr()});
    }
  }

  // Takes its skips from the end of `skips` (the last one first) and removes them.
  at::Tensor forward(at::Tensor h, std::vector<at::Tensor>& skips, const at::Tensor& temb, const at::Tensor& context,
                     const c10::optional<std::vector<int64_t>>& upsample_size) {
    for (size_t j = 0; j < resnets.size(); j++) {
      h = at::cat({h, skips.back()}, 1);
      skips.pop_back();
      h = resnets[j](h, temb);
      if (!attentions.empty()) h = attentions[j](h, context);
    }
    return upsampler ? upsampler(h, upsample_size) : h;
  }

  std::vector<ResnetBlock2D> resnets;
  std::vector<Transformer2DModel> attentions;
  Upsample2D upsampler{nullptr};
};


UNet2DConditionModelImpl::UNet2DConditionModelImpl(const UNet2DConditionOptions& c) : config(c) {
  const auto& ch = c.block_out_channels;
  const size_t n = ch.size();
  conv_in = register_module("conv_in", d2g::Conv2d(torch::nn::Conv2dOptions(c.in_channels, ch[0], c.conv_in_kernel)
                                                       .padding((c.conv_in_kernel - 1) / 2)));
  time_embedding =
      register_module("time_embedding", TimestepEmbedding(ch[0], c.time_embed_dim, c.act, c.timestep_post_act));
  for (size_t i = 0; i < n; i++)
    down_blocks.push_back(
        std::make_shared<DownBlockImpl>(c, i, i == 0 ? ch[0] : ch[i - 1], "down_blocks." + std::to_string(i)));
  register_list(*this, "down_blocks", down_blocks);
  if (!c.mid_block_type.empty()) mid_block = register_module("mid_block", std::make_shared<MidBlockImpl>(c));
  for (size_t i = 0; i < n; i++) up_blocks.push_back(std::make_shared<UpBlockImpl>(c, i, "up_blocks." + std::to_string(i)));
  register_list(*this, "up_blocks", up_blocks);
  conv_norm_out = register_module("conv_norm_out", group_norm(c.groups, ch[0], c.norm_eps, "conv_norm_out"));
  conv_out = register_module("conv_out", d2g::Conv2d(torch::nn::Conv2dOptions(ch[0], c.out_channels, c.conv_out_kernel)
                                                         .padding((c.conv_out_kernel - 1) / 2)));
}

int64_t UNet2DConditionModelImpl::feature_count() const {
  return static_cast<int64_t>(down_blocks.size() + (mid_block ? 1 : 0) + up_blocks.size());
}

at::Tensor UNet2DConditionModelImpl::forward(at::Tensor sample, const at::Tensor& timestep, const at::Tensor& context,
                                             std::vector<at::Tensor>* features) {
  const int64_t batch = sample.size(0);
  // Sizes that are not multiples of 2^upsamplers need the skips' sizes for upsampling.
  const int64_t factor = int64_t{1} << (up_blocks.size() - 1);
  const bool forward_upsample_size = sample.size(2) % factor != 0 || sample.size(3) % factor != 0;
  if (config.center_input_sample) sample = 2 * sample - 1.0;

  at::Tensor t = timestep.dim() == 0 ? timestep.reshape({1}) : timestep;
  t = t.to(sample.device()).expand({batch});
  at::Tensor emb = timestep_embedding(t, config.block_out_channels[0], config.flip_sin_to_cos, config.freq_shift);
  emb = time_embedding(emb.to(sample.scalar_type()));
  if (config.time_embedding_act) emb = activate(*config.time_embedding_act, emb);

  at::Tensor h = conv_forward(conv_in, sample);
  std::vector<at::Tensor> skips{h};
  for (auto& block : down_blocks) {
    h = block->forward(h, emb, context, skips);
    if (features) features->push_back(h);
  }
  if (mid_block) {
    h = mid_block->forward(h, emb, context);
    if (features) features->push_back(h);
  }
  for (size_t i = 0; i < up_blocks.size(); i++) {
    auto& block = up_blocks[i];
    c10::optional<std::vector<int64_t>> upsample_size;
    const size_t remaining = skips.size() - block->resnets.size();
    if (i + 1 < up_blocks.size() && forward_upsample_size)
      upsample_size = std::vector<int64_t>{skips[remaining - 1].size(2), skips[remaining - 1].size(3)};
    h = block->forward(h, skips, emb, context, upsample_size);
    if (features) features->push_back(h);
  }
  return conv_forward(conv_out, norm_act(conv_norm_out, config.act, h));
}
static RegisterKind reg_unet2d_condition("unet2d_condition", [](const Config& c) {
  return std::static_pointer_cast<torch::nn::Module>(std::make_shared<UNet2DConditionModelImpl>(UNet2DConditionOptions(c)));
});


void UNet2DConditionModelImpl::check_inputs(const at::Tensor& sample, const at::Tensor& timestep,
                                            const at::Tensor& context) const {
  const auto& c = config;
  const auto opts = module_options(*this);
  check_input(sample, "sample", opts, 4, {-1, c.in_channels},
              "[batch, " + std::to_string(c.in_channels) + " (in_channels), height, width]");
  const int64_t batch = sample.size(0);
  const int64_t cross = c.cross_attention_dim[0];
  for (auto d : c.cross_attention_dim)
    if (d != cross)
      fail(D2G_INVALID_ARGUMENT, kWhere, ": blocks with different cross_attention_dim values cannot share one "
           "encoder_hidden_states tensor");
  check_input(context, "encoder_hidden_states", opts, 3, {batch, -1, cross},
              "[" + std::to_string(batch) + " (the sample's batch), tokens, " + std::to_string(cross) +
                  " (cross_attention_dim)]");
  const bool shape_ok = timestep.dim() == 0 || (timestep.dim() == 1 && (timestep.size(0) == 1 || timestep.size(0) == batch));
  if (!shape_ok)
    fail(D2G_INVALID_ARGUMENT, "timestep is ", describe(timestep), ", expected a 0-dim tensor, [1] or [", batch,
         "] (one per sample)");
  if (timestep.is_complex() || timestep.scalar_type() == at::kBool)
    fail(D2G_INVALID_ARGUMENT, "timestep is ", describe(timestep), ", expected an integer or floating tensor");
}

}  // namespace d2g::sd
