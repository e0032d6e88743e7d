#include "optimizer.hpp"

#include <c10/core/GradMode.h>
#include <torch/version.h>

#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "../core/status.hpp"

namespace d2g::train {

Optimizer::Optimizer(std::vector<ParamGroup> groups) : groups_(std::move(groups)) {
  if (groups_.empty()) fail(D2G_INVALID_ARGUMENT, "an optimizer needs at least one parameter group");
  std::set<const void*> seen;
  for (size_t g = 0; g < groups_.size(); g++) {
    const auto& group = groups_[g];
    if (!(group.lr >= 0) || !std::isfinite(group.lr))
      fail(D2G_INVALID_ARGUMENT, "group ", g, ": lr must be a finite number >= 0, not ", group.lr);
    if (!(group.weight_decay >= 0) || !std::isfinite(group.weight_decay))
      fail(D2G_INVALID_ARGUMENT, "group ", g, ": weight_decay must be a finite number >= 0, not ", group.weight_decay);
    for (const auto& p : group.params) {
      if (!p.defined()) fail(D2G_INVALID_ARGUMENT, "group ", g, " holds an undefined tensor");
      if (!p.is_floating_point()) fail(D2G_INVALID_ARGUMENT, "only floating tensors can be optimised");
      if (!p.is_leaf() || !p.requires_grad())
        fail(D2G_INVALID_ARGUMENT, "an optimised tensor must be a leaf that requires grad (a parameter, or a tensor "
             "marked with requires_grad); a frozen parameter cannot be optimised");
      if (!seen.insert(p.unsafeGetTensorImpl()).second)
        fail(D2G_INVALID_ARGUMENT, "a tensor appears twice among the optimiser's parameters");
    }
  }
  if (seen.empty()) fail(D2G_INVALID_ARGUMENT, "an optimizer needs at least one parameter");
}

size_t Optimizer::param_count() const {
  size_t n = 0;
  for (const auto& g : groups_) n += g.params.size();
  return n;
}

const at::Tensor& Optimizer::param(size_t index) const {
  for (const auto& g : groups_) {
    if (index < g.params.size()) return g.params[index];
    index -= g.params.size();
  }
  fail(D2G_INVALID_ARGUMENT, "parameter index out of range");
}

void Optimizer::zero_grad() {
  for (auto& g : groups_)
    for (auto& p : g.params) p.mutable_grad().reset();
}

double Optimizer::clip_grad_norm(double max_norm) {
  at::Tensor total = clip_grad_norm_async(max_norm);
  return total.defined() ? total.item<double>() : 0;
}

at::Tensor Optimizer::clip_grad_norm_async(double max_norm) {
  if (!(max_norm > 0) || !std::isfinite(max_norm))
    fail(D2G_INVALID_ARGUMENT, "max_norm must be a finite number > 0, not ", max_norm);
  c10::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  for (auto& g : groups_)
    for (auto& p : g.params)
      if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return at::Tensor();
  // torch.nn.utils.clip_grad_norm_: the norm of the per-tensor norms, in the gradients' dtype;
  // every gradient is multiplied by the clamped coefficient (also when it is 1).
  // On CUDA, as torch does there: one multi-tensor kernel for the norms and one for the scaling, when
  // the gradients share a device and dtype; elsewhere (and as torch does on the CPU) tensor by tensor.
  bool foreach = false;
#if TORCH_VERSION_MAJOR >= 2
  foreach = true;
  for (auto& g : grads)
    foreach = foreach && g.is_cuda() && g.device() == grads[0].device() && g.scalar_type() == grads[0].scalar_type();
#endif
  std::vector<at::Tensor> norms;
  if (foreach) {
    norms = at::_foreach_norm(grads, 2);
  } else {
    norms.reserve(grads.size());
    for (auto& g : grads) norms.push_back(at::linalg_vector_norm(g, 2));
  }
  at::Tensor total = at::linalg_vector_norm(at::stack(norms), 2);
  // max_norm / (total + 1e-6) as Python computes a number over a tensor: reciprocal, then multiply
  at::Tensor coef = at::clamp((total + 1e-6).reciprocal() * max_norm, c10::nullopt, 1.0);
#if TORCH_VERSION_MAJOR >= 2
  if (foreach) {
    at::_foreach_mul_(grads, coef.to(grads[0].scalar_type()));
    return total.to(at::kFloat);
  }
#endif
  for (auto& g : grads) g.mul_(coef.to(g.device(), g.scalar_type()));
  return total.to(at::kFloat);
}

void Optimizer::step_capturable(const at::Tensor&) {
  fail(D2G_INVALID_ARGUMENT, "a ", kind(), " step cannot be captured in a CUDA graph here (AdamW on CUDA with LibTorch 2.x can)");
}

const at::Tensor& Optimizer::device_lr(size_t g, const at::Device& device) {
  if (device_lrs_.size() != groups_.size()) device_lrs_.resize(groups_.size());
  at::Tensor& t = device_lrs_[g];
  if (!t.defined() || t.device() != device) {
    t = at::empty({}, at::TensorOptions().dtype(at::kFloat).device(device));
    t.fill_(groups_[g].lr);
  }
  return t;
}

void Optimizer::refresh_device_lrs() {
  for (size_t g = 0; g < device_lrs_.size() && g < groups_.size(); g++)
    if (device_lrs_[g].defined()) device_lrs_[g].fill_(groups_[g].lr);
}

namespace {

std::string slot_name(const char* slot, size_t index) { return std::string(slot) + "." + std::to_string(index); }

// Parses "<slot>.<index>" into its parts; false if it is not that form.
bool parse_slot(const std::string& name, std::string& slot, size_t& index) {
  auto dot = name.rfind('.');
  if (dot == std::string::npos || dot + 1 >= name.size()) return false;
  slot = name.substr(0, dot);
  index = 0;
  for (size_t i = dot + 1; i < name.size(); i++) {
    if (name[i] < '0' || name[i] > '9' || index > (size_t{1} << 40)) return false;
    index = index * 10 + static_cast<size_t>(name[i] - '0');
  }
  return true;
}

// torch.optim.AdamW, single-tensor algorithm (amsgrad off, maximize off).
class AdamW final : public Optimizer {
 public:
  AdamW(const Config& c, std::vector<ParamGroup> groups)
      : Optimizer(std::move(groups)),
        beta1_(c.number("beta1", 0.9)),
        beta2_(c.number("beta2", 0.999)),
        eps_(c.number("eps", 1e-8)) {
    if (!(beta1_ >= 0 && beta1_ < 1) || !(beta2_ >= 0 && beta2_ < 1))
      fail(D2G_INVALID_ARGUMENT, "adamw: beta1 and beta2 must be in [0, 1), not ", beta1_, " and ", beta2_);
    if (!(eps_ >= 0) || !std::isfinite(eps_)) fail(D2G_INVALID_ARGUMENT, "adamw: eps must be >= 0, not ", eps_);
    slots_.resize(param_count());
  }

