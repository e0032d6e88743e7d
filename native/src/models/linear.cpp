// The smallest model family: y = x Wᵀ + b (torch.nn.Linear, keys "weight" and "bias").
// It exercises the module machinery (create, state, load, to) in tests without a large network.
#include "../module.hpp"
#include "layers.hpp"
#include "../tensor.hpp"

namespace d2g {

static RegisterKind reg_linear("linear", [](const Config& c) {
  auto opts = torch::nn::LinearOptions(c.integer("in_features"), c.integer("out_features")).bias(c.boolean("bias", true));
  return std::static_pointer_cast<torch::nn::Module>(d2g::Linear(opts).ptr());
});

}  // namespace d2g

extern "C" d2g_status* d2g_linear_forward(const d2g_module* m, const d2g_tensor* x, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    auto& net = d2g::module_as<d2g::LinearImpl>(m, "linear");
    const at::Tensor& input = d2g::unwrap(x, "x");
    if (input.dim() == 0 || input.size(-1) != net.options.in_features())
      d2g::fail(D2G_INVALID_ARGUMENT, "linear: input ", d2g::describe(input), " must end in ", net.options.in_features(),
                " features");
    *out = d2g::wrap(net.forward(input));
  })
}
