// Building blocks of the Stable Diffusion family; see sd_blocks.hpp for what each one mirrors.
#include "sd_blocks.hpp"

#include <cmath>

#include "../kernels/fused_ops.hpp"
#include "../core/tensor.hpp"

namespace d2g::sd {

namespace F = torch::nn::functional;

// ---- helpers ----------------------------------------------------------------------------------

Act activation(const std::string& name, const std::string& where) {
  if (name == "silu" || name == "swish") return Act::SiLU;
  if (name == "gelu") return Act::GELU;
  if (name == "relu") return Act::ReLU;
  if (name == "mish") return Act::Mish;
  fail(D2G_INVALID_ARGUMENT, where, ": unknown activation '", name, "' (known: silu, swish, gelu, relu, mish)");
}

at::Tensor activate(Act act, const at::Tensor& x) {
  switch (act) {
    case Act::SiLU: return at::silu(x);
    case Act::GELU: return at::gelu(x);
    case Act::ReLU: return at::relu(x);
    case Act::Mish: return at::mish(x);
  }
  return x;
}

torch::nn::GroupNorm group_norm(int64_t groups, int64_t channels, double eps, const std::string& where) {
  if (groups <= 0 || channels <= 0 || channels % groups != 0)
    fail(D2G_INVALID_ARGUMENT, where, ": ", channels, " channels cannot be split into ", groups,
         " groups (GroupNorm needs channels divisible by norm_num_groups)");
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, channels).eps(eps).affine(true));
}

at::Tensor norm_act(const torch::nn::GroupNorm& norm, Act act, const at::Tensor& x, const at::Tensor& add) {
  if (act == Act::SiLU) return kernels::group_norm_act(x, norm, add, true);
  return activate(act, kernels::group_norm_act(x, norm, add, false));
}

at::Tensor norm_only(const torch::nn::GroupNorm& norm, const at::Tensor& x) {
  return kernels::group_norm_act(x, norm, at::Tensor(), false);
}

at::Tensor conv_forward(d2g::Conv2d& conv, const at::Tensor& x, bool with_bias) {
  const auto& o = conv->options;
  const at::Tensor& w = conv->weight;
  const at::Tensor& b = conv->bias;
  const at::IntArrayRef stride(*o.stride()), pad(conv->padding()), dilation(*o.dilation()), kernel(*o.kernel_size());
  if (!with_bias) return at::conv2d(x, w, at::Tensor(), stride, pad, dilation, o.groups());
  if (!b.defined() || !kernels::active_for(x) || x.dim() != 4 || o.groups() != 1) return conv->forward(x);
  const bool one = kernel[0] == 1 && kernel[1] == 1 && stride[0] == 1 && stride[1] == 1 && pad[0] == 0 && pad[1] == 0;
  if (one && x.is_contiguous(at::MemoryFormat::ChannelsLast) && !x.is_contiguous()) {
    // [B, C, H, W] channels_last is [B, H, W, C] in memory: a matrix product over the last dimension.
    at::Tensor y = at::linear(x.permute({0, 2, 3, 1}), w.reshape({w.size(0), w.size(1)}), b);
    return y.permute({0, 3, 1, 2});
  }
  at::Tensor y = at::conv2d(x, w, at::Tensor(), stride, pad, dilation, 1);
  return kernels::residual_bias(y, b, at::Tensor(), 1.0);
}

static d2g::Conv2d conv2d(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding,
                                bool bias = true) {
  return d2g::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(bias));
}

static d2g::Linear linear(int64_t in, int64_t out, bool bias = true) {
  return d2g::Linear(torch::nn::LinearOptions(in, out).bias(bias));
}

static void require_positive(int64_t v, const std::string& what, const std::string& where) {
  if (v <= 0) fail(D2G_INVALID_ARGUMENT, where, ": ", what, " must be positive, not ", v);
}

at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool upcast) {
#if TORCH_VERSION_MAJOR >= 2
  (void)upcast;  // the fused kernels accumulate in f32 already
  return at::scaled_dot_product_attention(q, k, v);
#else
  // diffusers' AttnProcessor: scores = scale * q kᵀ (in f32 when upcast), softmax, back to v's dtype.
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  at::Tensor qq = upcast ? q.to(at::kFloat) : q;
  at::Tensor kk = upcast ? k.to(at::kFloat) : k;
  at::Tensor scores = at::matmul(qq, kk.transpose(-1, -2)).mul_(scale);
  at::Tensor probs = (upcast ? scores.to(at::kFloat) : scores).softmax(-1).to(v.scalar_type());
  return at::matmul(probs, v);
#endif
}

