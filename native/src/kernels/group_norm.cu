// Fused GroupNorm (+ per-sample channel offset) (+ SiLU) for the Stable Diffusion family on CUDA.
//
// Why: LibTorch's CUDA GroupNorm only works on NCHW-contiguous memory, so on a channels_last
// activation it makes a contiguous copy first and hands back NCHW, which the next channels_last
// convolution copies back again; SiLU and the ResNet's time-embedding add are more full passes.
// Here one GroupNorm is three kernels over the tensor's own layout:
//   1. stats:    partial sums of (x + add - K) and its square per (sample, group, chunk), where K is
//                one element of the group (the "shifted data" variance, free of the cancellation
//                of plain sum/sum-of-squares when |mean| >> std);
//   2. finalize: per (sample, channel) scale = rstd * weight and shift = bias - mean * scale
//                (+ add * scale), so that
//   3. apply:    y = silu(x * scale + shift) is one read and one write, in 16-byte vectors.
// Memory traffic: 2 reads + 1 write of x, instead of ATen's 2 + 1 plus 2 transposes, SiLU and add.
// Arithmetic in f32 whatever the storage type. No host synchronisation: safe inside CUDA graphs.
#include "common.cuh"
#include "cuda_kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>

namespace d2g::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kTargetBlocks = 1024;  // stats blocks in flight: a few per SM on an H100 (132 SMs)

// Offset of element (sample i, channel ch, position 0): the first element of a group when ch = g*cg.
__device__ __forceinline__ int64_t first_offset(int64_t i, int64_t ch, int64_t c, int64_t s, bool cl) {
  return cl ? i * s * c + ch : i * c * s + ch * s;
}

// ---- 1. statistics --------------------------------------------------------------------------

// Channels last: block (x: chunk, y: sample), threads (x: channel vector, y: row). Every thread keeps
// the same kSize channels for all its rows.
template <typename T>
__global__ void stats_channels_last(const T* __restrict__ x, const T* __restrict__ add, int c, int s, int groups,
                                    int rows_per_chunk, int chunks, float* __restrict__ partial) {
  constexpr int V = Pack<T>::kSize;
  extern __shared__ float sh[];  // [2][blockDim.y][c]: each thread's sums per channel (at most 32 KB: plan() keeps blockDim.y * c <= 4096)
  const int i = blockIdx.y, chunk = blockIdx.x;
  const int tid = threadIdx.y * blockDim.x + threadIdx.x, nthreads = blockDim.x * blockDim.y;
  const int cg = c / groups, c0 = threadIdx.x * V;
  const T* xs = x + static_cast<int64_t>(i) * s * c;
  float off[V], d[V], q[V];
#pragma unroll
  for (int j = 0; j < V; j++) {
    const int ch = c0 + j, g0 = (ch / cg) * cg;
    const float a = add ? to_f(add[static_cast<int64_t>(i) * c + ch]) : 0.f;
    const float k = to_f(xs[g0]) + (add ? to_f(add[static_cast<int64_t>(i) * c + g0]) : 0.f);
    off[j] = a - k;
    d[j] = q[j] = 0.f;
  }
  const int r1 = min(s, (chunk + 1) * rows_per_chunk);
  for (int r = chunk * rows_per_chunk + threadIdx.y; r < r1; r += blockDim.y) {
    const Pack<T> p = *reinterpret_cast<const Pack<T>*>(xs + static_cast<int64_t>(r) * c + c0);
#pragma unroll
    for (int j = 0; j < V; j++) {
      const float v = to_f(p.v[j]) + off[j];
      d[j] += v;
      q[j] += v * v;
    }
  }
  // Every thread's per-channel sums into shared memory, then each group added up in a fixed order (rows,
  // then channels): no atomics, so a run gives the same bits every time.
  float* sd = sh;                               // [blockDim.y][c]
  float* sq = sh + blockDim.y * c;              // [blockDim.y][c]
#pragma unroll
  for (int j = 0; j < V; j++) {
    sd[threadIdx.y * c + c0 + j] = d[j];
    sq[threadIdx.y * c + c0 + j] = q[j];
  }
  __syncthreads();
  for (int t = tid; t < groups; t += nthreads) {
    float ds = 0.f, qs = 0.f;
    for (int ry = 0; ry < static_cast<int>(blockDim.y); ry++)
      for (int ch = t * cg; ch < (t + 1) * cg; ch++) {
        ds += sd[ry * c + ch];
        qs += sq[ry * c + ch];
      }
    float* out = partial + ((static_cast<int64_t>(i) * groups + t) * chunks + chunk) * 2;
    out[0] = ds;
    out[1] = qs;
  }
}

