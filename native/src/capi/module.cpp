// The C API's module section (d2g.h, "modules"): creation from a registered model family, device and
// dtype moves, and the state dictionary.
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "../core/module.hpp"
#include "../core/tensor.hpp"

using d2g::fail;

extern "C" {

static d2g_status* create_module(const char* kind, const char* config, bool initialise, d2g_module** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    d2g::require(kind, "kind");
    *out = d2g::create_module(kind, d2g::Config::parse(config), initialise).release();
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
    // The entry itself, not a detached alias: a parameter's handle shows its requires_grad and .grad.
    if (tensor != nullptr) *tensor = d2g::wrap(t);
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
    std::vector<std::pair<std::string, const at::Tensor*>> entries;
    entries.reserve(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; i++) {
      if (names[i] == nullptr) fail(D2G_INVALID_ARGUMENT, "names[", i, "] is NULL");
      entries.emplace_back(names[i], &d2g::unwrap(tensors[i], "tensors[i]"));
    }
    d2g::load_state(*m, entries, strict != 0);
  })
}

d2g_status* d2g_module_parameter_count(const d2g_module* m, int64_t* out) {
  D2G_GUARD({
    d2g::require(m, "module");
    d2g::require(out, "out");
    *out = static_cast<int64_t>(m->net->parameters(true).size());
  })
}

d2g_status* d2g_module_set_requires_grad(d2g_module* m, int requires_grad) {
  D2G_GUARD({
    d2g::require(m, "module");
    for (auto& p : m->net->parameters(true)) p.set_requires_grad(requires_grad != 0);
  })
}

d2g_status* d2g_module_zero_grad(d2g_module* m) {
  D2G_GUARD({
    d2g::require(m, "module");
    for (auto& p : m->net->parameters(true)) p.mutable_grad().reset();
  })
}

void d2g_module_free(d2g_module* m) { delete m; }

}  // extern "C"