  std::string kind() const override { return "adamw"; }

  void step() override {
    c10::NoGradGuard no_grad;
    size_t index = 0;
    for (auto& group : groups_) {
#if TORCH_VERSION_MAJOR >= 2
      if (fused_step(group, index)) {
        index += group.params.size();
        continue;
      }
#endif
      for (auto& p : group.params) {
        Slot& s = slots_[index++];
        const at::Tensor& grad = p.grad();
        if (!grad.defined()) continue;
        if (!s.exp_avg.defined()) init(s, p);
        s.step.add_(1);
        double step = s.step.item<double>();
        p.mul_(1 - group.lr * group.weight_decay);
        s.exp_avg.lerp_(grad, 1 - beta1_);
        s.exp_avg_sq.mul_(beta2_).addcmul_(grad, grad, 1 - beta2_);
        double bias_correction1 = 1 - std::pow(beta1_, step);
        double bias_correction2 = 1 - std::pow(beta2_, step);
        double step_size = group.lr / bias_correction1;
        double bias_correction2_sqrt = std::pow(bias_correction2, 0.5);  // Python's ** 0.5
        at::Tensor denom = (s.exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps_);
        p.addcdiv_(s.exp_avg, denom, -step_size);
      }
    }
  }

  bool capturable() const override {
#if TORCH_VERSION_MAJOR >= 2
    for (auto& g : groups_)
      for (auto& p : g.params)
        if (!p.is_cuda()) return false;
    return !groups_.empty();
#else
    return false;
#endif
  }

  // The fused kernel with the learning rate read from the device and the update skipped where
  // found_inf is set (as torch.optim.AdamW(fused=True, capturable=True) with a GradScaler's found_inf).
  // Every parameter must have a gradient (a captured step always computes them all).
  void step_capturable(const at::Tensor& found_inf) override {
#if TORCH_VERSION_MAJOR >= 2
    c10::NoGradGuard no_grad;
    if (!capturable()) Optimizer::step_capturable(found_inf);
    size_t first = 0;
    at::Tensor counted = 1 - found_inf;  // the step count grows only when the update happens
    for (size_t gi = 0; gi < groups_.size(); gi++) {
      ParamGroup& group = groups_[gi];
      std::map<at::ScalarType, std::vector<size_t>> by_dtype;
      for (size_t k = 0; k < group.params.size(); k++) {
        if (!group.params[k].grad().defined())
          fail(D2G_INVALID_ARGUMENT, "a captured AdamW step needs every parameter's gradient (group ", gi, ", parameter ", k, ")");
        by_dtype[group.params[k].scalar_type()].push_back(k);
      }
      for (auto& [dtype, members] : by_dtype) {
        Lists l = lists(group, first, members);
        at::_foreach_add_(l.steps, counted);
        const at::Tensor& lr = device_lr(gi, l.ps[0].device());
        at::_fused_adamw_(l.ps, l.gs, l.ms, l.vs, {}, l.steps, lr, beta1_, beta2_, group.weight_decay, eps_,
                          /*amsgrad=*/false, /*maximize=*/false, /*grad_scale=*/c10::nullopt, found_inf);
      }
      first += group.params.size();
    }
#else
    Optimizer::step_capturable(found_inf);
#endif
  }