__device__ __forceinline__ void block_sum2(float& a, float& b) {
  __shared__ float ra[32], rb[32];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    a += __shfl_down_sync(0xffffffffu, a, o);
    b += __shfl_down_sync(0xffffffffu, b, o);
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  if (lane == 0) {
    ra[warp] = a;
    rb[warp] = b;
  }
  __syncthreads();
  if (warp == 0) {
    a = lane < warps ? ra[lane] : 0.f;
    b = lane < warps ? rb[lane] : 0.f;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      a += __shfl_down_sync(0xffffffffu, a, o);
      b += __shfl_down_sync(0xffffffffu, b, o);
    }
  }
}

// NCHW: a group of one sample is one contiguous span of cg*s elements. Block (chunk, group, sample).
template <typename T>
__global__ void stats_contiguous(const T* __restrict__ x, const T* __restrict__ add, int c, int s, int groups,
                                 int vectors_per_chunk, int chunks, float* __restrict__ partial) {
  constexpr int V = Pack<T>::kSize;
  const int chunk = blockIdx.x, g = blockIdx.y, i = blockIdx.z;
  const int cg = c / groups, span_vectors = cg * s / V;
  const T* xs = x + (static_cast<int64_t>(i) * c + static_cast<int64_t>(g) * cg) * s;
  const T* adds = add ? add + static_cast<int64_t>(i) * c + g * cg : nullptr;
  const float k = to_f(xs[0]) + (adds ? to_f(adds[0]) : 0.f);
  float d = 0.f, q = 0.f;
  const int v1 = min(span_vectors, (chunk + 1) * vectors_per_chunk);
  for (int v = chunk * vectors_per_chunk + threadIdx.x; v < v1; v += blockDim.x) {
    const Pack<T> p = *reinterpret_cast<const Pack<T>*>(xs + static_cast<int64_t>(v) * V);
    const float off = (adds ? to_f(adds[v * V / s]) : 0.f) - k;
#pragma unroll
    for (int j = 0; j < V; j++) {
      const float e = to_f(p.v[j]) + off;
      d += e;
      q += e * e;
    }
  }
  block_sum2(d, q);
  if (threadIdx.x == 0) {
    float* out = partial + ((static_cast<int64_t>(i) * groups + g) * chunks + chunk) * 2;
    out[0] = d;
    out[1] = q;
  }
}

// ---- 2. per-channel scale and shift --------------------------------------------------------

template <typename T>
__global__ void finalize(const T* __restrict__ x, const T* __restrict__ add, const T* __restrict__ weight,
                         const T* __restrict__ bias, int c, int s, int groups, int chunks, float eps, bool cl,
                         const float* __restrict__ partial, float* __restrict__ scale_shift) {
  extern __shared__ float sh[];  // mean[groups], rstd[groups]
  const int i = blockIdx.x, cg = c / groups;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  const float count = static_cast<float>(cg) * static_cast<float>(s);
  // One warp per group: the lanes add the chunks' partial sums (coalesced), then a shuffle tree.
  for (int g = warp; g < groups; g += warps) {
    const float2* p = reinterpret_cast<const float2*>(partial) + (static_cast<int64_t>(i) * groups + g) * chunks;
    float d = 0.f, q = 0.f;
    for (int k = lane; k < chunks; k += 32) {
      const float2 v = p[k];
      d += v.x;
      q += v.y;
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      d += __shfl_xor_sync(0xffffffffu, d, o);
      q += __shfl_xor_sync(0xffffffffu, q, o);
    }
    if (lane == 0) {
      const float k0 = to_f(x[first_offset(i, static_cast<int64_t>(g) * cg, c, s, cl)]) +
                       (add ? to_f(add[static_cast<int64_t>(i) * c + g * cg]) : 0.f);
      const float dm = d / count;
      const float var = fmaxf(q / count - dm * dm, 0.f);
      sh[g] = k0 + dm;
      sh[groups + g] = rsqrtf(var + eps);
    }
  }
  __syncthreads();
  for (int ch = threadIdx.x; ch < c; ch += blockDim.x) {
    const int g = ch / cg;
    const float sc = sh[groups + g] * (weight ? to_f(weight[ch]) : 1.f);
    float sf = (bias ? to_f(bias[ch]) : 0.f) - sh[g] * sc;
    if (add) sf += to_f(add[static_cast<int64_t>(i) * c + ch]) * sc;
    scale_shift[(static_cast<int64_t>(i) * c + ch) * 2] = sc;
    scale_shift[(static_cast<int64_t>(i) * c + ch) * 2 + 1] = sf;
  }
}

// ---- 3. apply ------------------------------------------------------------------------------

