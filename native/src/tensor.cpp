// Tensor handles: creation (empty, random, zero-copy over caller memory, copied from host), copies
// in and out, metadata, conversion and the few operations the bridge's tests and benchmarks need.
#include "tensor.hpp"

#include <ATen/EmptyTensor.h>
#include <ATen/record_function.h>
#include <c10/core/CPUAllocator.h>
#include <sys/mman.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <sstream>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <emmintrin.h>
#define D2G_HAVE_SSE2_STREAM 1
#endif

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

// ---- host memory for the CPU tensors this API creates -----------------------------------------
//
// d2g_tensor_empty (CPU, not pinned), d2g_tensor_from_host (CPU) and d2g_add's small-tensor path
// allocate through this allocator; everything LibTorch allocates itself (op results, module
// parameters) keeps LibTorch's CPU allocator. It is deliberately NOT installed process-wide
// (c10::SetCPUAllocator): a library must not change how the host application's own LibTorch code
// allocates, and a process-wide allocator would also meet memory allocated before it was installed.
// The price is that only tensors this API creates get the faster allocation below.
//
//  - Small blocks (< 2 MiB) come from malloc, aligned to 64 bytes inside the block. LibTorch's own
//    allocator gets its 64-byte alignment from posix_memalign, which glibc serves on a slow path
//    (~60 ns against ~11 ns for malloc/free on the benchmark VM): a noticeable part of a tiny op.
//  - Blocks from 2 MiB up are 2 MiB-aligned and advised for transparent huge pages (THP is "madvise"
//    on Debian, so LibTorch's blocks never get huge pages): the first touch of a fresh 64 MiB tensor
//    takes 32 page faults instead of 16384 (the kernel still zeroes every page). With THP off the
//    advice is ignored and this is plain aligned memory. Memory use may round up to whole huge pages.
//
// Both kinds are freed with free(): the aligned address keeps its distance to the block start in the
// byte just below it, so one deleter serves both (and raw_allocate). Allocations are reported to
// LibTorch's memory profiler while it records, as LibTorch's allocator does. Storages stay resizable:
// a resize comes back here.
struct HostAllocator final : c10::Allocator {
  static constexpr size_t kAlignment = 64;               // c10::gAlignment
  static constexpr size_t kHugePage = size_t{2} << 20;  // x86-64 and most aarch64 kernels

  static inline std::atomic<int64_t> profiled_bytes{0};

  static void report(void* p, int64_t delta) {
    int64_t total = profiled_bytes.fetch_add(delta) + delta;
    c10::reportMemoryUsageToProfiler(p, delta, static_cast<size_t>(total), 0, c10::Device(c10::DeviceType::CPU));
  }

  static void release(void* p) {
    if (p == nullptr) return;
    auto* bytes = static_cast<unsigned char*>(p);
    if (c10::memoryProfilingEnabled()) {
      int64_t n;
      std::memcpy(&n, bytes - 16, sizeof n);
      report(p, -n);
    }
    std::free(bytes - bytes[-1]);
  }

  static c10::DataPtr allocate_host(size_t n) {
    c10::Device cpu(c10::DeviceType::CPU);
    if (n == 0) return {nullptr, nullptr, &release, cpu};
    TORCH_CHECK_WITH(OutOfMemoryError, n <= SIZE_MAX - kHugePage, "CPU allocator: ", n, " bytes is too large");
    unsigned char* base = nullptr;
    unsigned char* p = nullptr;
    if (n + kAlignment < kHugePage) {
      // malloc's blocks are 16-byte aligned: the aligned address is 16..64 bytes into the block.
      base = static_cast<unsigned char*>(std::malloc(n + kAlignment));
      if (base != nullptr)
        p = reinterpret_cast<unsigned char*>((reinterpret_cast<uintptr_t>(base) + kAlignment) & ~(kAlignment - 1));
    } else {
      void* block = nullptr;
      if (posix_memalign(&block, kHugePage, n + kAlignment) == 0 && block != nullptr) {
        base = static_cast<unsigned char*>(block);
        p = base + kAlignment;
        madvise(base, n + kAlignment, MADV_HUGEPAGE);  // advice only: failing (no THP) is harmless
      }
    }
    TORCH_CHECK_WITH(OutOfMemoryError, base != nullptr, "CPU allocator: out of memory allocating ", n, " bytes");
    p[-1] = static_cast<unsigned char>(p - base);
    int64_t size = static_cast<int64_t>(n);
    std::memcpy(p - 16, &size, sizeof size);
    if (c10::memoryProfilingEnabled()) report(p, size);
    return {p, p, &release, cpu};
  }

  // c10::Allocator::allocate is const up to LibTorch 2.2 and non-const from 2.3 on; copy_data is pure
  // virtual from 2.3 on and absent before. Defining both allocate overloads and copy_data without
  // `override` makes whichever the LibTorch in use declares the override, with no version guess; the
  // static_assert below catches a LibTorch that adds another pure virtual.
  c10::DataPtr allocate(size_t n) const { return allocate_host(n); }
  c10::DataPtr allocate(size_t n) { return allocate_host(n); }
  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }
};
static_assert(!std::is_abstract_v<HostAllocator>, "HostAllocator misses a pure virtual of c10::Allocator");

