// See fused_ops.hpp.
#include "fused_ops.hpp"

#include <atomic>

#include "../status.hpp"

#ifdef D2G_WITH_CUDA_KERNELS
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>

#include "cuda_kernels.h"
#endif

namespace d2g::kernels {

namespace {
std::atomic<bool> g_enabled{true};

#ifdef D2G_WITH_CUDA_KERNELS
int sm_count(const at::Device& device) {
  int sms = 0;
  if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device.index()) != cudaSuccess) sms = 100;
  return sms;
}

ElemType elem_type(at::ScalarType t) {
  return t == at::kFloat ? ElemType::F32 : t == at::kHalf ? ElemType::F16 : ElemType::BF16;
}

bool kernel_dtype(at::ScalarType t) { return t == at::kFloat || t == at::kHalf || t == at::kBFloat16; }
#endif

at::Tensor group_norm_act_reference(const at::Tensor& x, const torch::nn::GroupNorm& norm, const at::Tensor& add,
                                    bool silu) {
  at::Tensor h = x;
  if (add.defined()) {
    std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
    shape[0] = add.size(0);
    shape[1] = add.size(1);
    h = h + add.view(shape);
  }
  const auto& o = norm->options;
  h = at::group_norm(h, o.num_groups(), norm->weight, norm->bias, o.eps(), at::globalContext().userEnabledCuDNN());
  return silu ? at::silu(h) : h;
}
}  // namespace

bool compiled() {
#ifdef D2G_WITH_CUDA_KERNELS
  return true;
#else
  return false;
#endif
}

bool active_for(const at::Tensor& x) { return compiled() && enabled() && x.is_cuda(); }

at::Tensor residual_bias(at::Tensor h, const at::Tensor& bias, const at::Tensor& shortcut, double scale) {
  if ((shortcut.defined() && !h.sizes().equals(shortcut.sizes())) || bias.dim() != 1 || h.dim() < 2 ||
      bias.size(0) != h.size(1))
    fail(D2G_INVALID_ARGUMENT, "residual_bias: h ", h.sizes(), ", shortcut ", shortcut.sizes(), " and bias ",
         bias.sizes(), " do not fit");
#ifdef D2G_WITH_CUDA_KERNELS
  const auto type = h.scalar_type();
  const bool grad = at::GradMode::is_enabled() &&
                    (h.requires_grad() || bias.requires_grad() || (shortcut.defined() && shortcut.requires_grad()));
  if (enabled() && h.is_cuda() && !grad && kernel_dtype(type) && (!shortcut.defined() || shortcut.scalar_type() == type) &&
      bias.scalar_type() == type && bias.is_contiguous() && h.numel() > 0 && h.dim() >= 3) {
    const int64_t n = h.size(0), c = h.size(1), s = h.numel() / (n * c);
    const int vec = static_cast<int>(16 / h.element_size());
    int layout = -1;  // 0: NCHW, 1: channel-innermost; both tensors must share it
    const bool sc = shortcut.defined();
    if (h.is_contiguous() && (!sc || shortcut.is_contiguous())) layout = 0;
    else if (h.movedim(1, -1).is_contiguous() && (!sc || shortcut.movedim(1, -1).is_contiguous())) layout = 1;
    const bool fits = layout == 1 ? c % vec == 0 : s % vec == 0;
    if (layout >= 0 && fits && reinterpret_cast<uintptr_t>(h.data_ptr()) % 16 == 0 &&
        (!sc || reinterpret_cast<uintptr_t>(shortcut.data_ptr()) % 16 == 0)) {
      c10::cuda::CUDAGuard guard(h.device());
      cudaError_t err = residual_bias_inplace(elem_type(type), h.data_ptr(), sc ? shortcut.data_ptr() : nullptr,
                                              bias.data_ptr(), n, c, s,
                                              layout == 1, static_cast<float>(scale), sm_count(h.device()),
                                              c10::cuda::getCurrentCUDAStream().stream());
      if (err != cudaSuccess) fail(D2G_NATIVE_FAILURE, "residual_bias: CUDA kernel failed: ", cudaGetErrorString(err));
      return h;
    }
  }
#endif
  std::vector<int64_t> shape(static_cast<size_t>(h.dim()), 1);
  shape[1] = bias.size(0);
  at::Tensor out = shortcut.defined() ? h + bias.view(shape) + shortcut : h + bias.view(shape);
  return scale == 1.0 ? out : out * scale;
}

at::Tensor geglu(const at::Tensor& proj) {
  if (proj.dim() < 1 || proj.size(-1) % 2 != 0)
    fail(D2G_INVALID_ARGUMENT, "geglu: the last dimension of ", proj.sizes(), " must be even");
#ifdef D2G_WITH_CUDA_KERNELS
  const int64_t d = proj.size(-1) / 2;
  const bool grad = at::GradMode::is_enabled() && proj.requires_grad();
  if (enabled() && proj.is_cuda() && !grad && kernel_dtype(proj.scalar_type()) && proj.is_contiguous() &&
      proj.numel() > 0 && (d * proj.element_size()) % 16 == 0 && reinterpret_cast<uintptr_t>(proj.data_ptr()) % 16 == 0) {
    c10::cuda::CUDAGuard guard(proj.device());
    std::vector<int64_t> shape = proj.sizes().vec();
    shape.back() = d;
    at::Tensor y = at::empty(shape, proj.options());
    cudaError_t err = kernels::geglu(elem_type(proj.scalar_type()), proj.data_ptr(), y.data_ptr(), proj.numel() / (2 * d), d,
                                     sm_count(proj.device()), c10::cuda::getCurrentCUDAStream().stream());
    if (err != cudaSuccess) fail(D2G_NATIVE_FAILURE, "geglu: CUDA kernel failed: ", cudaGetErrorString(err));
    return y;
  }
#endif
  auto parts = proj.chunk(2, -1);
  return parts[0] * at::gelu(parts[1]);
}

