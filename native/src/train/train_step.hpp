// What every whole-in-native training step offers the C API (d2g_train_step): one run on a batch of
// input tensors, returning the step's metrics in a fixed order that d2g.h documents per kind.
#pragma once

#include <ATen/ATen.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "../core/status.hpp"
#include "optimizer.hpp"

namespace d2g::train {

class TrainStep {
 public:
  virtual ~TrainStep() = default;
  // inputs: as many as the kind documents, in its order (undefined tensors where optional).
  virtual std::vector<double> run(const std::vector<at::Tensor>& inputs) = 0;
  // Gives the step a further network in a role its kind knows (denoise: "text_encoder"). The step
  // keeps it alive. The default knows none.
  virtual void set_module(const std::string& role, std::shared_ptr<torch::nn::Module> /*net*/) {
    fail(D2G_INVALID_ARGUMENT, "this training step takes no ", role);
  }
};

// The end of a step once its gradients are in (and averaged): when the loss is finite, clip to
// max_grad_norm (0: no clipping; grad_norm gets the norm before it) and step the optimizer; a loss or a
// gradient norm that is not finite changes nothing. Returns whether the weights were updated.
inline bool apply_update(Optimizer& opt, const at::Tensor& loss, double max_grad_norm, double& grad_norm) {
  grad_norm = 0;
  if (!std::isfinite(loss.detach().item<double>())) return false;
  if (max_grad_norm > 0) {
    grad_norm = opt.clip_grad_norm(max_grad_norm);
    if (!std::isfinite(grad_norm)) return false;
  }
  opt.step();
  return true;
}

}  // namespace d2g::train
