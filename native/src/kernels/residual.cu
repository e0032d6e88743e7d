// The end of a ResNet block: out = (h + bias[channel] + shortcut) * scale, in place on h, where h is
// the block's last convolution computed without its bias. cuDNN convolutions in LibTorch add their
// bias in a separate, broadcasting pass over the output; folding it into the residual add saves that
// pass. Without a shortcut this is that bias add alone, vectorised (16-byte loads and stores).
// Also GEGLU's a * gelu(b) over the two halves of its projection, in one pass.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>

#include "common.cuh"
#include "cuda_kernels.h"

namespace d2g::kernels {
namespace {

// Elements are vectors of kSize along the innermost dimension: channels (channels_last) or positions
// (NCHW, where s % kSize == 0 so that a vector has one channel).
template <typename T, bool kChannelsLast>
__global__ void residual_bias(T* __restrict__ h, const T* __restrict__ shortcut, const T* __restrict__ bias,
                              int64_t vectors, int c, int s, float scale) {
  constexpr int V = Pack<T>::kSize;
  for (int64_t v = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; v < vectors;
       v += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    Pack<T> a = reinterpret_cast<Pack<T>*>(h)[v];
    Pack<T> b;
    if (shortcut) b = reinterpret_cast<const Pack<T>*>(shortcut)[v];
    else
#pragma unroll
      for (int j = 0; j < V; j++) b.v[j] = from_f<T>(0.f);
    if (kChannelsLast) {
      const int c0 = static_cast<int>(v % (c / V)) * V;
#pragma unroll
      for (int j = 0; j < V; j++) a.v[j] = from_f<T>((to_f(a.v[j]) + to_f(bias[c0 + j]) + to_f(b.v[j])) * scale);
    } else {
      const float bc = to_f(bias[(v * V / s) % c]);
#pragma unroll
      for (int j = 0; j < V; j++) a.v[j] = from_f<T>((to_f(a.v[j]) + bc + to_f(b.v[j])) * scale);
    }
    reinterpret_cast<Pack<T>*>(h)[v] = a;
  }
}

// GEGLU: x is [m, 2d] (rows: the hidden half, then the gate half), y is [m, d]:
// y = hidden * gelu(gate), gelu with erf (PyTorch's default).
template <typename T>
__global__ void geglu_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t m, int d) {
  constexpr int V = Pack<T>::kSize;
  const int dv = d / V;
  const int64_t vectors = m * dv;
  for (int64_t v = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; v < vectors;
       v += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = v / dv;
    const int col = static_cast<int>(v - row * dv);
    const Pack<T>* in = reinterpret_cast<const Pack<T>*>(x + row * 2 * d);
    const Pack<T> a = in[col], g = in[dv + col];
    Pack<T> o;
#pragma unroll
    for (int j = 0; j < V; j++) {
      const float gv = to_f(g.v[j]);
      o.v[j] = from_f<T>(to_f(a.v[j]) * 0.5f * gv * (1.f + erff(gv * 0.70710678118654752f)));
    }
    reinterpret_cast<Pack<T>*>(y)[v] = o;
  }
}

template <typename T>
cudaError_t launch_geglu(const void* x, void* y, int64_t m, int64_t d, int sm_count, cudaStream_t stream) {
  const int64_t vectors = m * d / Pack<T>::kSize;
  const unsigned blocks = static_cast<unsigned>(std::clamp<int64_t>((vectors + 255) / 256, 1, 16LL * std::max(sm_count, 1)));
  geglu_kernel<T><<<blocks, 256, 0, stream>>>(static_cast<const T*>(x), static_cast<T*>(y), m, static_cast<int>(d));
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch(void* h, const void* shortcut, const void* bias, int64_t n, int64_t c, int64_t s, bool cl,
                   float scale, int sm_count, cudaStream_t stream) {
  const int64_t vectors = n * c * s / Pack<T>::kSize;
  const int threads = 256;
  const unsigned blocks = static_cast<unsigned>(
      std::clamp<int64_t>((vectors + threads - 1) / threads, 1, 16LL * std::max(sm_count, 1)));
  auto* hp = static_cast<T*>(h);
  const auto* sp = static_cast<const T*>(shortcut);
  const auto* bp = static_cast<const T*>(bias);
  if (cl)
    residual_bias<T, true><<<blocks, threads, 0, stream>>>(hp, sp, bp, vectors, static_cast<int>(c), static_cast<int>(s), scale);
  else
    residual_bias<T, false><<<blocks, threads, 0, stream>>>(hp, sp, bp, vectors, static_cast<int>(c), static_cast<int>(s), scale);
  return cudaGetLastError();
}

}  // namespace

cudaError_t geglu(ElemType type, const void* x, void* y, int64_t m, int64_t d, int sm_count, cudaStream_t stream) {
  switch (type) {
    case ElemType::F32: return launch_geglu<float>(x, y, m, d, sm_count, stream);
    case ElemType::F16: return launch_geglu<__half>(x, y, m, d, sm_count, stream);
    case ElemType::BF16: return launch_geglu<__nv_bfloat16>(x, y, m, d, sm_count, stream);
  }
  return cudaErrorInvalidValue;
}

cudaError_t residual_bias_inplace(ElemType type, void* h, const void* shortcut, const void* bias, int64_t n, int64_t c,
                                  int64_t s, bool channels_last, float scale, int sm_count, cudaStream_t stream) {
  switch (type) {
    case ElemType::F32: return launch<float>(h, shortcut, bias, n, c, s, channels_last, scale, sm_count, stream);
    case ElemType::F16: return launch<__half>(h, shortcut, bias, n, c, s, channels_last, scale, sm_count, stream);
    case ElemType::BF16: return launch<__nv_bfloat16>(h, shortcut, bias, n, c, s, channels_last, scale, sm_count, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace d2g::kernels
