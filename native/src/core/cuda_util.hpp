// Internal: small CUDA helpers that compile to no-ops in CPU builds.
#pragma once

#ifdef D2G_WITH_CUDA
#include <c10/cuda/CUDAGraphsC10Utils.h>
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

}  // namespace d2g