static HostAllocator g_host_allocator;

// An uninitialised contiguous CPU tensor in memory from g_host_allocator, made without a dispatcher
// round trip. With deterministic algorithms on, LibTorch 2.1+ fills empty tensors with NaN; callers
// that return uninitialised memory to the user check for that and use at::empty instead.
static at::Tensor empty_host(c10::IntArrayRef sizes, at::ScalarType st) {
  return at::Tensor(at::detail::empty_generic(sizes, &g_host_allocator, c10::DispatchKeySet(c10::DispatchKey::CPU),
                                              st, c10::nullopt));
}

// ---- large host copies ---------------------------------------------------------------------------
//
// From kStreamingCopy bytes up, copies use non-temporal (streaming) stores on x86-64: the
// destination's lines are written without first being read into the cache, so the copy moves two
// streams of memory instead of three, and it does not evict the cache for data that would not fit
// anyway. glibc's memcpy switches to streaming stores only from 3/4 of its estimate of the shared
// cache, which virtual machines often report wrongly: on the benchmark VM sysconf says 256 MiB of L3
// (lscpu: 32 MiB) and memcpy streams only from 192 MiB, so a 64 MiB memcpy reads the destination too.
// For the same reason the threshold is a constant, not sysconf's cache size.
//
// Such copies are also split over up to g_copy_threads threads (the caller's and short-lived helpers),
// as LibTorch splits its own large copies: one core rarely saturates memory bandwidth. Measured on the
// 2-core benchmark VM, 64 MiB: memcpy 11.6 ms, streaming on one thread 7.8-9.5 ms, on two 4.9-5.7 ms
// (benchmarks/native/host_copy_floor.c). LibTorch's intra-op pool is not used because its size and
// even its presence depend on how LibTorch was built (Debian's 1.13 runs one intra-op thread there);
// a helper thread costs tens of microseconds against milliseconds of copying.
constexpr size_t kStreamingCopy = size_t{16} << 20;
constexpr int kMaxCopyThreads = 64;

static int default_copy_threads() {
  return static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
}
static std::atomic<int> g_copy_threads{default_copy_threads()};

static void stream_bytes(char* d, const char* s, size_t n) {
#ifdef D2G_HAVE_SSE2_STREAM
  size_t head = std::min(n, (16 - (reinterpret_cast<uintptr_t>(d) & 15)) & 15);  // d to a 16-byte boundary
  std::memcpy(d, s, head);
  d += head;
  s += head;
  n -= head;
  size_t body = n & ~size_t{63};
  for (size_t i = 0; i < body; i += 64) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 16));
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 32));
    __m128i e = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 48));
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + i), a);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + i + 16), b);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + i + 32), c);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + i + 48), e);
  }
  _mm_sfence();  // streaming stores are weakly ordered: make them visible before returning
  std::memcpy(d + body, s + body, n - body);
#else
  std::memcpy(d, s, n);
#endif
}

static void copy_bytes(void* dst, const void* src, size_t n) {
  if (n < kStreamingCopy) {
    std::memcpy(dst, src, n);
    return;
  }
  auto* d = static_cast<char*>(dst);
  auto* s = static_cast<const char*>(src);
  const size_t parts = static_cast<size_t>(g_copy_threads.load(std::memory_order_relaxed));
  const size_t part = ((n / parts) + 63) & ~size_t{63};  // whole cache lines, so no line is shared
  auto copy_part = [=](size_t k) {
    size_t lo = std::min(n, k * part), hi = std::min(n, (k + 1) * part);
    stream_bytes(d + lo, s + lo, hi - lo);
  };
  std::vector<std::thread> helpers;
  helpers.reserve(parts - 1);
  size_t k = 1;
  try {
    for (; k < parts; k++) helpers.emplace_back(copy_part, k);
  } catch (const std::system_error&) {
    // no more threads to be had: the caller copies the parts left over itself
  }
  for (size_t rest = k; rest < parts; rest++) copy_part(rest);
  copy_part(0);
  for (auto& h : helpers) h.join();
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

// ---- small elementwise ops without the dispatcher ------------------------------------------------
//
// Adding two tiny CPU tensors through at::add costs ~1 µs on the benchmark VM, almost all of it
// overhead: the dispatcher's Autograd and ADInplaceOrView layers, TensorIterator's setup (~430 ns)
// and LibTorch's allocator. For inputs where every one of those layers would only pass the call on,
// small_add computes the result directly into a tensor from g_host_allocator (~150 ns):
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
static at::Tensor small_add(const at::Tensor& a, const at::Tensor& b) {
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
    int n = threads == 0 ? d2g::default_copy_threads() : threads;
    int before = d2g::g_copy_threads.exchange(n);
    if (previous != nullptr) *previous = before;
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
    at::Tensor sum = d2g::small_add(x, y);
    *out = wrap(sum.defined() ? std::move(sum) : at::add(x, y));
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
