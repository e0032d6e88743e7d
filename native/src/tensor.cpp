// Tensor handles: creation (empty, random, zero-copy over caller memory, copied from host), copies
// in and out, metadata, conversion and the few operations the bridge's tests and benchmarks need.
#include "tensor.hpp"

#include <torch/cuda.h>

#include <cstring>
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

static size_t nbytes_of(const std::vector<int64_t>& shape, at::ScalarType st) {
  size_t n = c10::elementSize(st);
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

static void check_nbytes(size_t expected, size_t given, const char* what) {
  if (expected != given)
    fail(D2G_INVALID_ARGUMENT, what, " has ", given, " bytes but the tensor needs ", expected);
}

static void same_device(const at::Tensor& a, const at::Tensor& b, const char* op) {
  if (a.device() != b.device())
    fail(D2G_INVALID_ARGUMENT, op, ": tensors are on different devices (", describe(a), " and ", describe(b),
         "); move one with to()");
}

// Throws D2G_INVALID_ARGUMENT unless shapes a and b broadcast together (or, with into=true, b expands to a).
static void check_broadcast(const at::Tensor& a, const at::Tensor& b, const char* op, bool into) {
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

using d2g::fail;
using d2g::unwrap;
using d2g::wrap;

extern "C" {

d2g_status* d2g_tensor_empty(const int64_t* shape, int ndim, int dtype, int device_type, int device_index,
                             int pinned, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    auto sizes = d2g::to_shape(shape, ndim);
    auto options = at::TensorOptions().dtype(d2g::to_scalar_type(dtype)).device(d2g::to_device(device_type, device_index));
    if (pinned) {
      if (device_type != D2G_CPU) fail(D2G_INVALID_ARGUMENT, "pinned memory is host memory: use device cpu");
      if (!torch::cuda::is_available())
        fail(D2G_DEVICE_UNAVAILABLE, "pinned host memory needs CUDA, which is not available");
      options = options.pinned_memory(true);
    }
    *out = wrap(at::empty(sizes, options));
  })
}

d2g_status* d2g_tensor_randn(const int64_t* shape, int ndim, int dtype, int device_type, int device_index,
                             d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    auto sizes = d2g::to_shape(shape, ndim);
    auto st = d2g::to_scalar_type(dtype);
    if (!at::isFloatingType(st))
      fail(D2G_INVALID_ARGUMENT, "randn needs a floating dtype, not ", d2g::dtype_name(dtype));
    *out = wrap(at::randn(sizes, at::TensorOptions().dtype(st).device(d2g::to_device(device_type, device_index))));
  })
}

d2g_status* d2g_tensor_from_blob(void* data, size_t nbytes, const int64_t* shape, int ndim, int dtype,
                                 d2g_release_fn release, void* context, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    auto sizes = d2g::to_shape(shape, ndim);
    auto st = d2g::to_scalar_type(dtype);
    d2g::check_nbytes(d2g::nbytes_of(sizes, st), nbytes, "memory");
    if (data == nullptr && nbytes != 0) fail(D2G_INVALID_ARGUMENT, "data is NULL");
    at::Tensor t;
    if (release != nullptr) {
      t = at::from_blob(data, sizes, [release, context](void*) { release(context); }, at::TensorOptions().dtype(st));
    } else {
      t = at::from_blob(data, sizes, at::TensorOptions().dtype(st));
    }
    *out = wrap(std::move(t));
  })
}

d2g_status* d2g_tensor_from_host(const void* data, size_t nbytes, const int64_t* shape, int ndim, int dtype,
                                 int device_type, int device_index, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    auto sizes = d2g::to_shape(shape, ndim);
    auto st = d2g::to_scalar_type(dtype);
    d2g::check_nbytes(d2g::nbytes_of(sizes, st), nbytes, "data");
    if (data == nullptr && nbytes != 0) fail(D2G_INVALID_ARGUMENT, "data is NULL");
    auto device = d2g::to_device(device_type, device_index);
    at::Tensor t = at::empty(sizes, at::TensorOptions().dtype(st).device(device));
    if (nbytes != 0) {
      if (device.is_cpu()) {
        std::memcpy(t.data_ptr(), data, nbytes);
      } else {
        t.copy_(at::from_blob(const_cast<void*>(data), sizes, at::TensorOptions().dtype(st)));
      }
    }
    *out = wrap(std::move(t));
  })
}

