// See fused_ops.hpp.
#include "fused_ops.hpp"

#include <array>
#include <atomic>
#include <initializer_list>

#include "../core/status.hpp"

#ifdef D2G_WITH_CUDA_KERNELS
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>

#include "cuda_kernels.h"
#endif

namespace d2g::kernels {

namespace {
std::atomic<bool> g_enabled{true};

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
  // Under autocast the input may be bf16/f16 and the weights f32: normalise in the weights' dtype, as
  // CUDA autocast does (LibTorch 1.x's CPU group norm refuses mixed dtypes).
  if (norm->weight.defined() && h.scalar_type() != norm->weight.scalar_type()) h = h.to(norm->weight.scalar_type());
  h = at::group_norm(h, o.num_groups(), norm->weight, norm->bias, o.eps(), at::globalContext().userEnabledCuDNN());
  return silu ? at::silu(h) : h;
}

#ifdef D2G_WITH_CUDA_KERNELS
// Multiprocessor count per device, asked once (kernels size their grids by it).
int sm_count(const at::Device& device) {
  static std::array<std::atomic<int>, 64> cache{};
  const int i = device.index() < 0 ? 0 : device.index() % 64;
  int sms = cache[i].load(std::memory_order_relaxed);
  if (sms == 0) {
    if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device.index()) != cudaSuccess || sms <= 0) sms = 100;
    cache[i].store(sms, std::memory_order_relaxed);
  }
  return sms;
}

ElemType elem_type(at::ScalarType t) {
  return t == at::kFloat ? ElemType::F32 : t == at::kHalf ? ElemType::F16 : ElemType::BF16;
}

// What every kernel needs of its main tensor: kernels on, a CUDA f32/f16/bf16 tensor with elements,
// 16-byte aligned (the kernels move 16-byte vectors).
bool kernel_tensor(const at::Tensor& t) {
  const auto st = t.scalar_type();
  return enabled() && t.is_cuda() && (st == at::kFloat || st == at::kHalf || st == at::kBFloat16) && t.numel() > 0 &&
         reinterpret_cast<uintptr_t>(t.data_ptr()) % 16 == 0;
}

// The kernels have no backward: true when autograd would record any of these (undefined ones ignored).
bool needs_grad(std::initializer_list<const at::Tensor*> ts) {
  if (!at::GradMode::is_enabled()) return false;
  for (const at::Tensor* t : ts)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

// [N, C, *] memory orders the kernels take: NCHW-contiguous, or channel-innermost (the tensor with
// its channel dimension moved last is contiguous: channels_last, or [B, C, HW] viewing [B, HW, C]).
enum class Layout { Other, Contiguous, ChannelsLast };
Layout layout_of(const at::Tensor& t) {
  if (t.is_contiguous()) return Layout::Contiguous;
  if (t.movedim(1, -1).is_contiguous()) return Layout::ChannelsLast;
  return Layout::Other;
}

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) fail(D2G_NATIVE_FAILURE, what, ": CUDA kernel failed: ", cudaGetErrorString(err));
}

cudaStream_t stream() { return c10::cuda::getCurrentCUDAStream().stream(); }
#endif
}  // namespace

bool compiled() {
#ifdef D2G_WITH_CUDA_KERNELS
  return true;
#else
  return false;
#endif
}

bool set_enabled(bool enabled) { return g_enabled.exchange(enabled); }
bool enabled() { return g_enabled.load(std::memory_order_relaxed); }
bool active_for(const at::Tensor& x) { return compiled() && enabled() && x.is_cuda(); }

at::Tensor group_norm_act(const at::Tensor& x, const torch::nn::GroupNorm& norm, const at::Tensor& add, bool silu) {
  if (add.defined() && (add.dim() != 2 || add.size(0) != x.size(0) || add.size(1) != x.size(1)))
    fail(D2G_INVALID_ARGUMENT, "group_norm_act: add is ", add.sizes(), ", expected [", x.size(0), ", ", x.size(1), "]");
#ifdef D2G_WITH_CUDA_KERNELS
  const auto& o = norm->options;
  const at::Tensor& w = norm->weight;
  const at::Tensor& b = norm->bias;
  const auto type = x.scalar_type();
  const auto same = [&](const at::Tensor& t) { return !t.defined() || (t.scalar_type() == type && t.is_contiguous()); };
  const Layout layout = x.dim() >= 3 ? layout_of(x) : Layout::Other;
  if (kernel_tensor(x) && layout != Layout::Other && !needs_grad({&x, &w, &b, &add}) && same(w) && same(b) &&
      (!add.defined() || add.scalar_type() == type)) {
    const int64_t n = x.size(0), c = x.size(1), s = x.numel() / (n * c);
    const bool cl = layout == Layout::ChannelsLast;
    if (group_norm_unsupported(c, s, o.num_groups(), cl) == nullptr) {
      c10::cuda::CUDAGuard guard(x.device());
      const ElemType et = elem_type(type);
      const int sms = sm_count(x.device());
      at::Tensor addc = add.defined() ? add.contiguous() : add;
      at::Tensor y = at::empty_like(x);  // same strides as x (empty_like preserves dense layouts)
      at::Tensor scratch =
          at::empty({group_norm_scratch_floats(et, n, c, s, o.num_groups(), cl)}, x.options().dtype(at::kFloat));
      check(kernels::group_norm_act(et, x.data_ptr(), y.data_ptr(), addc.defined() ? addc.data_ptr() : nullptr,
                                    w.defined() ? w.data_ptr() : nullptr, b.defined() ? b.data_ptr() : nullptr, n, c, s,
                                    o.num_groups(), o.eps(), cl, silu, scratch.data_ptr<float>(), sms, stream()),
            "group_norm_act");
      return y;
    }
  }
#endif
  return group_norm_act_reference(x, norm, add, silu);
}

