/*
 * d2g.h — the C API of the Diffusion2GAN native shim over LibTorch.
 *
 * This header is the only thing Java sees (through jextract-generated bindings). It is plain C.
 *
 * CONTRACT
 *  - Handles are opaque (d2g_tensor, d2g_status). Their layout is private to the shim.
 *  - Ownership: every function that creates a handle hands back exactly ONE owned handle through an
 *    out-parameter. The caller frees it with the matching *_free function. Every *_free accepts NULL
 *    and then does nothing. A handle is never freed by the shim behind the caller's back.
 *  - Errors: every fallible function returns a d2g_status*. NULL means success. A non-NULL status is
 *    owned by the caller (free it with d2g_status_free) and carries a code (d2g_code) and a UTF-8
 *    message that says what went wrong and what to fix. There is no thread-local "last error":
 *    callers on virtual threads may hop OS threads between calls. When a call fails, its
 *    out-parameters are left untouched (out handles stay as they were, normally NULL).
 *  - No C++ exception ever crosses this boundary: every function catches everything.
 *  - NULL handles passed where a handle is required give D2G_INVALID_ARGUMENT, never a crash.
 *    A freed (dangling) handle cannot be detected in C: the Java layer guards against use after close.
 *  - Thread safety: all functions may be called concurrently from any thread on distinct handles, and
 *    concurrently on the same handle as long as no call writes to it (d2g_tensor_copy_from_host,
 *    d2g_tensor_copy_ and d2g_tensor_free write). Status handles are owned by one caller.
 *  - Memory given to d2g_tensor_from_blob is borrowed, never copied: the tensor's storage points at it
 *    and the shim calls the caller's release callback exactly once, when the last tensor (or view)
 *    using that storage is gone. That may happen on any thread, inside any call that drops a reference.
 *  - Strings returned as const char* by version functions are static; do not free them.
 */
#ifndef D2G_H
#define D2G_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define D2G_API __declspec(dllexport)
#else
#define D2G_API __attribute__((visibility("default")))
#endif

/* ---- status ------------------------------------------------------------------------------- */

typedef enum d2g_code {
  D2G_OK = 0,
  D2G_INVALID_ARGUMENT = 1,   /* bad shape, dtype, device, null handle, out-of-range value */
  D2G_OUT_OF_MEMORY = 2,      /* host or device allocation failed */
  D2G_DEVICE_UNAVAILABLE = 3, /* CUDA not built in, no such device, driver missing */
  D2G_NATIVE_FAILURE = 4,     /* anything else LibTorch or the shim reported */
  D2G_IO_ERROR = 5            /* a file could not be read or written */
} d2g_code;

typedef struct d2g_status d2g_status;

D2G_API int d2g_status_code(const d2g_status* status);            /* D2G_OK for NULL */
D2G_API const char* d2g_status_message(const d2g_status* status); /* "" for NULL; owned by status */
D2G_API void d2g_status_free(d2g_status* status);                 /* NULL is a no-op */

/* ---- library and devices ------------------------------------------------------------------ */

D2G_API const char* d2g_version(void);       /* this shim's version, e.g. "0.1.0" */
D2G_API const char* d2g_torch_version(void); /* LibTorch it was built against, e.g. "1.13.1" */
D2G_API int d2g_cuda_compiled(void);         /* 1 if the LibTorch in use was built with CUDA */

D2G_API d2g_status* d2g_cuda_is_available(int* out);
D2G_API d2g_status* d2g_cuda_device_count(int* out);
/* Writes the device's name, NUL-terminated and truncated to fit, into buf (capacity bytes). */
D2G_API d2g_status* d2g_cuda_device_name(int device_index, char* buf, size_t capacity);
/* Seeds the default generators (CPU and all CUDA devices): what calls draw from when they are given
 * no d2g_generator. */
D2G_API d2g_status* d2g_manual_seed(uint64_t seed);
/* Waits for all work queued on a CUDA device; device_index -1 means the current device.
 * On a machine without CUDA this is a no-op for -1 and D2G_DEVICE_UNAVAILABLE otherwise. */
D2G_API d2g_status* d2g_synchronize(int device_index);

/* Lets float32 matrix products and convolutions on CUDA use TF32 (faster, ~1e-3 relative error).
 * LibTorch's defaults: off for matrix products, on for cuDNN convolutions. Affects the process. */
D2G_API d2g_status* d2g_set_allow_tf32(int allow);
/* Turns the shim's hand-written CUDA kernels (fused GroupNorm+SiLU, ...) on or off for the process
 * (default on); off, the models use LibTorch's own operations. *compiled (may be NULL) receives 1 if
 * this build has the kernels at all (a CUDA LibTorch and nvcc at build time). For A/B measurements. */
D2G_API d2g_status* d2g_set_fused_kernels(int enabled, int* compiled);
/* Threads for large host copies (16 MiB and up, which also use streaming stores): d2g_tensor_from_host
 * to the CPU, and d2g_tensor_copy_from_host / _copy_to_host of contiguous CPU tensors. The caller's
 * thread copies one part and threads-1 short-lived helpers the others. 0 restores the default,
 * min(4, hardware threads); 1 copies on the caller's thread only. *previous (may be NULL) receives
 * the setting replaced. Affects the process; threads in 0..64. */
D2G_API d2g_status* d2g_set_host_copy_threads(int threads, int* previous);
/* cuDNN convolution algorithms: 1 = time every candidate on each new shape and keep the fastest
 * (a slow first run), 0 = cuDNN's heuristics (LibTorch's default). Affects the process. */
D2G_API d2g_status* d2g_set_cudnn_benchmark(int enabled);
/* A kernel-level trace (LibTorch's Kineto profiler: operators on the host, kernels and copies on CUDA
 * devices, CUDA graph replays included) of everything the process runs between start and stop; stop
 * writes it as a Chrome trace (JSON, for chrome://tracing or Perfetto) to path. One trace at a time.
 * Needs a LibTorch 2.x build with Kineto (pip wheels have it); otherwise D2G_INVALID_ARGUMENT. */
