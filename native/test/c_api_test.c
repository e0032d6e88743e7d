/* Exercises the C API from plain C: success paths, ownership, zero-copy release and error paths. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2g.h"

static int failures = 0;
static int checks = 0;

#define CHECK(cond, ...)                                  \
  do {                                                    \
    checks++;                                             \
    if (!(cond)) {                                        \
      failures++;                                         \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                       \
      fprintf(stderr, "\n");                              \
    }                                                     \
  } while (0)

/* Expects success; prints the message otherwise. */
static void ok(d2g_status* s, const char* what) {
  CHECK(s == NULL, "%s failed: %s", what, d2g_status_message(s));
  d2g_status_free(s);
}

/* Expects a failure with the given code and a message containing `needle`. */
static void fails(d2g_status* s, int code, const char* needle, const char* what) {
  CHECK(s != NULL, "%s should have failed", what);
  if (s != NULL) {
    CHECK(d2g_status_code(s) == code, "%s: code %d, expected %d (%s)", what, d2g_status_code(s), code,
          d2g_status_message(s));
    CHECK(strstr(d2g_status_message(s), needle) != NULL, "%s: message '%s' lacks '%s'", what,
          d2g_status_message(s), needle);
  }
  d2g_status_free(s);
}

static int released = 0;
static void on_release(void* ctx) { released += *(int*)ctx; }