void check_input(const at::Tensor& t, const char* what, const at::TensorOptions& module, int64_t dims,
                 const std::vector<int64_t>& expected, const std::string& layout) {
  bool ok = t.dim() == dims;
  for (size_t i = 0; ok && i < expected.size(); i++)
    if (expected[i] >= 0 && t.size(static_cast<int64_t>(i)) != expected[i]) ok = false;
  if (ok)
    for (int64_t i = 0; i < t.dim(); i++)
      if (t.size(i) == 0) ok = false;
  if (!ok) fail(D2G_INVALID_ARGUMENT, what, " is ", describe(t), ", expected ", layout);
  if (!at::isFloatingType(t.scalar_type()))
    fail(D2G_INVALID_ARGUMENT, what, " is ", describe(t), ", expected a floating-point tensor");
  if (t.scalar_type() != module.dtype().toScalarType() || t.device() != module.device())
    fail(D2G_INVALID_ARGUMENT, what, " is ", describe(t), " but the module's weights are ",
         c10::toString(module.dtype().toScalarType()), " on ", module.device().str(),
         ": convert the input (or the module) so that both match");
}

// ---- ResnetBlock2D ----------------------------------------------------------------------------

ResnetBlock2DImpl::ResnetBlock2DImpl(const ResnetBlock2DOptions& o, const std::string& where) : options(o) {
  require_positive(o.in_channels, "in_channels", where);
  require_positive(o.out_channels, "out_channels", where);
  const int64_t groups_out = o.groups_out > 0 ? o.groups_out : o.groups;
  norm1 = register_module("norm1", group_norm(o.groups, o.in_channels, o.eps, where + ".norm1"));
  conv1 = register_module("conv1", conv2d(o.in_channels, o.out_channels, 3, 1, 1));
  if (o.temb_channels > 0)
    time_emb_proj =
        register_module("time_emb_proj", linear(o.temb_channels, o.scale_shift ? 2 * o.out_channels : o.out_channels));
  norm2 = register_module("norm2", group_norm(groups_out, o.out_channels, o.eps, where + ".norm2"));
  conv2 = register_module("conv2", conv2d(o.out_channels, o.out_channels, 3, 1, 1));
  if (o.in_channels != o.out_channels)
    conv_shortcut = register_module("conv_shortcut", conv2d(o.in_channels, o.out_channels, 1, 1, 0));
}

at::Tensor ResnetBlock2DImpl::forward(const at::Tensor& x, const at::Tensor& temb) {
  at::Tensor t;  // [batch, out_channels (x2 for scale_shift)]
  if (time_emb_proj && temb.defined()) t = time_emb_proj(activate(options.act, temb));
  if (kernels::active_for(x) && !options.scale_shift && options.dropout == 0 && conv1->bias.defined() &&
      conv2->bias.defined()) {
    // The same function with the CUDA kernels doing more: LibTorch adds a cuDNN convolution's bias
    // in a pass of its own, so conv1's bias joins the time embedding added inside norm2's kernel
    // and conv2's joins the residual add.
    at::Tensor h = conv_forward(conv1, norm_act(norm1, options.act, x), /*with_bias=*/false);
    const at::Tensor& b1 = conv1->bias;
    at::Tensor add = t.defined() ? t + b1 : b1.unsqueeze(0).expand({x.size(0), b1.size(0)});
    h = conv_forward(conv2, norm_act(norm2, options.act, h, add), /*with_bias=*/false);
    at::Tensor shortcut = conv_shortcut ? conv_forward(conv_shortcut, x) : x;
    return kernels::residual_bias(h, conv2->bias, shortcut, 1.0 / options.output_scale_factor);
  }
  at::Tensor h = conv1(norm_act(norm1, options.act, x));
  if (!options.scale_shift) {
    h = norm_act(norm2, options.act, h, t);  // act(norm2(h + t)), one kernel on CUDA
  } else {
    if (!t.defined()) fail(D2G_INVALID_ARGUMENT, "a scale_shift resnet needs a time embedding");
    auto scale_shift = t.unsqueeze(-1).unsqueeze(-1).chunk(2, 1);
    h = activate(options.act, norm_only(norm2, h) * (1 + scale_shift[0]) + scale_shift[1]);
  }
  if (options.dropout > 0) h = at::dropout(h, options.dropout, is_training());
  h = conv2(h);
  at::Tensor shortcut = conv_shortcut ? conv_forward(conv_shortcut, x) : x;
  at::Tensor out = shortcut + h;
  if (options.output_scale_factor != 1.0) out = out / options.output_scale_factor;
  return out;
}

