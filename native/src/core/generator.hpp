// The generator handle behind d2g_generator*: LibTorch's CPU generator or a CUDA Philox generator.
#pragma once

#include <ATen/ATen.h>

#include "d2g.h"
#include "status.hpp"

struct d2g_generator {
  at::Generator gen;
  at::Device device;
};

namespace d2g {

// A new generator of the device, seeded.
at::Generator make_generator(const at::Device& device, uint64_t seed);

// The generator to draw from on `device`: g's (it must belong to that device), or none (LibTorch's
// default generator of the device) when g is NULL.
c10::optional<at::Generator> generator_for(const d2g_generator* g, const at::Device& device, const char* what);

}  // namespace d2g
