/* libFuzzer targets on the C API's entry points that take bytes from a caller (issue 15, part 2).
 *
 * One source, one target per build: D2G_FUZZ_TARGET picks it.
 *   1 config     d2g_module_create_empty(kind, config text) for every registered kind and an unknown one
 *   2 tensor     d2g_tensor_from_host(bytes, shape, dtype) and back with d2g_tensor_copy_to_host
 *   3 state      d2g_module_load_state(names, tensors of any shape and dtype, strict or not)
 *   4 optimizer  d2g_optimizer_create(kind, config, parameter groups, learning rates, weight decays)
 *   5 augment    d2g_lpips_augment_draw(preset, b, c, h, w, capacity)
 *   6 step       d2g_train_step_create(kind, config, model, optimizer, EMA / alphas_cumprod or not)
 *
 * What counts as a finding: a crash, a sanitizer report, a leak, a hang, or a broken contract checked
 * here (a failure must come as a status whose code is one of d2g_code's and whose message is not
 * empty; a tensor made from bytes must give the same bytes back). Errors themselves are expected: most
 * inputs are invalid.
 *
 * Sizes are bounded by the harness, not by the API: the config target skips texts holding a number
 * above 64 and fills the size keys a text leaves out with tiny values (a valid config may ask for
 * gigabytes of weights, which is not a bug; the Java config fuzz targets cover the large values), and
 * creates modules without their random initialisation (the same parsing and checks, faster); the tensor
 * and state targets build shapes from signed bytes.
 *
 * Built with clang's -fsanitize=fuzzer by scripts/dev/fuzz-native.sh (-DD2G_FUZZ=ON); every build also
 * links it with native/fuzz/replay_main.c into a program that replays the committed inputs
 * (native/fuzz/corpus/<target>/), run by CTest. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d2g.h"

#ifndef D2G_FUZZ_TARGET
#error "define D2G_FUZZ_TARGET (1..6)"
#endif

/* A failure's status must carry a known code and a message; then it is freed. Returns 1 on success. */
static int check(d2g_status* s, const char* what) {
  if (s == NULL) return 1;
  int code = d2g_status_code(s);
  const char* msg = d2g_status_message(s);
  if (code < D2G_INVALID_ARGUMENT || code > D2G_IO_ERROR || msg == NULL || msg[0] == '\0') {
    fprintf(stderr, "%s: a failure without a proper status (code %d, message '%s')\n", what, code, msg ? msg : "(null)");
    abort();
  }
  d2g_status_free(s);
  return 0;
}

/* Set-up calls must succeed: otherwise the harness itself is wrong. */
static void must(d2g_status* s, const char* what) {
  if (s == NULL) return;
  fprintf(stderr, "fuzz set-up: %s failed: %s\n", what, d2g_status_message(s));
  abort();
}

/* A NUL-terminated copy of data[0..n). */
static char* text(const uint8_t* data, size_t n) {
  char* t = malloc(n + 1);
  memcpy(t, data, n);
  t[n] = '\0';
  return t;
}

/* Reads input bytes in order; past the end it gives zeros. */
typedef struct {
  const uint8_t* p;
  size_t n;
} reader;

static uint8_t u8(reader* r) {
  if (r->n == 0) return 0;
  r->n--;
  return *r->p++;
}

static int8_t s8(reader* r) { return (int8_t)u8(r); }

static double f64(reader* r) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = u8(r);
  double d;
  memcpy(&d, b, sizeof d);
  return d;
}

#if D2G_FUZZ_TARGET == 3 || D2G_FUZZ_TARGET == 4
/* A small linear module (3 -> 2, with bias): the model of the state and optimizer targets. */
static d2g_module* linear(void) {
  d2g_module* m = NULL;
  must(d2g_module_create("linear", "in_features=3\nout_features=2\nbias=true", &m), "linear");
  return m;
}
#endif

#if D2G_FUZZ_TARGET == 1
static const char* const KINDS[] = {"linear", "lpips_rank", "latent_lpips", "image_text_judge", "clip_text_model",
                                    "clip_model", "autoencoder_kl", "unet2d_condition", "no_such_kind"};
/* Each kind's size keys at tiny values: a key the fuzzed text does not set is appended from here, so that
 * a family's defaults (SD1.5's UNet: 860 M parameters) never make an input cost gigabytes. */
