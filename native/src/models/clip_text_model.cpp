// CLIPTextModel: the text encoder of Stable Diffusion (transformers' CLIPTextModel).
//
// The module tree and its state names are those of every released Stable Diffusion text encoder
// (written by transformers 4.x):
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
// gelu_new / gelu_pytorch_tanh, relu), layer_norm_eps, attention_dropout, eos_token_id; defaults are
// transformers'.
#include <torch/version.h>

#include "../cuda_util.hpp"
#include "sd_blocks.hpp"
#include "../module.hpp"
#include "../tensor.hpp"

namespace d2g::clip {

enum class Act { QuickGELU, GELU, GELUTanh, ReLU };

static Act activation(const std::string& name) {
  if (name == "quick_gelu") return Act::QuickGELU;
  if (name == "gelu") return Act::GELU;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") return Act::GELUTanh;
  if (name == "relu") return Act::ReLU;
  fail(D2G_INVALID_ARGUMENT, "clip_text_model: hidden_act '", name,
       "' is not supported (use quick_gelu, gelu, gelu_new, gelu_pytorch_tanh or relu)");
}

static at::Tensor activate(Act act, const at::Tensor& x) {
  switch (act) {
    case Act::QuickGELU: return x * at::sigmoid(1.702 * x);
    case Act::GELU: return at::gelu(x);
    case Act::GELUTanh: return at::gelu(x, "tanh");
    case Act::ReLU: return at::relu(x);
  }
  return x;
}

struct Options {
  int64_t vocab_size, hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, max_position_embeddings;
  double layer_norm_eps, attention_dropout;
  int64_t eos_token_id;
  Act act;
};

static torch::nn::LayerNorm layer_norm(const Options& o) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.hidden_size}).eps(o.layer_norm_eps));
}

// Causal multi-head self-attention (CLIPAttention).
struct CLIPAttentionImpl : torch::nn::Module {
  CLIPAttentionImpl(const Options& o) : heads(o.num_attention_heads), dropout(o.attention_dropout) {
    int64_t d = o.hidden_size;
    k_proj = register_module("k_proj", d2g::Linear(d, d));
    v_proj = register_module("v_proj", d2g::Linear(d, d));
    q_proj = register_module("q_proj", d2g::Linear(d, d));
    out_proj = register_module("out_proj", d2g::Linear(d, d));
  }

  at::Tensor forward(const at::Tensor& x) {
    const int64_t B = x.size(0), T = x.size(1), D = x.size(2), hd = D / heads;
    auto split = [&](const at::Tensor& t) { return t.view({B, T, heads, hd}).transpose(1, 2); };
    at::Tensor q = split(q_proj(x)), k = split(k_proj(x)), v = split(v_proj(x));
    double p = is_training() ? dropout : 0.0;
#if TORCH_VERSION_MAJOR >= 2
    at::Tensor h = at::scaled_dot_product_attention(q, k, v, {}, p, /*is_causal=*/true);
#else
    // softmax(q kᵀ / sqrt(hd) + causal mask) v, the softmax in f32 like transformers' eager path.
    at::Tensor scores = at::matmul(q, k.transpose(-1, -2)) * (1.0 / std::sqrt(static_cast<double>(hd)));
    at::Tensor mask = at::ones({T, T}, x.options().dtype(at::kBool)).triu(1);
    scores = scores.masked_fill(mask, -std::numeric_limits<float>::infinity());
    at::Tensor w = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
    if (p > 0) w = at::dropout(w, p, true);
    at::Tensor h = at::matmul(w, v);
#endif
    return out_proj(h.transpose(1, 2).reshape({B, T, D}));
  }

  int64_t heads;
  double dropout;
  d2g::Linear k_proj{nullptr}, v_proj{nullptr}, q_proj{nullptr}, out_proj{nullptr};
};
TORCH_MODULE(CLIPAttention);

struct CLIPMLPImpl : torch::nn::Module {
  CLIPMLPImpl(const Options& o) : act(o.act) {
    fc1 = register_module("fc1", d2g::Linear(o.hidden_size, o.intermediate_size));
    fc2 = register_module("fc2", d2g::Linear(o.intermediate_size, o.hidden_size));
  }
  at::Tensor forward(const at::Tensor& x) { return fc2(activate(act, fc1(x))); }

  Act act;
  d2g::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(CLIPMLP);

// Pre-norm transformer layer: x + attn(ln1(x)), then + mlp(ln2(.)).
struct CLIPEncoderLayerImpl : torch::nn::Module {
  CLIPEncoderLayerImpl(const Options& o) {
    self_attn = register_module("self_attn", CLIPAttention(o));
    layer_norm1 = register_module("layer_norm1", layer_norm(o));
    mlp = register_module("mlp", CLIPMLP(o));
    layer_norm2 = register_module("layer_norm2", layer_norm(o));
  }
  at::Tensor forward(at::Tensor x) {
    x = x + self_attn->forward(layer_norm1->forward(x));
    return x + mlp->forward(layer_norm2->forward(x));
  }