D2G_API d2g_status* d2g_profiler_start(void);
D2G_API d2g_status* d2g_profiler_stop(const char* path);
/* Peak bytes allocated by the CUDA caching allocator on a device since start or the last reset;
 * reset=1 starts a new peak after reading. */
D2G_API d2g_status* d2g_cuda_memory_peak(int device_index, int reset, int64_t* peak_bytes);
/* LibTorch's intra-op threads on the CPU (matrix products, convolutions, element-wise operations) for
 * the process: threads in 1..1024, or 0 to leave the setting as it is. *previous (may be NULL)
 * receives the setting before the call. LibTorch's default is one thread per core. */
D2G_API d2g_status* d2g_cpu_threads(int threads, int* previous);
/* Where LibTorch's CPU matrix products run: the path of the BLAS library mapped into the process (e.g.
 * .../openblas-pthread/libblas.so.3, or .../blas/libblas.so.3 for the slow reference BLAS), "MKL
 * (linked in)" for a LibTorch built with MKL, or "" when no BLAS is loaded. NUL-terminated, truncated
 * to fit capacity. */
D2G_API d2g_status* d2g_blas_library(char* buf, size_t capacity);

/* ---- tensors ------------------------------------------------------------------------------ */

typedef enum d2g_dtype {
  D2G_F32 = 0,
  D2G_F16 = 1,
  D2G_BF16 = 2,
  D2G_I32 = 3,
  D2G_I64 = 4,
  D2G_U8 = 5,
  D2G_BOOL = 6,
  D2G_F64 = 7
} d2g_dtype;

typedef enum d2g_device_type { D2G_CPU = 0, D2G_CUDA = 1 } d2g_device_type;

/* Maximum number of dimensions a tensor may have in this API. */
#define D2G_MAX_DIMS 16

typedef struct d2g_tensor d2g_tensor;

/* Called exactly once, with the caller's context, when borrowed memory is no longer used. */
typedef void (*d2g_release_fn)(void* context);

/* ---- random generators ------------------------------------------------------------------------ */

/* A random generator of one device, passed explicitly to the calls that draw (d2g_tensor_randn,
 * d2g_vae_sample), so that concurrent requests and one process per GPU each have their own stream of
 * numbers: LibTorch's CPU generator (Mersenne Twister) for the CPU, its Philox generator for a CUDA
 * device. A generator is used on its own device only. Calls that draw lock it, so threads may share
 * one (their draws then interleave in no fixed order). */
typedef struct d2g_generator d2g_generator;

D2G_API d2g_status* d2g_generator_create(int device_type, int device_index, uint64_t seed, d2g_generator** out);
/* Restarts the generator's stream from seed. */
D2G_API d2g_status* d2g_generator_seed(d2g_generator* g, uint64_t seed);
/* The generator's state as a new u8 tensor on the CPU (for checkpoints), and back. A state comes back
 * only into a generator of the same device type. */
D2G_API d2g_status* d2g_generator_get_state(const d2g_generator* g, d2g_tensor** state);
D2G_API d2g_status* d2g_generator_set_state(d2g_generator* g, const d2g_tensor* state);
D2G_API d2g_status* d2g_generator_device(const d2g_generator* g, int* device_type, int* device_index);
D2G_API void d2g_generator_free(d2g_generator* g); /* NULL is a no-op */

/* ---- how computing calls run, and autograd --------------------------------------------------- */

/* Calls that compute (the operations below and the model families' forward calls) take an `exec`
 * argument, an OR of these bits (0 = plain inference):
 *   D2G_EXEC_GRAD           record the autograd graph (torch.enable_grad); without it the call runs as
 *                           under torch.no_grad and its outputs require no grad.
 *   D2G_EXEC_AUTOCAST_BF16  mixed precision (torch.autocast) on the inputs' device type: matrix products
 *   D2G_EXEC_AUTOCAST_F16   and convolutions in bf16 / f16, precision-sensitive operations in f32.
 * The setting holds for that call only, whatever OS thread it runs on. */
typedef enum d2g_exec { D2G_EXEC_GRAD = 1, D2G_EXEC_AUTOCAST_BF16 = 2, D2G_EXEC_AUTOCAST_F16 = 4 } d2g_exec;

/* Marks a floating leaf tensor (not computed with D2G_EXEC_GRAD) as a variable whose gradient backward
 * accumulates, or unmarks it. */
D2G_API d2g_status* d2g_tensor_set_requires_grad(d2g_tensor* t, int requires_grad);
D2G_API d2g_status* d2g_tensor_requires_grad(const d2g_tensor* t, int* out);
/* The gradient backward accumulated into a leaf tensor, as a new handle sharing its memory, or *out =
 * NULL when it has none. */
D2G_API d2g_status* d2g_tensor_grad(const d2g_tensor* t, d2g_tensor** out);
/* Drops the tensor's gradient (the next backward starts it anew). */
D2G_API d2g_status* d2g_tensor_zero_grad(d2g_tensor* t);
/* Backpropagates from t, which was computed with D2G_EXEC_GRAD: grad is NULL for a one-element t
 * (d t / d t = 1), else a tensor of t's shape. Accumulates into the gradients of the leaf tensors that
 * require grad. retain_graph=1 keeps the graph for another backward. */
D2G_API d2g_status* d2g_tensor_backward(const d2g_tensor* t, const d2g_tensor* grad, int retain_graph);
/* torch.autograd.grad: the gradients of sum_i <outputs[i], grad_outputs[i]> with respect to inputs,
 * leaving every .grad alone. grad_outputs may be NULL when every output has one element (then 1s).
 * create_graph=1 records the gradient computation itself, so that a loss built from the gradients can
 * be backpropagated (gradient penalties such as R1). grads[i] receives a new handle, or NULL when
 * input i does not influence the outputs. */
D2G_API d2g_status* d2g_autograd_grad(const d2g_tensor* const* outputs, const d2g_tensor* const* grad_outputs,
                                      int n_outputs, const d2g_tensor* const* inputs, int n_inputs,
                                      int create_graph, d2g_tensor** grads);
/* A new handle to t's values cut from the graph (shares memory; requires no grad). */
D2G_API d2g_status* d2g_tensor_detach(const d2g_tensor* t, d2g_tensor** out);

