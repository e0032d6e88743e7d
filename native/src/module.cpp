// Module handles: creation from a registered model family, device/dtype moves, and the state
// dictionary (names and tensors) that checkpoints are loaded into and saved from.
#include "module.hpp"

#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>

#include "models/layers.hpp"
#include "tensor.hpp"

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

}  // namespace d2g

using d2g::fail;

extern "C" {

static d2g_status* create_module(const char* kind, const char* config, bool initialise, d2g_module** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    d2g::require(kind, "kind");
    auto& reg = d2g::registry();
    auto it = reg.find(kind);
    if (it == reg.end()) {
      std::vector<std::string> known;
      for (auto& e : reg) known.push_back(e.first);
      fail(D2G_INVALID_ARGUMENT, "unknown module kind '", kind, "' (known: ", d2g::join(known, 100), ")");
    }
    auto cfg = d2g::Config::parse(config);
    torch::NoGradGuard no_grad;
    std::optional<d2g::SkipInit> skip;
    if (!initialise) skip.emplace();
    auto net = it->second(cfg);
    auto state = d2g::state_of(*net);
    *out = new d2g_module{kind, std::move(net), std::move(state)};
  })
}

d2g_status* d2g_module_create(const char* kind, const char* config, d2g_module** out) {
  return create_module(kind, config, true, out);
}

d2g_status* d2g_module_create_empty(const char* kind, const char* config, d2g_module** out) {
  return create_module(kind, config, false, out);
}

d2g_status* d2g_module_kind(const d2g_module* m, char* buf, size_t capacity) {
  D2G_GUARD({
    d2g::require(m, "module");
    d2g::require(buf, "buf");
    if (capacity == 0) fail(D2G_INVALID_ARGUMENT, "capacity must be at least 1");
    std::strncpy(buf, m->kind.c_str(), capacity - 1);
    buf[capacity - 1] = '\0';
  })
}

d2g_status* d2g_module_to(d2g_module* m, int device_type, int device_index, int dtype) {
  D2G_GUARD({
    d2g::require(m, "module");
    auto device = d2g::to_device(device_type, device_index);
    c10::optional<at::ScalarType> st;
    if (dtype != -1) {
      st = d2g::to_scalar_type(dtype);
      if (!at::isFloatingType(*st)) fail(D2G_INVALID_ARGUMENT, "a module's dtype must be floating, not ", d2g::dtype_name(dtype));
    }
    torch::NoGradGuard no_grad;
    // Floating tensors take the dtype; integer buffers (e.g. position ids) only move device.
    for (auto& [name, t] : m->state) {
      at::Tensor moved = (st && at::isFloatingType(t.scalar_type())) ? t.to(device, *st) : t.to(device);
      t.set_data(moved);
    }
  })
}

d2g_status* d2g_module_set_channels_last(d2g_module* m, int channels_last) {
  D2G_GUARD({
    d2g::require(m, "module");
    torch::NoGradGuard no_grad;
    auto format = channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
    for (auto& [name, t] : m->state)
      if (t.dim() == 4 && t.is_floating_point()) t.set_data(t.contiguous(format));
  })
}

d2g_status* d2g_module_set_training(d2g_module* m, int training) {
  D2G_GUARD({
    d2g::require(m, "module");
    m->net->train(training != 0);
  })
}

d2g_status* d2g_module_state_size(const d2g_module* m, int64_t* out) {
  D2G_GUARD({
    d2g::require(m, "module");
    d2g::require(out, "out");
    *out = static_cast<int64_t>(m->state.size());
  })
}

d2g_status* d2g_module_state_entry(const d2g_module* m, int64_t index, char* name, size_t capacity,
                                   d2g_tensor** tensor) {
  D2G_GUARD({
    d2g::require(m, "module");
    const auto& state = m->state;
    if (index < 0 || index >= static_cast<int64_t>(state.size()))
      fail(D2G_INVALID_ARGUMENT, "state index ", index, " out of range 0..", state.size());
    const auto& [key, t] = state[index];
    if (name != nullptr) {
      if (capacity <= key.size()) fail(D2G_INVALID_ARGUMENT, "name buffer of ", capacity, " bytes is too small for '", key, "'");
      std::memcpy(name, key.c_str(), key.size() + 1);
    }
    if (tensor != nullptr) *tensor = d2g::wrap(t.detach());
  })
}

d2g_status* d2g_module_load_state(d2g_module* m, const char* const* names, const d2g_tensor* const* tensors,
                                  int64_t count, int strict) {
  D2G_GUARD({
    d2g::require(m, "module");
    if (count < 0) fail(D2G_INVALID_ARGUMENT, "count is negative");
    if (count > 0) {
      d2g::require(names, "names");
      d2g::require(tensors, "tensors");
    }
    std::map<std::string, at::Tensor> own;
    for (auto& [k, t] : m->state) own.emplace(k, t);
    std::vector<std::string> unexpected, mismatched, missing;
    std::vector<std::pair<at::Tensor, const at::Tensor*>> plan;
    std::map<std::string, bool> seen;
    for (int64_t i = 0; i < count; i++) {
      if (names[i] == nullptr) fail(D2G_INVALID_ARGUMENT, "names[", i, "] is NULL");
      std::string key(names[i]);
      const at::Tensor& src = d2g::unwrap(tensors[i], "tensors[i]");
      auto it = own.find(key);
      if (it == own.end()) {
        unexpected.push_back(key);
        continue;
      }
      seen[key] = true;
      if (!it->second.sizes().equals(src.sizes())) {
        std::ostringstream os;
        os << key << " (checkpoint " << src.sizes() << ", model " << it->second.sizes() << ")";
        mismatched.push_back(os.str());
        continue;
      }
      plan.emplace_back(it->second, &src);
    }
    for (auto& [k, t] : own)
      if (!seen.count(k)) missing.push_back(k);
    if (!mismatched.empty() || (strict && (!missing.empty() || !unexpected.empty()))) {
      std::ostringstream os;
      os << "state does not fit the " << m->kind << ":";
      if (!missing.empty()) os << "\n  missing keys (" << missing.size() << "): " << d2g::join(missing, 20);
      if (!unexpected.empty()) os << "\n  unexpected keys (" << unexpected.size() << "): " << d2g::join(unexpected, 20);
      if (!mismatched.empty()) os << "\n  shape mismatches (" << mismatched.size() << "): " << d2g::join(mismatched, 20);
      fail(D2G_INVALID_ARGUMENT, os.str());
    }
    torch::NoGradGuard no_grad;
    for (auto& [dst, src] : plan) dst.copy_(*src);
  })
}

void d2g_module_free(d2g_module* m) { delete m; }

}  // extern "C"
