// Internal: the module handle behind d2g_module*, and the registry of model families.
//
// A model family (UNet2DConditionModel, AutoencoderKL, CLIPTextModel, ...) lives in one file under
// native/src/models/, builds a torch::nn::Module whose parameter and buffer names equal the
// reference checkpoint keys, and registers a factory under its kind name:
//
//   static d2g::RegisterKind reg("unet2d_condition", [](const d2g::Config& c) { return ...; });
//
// Its forward entry points (declared in d2g.h) fetch the typed network with module_as<T>().
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>

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

}  // namespace d2g