/* ---- tensors: creation ------------------------------------------------------------------------ */

/* Uninitialised tensor. pinned=1 asks for page-locked host memory (CPU only; needs CUDA). */
D2G_API d2g_status* d2g_tensor_empty(const int64_t* shape, int ndim, int dtype, int device_type,
                                     int device_index, int pinned, d2g_tensor** out);
/* Standard-normal (floating dtypes) samples on the device, drawn from gen (which must belong to that
 * device), or from the device's default generator (seeded by d2g_manual_seed) when gen is NULL. */
D2G_API d2g_status* d2g_tensor_randn(const int64_t* shape, int ndim, int dtype, int device_type,
                                     int device_index, const d2g_generator* gen, d2g_tensor** out);
/* Zero-copy: a CPU tensor over caller memory of nbytes bytes (C-contiguous). release (may be NULL)
 * is called with context when the storage dies. On failure release is NOT called. */
D2G_API d2g_status* d2g_tensor_from_blob(void* data, size_t nbytes, const int64_t* shape, int ndim,
                                         int dtype, d2g_release_fn release, void* context,
                                         d2g_tensor** out);
/* One copy: a new tensor on the given device holding nbytes of host data (C-contiguous). */
D2G_API d2g_status* d2g_tensor_from_host(const void* data, size_t nbytes, const int64_t* shape,
                                         int ndim, int dtype, int device_type, int device_index,
                                         d2g_tensor** out);
/* Copies nbytes of host data into an existing tensor (any device); nbytes must equal its size. */
D2G_API d2g_status* d2g_tensor_copy_from_host(d2g_tensor* dst, const void* data, size_t nbytes);
/* Copies a tensor (any device, any layout) into host memory; nbytes must equal its size. */
D2G_API d2g_status* d2g_tensor_copy_to_host(const d2g_tensor* src, void* data, size_t nbytes);
/* dst.copy_(src): shapes must match (src may broadcast); converts dtype; crosses devices.
 * non_blocking=1 lets a pinned-host <-> device copy run asynchronously. Never recorded by autograd
 * (like a copy under torch.no_grad), so it may write into parameters. */
D2G_API d2g_status* d2g_tensor_copy_(d2g_tensor* dst, const d2g_tensor* src, int non_blocking);
/* Address of the first element of a contiguous CPU tensor; valid while the storage lives. */
D2G_API d2g_status* d2g_tensor_data_ptr(const d2g_tensor* t, void** out);
/* A second owned handle sharing t's storage (a new reference, not a copy). */
D2G_API d2g_status* d2g_tensor_alias(const d2g_tensor* t, d2g_tensor** out);

D2G_API d2g_status* d2g_tensor_ndim(const d2g_tensor* t, int* out);
/* Writes min(ndim, capacity) sizes into shape. */
D2G_API d2g_status* d2g_tensor_shape(const d2g_tensor* t, int64_t* shape, int capacity);
D2G_API d2g_status* d2g_tensor_dtype(const d2g_tensor* t, int* out);
D2G_API d2g_status* d2g_tensor_device(const d2g_tensor* t, int* device_type, int* device_index);
D2G_API d2g_status* d2g_tensor_numel(const d2g_tensor* t, int64_t* out);
D2G_API d2g_status* d2g_tensor_is_contiguous(const d2g_tensor* t, int* out);

/* Converts device and/or dtype (dtype -1 keeps it). Always returns a new handle; if nothing changes
 * it shares storage with t, like torch's Tensor.to. Differentiable under D2G_EXEC_GRAD, like the
 * other calls that take exec. */
D2G_API d2g_status* d2g_tensor_to(const d2g_tensor* t, int device_type, int device_index, int dtype,
                                  int non_blocking, int exec, d2g_tensor** out);
D2G_API d2g_status* d2g_tensor_contiguous(const d2g_tensor* t, int exec, d2g_tensor** out);
D2G_API d2g_status* d2g_tensor_reshape(const d2g_tensor* t, const int64_t* shape, int ndim, int exec,
                                       d2g_tensor** out);

/* Element-wise operations with broadcasting and type promotion, like torch's; same device required
 * (a 0-dim CPU tensor may meet any device). */
typedef enum d2g_binary_op { D2G_OP_ADD = 0, D2G_OP_SUB = 1, D2G_OP_MUL = 2, D2G_OP_DIV = 3 } d2g_binary_op;
D2G_API d2g_status* d2g_binary(int op, const d2g_tensor* a, const d2g_tensor* b, int exec, d2g_tensor** out);
/* t op s for a number s: D2G_OP_ADD, _SUB, _MUL, _DIV, or D2G_OP_POW (t to the power s). */
#define D2G_OP_POW 4
D2G_API d2g_status* d2g_scalar_op(int op, const d2g_tensor* t, double s, int exec, d2g_tensor** out);
/* Element-wise functions of a floating tensor. */
typedef enum d2g_unary_op {
  D2G_OP_NEG = 0,
  D2G_OP_EXP = 1,
  D2G_OP_LOG = 2,
  D2G_OP_SQRT = 3,
  D2G_OP_ABS = 4,
  D2G_OP_SQUARE = 5,
  D2G_OP_RELU = 6,
  D2G_OP_SIGMOID = 7,
  D2G_OP_TANH = 8,
  D2G_OP_SILU = 9,
  D2G_OP_SOFTPLUS = 10
} d2g_unary_op;
D2G_API d2g_status* d2g_unary(int op, const d2g_tensor* t, int exec, d2g_tensor** out);
/* The sum or mean of all elements (ndims 0; a 0-dim tensor), or over the given dimensions (negative
 * ones count from the end; keepdim=1 keeps them with size 1). */
typedef enum d2g_reduce_op { D2G_REDUCE_SUM = 0, D2G_REDUCE_MEAN = 1 } d2g_reduce_op;
D2G_API d2g_status* d2g_reduce(int op, const d2g_tensor* t, const int64_t* dims, int ndims, int keepdim, int exec,
                               d2g_tensor** out);