// Channels last: like the statistics, every thread keeps kSize channels (and their scale and shift in
// registers) for all its rows. Block (x: row chunk, y: sample), threads (x: channel vector, y: row).
template <typename T, bool kSilu>
__global__ void apply_channels_last(const T* __restrict__ x, T* __restrict__ y, int c, int s, int rows_per_block,
                                    const float* __restrict__ scale_shift) {
  constexpr int V = Pack<T>::kSize;
  const int i = blockIdx.y, c0 = threadIdx.x * V;
  const float2* ss = reinterpret_cast<const float2*>(scale_shift) + static_cast<int64_t>(i) * c + c0;
  float sc[V], sf[V];
#pragma unroll
  for (int j = 0; j < V; j++) {
    const float2 a = ss[j];
    sc[j] = a.x;
    sf[j] = a.y;
  }
  const int64_t base = static_cast<int64_t>(i) * s * c + c0;
  const int r1 = min(s, (blockIdx.x + 1) * rows_per_block);
  for (int r = blockIdx.x * rows_per_block + threadIdx.y; r < r1; r += blockDim.y) {
    const int64_t off = base + static_cast<int64_t>(r) * c;
    const Pack<T> p = *reinterpret_cast<const Pack<T>*>(x + off);
    Pack<T> o;
#pragma unroll
    for (int j = 0; j < V; j++) {
      float e = to_f(p.v[j]) * sc[j] + sf[j];
      if (kSilu) e = e / (1.f + __expf(-e));
      o.v[j] = from_f<T>(e);
    }
    *reinterpret_cast<Pack<T>*>(y + off) = o;
  }
}

// NCHW: a vector lies in one channel (s % kSize == 0).
template <typename T, bool kSilu>
__global__ void apply_contiguous(const T* __restrict__ x, T* __restrict__ y, int c, int s,
                                 const float* __restrict__ scale_shift) {
  constexpr int V = Pack<T>::kSize;
  const int i = blockIdx.y;
  const int vectors = c / V * s;  // per sample (checked < 2^31 on the host)
  const int64_t base = static_cast<int64_t>(i) * c * s;
  const float2* ss = reinterpret_cast<const float2*>(scale_shift) + static_cast<int64_t>(i) * c;
  for (int v = blockIdx.x * blockDim.x + threadIdx.x; v < vectors; v += gridDim.x * blockDim.x) {
    const Pack<T> p = *reinterpret_cast<const Pack<T>*>(x + base + static_cast<int64_t>(v) * V);
    Pack<T> o;
    const float2 a = ss[v * V / s];
#pragma unroll
    for (int j = 0; j < V; j++) {
      float e = to_f(p.v[j]) * a.x + a.y;
      if (kSilu) e = e / (1.f + __expf(-e));
      o.v[j] = from_f<T>(e);
    }
    *reinterpret_cast<Pack<T>*>(y + base + static_cast<int64_t>(v) * V) = o;
  }
}

struct Plan {
  int chunks;
  int rows_per_chunk;     // channels last
  int vectors_per_chunk;  // contiguous
  dim3 stats_threads;
};

Plan plan(int64_t n, int64_t c, int64_t s, int64_t groups, bool cl, int vec) {
  Plan p{};
  if (cl) {
    const int cv = static_cast<int>(c / vec);
    const int ry = std::max(1, kThreads / cv);
    p.stats_threads = dim3(cv, ry);
    const int64_t max_chunks = std::max<int64_t>(1, s / (4 * ry));  // at least 4 rows per thread
    p.chunks = static_cast<int>(std::clamp<int64_t>((kTargetBlocks + n - 1) / n, 1, max_chunks));
    p.rows_per_chunk = static_cast<int>((s + p.chunks - 1) / p.chunks);
    p.chunks = static_cast<int>((s + p.rows_per_chunk - 1) / p.rows_per_chunk);
  } else {
    const int64_t span_vectors = c / groups * s / vec;
    p.stats_threads = dim3(kThreads);
    const int64_t max_chunks = std::max<int64_t>(1, span_vectors / (4 * kThreads));
    p.chunks = static_cast<int>(std::clamp<int64_t>((kTargetBlocks + n * groups - 1) / (n * groups), 1, max_chunks));
    p.vectors_per_chunk = static_cast<int>((span_vectors + p.chunks - 1) / p.chunks);
    p.chunks = static_cast<int>((span_vectors + p.vectors_per_chunk - 1) / p.vectors_per_chunk);
  }
  return p;
}

