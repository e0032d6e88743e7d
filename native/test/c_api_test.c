/* Exercises the C API from plain C: success paths, ownership, zero-copy release and error paths. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* add of two same-shape CPU tensors of `dtype` with n elements (1-D), values a[i] = i * sa + oa and
 * b[i] = i * sb + ob (as the dtype's C type), checked element by element. Small n take the shim's
 * direct path, large n (more than 1024) LibTorch's at::add. */
#define ADD_CASE(CT, DT)                                                                              \
  static void add_case_##CT(int64_t n, CT sa, CT oa, CT sb, CT ob) {                                  \
    CT* x = malloc(sizeof(CT) * (size_t)(n ? n : 1));                                                 \
    CT* y = malloc(sizeof(CT) * (size_t)(n ? n : 1));                                                 \
    CT* z = malloc(sizeof(CT) * (size_t)(n ? n : 1));                                                 \
    for (int64_t i = 0; i < n; i++) {                                                                 \
      x[i] = (CT)((CT)i * sa + oa);                                                                   \
      y[i] = (CT)((CT)i * sb + ob);                                                                   \
    }                                                                                                 \
    d2g_tensor *tx = NULL, *ty = NULL, *tz = NULL;                                                    \
    ok(d2g_tensor_from_host(x, sizeof(CT) * (size_t)n, &n, 1, DT, D2G_CPU, 0, &tx), "add x " #CT);    \
    ok(d2g_tensor_from_host(y, sizeof(CT) * (size_t)n, &n, 1, DT, D2G_CPU, 0, &ty), "add y " #CT);    \
    ok(d2g_binary(D2G_OP_ADD, tx, ty, 0, &tz), "add " #CT);                                                             \
    int dtype = -1;                                                                                   \
    int64_t numel = -1;                                                                               \
    ok(d2g_tensor_dtype(tz, &dtype), "dtype of sum " #CT);                                            \
    ok(d2g_tensor_numel(tz, &numel), "numel of sum " #CT);                                            \
    CHECK(dtype == DT && numel == n, "sum of " #CT " has dtype %d, %lld elements", dtype, (long long)numel); \
    ok(d2g_tensor_copy_to_host(tz, z, sizeof(CT) * (size_t)n), "sum out " #CT);                       \
    int64_t wrong = 0;                                                                                \
    for (int64_t i = 0; i < n; i++) wrong += z[i] != (CT)(x[i] + y[i]);                               \
    CHECK(wrong == 0, "add " #CT " of %lld elements: %lld wrong", (long long)n, (long long)wrong);    \
    d2g_tensor_free(tx);                                                                              \
    d2g_tensor_free(ty);                                                                              \
    d2g_tensor_free(tz);                                                                              \
    free(x);                                                                                          \
    free(y);                                                                                          \
    free(z);                                                                                          \
  }
ADD_CASE(float, D2G_F32)
ADD_CASE(double, D2G_F64)
ADD_CASE(int64_t, D2G_I64)

static void test_add_paths(void) {
  int64_t sizes[] = {0, 1, 7, 1024, 1025, 5000};
  for (int k = 0; k < 6; k++) {
    add_case_float(sizes[k], 0.1f, -3.0f, -0.7f, 1e-3f);
    add_case_double(sizes[k], 0.1, -3.0, -0.7, 1e-3);
    add_case_int64_t(sizes[k], 3, -5, -7, 11);
  }
  /* int32 wraps around like LibTorch's: INT32_MAX + 1 is INT32_MIN, on both paths */
  for (int k = 0; k < 2; k++) {
    int64_t n = k == 0 ? 3 : 2000;
    int32_t* x = malloc(sizeof(int32_t) * (size_t)n);
    int32_t* y = malloc(sizeof(int32_t) * (size_t)n);
    int32_t* z = malloc(sizeof(int32_t) * (size_t)n);
    for (int64_t i = 0; i < n; i++) {
      x[i] = 2147483647;
      y[i] = 1;
    }
    d2g_tensor *tx = NULL, *ty = NULL, *tz = NULL;
    ok(d2g_tensor_from_host(x, sizeof(int32_t) * (size_t)n, &n, 1, D2G_I32, D2G_CPU, 0, &tx), "i32 x");
    ok(d2g_tensor_from_host(y, sizeof(int32_t) * (size_t)n, &n, 1, D2G_I32, D2G_CPU, 0, &ty), "i32 y");
    ok(d2g_binary(D2G_OP_ADD, tx, ty, 0, &tz), "i32 add");
    ok(d2g_tensor_copy_to_host(tz, z, sizeof(int32_t) * (size_t)n), "i32 sum out");
    CHECK(z[0] == (-2147483647 - 1) && z[n - 1] == (-2147483647 - 1), "i32 add wraps (%lld elements): %d",
          (long long)n, z[0]);
    d2g_tensor_free(tx);
    d2g_tensor_free(ty);
    d2g_tensor_free(tz);
    free(x);
    free(y);
    free(z);
  }
  /* dtypes differ: LibTorch's type promotion (f32 + f64 is f64); a 1-element tensor broadcasts */
  float f1 = 1.5f;
  double d3[3] = {1, 2, 3};
  int64_t one = 1, three = 3;
  d2g_tensor *tf = NULL, *td = NULL, *ts = NULL;
  ok(d2g_tensor_from_host(&f1, sizeof f1, &one, 1, D2G_F32, D2G_CPU, 0, &tf), "f32 scalar");
  ok(d2g_tensor_from_host(d3, sizeof d3, &three, 1, D2G_F64, D2G_CPU, 0, &td), "f64 vector");
  ok(d2g_binary(D2G_OP_ADD, tf, td, 0, &ts), "f32 + f64");
  int dtype = -1;
  ok(d2g_tensor_dtype(ts, &dtype), "dtype of promoted sum");
  double out[3] = {0};
  ok(d2g_tensor_copy_to_host(ts, out, sizeof out), "promoted sum out");
  CHECK(dtype == D2G_F64 && out[0] == 2.5 && out[2] == 4.5, "f32 + f64: dtype %d, %g %g", dtype, out[0], out[2]);
  d2g_tensor_free(ts);
  /* a sum is an ordinary tensor: it can be added to again, reshaped and written */
  d2g_tensor *t2 = NULL, *t4 = NULL;
  ok(d2g_binary(D2G_OP_ADD, tf, tf, 0, &t2), "1-element add");
  ok(d2g_binary(D2G_OP_ADD, t2, t2, 0, &t4), "add of a sum");
  float v = 0;
  ok(d2g_tensor_copy_to_host(t4, &v, sizeof v), "sum of sums out");
  CHECK(v == 6.0f, "1.5 * 4 is %g", v);
  float nine = 9;
  ok(d2g_tensor_copy_from_host(t4, &nine, sizeof nine), "write into a sum");
  ok(d2g_tensor_copy_to_host(t4, &v, sizeof v), "read it back");
  CHECK(v == 9.0f, "written %g", v);
  d2g_tensor_free(t2);
  d2g_tensor_free(t4);
  d2g_tensor_free(tf);
  d2g_tensor_free(td);
}

/* Copies larger than the last-level cache take the shim's streaming-store path: every byte arrives,
 * also from and to addresses that are not 16-byte aligned and sizes that are not a multiple of 64. */
static void test_large_copies(void) {
  int64_t n = (int64_t)20 * 1024 * 1024 + 3; /* 80 MiB + 12 bytes of f32 */
  size_t bytes = sizeof(float) * (size_t)n;
  float* src = malloc(bytes + 64);
  float* dst = malloc(bytes + 64);
  CHECK(src != NULL && dst != NULL, "80 MiB of test memory");
  if (src == NULL || dst == NULL) return;
  float* s = src + 1; /* 4 bytes past malloc's 16-byte alignment */
  float* d = dst + 3;
  for (int64_t i = 0; i < n; i++) s[i] = (float)(i % 1000003);
  d2g_tensor* t = NULL;
  ok(d2g_tensor_from_host(s, bytes, &n, 1, D2G_F32, D2G_CPU, 0, &t), "large from_host");
  memset(dst, 0, bytes + 64);
  ok(d2g_tensor_copy_to_host(t, d, bytes), "large copy_to_host");
  CHECK(memcmp(s, d, bytes) == 0 && dst[0] == 0 && d[n] == 0, "large round trip is exact and stays in bounds");
  for (int64_t i = 0; i < n; i++) s[i] = -s[i];
  ok(d2g_tensor_copy_from_host(t, s, bytes), "large copy_from_host");
  ok(d2g_tensor_copy_to_host(t, d, bytes), "large copy_to_host again");
  CHECK(memcmp(s, d, bytes) == 0, "large copy into an existing tensor is exact");
  double total = 0;
  d2g_tensor* sum = NULL;
  ok(d2g_reduce(D2G_REDUCE_SUM, t, NULL, 0, 0, 0, &sum), "LibTorch reads the tensor");
  ok(d2g_tensor_item(sum, &total), "sum item");
  CHECK(total < 0, "sum of negated values is negative (%g)", total);
  d2g_tensor_free(sum);
  d2g_tensor_free(t);
  /* an empty tensor of that size is writable everywhere */
  d2g_tensor* e = NULL;
  ok(d2g_tensor_empty(&n, 1, D2G_F32, D2G_CPU, 0, 0, &e), "large empty");
  ok(d2g_tensor_copy_from_host(e, s, bytes), "fill large empty");
  ok(d2g_tensor_copy_to_host(e, d, bytes), "large empty out");
  CHECK(memcmp(s, d, bytes) == 0, "large empty round trip");
  /* the same copies split over 1 and 3 threads (parts end mid-line; the last is short) */
  int previous = 0;
  fails(d2g_set_host_copy_threads(-1, NULL), D2G_INVALID_ARGUMENT, "threads must be", "negative copy threads");
  fails(d2g_set_host_copy_threads(65, NULL), D2G_INVALID_ARGUMENT, "threads must be", "too many copy threads");
  for (int threads = 1; threads <= 3; threads += 2) {
    ok(d2g_set_host_copy_threads(threads, &previous), "set copy threads");
    CHECK(previous >= 1 && previous <= 4, "previous copy threads in range (%d)", previous);
    for (int64_t i = 0; i < n; i++) s[i] = (float)(i % 7919) * (float)threads;
    memset(dst, 0, bytes + 64);
    ok(d2g_tensor_copy_from_host(e, s, bytes), "copy_from_host on threads");
    ok(d2g_tensor_copy_to_host(e, d, bytes), "copy_to_host on threads");
    CHECK(memcmp(s, d, bytes) == 0 && dst[0] == 0 && d[n] == 0, "copies on %d threads are exact and in bounds",
          threads);
  }
  ok(d2g_set_host_copy_threads(0, &previous), "default copy threads");
  CHECK(previous == 3, "previous setting returned (%d)", previous);
  d2g_tensor_free(e);
  free(src);
  free(dst);
}

/* Generators: seeded streams, states that restore them, and refusals for the wrong device. */
static void test_generators(void) {
  d2g_generator_free(NULL);
  int64_t shape[1] = {5};
  float x[5], y[5], z[5];
  d2g_generator *g = NULL, *h = NULL;
  ok(d2g_generator_create(D2G_CPU, 0, 7, &g), "generator create");
  ok(d2g_generator_create(D2G_CPU, 0, 7, &h), "second generator, same seed");
  d2g_tensor *a = NULL, *b = NULL, *c = NULL, *state = NULL;
  ok(d2g_generator_get_state(g, &state), "get_state");
  ok(d2g_tensor_randn(shape, 1, D2G_F32, D2G_CPU, 0, g, &a), "randn from g");
  ok(d2g_tensor_randn(shape, 1, D2G_F32, D2G_CPU, 0, h, &b), "randn from h");
  ok(d2g_tensor_copy_to_host(a, x, sizeof x), "a out");
  ok(d2g_tensor_copy_to_host(b, y, sizeof y), "b out");
  CHECK(memcmp(x, y, sizeof x) == 0, "two generators with one seed draw the same numbers");
  d2g_tensor_free(b);
  b = NULL;
  ok(d2g_tensor_randn(shape, 1, D2G_F32, D2G_CPU, 0, g, &b), "second draw from g");
  ok(d2g_tensor_copy_to_host(b, y, sizeof y), "b out");
  CHECK(memcmp(x, y, sizeof x) != 0, "the stream moves on");
  ok(d2g_generator_set_state(g, state), "set_state");
  ok(d2g_tensor_randn(shape, 1, D2G_F32, D2G_CPU, 0, g, &c), "draw after restoring the state");
  ok(d2g_tensor_copy_to_host(c, z, sizeof z), "c out");
  CHECK(memcmp(x, z, sizeof x) == 0, "a restored state repeats the draws");
  ok(d2g_generator_seed(h, 8), "reseed");
  d2g_tensor_free(c);
  c = NULL;
  ok(d2g_tensor_randn(shape, 1, D2G_F32, D2G_CPU, 0, h, &c), "draw after reseeding");
  ok(d2g_tensor_copy_to_host(c, z, sizeof z), "c out");
  CHECK(memcmp(x, z, sizeof x) != 0, "another seed, other numbers");
  int dt = -1, di = -1;
  ok(d2g_generator_device(g, &dt, &di), "generator device");
  CHECK(dt == D2G_CPU && di == 0, "a CPU generator");
  fails(d2g_generator_set_state(g, a), D2G_INVALID_ARGUMENT, "u8", "a float tensor is no state");
  int64_t n3[1] = {3};
  uint8_t junk[3] = {1, 2, 3};
  d2g_tensor* bad = NULL;
  ok(d2g_tensor_from_host(junk, 3, n3, 1, D2G_U8, D2G_CPU, 0, &bad), "junk state");
  fails(d2g_generator_set_state(g, bad), D2G_INVALID_ARGUMENT, "state", "a state of the wrong size");
  int avail = 0;
  ok(d2g_cuda_is_available(&avail), "cuda available");
  if (!avail) {
    d2g_generator* gc = NULL;
    d2g_status* st = d2g_generator_create(D2G_CUDA, 0, 1, &gc);
    CHECK(st != NULL && d2g_status_code(st) == D2G_DEVICE_UNAVAILABLE && gc == NULL, "no CUDA: no CUDA generator");
    d2g_status_free(st);
  } else {
    d2g_generator* gc = NULL;
    ok(d2g_generator_create(D2G_CUDA, 0, 1, &gc), "CUDA generator");
    d2g_tensor* t = NULL;
    fails(d2g_tensor_randn(shape, 1, D2G_F32, D2G_CPU, 0, gc, &t), D2G_INVALID_ARGUMENT, "belongs to",
          "a CUDA generator cannot draw on the CPU");
    ok(d2g_tensor_randn(shape, 1, D2G_F32, D2G_CUDA, 0, gc, &t), "randn on CUDA from its generator");
    d2g_tensor_free(t);
    d2g_generator_free(gc);
  }
  fails(d2g_generator_create(7, 0, 1, &h), D2G_INVALID_ARGUMENT, "device type", "unknown device type");
  d2g_tensor_free(bad);
  d2g_tensor_free(a);
  d2g_tensor_free(b);
  d2g_tensor_free(c);
  d2g_tensor_free(state);
  d2g_generator_free(g);
  d2g_generator_free(h);
}

/* Configs are strict: no key can be smuggled in through a value, no typo passes unnoticed. */
static void test_config_strictness(void) {
  d2g_module* m = NULL;
  fails(d2g_module_create("linear", "in_features=3\nout_features=2\nin_features=4", &m), D2G_INVALID_ARGUMENT,
        "twice", "a key given twice");
  fails(d2g_module_create("linear", "in_features=3\nout_features=2\nbais=true", &m), D2G_INVALID_ARGUMENT,
        "unknown config key 'bais'", "a key the family never reads");
  fails(d2g_module_create("linear", "in_features=3\nout_features=2\nBias=true", &m), D2G_INVALID_ARGUMENT,
        "lower-case", "a key with upper case");
  fails(d2g_module_create("linear", "in_features=3\rout_features=2", &m), D2G_INVALID_ARGUMENT, "character",
        "a control character in a value");
  fails(d2g_module_create("linear", "in_features=3=4\nout_features=2", &m), D2G_INVALID_ARGUMENT, "character",
        "'=' in a value");
  fails(d2g_module_create("linear", "in_features=2147483648\nout_features=2", &m), D2G_INVALID_ARGUMENT, "at most",
        "a layer far too wide");
  fails(d2g_module_create("unet2d_condition", "layers_per_block=2147483648", &m), D2G_INVALID_ARGUMENT, "layers_per_block",
        "a UNet with 2^31 layers per block");
  fails(d2g_module_create("clip_text_model", "num_hidden_layers=1000000", &m), D2G_INVALID_ARGUMENT, "num_hidden_layers",
        "a text encoder with a million layers");
  CHECK(m == NULL, "no module came out of a refused config");
}

/* Autograd through the C API: y = W x + b of a linear module, loss = sum(y * y) / 2; its gradients
 * by hand are dW = y x^T, db = y. Also: exec bits are checked, nothing is recorded without
 * D2G_EXEC_GRAD, torch.autograd.grad with create_graph, the CPU thread setting. */
static void test_autograd(void) {
  d2g_module* lin = NULL;
  ok(d2g_module_create("linear", "in_features=2\nout_features=2\nbias=true", &lin), "linear for autograd");
  int64_t nparams = -1;
  ok(d2g_module_parameter_count(lin, &nparams), "parameter count");
  CHECK(nparams == 2, "linear has 2 parameters, got %lld", (long long)nparams);
  float wv[4] = {1, 2, 3, 4}, bv[2] = {0.5f, -1}, xv[2] = {1, -1};
  int64_t wshape[2] = {2, 2}, bshape[1] = {2}, xshape[2] = {1, 2};
  d2g_tensor *w = NULL, *b = NULL, *x = NULL;
  ok(d2g_module_state_entry(lin, 0, NULL, 0, &w), "weight entry");
  ok(d2g_module_state_entry(lin, 1, NULL, 0, &b), "bias entry");
  ok(d2g_tensor_copy_from_host(w, wv, sizeof wv), "set weight");
  ok(d2g_tensor_copy_from_host(b, bv, sizeof bv), "set bias");
  ok(d2g_tensor_from_host(xv, sizeof xv, xshape, 2, D2G_F32, D2G_CPU, 0, &x), "x");
  int rg = -1;
  ok(d2g_tensor_requires_grad(w, &rg), "requires_grad of a parameter");
  CHECK(rg == 1, "parameters require grad by default");

  /* without D2G_EXEC_GRAD: an output that requires no grad, and backward refuses it */
  d2g_tensor *y0 = NULL, *bad = NULL;
  ok(d2g_linear_forward(lin, x, 0, &y0), "forward without grad");
  ok(d2g_tensor_requires_grad(y0, &rg), "requires_grad of an inference output");
  CHECK(rg == 0, "an inference output requires no grad");
  fails(d2g_tensor_backward(y0, NULL, 0), D2G_INVALID_ARGUMENT, "does not require grad", "backward of inference");
  fails(d2g_linear_forward(lin, x, 8, &bad), D2G_INVALID_ARGUMENT, "unknown bits", "exec with an unknown bit");
  fails(d2g_linear_forward(lin, x, D2G_EXEC_AUTOCAST_BF16 | D2G_EXEC_AUTOCAST_F16, &bad), D2G_INVALID_ARGUMENT,
        "pick one", "exec with two autocast dtypes");

  /* with it: y = [1*1 + 2*-1 + 0.5, 3*1 + 4*-1 - 1] = [-0.5, -2]; loss = (0.25 + 4) / 2 */
  d2g_tensor *y = NULL, *sq = NULL, *sum = NULL, *loss = NULL;
  ok(d2g_linear_forward(lin, x, D2G_EXEC_GRAD, &y), "forward with grad");
  ok(d2g_unary(D2G_OP_SQUARE, y, D2G_EXEC_GRAD, &sq), "square");
  ok(d2g_reduce(D2G_REDUCE_SUM, sq, NULL, 0, 0, D2G_EXEC_GRAD, &sum), "sum");
  ok(d2g_scalar_op(D2G_OP_MUL, sum, 0.5, D2G_EXEC_GRAD, &loss), "half");
  double lv = 0;
  ok(d2g_tensor_item(loss, &lv), "loss value");
  CHECK(lv == 2.125, "loss %g", lv);
  d2g_tensor* g = (d2g_tensor*)1;
  ok(d2g_tensor_grad(w, &g), "grad before backward");
  CHECK(g == NULL, "no grad before backward");
  ok(d2g_tensor_backward(loss, NULL, 1), "backward");
  ok(d2g_tensor_grad(w, &g), "weight grad");
  float gw[4] = {0};
  ok(d2g_tensor_copy_to_host(g, gw, sizeof gw), "weight grad out");
  CHECK(gw[0] == -0.5f && gw[1] == 0.5f && gw[2] == -2 && gw[3] == 2, "dW = y x^T: %g %g %g %g", gw[0], gw[1], gw[2], gw[3]);
  d2g_tensor_free(g);
  ok(d2g_tensor_backward(loss, NULL, 0), "second backward accumulates");
  ok(d2g_tensor_grad(b, &g), "bias grad");
  float gb[2] = {0};
  ok(d2g_tensor_copy_to_host(g, gb, sizeof gb), "bias grad out");
  CHECK(gb[0] == -1 && gb[1] == -4, "db accumulated twice = 2y: %g %g", gb[0], gb[1]);
  d2g_tensor_free(g);
  fails(d2g_tensor_backward(loss, NULL, 0), D2G_NATIVE_FAILURE, "", "backward through a freed graph");
  fails(d2g_tensor_set_requires_grad(y, 0), D2G_INVALID_ARGUMENT, "leaf", "requires_grad of a computed tensor");
  ok(d2g_module_zero_grad(lin), "zero_grad");
  ok(d2g_tensor_grad(w, &g), "grad after zero_grad");
  CHECK(g == NULL, "zero_grad drops the gradients");
  ok(d2g_module_set_requires_grad(lin, 0), "freeze");
  ok(d2g_tensor_requires_grad(w, &rg), "requires_grad after freeze");
  CHECK(rg == 0, "a frozen parameter requires no grad");
  ok(d2g_module_set_requires_grad(lin, 1), "unfreeze");

  /* torch.autograd.grad of sum(x^3) w.r.t. x with create_graph: 3x^2, and its own gradient 6x */
  d2g_tensor *v = NULL, *cube = NULL, *total = NULL, *dv = NULL, *dvsum = NULL;
  float vv[2] = {2, -3};
  int64_t vshape[1] = {2};
  ok(d2g_tensor_from_host(vv, sizeof vv, vshape, 1, D2G_F32, D2G_CPU, 0, &v), "v");
  ok(d2g_tensor_set_requires_grad(v, 1), "v requires grad");
  ok(d2g_scalar_op(D2G_OP_POW, v, 3, D2G_EXEC_GRAD, &cube), "cube");
  ok(d2g_reduce(D2G_REDUCE_SUM, cube, NULL, 0, 0, D2G_EXEC_GRAD, &total), "sum of cubes");
  const d2g_tensor* outs[1] = {total};
  const d2g_tensor* ins[1] = {v};
  ok(d2g_autograd_grad(outs, NULL, 1, ins, 1, 1, &dv), "autograd_grad");
  float dvv[2] = {0};
  ok(d2g_tensor_copy_to_host(dv, dvv, sizeof dvv), "dv out");
  CHECK(dvv[0] == 12 && dvv[1] == 27, "d sum(v^3) = 3v^2: %g %g", dvv[0], dvv[1]);
  ok(d2g_tensor_grad(v, &g), "autograd_grad leaves .grad alone");
  CHECK(g == NULL, "no .grad after autograd_grad");
  ok(d2g_reduce(D2G_REDUCE_SUM, dv, NULL, 0, 0, D2G_EXEC_GRAD, &dvsum), "sum of the gradient");
  ok(d2g_tensor_backward(dvsum, NULL, 0), "backward through the gradient");
  ok(d2g_tensor_grad(v, &g), "second-order grad");
  ok(d2g_tensor_copy_to_host(g, dvv, sizeof dvv), "second-order out");
  CHECK(dvv[0] == 12 && dvv[1] == -18, "d sum(3v^2) = 6v: %g %g", dvv[0], dvv[1]);
  d2g_tensor_free(g);

  /* the CPU thread setting and the BLAS in use */
  int prev = -1, now = -1;
  ok(d2g_cpu_threads(1, &prev), "set threads");
  ok(d2g_cpu_threads(0, &now), "read threads");
  CHECK(prev >= 1 && now == 1, "threads were %d, now %d", prev, now);
  ok(d2g_cpu_threads(prev, NULL), "restore threads");
  fails(d2g_cpu_threads(-1, NULL), D2G_INVALID_ARGUMENT, "1..1024", "negative threads");
  char blas[512];
  ok(d2g_blas_library(blas, sizeof blas), "blas library");
  printf("BLAS: %s, intra-op threads: %d\n", blas[0] ? blas : "(none loaded)", prev);

  /* an optimizer step: SGD lr 0.5 on loss = sum(v^3) moves v by -0.5 * 3 v^2 */
  d2g_optimizer* opt = NULL;
  const d2g_tensor* params[1] = {v};
  int group0[1] = {0};
  double lr[1] = {0.5}, wd[1] = {0};
  fails(d2g_optimizer_create("adam", "", params, group0, 1, lr, wd, 1, &opt), D2G_INVALID_ARGUMENT, "unknown optimizer",
        "unknown optimizer kind");
  fails(d2g_optimizer_create("sgd", "momentun=0.9", params, group0, 1, lr, wd, 1, &opt), D2G_INVALID_ARGUMENT,
        "momentun", "misspelt optimizer setting");
  int group1[1] = {1};
  fails(d2g_optimizer_create("sgd", "", params, group1, 1, lr, wd, 1, &opt), D2G_INVALID_ARGUMENT, "group by group",
        "a group out of range");
  ok(d2g_optimizer_create("sgd", "", params, group0, 1, lr, wd, 1, &opt), "sgd");
  ok(d2g_optimizer_zero_grad(opt), "optimizer zero_grad");
  d2g_tensor *cube2 = NULL, *total2 = NULL;
  ok(d2g_scalar_op(D2G_OP_POW, v, 3, D2G_EXEC_GRAD, &cube2), "cube again");
  ok(d2g_reduce(D2G_REDUCE_SUM, cube2, NULL, 0, 0, D2G_EXEC_GRAD, &total2), "sum again");
  ok(d2g_tensor_backward(total2, NULL, 0), "backward for the step");
  ok(d2g_optimizer_step(opt), "sgd step");
  ok(d2g_tensor_copy_to_host(v, vv, sizeof vv), "v after the step");
  CHECK(vv[0] == 2 - 0.5f * 12 && vv[1] == -3 - 0.5f * 27, "sgd moved v to %g %g", vv[0], vv[1]);
  int64_t nstate = -1;
  ok(d2g_optimizer_state_size(opt, &nstate), "plain sgd state size");
  CHECK(nstate == 0, "plain sgd keeps no state (%lld)", (long long)nstate);
  fails(d2g_optimizer_set_lr(opt, 1, 0.1), D2G_INVALID_ARGUMENT, "out of range", "set_lr of a missing group");
  d2g_optimizer_free(opt);
  d2g_optimizer_free(NULL);
  d2g_ema_free(NULL);
  d2g_tensor_free(cube2);
  d2g_tensor_free(total2);

  d2g_tensor* all[] = {w, b, x, y0, y, sq, sum, loss, v, cube, total, dv, dvsum};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) d2g_tensor_free(all[i]);
  d2g_module_free(lin);
}

/* Data parallel on Gloo across two processes (this one and a fork): all_reduce and broadcast, and a
 * linear module whose gradients, from different inputs on each rank, come out averaged on both. */
static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (fd >= 0 && bind(fd, (struct sockaddr*)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr*)&a, &len) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0) close(fd);
  return port;
}

static void data_parallel_rank(int rank, int port) {
  d2g_process_group* pg = NULL;
  ok(d2g_process_group_create("gloo", "127.0.0.1", port, rank, 2, 20000, &pg), "gloo process group");
  if (pg == NULL) return;
  int r = -1, w = -1;
  ok(d2g_process_group_info(pg, &r, &w), "group info");
  CHECK(r == rank && w == 2, "rank %d of %d", r, w);
  float v[2] = {(float)rank + 1, 10 * ((float)rank + 1)};
  int64_t two = 2;
  d2g_tensor* t = NULL;
  ok(d2g_tensor_from_host(v, sizeof v, &two, 1, D2G_F32, D2G_CPU, 0, &t), "tensor to reduce");
  ok(d2g_all_reduce(pg, &t, 1, 0), "all_reduce sum");
  ok(d2g_tensor_copy_to_host(t, v, sizeof v), "sum out");
  CHECK(v[0] == 3 && v[1] == 30, "rank %d: sum %g %g", rank, v[0], v[1]);
  v[0] = (float)rank;
  ok(d2g_tensor_copy_from_host(t, v, sizeof v), "broadcast input");
  ok(d2g_broadcast(pg, &t, 1, 1), "broadcast from rank 1");
  ok(d2g_tensor_copy_to_host(t, v, sizeof v), "broadcast out");
  CHECK(v[0] == 1, "rank %d: broadcast gave %g", rank, v[0]);

  /* y = W x (2 -> 1, no bias), loss = y; dL/dW = x: rank 0 has x = (1, 2), rank 1 x = (3, 6); the
   * average is (2, 4). Rank 1's weights start different and are replaced by rank 0's. */
  d2g_module* lin = NULL;
  ok(d2g_module_create("linear", "in_features=2\nout_features=1\nbias=false", &lin), "linear");
  d2g_tensor* wt = NULL;
  ok(d2g_module_state_entry(lin, 0, NULL, 0, &wt), "weight");
  float wv[2] = {(float)rank + 0.5f, -1};
  ok(d2g_tensor_copy_from_host(wt, wv, sizeof wv), "set weight");
  d2g_data_parallel* dp = NULL;
  ok(d2g_data_parallel_create(pg, lin, 25, &dp), "data parallel");
  ok(d2g_tensor_copy_to_host(wt, wv, sizeof wv), "weight after the broadcast");
  CHECK(wv[0] == 0.5f && wv[1] == -1, "rank %d starts from rank 0's weights: %g %g", rank, wv[0], wv[1]);
  float xv[2] = {1 + 2.0f * rank, 2 + 4.0f * rank};
  int64_t xs[2] = {1, 2};
  d2g_tensor *x = NULL, *y = NULL, *g = NULL;
  ok(d2g_tensor_from_host(xv, sizeof xv, xs, 2, D2G_F32, D2G_CPU, 0, &x), "x");
  ok(d2g_linear_forward(lin, x, D2G_EXEC_GRAD, &y), "forward");
  ok(d2g_tensor_backward(y, NULL, 0), "backward");
  ok(d2g_data_parallel_finish(dp), "finish");
  ok(d2g_tensor_grad(wt, &g), "grad");
  float gv[2] = {0};
  if (g != NULL) ok(d2g_tensor_copy_to_host(g, gv, sizeof gv), "grad out");
  CHECK(gv[0] == 2 && gv[1] == 4, "rank %d: averaged grad %g %g", rank, gv[0], gv[1]);
  d2g_tensor_free(g);
  d2g_tensor_free(y);
  d2g_tensor_free(x);
  d2g_data_parallel_free(dp);
  d2g_tensor_free(wt);
  d2g_module_free(lin);
  d2g_tensor_free(t);
  d2g_process_group_free(pg);
}

static void test_data_parallel(void) {
  char backends[64];
  ok(d2g_process_group_backends(backends, sizeof backends), "backends");
  d2g_process_group* pg = NULL;
  fails(d2g_process_group_create("mpi", "127.0.0.1", 29500, 0, 1, 1000, &pg), D2G_INVALID_ARGUMENT, "not in this build",
        "an unknown backend");
  fails(d2g_process_group_create("gloo", "127.0.0.1", 29500, 2, 2, 1000, &pg), D2G_INVALID_ARGUMENT, "outside",
        "a rank outside the world");
  if (strstr(backends, "gloo") == NULL) {
    printf("data parallel: skipped, this build has no Gloo (backends: '%s')\n", backends);
    return;
  }
  int port = free_port();
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    data_parallel_rank(1, port);
    _exit(failures == 0 ? 0 : 1);
  }
  data_parallel_rank(0, port);
  int status = 0;
  waitpid(child, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "rank 1's checks (exit status %d)", status);
}

/* The judge's entry points: encoders on a tiny judge, and the refusals of the C layer. */
static void test_judge(void) {
  d2g_module* judge = NULL;
  ok(d2g_module_create("image_text_judge", "image_widths=8\nnorm_groups=4\ntext_width=8\ntext_layers=1\nembed_dim=4",
                       &judge),
     "tiny judge");
  int64_t ishape[4] = {2, 3, 8, 8};
  d2g_tensor *img = NULL, *emb = NULL, *txt = NULL;
  ok(d2g_tensor_randn(ishape, 4, D2G_F32, D2G_CPU, 0, NULL, &img), "images");
  ok(d2g_judge_encode_image(judge, img, 0, &emb), "encode images");
  int64_t got[8];
  int nd = 0;
  ok(d2g_tensor_ndim(emb, &nd), "embedding rank");
  ok(d2g_tensor_shape(emb, got, 8), "embedding shape");
  CHECK(nd == 2 && got[0] == 2 && got[1] == 4, "image embeddings are [2, 4]");
  d2g_tensor_free(emb);
  int64_t bytes[6] = {98, 99, 100, 101, 0, 0}, tshape[2] = {2, 3};
  ok(d2g_tensor_from_blob(bytes, sizeof bytes, tshape, 2, D2G_I64, NULL, NULL, &txt), "text bytes");
  ok(d2g_judge_encode_text(judge, txt, 0, &emb), "encode text");
  d2g_tensor_free(emb);
  fails(d2g_judge_encode_text(judge, img, 0, &emb), D2G_INVALID_ARGUMENT, "[B, L]", "images as text");
  fails(d2g_judge_encode_image(NULL, img, 0, &emb), D2G_INVALID_ARGUMENT, "NULL", "no module");
  d2g_module* lin = NULL;
  ok(d2g_module_create("linear", "in_features=2\nout_features=2", &lin), "linear");
  fails(d2g_judge_encode_image(lin, img, 0, &emb), D2G_INVALID_ARGUMENT, "not a image_text_judge", "a linear as judge");
  fails(d2g_train_step_run_inputs(NULL, NULL, 0, NULL, 0), D2G_INVALID_ARGUMENT, "NULL", "run of no step");
  d2g_train_step* step = NULL;
  fails(d2g_train_step_create("contrastive", "", judge, NULL, NULL, NULL, NULL, &step), D2G_INVALID_ARGUMENT, "optimizer",
        "a step without an optimizer");
  fails(d2g_train_step_create("gan", "", judge, NULL, NULL, NULL, NULL, &step), D2G_INVALID_ARGUMENT, "optimizer",
        "an unknown kind without an optimizer");
  CHECK(step == NULL, "no step came out of a refused create");
  d2g_tensor_free(txt);
  d2g_tensor_free(img);
  d2g_module_free(lin);
  d2g_module_free(judge);
}

/* The samplers' linear combination, narrow, and LatentLPIPS: results and the C layer's refusals. */
static void test_lincomb_narrow_lpips(void) {
  float a[3] = {1, 2, 3}, b[3] = {-1, 0.5f, 4}, out[3];
  int64_t shape[1] = {3}, shape2[1] = {2};
  d2g_tensor *ta = NULL, *tb = NULL, *tc = NULL, *r = NULL;
  ok(d2g_tensor_from_blob(a, sizeof a, shape, 1, D2G_F32, NULL, NULL, &ta), "a");
  ok(d2g_tensor_from_blob(b, sizeof b, shape, 1, D2G_F32, NULL, NULL, &tb), "b");
  ok(d2g_tensor_from_blob(b, 2 * sizeof(float), shape2, 1, D2G_F32, NULL, NULL, &tc), "c");
  const d2g_tensor* two[2] = {ta, tb};
  double coeffs[2] = {2, -3};
  ok(d2g_lincomb(two, coeffs, 2, 0, &r), "2a - 3b");
  ok(d2g_tensor_copy_to_host(r, out, sizeof out), "read 2a - 3b");
  CHECK(out[0] == 5 && out[1] == 2.5f && out[2] == -6, "2a - 3b is %g %g %g", out[0], out[1], out[2]);
  d2g_tensor_free(r);
  const d2g_tensor* mismatched[2] = {ta, tc};
  fails(d2g_lincomb(mismatched, coeffs, 2, 0, &r), D2G_INVALID_ARGUMENT, "differ", "tensors of two shapes");
  fails(d2g_lincomb(two, coeffs, 0, 0, &r), D2G_INVALID_ARGUMENT, "1 to 8", "no tensors");
  fails(d2g_lincomb(two, NULL, 2, 0, &r), D2G_INVALID_ARGUMENT, "NULL", "no coefficients");
  double nan[2] = {0.0 / 0.0, 1};
  fails(d2g_lincomb(two, nan, 2, 0, &r), D2G_INVALID_ARGUMENT, "coefficient", "a NaN coefficient");
  ok(d2g_narrow(ta, 0, 1, 2, 0, &r), "narrow");
  ok(d2g_tensor_copy_to_host(r, out, 2 * sizeof(float)), "read the view");
  CHECK(out[0] == 2 && out[1] == 3, "narrow(0, 1, 2) is %g %g", out[0], out[1]);
  d2g_tensor_free(r);
  fails(d2g_narrow(ta, 0, 2, 2, 0, &r), D2G_INVALID_ARGUMENT, "do not fit", "a view past the end");
  fails(d2g_narrow(ta, 1, 0, 1, 0, &r), D2G_INVALID_ARGUMENT, "out of range", "a dimension it lacks");
  fails(d2g_narrow(NULL, 0, 0, 1, 0, &r), D2G_INVALID_ARGUMENT, "NULL", "narrow of nothing");

  d2g_module* lp = NULL;
  ok(d2g_module_create("latent_lpips", "latent_channels=4\nwidths=8,8,8,8,8", &lp), "tiny latent_lpips");
  int64_t zshape[4] = {2, 4, 8, 8}, odd[4] = {2, 4, 6, 6};
  d2g_tensor *z0 = NULL, *z1 = NULL, *zo = NULL, *d = NULL;
  ok(d2g_tensor_randn(zshape, 4, D2G_F32, D2G_CPU, 0, NULL, &z0), "z0");
  ok(d2g_tensor_randn(zshape, 4, D2G_F32, D2G_CPU, 0, NULL, &z1), "z1");
  ok(d2g_tensor_randn(odd, 4, D2G_F32, D2G_CPU, 0, NULL, &zo), "odd");
  ok(d2g_lpips_distance(lp, z0, z1, 0, &d), "distance");
  int64_t got[4];
  ok(d2g_tensor_shape(d, got, 4), "distance shape");
  CHECK(got[0] == 2, "two distances, got %lld", (long long)got[0]);
  d2g_tensor_free(d);
  d2g_tensor* taps[5] = {NULL};
  int count = 0;
  ok(d2g_lpips_features(lp, z0, 0, taps, 5, &count), "taps");
  CHECK(count == 5, "five taps, got %d", count);
  for (int i = 0; i < count; i++) d2g_tensor_free(taps[i]);
  fails(d2g_lpips_features(lp, z0, 0, taps, 4, &count), D2G_INVALID_ARGUMENT, "room for 4", "too little room for taps");
  fails(d2g_lpips_distance(lp, zo, zo, 0, &d), D2G_INVALID_ARGUMENT, "multiples of 4", "sides not multiples of 4");
  fails(d2g_lpips_distance(lp, z0, NULL, 0, &d), D2G_INVALID_ARGUMENT, "NULL", "no second input");
  fails(d2g_module_create("latent_lpips", "widths=8,8,8", &lp), D2G_INVALID_ARGUMENT, "5 values", "three widths");
  d2g_tensor* params[6] = {NULL};
  ok(d2g_lpips_augment_draw("bgco", 2, 4, 8, 8, NULL, params, 6), "draw bgco");
  for (int i = 0; i < 6; i++) CHECK(params[i] != NULL, "bgco draws parameter %d", i);
  d2g_tensor *a0 = NULL, *a1 = NULL;
  ok(d2g_lpips_augment(z0, z1, params[0], params[1], params[2], params[3], params[4], params[5], 0, &a0, &a1), "augment");
  d2g_tensor_free(a0);
  d2g_tensor_free(a1);
  fails(d2g_lpips_augment(z0, z1, params[1], NULL, NULL, NULL, NULL, NULL, 0, &a0, &a1), D2G_INVALID_ARGUMENT, "g_inv",
        "draws of the wrong shape as g_inv");
  for (int i = 0; i < 6; i++) d2g_tensor_free(params[i]);
  ok(d2g_lpips_augment_draw("c", 2, 4, 8, 8, NULL, params, 6), "draw c");
  CHECK(params[0] == NULL && params[1] != NULL && params[4] == NULL, "c draws colour only");
  for (int i = 0; i < 6; i++) d2g_tensor_free(params[i]);
  fails(d2g_lpips_augment_draw("bgx", 2, 4, 8, 8, NULL, params, 6), D2G_INVALID_ARGUMENT, "unknown preset", "a bad preset");
  fails(d2g_lpips_augment_draw("bg", 2, 4, 8, 8, NULL, params, 5), D2G_INVALID_ARGUMENT, "room for 5", "too little room");
  ok(d2g_lpips_distance_ensemble(lp, z0, z1, "bg", NULL, 0, &d), "ensemble distance");
  d2g_tensor_free(d);
  fails(d2g_lpips_distance_ensemble(lp, z0, z1, NULL, NULL, 0, &d), D2G_INVALID_ARGUMENT, "NULL", "no preset");
  d2g_tensor* dx = NULL;
  for (int graph = 0; graph < 2; graph++) {  /* cuda_graph is ignored on the CPU */
    ok(d2g_lpips_distance_grad(lp, z0, z1, "bgco", NULL, 0, graph, &d, &dx), "distance and gradient");
    ok(d2g_tensor_shape(dx, got, 4), "gradient shape");
    CHECK(got[0] == 2 && got[1] == 4 && got[2] == 8 && got[3] == 8, "the gradient has x0's shape");
    d2g_tensor_free(d);
    d2g_tensor_free(dx);
  }
  ok(d2g_lpips_distance_grad(lp, z0, z1, "none", NULL, 0, 0, &d, &dx), "plain distance and gradient");
  d2g_tensor_free(d);
  d2g_tensor_free(dx);
  fails(d2g_lpips_distance_grad(lp, z0, z1, "bq", NULL, 0, 0, &d, &dx), D2G_INVALID_ARGUMENT, "unknown preset",
        "distance and gradient with a bad preset");
  fails(d2g_lpips_distance_grad(lp, z0, zo, "bg", NULL, 0, 0, &d, &dx), D2G_INVALID_ARGUMENT, "multiples of 4",
        "distance and gradient of a bad shape");
  fails(d2g_lpips_distance_grad(lp, z0, z1, "bg", NULL, 0, 0, &d, NULL), D2G_INVALID_ARGUMENT, "NULL",
        "distance and gradient with nowhere for the gradient");
  d2g_module* lin = NULL;
  ok(d2g_module_create("linear", "in_features=2\nout_features=2", &lin), "linear");
  fails(d2g_lpips_distance(lin, z0, z1, 0, &d), D2G_INVALID_ARGUMENT, "not a latent_lpips", "a linear as lpips");
  d2g_module_free(lin);
  d2g_tensor_free(zo);
  d2g_tensor_free(z1);
  d2g_tensor_free(z0);
  d2g_module_free(lp);
  d2g_tensor_free(tc);
  d2g_tensor_free(tb);
  d2g_tensor_free(ta);
}

/* An optimizer (sgd) over all of a module's parameters. */
static d2g_optimizer* sgd_over(d2g_module* m) {
  int64_t n = 0;
  ok(d2g_module_parameter_count(m, &n), "parameter count");
  d2g_tensor* params[16] = {NULL};
  int group[16] = {0};
  for (int64_t i = 0; i < n && i < 16; i++) ok(d2g_module_state_entry(m, i, NULL, 0, &params[i]), "parameter");
  double lr[1] = {0.1}, wd[1] = {0};
  d2g_optimizer* opt = NULL;
  ok(d2g_optimizer_create("sgd", "", (const d2g_tensor* const*)params, group, n, lr, wd, 1, &opt), "sgd over a module");
  for (int64_t i = 0; i < n && i < 16; i++) d2g_tensor_free(params[i]);
  return opt;
}

/* LatentLPIPS's own training steps: the trunk's classifier and the lin heads' 2AFC calibration. */
static void test_lpips_steps(void) {
  d2g_module *lp = NULL, *head = NULL, *bad_head = NULL, *rank = NULL;
  ok(d2g_module_create("latent_lpips", "widths=8,8,8,8,8", &lp), "tiny latent_lpips");
  ok(d2g_module_create("linear", "in_features=8\nout_features=5", &head), "head for classes 3,2");
  ok(d2g_module_create("linear", "in_features=8\nout_features=4", &bad_head), "a head of the wrong size");
  ok(d2g_module_create("lpips_rank", "mid=4", &rank), "lpips_rank");
  fails(d2g_module_create("lpips_rank", "mid=0", &bad_head), D2G_INVALID_ARGUMENT, "mid", "a rank of no width");
  d2g_optimizer* head_opt = sgd_over(head);
  d2g_train_step* step = NULL;
  fails(d2g_train_step_create("lpips_classify", "classes=3,2\npreset=zz", lp, head_opt, NULL, NULL, NULL, &step),
        D2G_INVALID_ARGUMENT, "preset", "an unknown preset");
  fails(d2g_train_step_create("lpips_classify", "classes=1", lp, head_opt, NULL, NULL, NULL, &step), D2G_INVALID_ARGUMENT,
        "2 to", "one class");
  fails(d2g_train_step_create("lpips_classify", "classes=3,2", head, head_opt, NULL, NULL, NULL, &step),
        D2G_INVALID_ARGUMENT, "latent_lpips", "a linear as the trunk");
  ok(d2g_train_step_create("lpips_classify", "classes=3,2", lp, head_opt, NULL, NULL, NULL, &step), "classify step");
  int64_t zshape[4] = {4, 4, 8, 8}, lshape[2] = {4, 2}, one = 1;
  int64_t labels[8] = {0, 1, 2, 0, 1, -1, 2, 1}, bad_labels[8] = {0, 1, 3, 0, 1, 0, 2, 1}, seed[1] = {5};
  d2g_tensor *z = NULL, *lab = NULL, *badlab = NULL, *sd = NULL;
  ok(d2g_tensor_randn(zshape, 4, D2G_F32, D2G_CPU, 0, NULL, &z), "latents");
  ok(d2g_tensor_from_blob(labels, sizeof labels, lshape, 2, D2G_I64, NULL, NULL, &lab), "labels");
  ok(d2g_tensor_from_blob(bad_labels, sizeof bad_labels, lshape, 2, D2G_I64, NULL, NULL, &badlab), "bad labels");
  ok(d2g_tensor_from_blob(seed, sizeof seed, &one, 1, D2G_I64, NULL, NULL, &sd), "seed");
  const d2g_tensor* in[3] = {z, lab, sd};
  double m[4] = {0};
  fails(d2g_train_step_run_inputs(step, in, 3, m, 4), D2G_INVALID_ARGUMENT, "no head", "a classifier without its head");
  fails(d2g_train_step_set_module(step, "head", bad_head), D2G_INVALID_ARGUMENT, "to 5 classes", "a head of 4 classes");
  fails(d2g_train_step_set_module(step, "rank", rank), D2G_INVALID_ARGUMENT, "takes a head", "a rank as the head");
  ok(d2g_train_step_set_module(step, "head", head), "the head");
  ok(d2g_train_step_run_inputs(step, in, 3, m, 4), "classify");
  CHECK(m[0] > 0 && m[0] < 20 && m[2] >= 0 && m[2] <= 1 && m[3] == 1, "classify loss %g accuracy %g stepped %g", m[0],
        m[2], m[3]);
  const d2g_tensor* bad_in[3] = {z, badlab, sd};
  fails(d2g_train_step_run_inputs(step, bad_in, 3, m, 4), D2G_INVALID_ARGUMENT, "0 to 2", "a label past its class count");
  fails(d2g_train_step_run_inputs(step, in, 2, m, 4), D2G_INVALID_ARGUMENT, "seed", "no seed");
  d2g_train_step_free(step);
  d2g_optimizer_free(head_opt);

  d2g_optimizer* rank_opt = sgd_over(rank);
  ok(d2g_train_step_create("lpips_2afc", "", lp, rank_opt, NULL, NULL, NULL, &step), "2afc step");
  float judge[4] = {0, 1, 0.5f, 1}, bad_judge[4] = {0, 1.5f, 0, 1};
  int64_t four = 4;
  d2g_tensor *z1 = NULL, *z2 = NULL, *j = NULL, *badj = NULL;
  ok(d2g_tensor_randn(zshape, 4, D2G_F32, D2G_CPU, 0, NULL, &z1), "p0");
  ok(d2g_tensor_randn(zshape, 4, D2G_F32, D2G_CPU, 0, NULL, &z2), "p1");
  ok(d2g_tensor_from_blob(judge, sizeof judge, &four, 1, D2G_F32, NULL, NULL, &j), "judgements");
  ok(d2g_tensor_from_blob(bad_judge, sizeof bad_judge, &four, 1, D2G_F32, NULL, NULL, &badj), "bad judgements");
  const d2g_tensor* tri[4] = {z, z1, z2, j};
  fails(d2g_train_step_run_inputs(step, tri, 4, m, 4), D2G_INVALID_ARGUMENT, "nothing to train",
        "calibration of frozen heads");
  ok(d2g_module_set_requires_grad(lp, 1), "trainable lin heads");
  ok(d2g_train_step_run_inputs(step, tri, 4, m, 4), "calibrate, direct logit");
  CHECK(m[0] > 0 && m[2] >= 0 && m[2] <= 1 && m[3] == 1, "2afc loss %g score %g stepped %g", m[0], m[2], m[3]);
  fails(d2g_train_step_set_module(step, "head", head), D2G_INVALID_ARGUMENT, "takes a rank", "a head as the rank");
  ok(d2g_train_step_set_module(step, "rank", rank), "the rank");
  ok(d2g_train_step_run_inputs(step, tri, 4, m, 4), "calibrate, ranking head");
  CHECK(m[0] > 0 && m[2] >= 0 && m[2] <= 1 && m[3] == 1, "2afc loss %g score %g stepped %g", m[0], m[2], m[3]);
  /* The lin heads are non-negative after a calibration step (their default initialisation is not). */
  int64_t entries = 0;
  ok(d2g_module_state_size(lp, &entries), "state size");
  float minimum = 1;
  for (int64_t i = 0; i < entries; i++) {
    char name[64];
    d2g_tensor* t = NULL;
    ok(d2g_module_state_entry(lp, i, name, sizeof name, &t), "entry");
    if (strncmp(name, "lin", 3) == 0) {
      float w[8];
      ok(d2g_tensor_copy_to_host(t, w, sizeof w), "lin weights");
      for (int k = 0; k < 8; k++) minimum = w[k] < minimum ? w[k] : minimum;
    }
    d2g_tensor_free(t);
  }
  CHECK(minimum >= 0, "lin weights clamped at 0, smallest %g", minimum);
  const d2g_tensor* bad_tri[4] = {z, z1, z2, badj};
  fails(d2g_train_step_run_inputs(step, bad_tri, 4, m, 4), D2G_INVALID_ARGUMENT, "[0, 1]", "a judgement of 1.5");
  const d2g_tensor* short_tri[4] = {z, z1, lab, j};
  fails(d2g_train_step_run_inputs(step, short_tri, 4, m, 4), D2G_INVALID_ARGUMENT, "p1", "labels as p1");
  d2g_train_step_free(step);
  d2g_optimizer_free(rank_opt);
  for (d2g_tensor** t = (d2g_tensor*[]){z, lab, badlab, sd, z1, z2, j, badj, NULL}; *t; t++) d2g_tensor_free(*t);
  d2g_module_free(rank);
  d2g_module_free(bad_head);
  d2g_module_free(head);
  d2g_module_free(lp);
}


/* The guided sampler on the CPU: the loop's result equals the same arithmetic done step by step with
 * the UNet's forward and lincomb, and bad input is refused. */
static void test_guided_sampler(void) {
  d2g_module* unet = NULL;
  ok(d2g_module_create("unet2d_condition",
                       "in_channels=4\nout_channels=4\nblock_out_channels=8,16\nlayers_per_block=1\n"
                       "down_block_types=CrossAttnDownBlock2D,DownBlock2D\nup_block_types=UpBlock2D,CrossAttnUpBlock2D\n"
                       "cross_attention_dim=8\nattention_head_dim=2\nnorm_num_groups=4",
                       &unet),
     "tiny unet");
  d2g_guided_sampler* s = NULL;
  ok(d2g_guided_sampler_create(unet, 1, &s), "sampler (graphs asked, CPU runs eagerly)");
  int64_t xs[4] = {2, 4, 8, 8}, cs[3] = {2, 5, 8};
  d2g_tensor *x = NULL, *c = NULL, *u = NULL, *out = NULL;
  ok(d2g_tensor_randn(xs, 4, D2G_F32, D2G_CPU, 0, NULL, &x), "noise");
  ok(d2g_tensor_randn(cs, 3, D2G_F32, D2G_CPU, 0, NULL, &c), "cond");
  ok(d2g_tensor_randn(cs, 3, D2G_F32, D2G_CPU, 0, NULL, &u), "uncond");
  const double steps[8] = {900, 1.0, 0.9, -0.3, 400, 0.5, 1.1, 0.2};
  const double g = 3;
  ok(d2g_guided_sampler_run(s, x, c, u, g, steps, 2, &out), "two guided steps");
  /* the same by hand */
  d2g_tensor* xr = NULL;
  const double one = 1;
  const d2g_tensor* just_x[1] = {x};
  ok(d2g_lincomb(just_x, &one, 1, 0, &xr), "copy of x");
  for (int i = 0; i < 2; i++) {
    d2g_tensor *in = NULL, *t = NULL, *eu = NULL, *ec = NULL, *gd = NULL, *next = NULL;
    const d2g_tensor* xin[1] = {xr};
    ok(d2g_lincomb(xin, &steps[4 * i + 1], 1, 0, &in), "input scale");
    float tv = (float)steps[4 * i];
    int64_t one_shape[1] = {1};
    ok(d2g_tensor_from_host(&tv, sizeof tv, one_shape, 1, D2G_F32, D2G_CPU, 0, &t), "t");
    ok(d2g_unet_forward(unet, in, t, u, 0, &eu), "uncond pass");
    ok(d2g_unet_forward(unet, in, t, c, 0, &ec), "cond pass");
    const d2g_tensor* pair[2] = {eu, ec};
    double w[2] = {1 - g, g};
    ok(d2g_lincomb(pair, w, 2, 0, &gd), "guided");
    const d2g_tensor* xg[2] = {xr, gd};
    ok(d2g_lincomb(xg, &steps[4 * i + 2], 2, 0, &next), "step");
    d2g_tensor_free(in);
    d2g_tensor_free(t);
    d2g_tensor_free(eu);
    d2g_tensor_free(ec);
    d2g_tensor_free(gd);
    d2g_tensor_free(xr);
    xr = next;
  }
  float got[512], want[512];
  ok(d2g_tensor_copy_to_host(out, got, sizeof got), "read the loop");
  ok(d2g_tensor_copy_to_host(xr, want, sizeof want), "read by hand");
  double worst = 0, scale = 0;
  for (int i = 0; i < 512; i++) {
    double d = got[i] > want[i] ? got[i] - want[i] : want[i] - got[i], w = want[i] < 0 ? -want[i] : want[i];
    if (d > worst) worst = d;
    if (w > scale) scale = w;
  }
  CHECK(worst <= 1e-5 * scale, "loop and by-hand steps differ by %g (scale %g)", worst, scale);
  d2g_tensor_free(out);
  d2g_tensor_free(xr);
  /* guidance 1 needs no uncond */
  ok(d2g_guided_sampler_run(s, x, c, NULL, 1.0, steps, 2, &out), "unguided");
  d2g_tensor_free(out);
  fails(d2g_guided_sampler_run(s, x, c, NULL, 3.0, steps, 2, &out), D2G_INVALID_ARGUMENT, "unconditional", "no uncond");
  fails(d2g_guided_sampler_run(s, x, c, u, 3.0, steps, 0, &out), D2G_INVALID_ARGUMENT, "1 to 1000", "no steps");
  fails(d2g_guided_sampler_run(s, x, c, u, 3.0, NULL, 2, &out), D2G_INVALID_ARGUMENT, "NULL", "steps NULL");
  fails(d2g_guided_sampler_run(s, x, c, u, 0.0 / 0.0, steps, 2, &out), D2G_INVALID_ARGUMENT, "guidance", "NaN guidance");
  double bad[4] = {900, 1.0, 1.0 / 0.0, 0};
  fails(d2g_guided_sampler_run(s, x, c, u, 3.0, bad, 1, &out), D2G_INVALID_ARGUMENT, "coefficient", "an infinite step");
  fails(d2g_guided_sampler_run(s, c, c, u, 3.0, steps, 2, &out), D2G_INVALID_ARGUMENT, "noise", "3-d noise");
  fails(d2g_guided_sampler_run(s, x, x, u, 3.0, steps, 2, &out), D2G_INVALID_ARGUMENT, "cond", "4-d cond");
  fails(d2g_guided_sampler_run(NULL, x, c, u, 3.0, steps, 2, &out), D2G_INVALID_ARGUMENT, "NULL", "no sampler");
  fails(d2g_guided_sampler_create(NULL, 0, &s), D2G_INVALID_ARGUMENT, "NULL", "no unet");
  d2g_guided_sampler_free(s);
  d2g_guided_sampler_free(NULL);
  d2g_tensor_free(x);
  d2g_tensor_free(c);
  d2g_tensor_free(u);
  d2g_module_free(unet);
}

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
  {
    /* Traces: recorded with LibTorch 2.x (Kineto), a clear refusal otherwise; never a crash. */
    fails(d2g_profiler_stop(NULL), D2G_INVALID_ARGUMENT, "path is NULL", "profiler_stop(NULL)");
    d2g_status* st = d2g_profiler_start();
    if (st != NULL) {
      CHECK(d2g_status_code(st) == D2G_INVALID_ARGUMENT, "profiler_start refusal code %d: %s", d2g_status_code(st),
            d2g_status_message(st));
      d2g_status_free(st);
    } else {
      fails(d2g_profiler_start(), D2G_INVALID_ARGUMENT, "already", "second profiler_start");
      char dir[] = "/tmp/d2g_c_api_test_XXXXXX"; /* tests write only under a temporary folder */
      CHECK(mkdtemp(dir) != NULL, "mkdtemp");
      char path[128];
      snprintf(path, sizeof path, "%s/trace.json", dir);
      ok(d2g_profiler_stop(path), "profiler_stop");
      FILE* f = fopen(path, "r");
      CHECK(f != NULL, "the trace file exists");
      if (f) fclose(f);
      remove(path);
      rmdir(dir);
    }
    fails(d2g_profiler_stop("unused.json"), D2G_INVALID_ARGUMENT, "", "profiler_stop without a trace");
  }
  ok(d2g_synchronize(-1), "synchronize current device");
  test_generators();
  test_config_strictness();
  test_autograd();
  test_data_parallel();
  test_judge();
  test_lincomb_narrow_lpips();
  test_lpips_steps();
  test_guided_sampler();

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
  ok(d2g_binary(D2G_OP_ADD, a, a, 0, &c), "add");
  ok(d2g_tensor_copy_to_host(c, back, sizeof back), "copy c out");
  CHECK(back[0] == 2 && back[4] == 10, "add result");
  float bt[6] = {1, 0, 0, 1, 1, 1};
  int64_t shape32[2] = {3, 2};
  d2g_tensor* m = NULL;
  ok(d2g_tensor_from_host(bt, sizeof bt, shape32, 2, D2G_F32, D2G_CPU, 0, &m), "from_host m");
  d2g_tensor* prod = NULL;
  ok(d2g_matmul(a, m, 0, &prod), "matmul");
  float pv[4];
  ok(d2g_tensor_copy_to_host(prod, pv, sizeof pv), "copy prod out");
  CHECK(pv[0] == 4 && pv[1] == 5 && pv[2] == 10 && pv[3] == 11, "matmul result %g %g %g %g", pv[0], pv[1], pv[2], pv[3]);
  d2g_tensor* s = NULL;
  double item = 0;
  ok(d2g_reduce(D2G_REDUCE_SUM, a, NULL, 0, 0, 0, &s), "sum");
  ok(d2g_tensor_item(s, &item), "item");
  CHECK(fabs(item - 21.0) < 1e-9, "sum is 21, got %g", item);
  d2g_tensor* h = NULL;
  ok(d2g_tensor_to(a, D2G_CPU, 0, D2G_BF16, 0, 0, &h), "to bf16");
  ok(d2g_tensor_dtype(h, &dtype), "dtype of h");
  CHECK(dtype == D2G_BF16, "converted dtype");
  d2g_tensor* r = NULL;
  int64_t flat[1] = {-1};
  ok(d2g_tensor_reshape(a, flat, 1, 0, &r), "reshape -1");
  ok(d2g_tensor_shape(r, shape, 4), "shape of r");
  CHECK(shape[0] == 6, "reshaped to 6");

  test_add_paths();
  test_large_copies();

  /* error paths: each gives a status with the right code and a useful message, and no handle */
  d2g_tensor* bad = NULL;
  int64_t neg[2] = {2, -3};
  fails(d2g_tensor_empty(neg, 2, D2G_F32, D2G_CPU, 0, 0, &bad), D2G_INVALID_ARGUMENT, "negative size", "negative shape");
  fails(d2g_tensor_empty(shape23, 2, 42, D2G_CPU, 0, 0, &bad), D2G_INVALID_ARGUMENT, "unknown dtype", "bad dtype");
  fails(d2g_tensor_empty(shape23, 99, D2G_F32, D2G_CPU, 0, 0, &bad), D2G_INVALID_ARGUMENT, "ndim", "bad ndim");
  fails(d2g_tensor_empty(shape23, 2, D2G_F32, 7, 0, 0, &bad), D2G_INVALID_ARGUMENT, "device type", "bad device");
  fails(d2g_tensor_empty(shape23, 2, D2G_F32, D2G_CUDA, 99, 0, &bad), D2G_DEVICE_UNAVAILABLE, "99", "cuda:99");
  fails(d2g_tensor_randn(shape23, 2, D2G_I64, D2G_CPU, 0, NULL, &bad), D2G_INVALID_ARGUMENT, "floating", "randn int");
  fails(d2g_tensor_from_host(a_data, 5, shape23, 2, D2G_F32, D2G_CPU, 0, &bad), D2G_INVALID_ARGUMENT, "bytes", "nbytes");
  fails(d2g_tensor_from_blob(NULL, 24, shape23, 2, D2G_F32, NULL, NULL, &bad), D2G_INVALID_ARGUMENT, "NULL", "null blob");
  fails(d2g_binary(D2G_OP_ADD, a, m, 0, &bad), D2G_INVALID_ARGUMENT, "broadcast", "add shape mismatch");
  fails(d2g_binary(D2G_OP_ADD, NULL, a, 0, &bad), D2G_INVALID_ARGUMENT, "NULL", "add null");
  fails(d2g_binary(D2G_OP_ADD, a, a, 0, NULL), D2G_INVALID_ARGUMENT, "out is NULL", "add null out");
  fails(d2g_matmul(a, a, 0, &bad), D2G_INVALID_ARGUMENT, "inner dimensions", "matmul shape mismatch");
  fails(d2g_matmul(a, h, 0, &bad), D2G_INVALID_ARGUMENT, "dtypes differ", "matmul dtype mismatch");
  fails(d2g_tensor_item(a, &item), D2G_INVALID_ARGUMENT, "one-element", "item of 6 elements");
  fails(d2g_tensor_copy_to_host(a, back, 3), D2G_INVALID_ARGUMENT, "bytes", "copy out size");
  int64_t seven[1] = {7};
  fails(d2g_tensor_reshape(a, seven, 1, 0, &bad), D2G_INVALID_ARGUMENT, "cannot view", "reshape 7");
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
  ok(d2g_linear_forward(lin, tx, 0, &ty), "linear forward");
  float yv[2] = {0};
  ok(d2g_tensor_copy_to_host(ty, yv, sizeof yv), "y out");
  CHECK(yv[0] == 11 && yv[1] == 22, "linear forward result %g %g", yv[0], yv[1]);
  /* an empty module: same state names, no draws from the generator, works once its state is loaded */
  d2g_module* empty = NULL;
  fails(d2g_module_create_empty("linear", "in_features=0\nout_features=2", &empty), D2G_INVALID_ARGUMENT, "positive",
        "empty module validates its config too");
  ok(d2g_manual_seed(7), "seed");
  ok(d2g_module_create_empty("linear", "in_features=3\nout_features=2", &empty), "create empty linear");
  d2g_module* seeded = NULL;
  ok(d2g_module_create("linear", "in_features=3\nout_features=2", &seeded), "create after empty");
  d2g_module* reference = NULL;
  ok(d2g_manual_seed(7), "seed again");
  ok(d2g_module_create("linear", "in_features=3\nout_features=2", &reference), "create reference");
  d2g_tensor *ws = NULL, *wr = NULL;
  float wsv[6] = {0}, wrv[6] = {1};
  ok(d2g_module_state_entry(seeded, 0, NULL, 0, &ws), "seeded weight");
  ok(d2g_module_state_entry(reference, 0, NULL, 0, &wr), "reference weight");
  ok(d2g_tensor_copy_to_host(ws, wsv, sizeof wsv), "seeded weight out");
  ok(d2g_tensor_copy_to_host(wr, wrv, sizeof wrv), "reference weight out");
  CHECK(memcmp(wsv, wrv, sizeof wsv) == 0, "an empty module draws nothing: the next module's init is unchanged");
  int64_t n_empty = 0;
  ok(d2g_module_state_size(empty, &n_empty), "empty state size");
  CHECK(n_empty == 2, "empty module has weight and bias (%lld)", (long long)n_empty);
  ok(d2g_module_load_state(empty, names2, tensors2, 2, 1), "load state into empty");
  d2g_tensor* ty2 = NULL;
  float yv2[2] = {0};
  ok(d2g_linear_forward(empty, tx, 0, &ty2), "empty linear forward");
  ok(d2g_tensor_copy_to_host(ty2, yv2, sizeof yv2), "y2 out");
  CHECK(yv2[0] == 11 && yv2[1] == 22, "loaded empty module computes the same (%g %g)", yv2[0], yv2[1]);
  d2g_tensor_free(ty2);
  d2g_tensor_free(ws);
  d2g_tensor_free(wr);
  d2g_module_free(empty);
  d2g_module_free(seeded);
  d2g_module_free(reference);
  fails(d2g_linear_forward(lin, twrong, 0, &bad), D2G_INVALID_ARGUMENT, "features", "linear wrong input");
  ok(d2g_module_to(lin, D2G_CPU, 0, D2G_F64), "module to f64");
  d2g_tensor* w64 = NULL;
  ok(d2g_module_state_entry(lin, 0, NULL, 0, &w64), "entry tensor");
  ok(d2g_tensor_dtype(w64, &dtype), "dtype of moved weight");
  CHECK(dtype == D2G_F64, "module_to converted the weights");
  d2g_tensor* w2 = NULL; /* a parameter requires grad; an add without D2G_EXEC_GRAD records nothing */
  ok(d2g_binary(D2G_OP_ADD, w64, w64, 0, &w2), "add of a parameter");
  double w2v[6] = {0};
  ok(d2g_tensor_copy_to_host(w2, w2v, sizeof w2v), "parameter sum out");
  CHECK(w2v[0] == 2 && w2v[1] == 0 && w2v[4] == 2, "parameter sum %g %g %g", w2v[0], w2v[1], w2v[4]);
  d2g_tensor_free(w2);
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