/* torch.matmul semantics (1-D, 2-D and batched); same device and dtype required. */
D2G_API d2g_status* d2g_matmul(const d2g_tensor* a, const d2g_tensor* b, int exec, d2g_tensor** out);
/* The tensors joined along dimension dim (torch.cat): same dtype and device, equal sizes except along
 * dim; count >= 1. */
D2G_API d2g_status* d2g_cat(const d2g_tensor* const* tensors, int count, int dim, int exec, d2g_tensor** out);
/* A view of length entries of dimension dim from start on (torch.narrow; negative dim counts from the
 * end; 0 <= start, start + length <= size). Shares the tensor's storage. */
D2G_API d2g_status* d2g_narrow(const d2g_tensor* t, int dim, int64_t start, int64_t length, int exec, d2g_tensor** out);
/* sum_i coeffs[i] * tensors[i] in one call and one new tensor (the samplers' step arithmetic): 1 to 8
 * floating tensors of one shape, dtype and device; the coefficients are rounded to that dtype, the sum
 * runs left to right (coeffs[0] * tensors[0] first). Differentiable where recording. */
D2G_API d2g_status* d2g_lincomb(const d2g_tensor* const* tensors, const double* coeffs, int count, int exec,
                                d2g_tensor** out);
/* The value of a one-element tensor as double. */
D2G_API d2g_status* d2g_tensor_item(const d2g_tensor* t, double* out);

D2G_API void d2g_tensor_free(d2g_tensor* t); /* NULL is a no-op */

/* ---- modules (networks) ------------------------------------------------------------------- */

/* A network of one model family, e.g. "unet2d_condition", "autoencoder_kl", "clip_text_model".
 * Its state (parameters, then buffers) is named exactly like the reference checkpoints' keys. */
typedef struct d2g_module d2g_module;

/* Creates a module of a registered kind from a config: one "key=value" per line, lists
 * comma-separated (a list of lists: ';' between the lists), keys as in the reference config.json
 * (lower-case letters, digits, '_'), values printable ASCII without '='. A key given twice, or one the
 * family never reads, is an error (the Java layer writes the config from its typed config classes).
 * Parameters start in f32 on the CPU with LibTorch's default initialisation. */
D2G_API d2g_status* d2g_module_create(const char* kind, const char* config, d2g_module** out);
/* Like d2g_module_create, but the parameters are allocated and not initialised (their contents are
 * undefined): for a module whose whole state is loaded next (d2g_module_load_state, strict). Skips
 * the random initialisation, seconds for SD1.5-sized networks. Draws nothing from the generator. */
D2G_API d2g_status* d2g_module_create_empty(const char* kind, const char* config, d2g_module** out);
/* Writes the module's kind, NUL-terminated and truncated to fit, into buf. */
D2G_API d2g_status* d2g_module_kind(const d2g_module* m, char* buf, size_t capacity);
/* Moves every parameter and buffer to a device; floating ones also take dtype (-1 keeps it). */
D2G_API d2g_status* d2g_module_to(d2g_module* m, int device_type, int device_index, int dtype);
/* Stores every 4-D floating parameter and buffer (convolution weights) channels-last (1) or
 * contiguous (0). Convolutions then run in NHWC, which the GPU's tensor cores prefer. */
D2G_API d2g_status* d2g_module_set_channels_last(d2g_module* m, int channels_last);
/* Training mode (dropout etc.) on or off. Modules start in training mode, like torch's. */
D2G_API d2g_status* d2g_module_set_training(d2g_module* m, int training);
/* Number of state entries (parameters + buffers). */
D2G_API d2g_status* d2g_module_state_size(const d2g_module* m, int64_t* out);
/* Entry `index`: its name into name (capacity bytes; may be NULL) and, if tensor is not NULL, a new
 * handle sharing the entry's memory (writing to it writes the module's weights). */
D2G_API d2g_status* d2g_module_state_entry(const d2g_module* m, int64_t index, char* name, size_t capacity,
                                           d2g_tensor** tensor);
/* Copies named tensors into the module's state (converting dtype and device). Shape mismatches are
 * always errors; with strict=1 missing and unexpected keys are too. All problems are reported
 * together in one D2G_INVALID_ARGUMENT status; on error nothing is copied. */
D2G_API d2g_status* d2g_module_load_state(d2g_module* m, const char* const* names,
                                          const d2g_tensor* const* tensors, int64_t count, int strict);
/* Number of parameters: state entries 0..count-1 are the parameters, the rest are buffers. */
D2G_API d2g_status* d2g_module_parameter_count(const d2g_module* m, int64_t* out);
/* Whether backward computes gradients for every parameter of the module (default 1, as in torch).
 * One parameter: d2g_tensor_set_requires_grad on its state entry. */
D2G_API d2g_status* d2g_module_set_requires_grad(d2g_module* m, int requires_grad);
/* Drops every parameter's gradient. */
D2G_API d2g_status* d2g_module_zero_grad(d2g_module* m);
D2G_API void d2g_module_free(d2g_module* m); /* NULL is a no-op */

/* ---- model families: forward entry points (one section per family) ----------------------- */

/* kind "linear" (config: in_features, out_features, bias): y = x W^T + b. */
D2G_API d2g_status* d2g_linear_forward(const d2g_module* m, const d2g_tensor* x, int exec, d2g_tensor** out);

/* kind "clip_text_model": the Stable Diffusion text encoder, transformers' CLIPTextModel (config.json
 * keys of a CLIPTextConfig; state keys "text_model.embeddings.token_embedding.weight", ...).
 * input_ids: i64 (or i32) [B, T], T <= max_position_embeddings, any device (moved to the module's);
 * ids outside the vocabulary are an error. exec: see d2g_exec (gradients flow to the embeddings, not to ids).
 * hidden (may be NULL): hidden_states[hidden_layer] as transformers numbers them: 0 = the embeddings,
 *   i = the output of encoder layer i, negative counts from the end (-1 = last layer, -2 = the
 *   penultimate); with final_layer_norm=1 it goes through the final layer norm.
 *   (-1, 1) is transformers' last_hidden_state (SD1.5's text states); (-2, 1) is what diffusers'
 *   pipelines feed the UNet with clip_skip=1, final_layer_norm(hidden_states[-2]); (-2, 0) the raw
 *   penultimate state. [B, T, hidden_size] in the module's dtype.
 * pooled (may be NULL): transformers' pooler_output, the last hidden state (after the final layer
 *   norm) at each row's EOS token: the largest id when eos_token_id is 2 (legacy configs, SD1.5/2.x),
 *   else the first id equal to eos_token_id. [B, hidden_size]. When pooled is NULL only the layers
 *   up to hidden_layer run. At least one of hidden and pooled must be given. */