// ---- Downsample2D / Upsample2D ----------------------------------------------------------------

Downsample2DImpl::Downsample2DImpl(int64_t channels, int64_t out_channels, int64_t padding) : padding(padding) {
  conv = register_module("conv", conv2d(channels, out_channels, 3, 2, padding));
}

at::Tensor Downsample2DImpl::forward(const at::Tensor& x) {
  if (padding == 0) return conv_forward(conv, at::constant_pad_nd(x, {0, 1, 0, 1}, 0));
  return conv_forward(conv, x);
}

Upsample2DImpl::Upsample2DImpl(int64_t channels, int64_t out_channels) {
  conv = register_module("conv", conv2d(channels, out_channels, 3, 1, 1));
}

at::Tensor Upsample2DImpl::forward(const at::Tensor& x, c10::optional<std::vector<int64_t>> output_size) {
  at::Tensor h = x;
  const auto dtype = x.scalar_type();
#if TORCH_VERSION_MAJOR < 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR < 1)
  if (dtype == at::kBFloat16) h = h.to(at::kFloat);  // nearest upsampling lacks bf16 before 2.1
#endif
  if (output_size) {
    h = F::interpolate(h, F::InterpolateFuncOptions().mode(torch::kNearest).size(*output_size));
  } else {
    h = kernels::upsample_nearest2x(h);  // a CUDA kernel for channels_last activations
  }
  if (h.scalar_type() != dtype) h = h.to(dtype);
  return conv_forward(conv, h);
}

// ---- Attention --------------------------------------------------------------------------------

AttentionImpl::AttentionImpl(const AttentionOptions& o, const std::string& where) : options(o) {
  require_positive(o.query_dim, "query_dim", where);
  require_positive(o.heads, "the number of attention heads", where);
  require_positive(o.dim_head, "the attention head dimension", where);
  const int64_t inner = o.heads * o.dim_head;
  const int64_t kv_dim = o.cross_attention_dim > 0 ? o.cross_attention_dim : o.query_dim;
  if (o.norm_num_groups > 0)
    group_norm = register_module("group_norm", sd::group_norm(o.norm_num_groups, o.query_dim, o.eps, where + ".group_norm"));
  to_q = register_module("to_q", linear(o.query_dim, inner, o.bias));
  to_k = register_module("to_k", linear(kv_dim, inner, o.bias));
  to_v = register_module("to_v", linear(kv_dim, inner, o.bias));
  to_out0 = linear(inner, o.query_dim, o.out_bias);
  to_out1 = torch::nn::Dropout(o.dropout);
  torch::nn::ModuleList to_out;
  to_out->push_back(to_out0);
  to_out->push_back(to_out1);
  register_module("to_out", to_out);
}

at::Tensor AttentionImpl::forward(const at::Tensor& input, const at::Tensor& context) {
  const bool spatial = input.dim() == 4;
  const int64_t batch = input.size(0);
  at::Tensor x = input;
  if (spatial) x = x.reshape({batch, input.size(1), -1}).transpose(1, 2);  // [B, HW, C]
  if (group_norm) x = norm_only(group_norm, x.transpose(1, 2)).transpose(1, 2);

  const int64_t heads = options.heads;
  const at::Tensor& kv = context.defined() ? context : x;
  at::Tensor q = to_q(x), k = to_k(kv), v = to_v(kv);
  const int64_t head_dim = k.size(-1) / heads;
  q = q.reshape({batch, -1, heads, head_dim}).transpose(1, 2);
  k = k.reshape({batch, -1, heads, head_dim}).transpose(1, 2);
  v = v.reshape({batch, -1, heads, head_dim}).transpose(1, 2);

  at::Tensor h = scaled_dot_product_attention(q, k, v, options.upcast);
  h = h.transpose(1, 2).reshape({batch, -1, heads * head_dim});
  h = to_out1(to_out0(h));

  if (spatial) h = h.transpose(-1, -2).reshape(input.sizes());
  if (options.residual_connection) h = h + input;
  if (options.rescale_output_factor != 1.0) h = h / options.rescale_output_factor;
  return h;
}

