// The Stable Diffusion text encoder (models/clip_text_model.hpp).
#include "clip_text_model.hpp"

#include <torch/version.h>

#include <limits>
#include <tuple>

#include "../core/cuda_util.hpp"
#include "../core/module.hpp"
#include "../core/tensor.hpp"

namespace d2g::clip {

CLIPTextOptions::CLIPTextOptions(const Config& c) {
  auto& o = *this;
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
  // Positive (layers: non-negative), and bounded: a config is outside input, and a count of 2^31 would
  // only exhaust memory.
  for (auto [key, v, min, max] :
       {std::tuple<const char*, int64_t, int64_t, int64_t>{"vocab_size", o.vocab_size, 1, 1 << 24},
        {"hidden_size", o.hidden_size, 1, 1 << 16}, {"intermediate_size", o.intermediate_size, 1, 1 << 18},
        {"num_hidden_layers", o.num_hidden_layers, 0, 256}, {"num_attention_heads", o.num_attention_heads, 1, 4096},
        {"max_position_embeddings", o.max_position_embeddings, 1, 1 << 16}})
    if (v < min || v > max)
      fail(D2G_INVALID_ARGUMENT, "clip_text_model: config key '", key, "' must be ", min, " to ", max, ", not ", v);
  if (o.hidden_size % o.num_attention_heads != 0)
    fail(D2G_INVALID_ARGUMENT, "clip_text_model: hidden_size ", o.hidden_size, " is not divisible by num_attention_heads ",
         o.num_attention_heads);
  if (o.attention_dropout < 0 || o.attention_dropout >= 1)
    fail(D2G_INVALID_ARGUMENT, "clip_text_model: attention_dropout must be in [0, 1), not ", o.attention_dropout);
  projection_dim = c.integer("projection_dim", 0);
  if (projection_dim < 0 || projection_dim > (1 << 16))
    fail(D2G_INVALID_ARGUMENT, "clip_text_model: projection_dim must be 0 (no projection) to 65536, not ", projection_dim);
}

namespace {

static torch::nn::LayerNorm layer_norm(const CLIPTextOptions& o) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.hidden_size}).eps(o.layer_norm_eps));
}

