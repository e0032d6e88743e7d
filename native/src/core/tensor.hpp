// The tensor handle behind d2g_tensor*, conversions between the C API's codes and ATen's types, and
// the argument checks the C API shares.
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

// Bytes of a C-contiguous tensor of this shape and dtype.
size_t nbytes_of(const std::vector<int64_t>& shape, at::ScalarType st);
// D2G_INVALID_ARGUMENT unless given == expected ("<what> has N bytes but the tensor needs M").
void check_nbytes(size_t expected, size_t given, const char* what);
// D2G_INVALID_ARGUMENT unless both are on one device.
void same_device(const at::Tensor& a, const at::Tensor& b, const char* op);
// D2G_INVALID_ARGUMENT unless a and b broadcast together (into = true: b expands to a's shape).
void check_broadcast(const at::Tensor& a, const at::Tensor& b, const char* op, bool into);

}  // namespace d2g