D2G_API d2g_status* d2g_clip_text_forward(const d2g_module* m, const d2g_tensor* input_ids, int hidden_layer,
                                          int final_layer_norm, int exec, d2g_tensor** hidden,
                                          d2g_tensor** pooled);
/* text_embeds = text_projection(pooled) of a text encoder with a projection (CLIPTextModelWithProjection,
 * config projection_dim > 0; SDXL's second text encoder): [B, projection_dim]. */
D2G_API d2g_status* d2g_clip_text_project(const d2g_module* m, const d2g_tensor* pooled, int exec,
                                          d2g_tensor** text_embeds);

/* kind "autoencoder_kl": the Stable Diffusion VAE, diffusers' AutoencoderKL (config.json keys and
 * state_dict keys alike). Inputs must have the module's dtype and device. exec: see d2g_exec. */
/* x [B, in_channels, H, W] -> the posterior's mean and logvar, each [B, latent_channels, H/f, W/f]
 * (f = 2^(len(block_out_channels)-1)); logvar is clamped to [-30, 20]. Two owned handles. */
D2G_API d2g_status* d2g_vae_encode(const d2g_module* m, const d2g_tensor* x, int exec, d2g_tensor** mean,
                                   d2g_tensor** logvar);
/* z [B, latent_channels, h, w] (already divided by scaling_factor) -> image [B, out_channels, h*f, w*f]. */
D2G_API d2g_status* d2g_vae_decode(const d2g_module* m, const d2g_tensor* z, int exec, d2g_tensor** out);
/* mean + exp(logvar / 2) * noise, the noise standard-normal from gen (of mean's device), or from the
 * device's default generator when gen is NULL. mean and logvar: same shape, dtype and device. */
D2G_API d2g_status* d2g_vae_sample(const d2g_tensor* mean, const d2g_tensor* logvar, const d2g_generator* gen,
                                   int exec, d2g_tensor** out);

/* kind "unet2d_condition": the Stable Diffusion UNet, diffusers' UNet2DConditionModel (config.json
 * keys and state_dict keys alike; SD 1.x and 2.x block types). exec: see d2g_exec.
 * sample: [B, in_channels, H, W] in the module's dtype and device.
 * timestep: 0-dim, [1] or [B], integer or floating, any device (pass it on the sample's device to
 *   avoid a host-to-device copy).
 * encoder_hidden_states: [B, T, cross_attention_dim] in the module's dtype and device.
 * out: the prediction [B, out_channels, H, W]. */
D2G_API d2g_status* d2g_unet_forward(const d2g_module* m, const d2g_tensor* sample, const d2g_tensor* timestep,
                                     const d2g_tensor* encoder_hidden_states, int exec, d2g_tensor** out);
/* How many activations d2g_unet_forward_features gives: 2 * len(down_block_types) + 1. */
D2G_API d2g_status* d2g_unet_feature_count(const d2g_module* m, int* count);
/* d2g_unet_forward that also hands back the intermediate activations, each an owned handle, in this
 * order: the output of each down block (after its downsampler, if any), down_blocks[0] first; the
 * output of the mid block; the output of each up block (after its upsampler, if any), up_blocks[0]
 * (the lowest resolution) first. features must have room for capacity >= d2g_unet_feature_count
 * handles; *count receives how many were written. */
D2G_API d2g_status* d2g_unet_forward_features(const d2g_module* m, const d2g_tensor* sample,
                                              const d2g_tensor* timestep,
                                              const d2g_tensor* encoder_hidden_states, int exec,
                                              d2g_tensor** out, d2g_tensor** features, int capacity,
                                              int* count);

/* kind "image_text_judge": the evaluation suite's independent image-text model (a CLIP-style dual
 * encoder that shares nothing with the teacher; native/src/models/image_text_judge.hpp). Config
 * keys: image_widths, norm_groups, text_width, text_layers, text_max_bytes, embed_dim. Embeddings
 * are [B, embed_dim], not normalised. exec: see d2g_exec.
 * kind "clip_model": contrastive pretraining of a CLIP text encoder (transformers' CLIPModel with the
 * judge's image tower; native/src/models/clip_model.hpp). Config keys: CLIPTextConfig's, projection_dim
 * (required), image_widths, norm_groups. Both encoders below serve it too; its text is token ids [B, T]
 * as the text encoder takes them, and its embeddings are [B, projection_dim].
 * images: [B, 3, H, W] floating, in [-1, 1] (H, W >= 8); moved to the module's device and dtype. */
D2G_API d2g_status* d2g_judge_encode_image(const d2g_module* m, const d2g_tensor* images, int exec,
                                           d2g_tensor** out);
/* text: [B, L] integers, each a UTF-8 byte + 1, 0 for padding (1 <= L <= text_max_bytes; every row
 * has at least one byte). */
D2G_API d2g_status* d2g_judge_encode_text(const d2g_module* m, const d2g_tensor* text, int exec, d2g_tensor** out);

/* kind "latent_lpips": LatentLPIPS, the perceptual distance on latents of E-LatentLPIPS, in the
 * official code's layout (native/src/models/latent_lpips.hpp; its released checkpoints load by name).
 * Config keys: latent_channels (4), widths (64,128,256,512,512), add_l1 (0), lean_backward (0),
 * fixed_augment_padding (0) (native/src/models/latent_lpips.hpp). Its parameters do not
 * require grad. Latents: [B, latent_channels, H, W] floating, H and W multiples of 4; moved to the
 * module's device and dtype. exec: see d2g_exec (record to differentiate with respect to the inputs).
 * out: [B] distances between x0 and x1 (one shape). */
D2G_API d2g_status* d2g_lpips_distance(const d2g_module* m, const d2g_tensor* x0, const d2g_tensor* x1, int exec,
                                       d2g_tensor** out);