// Causal multi-head self-attention (CLIPAttention).
struct CLIPAttentionImpl : torch::nn::Module {
  CLIPAttentionImpl(const CLIPTextOptions& o) : heads(o.num_attention_heads), dropout(o.attention_dropout) {
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
  CLIPMLPImpl(const CLIPTextOptions& o) : act(o.act) {
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
  CLIPEncoderLayerImpl(const CLIPTextOptions& o) {
    self_attn = register_module("self_attn", CLIPAttention(o));
    layer_norm1 = register_module("layer_norm1", layer_norm(o));
    mlp = register_module("mlp", CLIPMLP(o));
    layer_norm2 = register_module("layer_norm2", layer_norm(o));
  }
  at::Tensor forward(at::Tensor x) {
    x = x + self_attn->forward(d2g::layer_norm(layer_norm1, x));
    return x + mlp->forward(d2g::layer_norm(layer_norm2, x));
  }

  CLIPAttention self_attn{nullptr};
  torch::nn::LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr};
  CLIPMLP mlp{nullptr};
};
TORCH_MODULE(CLIPEncoderLayer);

struct CLIPTextEmbeddingsImpl : torch::nn::Module {
  CLIPTextEmbeddingsImpl(const CLIPTextOptions& o) {
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
  CLIPEncoderImpl(const CLIPTextOptions& o) {
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

}  // namespace

// The transformer under "text_model." (declared in the header only by name).
struct CLIPTextTransformerImpl : torch::nn::Module {
  explicit CLIPTextTransformerImpl(const CLIPTextOptions& o) {
    embeddings = register_module("embeddings", CLIPTextEmbeddings(o));
    encoder = register_module("encoder", CLIPEncoder(o));
    final_layer_norm = register_module("final_layer_norm", layer_norm(o));
  }
  CLIPTextEmbeddings embeddings{nullptr};
  CLIPEncoder encoder{nullptr};
  torch::nn::LayerNorm final_layer_norm{nullptr};
};

CLIPTextModelImpl::CLIPTextModelImpl(const CLIPTextOptions& o) : options(o) {
  text_model = register_module("text_model", std::make_shared<CLIPTextTransformerImpl>(o));
  if (o.projection_dim > 0)
    text_projection = register_module(
        "text_projection", d2g::Linear(torch::nn::LinearOptions(o.hidden_size, o.projection_dim).bias(false)));
}

std::pair<at::Tensor, at::Tensor> CLIPTextModelImpl::forward(const at::Tensor& ids, int64_t layer, bool final_norm,
                                                             bool want_pooled) {
  const int64_t L = options.num_hidden_layers;
  const int64_t run = want_pooled ? L : layer;
  at::Tensor h = text_model->embeddings->forward(ids);
  at::Tensor selected = layer == 0 ? h : at::Tensor();
  for (int64_t i = 0; i < run; i++) {
    h = text_model->encoder->typed[i]->forward(h);
    if (i + 1 == layer) selected = h;
  }
  at::Tensor hidden = final_norm ? d2g::layer_norm(text_model->final_layer_norm, selected) : selected;
  at::Tensor pooled;
  if (want_pooled) {
    at::Tensor last = (layer == L && final_norm) ? hidden : d2g::layer_norm(text_model->final_layer_norm, h);
    // transformers' rule: with the legacy eos_token_id 2, the position of the largest id (CLIP's
    // EOS 49407 is the largest); otherwise the first position holding eos_token_id (0 if none).
    at::Tensor pos = options.eos_token_id == 2 ? ids.to(at::kInt).argmax(-1)
                                               : ids.eq(options.eos_token_id).to(at::kInt).argmax(-1);
    pooled = last.index({at::arange(ids.size(0), pos.options().dtype(at::kLong)), pos.to(at::kLong)});
  }
  return {hidden, pooled};
}

at::Tensor CLIPTextModelImpl::project(const at::Tensor& pooled) {
  if (!text_projection)
    fail(D2G_INVALID_ARGUMENT, "clip_text_model: this text encoder has no text_projection (projection_dim is 0; "
         "CLIPTextModelWithProjection configs set it)");
  return text_projection(pooled);
}

at::Tensor CLIPTextModelImpl::prepare_ids(const at::Tensor& input) const {
  const auto& o = options;
  if (input.dim() != 2 || (input.scalar_type() != at::kLong && input.scalar_type() != at::kInt))
    fail(D2G_INVALID_ARGUMENT, "clip_text_model: input_ids must be i64 (or i32) [batch, tokens], not ", describe(input));
  if (input.size(0) == 0 || input.size(1) == 0) fail(D2G_INVALID_ARGUMENT, "clip_text_model: input_ids ", describe(input), " is empty");
  if (input.size(1) > o.max_position_embeddings)
    fail(D2G_INVALID_ARGUMENT, "clip_text_model: input_ids has ", input.size(1), " tokens, more than max_position_embeddings ",
         o.max_position_embeddings, "; truncate the prompt (the tokenizer does, to its max length)");
  // Out-of-range ids would index outside the embedding (a device-side assert on CUDA): check first,
  // except while a CUDA graph is captured (no host sync allowed; the capturer checks the ids).
  if (!cuda_stream_capturing()) {
    auto minmax = at::aminmax(input);
    int64_t lo = std::get<0>(minmax).item<int64_t>(), hi = std::get<1>(minmax).item<int64_t>();
    if (lo < 0 || hi >= o.vocab_size)
      fail(D2G_INVALID_ARGUMENT, "clip_text_model: input_ids holds ids from ", lo, " to ", hi,
           ", outside the vocabulary 0..", o.vocab_size - 1);
  }
  return input.to(module_options(*this).device(), at::kLong);
}

static RegisterKind reg("clip_text_model", [](const Config& c) {
  return std::static_pointer_cast<torch::nn::Module>(std::make_shared<CLIPTextModelImpl>(CLIPTextOptions(c)));
});

}  // namespace d2g::clip