d2g_status* d2g_tensor_copy_from_host(d2g_tensor* dst, const void* data, size_t nbytes) {
  D2G_GUARD({
    at::Tensor& t = const_cast<at::Tensor&>(unwrap(dst, "dst"));
    d2g::check_nbytes(t.nbytes(), nbytes, "data");
    if (nbytes == 0) return nullptr;
    if (data == nullptr) fail(D2G_INVALID_ARGUMENT, "data is NULL");
    if (t.device().is_cpu() && t.is_contiguous()) {
      std::memcpy(t.data_ptr(), data, nbytes);
    } else {
      t.copy_(at::from_blob(const_cast<void*>(data), t.sizes(), at::TensorOptions().dtype(t.scalar_type())));
    }
  })
}

d2g_status* d2g_tensor_copy_to_host(const d2g_tensor* src, void* data, size_t nbytes) {
  D2G_GUARD({
    const at::Tensor& t = unwrap(src, "src");
    d2g::check_nbytes(t.nbytes(), nbytes, "destination");
    if (nbytes == 0) return nullptr;
    if (data == nullptr) fail(D2G_INVALID_ARGUMENT, "data is NULL");
    if (t.device().is_cpu() && t.is_contiguous()) {
      std::memcpy(data, t.data_ptr(), nbytes);
    } else {
      at::from_blob(data, t.sizes(), at::TensorOptions().dtype(t.scalar_type())).copy_(t);
    }
  })
}

d2g_status* d2g_tensor_copy_(d2g_tensor* dst, const d2g_tensor* src, int non_blocking) {
  D2G_GUARD({
    at::Tensor& d = const_cast<at::Tensor&>(unwrap(dst, "dst"));
    const at::Tensor& s = unwrap(src, "src");
    d2g::check_broadcast(d, s, "copy_", true);
    d.copy_(s, non_blocking != 0);
  })
}

d2g_status* d2g_tensor_data_ptr(const d2g_tensor* h, void** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    const at::Tensor& t = unwrap(h);
    if (!t.device().is_cpu())
      fail(D2G_INVALID_ARGUMENT, "data pointer needs a CPU tensor, this is ", d2g::describe(t), "; copy it with to(cpu)");
    if (!t.is_contiguous())
      fail(D2G_INVALID_ARGUMENT, "data pointer needs a contiguous tensor; call contiguous() first");
    *out = t.data_ptr();
  })
}

d2g_status* d2g_tensor_alias(const d2g_tensor* h, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    *out = wrap(unwrap(h));
  })
}

d2g_status* d2g_tensor_ndim(const d2g_tensor* h, int* out) {
  D2G_GUARD({
    d2g::require(out, "out");
    *out = static_cast<int>(unwrap(h).dim());
  })
}

d2g_status* d2g_tensor_shape(const d2g_tensor* h, int64_t* shape, int capacity) {
  D2G_GUARD({
    const at::Tensor& t = unwrap(h);
    if (capacity < 0) fail(D2G_INVALID_ARGUMENT, "capacity is negative");
    if (capacity > 0) d2g::require(shape, "shape");
    int n = std::min<int>(capacity, static_cast<int>(t.dim()));
    for (int i = 0; i < n; i++) shape[i] = t.size(i);
  })
}

d2g_status* d2g_tensor_dtype(const d2g_tensor* h, int* out) {
  D2G_GUARD({
    d2g::require(out, "out");
    *out = d2g::from_scalar_type(unwrap(h).scalar_type());
  })
}

d2g_status* d2g_tensor_device(const d2g_tensor* h, int* device_type, int* device_index) {
  D2G_GUARD({
    d2g::require(device_type, "device_type");
    d2g::require(device_index, "device_index");
    auto d = unwrap(h).device();
    *device_type = d.is_cuda() ? D2G_CUDA : D2G_CPU;
    *device_index = d.is_cuda() ? d.index() : 0;
  })
}

d2g_status* d2g_tensor_numel(const d2g_tensor* h, int64_t* out) {
  D2G_GUARD({
    d2g::require(out, "out");
    *out = unwrap(h).numel();
  })
}

