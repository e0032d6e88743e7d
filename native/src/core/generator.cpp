#include "generator.hpp"

#include <ATen/CPUGeneratorImpl.h>

#ifdef D2G_WITH_CUDA
#include <ATen/cuda/CUDAGeneratorImpl.h>
#endif

#include "tensor.hpp"

namespace d2g {

at::Generator make_generator(const at::Device& device, uint64_t seed) {
  at::Generator g;
  if (device.is_cpu()) {
    g = at::detail::createCPUGenerator(seed);
  } else {
#ifdef D2G_WITH_CUDA
    g = at::cuda::detail::createCUDAGenerator(device.index());
#else
    fail(D2G_DEVICE_UNAVAILABLE, "this build of the shim has no CUDA support");
#endif
  }
  std::lock_guard<std::mutex> lock(g.mutex());
  g.set_current_seed(seed);
  return g;
}

c10::optional<at::Generator> generator_for(const d2g_generator* g, const at::Device& device, const char* what) {
  if (g == nullptr) return c10::nullopt;
  if (g->device != device)
    fail(D2G_INVALID_ARGUMENT, what, ": the generator belongs to ", g->device, ", the tensor is drawn on ", device,
         "; create a generator for ", device);
  return g->gen;
}

}  // namespace d2g
