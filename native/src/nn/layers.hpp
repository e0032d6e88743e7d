// The parameterised layers of every model family: Conv2d, Linear and Embedding, with torch.nn's
// names ("weight", "bias"), shapes, forward and default initialisation (kaiming-uniform with
// a = sqrt(5) and a uniform bias for Conv2d and Linear, N(0, 1) for Embedding; the same random
// draws in the same order as torch::nn's layers).
//
// They exist for one thing torch::nn's C++ layers cannot do: skip that initialisation. A module
// whose every parameter is about to be loaded from a checkpoint is created under SkipInit
// (core/init.hpp), and its parameters are allocated but not filled (diffusers skips it the same way
// with low_cpu_mem_usage; benchmarks/results/module-init.json has the time it saves). Options reuse
// torch::nn's option types.
#pragma once

#include <torch/torch.h>

#include "../core/init.hpp"

namespace d2g {

class Conv2dImpl : public torch::nn::Cloneable<Conv2dImpl> {
 public:
  explicit Conv2dImpl(torch::nn::Conv2dOptions options);
  void reset() override;
  void reset_parameters();
  at::Tensor forward(const at::Tensor& x);
  void pretty_print(std::ostream& stream) const override;
  // The zero padding per side (reset() refuses any other kind).
  at::IntArrayRef padding() const;

  torch::nn::Conv2dOptions options;
  at::Tensor weight, bias;
};
TORCH_MODULE(Conv2d);

class LinearImpl : public torch::nn::Cloneable<LinearImpl> {
 public:
  explicit LinearImpl(torch::nn::LinearOptions options);
  LinearImpl(int64_t in_features, int64_t out_features) : LinearImpl(torch::nn::LinearOptions(in_features, out_features)) {}
  void reset() override;
  void reset_parameters();
  // at::linear: the bias is fused into the matrix product for inputs of any rank.
  at::Tensor forward(const at::Tensor& x);
  void pretty_print(std::ostream& stream) const override;

  torch::nn::LinearOptions options;
  at::Tensor weight, bias;
};
TORCH_MODULE(Linear);

class EmbeddingImpl : public torch::nn::Cloneable<EmbeddingImpl> {
 public:
  EmbeddingImpl(int64_t num_embeddings, int64_t embedding_dim);
  void reset() override;
  void reset_parameters();
  at::Tensor forward(const at::Tensor& indices);
  void pretty_print(std::ostream& stream) const override;

  int64_t num_embeddings, embedding_dim;
  at::Tensor weight;
};
TORCH_MODULE(Embedding);

// norm(x) with x first converted to the norm's weight dtype when they differ: under autocast the
// input may be bf16/f16 while the weights are f32, which LibTorch 1.x's CPU layer norm refuses (CUDA
// autocast runs normalisations in f32 anyway; this does the same everywhere).
at::Tensor layer_norm(torch::nn::LayerNorm& norm, const at::Tensor& x);

}  // namespace d2g
