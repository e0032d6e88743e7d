// Internal: the tensor handle and conversions between C API enums and ATen types.
#pragma once

#include <ATen/ATen.h>

#include "d2g.h"
#include "status.hpp"

struct d2g_tensor {
  at::Tensor t;
};

namespace d2g {

inline const at::Tensor& unwrap(const d2g_tensor* h, const char* what = "tensor") {
  if (h == nullptr) fail(D2G_INVALID_ARGUMENT, what, " is NULL");
  if (!h->t.defined()) fail(D2G_INVALID_ARGUMENT, what, " is undefined");
  return h->t;
}

inline d2g_tensor* wrap(at::Tensor t) { return new d2g_tensor{std::move(t)}; }

at::ScalarType to_scalar_type(int dtype);
int from_scalar_type(at::ScalarType st);
const char* dtype_name(int dtype);
at::Device to_device(int device_type, int device_index);
std::vector<int64_t> to_shape(const int64_t* shape, int ndim);
std::string describe(const at::Tensor& t);  // "f32[2, 3] on cpu"

}  // namespace d2g
