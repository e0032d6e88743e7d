// Modules: the registry of model families, creation, and the state dictionary (names and tensors)
// that checkpoints are loaded into and saved from.
#include "module.hpp"

#include <map>
#include <optional>
#include <sstream>

#include "init.hpp"

namespace d2g {

static std::map<std::string, ModuleFactory>& registry() {
  static std::map<std::string, ModuleFactory> r;
  return r;
}

RegisterKind::RegisterKind(const std::string& kind, ModuleFactory factory) { registry()[kind] = std::move(factory); }

at::TensorOptions module_options(const torch::nn::Module& net) {
  for (const auto& p : net.parameters()) return p.options();
  return at::TensorOptions().dtype(at::kFloat);
}

// Parameters then buffers, in registration order, with their full dotted names.
static std::vector<std::pair<std::string, at::Tensor>> state_of(const torch::nn::Module& net) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& p : net.named_parameters(true)) out.emplace_back(p.key(), p.value());
  for (const auto& b : net.named_buffers(true)) out.emplace_back(b.key(), b.value());
  return out;
}

static std::string join(const std::vector<std::string>& v, size_t limit) {
  std::ostringstream os;
  for (size_t i = 0; i < v.size() && i < limit; i++) os << (i ? ", " : "") << v[i];
  if (v.size() > limit) os << ", ... (" << v.size() - limit << " more)";
  return os.str();
}

std::unique_ptr<d2g_module> create_module(const std::string& kind, const Config& config, bool initialise) {
  auto& reg = registry();
  auto it = reg.find(kind);
  if (it == reg.end()) {
    std::vector<std::string> known;
    for (auto& e : reg) known.push_back(e.first);
    fail(D2G_INVALID_ARGUMENT, "unknown module kind '", kind, "' (known: ", join(known, 100), ")");
  }
  torch::NoGradGuard no_grad;
  std::optional<SkipInit> skip;
  if (!initialise) skip.emplace();
  auto net = it->second(config);
  config.check_all_used(kind);
  auto state = state_of(*net);
  return std::unique_ptr<d2g_module>(new d2g_module{kind, std::move(net), std::move(state)});
}

void load_state(d2g_module& m, const std::vector<std::pair<std::string, const at::Tensor*>>& entries, bool strict) {
  std::map<std::string, at::Tensor> own;
  for (auto& [k, t] : m.state) own.emplace(k, t);
  std::vector<std::string> unexpected, mismatched, missing;
  std::vector<std::pair<at::Tensor, const at::Tensor*>> plan;
  std::map<std::string, bool> seen;
  for (const auto& [key, src] : entries) {
    auto it = own.find(key);
    if (it == own.end()) {
      unexpected.push_back(key);
      continue;
    }
    if (seen[key]) fail(D2G_INVALID_ARGUMENT, "state entry '", key, "' is given twice");
    seen[key] = true;
    if (!it->second.sizes().equals(src->sizes())) {
      std::ostringstream os;
      os << key << " (checkpoint " << src->sizes() << ", model " << it->second.sizes() << ")";
      mismatched.push_back(os.str());
      continue;
    }
    plan.emplace_back(it->second, src);
  }
  for (auto& [k, t] : own)
    if (!seen.count(k)) missing.push_back(k);
  if (!mismatched.empty() || (strict && (!missing.empty() || !unexpected.empty()))) {
    std::ostringstream os;
    os << "state does not fit the " << m.kind << ":";
    if (!missing.empty()) os << "\n  missing keys (" << missing.size() << "): " << join(missing, 20);
    if (!unexpected.empty()) os << "\n  unexpected keys (" << unexpected.size() << "): " << join(unexpected, 20);
    if (!mismatched.empty()) os << "\n  shape mismatches (" << mismatched.size() << "): " << join(mismatched, 20);
    fail(D2G_INVALID_ARGUMENT, os.str());
  }
  torch::NoGradGuard no_grad;
  for (auto& [dst, src] : plan) dst.copy_(*src);
}

}  // namespace d2g

