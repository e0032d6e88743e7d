// Kind "linear": y = x Wᵀ + b (torch.nn.Linear, keys "weight" and "bias"), the smallest model family.
// It exercises the module machinery (create, state, load, to) in tests without a large network.
#include "../core/module.hpp"
#include "../nn/layers.hpp"

namespace d2g {

static RegisterKind reg_linear("linear", [](const Config& c) {
  auto opts = torch::nn::LinearOptions(c.integer("in_features"), c.integer("out_features")).bias(c.boolean("bias", true));
  if (opts.in_features() <= 0 || opts.out_features() <= 0 || opts.in_features() > (1 << 20) ||
      opts.out_features() > (1 << 20))
    fail(D2G_INVALID_ARGUMENT, "linear: in_features and out_features must be positive and at most 2^20");
  return std::static_pointer_cast<torch::nn::Module>(d2g::Linear(opts).ptr());
});

}  // namespace d2g