/* The trunk's five taps for latents (capacity >= 5; count gets 5). */
D2G_API d2g_status* d2g_lpips_features(const d2g_module* m, const d2g_tensor* latents, int exec, d2g_tensor** taps,
                                       int capacity, int* count);

/* E-LatentLPIPS's augmentation with given parameters (native/src/models/latent_augment.hpp): x0 and x1
 * [B, C, H, W] of one shape transformed alike. Each parameter may be NULL (that part is skipped):
 * g_inv [B, 3, 3] (output pixel -> input pixel, centred coordinates), brightness, contrast, saturation
 * [B] draws in [0, 1), cutout_center [B, 2] with cutout_size [B]. out0 and out1 get the results. */
D2G_API d2g_status* d2g_lpips_augment(const d2g_tensor* x0, const d2g_tensor* x1, const d2g_tensor* g_inv,
                                      const d2g_tensor* brightness, const d2g_tensor* contrast,
                                      const d2g_tensor* saturation, const d2g_tensor* cutout_center,
                                      const d2g_tensor* cutout_size, int exec, d2g_tensor** out0, d2g_tensor** out1);

/* Fresh augmentation parameters for a batch [b, c, h, w] as the official pipeline draws them (preset:
 * b, g, c, o, co, bg, bgc, bgco; native/src/models/latent_augment.hpp), on the generator's device (gen
 * NULL: the default CPU generator). params gets 6 handles in d2g_lpips_augment's order, NULL where the
 * preset has no such part. */
D2G_API d2g_status* d2g_lpips_augment_draw(const char* preset, int64_t b, int64_t c, int64_t h, int64_t w,
                                           d2g_generator* gen, d2g_tensor** params, int capacity);
/* E-LatentLPIPS: the distance after one fresh augmentation of the preset drawn from gen (NULL: the
 * default generator of the module's device), applied alike to both inputs. out: [B]. */
D2G_API d2g_status* d2g_lpips_distance_ensemble(const d2g_module* m, const d2g_tensor* x0, const d2g_tensor* x1,
                                                const char* preset, d2g_generator* gen, int exec, d2g_tensor** out);
/* The distance (preset "none": plain LatentLPIPS, gen unused) or E-LatentLPIPS (one fresh draw of the
 * preset from gen) and its gradient with respect to x0 in one call, whatever exec's grad bit: distance
 * gets [B], grad d(sum of the distances)/d x0 (x0's shape), both in the module's dtype on its device.
 * exec: autocast bits as for d2g_lpips_distance. cuda_graph != 0 on CUDA: the forward and backward run
 * as one CUDA graph, captured by the first call of a shape, dtype, preset and autocast state (two
 * warm-up passes, then the capture; one graph kept per module) and replayed by later calls of the same
 * key, the augmentation padded fixed inside it and the draws made before each replay; ignored elsewhere. */
D2G_API d2g_status* d2g_lpips_distance_grad(const d2g_module* m, const d2g_tensor* x0, const d2g_tensor* x1,
                                            const char* preset, d2g_generator* gen, int exec, int cuda_graph,
                                            d2g_tensor** distance, d2g_tensor** grad);

/* ---- training: optimizers and parameter averages ------------------------------------------ */

/* An optimizer over leaf tensors that require grad (a module's parameters, from
 * d2g_module_state_entry), in parameter groups with their own learning rate and weight decay.
 * Updates follow torch.optim's algorithms (on CUDA with LibTorch 2.x AdamW runs LibTorch's fused
 * kernel). The optimizer holds the tensors themselves, not the caller's handles. */
typedef struct d2g_optimizer d2g_optimizer;
/* kind "adamw" (config keys beta1, beta2, eps; defaults 0.9, 0.999, 1e-8) or "sgd" (momentum,
 * dampening, nesterov; defaults 0, 0, false); config in the module config format ("" for defaults).
 * params[0..count-1] given group by group: group[i] is params[i]'s group, non-decreasing from 0 to
 * n_groups-1, every group non-empty; lr[g] and weight_decay[g] are group g's settings (AdamW's
 * weight decay is decoupled, SGD's is added to the gradient). Parameter i keeps its index i in the
 * optimizer's state names. */
D2G_API d2g_status* d2g_optimizer_create(const char* kind, const char* config, const d2g_tensor* const* params,
                                         const int* group, int64_t count, const double* lr,
                                         const double* weight_decay, int n_groups, d2g_optimizer** out);
/* One update of every parameter that has a gradient. */
D2G_API d2g_status* d2g_optimizer_step(d2g_optimizer* o);
/* Drops every parameter's gradient. */
D2G_API d2g_status* d2g_optimizer_zero_grad(d2g_optimizer* o);
/* Sets group g's learning rate (schedules run in the caller). */
D2G_API d2g_status* d2g_optimizer_set_lr(d2g_optimizer* o, int group, double lr);
/* torch.nn.utils.clip_grad_norm_ over the parameters' gradients (L2 of the per-tensor L2 norms):
 * multiplies them by min(1, max_norm / (total + 1e-6)); *total_norm (may be NULL) receives the total
 * before clipping. */
D2G_API d2g_status* d2g_optimizer_clip_grad_norm(d2g_optimizer* o, double max_norm, double* total_norm);
/* The state for checkpoints, named "<slot>.<parameter index>": AdamW exp_avg, exp_avg_sq and step
 * (a float32 count), SGD momentum_buffer; a parameter has entries once it has been stepped.
 * state_size takes a snapshot that state_entry reads (entry tensors share the state's memory). */
D2G_API d2g_status* d2g_optimizer_state_size(d2g_optimizer* o, int64_t* out);
D2G_API d2g_status* d2g_optimizer_state_entry(const d2g_optimizer* o, int64_t index, char* name, size_t capacity,
                                              d2g_tensor** tensor);
/* Replaces the whole state with named tensors as state_entry gives them (copied). Unknown names,
 * shapes that do not fit and incomplete entries are D2G_INVALID_ARGUMENT; nothing changes then. */
D2G_API d2g_status* d2g_optimizer_load_state(d2g_optimizer* o, const char* const* names,
                                             const d2g_tensor* const* tensors, int64_t count);