static const char* const BASE[] = {
    "in_features=3\nout_features=2",
    "",
    "latent_channels=4\nwidths=8,8,8,8,8",
    "image_widths=8,8\nnorm_groups=4\ntext_width=8\ntext_layers=1\nembed_dim=8\ntext_max_bytes=16",
    "vocab_size=40\nhidden_size=8\nintermediate_size=16\nnum_hidden_layers=1\nnum_attention_heads=2\n"
    "max_position_embeddings=8",
    "vocab_size=40\nhidden_size=8\nintermediate_size=16\nnum_hidden_layers=1\nnum_attention_heads=2\n"
    "max_position_embeddings=8\nprojection_dim=8\nimage_widths=8,8\nnorm_groups=4",
    "block_out_channels=8,8\nlayers_per_block=1\nnorm_num_groups=4\nlatent_channels=4\n"
    "down_block_types=DownEncoderBlock2D,DownEncoderBlock2D\nup_block_types=UpDecoderBlock2D,UpDecoderBlock2D",
    "block_out_channels=8,8\nlayers_per_block=1\ndown_block_types=CrossAttnDownBlock2D,DownBlock2D\n"
    "up_block_types=UpBlock2D,CrossAttnUpBlock2D\ncross_attention_dim=8\nattention_head_dim=2\nnorm_num_groups=4",
    ""};

/* 1 when every number written in t is at most 64 (and has at most 3 digits). */
static int small_numbers(const char* t) {
  long v = 0;
  int digits = 0;
  for (const char* c = t;; c++) {
    if (*c >= '0' && *c <= '9') {
      if (++digits > 3) return 0;
      v = v * 10 + (*c - '0');
      if (v > 64) return 0;
    } else {
      v = 0;
      digits = 0;
      if (*c == '\0') return 1;
    }
  }
}

