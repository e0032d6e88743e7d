// The end of a ResNet block: out = (h + bias[channel] + shortcut) * scale, in place on h, where h is
// the block's last convolution computed without its bias. cuDNN convolutions in LibTorch add their
// bias in a separate pass over the output; folding it into the residual add saves that pass.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>

#include "cuda_kernels.h"

namespace d2g::kernels {
namespace {

__device__ __forceinline__ float to_f(float v) { return v; }
__device__ __forceinline__ float to_f(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename T> __device__ __forceinline__ T from_f(float v);
template <> __device__ __forceinline__ float from_f<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_f<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

template <typename T>
struct alignas(16) Pack {
  static constexpr int kSize = 16 / sizeof(T);
  T v[kSize];
};

// Elements are vectors of kSize along the innermost dimension: channels (channels_last) or positions
// (NCHW, where s % kSize == 0 so that a vector has one channel).
template <typename T, bool kChannelsLast>
__global__ void residual_bias(T* __restrict__ h, const T* __restrict__ shortcut, const T* __restrict__ bias,
                              int64_t vectors, int c, int s, float scale) {
  constexpr int V = Pack<T>::kSize;
  for (int64_t v = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; v < vectors;
       v += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    Pack<T> a = reinterpret_cast<Pack<T>*>(h)[v];
    const Pack<T> b = reinterpret_cast<const Pack<T>*>(shortcut)[v];
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
