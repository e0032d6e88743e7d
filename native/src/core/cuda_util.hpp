// Internal: small CUDA helpers that compile to no-ops in CPU builds.
#pragma once

#ifdef D2G_WITH_CUDA
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGraphsC10Utils.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#endif

namespace d2g {

// True while the current CUDA stream is being captured into a CUDA graph. Host synchronisation
// (item(), copies to the host) is not allowed then, so checks that need it must be skipped and done
// by whoever captures (see pipelines/onestep.cpp).
inline bool cuda_stream_capturing() {
#ifdef D2G_WITH_CUDA
  return c10::cuda::currentStreamCaptureStatusMayInitCtx() != c10::cuda::CaptureStatus::None;
#else
  return false;
#endif
}

#ifdef D2G_WITH_CUDA
// Makes `waiter` wait for the work queued so far on `on` (for warm-up and capture on a side stream).
inline void stream_wait(const c10::cuda::CUDAStream& waiter, const c10::cuda::CUDAStream& on) {
  cudaEvent_t e;
  C10_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  C10_CUDA_CHECK(cudaEventRecord(e, on.stream()));
  C10_CUDA_CHECK(cudaStreamWaitEvent(waiter.stream(), e, 0));
  C10_CUDA_CHECK(cudaEventDestroy(e));
}
#endif

}  // namespace d2g