template <typename T>
cudaError_t run(const void* xv, void* yv, const void* addv, const void* wv, const void* bv, int64_t n, int64_t c,
                int64_t s, int64_t groups, double eps, bool cl, bool silu, float* scratch, int sm_count,
                cudaStream_t stream) {
  const T* x = static_cast<const T*>(xv);
  T* y = static_cast<T*>(yv);
  const T* add = static_cast<const T*>(addv);
  const Plan p = plan(n, c, s, groups, cl, Pack<T>::kSize);
  float* partial = scratch;
  float* scale_shift = scratch + n * groups * p.chunks * 2;
  const int ci = static_cast<int>(c), si = static_cast<int>(s), gi = static_cast<int>(groups);
  if (cl)
    stats_channels_last<T><<<dim3(p.chunks, n), p.stats_threads, 2 * p.stats_threads.y * c * sizeof(float), stream>>>(
        x, add, ci, si, gi, p.rows_per_chunk, p.chunks, partial);
  else
    stats_contiguous<T><<<dim3(p.chunks, groups, n), p.stats_threads, 0, stream>>>(x, add, ci, si, gi,
                                                                                 p.vectors_per_chunk, p.chunks, partial);
  finalize<T><<<n, 1024, 2 * groups * sizeof(float), stream>>>(x, add, static_cast<const T*>(wv),
                                                                   static_cast<const T*>(bv), ci, si, gi, p.chunks,
                                                                   static_cast<float>(eps), cl, partial, scale_shift);
  if (cl) {
    // Enough row chunks for ~8 blocks per SM over all samples.
    const int ry = static_cast<int>(p.stats_threads.y);
    const int64_t want = std::max<int64_t>(1, 8LL * sm_count / n);
    int64_t rows = std::max<int64_t>(ry, (s + want - 1) / want);
    rows = (rows + ry - 1) / ry * ry;
    const dim3 grid(static_cast<unsigned>((s + rows - 1) / rows), n);
    if (silu) apply_channels_last<T, true><<<grid, p.stats_threads, 0, stream>>>(x, y, ci, si, static_cast<int>(rows), scale_shift);
    else apply_channels_last<T, false><<<grid, p.stats_threads, 0, stream>>>(x, y, ci, si, static_cast<int>(rows), scale_shift);
  } else {
    const int64_t vectors = c / Pack<T>::kSize * s;
    const int blocks_x = static_cast<int>(std::clamp<int64_t>((vectors + kThreads - 1) / kThreads, 1,
                                                              std::max<int64_t>(1, 8LL * sm_count / n + 1)));
    const dim3 grid(blocks_x, n);
    if (silu) apply_contiguous<T, true><<<grid, kThreads, 0, stream>>>(x, y, ci, si, scale_shift);
    else apply_contiguous<T, false><<<grid, kThreads, 0, stream>>>(x, y, ci, si, scale_shift);
  }
  return cudaGetLastError();
}

}  // namespace

const char* group_norm_unsupported(int64_t c, int64_t s, int64_t groups, bool channels_last) {
  // 8 elements (16 bytes of f16/bf16; f32 needs only 4) per vector.
  if (groups <= 0 || c % groups != 0) return "channels not divisible by groups";
  if (channels_last && c % 8 != 0) return "channels not a multiple of 8";
  if (channels_last && c / 4 > 1024) return "more than 4096 channels";
  if (!channels_last && (c / groups * s) % 8 != 0) return "group span not a multiple of 8";
  if (!channels_last && s % 8 != 0) return "spatial size not a multiple of 8";
  if (c * s >= (int64_t{1} << 31)) return "more than 2^31 elements per sample";
  return nullptr;
}

int64_t group_norm_scratch_floats(ElemType type, int64_t n, int64_t c, int64_t s, int64_t groups, bool channels_last) {
  // Partial sums per (sample, group, chunk), then scale and shift per (sample, channel); run() lays
  // them out the same way.
  const int64_t chunks = plan(n, c, s, groups, channels_last, type == ElemType::F32 ? 4 : 8).chunks;
  return n * groups * chunks * 2 + n * c * 2;
}

cudaError_t group_norm_act(ElemType type, const void* x, void* y, const void* add, const void* weight,
                           const void* bias, int64_t n, int64_t c, int64_t s, int64_t groups, double eps,
                           bool channels_last, bool silu, float* scratch, int sm_count, cudaStream_t stream) {
  switch (type) {
    case ElemType::F32:
      return run<float>(x, y, add, weight, bias, n, c, s, groups, eps, channels_last, silu, scratch, sm_count, stream);
    case ElemType::F16:
      return run<__half>(x, y, add, weight, bias, n, c, s, groups, eps, channels_last, silu, scratch, sm_count, stream);
    case ElemType::BF16:
      return run<__nv_bfloat16>(x, y, add, weight, bias, n, c, s, groups, eps, channels_last, silu, scratch, sm_count,
                                stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace d2g::kernels
