#include "layers.hpp"

#include <torch/version.h>

#include <cmath>

#include "../core/init.hpp"
#include "../core/status.hpp"

namespace d2g {

namespace {

// kaiming_uniform_(a = sqrt(5)) for the weight and U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias:
// torch.nn's Conv and Linear reset_parameters, drawing in the same order.
void init_weight_and_bias(at::Tensor& weight, at::Tensor& bias) {
  torch::NoGradGuard no_grad;
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    auto fan_in = std::get<0>(torch::nn::init::_calculate_fan_in_and_fan_out(weight));
    if (fan_in > 0) {
      double bound = 1 / std::sqrt(static_cast<double>(fan_in));
      bias.uniform_(-bound, bound);
    }
  }
}

// Registers "weight" of the given shape and "bias" of [shape[0]] (an undefined tensor without a bias,
// as torch.nn registers it) on m, and initialises both unless SkipInit is active.
void register_weight_and_bias(torch::nn::Module& m, at::Tensor& weight, at::Tensor& bias, at::IntArrayRef shape,
                              bool with_bias) {
  weight = m.register_parameter("weight", torch::empty(shape));
  bias = with_bias ? m.register_parameter("bias", torch::empty({shape[0]}))
                   : m.register_parameter("bias", at::Tensor(), /*requires_grad=*/false);
  if (!SkipInit::active()) init_weight_and_bias(weight, bias);
}

#if TORCH_VERSION_MAJOR >= 2
using std::get_if, std::holds_alternative;
#else
using c10::get_if, c10::holds_alternative;  // LibTorch 1.x options hold c10::variant
#endif
}  // namespace


// ---- Conv2d -------------------------------------------------------------------------------------

Conv2dImpl::Conv2dImpl(torch::nn::Conv2dOptions options_) : options(std::move(options_)) { reset(); }

void Conv2dImpl::reset() {
  const auto& o = options;
  if (o.in_channels() <= 0 || o.out_channels() <= 0 || o.groups() <= 0 || o.in_channels() % o.groups() != 0 ||
      o.out_channels() % o.groups() != 0)
    fail(D2G_INVALID_ARGUMENT, "Conv2d: in_channels (", o.in_channels(), ") and out_channels (", o.out_channels(),
         ") must be positive multiples of groups (", o.groups(), ")");
  if (get_if<torch::ExpandingArray<2>>(&o.padding()) == nullptr || !holds_alternative<torch::enumtype::kZeros>(o.padding_mode()))
    fail(D2G_INVALID_ARGUMENT, "Conv2d: only zero padding given as sizes");
  auto k = *o.kernel_size();
  register_weight_and_bias(*this, weight, bias, {o.out_channels(), o.in_channels() / o.groups(), k[0], k[1]}, o.bias());
}

void Conv2dImpl::reset_parameters() { init_weight_and_bias(weight, bias); }

at::IntArrayRef Conv2dImpl::padding() const { return **get_if<torch::ExpandingArray<2>>(&options.padding()); }

at::Tensor Conv2dImpl::forward(const at::Tensor& x) {
  return at::conv2d(x, weight, bias, *options.stride(), padding(), *options.dilation(), options.groups());
}

void Conv2dImpl::pretty_print(std::ostream& stream) const {
  stream << "d2g::Conv2d(" << options.in_channels() << ", " << options.out_channels()
         << ", kernel_size=" << options.kernel_size() << ", stride=" << options.stride() << ")";
}

// ---- Linear -------------------------------------------------------------------------------------

LinearImpl::LinearImpl(torch::nn::LinearOptions options_) : options(std::move(options_)) { reset(); }

void LinearImpl::reset() {
  if (options.in_features() <= 0 || options.out_features() <= 0)
    fail(D2G_INVALID_ARGUMENT, "Linear: in_features (", options.in_features(), ") and out_features (",
         options.out_features(), ") must be positive");
  register_weight_and_bias(*this, weight, bias, {options.out_features(), options.in_features()}, options.bias());
}

void LinearImpl::reset_parameters() { init_weight_and_bias(weight, bias); }

at::Tensor LinearImpl::forward(const at::Tensor& x) { return at::linear(x, weight, bias); }

void LinearImpl::pretty_print(std::ostream& stream) const {
  stream << "d2g::Linear(in_features=" << options.in_features() << ", out_features=" << options.out_features()
         << ", bias=" << options.bias() << ")";
}

// ---- Embedding ----------------------------------------------------------------------------------

EmbeddingImpl::EmbeddingImpl(int64_t n, int64_t dim) : num_embeddings(n), embedding_dim(dim) { reset(); }

void EmbeddingImpl::reset() {
  if (num_embeddings <= 0 || embedding_dim <= 0)
    fail(D2G_INVALID_ARGUMENT, "Embedding: num_embeddings (", num_embeddings, ") and embedding_dim (", embedding_dim,
         ") must be positive");
  weight = register_parameter("weight", torch::empty({num_embeddings, embedding_dim}));
  if (!SkipInit::active()) reset_parameters();
}

void EmbeddingImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  torch::nn::init::normal_(weight);
}

at::Tensor EmbeddingImpl::forward(const at::Tensor& indices) { return at::embedding(weight, indices); }

void EmbeddingImpl::pretty_print(std::ostream& stream) const {
  stream << "d2g::Embedding(num_embeddings=" << num_embeddings << ", embedding_dim=" << embedding_dim << ")";
}

at::Tensor layer_norm(torch::nn::LayerNorm& norm, const at::Tensor& x) {
  const at::Tensor& w = norm->weight;
  return norm->forward(w.defined() && w.scalar_type() != x.scalar_type() ? x.to(w.scalar_type()) : x);
}

}  // namespace d2g
