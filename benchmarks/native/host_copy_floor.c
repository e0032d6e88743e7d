/* The host's memory floor for the zero-copy benchmark's 64 MiB copies: a plain memcpy, and copies
 * with streaming (non-temporal) stores on 1 and 2 threads, best of 20 each, buffers touched first.
 * Run it before the JMH benchmark to see whether the machine is quiet (benchmarks/README.md).
 *   d2g_host_copy_floor [OUT.json]          (CMake target, built with the shim) */
#define _POSIX_C_SOURCE 200112L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif

typedef struct {
  char* dst;
  const char* src;
  size_t n;
} job;

static void stream_copy(char* d, const char* s, size_t n) {
  size_t i = 0;
#if defined(__x86_64__)
  if (((size_t)d & 15) == 0) {
    for (; i + 64 <= n; i += 64) {
      __m128i a = _mm_loadu_si128((const __m128i*)(s + i)), b = _mm_loadu_si128((const __m128i*)(s + i + 16));
      __m128i c = _mm_loadu_si128((const __m128i*)(s + i + 32)), e = _mm_loadu_si128((const __m128i*)(s + i + 48));
      _mm_stream_si128((__m128i*)(d + i), a);
      _mm_stream_si128((__m128i*)(d + i + 16), b);
      _mm_stream_si128((__m128i*)(d + i + 32), c);
      _mm_stream_si128((__m128i*)(d + i + 48), e);
    }
    _mm_sfence();
  }
#endif
  memcpy(d + i, s + i, n - i);
}

static void* run(void* p) {
  job* j = p;
  stream_copy(j->dst, j->src, j->n);
  return NULL;
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* threads = 0: memcpy; otherwise streaming copies split over that many threads. */
static double best_ms(char* dst, const char* src, size_t n, int threads) {
  double best = 1e30;
  for (int r = 0; r < 20; r++) {
    double t0 = now_ms();
    if (threads == 0) {
      memcpy(dst, src, n);
    } else {
      pthread_t th[2];
      job j[2];
      for (int k = 0; k < threads; k++) {
        j[k].dst = dst + k * (n / threads);
        j[k].src = src + k * (n / threads);
        j[k].n = n / threads;
      }
      for (int k = 1; k < threads; k++) pthread_create(&th[k], NULL, run, &j[k]);
      run(&j[0]);
      for (int k = 1; k < threads; k++) pthread_join(th[k], NULL);
    }
    double ms = now_ms() - t0;
    if (ms < best) best = ms;
  }
  return best;
}

int main(int argc, char** argv) {
  const size_t n = (size_t)64 << 20;
  char* a = aligned_alloc(64, n);
  char* b = aligned_alloc(64, n);
  if (!a || !b) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  memset(a, 1, n);
  memset(b, 2, n);
  double m = best_ms(b, a, n, 0), s1 = best_ms(b, a, n, 1), s2 = best_ms(b, a, n, 2);
  printf("64 MiB copies, best of 20: memcpy %.2f ms, streaming 1 thread %.2f ms, streaming 2 threads %.2f ms\n", m, s1,
         s2);
  if (argc > 1) {
    FILE* f = fopen(argv[1], "wx"); /* a new file only: an existing one is never overwritten */
    if (!f) {
      perror(argv[1]);
      fprintf(stderr, "host_copy_floor: %s could not be created (does it exist already?)\n", argv[1]);
      return 1;
    }
    fprintf(f, "{\"bytes\": %zu, \"memcpy_ms\": %.3f, \"streaming_1_thread_ms\": %.3f, \"streaming_2_threads_ms\": %.3f}\n",
            n, m, s1, s2);
    fclose(f);
  }
  free(a);
  free(b);
  return 0;
}
