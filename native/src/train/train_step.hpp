// What every whole-in-native training step offers the C API (d2g_train_step): one run on a batch of
// input tensors, returning the step's metrics in a fixed order that d2g.h documents per kind.
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace d2g::train {

class TrainStep {
 public:
  virtual ~TrainStep() = default;
  // inputs: as many as the kind documents, in its order (undefined tensors where optional).
  virtual std::vector<double> run(const std::vector<at::Tensor>& inputs) = 0;
};

}  // namespace d2g::train