  CLIPAttention self_attn{nullptr};
  torch::nn::LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr};
  CLIPMLP mlp{nullptr};
};
TORCH_MODULE(CLIPEncoderLayer);

struct CLIPTextEmbeddingsImpl : torch::nn::Module {
  CLIPTextEmbeddingsImpl(const Options& o) {
    token_embedding = register_module("token_embedding", d2g::Embedding(o.vocab_size, o.hidden_size));
    position_embedding =
        register_module("position_embedding", d2g::Embedding(o.max_position_embeddings, o.hidden_size));
  }
  at::Tensor forward(const at::Tensor& ids) {
    at::Tensor pos = at::arange(ids.size(1), ids.options().dtype(at::kLong));
    return token_embedding->forward(ids) + position_embedding->forward(pos).unsqueeze(0);
  }

  d2g::Embedding token_embedding{nullptr}, position_embedding{nullptr};
};
TORCH_MODULE(CLIPTextEmbeddings);

struct CLIPEncoderImpl : torch::nn::Module {
  CLIPEncoderImpl(const Options& o) {
    layers = register_module("layers", torch::nn::ModuleList());
    for (int64_t i = 0; i < o.num_hidden_layers; i++) {
      auto layer = CLIPEncoderLayer(o);
      layers->push_back(layer);
      typed.push_back(layer);
    }
  }
  torch::nn::ModuleList layers{nullptr};
  std::vector<CLIPEncoderLayer> typed;
};
TORCH_MODULE(CLIPEncoder);

struct CLIPTextTransformerImpl : torch::nn::Module {
  CLIPTextTransformerImpl(const Options& o) {
    embeddings = register_module("embeddings", CLIPTextEmbeddings(o));
    encoder = register_module("encoder", CLIPEncoder(o));
    final_layer_norm = register_module("final_layer_norm", layer_norm(o));
  }
  CLIPTextEmbeddings embeddings{nullptr};
  CLIPEncoder encoder{nullptr};
  torch::nn::LayerNorm final_layer_norm{nullptr};
};
TORCH_MODULE(CLIPTextTransformer);

struct CLIPTextModelImpl : torch::nn::Module {
  explicit CLIPTextModelImpl(const Options& o) : options(o) {
    text_model = register_module("text_model", CLIPTextTransformer(o));
  }

  // hidden_states[layer] (0 = embeddings, i = after encoder layer i; negative counts from the end),
  // optionally through final_layer_norm; and the pooled output (final_layer_norm of the last layer
  // at each row's EOS token) if wanted. Runs only as many layers as the outputs need.
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& ids, int64_t layer, bool final_norm, bool want_pooled) {
    const int64_t L = options.num_hidden_layers;
    const int64_t run = want_pooled ? L : layer;
    at::Tensor h = text_model->embeddings->forward(ids);
    at::Tensor selected = layer == 0 ? h : at::Tensor();
    for (int64_t i = 0; i < run; i++) {
      h = text_model->encoder->typed[i]->forward(h);
      if (i + 1 == layer) selected = h;
    }
    at::Tensor hidden = final_norm ? text_model->final_layer_norm->forward(selected) : selected;
    at::Tensor pooled;
    if (want_pooled) {
      at::Tensor last = (layer == L && final_norm) ? hidden : text_model->final_layer_norm->forward(h);
      // transformers' rule: with the legacy eos_token_id 2, the position of the largest id (CLIP's
      // EOS 49407 is the largest); otherwise the first position holding eos_token_id (0 if none).
      at::Tensor pos = options.eos_token_id == 2 ? ids.to(at::kInt).argmax(-1)
                                                 : ids.eq(options.eos_token_id).to(at::kInt).argmax(-1);
      pooled = last.index({at::arange(ids.size(0), pos.options().dtype(at::kLong)), pos.to(at::kLong)});
    }
    return {hidden, pooled};
  }

  Options options;
  CLIPTextTransformer text_model{nullptr};
};
TORCH_MODULE(CLIPTextModel);

