// The C API's "library and devices" section (d2g.h): versions, devices, seeds, process-wide
// settings, traces and synchronisation.
#include <ATen/ATen.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <cstring>
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string>

#ifdef D2G_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <cuda_runtime_api.h>
#endif

#include "../core/status.hpp"
#include "../core/threads.hpp"
#include "../kernels/fused_ops.hpp"
#include "d2g.h"

#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/autograd/profiler_kineto.h>
#endif

#ifndef D2G_VERSION
#define D2G_VERSION "0.0.0"
#endif

extern "C" {

const char* d2g_version(void) { return D2G_VERSION; }

const char* d2g_torch_version(void) { return TORCH_VERSION; }

int d2g_cuda_compiled(void) {
#ifdef D2G_WITH_CUDA
  return 1;
#else
  return 0;
#endif
}

d2g_status* d2g_cuda_is_available(int* out) {
  D2G_GUARD({
    d2g::require(out, "out");
    *out = torch::cuda::is_available() ? 1 : 0;
  })
}

d2g_status* d2g_cuda_device_count(int* out) {
  D2G_GUARD({
    d2g::require(out, "out");
    *out = static_cast<int>(torch::cuda::device_count());
  })
}

d2g_status* d2g_cuda_device_name(int device_index, char* buf, size_t capacity) {
  D2G_GUARD({
    d2g::require(buf, "buf");
    if (capacity == 0) d2g::fail(D2G_INVALID_ARGUMENT, "capacity must be at least 1");
    int count = static_cast<int>(torch::cuda::device_count());
    if (device_index < 0 || device_index >= count)
      d2g::fail(D2G_DEVICE_UNAVAILABLE, "no CUDA device ", device_index, " (this machine has ", count,
                count == 1 ? " CUDA device)" : " CUDA devices)");
#ifdef D2G_WITH_CUDA
    cudaDeviceProp prop;
    cudaError_t err = cudaGetDeviceProperties(&prop, device_index);
    if (err != cudaSuccess) d2g::fail(D2G_DEVICE_UNAVAILABLE, "cudaGetDeviceProperties: ", cudaGetErrorString(err));
    std::strncpy(buf, prop.name, capacity - 1);
    buf[capacity - 1] = '\0';
#else
    d2g::fail(D2G_DEVICE_UNAVAILABLE, "this build of the shim has no CUDA support");
#endif
  })
}

d2g_status* d2g_manual_seed(uint64_t seed) {
  D2G_GUARD({
    at::manual_seed(seed);  // CPU and, when present, every CUDA generator
  })
}

d2g_status* d2g_synchronize(int device_index) {
  D2G_GUARD({
    if (!torch::cuda::is_available()) {
      if (device_index == -1) return nullptr;
      d2g::fail(D2G_DEVICE_UNAVAILABLE, "cannot synchronize cuda:", device_index, ": CUDA is not available");
    }
    int count = static_cast<int>(torch::cuda::device_count());
    if (device_index < -1 || device_index >= count)
      d2g::fail(D2G_DEVICE_UNAVAILABLE, "no CUDA device ", device_index, " (this machine has ", count, ")");
    torch::cuda::synchronize(device_index);
  })
}

d2g_status* d2g_set_allow_tf32(int allow) {
  D2G_GUARD({
    at::globalContext().setAllowTF32CuBLAS(allow != 0);
    at::globalContext().setAllowTF32CuDNN(allow != 0);
  })
}

d2g_status* d2g_set_fused_kernels(int enabled, int* compiled) {
  D2G_GUARD({
    d2g::kernels::set_enabled(enabled != 0);
    if (compiled) *compiled = d2g::kernels::compiled() ? 1 : 0;
  })
}

d2g_status* d2g_set_cudnn_benchmark(int enabled) {
  D2G_GUARD({
    at::globalContext().setBenchmarkCuDNN(enabled != 0);
  })
}

d2g_status* d2g_profiler_start(void) {
  D2G_GUARD({
#if TORCH_VERSION_MAJOR >= 2
    namespace prof = torch::profiler::impl;
    if (prof::profilerEnabled()) d2g::fail(D2G_INVALID_ARGUMENT, "a trace is already being recorded");
    const prof::ProfilerConfig config(prof::ProfilerState::KINETO);
    std::set<prof::ActivityType> activities{prof::ActivityType::CPU};
    if (torch::cuda::is_available()) activities.insert(prof::ActivityType::CUDA);
    torch::autograd::profiler::prepareProfiler(config, activities);
    torch::autograd::profiler::enableProfiler(config, activities);
#else
    d2g::fail(D2G_INVALID_ARGUMENT, "traces need LibTorch 2.x; this library was built against ", TORCH_VERSION);
#endif
  })
}

d2g_status* d2g_profiler_stop(const char* path) {
  D2G_GUARD({
    d2g::require(path, "path");
#if TORCH_VERSION_MAJOR >= 2
    if (!torch::profiler::impl::profilerEnabled()) d2g::fail(D2G_INVALID_ARGUMENT, "no trace is being recorded");
    auto result = torch::autograd::profiler::disableProfiler();
    if (!result) d2g::fail(D2G_NATIVE_FAILURE, "the profiler returned no trace");
    result->save(path);
#else
    d2g::fail(D2G_INVALID_ARGUMENT, "traces need LibTorch 2.x; this library was built against ", TORCH_VERSION);
#endif
  })
}

d2g_status* d2g_cpu_threads(int threads, int* previous) {
  D2G_GUARD({
    if (threads < 0 || threads > 1024) d2g::fail(D2G_INVALID_ARGUMENT, "threads must be 1..1024 (0: unchanged), not ", threads);
    int before = at::get_num_threads();
    if (threads > 0) {
      at::set_num_threads(threads);
      d2g::balance_blas_threads();
    }
    if (previous != nullptr) *previous = before;
  })
}

d2g_status* d2g_blas_library(char* buf, size_t capacity) {
  D2G_GUARD({
    d2g::require(buf, "buf");
    if (capacity == 0) d2g::fail(D2G_INVALID_ARGUMENT, "capacity must be at least 1");
    // The library that provides the single-precision matrix product LibTorch calls (sgemm_), as
    // the dynamic linker resolves the name for the whole process.
    std::string found;
    void* sgemm = dlsym(RTLD_DEFAULT, "sgemm_");
    Dl_info info;
    if (sgemm != nullptr && dladdr(sgemm, &info) != 0 && info.dli_fname != nullptr) {
      char real[4096];
      found = realpath(info.dli_fname, real) != nullptr ? real : info.dli_fname;
    }
    if (at::hasMKL() && (found.empty() || found.find("libtorch") != std::string::npos)) found = "MKL (linked in)";
    std::strncpy(buf, found.c_str(), capacity - 1);
    buf[capacity - 1] = '\0';
  })
}

d2g_status* d2g_cuda_memory_peak(int device_index, int reset, int64_t* peak_bytes) {
  D2G_GUARD({
    d2g::require(peak_bytes, "peak_bytes");
    int count = static_cast<int>(torch::cuda::device_count());
    if (device_index < 0 || device_index >= count)
      d2g::fail(D2G_DEVICE_UNAVAILABLE, "no CUDA device ", device_index, " (this machine has ", count, ")");
#ifdef D2G_WITH_CUDA
    auto dev = static_cast<c10::DeviceIndex>(device_index);
    // index 0 of each StatArray is the aggregate over the small and large pools
    *peak_bytes = c10::cuda::CUDACachingAllocator::getDeviceStats(dev).allocated_bytes[0].peak;
    if (reset) c10::cuda::CUDACachingAllocator::resetPeakStats(dev);
#else
    d2g::fail(D2G_DEVICE_UNAVAILABLE, "this build of the shim has no CUDA support");
#endif
  })
}

}  // extern "C"
