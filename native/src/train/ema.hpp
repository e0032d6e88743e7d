// An exponential moving average of a module's parameters (the weights a trained generator is
// usually evaluated and shipped with): shadow = decay * shadow + (1 - decay) * parameter after each
// update, on the parameters' device, kept in f32 (or the parameters' own dtype if wider).
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <utility>
#include <vector>

namespace d2g::train {

class Ema {
 public:
  // Shadows start as copies of the parameters.
  Ema(std::vector<std::pair<std::string, at::Tensor>> params);

  // shadow += (1 - decay) * (parameter - shadow), as lerp; decay in [0, 1].
  void update(double decay);
  // update() for a step captured in a CUDA graph: no host synchronisation, and no change where
  // found_inf (a 0-dim f32 tensor on the parameters' device) is non-zero.
  void update_capturable(double decay, const at::Tensor& found_inf);
  // Copies the shadows into the parameters (for evaluation or export).
  void copy_to_params();
  // The shadows, named like their parameters; share memory.
  const std::vector<std::pair<std::string, at::Tensor>>& shadows() const { return shadows_; }
  // Replaces the shadows with named tensors (every name once; shapes must fit).
  void load(const std::vector<std::pair<std::string, at::Tensor>>& entries);

 private:
  std::vector<std::pair<std::string, at::Tensor>> params_;
  std::vector<std::pair<std::string, at::Tensor>> shadows_;
};

}  // namespace d2g::train