d2g_status* d2g_tensor_is_contiguous(const d2g_tensor* h, int* out) {
  D2G_GUARD({
    d2g::require(out, "out");
    *out = unwrap(h).is_contiguous() ? 1 : 0;
  })
}

d2g_status* d2g_tensor_to(const d2g_tensor* h, int device_type, int device_index, int dtype, int non_blocking,
                          d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    const at::Tensor& t = unwrap(h);
    auto device = d2g::to_device(device_type, device_index);
    auto st = dtype == -1 ? t.scalar_type() : d2g::to_scalar_type(dtype);
    *out = wrap(t.to(device, st, non_blocking != 0, /*copy=*/false));
  })
}

d2g_status* d2g_tensor_contiguous(const d2g_tensor* h, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    *out = wrap(unwrap(h).contiguous());
  })
}

d2g_status* d2g_tensor_reshape(const d2g_tensor* h, const int64_t* shape, int ndim, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    const at::Tensor& t = unwrap(h);
    if (ndim < 0 || ndim > D2G_MAX_DIMS) fail(D2G_INVALID_ARGUMENT, "ndim ", ndim, " is out of range 0..", D2G_MAX_DIMS);
    if (ndim > 0) d2g::require(shape, "shape");
    std::vector<int64_t> sizes(shape, shape + ndim);
    int64_t known = 1;
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
      if (sizes[i] == -1) {
        if (infer >= 0) fail(D2G_INVALID_ARGUMENT, "reshape: only one dimension may be -1");
        infer = i;
      } else if (sizes[i] < 0) {
        fail(D2G_INVALID_ARGUMENT, "reshape: dimension ", i, " has negative size ", sizes[i]);
      } else {
        known *= sizes[i];
      }
    }
    if ((infer < 0 && known != t.numel()) || (infer >= 0 && (known == 0 || t.numel() % known != 0)))
      fail(D2G_INVALID_ARGUMENT, "reshape: cannot view ", d2g::describe(t), " (", t.numel(), " elements) as ",
           c10::IntArrayRef(sizes));
    *out = wrap(t.reshape(sizes));
  })
}

d2g_status* d2g_add(const d2g_tensor* a, const d2g_tensor* b, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    const at::Tensor& x = unwrap(a, "a");
    const at::Tensor& y = unwrap(b, "b");
    // A 0-dim CPU tensor is a scalar in torch and may meet any device; everything else must match.
    if (x.device() != y.device() && !(x.dim() == 0 && x.is_cpu()) && !(y.dim() == 0 && y.is_cpu()))
      d2g::same_device(x, y, "add");
    d2g::check_broadcast(x, y, "add", false);
    *out = wrap(at::add(x, y));
  })
}

d2g_status* d2g_matmul(const d2g_tensor* a, const d2g_tensor* b, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    const at::Tensor& x = unwrap(a, "a");
    const at::Tensor& y = unwrap(b, "b");
    d2g::same_device(x, y, "matmul");
    if (x.scalar_type() != y.scalar_type())
      fail(D2G_INVALID_ARGUMENT, "matmul: dtypes differ (", d2g::describe(x), " and ", d2g::describe(y),
           "); convert one with to()");
    if (x.dim() == 0 || y.dim() == 0) fail(D2G_INVALID_ARGUMENT, "matmul: both arguments need at least 1 dimension");
    int64_t k1 = x.size(-1);
    int64_t k2 = y.dim() == 1 ? y.size(0) : y.size(-2);
    if (k1 != k2)
      fail(D2G_INVALID_ARGUMENT, "matmul: inner dimensions differ: ", x.sizes(), " @ ", y.sizes(), " (", k1, " vs ", k2, ")");
    *out = wrap(at::matmul(x, y));
  })
}

d2g_status* d2g_sum(const d2g_tensor* h, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    *out = wrap(at::sum(unwrap(h)));
  })
}

d2g_status* d2g_tensor_item(const d2g_tensor* h, double* out) {
  D2G_GUARD({
    d2g::require(out, "out");
    const at::Tensor& t = unwrap(h);
    if (t.numel() != 1) fail(D2G_INVALID_ARGUMENT, "item needs a one-element tensor, this is ", d2g::describe(t));
    *out = t.item<double>();
  })
}

void d2g_tensor_free(d2g_tensor* h) { delete h; }

}  // extern "C"
