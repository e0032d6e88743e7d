// The module handle behind d2g_module*, and the registry of model families.
//
// A model family (UNet2DConditionModel, AutoencoderKL, CLIPTextModel, ...) lives in native/src/models/
// (a public .hpp with its Options and Impl, a .cpp), builds a torch::nn::Module whose parameter and
// buffer names equal the reference checkpoint keys, and registers a factory under its kind name:
//
//   static d2g::RegisterKind reg("unet2d_condition", [](const d2g::Config& c) { return ...; });
//
// C++ code (pipelines, training steps) uses the model classes directly; the C API's forward entry
// points (capi/) fetch the typed network from a handle with module_as<T>().
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config.hpp"
#include "d2g.h"
#include "status.hpp"

struct d2g_module {
  std::string kind;
  std::shared_ptr<torch::nn::Module> net;
  // Parameters then buffers with their dotted names, listed once at creation: the tree never changes
  // after construction, and to()/channels_last swap data in place (set_data), so the handles stay valid.
  std::vector<std::pair<std::string, at::Tensor>> state;
};

namespace d2g {

using ModuleFactory = std::function<std::shared_ptr<torch::nn::Module>(const Config&)>;

struct RegisterKind {
  RegisterKind(const std::string& kind, ModuleFactory factory);
};

// The typed network of a handle of the given kind; a clear error if it is another kind.
template <typename Impl>
Impl& module_as(const d2g_module* m, const char* kind) {
  if (m == nullptr) fail(D2G_INVALID_ARGUMENT, "module is NULL");
  auto* p = dynamic_cast<Impl*>(m->net.get());
  if (p == nullptr) fail(D2G_INVALID_ARGUMENT, "module is a ", m->kind, ", not a ", kind);
  return *p;
}

// Device and dtype of a module's first parameter (CPU f32 if it has none).
at::TensorOptions module_options(const torch::nn::Module& net);

// A module of a registered kind, built from its config; initialise = false builds it under SkipInit
// (parameters allocated, not filled). Every config key must be one the family reads.
std::unique_ptr<d2g_module> create_module(const std::string& kind, const Config& config, bool initialise);

// Copies named tensors into the module's state (converting dtype and device). Shape mismatches are
// always errors; with strict, missing and unexpected keys are too. All problems are reported together
// in one D2G_INVALID_ARGUMENT; on error nothing is copied.
void load_state(d2g_module& m, const std::vector<std::pair<std::string, const at::Tensor*>>& entries, bool strict);

}  // namespace d2g
