// What every whole-in-native training step offers the C API (d2g_train_step): one run on a batch of
// input tensors, returning the step's metrics in a fixed order that d2g.h documents per kind.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "../core/status.hpp"

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

}  // namespace d2g::train
