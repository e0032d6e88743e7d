// Element-wise operations on tiny CPU tensors computed directly, without the dispatcher's layers
// (the reasons and the exact conditions are in small_ops.cpp).
#pragma once

#include <ATen/ATen.h>

namespace d2g {

// a + b for two small, plain, same-shape, same-dtype contiguous CPU tensors, bit for bit at::add's
// result; an undefined tensor when the inputs do not qualify (then use at::add).
at::Tensor small_add(const at::Tensor& a, const at::Tensor& b);

}  // namespace d2g