/* 1 when the text sets key (a line starting "key="). */
static int sets(const char* text, const char* key, size_t n) {
  for (const char* line = text; line != NULL; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
    if (strncmp(line, key, n) == 0 && line[n] == '=') return 1;
  return 0;
}

/* The fuzzed text followed by the base lines whose keys it does not set. */
static char* with_base(const char* fuzzed, const char* base) {
  size_t cap = strlen(fuzzed) + strlen(base) + 2, len = strlen(fuzzed);
  char* out = malloc(cap);
  memcpy(out, fuzzed, len + 1);
  for (const char* line = base; line != NULL && *line != '\0';) {
    const char* end = strchr(line, '\n');
    size_t n = end ? (size_t)(end - line) : strlen(line);
    const char* eq = memchr(line, '=', n);
    if (eq != NULL && !sets(fuzzed, line, (size_t)(eq - line))) {
      if (len > 0) out[len++] = '\n';
      memcpy(out + len, line, n);
      len += n;
      out[len] = '\0';
    }
    line = end ? end + 1 : NULL;
  }
  return out;
}

static void run(const uint8_t* data, size_t size) {
  if (size < 1) return;
  size_t k = data[0] % (sizeof KINDS / sizeof KINDS[0]);
  char* fuzzed = text(data + 1, size - 1);
  if (small_numbers(fuzzed)) {
    char* config = with_base(fuzzed, BASE[k]);
    d2g_module* m = NULL;
    if (check(d2g_module_create_empty(KINDS[k], config, &m), "module_create_empty")) {
      int64_t n = -1;
      check(d2g_module_state_size(m, &n), "state_size");
      if (n < 0) abort();
      d2g_module_free(m);
    }
    free(config);
  }
  free(fuzzed);
}

#elif D2G_FUZZ_TARGET == 2
static size_t dtype_size(int dtype) {
  switch (dtype) {
    case D2G_F32: case D2G_I32: return 4;
    case D2G_F16: case D2G_BF16: return 2;
    case D2G_I64: case D2G_F64: return 8;
    case D2G_U8: case D2G_BOOL: return 1;
    default: return 0;
  }
}

static void run(const uint8_t* data, size_t size) {
  reader r = {data, size};
  int dtype = s8(&r) % 10;                  /* -9..9: eight valid codes and invalid ones */
  int ndim = s8(&r) % (D2G_MAX_DIMS + 3);   /* negative, valid and too many */
  int64_t shape[D2G_MAX_DIMS + 2];
  int64_t elements = 1;
  for (int i = 0; i < ndim && i < D2G_MAX_DIMS + 2; i++) {
    shape[i] = s8(&r) % 9;                  /* -8..8 */
    elements *= shape[i] < 0 ? 0 : shape[i];  /* at most 8^18 < 2^63 */
  }
  uint8_t how = u8(&r);
  size_t want = dtype_size(dtype) * (size_t)elements;
  /* mostly the right size (up to 1 MiB: 16 dimensions of 8 would be terabytes), else any */
  size_t nbytes = (how & 1) && want <= (1u << 20) ? want : (size_t)(u8(&r) % 64);
  uint8_t* bytes = calloc(nbytes + 1, 1);
  memcpy(bytes, r.p, r.n < nbytes ? r.n : nbytes);
  d2g_tensor* t = NULL;
  if (check(d2g_tensor_from_host(bytes, nbytes, ndim < 0 ? NULL : shape, ndim, dtype, D2G_CPU, 0, &t), "from_host")) {
    if (nbytes != want) {
      fprintf(stderr, "from_host accepted %zu bytes for a tensor of %zu\n", nbytes, want);
      abort();
    }
    uint8_t* back = calloc(nbytes + 1, 1);
    if (check(d2g_tensor_copy_to_host(t, back, nbytes), "copy_to_host") && memcmp(back, bytes, nbytes) != 0) {
      fprintf(stderr, "the bytes did not come back as they went in\n");
      abort();
    }
    free(back);
    d2g_tensor_free(t);
  }
  free(bytes);
}

#elif D2G_FUZZ_TARGET == 3
static d2g_module* model;

static void run(const uint8_t* data, size_t size) {
  reader r = {data, size};
  int count = u8(&r) % 6, strict = u8(&r) & 1;
  const char* names[6];
  d2g_tensor* tensors[6] = {0};
  char* owned[6] = {0};
  for (int i = 0; i < count; i++) {
    int dtype = u8(&r) % 8, ndim = u8(&r) % 4;
    int64_t shape[3];
    for (int d = 0; d < ndim; d++) shape[d] = u8(&r) % 4;
    check(d2g_tensor_randn(shape, ndim, dtype <= D2G_BF16 || dtype == D2G_F64 ? dtype : D2G_F32, D2G_CPU, 0, NULL,
                           &tensors[i]), "randn");
    if (dtype > D2G_BF16 && dtype != D2G_F64 && tensors[i] != NULL) {  /* integer and bool entries too */
      d2g_tensor* e = NULL;
      if (check(d2g_tensor_empty(shape, ndim, dtype, D2G_CPU, 0, 0, &e), "empty")) {
        d2g_tensor_free(tensors[i]);
        tensors[i] = e;
      }
    }
    size_t len = u8(&r) % 24;
    owned[i] = text(r.p, r.n < len ? r.n : len);
    r.p += r.n < len ? r.n : len;
    r.n -= r.n < len ? r.n : len;
    names[i] = owned[i];
  }
  int null_name = u8(&r) % 8;  /* now and then a NULL name or tensor */
  if (null_name < count && (u8(&r) & 1)) names[null_name] = NULL;
  check(d2g_module_load_state(model, names, (const d2g_tensor* const*)tensors, count, strict), "load_state");
  for (int i = 0; i < count; i++) {
    d2g_tensor_free(tensors[i]);
    free(owned[i]);
  }
}

#elif D2G_FUZZ_TARGET == 4
static d2g_module* model;
static d2g_tensor* params[2];

static void run(const uint8_t* data, size_t size) {
  reader r = {data, size};
  static const char* const kinds[] = {"adamw", "sgd", "adam", ""};
  const char* kind = kinds[u8(&r) % 4];
  int count = u8(&r) % 4, n_groups = s8(&r) % 4;
  int group[3];
  const d2g_tensor* p[3];
  for (int i = 0; i < count; i++) {
    group[i] = s8(&r) % 3;
    p[i] = params[u8(&r) % 2];
  }
  double lr[3], wd[3];
  for (int i = 0; i < 3; i++) {
    lr[i] = f64(&r);
    wd[i] = f64(&r);
  }
  char* config = text(r.p, r.n);
  d2g_optimizer* o = NULL;
  if (check(d2g_optimizer_create(kind, config, p, group, count, lr, wd, n_groups, &o), "optimizer_create")) {
    check(d2g_optimizer_step(o), "optimizer_step");
    d2g_optimizer_free(o);
  }
  free(config);
}

#elif D2G_FUZZ_TARGET == 5
static void run(const uint8_t* data, size_t size) {
  reader r = {data, size};
  int64_t b = s8(&r) % 5, c = s8(&r) % 6, h = s8(&r) % 20, w = s8(&r) % 20;
  int capacity = s8(&r) % 8;
  char* preset = text(r.p, r.n < 8 ? r.n : 8);
  d2g_tensor* out[8] = {0};
  if (check(d2g_lpips_augment_draw(preset, b, c, h, w, NULL, out, capacity), "augment_draw"))
    for (int i = 0; i < 8; i++) d2g_tensor_free(out[i]);
  free(preset);
}

#elif D2G_FUZZ_TARGET == 6
static d2g_module* models[3];     /* a tiny UNet, a tiny judge, a tiny autoencoder */
static d2g_optimizer* opts[3];
static d2g_tensor* alphas;

static void run(const uint8_t* data, size_t size) {
  reader r = {data, size};
  static const char* const kinds[] = {"denoise", "contrastive", "autoencoder", "lpips_classify", "lpips_2afc", "x"};
  const char* kind = kinds[u8(&r) % 6];
  int which = u8(&r) % 3, extras = u8(&r);
  char* config = text(r.p, r.n);
  d2g_train_step* s = NULL;
  if (check(d2g_train_step_create(kind, config, models[which], opts[which], NULL, NULL, (extras & 1) ? alphas : NULL, &s),
            "train_step_create"))
    d2g_train_step_free(s);
  free(config);
}
#endif

int LLVMFuzzerInitialize(int* argc, char*** argv) {
  (void)argc;
  (void)argv;
  int previous;
  must(d2g_cpu_threads(1, &previous), "threads");
#if D2G_FUZZ_TARGET == 3
  model = linear();
#elif D2G_FUZZ_TARGET == 4
  model = linear();
  for (int i = 0; i < 2; i++)
    must(d2g_module_state_entry(model, i, NULL, 0, &params[i]), "state_entry");
#elif D2G_FUZZ_TARGET == 6
  static const char* const kind[3] = {"unet2d_condition", "image_text_judge", "autoencoder_kl"};
  static const char* const config[3] = {
      "in_channels=4\nout_channels=4\nblock_out_channels=8,8\nlayers_per_block=1\n"
      "down_block_types=CrossAttnDownBlock2D,DownBlock2D\nup_block_types=UpBlock2D,CrossAttnUpBlock2D\n"
      "cross_attention_dim=8\nattention_head_dim=2\nnorm_num_groups=4",
      "image_widths=8,8\nnorm_groups=4\ntext_width=8\ntext_layers=1\nembed_dim=8",
      "block_out_channels=8,8\nlayers_per_block=1\nnorm_num_groups=4\nlatent_channels=4\n"
      "down_block_types=DownEncoderBlock2D,DownEncoderBlock2D\nup_block_types=UpDecoderBlock2D,UpDecoderBlock2D"};
  for (int i = 0; i < 3; i++) {
    must(d2g_module_create(kind[i], config[i], &models[i]), kind[i]);
    int64_t n = 0;
    must(d2g_module_parameter_count(models[i], &n), "parameter_count");
    d2g_tensor** p = calloc((size_t)n, sizeof *p);
    int* g = calloc((size_t)n, sizeof *g);
    for (int64_t j = 0; j < n; j++) must(d2g_module_state_entry(models[i], j, NULL, 0, &p[j]), "state_entry");
    double lr = 1e-3, wd = 0;
    must(d2g_optimizer_create("adamw", "", (const d2g_tensor* const*)p, g, n, &lr, &wd, 1, &opts[i]), "adamw");
    for (int64_t j = 0; j < n; j++) d2g_tensor_free(p[j]);
    free(p);
    free(g);
  }
  float a[1000];  /* a decreasing alphas_cumprod in (0, 1) */
  for (int i = 0; i < 1000; i++) a[i] = 1.0f - (i + 1) / 1001.0f;
  int64_t shape[1] = {1000};
  must(d2g_tensor_from_host(a, sizeof a, shape, 1, D2G_F32, D2G_CPU, 0, &alphas), "alphas");
#endif
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  run(data, size);
  return 0;
}