static std::shared_ptr<torch::nn::Module> create(const Config& c) {
  Options o;
  o.vocab_size = c.integer("vocab_size", 49408);
  o.hidden_size = c.integer("hidden_size", 512);
  o.intermediate_size = c.integer("intermediate_size", 2048);
  o.num_hidden_layers = c.integer("num_hidden_layers", 12);
  o.num_attention_heads = c.integer("num_attention_heads", 8);
  o.max_position_embeddings = c.integer("max_position_embeddings", 77);
  o.layer_norm_eps = c.number("layer_norm_eps", 1e-5);
  o.attention_dropout = c.number("attention_dropout", 0.0);
  o.eos_token_id = c.integer("eos_token_id", 49407);
  o.act = activation(c.str("hidden_act", "quick_gelu"));
  if (o.vocab_size <= 0 || o.hidden_size <= 0 || o.intermediate_size <= 0 || o.num_hidden_layers < 0 ||
      o.num_attention_heads <= 0 || o.max_position_embeddings <= 0)
    fail(D2G_INVALID_ARGUMENT, "clip_text_model: vocab_size, hidden_size, intermediate_size, num_attention_heads and "
         "max_position_embeddings must be positive and num_hidden_layers non-negative");
  if (o.hidden_size % o.num_attention_heads != 0)
    fail(D2G_INVALID_ARGUMENT, "clip_text_model: hidden_size ", o.hidden_size, " is not divisible by num_attention_heads ",
         o.num_attention_heads);
  if (o.attention_dropout < 0 || o.attention_dropout >= 1)
    fail(D2G_INVALID_ARGUMENT, "clip_text_model: attention_dropout must be in [0, 1), not ", o.attention_dropout);
  return CLIPTextModel(o).ptr();
}

static RegisterKind reg("clip_text_model", create);

}  // namespace d2g::clip

extern "C" d2g_status* d2g_clip_text_forward(const d2g_module* m, const d2g_tensor* input_ids, int hidden_layer,
                                             int final_layer_norm, d2g_tensor** hidden, d2g_tensor** pooled) {
  D2G_GUARD({
    using d2g::fail;
    if (hidden == nullptr && pooled == nullptr) fail(D2G_INVALID_ARGUMENT, "clip_text_model: hidden and pooled are both NULL");
    auto& net = d2g::module_as<d2g::clip::CLIPTextModelImpl>(m, "clip_text_model");
    const auto& o = net.options;
    at::Tensor ids = d2g::unwrap(input_ids, "input_ids");
    if (ids.dim() != 2 || (ids.scalar_type() != at::kLong && ids.scalar_type() != at::kInt))
      fail(D2G_INVALID_ARGUMENT, "clip_text_model: input_ids must be i64 (or i32) [batch, tokens], not ", d2g::describe(ids));
    if (ids.size(0) == 0 || ids.size(1) == 0) fail(D2G_INVALID_ARGUMENT, "clip_text_model: input_ids ", d2g::describe(ids), " is empty");
    if (ids.size(1) > o.max_position_embeddings)
      fail(D2G_INVALID_ARGUMENT, "clip_text_model: input_ids has ", ids.size(1), " tokens, more than max_position_embeddings ",
           o.max_position_embeddings, "; truncate the prompt (the tokenizer does, to its max length)");
    const int64_t L = o.num_hidden_layers;
    int64_t layer = hidden_layer < 0 ? L + 1 + hidden_layer : hidden_layer;
    if (layer < 0 || layer > L)
      fail(D2G_INVALID_ARGUMENT, "clip_text_model: hidden_layer ", hidden_layer, " is out of range for ", L,
           " layers (0 = embeddings, 1..", L, " = after that layer, -1 = last, -2 = penultimate, ...)");
    // Out-of-range ids would index outside the embedding (a device-side assert on CUDA): check first,
    // except while a CUDA graph is captured (no host sync allowed; the capturer checks the ids).
    if (!d2g::cuda_stream_capturing()) {
      auto minmax = at::aminmax(ids);
      int64_t lo = std::get<0>(minmax).item<int64_t>(), hi = std::get<1>(minmax).item<int64_t>();
      if (lo < 0 || hi >= o.vocab_size)
        fail(D2G_INVALID_ARGUMENT, "clip_text_model: input_ids holds ids from ", lo, " to ", hi,
             ", outside the vocabulary 0..", o.vocab_size - 1);
    }
    auto opts = d2g::module_options(net);
    ids = ids.to(opts.device(), at::kLong);
    torch::NoGradGuard no_grad;
    auto [h, p] = net.forward(ids, layer, final_layer_norm != 0, pooled != nullptr);
    d2g_tensor* hh = hidden != nullptr ? d2g::wrap(h) : nullptr;
    if (pooled != nullptr) {
      try {
        *pooled = d2g::wrap(p);
      } catch (...) {
        d2g_tensor_free(hh);
        throw;
      }
    }
    if (hidden != nullptr) *hidden = hh;
  })
}
