#include "ema.hpp"

#include <c10/core/GradMode.h>

#include <cmath>
#include <map>

#include "../core/status.hpp"

namespace d2g::train {

static at::ScalarType shadow_dtype(const at::Tensor& p) {
  return p.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

Ema::Ema(std::vector<std::pair<std::string, at::Tensor>> params) : params_(std::move(params)) {
  if (params_.empty()) fail(D2G_INVALID_ARGUMENT, "an EMA needs at least one parameter");
  c10::NoGradGuard no_grad;
  for (auto& [name, p] : params_) {
    if (!p.is_floating_point()) fail(D2G_INVALID_ARGUMENT, "EMA of a non-floating tensor '", name, "'");
    shadows_.emplace_back(name, p.detach().to(shadow_dtype(p)).clone(at::MemoryFormat::Preserve));
  }
}

void Ema::update(double decay) {
  if (!(decay >= 0 && decay <= 1)) fail(D2G_INVALID_ARGUMENT, "EMA decay must be in [0, 1], not ", decay);
  c10::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); i++) {
    const at::Tensor& p = params_[i].second;
    at::Tensor& s = shadows_[i].second;
    s.lerp_(p.scalar_type() == s.scalar_type() ? p : p.to(s.scalar_type()), 1 - decay);
  }
}

void Ema::update_capturable(double decay, const at::Tensor& found_inf) {
  if (!(decay >= 0 && decay <= 1)) fail(D2G_INVALID_ARGUMENT, "EMA decay must be in [0, 1], not ", decay);
  c10::NoGradGuard no_grad;
  at::Tensor weight = (1 - found_inf) * (1 - decay);
  for (size_t i = 0; i < params_.size(); i++) {
    const at::Tensor& p = params_[i].second;
    at::Tensor& s = shadows_[i].second;
    s.lerp_(p.scalar_type() == s.scalar_type() ? p : p.to(s.scalar_type()), weight.to(s.scalar_type()));
  }
}

void Ema::copy_to_params() {
  c10::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); i++) params_[i].second.copy_(shadows_[i].second);
}

void Ema::load(const std::vector<std::pair<std::string, at::Tensor>>& entries) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < shadows_.size(); i++) index[shadows_[i].first] = i;
  std::vector<at::Tensor> fresh(shadows_.size());
  for (const auto& [name, t] : entries) {
    auto it = index.find(name);
    if (it == index.end()) fail(D2G_INVALID_ARGUMENT, "the EMA has no parameter '", name, "'");
    if (fresh[it->second].defined()) fail(D2G_INVALID_ARGUMENT, "EMA entry '", name, "' is given twice");
    const at::Tensor& s = shadows_[it->second].second;
    if (!t.sizes().equals(s.sizes()))
      fail(D2G_INVALID_ARGUMENT, "EMA entry '", name, "' has shape ", t.sizes(), ", the parameter ", s.sizes());
    fresh[it->second] = t.detach().to(s.device(), s.scalar_type()).clone(at::MemoryFormat::Preserve);
  }
  for (size_t i = 0; i < fresh.size(); i++)
    if (!fresh[i].defined()) fail(D2G_INVALID_ARGUMENT, "EMA entry '", shadows_[i].first, "' is missing");
  for (size_t i = 0; i < fresh.size(); i++) shadows_[i].second = fresh[i];
}

}  // namespace d2g::train
