// The C API's tensor section (d2g.h, "tensors"): creation, copies, metadata, conversions and the few
// operations the API exposes.
#include <c10/core/GradMode.h>
#include <ATen/ATen.h>
#include <torch/cuda.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "../core/exec.hpp"
#include "../core/generator.hpp"
#include "../core/host_memory.hpp"
#include "../core/small_ops.hpp"
#include "../core/tensor.hpp"

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
    bool host = device_type == D2G_CPU && !pinned && !at::globalContext().deterministicAlgorithms();
    *out = wrap(host ? d2g::empty_host(sizes, d2g::to_scalar_type(dtype)) : at::empty(sizes, options));
  })
}

d2g_status* d2g_tensor_randn(const int64_t* shape, int ndim, int dtype, int device_type, int device_index,
                             const d2g_generator* gen, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    auto sizes = d2g::to_shape(shape, ndim);
    auto st = d2g::to_scalar_type(dtype);
    if (!at::isFloatingType(st))
      fail(D2G_INVALID_ARGUMENT, "randn needs a floating dtype, not ", d2g::dtype_name(dtype));
    auto device = d2g::to_device(device_type, device_index);
    auto g = d2g::generator_for(gen, device, "randn");
    *out = wrap(at::randn(sizes, g, at::TensorOptions().dtype(st).device(device)));
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
    at::Tensor t = device.is_cpu() ? d2g::empty_host(sizes, st) : at::empty(sizes, at::TensorOptions().dtype(st).device(device));
    if (nbytes != 0) {
      if (device.is_cpu()) {
        d2g::copy_bytes(t.data_ptr(), data, nbytes);
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
      d2g::copy_bytes(t.data_ptr(), data, nbytes);
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
      d2g::copy_bytes(data, t.data_ptr(), nbytes);
    } else {
      at::from_blob(data, t.sizes(), at::TensorOptions().dtype(t.scalar_type())).copy_(t);
    }
  })
}

d2g_status* d2g_set_host_copy_threads(int threads, int* previous) {
  D2G_GUARD({
    if (threads < 0 || threads > d2g::kMaxCopyThreads)
      fail(D2G_INVALID_ARGUMENT, "threads must be 0 (the default) to ", d2g::kMaxCopyThreads, ", got ", threads);
    int before = d2g::set_copy_threads(threads);
    if (previous != nullptr) *previous = before;
  })
}

d2g_status* d2g_tensor_copy_(d2g_tensor* dst, const d2g_tensor* src, int non_blocking) {
  D2G_GUARD({
    at::Tensor& d = const_cast<at::Tensor&>(unwrap(dst, "dst"));
    const at::Tensor& s = unwrap(src, "src");
    d2g::check_broadcast(d, s, "copy_", true);
    c10::NoGradGuard no_grad;  // a write into a parameter is not part of any graph
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
                          int exec, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    const at::Tensor& t = unwrap(h);
    auto device = d2g::to_device(device_type, device_index);
    d2g::ExecScope scope(exec, t.device().type());
    auto st = dtype == -1 ? t.scalar_type() : d2g::to_scalar_type(dtype);
    *out = wrap(t.to(device, st, non_blocking != 0, /*copy=*/false));
  })
}

d2g_status* d2g_tensor_contiguous(const d2g_tensor* h, int exec, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    const at::Tensor& t = unwrap(h);
    d2g::ExecScope scope(exec, t.device().type());
    *out = wrap(t.contiguous());
  })
}

d2g_status* d2g_tensor_reshape(const d2g_tensor* h, const int64_t* shape, int ndim, int exec, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    const at::Tensor& t = unwrap(h);
    d2g::ExecScope scope(exec, t.device().type());
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

// A 0-dim CPU tensor is a number in torch and may meet any device; everything else must match.
static void same_device_or_scalar(const at::Tensor& x, const at::Tensor& y, const char* op) {
  if (x.device() != y.device() && !(x.dim() == 0 && x.is_cpu()) && !(y.dim() == 0 && y.is_cpu()))
    d2g::same_device(x, y, op);
}

static c10::DeviceType compute_device(const at::Tensor& x, const at::Tensor& y) {
  return x.dim() == 0 && x.is_cpu() ? y.device().type() : x.device().type();
}

d2g_status* d2g_binary(int op, const d2g_tensor* a, const d2g_tensor* b, int exec, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    const at::Tensor& x = unwrap(a, "a");
    const at::Tensor& y = unwrap(b, "b");
    static const char* names[] = {"add", "sub", "mul", "div"};
    if (op < D2G_OP_ADD || op > D2G_OP_DIV) fail(D2G_INVALID_ARGUMENT, "unknown binary operation ", op);
    same_device_or_scalar(x, y, names[op]);
    d2g::check_broadcast(x, y, names[op], false);
    if (op == D2G_OP_ADD && exec == 0) {  // the common tiny case skips the dispatcher (small_ops.cpp)
      at::Tensor sum = d2g::small_add(x, y);
      if (sum.defined()) {
        *out = wrap(std::move(sum));
        return nullptr;
      }
    }
    d2g::ExecScope scope(exec, compute_device(x, y));
    switch (op) {
      case D2G_OP_ADD: *out = wrap(at::add(x, y)); break;
      case D2G_OP_SUB: *out = wrap(at::sub(x, y)); break;
      case D2G_OP_MUL: *out = wrap(at::mul(x, y)); break;
      default: *out = wrap(at::div(x, y)); break;
    }
  })
}