int main(void) {
  /* status of NULL, free of NULL */
  CHECK(d2g_status_code(NULL) == D2G_OK, "NULL status is OK");
  CHECK(strcmp(d2g_status_message(NULL), "") == 0, "NULL status has empty message");
  d2g_status_free(NULL);
  d2g_tensor_free(NULL);

  printf("d2g %s, LibTorch %s, CUDA compiled %d\n", d2g_version(), d2g_torch_version(), d2g_cuda_compiled());
  CHECK(strlen(d2g_torch_version()) >= 5, "torch version string");
  int avail = -1, count = -1;
  ok(d2g_cuda_is_available(&avail), "cuda_is_available");
  ok(d2g_cuda_device_count(&count), "cuda_device_count");
  CHECK(avail == 0 || avail == 1, "availability is a flag");
  CHECK(count >= 0 && (avail || count == 0), "device count %d consistent with availability %d", count, avail);
  char name[128];
  fails(d2g_cuda_device_name(count, name, sizeof name), D2G_DEVICE_UNAVAILABLE, "no CUDA device", "device name out of range");
  ok(d2g_manual_seed(42), "manual_seed");
  int kernels = -1;
  ok(d2g_set_fused_kernels(0, &kernels), "set_fused_kernels off");
  CHECK(kernels == 0 || kernels == 1, "fused kernels compiled is a flag");
  CHECK(d2g_cuda_compiled() || kernels == 0, "a CPU-only build has no CUDA kernels");
  ok(d2g_set_fused_kernels(1, NULL), "set_fused_kernels on, compiled not wanted");
  ok(d2g_set_cudnn_benchmark(0), "set_cudnn_benchmark");
  ok(d2g_synchronize(-1), "synchronize current device");

  /* from_host, shape queries, copy out */
  float a_data[6] = {1, 2, 3, 4, 5, 6};
  int64_t shape23[2] = {2, 3};
  d2g_tensor* a = NULL;
  ok(d2g_tensor_from_host(a_data, sizeof a_data, shape23, 2, D2G_F32, D2G_CPU, 0, &a), "from_host");
  int ndim = 0, dtype = -1, dt = -1, di = -1;
  int64_t shape[4] = {0}, numel = 0;
  ok(d2g_tensor_ndim(a, &ndim), "ndim");
  ok(d2g_tensor_shape(a, shape, 4), "shape");
  ok(d2g_tensor_dtype(a, &dtype), "dtype");
  ok(d2g_tensor_device(a, &dt, &di), "device");
  ok(d2g_tensor_numel(a, &numel), "numel");
  CHECK(ndim == 2 && shape[0] == 2 && shape[1] == 3 && dtype == D2G_F32 && dt == D2G_CPU && di == 0 && numel == 6,
        "metadata of a");
  a_data[0] = 100; /* from_host copied: a must not change */
  float back[6];
  ok(d2g_tensor_copy_to_host(a, back, sizeof back), "copy_to_host");
  CHECK(back[0] == 1 && back[5] == 6, "copy out gives original values");

  /* zero-copy: from_blob aliases caller memory; release runs once, after the last reference */
  float blob[6] = {1, 1, 1, 1, 1, 1};
  int one = 1;
  d2g_tensor* b = NULL;
  ok(d2g_tensor_from_blob(blob, sizeof blob, shape23, 2, D2G_F32, on_release, &one, &b), "from_blob");
  void* p = NULL;
  ok(d2g_tensor_data_ptr(b, &p), "data_ptr");
  CHECK(p == (void*)blob, "data_ptr of a wrapped blob is the blob");
  blob[2] = 7; /* visible through the tensor */
  ok(d2g_tensor_copy_to_host(b, back, sizeof back), "copy b out");
  CHECK(back[2] == 7, "write through caller memory is seen by the tensor");
  d2g_tensor* alias = NULL;
  ok(d2g_tensor_alias(b, &alias), "alias");
  d2g_tensor_free(b);
  CHECK(released == 0, "release must wait for the alias");
  float ones[6] = {2, 2, 2, 2, 2, 2};
  ok(d2g_tensor_copy_from_host(alias, ones, sizeof ones), "copy_from_host into alias");
  CHECK(blob[0] == 2 && blob[5] == 2, "write through the tensor lands in caller memory");
  d2g_tensor_free(alias);
  CHECK(released == 1, "release called exactly once (got %d)", released);

  /* ops */
  d2g_tensor* c = NULL;
  ok(d2g_add(a, a, &c), "add");
  ok(d2g_tensor_copy_to_host(c, back, sizeof back), "copy c out");
  CHECK(back[0] == 2 && back[4] == 10, "add result");
  float bt[6] = {1, 0, 0, 1, 1, 1};
  int64_t shape32[2] = {3, 2};
  d2g_tensor* m = NULL;
  ok(d2g_tensor_from_host(bt, sizeof bt, shape32, 2, D2G_F32, D2G_CPU, 0, &m), "from_host m");
  d2g_tensor* prod = NULL;
  ok(d2g_matmul(a, m, &prod), "matmul");
  float pv[4];
  ok(d2g_tensor_copy_to_host(prod, pv, sizeof pv), "copy prod out");
  CHECK(pv[0] == 4 && pv[1] == 5 && pv[2] == 10 && pv[3] == 11, "matmul result %g %g %g %g", pv[0], pv[1], pv[2], pv[3]);
  d2g_tensor* s = NULL;
  double item = 0;
  ok(d2g_sum(a, &s), "sum");
  ok(d2g_tensor_item(s, &item), "item");
  CHECK(fabs(item - 21.0) < 1e-9, "sum is 21, got %g", item);
  d2g_tensor* h = NULL;
  ok(d2g_tensor_to(a, D2G_CPU, 0, D2G_BF16, 0, &h), "to bf16");
  ok(d2g_tensor_dtype(h, &dtype), "dtype of h");
  CHECK(dtype == D2G_BF16, "converted dtype");
  d2g_tensor* r = NULL;
  int64_t flat[1] = {-1};
  ok(d2g_tensor_reshape(a, flat, 1, &r), "reshape -1");
  ok(d2g_tensor_shape(r, shape, 4), "shape of r");
  CHECK(shape[0] == 6, "reshaped to 6");

  /* error paths: each gives a status with the right code and a useful message, and no handle */
  d2g_tensor* bad = NULL;
  int64_t neg[2] = {2, -3};
  fails(d2g_tensor_empty(neg, 2, D2G_F32, D2G_CPU, 0, 0, &bad), D2G_INVALID_ARGUMENT, "negative size", "negative shape");
  fails(d2g_tensor_empty(shape23, 2, 42, D2G_CPU, 0, 0, &bad), D2G_INVALID_ARGUMENT, "unknown dtype", "bad dtype");
  fails(d2g_tensor_empty(shape23, 99, D2G_F32, D2G_CPU, 0, 0, &bad), D2G_INVALID_ARGUMENT, "ndim", "bad ndim");
  fails(d2g_tensor_empty(shape23, 2, D2G_F32, 7, 0, 0, &bad), D2G_INVALID_ARGUMENT, "device type", "bad device");
  fails(d2g_tensor_empty(shape23, 2, D2G_F32, D2G_CUDA, 99, 0, &bad), D2G_DEVICE_UNAVAILABLE, "99", "cuda:99");
  fails(d2g_tensor_randn(shape23, 2, D2G_I64, D2G_CPU, 0, &bad), D2G_INVALID_ARGUMENT, "floating", "randn int");
  fails(d2g_tensor_from_host(a_data, 5, shape23, 2, D2G_F32, D2G_CPU, 0, &bad), D2G_INVALID_ARGUMENT, "bytes", "nbytes");
  fails(d2g_tensor_from_blob(NULL, 24, shape23, 2, D2G_F32, NULL, NULL, &bad), D2G_INVALID_ARGUMENT, "NULL", "null blob");
  fails(d2g_add(a, m, &bad), D2G_INVALID_ARGUMENT, "broadcast", "add shape mismatch");
  fails(d2g_add(NULL, a, &bad), D2G_INVALID_ARGUMENT, "NULL", "add null");
  fails(d2g_add(a, a, NULL), D2G_INVALID_ARGUMENT, "out is NULL", "add null out");
  fails(d2g_matmul(a, a, &bad), D2G_INVALID_ARGUMENT, "inner dimensions", "matmul shape mismatch");
  fails(d2g_matmul(a, h, &bad), D2G_INVALID_ARGUMENT, "dtypes differ", "matmul dtype mismatch");
  fails(d2g_tensor_item(a, &item), D2G_INVALID_ARGUMENT, "one-element", "item of 6 elements");
  fails(d2g_tensor_copy_to_host(a, back, 3), D2G_INVALID_ARGUMENT, "bytes", "copy out size");
  int64_t seven[1] = {7};
  fails(d2g_tensor_reshape(a, seven, 1, &bad), D2G_INVALID_ARGUMENT, "cannot view", "reshape 7");
  fails(d2g_tensor_copy_(a, m, 0), D2G_INVALID_ARGUMENT, "differ", "copy_ shape mismatch");
  CHECK(bad == NULL, "failed calls leave the out handle alone");
  if (avail) {
    ok(d2g_tensor_empty(shape23, 2, D2G_F32, D2G_CPU, 0, 1, &bad), "pinned host tensor");
    d2g_tensor_free(bad);
  } else {
    fails(d2g_tensor_empty(shape23, 2, D2G_F32, D2G_CPU, 0, 1, &bad), D2G_DEVICE_UNAVAILABLE, "pinned", "pinned without CUDA");
  }

  /* modules: create, state, strict loading with every problem reported at once, forward */
  d2g_module* lin = NULL;
  d2g_module_free(NULL);
  fails(d2g_module_create("no_such_kind", "", &lin), D2G_INVALID_ARGUMENT, "linear", "unknown kind lists known ones");
  fails(d2g_module_create("linear", "in_features=3", &lin), D2G_INVALID_ARGUMENT, "out_features", "missing config key");
  fails(d2g_module_create("linear", "in_features=x\nout_features=2", &lin), D2G_INVALID_ARGUMENT, "integer", "bad int");
  ok(d2g_module_create("linear", "in_features=3\nout_features=2\nbias=true", &lin), "create linear");
  int64_t n_state = 0;
  ok(d2g_module_state_size(lin, &n_state), "state size");
  CHECK(n_state == 2, "linear has weight and bias, got %lld", (long long)n_state);
  char key[64];
  ok(d2g_module_state_entry(lin, 0, key, sizeof key, NULL), "state entry 0");
  CHECK(strcmp(key, "weight") == 0, "first key is weight, got %s", key);
  float w[6] = {1, 0, 0, 0, 1, 0}, bias[2] = {10, 20}, wrong[4] = {0};
  int64_t wshape[2] = {2, 3}, bshape[1] = {2}, wrongshape[2] = {2, 2};
  d2g_tensor *tw = NULL, *tb = NULL, *twrong = NULL;
  ok(d2g_tensor_from_host(w, sizeof w, wshape, 2, D2G_F32, D2G_CPU, 0, &tw), "w");
  ok(d2g_tensor_from_host(bias, sizeof bias, bshape, 1, D2G_F32, D2G_CPU, 0, &tb), "b");
  ok(d2g_tensor_from_host(wrong, sizeof wrong, wrongshape, 2, D2G_F32, D2G_CPU, 0, &twrong), "wrong");
  const char* bad_names[2] = {"weight", "extra"};
  const d2g_tensor* bad_tensors[2] = {twrong, tb};
  d2g_status* st = d2g_module_load_state(lin, bad_names, bad_tensors, 2, 1);
  CHECK(st && strstr(d2g_status_message(st), "missing keys (1): bias") && strstr(d2g_status_message(st), "unexpected keys (1): extra")
        && strstr(d2g_status_message(st), "shape mismatches (1): weight"), "one error lists all problems: %s", d2g_status_message(st));
  d2g_status_free(st);
  const char* names2[2] = {"weight", "bias"};
  const d2g_tensor* tensors2[2] = {tw, tb};
  ok(d2g_module_load_state(lin, names2, tensors2, 2, 1), "load state");
  float xin[3] = {1, 2, 3};
  int64_t xshape[2] = {1, 3};
  d2g_tensor *tx = NULL, *ty = NULL;
  ok(d2g_tensor_from_host(xin, sizeof xin, xshape, 2, D2G_F32, D2G_CPU, 0, &tx), "x");
  ok(d2g_linear_forward(lin, tx, &ty), "linear forward");
  float yv[2] = {0};
  ok(d2g_tensor_copy_to_host(ty, yv, sizeof yv), "y out");
  CHECK(yv[0] == 11 && yv[1] == 22, "linear forward result %g %g", yv[0], yv[1]);
  fails(d2g_linear_forward(lin, twrong, &bad), D2G_INVALID_ARGUMENT, "features", "linear wrong input");
  ok(d2g_module_to(lin, D2G_CPU, 0, D2G_F64), "module to f64");
  d2g_tensor* w64 = NULL;
  ok(d2g_module_state_entry(lin, 0, NULL, 0, &w64), "entry tensor");
  ok(d2g_tensor_dtype(w64, &dtype), "dtype of moved weight");
  CHECK(dtype == D2G_F64, "module_to converted the weights");
  d2g_tensor_free(w64);
  d2g_tensor_free(tw);
  d2g_tensor_free(tb);
  d2g_tensor_free(twrong);
  d2g_tensor_free(tx);
  d2g_tensor_free(ty);
  d2g_module_free(lin);

  d2g_tensor_free(a);
  d2g_tensor_free(c);
  d2g_tensor_free(m);
  d2g_tensor_free(prod);
  d2g_tensor_free(s);
  d2g_tensor_free(h);
  d2g_tensor_free(r);

  printf("%d passed, %d failed\n", checks - failures, failures);
  return failures == 0 ? 0 : 1;
}
