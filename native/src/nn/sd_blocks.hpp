// Building blocks of the Stable Diffusion family, shared by the UNet (unet2d_condition.cpp) and the
// VAE (autoencoder_kl.cpp). Each class is the function of the diffusers class of the same name, and
// its parameters carry the same names, so a module tree built from these has exactly the keys of a
// diffusers state_dict:
//
//   ResnetBlock2D          diffusers/models/resnet.py           norm1 conv1 time_emb_proj norm2 conv2 conv_shortcut
//   Downsample2D           diffusers/models/downsampling.py     conv
//   Upsample2D             diffusers/models/upsampling.py       conv
//   Attention              diffusers/models/attention_processor.py   group_norm to_q to_k to_v to_out.0
//   FeedForward (GEGLU)    diffusers/models/attention.py        net.0.proj net.2
//   BasicTransformerBlock  diffusers/models/attention.py        norm1 attn1 norm2 attn2 norm3 ff
//   Transformer2DModel     diffusers/models/transformers/transformer_2d.py   norm proj_in transformer_blocks proj_out
//   UNetMidBlock2D         diffusers/models/unets/unet_2d_blocks.py          resnets attentions
//   timestep_embedding + TimestepEmbedding   diffusers/models/embeddings.py  linear_1 linear_2
//
// Written for speed on the GPU as much as for fidelity: no host synchronisation inside a forward,
// layouts that keep a channels_last input channels_last (no .contiguous() into NCHW), and fused
// scaled-dot-product attention where LibTorch has it (2.x).
#pragma once

#include <torch/torch.h>
#include <torch/version.h>

#include <memory>
#include <string>
#include <vector>

#include "../core/status.hpp"
#include "layers.hpp"

namespace d2g::sd {

// ---- small helpers ----------------------------------------------------------------------------

// The activations diffusers' get_activation knows ("silu"/"swish", "gelu", "relu", "mish").
enum class Act { SiLU, GELU, ReLU, Mish };
Act activation(const std::string& name, const std::string& where);
at::Tensor activate(Act act, const at::Tensor& x);

// GroupNorm(groups, channels, eps, affine), with a clear error when channels % groups != 0.
torch::nn::GroupNorm group_norm(int64_t groups, int64_t channels, double eps, const std::string& where);

// act(norm(x + add)) (add: [batch, channels] or undefined), fused into one CUDA kernel where the
// build has it and the activation is SiLU (kernels/fused_ops.hpp); norm_only skips the activation.
at::Tensor norm_act(const torch::nn::GroupNorm& norm, Act act, const at::Tensor& x, const at::Tensor& add = at::Tensor());
at::Tensor norm_only(const torch::nn::GroupNorm& norm, const at::Tensor& x);

// The forward of a Conv2d module; on CUDA with the shim's kernels, a 1x1 convolution of a
// channels_last activation is a matrix product with fused bias, and other convolutions add their
// bias with a vectorised kernel instead of LibTorch's broadcasting pass. with_bias = false leaves
// the bias out, for a caller that adds it inside a later fused kernel.
at::Tensor conv_forward(d2g::Conv2d& conv, const at::Tensor& x, bool with_bias = true);

// Registers typed modules as one torch::nn::ModuleList, so that their keys read name.0, name.1, ...
template <typename T>
void register_list(torch::nn::Module& parent, const std::string& name, const std::vector<std::shared_ptr<T>>& items) {
  torch::nn::ModuleList list;
  for (const auto& m : items) list->push_back(m);
  parent.register_module(name, list);
}

// Attention over [batch, heads, tokens, head_dim] tensors: softmax(q kᵀ / sqrt(head_dim)) v.
// Fused (at::scaled_dot_product_attention) on LibTorch 2.x; explicit otherwise, in f32 when upcast.
at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool upcast);

// ---- ResnetBlock2D ----------------------------------------------------------------------------