at::Tensor residual_bias(at::Tensor h, const at::Tensor& bias, const at::Tensor& shortcut, double scale) {
  const bool sc = shortcut.defined();
  if ((sc && !h.sizes().equals(shortcut.sizes())) || bias.dim() != 1 || h.dim() < 2 || bias.size(0) != h.size(1))
    fail(D2G_INVALID_ARGUMENT, "residual_bias: h ", h.sizes(), ", shortcut ", shortcut.sizes(), " and bias ",
         bias.sizes(), " do not fit");
#ifdef D2G_WITH_CUDA_KERNELS
  const auto type = h.scalar_type();
  const Layout layout = h.dim() >= 3 ? layout_of(h) : Layout::Other;  // the shortcut must share it
  if (kernel_tensor(h) && layout != Layout::Other && !needs_grad({&h, &bias, &shortcut}) &&
      bias.scalar_type() == type && bias.is_contiguous() &&
      (!sc || (shortcut.scalar_type() == type && kernel_tensor(shortcut) && layout_of(shortcut) == layout))) {
    const int64_t n = h.size(0), c = h.size(1), s = h.numel() / (n * c);
    const bool cl = layout == Layout::ChannelsLast;
    const int64_t vec = 16 / h.element_size();
    if ((cl ? c : s) % vec == 0) {
      c10::cuda::CUDAGuard guard(h.device());
      check(residual_bias_inplace(elem_type(type), h.data_ptr(), sc ? shortcut.data_ptr() : nullptr, bias.data_ptr(),
                                  n, c, s, cl, static_cast<float>(scale), sm_count(h.device()), stream()),
            "residual_bias");
      return h;
    }
  }
#endif
  std::vector<int64_t> shape(static_cast<size_t>(h.dim()), 1);
  shape[1] = bias.size(0);
  at::Tensor out = sc ? h + bias.view(shape) + shortcut : h + bias.view(shape);
  return scale == 1.0 ? out : out * scale;
}

at::Tensor geglu(const at::Tensor& proj) {
  if (proj.dim() < 1 || proj.size(-1) % 2 != 0)
    fail(D2G_INVALID_ARGUMENT, "geglu: the last dimension of ", proj.sizes(), " must be even");
#ifdef D2G_WITH_CUDA_KERNELS
  const int64_t d = proj.size(-1) / 2;
  if (kernel_tensor(proj) && proj.is_contiguous() && !needs_grad({&proj}) && (d * proj.element_size()) % 16 == 0) {
    c10::cuda::CUDAGuard guard(proj.device());
    std::vector<int64_t> shape = proj.sizes().vec();
    shape.back() = d;
    at::Tensor y = at::empty(shape, proj.options());
    check(kernels::geglu(elem_type(proj.scalar_type()), proj.data_ptr(), y.data_ptr(), proj.numel() / (2 * d), d,
                         sm_count(proj.device()), stream()),
          "geglu");
    return y;
  }
#endif
  auto parts = proj.chunk(2, -1);
  return parts[0] * at::gelu(parts[1]);
}

at::Tensor upsample_nearest2x(const at::Tensor& x) {
  if (x.dim() != 4) fail(D2G_INVALID_ARGUMENT, "upsample_nearest2x: expected [N, C, H, W], got ", x.sizes());
#ifdef D2G_WITH_CUDA_KERNELS
  if (kernel_tensor(x) && !needs_grad({&x}) && layout_of(x) == Layout::ChannelsLast &&
      (x.size(1) * x.element_size()) % 16 == 0) {
    c10::cuda::CUDAGuard guard(x.device());
    at::Tensor y = at::empty({x.size(0), x.size(1), 2 * x.size(2), 2 * x.size(3)},
                             x.options().memory_format(at::MemoryFormat::ChannelsLast));
    check(upsample_nearest2x_channels_last(elem_type(x.scalar_type()), x.data_ptr(), y.data_ptr(), x.size(0),
                                           x.size(1), x.size(2), x.size(3), sm_count(x.device()), stream()),
          "upsample_nearest2x");
    return y;
  }
#endif
  return at::upsample_nearest2d(x, {2 * x.size(2), 2 * x.size(3)});
}

}  // namespace d2g::kernels