bool set_enabled(bool enabled) { return g_enabled.exchange(enabled); }
bool enabled() { return g_enabled.load(std::memory_order_relaxed); }

at::Tensor group_norm_act(const at::Tensor& x, const torch::nn::GroupNorm& norm, const at::Tensor& add, bool silu) {
  if (add.defined() && (add.dim() != 2 || add.size(0) != x.size(0) || add.size(1) != x.size(1)))
    fail(D2G_INVALID_ARGUMENT, "group_norm_act: add is ", add.sizes(), ", expected [",
         x.size(0), ", ", x.size(1), "]");
#ifdef D2G_WITH_CUDA_KERNELS
  const auto& o = norm->options;
  const at::Tensor& w = norm->weight;
  const at::Tensor& b = norm->bias;
  const auto type = x.scalar_type();
  const bool grad = at::GradMode::is_enabled() &&
                    (x.requires_grad() || (w.defined() && w.requires_grad()) || (b.defined() && b.requires_grad()) ||
                     (add.defined() && add.requires_grad()));
  bool usable = enabled() && x.is_cuda() && !grad && x.dim() >= 3 &&
                (type == at::kFloat || type == at::kHalf || type == at::kBFloat16) &&
                (!w.defined() || (w.scalar_type() == type && w.is_contiguous())) &&
                (!b.defined() || (b.scalar_type() == type && b.is_contiguous())) &&
                (!add.defined() || add.scalar_type() == type) && x.numel() > 0;
  if (usable) {
    const int64_t n = x.size(0), c = x.size(1), s = x.numel() / (n * c);
    // Layout: NCHW-contiguous, or channel-innermost (x with its channel dimension moved last is contiguous).
    bool channels_last = false;
    if (!x.is_contiguous()) {
      if (x.movedim(1, -1).is_contiguous()) channels_last = true;
      else usable = false;
    }
    if (usable && group_norm_unsupported(c, s, o.num_groups(), channels_last) == nullptr &&
        reinterpret_cast<uintptr_t>(x.data_ptr()) % 16 == 0) {
      c10::cuda::CUDAGuard guard(x.device());
      at::Tensor addc = add.defined() ? add.contiguous() : add;
      at::Tensor y = at::empty_like(x);  // same strides as x (empty_like preserves dense layouts)
      at::Tensor scratch = at::empty({group_norm_scratch_floats(n, c, s, o.num_groups(), channels_last)},
                                     x.options().dtype(at::kFloat));
      const ElemType et = elem_type(type);
      const int sms = sm_count(x.device());
      cudaError_t err = kernels::group_norm_act(
          et, x.data_ptr(), y.data_ptr(), addc.defined() ? addc.data_ptr() : nullptr,
          w.defined() ? w.data_ptr() : nullptr, b.defined() ? b.data_ptr() : nullptr, n, c, s, o.num_groups(),
          o.eps(), channels_last, silu, scratch.data_ptr<float>(), sms, c10::cuda::getCurrentCUDAStream().stream());
      if (err != cudaSuccess) fail(D2G_NATIVE_FAILURE, "group_norm_act: CUDA kernel failed: ", cudaGetErrorString(err));
      return y;
    }
  }
#endif
  return group_norm_act_reference(x, norm, add, silu);
}

at::Tensor upsample_nearest2x(const at::Tensor& x) {
  if (x.dim() != 4) fail(D2G_INVALID_ARGUMENT, "upsample_nearest2x: expected [N, C, H, W], got ", x.sizes());
#ifdef D2G_WITH_CUDA_KERNELS
  const bool grad = at::GradMode::is_enabled() && x.requires_grad();
  if (enabled() && x.is_cuda() && !grad && kernel_dtype(x.scalar_type()) && x.numel() > 0 &&
      x.is_contiguous(at::MemoryFormat::ChannelsLast) && !x.is_contiguous() &&
      (x.size(1) * x.element_size()) % 16 == 0 && reinterpret_cast<uintptr_t>(x.data_ptr()) % 16 == 0) {
    c10::cuda::CUDAGuard guard(x.device());
    at::Tensor y = at::empty({x.size(0), x.size(1), 2 * x.size(2), 2 * x.size(3)},
                             x.options().memory_format(at::MemoryFormat::ChannelsLast));
    cudaError_t err = upsample_nearest2x_channels_last(elem_type(x.scalar_type()), x.data_ptr(), y.data_ptr(),
                                                       x.size(0), x.size(1), x.size(2), x.size(3), sm_count(x.device()),
                                                       c10::cuda::getCurrentCUDAStream().stream());
    if (err != cudaSuccess) fail(D2G_NATIVE_FAILURE, "upsample_nearest2x: CUDA kernel failed: ", cudaGetErrorString(err));
    return y;
  }
#endif
  return at::upsample_nearest2d(x, {2 * x.size(2), 2 * x.size(3)});
}

}  // namespace d2g::kernels