// ---- FeedForward with GEGLU -------------------------------------------------------------------

GEGLUImpl::GEGLUImpl(int64_t dim_in, int64_t dim_out) { proj = register_module("proj", linear(dim_in, 2 * dim_out)); }

at::Tensor GEGLUImpl::forward(const at::Tensor& x) {
  return kernels::geglu(proj(x));  // h, gate = proj(x).chunk(2); h * gelu(gate)
}

FeedForwardImpl::FeedForwardImpl(int64_t dim, int64_t mult, double dropout) {
  geglu = GEGLU(dim, dim * mult);
  drop = torch::nn::Dropout(dropout);
  out = linear(dim * mult, dim);
  torch::nn::ModuleList net;
  net->push_back(geglu);
  net->push_back(drop);
  net->push_back(out);
  register_module("net", net);
}

at::Tensor FeedForwardImpl::forward(const at::Tensor& x) { return out(drop(geglu(x))); }

// ---- BasicTransformerBlock and Transformer2DModel ---------------------------------------------

BasicTransformerBlockImpl::BasicTransformerBlockImpl(const TransformerOptions& o, const std::string& where)
    : only_cross_attention(o.only_cross_attention) {
  const int64_t dim = o.heads * o.head_dim;
  auto layer_norm = [&] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-5).elementwise_affine(true)); };
  AttentionOptions a;
  a.query_dim = dim;
  a.heads = o.heads;
  a.dim_head = o.head_dim;
  a.dropout = o.dropout;
  a.upcast = o.upcast_attention;
  norm1 = register_module("norm1", layer_norm());
  AttentionOptions a1 = a;
  a1.cross_attention_dim = o.only_cross_attention ? o.cross_attention_dim : 0;
  attn1 = register_module("attn1", Attention(a1, where + ".attn1"));
  if (o.cross_attention_dim > 0) {
    norm2 = register_module("norm2", layer_norm());
    AttentionOptions a2 = a;
    a2.cross_attention_dim = o.cross_attention_dim;
    attn2 = register_module("attn2", Attention(a2, where + ".attn2"));
  }
  norm3 = register_module("norm3", layer_norm());
  ff = register_module("ff", FeedForward(dim, 4, o.dropout));
}

at::Tensor BasicTransformerBlockImpl::forward(const at::Tensor& x, const at::Tensor& context) {
  at::Tensor h = attn1(layer_norm(norm1, x), only_cross_attention ? context : at::Tensor()) + x;
  if (attn2) h = attn2(layer_norm(norm2, h), context) + h;
  return ff(layer_norm(norm3, h)) + h;
}

Transformer2DModelImpl::Transformer2DModelImpl(const TransformerOptions& o, const std::string& where)
    : options(o), inner_dim(o.heads * o.head_dim) {
  require_positive(o.in_channels, "in_channels", where);
  if (o.num_layers < 0)  // 0 is allowed, as in diffusers: norm and projections only
    fail(D2G_INVALID_ARGUMENT, where, ": transformer_layers_per_block cannot be negative, not ", o.num_layers);
  norm = register_module("norm", group_norm(o.norm_num_groups, o.in_channels, 1e-6, where + ".norm"));
  if (o.use_linear_projection)
    proj_in_linear = register_module("proj_in", linear(o.in_channels, inner_dim));
  else
    proj_in_conv = register_module("proj_in", conv2d(o.in_channels, inner_dim, 1, 1, 0));
  for (int64_t i = 0; i < o.num_layers; i++)
    transformer_blocks.push_back(BasicTransformerBlock(o, where + ".transformer_blocks." + std::to_string(i)));
  std::vector<std::shared_ptr<BasicTransformerBlockImpl>> blocks;
  for (auto& b : transformer_blocks) blocks.push_back(b.ptr());
  register_list(*this, "transformer_blocks", blocks);
  if (o.use_linear_projection)
    proj_out_linear = register_module("proj_out", linear(inner_dim, o.in_channels));
  else
    proj_out_conv = register_module("proj_out", conv2d(inner_dim, o.in_channels, 1, 1, 0));
}