struct ResnetBlock2DOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t temb_channels = 0;  // 0: no time embedding (the VAE)
  int64_t groups = 32;
  int64_t groups_out = 0;     // 0: same as groups
  double eps = 1e-6;
  double dropout = 0.0;
  double output_scale_factor = 1.0;
  bool scale_shift = false;   // time_embedding_norm "scale_shift" instead of "default"
  Act act = Act::SiLU;
};

class ResnetBlock2DImpl : public torch::nn::Module {
 public:
  ResnetBlock2DImpl(const ResnetBlock2DOptions& options, const std::string& where);
  // temb: [batch, temb_channels], or undefined for blocks without a time embedding.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& temb);

  ResnetBlock2DOptions options;
  torch::nn::GroupNorm norm1{nullptr}, norm2{nullptr};
  d2g::Conv2d conv1{nullptr}, conv2{nullptr}, conv_shortcut{nullptr};
  d2g::Linear time_emb_proj{nullptr};
};
TORCH_MODULE(ResnetBlock2D);

// ---- Downsample2D / Upsample2D (with their convolution, as every SD block uses them) -----------

class Downsample2DImpl : public torch::nn::Module {
 public:
  // padding 1 in the UNet, 0 in the VAE encoder (then the input is padded by one on the right/bottom).
  Downsample2DImpl(int64_t channels, int64_t out_channels, int64_t padding);
  at::Tensor forward(const at::Tensor& x);

  int64_t padding;
  d2g::Conv2d conv{nullptr};
};
TORCH_MODULE(Downsample2D);

class Upsample2DImpl : public torch::nn::Module {
 public:
  Upsample2DImpl(int64_t channels, int64_t out_channels);
  // Nearest-neighbour x2, or to output_size ({height, width}) when given; then a 3x3 convolution.
  at::Tensor forward(const at::Tensor& x, c10::optional<std::vector<int64_t>> output_size = c10::nullopt);

  d2g::Conv2d conv{nullptr};
};
TORCH_MODULE(Upsample2D);

// ---- Attention --------------------------------------------------------------------------------

struct AttentionOptions {
  int64_t query_dim = 0;
  int64_t cross_attention_dim = 0;  // 0: self-attention (keys and values from the queries' input)
  int64_t heads = 8;
  int64_t dim_head = 64;
  bool bias = false;                // on to_q, to_k, to_v
  bool out_bias = true;             // on to_out.0
  int64_t norm_num_groups = 0;      // >0: a group_norm before the projections (the VAE's mid block)
  double eps = 1e-5;                // of that group_norm
  bool residual_connection = false;
  double rescale_output_factor = 1.0;
  double dropout = 0.0;
  bool upcast = false;              // upcast_attention / upcast_softmax (only used without fused SDPA)
};

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(const AttentionOptions& options, const std::string& where);
  // x: [batch, tokens, query_dim] or [batch, query_dim, height, width] (then it is flattened and the
  // result has the input's shape). context: [batch, tokens', cross_attention_dim], or undefined.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& context = at::Tensor());

  AttentionOptions options;
  torch::nn::GroupNorm group_norm{nullptr};
  d2g::Linear to_q{nullptr}, to_k{nullptr}, to_v{nullptr}, to_out0{nullptr};
  torch::nn::Dropout to_out1{nullptr};
};
TORCH_MODULE(Attention);

// ---- FeedForward with GEGLU -------------------------------------------------------------------

class GEGLUImpl : public torch::nn::Module {
 public:
  GEGLUImpl(int64_t dim_in, int64_t dim_out);
  at::Tensor forward(const at::Tensor& x);  // h, gate = proj(x).chunk(2); h * gelu(gate)

  d2g::Linear proj{nullptr};
};
TORCH_MODULE(GEGLU);

class FeedForwardImpl : public torch::nn::Module {
 public:
  FeedForwardImpl(int64_t dim, int64_t mult, double dropout);
  at::Tensor forward(const at::Tensor& x);

  GEGLU geglu{nullptr};          // net.0
  torch::nn::Dropout drop{nullptr};  // net.1
  d2g::Linear out{nullptr};    // net.2
};
TORCH_MODULE(FeedForward);