D2G_API void d2g_optimizer_free(d2g_optimizer* o); /* NULL is a no-op */

/* An exponential moving average of a module's parameters: after each update, shadow = decay *
 * shadow + (1 - decay) * parameter (lerp), kept in f32 (f64 for f64 parameters) on the parameters'
 * device. Starts as a copy of the parameters; holds the parameter tensors themselves. */
typedef struct d2g_ema d2g_ema;
D2G_API d2g_status* d2g_ema_create(const d2g_module* m, d2g_ema** out);
D2G_API d2g_status* d2g_ema_update(d2g_ema* e, double decay);
/* Copies the averages into the module's parameters. */
D2G_API d2g_status* d2g_ema_copy_to_module(d2g_ema* e);
/* The averages, named like the module's parameters (shares memory). */
D2G_API d2g_status* d2g_ema_state_size(const d2g_ema* e, int64_t* out);
D2G_API d2g_status* d2g_ema_state_entry(const d2g_ema* e, int64_t index, char* name, size_t capacity,
                                        d2g_tensor** tensor);
/* Replaces every average (each name once, shapes must fit; nothing changes on error). */
D2G_API d2g_status* d2g_ema_load_state(d2g_ema* e, const char* const* names, const d2g_tensor* const* tensors,
                                       int64_t count);
D2G_API void d2g_ema_free(d2g_ema* e); /* NULL is a no-op */

/* ---- data-parallel training on c10d ------------------------------------------------------- */

/* A group of processes training together (PyTorch's c10d): rank 0 serves a TCP store at
 * master_addr:master_port where all world_size processes meet (torchrun's MASTER_ADDR, MASTER_PORT,
 * RANK, WORLD_SIZE); backend "gloo" (CPU tensors) or "nccl" (CUDA tensors; set each process's GPU
 * first). timeout_ms bounds the meeting and every collective: a process that died or hangs makes the
 * others fail with D2G_IO_ERROR instead of waiting for ever. */
typedef struct d2g_process_group d2g_process_group;
D2G_API d2g_status* d2g_process_group_create(const char* backend, const char* master_addr, int master_port, int rank,
                                             int world_size, int64_t timeout_ms, d2g_process_group** out);
D2G_API d2g_status* d2g_process_group_info(const d2g_process_group* pg, int* rank, int* world_size);
/* Writes the backends this build has ("gloo,nccl", "gloo", or ""), NUL-terminated, into buf. */
D2G_API d2g_status* d2g_process_group_backends(char* buf, size_t capacity);
/* In place across ranks: the sum (average 0) or the mean (average 1) of each tensor. */
D2G_API d2g_status* d2g_all_reduce(d2g_process_group* pg, d2g_tensor* const* tensors, int count, int average);
/* Rank root's values into every rank's tensors. */
D2G_API d2g_status* d2g_broadcast(d2g_process_group* pg, d2g_tensor* const* tensors, int count, int root);
D2G_API d2g_status* d2g_barrier(d2g_process_group* pg);
D2G_API void d2g_process_group_free(d2g_process_group* pg); /* NULL is a no-op */

/* Data-parallel training of a module, as DistributedDataParallel: its parameters and buffers are
 * broadcast from rank 0 at creation; during each backward the gradients are averaged across ranks in
 * buckets of bucket_mb MiB, each all-reduced as soon as its gradients are ready, overlapped with the
 * rest of backward. Call d2g_data_parallel_finish after backward and before clipping and the optimizer
 * step. Keep the process group and the module alive while it lives; don't free it during a backward. */
typedef struct d2g_data_parallel d2g_data_parallel;
D2G_API d2g_status* d2g_data_parallel_create(d2g_process_group* pg, d2g_module* m, double bucket_mb,
                                             d2g_data_parallel** out);
/* Waits for every bucket of the last backward (a parameter without a gradient counts as zeros) and
 * leaves the averaged gradients in the parameters' .grad. */
D2G_API d2g_status* d2g_data_parallel_finish(d2g_data_parallel* dp);
D2G_API void d2g_data_parallel_free(d2g_data_parallel* dp); /* NULL is a no-op */

/* ---- training steps: one native call per step ---------------------------------------------- */

/* A whole training step in native code: forward, loss, backward, gradient averaging across ranks,
 * clipping, optimizer step, EMA. The step keeps the optimizer, EMA and data-parallel objects it was
 * given alive (their handles may be freed before it); keep the module's handle alive. kind "denoise":
 * a unet2d_condition learns x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps -> eps / v / x0, loss the
 * mean squared error. config: prediction (epsilon | v_prediction | sample), precision (f32 | bf16:
 * autocast, f32 weights | f16: autocast and a dynamic loss scale, CUDA only), max_grad_norm (0: no
 * clipping), ema_decay (default 0.9999; used when ema is not NULL). dp may be NULL. alphas_cumprod:
 * the schedule's cumulative alphas [T]. kind "contrastive": an image_text_judge or a clip_model learns CLIP's
 * symmetric contrastive loss over (image, caption) pairs (pairs with equal caption ids are not each
 * other's negatives); config: precision (f32 | bf16), max_grad_norm; ema and alphas_cumprod NULL.
 * kind "autoencoder": an autoencoder_kl learns to reconstruct images through its sampled latents,
 * loss = sum of squared errors / B + kl_weight * KL / B; config: kl_weight (1e-6), precision (f32 |
 * bf16), max_grad_norm; ema and alphas_cumprod NULL.
 * Set learning rates with d2g_optimizer_set_lr before a run. */
typedef struct d2g_train_step d2g_train_step;
D2G_API d2g_status* d2g_train_step_create(const char* kind, const char* config, d2g_module* model, d2g_optimizer* opt,
                                          d2g_ema* ema, d2g_data_parallel* dp, const d2g_tensor* alphas_cumprod,
                                          d2g_train_step** out);
/* One step on a batch: x0 [B, C, H, W] (clean latents), context [B, T, D], timesteps integer [B],
 * noise like x0 (moved to the model's device if elsewhere). metrics (may be NULL; n_metrics up to
 * 4): the loss (mean over the batch and the ranks), the gradient norm before clipping (0 without
 * clipping), the f16 loss scale after the step (1 otherwise), 1 if the weights were updated (0 when
 * f16 found an overflow and skipped it). Waits for the device. */
