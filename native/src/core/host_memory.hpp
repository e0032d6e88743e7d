// Host memory for the CPU tensors the C API creates (an allocator that is faster for small blocks and
// gives large ones huge pages), and large host copies (streaming stores, split over threads). The
// reasons are in host_memory.cpp.
#pragma once

#include <ATen/ATen.h>

#include <cstddef>

namespace d2g {

// From this many bytes up, copy_bytes streams and splits the copy over threads.
constexpr size_t kStreamingCopy = size_t{16} << 20;
constexpr int kMaxCopyThreads = 64;

// An uninitialised contiguous CPU tensor in memory from the shim's host allocator, made without a
// dispatcher round trip. With deterministic algorithms on, LibTorch 2.1+ fills empty tensors with NaN;
// callers that return uninitialised memory to the user check for that and use at::empty instead.
at::Tensor empty_host(c10::IntArrayRef sizes, at::ScalarType st);

// memcpy, or from kStreamingCopy bytes up a streaming copy split over the copy threads.
void copy_bytes(void* dst, const void* src, size_t n);

// min(4, hardware threads).
int default_copy_threads();
// Sets the threads of large copies (0: the default) and returns the setting replaced.
int set_copy_threads(int threads);

}  // namespace d2g
