// Element-wise operations on tiny CPU tensors without the dispatcher's overhead.
#include "small_ops.hpp"

#include <ATen/record_function.h>
#include <torch/version.h>

#include <cstdint>
#include <functional>
#include <type_traits>

#include "host_memory.hpp"

namespace d2g {

// ---- small elementwise ops without the dispatcher ------------------------------------------------
//
// Adding two tiny CPU tensors through at::add is almost all overhead: the dispatcher's Autograd and
// ADInplaceOrView layers, TensorIterator's setup and LibTorch's allocator. For inputs where every one
// of those layers would only pass the call on, small_add computes the result directly into a tensor
// from the shim's host allocator, several times faster (the "tiny op" of benchmarks/README.md):
//  - both are ordinary dense CPU tensors: their dispatch keys are exactly those LibTorch gives one, so
//    no conjugate/negative/zero-tensor bit, not quantized, sparse, nested, mkldnn, a wrapper or an
//    inference tensor (a LibTorch that gives plain tensors other keys only loses the shortcut);
//  - neither requires grad (this API exposes no forward-mode AD), and neither has names (1.x);
//  - the same dtype (f32, f64, i32 or i64: no type promotion), the same shape, both contiguous, and
//    at most kSmallNumel elements, where LibTorch would run one thread as well;
//  - no RecordFunction callbacks (LibTorch's profiler) are registered: the profiler still sees
//    every op it would see through the dispatcher.
// The result is the same as at::add's, bit for bit: one IEEE addition per element (LibTorch computes
// a + 1·b, and 1·b is exact), two's-complement wrap-around for integers. It is an ordinary tensor that
// later graphs may save for backward. Everything else goes through at::add as before.
constexpr int64_t kSmallNumel = 1024;

static const c10::DispatchKeySet kPlainCpuKeys{c10::DispatchKey::CPU, c10::DispatchKey::ADInplaceOrView,
                                               c10::DispatchKey::AutogradCPU};

static inline bool plain_cpu(const at::Tensor& t) {
  if ((t.key_set() - c10::DispatchKeySet(c10::DispatchKey::AutocastCPU)) != kPlainCpuKeys) return false;
  if (t.requires_grad()) return false;
#if TORCH_VERSION_MAJOR < 2
  if (t.has_names()) return false;  // named tensors are gone from LibTorch 2.x
#endif
  return true;
}

// A new tensor of a's shape and dtype holding op(a[i], b[i]); a and b are contiguous with n elements.
template <typename T, typename Op>
static at::Tensor elementwise(const at::Tensor& a, const at::Tensor& b, int64_t n, Op op) {
  at::Tensor out = empty_host(a.sizes(), a.scalar_type());
  const T* __restrict pa = static_cast<const T*>(a.data_ptr());
  const T* __restrict pb = static_cast<const T*>(b.data_ptr());
  T* __restrict po = static_cast<T*>(out.data_ptr());
  for (int64_t i = 0; i < n; i++) po[i] = op(pa[i], pb[i]);
  return out;
}

// Integer addition that wraps around (two's complement) as LibTorch's does, without signed overflow.
template <typename T>
static T wrapping_add(T x, T y) {
  using U = std::make_unsigned_t<T>;
  return static_cast<T>(static_cast<U>(x) + static_cast<U>(y));
}

// The sum of a and b, or an undefined tensor when the inputs do not qualify (see above).
at::Tensor small_add(const at::Tensor& a, const at::Tensor& b) {
  int64_t n = a.numel();
  at::ScalarType st = a.scalar_type();
  if (n > kSmallNumel || b.scalar_type() != st || !a.sizes().equals(b.sizes()) || !plain_cpu(a) || !plain_cpu(b) ||
      !a.is_contiguous() || !b.is_contiguous() || at::hasCallbacks())
    return {};
  switch (st) {
    case at::kFloat: return elementwise<float>(a, b, n, std::plus<float>());
    case at::kDouble: return elementwise<double>(a, b, n, std::plus<double>());
    case at::kInt: return elementwise<int32_t>(a, b, n, wrapping_add<int32_t>);
    case at::kLong: return elementwise<int64_t>(a, b, n, wrapping_add<int64_t>);
    default: return {};
  }
}

}  // namespace d2g