  std::vector<std::pair<std::string, at::Tensor>> state() const override {
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (size_t i = 0; i < slots_.size(); i++) {
      if (!slots_[i].exp_avg.defined()) continue;
      out.emplace_back(slot_name("exp_avg", i), slots_[i].exp_avg);
      out.emplace_back(slot_name("exp_avg_sq", i), slots_[i].exp_avg_sq);
      out.emplace_back(slot_name("step", i), slots_[i].step);
    }
    return out;
  }

  void load_state(const std::vector<std::pair<std::string, at::Tensor>>& entries) override {
    std::vector<Slot> fresh(slots_.size());
    for (const auto& [name, t] : entries) {
      std::string slot;
      size_t i;
      if (!parse_slot(name, slot, i) || i >= fresh.size() || (slot != "exp_avg" && slot != "exp_avg_sq" && slot != "step"))
        fail(D2G_INVALID_ARGUMENT, "adamw state has no entry '", name, "' (", fresh.size(), " parameters; entries "
             "exp_avg.<i>, exp_avg_sq.<i>, step.<i>)");
      const at::Tensor& p = param(i);
      if (slot == "step") {
        if (t.numel() != 1) fail(D2G_INVALID_ARGUMENT, "adamw state '", name, "' must hold one number");
        fresh[i].step = t.detach().reshape({}).to(at::kFloat).clone();
      } else {
        if (!t.sizes().equals(p.sizes()))
          fail(D2G_INVALID_ARGUMENT, "adamw state '", name, "' has shape ", t.sizes(), ", its parameter ", p.sizes());
        (slot == "exp_avg" ? fresh[i].exp_avg : fresh[i].exp_avg_sq) =
            t.detach().to(p.device(), p.scalar_type()).clone(at::MemoryFormat::Preserve);
      }
    }
    for (size_t i = 0; i < fresh.size(); i++) {
      bool any = fresh[i].exp_avg.defined() || fresh[i].exp_avg_sq.defined() || fresh[i].step.defined();
      bool all = fresh[i].exp_avg.defined() && fresh[i].exp_avg_sq.defined() && fresh[i].step.defined();
      if (any && !all) fail(D2G_INVALID_ARGUMENT, "adamw state of parameter ", i, " is incomplete (exp_avg, "
                            "exp_avg_sq and step go together)");
      if (all) fresh[i].step = fresh[i].step.to(step_device(param(i)));
    }
    slots_ = std::move(fresh);
  }

 private:
  struct Slot {
    at::Tensor exp_avg, exp_avg_sq, step;  // step: a float32 count, as torch keeps it
  };

  // torch keeps the step count on the CPU for the single-tensor algorithm and on the device for
  // the fused one.
  static at::Device step_device(const at::Tensor& p) {
#if TORCH_VERSION_MAJOR >= 2
    if (p.is_cuda()) return p.device();
#endif
    return at::kCPU;
  }

  void init(Slot& s, const at::Tensor& p) {
    s.exp_avg = at::zeros_like(p, at::MemoryFormat::Preserve);
    s.exp_avg_sq = at::zeros_like(p, at::MemoryFormat::Preserve);
    s.step = at::zeros({}, at::TensorOptions().dtype(at::kFloat).device(step_device(p)));
  }

#if TORCH_VERSION_MAJOR >= 2
  // LibTorch's fused AdamW (torch.optim.AdamW(fused=True)) for a group whose parameters are all on
  // CUDA and all have gradients; false leaves the group to the single-tensor loop.
  bool fused_step(ParamGroup& group, size_t first) {
    if (group.params.empty()) return false;
    for (auto& p : group.params)
      if (!p.is_cuda() || !p.grad().defined()) return false;
    std::map<at::ScalarType, std::vector<size_t>> by_dtype;
    for (size_t k = 0; k < group.params.size(); k++) by_dtype[group.params[k].scalar_type()].push_back(k);
    for (auto& [dtype, members] : by_dtype) {
      Lists l = lists(group, first, members);
      // torch.optim counts the step before the fused kernel, which only reads the count.
      at::_foreach_add_(l.steps, 1);
      at::_fused_adamw_(l.ps, l.gs, l.ms, l.vs, {}, l.steps, group.lr, beta1_, beta2_, group.weight_decay, eps_,
                        /*amsgrad=*/false, /*maximize=*/false);
    }
    return true;
  }
#endif