d2g_status* d2g_scalar_op(int op, const d2g_tensor* h, double s, int exec, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    const at::Tensor& t = unwrap(h);
    d2g::ExecScope scope(exec, t.device().type());
    switch (op) {
      case D2G_OP_ADD: *out = wrap(at::add(t, s)); break;
      case D2G_OP_SUB: *out = wrap(at::sub(t, s)); break;
      case D2G_OP_MUL: *out = wrap(at::mul(t, s)); break;
      case D2G_OP_DIV: *out = wrap(at::div(t, s)); break;
      case D2G_OP_POW: *out = wrap(at::pow(t, s)); break;
      default: fail(D2G_INVALID_ARGUMENT, "unknown scalar operation ", op);
    }
  })
}

d2g_status* d2g_unary(int op, const d2g_tensor* h, int exec, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    const at::Tensor& t = unwrap(h);
    if (op < D2G_OP_NEG || op > D2G_OP_SOFTPLUS) fail(D2G_INVALID_ARGUMENT, "unknown unary operation ", op);
    if (op != D2G_OP_NEG && op != D2G_OP_ABS && op != D2G_OP_SQUARE && !at::isFloatingType(t.scalar_type()))
      fail(D2G_INVALID_ARGUMENT, "this operation needs a floating tensor, not ", d2g::describe(t));
    d2g::ExecScope scope(exec, t.device().type());
    at::Tensor r;
    switch (op) {
      case D2G_OP_NEG: r = at::neg(t); break;
      case D2G_OP_EXP: r = at::exp(t); break;
      case D2G_OP_LOG: r = at::log(t); break;
      case D2G_OP_SQRT: r = at::sqrt(t); break;
      case D2G_OP_ABS: r = at::abs(t); break;
      case D2G_OP_SQUARE: r = at::square(t); break;
      case D2G_OP_RELU: r = at::relu(t); break;
      case D2G_OP_SIGMOID: r = at::sigmoid(t); break;
      case D2G_OP_TANH: r = at::tanh(t); break;
      case D2G_OP_SILU: r = at::silu(t); break;
      default: r = at::softplus(t); break;
    }
    *out = wrap(std::move(r));
  })
}

d2g_status* d2g_reduce(int op, const d2g_tensor* h, const int64_t* dims, int ndims, int keepdim, int exec,
                       d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    const at::Tensor& t = unwrap(h);
    if (op != D2G_REDUCE_SUM && op != D2G_REDUCE_MEAN) fail(D2G_INVALID_ARGUMENT, "unknown reduction ", op);
    if (ndims < 0 || ndims > D2G_MAX_DIMS) fail(D2G_INVALID_ARGUMENT, "ndims ", ndims, " is out of range 0..", D2G_MAX_DIMS);
    std::vector<int64_t> d;
    if (ndims > 0) {
      d2g::require(dims, "dims");
      const int64_t nd = t.dim();
      std::vector<bool> seen(static_cast<size_t>(std::max<int64_t>(nd, 1)), false);
      for (int i = 0; i < ndims; i++) {
        int64_t k = dims[i] < 0 ? dims[i] + nd : dims[i];
        if (k < 0 || k >= nd) fail(D2G_INVALID_ARGUMENT, "reduce: dimension ", dims[i], " is out of range for ", d2g::describe(t));
        if (seen[static_cast<size_t>(k)]) fail(D2G_INVALID_ARGUMENT, "reduce: dimension ", dims[i], " is given twice");
        seen[static_cast<size_t>(k)] = true;
        d.push_back(k);
      }
    }
    if (op == D2G_REDUCE_MEAN && !at::isFloatingType(t.scalar_type()))
      fail(D2G_INVALID_ARGUMENT, "mean needs a floating tensor, not ", d2g::describe(t));
    d2g::ExecScope scope(exec, t.device().type());
    if (d.empty()) *out = wrap(op == D2G_REDUCE_SUM ? at::sum(t) : at::mean(t));
    else *out = wrap(op == D2G_REDUCE_SUM ? at::sum(t, d, keepdim != 0) : at::mean(t, d, keepdim != 0));
  })
}

