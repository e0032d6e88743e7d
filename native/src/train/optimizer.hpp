// Optimizers over leaf tensors (a module's parameters), with torch.optim's update rules, parameter
// groups (each with its own learning rate and weight decay), gradient clipping by global norm, and a
// state dictionary of named tensors for checkpoints.
//
// AdamW and SGD follow torch.optim's single-tensor algorithms exactly on the CPU (the order of
// operations included, so that results agree to rounding; test/fixtures/train/optim). On CUDA with
// LibTorch 2.x, AdamW runs LibTorch's fused multi-tensor kernel (one launch per group and dtype).
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../core/config.hpp"

namespace d2g::train {

struct ParamGroup {
  std::vector<at::Tensor> params;
  double lr = 1e-3;
  double weight_decay = 0;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;

  // One update of every parameter that has a gradient (parameters without one are left alone).
  virtual void step() = 0;
  // The state as named tensors ("<slot>.<parameter index>"), sharing memory, in a fixed order;
  // entries appear once a parameter has been stepped.
  virtual std::vector<std::pair<std::string, at::Tensor>> state() const = 0;
  // Replaces the state with named tensors as state() gives them (copied, converted to each
  // parameter's dtype and device). Unknown names, or shapes that do not fit, are errors.
  virtual void load_state(const std::vector<std::pair<std::string, at::Tensor>>& entries) = 0;
  virtual std::string kind() const = 0;

  std::vector<ParamGroup>& groups() { return groups_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }
  size_t param_count() const;
  // The parameter with this flat index (groups in order).
  const at::Tensor& param(size_t index) const;

  // Drops every parameter's gradient.
  void zero_grad();
  // torch.nn.utils.clip_grad_norm_ over every parameter's gradient (L2): scales them by
  // min(1, max_norm / (total + 1e-6)) and returns the total norm before clipping.
  double clip_grad_norm(double max_norm);
  // The same without reading the norm back: the total norm as a one-element f32 tensor on the
  // gradients' device (undefined when no parameter has a gradient); no host synchronisation.
  at::Tensor clip_grad_norm_async(double max_norm);

  // A step that a CUDA graph can capture (torch.optim's capturable fused AdamW): no host
  // synchronisation; each group's learning rate is read from a device tensor, which
  // refresh_device_lrs() sets from the group's lr before each replay; where found_inf (a 0-dim f32
  // tensor on the parameters' device) is non-zero, the update and the step count are skipped on the
  // device. Only where capturable() is true (AdamW, every parameter on CUDA, LibTorch 2.x).
  virtual bool capturable() const { return false; }
  virtual void step_capturable(const at::Tensor& found_inf);
  void refresh_device_lrs();

 protected:
  explicit Optimizer(std::vector<ParamGroup> groups);
  // Group g's learning rate as a 0-dim f32 tensor on `device` (made on first use).
  const at::Tensor& device_lr(size_t g, const at::Device& device);
  std::vector<ParamGroup> groups_;
  std::vector<at::Tensor> device_lrs_;
};

// kind "adamw" (config: beta1, beta2, eps) or "sgd" (momentum, dampening, nesterov); lr and
// weight_decay are per group. Every parameter must be a floating leaf tensor that requires grad,
// and appear once.
std::unique_ptr<Optimizer> make_optimizer(const std::string& kind, const Config& config, std::vector<ParamGroup> groups);

}  // namespace d2g::train
