// LibTorch's CPU threads and the BLAS library's (see threads.cpp for the defaults and why).
#pragma once

namespace d2g {

// OpenBLAS on one thread while LibTorch runs several intra-op threads, on every core otherwise
// (unless OPENBLAS_NUM_THREADS is set). Call after changing LibTorch's thread count.
void balance_blas_threads();

}  // namespace d2g