// ---- BasicTransformerBlock and Transformer2DModel ---------------------------------------------

struct TransformerOptions {
  int64_t heads = 8;
  int64_t head_dim = 64;
  int64_t in_channels = 0;
  int64_t num_layers = 1;
  int64_t cross_attention_dim = 0;
  int64_t norm_num_groups = 32;
  bool use_linear_projection = false;
  bool only_cross_attention = false;
  bool upcast_attention = false;
  double dropout = 0.0;
};

class BasicTransformerBlockImpl : public torch::nn::Module {
 public:
  BasicTransformerBlockImpl(const TransformerOptions& options, const std::string& where);
  // x: [batch, tokens, dim]; context: [batch, tokens', cross_attention_dim].
  at::Tensor forward(const at::Tensor& x, const at::Tensor& context);

  bool only_cross_attention;
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr}, norm3{nullptr};
  Attention attn1{nullptr}, attn2{nullptr};
  FeedForward ff{nullptr};
};
TORCH_MODULE(BasicTransformerBlock);

class Transformer2DModelImpl : public torch::nn::Module {
 public:
  Transformer2DModelImpl(const TransformerOptions& options, const std::string& where);
  // x: [batch, in_channels, height, width]; context: the text states.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& context);

  TransformerOptions options;
  int64_t inner_dim;
  torch::nn::GroupNorm norm{nullptr};
  d2g::Conv2d proj_in_conv{nullptr}, proj_out_conv{nullptr};      // use_linear_projection = false
  d2g::Linear proj_in_linear{nullptr}, proj_out_linear{nullptr};  // use_linear_projection = true
  std::vector<BasicTransformerBlock> transformer_blocks;
};
TORCH_MODULE(Transformer2DModel);

// ---- UNetMidBlock2D (resnet, then (attention, resnet) x num_layers) ----------------------------

struct UNetMidBlock2DOptions {
  int64_t in_channels = 0;
  int64_t temb_channels = 0;
  int64_t num_layers = 1;
  double eps = 1e-6;
  int64_t groups = 32;
  Act act = Act::SiLU;
  double dropout = 0.0;
  double output_scale_factor = 1.0;
  bool scale_shift = false;
  bool add_attention = true;
  int64_t attention_head_dim = 1;  // heads = in_channels / attention_head_dim
};

class UNetMidBlock2DImpl : public torch::nn::Module {
 public:
  UNetMidBlock2DImpl(const UNetMidBlock2DOptions& options, const std::string& where);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& temb);

  std::vector<Attention> attentions;  // empty without attention
  std::vector<ResnetBlock2D> resnets;
};
TORCH_MODULE(UNetMidBlock2D);

// ---- timestep embedding -----------------------------------------------------------------------

// diffusers' get_timestep_embedding: [N] timesteps (any real dtype) -> [N, dim] f32 sinusoids,
// sin then cos (cos then sin with flip_sin_to_cos), frequencies exp(-ln(10000) i / (dim/2 - shift)).
at::Tensor timestep_embedding(const at::Tensor& timesteps, int64_t dim, bool flip_sin_to_cos, double freq_shift);

class TimestepEmbeddingImpl : public torch::nn::Module {
 public:
  TimestepEmbeddingImpl(int64_t in_channels, int64_t time_embed_dim, Act act, c10::optional<Act> post_act);
  at::Tensor forward(const at::Tensor& x);  // linear_2(act(linear_1(x))), then post_act

  Act act;
  c10::optional<Act> post_act;
  d2g::Linear linear_1{nullptr}, linear_2{nullptr};
};
TORCH_MODULE(TimestepEmbedding);

// ---- input checks shared by the families' entry points -----------------------------------------

// Fails with a clear message unless t is a floating tensor of the module's dtype and device with
// `dims` dimensions and, where expected[i] >= 0, size expected[i] in dimension i.
void check_input(const at::Tensor& t, const char* what, const at::TensorOptions& module, int64_t dims,
                 const std::vector<int64_t>& expected, const std::string& layout);

}  // namespace d2g::sd
