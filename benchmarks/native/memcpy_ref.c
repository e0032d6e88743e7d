/* Plain cudaMemcpy reference for the GPU smoke benchmark: the same sizes and the same timing method
 * (host clock around each synchronous copy, median of REPS after warm-up) as the Java side.
 * Prints one JSON object: {"h2d_pinned_gbs":..,"h2d_pageable_gbs":..,"d2h_pinned_gbs":..,"d2h_pageable_gbs":..} */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(x)                                                                  \
  do {                                                                            \
    cudaError_t e = (x);                                                          \
    if (e != cudaSuccess) {                                                       \
      fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e)); \
      exit(1);                                                                    \
    }                                                                             \
  } while (0)

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static double median_gbs(void* dst, const void* src, size_t n, enum cudaMemcpyKind kind, int reps) {
  double t[64];
  for (int i = 0; i < 3; i++) CHECK(cudaMemcpy(dst, src, n, kind));
  for (int i = 0; i < reps; i++) {
    double t0 = now();
    CHECK(cudaMemcpy(dst, src, n, kind));
    t[i] = now() - t0;
  }
  qsort(t, reps, sizeof(double), cmp);
  return n / t[reps / 2] / 1e9;
}

int main(int argc, char** argv) {
  size_t n = (argc > 1 ? strtoull(argv[1], NULL, 10) : 256) << 20;
  int reps = argc > 2 ? atoi(argv[2]) : 20;
  if (reps > 64) reps = 64;
  void *pinned, *pageable, *dev;
  CHECK(cudaMallocHost(&pinned, n));
  pageable = malloc(n);
  if (!pageable) return 1;
  memset(pageable, 1, n);
  memset(pinned, 1, n);
  CHECK(cudaMalloc(&dev, n));
  double h2d_pinned = median_gbs(dev, pinned, n, cudaMemcpyHostToDevice, reps);
  double h2d_pageable = median_gbs(dev, pageable, n, cudaMemcpyHostToDevice, reps);
  double d2h_pinned = median_gbs(pinned, dev, n, cudaMemcpyDeviceToHost, reps);
  double d2h_pageable = median_gbs(pageable, dev, n, cudaMemcpyDeviceToHost, reps);
  printf("{\"h2d_pinned_gbs\":%.3f,\"h2d_pageable_gbs\":%.3f,\"d2h_pinned_gbs\":%.3f,\"d2h_pageable_gbs\":%.3f}\n",
         h2d_pinned, h2d_pageable, d2h_pinned, d2h_pageable);
  return 0;
}
