// Internal: launchers of the hand-written CUDA kernels (group_norm.cu, upsample.cu), in plain C++
// types so that the .cu files need no LibTorch headers. Only fused_ops.cpp calls these; everything else uses the
// ATen-level functions declared in fused_ops.hpp.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

namespace d2g::kernels {

enum class ElemType { F32, F16, BF16 };

// y = act(GroupNorm(x + add) * weight + bias) over x seen as [n, c, s]:
//   channels_last = false: element (i, j, k) at i*c*s + j*s + k   (NCHW, contiguous)
//   channels_last = true:  element (i, j, k) at i*s*c + k*c + j   (NHWC / [B, tokens, C])
// add: [n, c] per-sample channel offsets added before the statistics (the ResNet time embedding),
// or null. weight, bias: [c] or null. All pointers of type `type`; y may not alias x. `scratch`
// must hold group_norm_scratch_floats(type, n, c, s, groups, channels_last) floats. Runs on `stream` without host
// synchronisation (safe to capture in a CUDA graph). Returns a CUDA error code (cudaSuccess = 0).
int64_t group_norm_scratch_floats(ElemType type, int64_t n, int64_t c, int64_t s, int64_t groups, bool channels_last);
cudaError_t group_norm_act(ElemType type, const void* x, void* y, const void* add, const void* weight,
                           const void* bias, int64_t n, int64_t c, int64_t s, int64_t groups, double eps,
                           bool channels_last, bool silu, float* scratch, int sm_count, cudaStream_t stream);

// Why a given shape cannot use the kernel (nullptr when it can).
const char* group_norm_unsupported(int64_t c, int64_t s, int64_t groups, bool channels_last);

// Nearest-neighbour 2x upsampling of a channels_last [n, c, h, w] tensor (memory n, h, w, c) into
// y (memory n, 2h, 2w, c). c * sizeof(element) must be a multiple of 16 and both pointers 16-byte
// aligned. Returns a CUDA error code.
cudaError_t upsample_nearest2x_channels_last(ElemType type, const void* x, void* y, int64_t n, int64_t c, int64_t h,
                                             int64_t w, int sm_count, cudaStream_t stream);

// h = (h + bias[channel] + shortcut) * scale in place; h and shortcut [n, c, s] in the same layout
// (as group_norm_act), bias [c]; shortcut may be null. The vectorised dimension (c for channels_last, s for NCHW) must be a
// multiple of 16 bytes' worth of elements and the pointers 16-byte aligned.
cudaError_t residual_bias_inplace(ElemType type, void* h, const void* shortcut, const void* bias, int64_t n, int64_t c,
                                  int64_t s, bool channels_last, float scale, int sm_count, cudaStream_t stream);

// y[m, d] = x[:, :d] * gelu(x[:, d:]) for x [m, 2d] contiguous; d a multiple of 16 bytes' worth of
// elements, pointers 16-byte aligned.
cudaError_t geglu(ElemType type, const void* x, void* y, int64_t m, int64_t d, int sm_count, cudaStream_t stream);

}  // namespace d2g::kernels
