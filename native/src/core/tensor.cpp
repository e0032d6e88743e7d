// Conversions between the C API's codes and ATen's types, and the argument checks the C API shares.
#include "tensor.hpp"

#include <torch/cuda.h>

#include <algorithm>
#include <cstdint>
#include <sstream>

namespace d2g {

at::ScalarType to_scalar_type(int dtype) {
  switch (dtype) {
    case D2G_F32: return at::kFloat;
    case D2G_F16: return at::kHalf;
    case D2G_BF16: return at::kBFloat16;
    case D2G_I32: return at::kInt;
    case D2G_I64: return at::kLong;
    case D2G_U8: return at::kByte;
    case D2G_BOOL: return at::kBool;
    case D2G_F64: return at::kDouble;
    default: fail(D2G_INVALID_ARGUMENT, "unknown dtype code ", dtype, " (expected 0..7, see d2g_dtype)");
  }
}

int from_scalar_type(at::ScalarType st) {
  switch (st) {
    case at::kFloat: return D2G_F32;
    case at::kHalf: return D2G_F16;
    case at::kBFloat16: return D2G_BF16;
    case at::kInt: return D2G_I32;
    case at::kLong: return D2G_I64;
    case at::kByte: return D2G_U8;
    case at::kBool: return D2G_BOOL;
    case at::kDouble: return D2G_F64;
    default: fail(D2G_INVALID_ARGUMENT, "tensor has dtype ", c10::toString(st), ", which this API does not expose");
  }
}

const char* dtype_name(int dtype) {
  static const char* names[] = {"f32", "f16", "bf16", "i32", "i64", "u8", "bool", "f64"};
  return dtype >= 0 && dtype <= D2G_F64 ? names[dtype] : "?";
}

at::Device to_device(int device_type, int device_index) {
  if (device_type == D2G_CPU) {
    if (device_index != 0 && device_index != -1)
      fail(D2G_INVALID_ARGUMENT, "cpu has no device index ", device_index, " (use 0)");
    return at::Device(at::kCPU);
  }
  if (device_type == D2G_CUDA) {
    if (!torch::cuda::is_available())
      fail(D2G_DEVICE_UNAVAILABLE, "cuda:", device_index,
           " requested but CUDA is not available (LibTorch ", d2g_torch_version(),
           d2g_cuda_compiled() ? " with CUDA: no GPU or driver found)" : " was built for CPU only)");
    int count = static_cast<int>(torch::cuda::device_count());
    if (device_index < 0 || device_index >= count)
      fail(D2G_DEVICE_UNAVAILABLE, "no CUDA device ", device_index, " (this machine has ", count, ")");
    return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(device_index));
  }
  fail(D2G_INVALID_ARGUMENT, "unknown device type ", device_type, " (0 = cpu, 1 = cuda)");
}

std::vector<int64_t> to_shape(const int64_t* shape, int ndim) {
  if (ndim < 0 || ndim > D2G_MAX_DIMS)
    fail(D2G_INVALID_ARGUMENT, "ndim ", ndim, " is out of range 0..", D2G_MAX_DIMS);
  if (ndim > 0 && shape == nullptr) fail(D2G_INVALID_ARGUMENT, "shape is NULL but ndim is ", ndim);
  std::vector<int64_t> v(shape, shape + ndim);
  int64_t numel = 1;
  for (int i = 0; i < ndim; i++) {
    if (v[i] < 0) fail(D2G_INVALID_ARGUMENT, "dimension ", i, " has negative size ", v[i]);
    if (v[i] != 0 && numel > INT64_MAX / v[i])
      fail(D2G_INVALID_ARGUMENT, "shape has more than 2^63 elements");
    numel *= v[i];
  }
  return v;
}

std::string describe(const at::Tensor& t) {
  std::ostringstream os;
  os << c10::toString(t.scalar_type()) << t.sizes() << " on " << t.device();
  return os.str();
}

size_t nbytes_of(const std::vector<int64_t>& shape, at::ScalarType st) {
  size_t n = c10::elementSize(st);
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

void check_nbytes(size_t expected, size_t given, const char* what) {
  if (expected != given)
    fail(D2G_INVALID_ARGUMENT, what, " has ", given, " bytes but the tensor needs ", expected);
}

void same_device(const at::Tensor& a, const at::Tensor& b, const char* op) {
  if (a.device() != b.device())
    fail(D2G_INVALID_ARGUMENT, op, ": tensors are on different devices (", describe(a), " and ", describe(b),
         "); move one with to()");
}

// Throws D2G_INVALID_ARGUMENT unless shapes a and b broadcast together (or, with into=true, b expands to a).
void check_broadcast(const at::Tensor& a, const at::Tensor& b, const char* op, bool into) {
  if (a.sizes().equals(b.sizes())) return;  // the common case, without a loop over the dimensions
  int na = static_cast<int>(a.dim()), nb = static_cast<int>(b.dim());
  bool ok = !into || nb <= na;
  for (int i = 1; ok && i <= std::min(na, nb); i++) {
    int64_t sa = a.size(na - i), sb = b.size(nb - i);
    ok = sa == sb || sb == 1 || (!into && sa == 1);
  }
  if (!ok)
    fail(D2G_INVALID_ARGUMENT, op, ": shapes ", a.sizes(), " and ", b.sizes(),
         into ? " differ (the source must have the destination's shape or broadcast to it)" : " do not broadcast");
}

}  // namespace d2g