  // The fused kernel's lists for some parameters of a group (their state made on first use).
  struct Lists {
    std::vector<at::Tensor> ps, gs, ms, vs, steps;
  };
  Lists lists(ParamGroup& group, size_t first, const std::vector<size_t>& members) {
    Lists l;
    for (size_t k : members) {
      Slot& s = slots_[first + k];
      at::Tensor& p = group.params[k];
      if (!s.exp_avg.defined()) init(s, p);
      l.ps.push_back(p);
      l.gs.push_back(p.grad());
      l.ms.push_back(s.exp_avg);
      l.vs.push_back(s.exp_avg_sq);
      l.steps.push_back(s.step);
    }
    return l;
  }

  double beta1_, beta2_, eps_;
  std::vector<Slot> slots_;
};

// torch.optim.SGD, single-tensor algorithm (maximize off).
class SGD final : public Optimizer {
 public:
  SGD(const Config& c, std::vector<ParamGroup> groups)
      : Optimizer(std::move(groups)),
        momentum_(c.number("momentum", 0)),
        dampening_(c.number("dampening", 0)),
        nesterov_(c.boolean("nesterov", false)) {
    if (!(momentum_ >= 0) || !std::isfinite(momentum_)) fail(D2G_INVALID_ARGUMENT, "sgd: momentum must be >= 0");
    if (nesterov_ && (momentum_ <= 0 || dampening_ != 0))
      fail(D2G_INVALID_ARGUMENT, "sgd: nesterov momentum needs momentum > 0 and dampening 0");
    buffers_.resize(param_count());
  }

  std::string kind() const override { return "sgd"; }

  void step() override {
    c10::NoGradGuard no_grad;
    size_t index = 0;
    for (auto& group : groups_) {
      for (auto& p : group.params) {
        at::Tensor& buf = buffers_[index++];
        if (!p.grad().defined()) continue;
        at::Tensor d_p = p.grad();
        if (group.weight_decay != 0) d_p = d_p.add(p, group.weight_decay);
        if (momentum_ != 0) {
          if (!buf.defined()) {
            buf = d_p.clone().detach();
          } else {
            buf.mul_(momentum_).add_(d_p, 1 - dampening_);
          }
          d_p = nesterov_ ? d_p.add(buf, momentum_) : buf;
        }
        p.add_(d_p, -group.lr);
      }
    }
  }

  std::vector<std::pair<std::string, at::Tensor>> state() const override {
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (size_t i = 0; i < buffers_.size(); i++)
      if (buffers_[i].defined()) out.emplace_back(slot_name("momentum_buffer", i), buffers_[i]);
    return out;
  }

  void load_state(const std::vector<std::pair<std::string, at::Tensor>>& entries) override {
    std::vector<at::Tensor> fresh(buffers_.size());
    for (const auto& [name, t] : entries) {
      std::string slot;
      size_t i;
      if (!parse_slot(name, slot, i) || i >= fresh.size() || slot != "momentum_buffer")
        fail(D2G_INVALID_ARGUMENT, "sgd state has no entry '", name, "' (", fresh.size(),
             " parameters; entries momentum_buffer.<i>)");
      const at::Tensor& p = param(i);
      if (!t.sizes().equals(p.sizes()))
        fail(D2G_INVALID_ARGUMENT, "sgd state '", name, "' has shape ", t.sizes(), ", its parameter ", p.sizes());
      fresh[i] = t.detach().to(p.device(), p.scalar_type()).clone(at::MemoryFormat::Preserve);
    }
    buffers_ = std::move(fresh);
  }

 private:
  double momentum_, dampening_;
  bool nesterov_;
  std::vector<at::Tensor> buffers_;
};

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const std::string& kind, const Config& config, std::vector<ParamGroup> groups) {
  std::unique_ptr<Optimizer> opt;
  if (kind == "adamw") opt = std::make_unique<AdamW>(config, std::move(groups));
  else if (kind == "sgd") opt = std::make_unique<SGD>(config, std::move(groups));
  else fail(D2G_INVALID_ARGUMENT, "unknown optimizer '", kind, "' (known: adamw, sgd)");
  config.check_all_used("optimizer " + kind);
  return opt;
}

}  // namespace d2g::train
