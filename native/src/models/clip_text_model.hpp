// CLIPTextModel: the text encoder of Stable Diffusion (transformers' CLIPTextModel).
//
// The module tree and its state names are those of every released Stable Diffusion text encoder
// (written by transformers 4.x), and with a projection (CLIPTextModelWithProjection, SDXL's second
// text encoder) text_projection.weight [projection_dim, hidden_size] besides:
//
//   text_model.embeddings.token_embedding.weight        [vocab_size, hidden_size]
//   text_model.embeddings.position_embedding.weight     [max_position_embeddings, hidden_size]
//   text_model.encoder.layers.N.self_attn.{k,v,q,out}_proj.{weight,bias}
//   text_model.encoder.layers.N.layer_norm1.{weight,bias}
//   text_model.encoder.layers.N.mlp.fc1.{weight,bias}, mlp.fc2.{weight,bias}
//   text_model.encoder.layers.N.layer_norm2.{weight,bias}
//   text_model.final_layer_norm.{weight,bias}
//
// position_ids is a non-persistent buffer in transformers (not in its state_dict), so it is not part
// of this state either; positions are 0..T-1. (Older checkpoints that still carry
// text_model.embeddings.position_ids, and transformers 5 files that drop the "text_model." prefix,
// are adapted by the Java loader, io.d2g.sd.ClipTextModel.)
//
// Config keys (config.json of a CLIPTextConfig): vocab_size, hidden_size, intermediate_size,
// num_hidden_layers, num_attention_heads, max_position_embeddings, hidden_act (quick_gelu, gelu,
// gelu_new / gelu_pytorch_tanh, relu), layer_norm_eps, attention_dropout, eos_token_id, and
// projection_dim for CLIPTextModelWithProjection (0 or absent: no projection); defaults are
// transformers'. Kind "clip_text_model" in the module registry.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>

#include "../core/config.hpp"
#include "../nn/layers.hpp"

namespace d2g::clip {

enum class Act { QuickGELU, GELU, GELUTanh, ReLU };

inline Act activation(const std::string& name) {
  if (name == "quick_gelu") return Act::QuickGELU;
  if (name == "gelu") return Act::GELU;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") return Act::GELUTanh;
  if (name == "relu") return Act::ReLU;
  fail(D2G_INVALID_ARGUMENT, "clip_text_model: hidden_act '", name,
       "' is not supported (use quick_gelu, gelu, gelu_new, gelu_pytorch_tanh or relu)");
}

inline at::Tensor activate(Act act, const at::Tensor& x) {
  switch (act) {
    case Act::QuickGELU: return x * at::sigmoid(1.702 * x);
    case Act::GELU: return at::gelu(x);
    case Act::GELUTanh: return at::gelu(x, "tanh");
    case Act::ReLU: return at::relu(x);
  }
  return x;
}

// The network's configuration: the keys of transformers' CLIPTextConfig with its defaults.
struct CLIPTextOptions {
  int64_t vocab_size = 49408, hidden_size = 512, intermediate_size = 2048, num_hidden_layers = 12,
          num_attention_heads = 8, max_position_embeddings = 77;
  double layer_norm_eps = 1e-5, attention_dropout = 0.0;
  int64_t eos_token_id = 49407;
  int64_t projection_dim = 0;  // CLIPTextModelWithProjection's text_projection; 0: none
  Act act = Act::QuickGELU;

  CLIPTextOptions() = default;
  explicit CLIPTextOptions(const Config& c);
};

struct CLIPTextTransformerImpl;

struct CLIPTextModelImpl : torch::nn::Module {
  explicit CLIPTextModelImpl(const CLIPTextOptions& o);

  // hidden_states[layer] (0 = embeddings, i = after encoder layer i; negative counts from the end),
  // optionally through final_layer_norm; and the pooled output (final_layer_norm of the last layer
  // at each row's EOS token) if wanted. Runs only as many layers as the outputs need.
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& ids, int64_t layer, bool final_norm, bool want_pooled);

  // text_embeds = text_projection(pooled) (CLIPTextModelWithProjection); an error without a projection.
  at::Tensor project(const at::Tensor& pooled);

  // Checks input_ids (shape, dtype, length, ids inside the vocabulary unless a CUDA graph is being
  // captured) and returns them as i64 on the module's device.
  at::Tensor prepare_ids(const at::Tensor& ids) const;

  CLIPTextOptions options;
  std::shared_ptr<CLIPTextTransformerImpl> text_model;
  d2g::Linear text_projection{nullptr};
};
TORCH_MODULE(CLIPTextModel);

}  // namespace d2g::clip