D2G_API d2g_status* d2g_train_step_run(d2g_train_step* s, const d2g_tensor* x0, const d2g_tensor* context,
                                       const d2g_tensor* timesteps, const d2g_tensor* noise, double* metrics,
                                       int n_metrics);
/* One step of any kind on its inputs, in its order. "denoise": x0, context, timesteps, noise (as
 * d2g_train_step_run). "contrastive": images [B, 3, H, W], text [B, L] (as d2g_judge_encode_text takes it),
 * caption ids integer [B]; metrics: the loss, the gradient norm before clipping (0 without clipping),
 * the image-to-caption top-1 accuracy within the batch, exp(logit_scale) after the step, 1 if the
 * weights were updated (0: the loss was not finite and the update was skipped).
 * "autoencoder": images [B, C, H, W] in [-1, 1], noise [B, latent_channels, H/f, W/f] (standard normal,
 * for the latents' sample); metrics: the loss, the gradient norm before clipping, the reconstruction's
 * mean squared error per element, the KL per image, 1 if the weights were updated (as for contrastive).
 * "denoise" in f32 or bf16 also skips the update of a non-finite loss (stepped = 0). n_metrics: 0..8. */
D2G_API d2g_status* d2g_train_step_run_inputs(d2g_train_step* s, const d2g_tensor* const* inputs, int n_inputs,
                                              double* metrics, int n_metrics);
/* Gives a step a further network by role; the step keeps it alive. "denoise" takes a "text_encoder"
 * (a clip_text_model trained with the UNet: the optimizer must hold its parameters too); its runs
 * then take token ids [B, T] as context and encode them inside the step (the last hidden state). */
D2G_API d2g_status* d2g_train_step_set_module(d2g_train_step* s, const char* role, d2g_module* m);
D2G_API void d2g_train_step_free(d2g_train_step* s); /* NULL is a no-op */

/* ---- pipelines ---------------------------------------------------------------------------- */

/* One-step text-to-image: ids -> text encoder (last hidden state) -> UNet once at `timestep` -> x0
 * -> VAE decoder -> u8 RGB images. Diffusion2GAN's generator is this with prediction=2 (the UNet
 * predicts x0); a diffusion teacher gives one DDIM-style jump with prediction 0 or 1.
 * The pipeline shares the three modules (they stay alive while it lives; free them as usual). All
 * three must be on one device. On CUDA with use_cuda_graphs=1 each stage is captured as a CUDA graph
 * per (batch, channels, height, width) on its first run and replayed afterwards (the first run of a
 * shape is slower); don't change the modules' weights, device or dtype while a pipeline uses them. */
typedef struct d2g_onestep d2g_onestep;
/* What the UNet predicts: diffusers' prediction_type "epsilon", "v_prediction" or "sample" (x0). */
typedef enum d2g_prediction { D2G_PREDICT_EPSILON = 0, D2G_PREDICT_V = 1, D2G_PREDICT_SAMPLE = 2 } d2g_prediction;
/* prediction: a d2g_prediction. scaling_factor: the VAE's. */
D2G_API d2g_status* d2g_onestep_create(const d2g_module* text_encoder, const d2g_module* unet,
                                       const d2g_module* vae, int prediction, double scaling_factor,
                                       int use_cuda_graphs, d2g_onestep** out);
/* input_ids: i64/i32 [B, T] (any device); noise: [B, C, h, w] floating (any device), the x_t the
 * UNet sees; alpha_bar: the scheduler's cumulative alpha at timestep (ignored for prediction 2).
 * images: u8 [B, H, W, 3] on the pipeline's device, H = h * the VAE's factor. Asynchronous on CUDA:
 * the result is ready when read (copying it to the host synchronises). */
D2G_API d2g_status* d2g_onestep_run(d2g_onestep* p, const d2g_tensor* input_ids, const d2g_tensor* noise,
                                    int64_t timestep, double alpha_bar, d2g_tensor** images);
/* Milliseconds each stage took in the last run (CUDA: device time from events; waits for the run). */
D2G_API d2g_status* d2g_onestep_last_timings(d2g_onestep* p, float* text_ms, float* unet_ms, float* vae_ms);
D2G_API void d2g_onestep_free(d2g_onestep* p); /* NULL is a no-op */

/* Multi-step sampling with classifier-free guidance in one call, for samplers whose step is linear in
 * the sample and the guided output (DDIM with eta 0): for each of n_steps rows {t, s, cx, cm} of steps,
 *   out = unet(x * s, t, [uncond; cond]);  g = out_u + guidance (out_c - out_u);  x = cx x + cm g
 * (guidance 1 or uncond NULL: one pass on cond). The sample and this arithmetic are float32 whatever the
 * UNet's dtype. The sampler shares the UNet (free it as usual). On CUDA with use_cuda_graphs=1 one step
 * is captured per (batch, channels, height, width, tokens, guided) on its first run and replayed; don't
 * change the UNet's weights, device or dtype while a sampler uses it. */
typedef struct d2g_guided_sampler d2g_guided_sampler;
D2G_API d2g_status* d2g_guided_sampler_create(const d2g_module* unet, int use_cuda_graphs, d2g_guided_sampler** out);
/* noise: floating [B, C, H, W], the first x (already times the scheduler's initial sigma); cond, uncond:
 * text states [B, T, D] (uncond may be NULL when guidance is 1); any device. steps: n_steps * 4 doubles
 * (1 to 1000 rows). out: float32 [B, C, H, W] on the UNet's device; asynchronous on CUDA. */
D2G_API d2g_status* d2g_guided_sampler_run(d2g_guided_sampler* s, const d2g_tensor* noise, const d2g_tensor* cond,
                                           const d2g_tensor* uncond, double guidance, const double* steps,
                                           int n_steps, d2g_tensor** out);
D2G_API void d2g_guided_sampler_free(d2g_guided_sampler* s); /* NULL is a no-op */

#ifdef __cplusplus
}
#endif
#endif /* D2G_H */