d2g_status* d2g_matmul(const d2g_tensor* a, const d2g_tensor* b, int exec, d2g_tensor** out) {
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
    d2g::ExecScope scope(exec, x.device().type());
    *out = wrap(at::matmul(x, y));
  })
}

d2g_status* d2g_narrow(const d2g_tensor* h, int dim, int64_t start, int64_t length, int exec, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    const at::Tensor& t = unwrap(h);
    const int64_t nd = t.dim();
    if (nd == 0) fail(D2G_INVALID_ARGUMENT, "narrow: a 0-dim tensor has no dimension to narrow");
    if (dim < -nd || dim >= nd) fail(D2G_INVALID_ARGUMENT, "narrow: dim ", dim, " is out of range for ", nd, " dimensions");
    const int64_t d = dim < 0 ? dim + nd : dim;
    if (start < 0 || length < 0 || start + length > t.size(d))
      fail(D2G_INVALID_ARGUMENT, "narrow: entries ", start, " to ", start + length, " of dimension ", d, " (size ",
           t.size(d), ") do not fit");
    d2g::ExecScope scope(exec, t.device().type());
    *out = wrap(t.narrow(d, start, length));
  })
}

d2g_status* d2g_lincomb(const d2g_tensor* const* tensors, const double* coeffs, int count, int exec,
                        d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    if (count < 1 || count > 8) fail(D2G_INVALID_ARGUMENT, "lincomb takes 1 to 8 tensors, got ", count);
    d2g::require(tensors, "tensors");
    d2g::require(coeffs, "coeffs");
    const at::Tensor& first = unwrap(tensors[0], "tensors[0]");
    if (!first.is_floating_point()) fail(D2G_INVALID_ARGUMENT, "lincomb: ", d2g::describe(first), " is not floating");
    for (int i = 0; i < count; i++) {
      const at::Tensor& t = unwrap(tensors[i], "tensors[i]");
      if (!std::isfinite(coeffs[i])) fail(D2G_INVALID_ARGUMENT, "lincomb: coefficient ", i, " is ", coeffs[i]);
      d2g::same_device(first, t, "lincomb");
      if (t.scalar_type() != first.scalar_type() || !t.sizes().equals(first.sizes()))
        fail(D2G_INVALID_ARGUMENT, "lincomb: ", d2g::describe(first), " and ", d2g::describe(t), " differ");
    }
    d2g::ExecScope scope(exec, first.device().type());
    at::Tensor sum = at::mul(first, coeffs[0]);
    for (int i = 1; i < count; i++) {
      const at::Tensor& t = unwrap(tensors[i], "tensors[i]");
      sum = at::GradMode::is_enabled() ? sum.add(t, coeffs[i]) : sum.add_(t, coeffs[i]);
    }
    *out = wrap(sum);
  })
}

d2g_status* d2g_cat(const d2g_tensor* const* tensors, int count, int dim, int exec, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    if (count < 1) fail(D2G_INVALID_ARGUMENT, "cat needs at least one tensor, got ", count);
    d2g::require(tensors, "tensors");
    std::vector<at::Tensor> parts;
    parts.reserve(static_cast<size_t>(count));
    for (int i = 0; i < count; i++) parts.push_back(unwrap(tensors[i], "tensors[i]"));
    const at::Tensor& first = parts[0];
    const int64_t nd = first.dim();
    if (nd == 0) fail(D2G_INVALID_ARGUMENT, "cat: 0-dim tensors cannot be joined");
    if (dim < -nd || dim >= nd) fail(D2G_INVALID_ARGUMENT, "cat: dim ", dim, " is out of range for ", nd, " dimensions");
    const int64_t d = dim < 0 ? dim + nd : dim;
    for (int i = 1; i < count; i++) {
      const at::Tensor& t = parts[i];
      d2g::same_device(first, t, "cat");
      if (t.scalar_type() != first.scalar_type())
        fail(D2G_INVALID_ARGUMENT, "cat: dtypes differ (", d2g::describe(first), " and ", d2g::describe(t), ")");
      bool fits = t.dim() == nd;
      for (int64_t k = 0; fits && k < nd; k++) fits = k == d || t.size(k) == first.size(k);
      if (!fits)
        fail(D2G_INVALID_ARGUMENT, "cat: shapes ", first.sizes(), " and ", t.sizes(), " differ outside dimension ", d);
    }
    d2g::ExecScope scope(exec, first.device().type());
    *out = wrap(at::cat(parts, d));
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
