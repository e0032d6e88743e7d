// Host memory for the CPU tensors the C API creates, and large host copies.
#include "host_memory.hpp"

#include <ATen/EmptyTensor.h>
#include <c10/core/CPUAllocator.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <emmintrin.h>
#define D2G_HAVE_SSE2_STREAM 1
#endif

namespace d2g {

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
//    allocator gets its 64-byte alignment from posix_memalign, which glibc serves on a slow path,
//    several times slower than malloc/free: a noticeable part of a tiny op (benchmarks/README.md).
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
at::Tensor empty_host(c10::IntArrayRef sizes, at::ScalarType st) {
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
// as LibTorch splits its own large copies: one core rarely saturates memory bandwidth (the figures:
// benchmarks/native/host_copy_floor.c, results in zero-copy.json). LibTorch's intra-op pool is not used because its size and
// even its presence depend on how LibTorch was built (Debian's 1.13 runs one intra-op thread there);
// a helper thread costs tens of microseconds against milliseconds of copying.

int default_copy_threads() {
  return static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
}
static std::atomic<int> g_copy_threads{default_copy_threads()};

int set_copy_threads(int threads) { return g_copy_threads.exchange(threads == 0 ? default_copy_threads() : threads); }

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

void copy_bytes(void* dst, const void* src, size_t n) {
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

}  // namespace d2g
