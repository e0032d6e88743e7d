// The C API's random generators (d2g.h, "random generators").
#include "../core/generator.hpp"
#include "../core/tensor.hpp"

using d2g::fail;

extern "C" {

d2g_status* d2g_generator_create(int device_type, int device_index, uint64_t seed, d2g_generator** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    at::Device device = d2g::to_device(device_type, device_index);
    *out = new d2g_generator{d2g::make_generator(device, seed), device};
  })
}

d2g_status* d2g_generator_seed(d2g_generator* g, uint64_t seed) {
  D2G_GUARD({
    d2g::require(g, "generator");
    std::lock_guard<std::mutex> lock(g->gen.mutex());
    g->gen.set_current_seed(seed);
  })
}

d2g_status* d2g_generator_get_state(const d2g_generator* g, d2g_tensor** state) {
  D2G_GUARD({
    d2g::require(g, "generator");
    d2g::require(state, "state");
    at::Generator gen = g->gen;
    std::lock_guard<std::mutex> lock(gen.mutex());
    *state = d2g::wrap(gen.get_state());
  })
}

d2g_status* d2g_generator_set_state(d2g_generator* g, const d2g_tensor* state) {
  D2G_GUARD({
    d2g::require(g, "generator");
    const at::Tensor& s = d2g::unwrap(state, "state");
    if (s.scalar_type() != at::kByte || s.dim() != 1 || !s.device().is_cpu())
      fail(D2G_INVALID_ARGUMENT, "a generator state is a u8 [N] CPU tensor, not ", d2g::describe(s));
    std::lock_guard<std::mutex> lock(g->gen.mutex());
    try {
      g->gen.set_state(s.contiguous());
    } catch (const c10::Error& e) {
      fail(D2G_INVALID_ARGUMENT, "not a state of a ", g->device.is_cpu() ? "CPU" : "CUDA", " generator (",
           d2g::torch_message(e), ")");
    }
  })
}

d2g_status* d2g_generator_device(const d2g_generator* g, int* device_type, int* device_index) {
  D2G_GUARD({
    d2g::require(g, "generator");
    d2g::require(device_type, "device_type");
    d2g::require(device_index, "device_index");
    *device_type = g->device.is_cuda() ? D2G_CUDA : D2G_CPU;
    *device_index = g->device.is_cuda() ? g->device.index() : 0;
  })
}

void d2g_generator_free(d2g_generator* g) { delete g; }

}  // extern "C"
