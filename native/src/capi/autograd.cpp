// The C API's autograd section (d2g.h, "how computing calls run, and autograd"): variables, their
// gradients, backward and torch.autograd.grad.
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>

#include <vector>

#include "../core/tensor.hpp"

using d2g::fail;
using d2g::unwrap;
using d2g::wrap;

extern "C" {

d2g_status* d2g_tensor_set_requires_grad(d2g_tensor* h, int requires_grad) {
  D2G_GUARD({
    at::Tensor& t = const_cast<at::Tensor&>(unwrap(h));
    if (requires_grad && !at::isFloatingType(t.scalar_type()))
      fail(D2G_INVALID_ARGUMENT, "only floating tensors can require grad; this is ", d2g::describe(t));
    if (!t.is_leaf())
      fail(D2G_INVALID_ARGUMENT, "requires_grad can be set on leaf tensors only; this one was computed with "
           "D2G_EXEC_GRAD (detach it first to make a new leaf)");
    t.set_requires_grad(requires_grad != 0);
  })
}

d2g_status* d2g_tensor_requires_grad(const d2g_tensor* h, int* out) {
  D2G_GUARD({
    d2g::require(out, "out");
    *out = unwrap(h).requires_grad() ? 1 : 0;
  })
}

d2g_status* d2g_tensor_grad(const d2g_tensor* h, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    const at::Tensor& g = unwrap(h).grad();
    *out = g.defined() ? wrap(g) : nullptr;
  })
}

d2g_status* d2g_tensor_zero_grad(d2g_tensor* h) {
  D2G_GUARD({
    at::Tensor& t = const_cast<at::Tensor&>(unwrap(h));
    t.mutable_grad().reset();
  })
}

d2g_status* d2g_tensor_backward(const d2g_tensor* h, const d2g_tensor* grad, int retain_graph) {
  D2G_GUARD({
    const at::Tensor& t = unwrap(h);
    if (!t.requires_grad())
      fail(D2G_INVALID_ARGUMENT, "backward: the tensor does not require grad (compute it with D2G_EXEC_GRAD from "
           "tensors or parameters that require grad)");
    at::Tensor g;
    if (grad != nullptr) {
      g = unwrap(grad, "grad");
      if (!g.sizes().equals(t.sizes()))
        fail(D2G_INVALID_ARGUMENT, "backward: grad has shape ", g.sizes(), " but the tensor has ", t.sizes());
    } else if (t.numel() != 1) {
      fail(D2G_INVALID_ARGUMENT, "backward: give a grad for a tensor of ", t.numel(), " elements (only one-element "
           "tensors default to 1)");
    }
    c10::AutoGradMode grad_mode(true);
    t.backward(g, retain_graph != 0, false);
  })
}

d2g_status* d2g_autograd_grad(const d2g_tensor* const* outputs, const d2g_tensor* const* grad_outputs, int n_outputs,
                              const d2g_tensor* const* inputs, int n_inputs, int create_graph, d2g_tensor** grads) {
  D2G_GUARD({
    d2g::require(grads, "grads");
    if (n_outputs < 1 || n_inputs < 1) fail(D2G_INVALID_ARGUMENT, "autograd_grad needs at least one output and one input");
    d2g::require(outputs, "outputs");
    d2g::require(inputs, "inputs");
    std::vector<at::Tensor> outs, gouts, ins;
    for (int i = 0; i < n_outputs; i++) {
      const at::Tensor& o = unwrap(outputs[i], "outputs[i]");
      if (!o.requires_grad()) fail(D2G_INVALID_ARGUMENT, "autograd_grad: output ", i, " does not require grad");
      outs.push_back(o);
      if (grad_outputs != nullptr) {
        const at::Tensor& g = unwrap(grad_outputs[i], "grad_outputs[i]");
        if (!g.sizes().equals(o.sizes()))
          fail(D2G_INVALID_ARGUMENT, "autograd_grad: grad_outputs[", i, "] has shape ", g.sizes(), ", output ", o.sizes());
        gouts.push_back(g);
      } else if (o.numel() != 1) {
        fail(D2G_INVALID_ARGUMENT, "autograd_grad: output ", i, " has ", o.numel(), " elements; give grad_outputs");
      } else {
        gouts.push_back(at::ones_like(o));
      }
    }
    for (int i = 0; i < n_inputs; i++) {
      const at::Tensor& x = unwrap(inputs[i], "inputs[i]");
      if (!x.requires_grad()) fail(D2G_INVALID_ARGUMENT, "autograd_grad: input ", i, " does not require grad");
      ins.push_back(x);
    }
    c10::AutoGradMode grad_mode(true);
    auto result = torch::autograd::grad(outs, ins, gouts, /*retain_graph=*/c10::nullopt, create_graph != 0,
                                        /*allow_unused=*/true);
    std::vector<d2g_tensor*> made;
    try {
      for (auto& g : result) made.push_back(g.defined() ? wrap(g) : nullptr);
    } catch (...) {
      for (auto* m : made) delete m;
      throw;
    }
    for (size_t i = 0; i < made.size(); i++) grads[i] = made[i];
  })
}

d2g_status* d2g_tensor_detach(const d2g_tensor* h, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    *out = wrap(unwrap(h).detach());
  })
}

}  // extern "C"