at::Tensor Transformer2DModelImpl::forward(const at::Tensor& x, const at::Tensor& context) {
  const int64_t batch = x.size(0), channels = x.size(1), height = x.size(2), width = x.size(3);
  at::Tensor h = norm_only(norm, x);
  // [B, C, H, W] -> [B, HW, C]: a free view when h is channels_last.
  if (!options.use_linear_projection) {
    h = conv_forward(proj_in_conv, h);
    h = h.permute({0, 2, 3, 1}).reshape({batch, height * width, inner_dim});
  } else {
    h = h.permute({0, 2, 3, 1}).reshape({batch, height * width, channels});
    h = proj_in_linear(h);
  }
  for (auto& block : transformer_blocks) h = block(h, context);
  if (!options.use_linear_projection) {
    h = h.reshape({batch, height, width, inner_dim}).permute({0, 3, 1, 2});
    h = conv_forward(proj_out_conv, h);
  } else {
    h = proj_out_linear(h);
    h = h.reshape({batch, height, width, channels}).permute({0, 3, 1, 2});
  }
  return h + x;
}

// ---- UNetMidBlock2D ---------------------------------------------------------------------------

UNetMidBlock2DImpl::UNetMidBlock2DImpl(const UNetMidBlock2DOptions& o, const std::string& where) {
  ResnetBlock2DOptions r;
  r.in_channels = o.in_channels;
  r.out_channels = o.in_channels;
  r.temb_channels = o.temb_channels;
  r.groups = o.groups;
  r.eps = o.eps;
  r.dropout = o.dropout;
  r.output_scale_factor = o.output_scale_factor;
  r.scale_shift = o.scale_shift;
  r.act = o.act;
  resnets.push_back(ResnetBlock2D(r, where + ".resnets.0"));
  for (int64_t i = 0; i < o.num_layers; i++) {
    if (o.add_attention) {
      require_positive(o.attention_head_dim, "attention_head_dim", where);
      AttentionOptions a;
      a.query_dim = o.in_channels;
      a.heads = o.in_channels / o.attention_head_dim;
      a.dim_head = o.attention_head_dim;
      a.rescale_output_factor = o.output_scale_factor;
      a.eps = o.eps;
      a.norm_num_groups = o.groups;
      a.residual_connection = true;
      a.bias = true;
      a.upcast = true;
      attentions.push_back(Attention(a, where + ".attentions." + std::to_string(i)));
    }
    resnets.push_back(ResnetBlock2D(r, where + ".resnets." + std::to_string(i + 1)));
  }
  std::vector<std::shared_ptr<AttentionImpl>> a;
  for (auto& x : attentions) a.push_back(x.ptr());
  std::vector<std::shared_ptr<ResnetBlock2DImpl>> rs;
  for (auto& x : resnets) rs.push_back(x.ptr());
  register_list(*this, "attentions", a);
  register_list(*this, "resnets", rs);
}

at::Tensor UNetMidBlock2DImpl::forward(const at::Tensor& x, const at::Tensor& temb) {
  at::Tensor h = resnets[0](x, temb);
  for (size_t i = 1; i < resnets.size(); i++) {
    if (!attentions.empty()) h = attentions[i - 1](h);
    h = resnets[i](h, temb);
  }
  return h;
}

// ---- timestep embedding -----------------------------------------------------------------------

at::Tensor timestep_embedding(const at::Tensor& timesteps, int64_t dim, bool flip_sin_to_cos, double freq_shift) {
  const int64_t half = dim / 2;
  at::Tensor exponent = at::arange(0, half, timesteps.options().dtype(at::kFloat)) * (-std::log(10000.0));
  exponent = exponent / (static_cast<double>(half) - freq_shift);
  at::Tensor emb = timesteps.unsqueeze(1).to(at::kFloat) * exponent.exp().unsqueeze(0);
  emb = flip_sin_to_cos ? at::cat({emb.cos(), emb.sin()}, -1) : at::cat({emb.sin(), emb.cos()}, -1);
  if (dim % 2 == 1) emb = at::constant_pad_nd(emb, {0, 1, 0, 0}, 0);
  return emb;
}

TimestepEmbeddingImpl::TimestepEmbeddingImpl(int64_t in_channels, int64_t time_embed_dim, Act act,
                                             c10::optional<Act> post_act)
    : act(act), post_act(post_act) {
  linear_1 = register_module("linear_1", linear(in_channels, time_embed_dim));
  linear_2 = register_module("linear_2", linear(time_embed_dim, time_embed_dim));
}

at::Tensor TimestepEmbeddingImpl::forward(const at::Tensor& x) {
  at::Tensor h = linear_2(activate(act, linear_1(x)));
  return post_act ? activate(*post_act, h) : h;
}

}  // namespace d2g::sd
