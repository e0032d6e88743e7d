// Fused operations of the Stable Diffusion family, at the ATen level: one call that the models use
// whatever the build, dispatching to the hand-written CUDA kernels (kernels/*.cu, built when the
// CUDA toolkit is found next to a CUDA LibTorch) where they apply, and to plain LibTorch operations
// everywhere else (CPU, LibTorch 1.13, autograd, shapes the kernels do not cover).
#pragma once

#include <torch/torch.h>

namespace d2g::kernels {

// True when this build has the CUDA kernels (D2G_WITH_CUDA_KERNELS).
bool compiled();
// Process-wide switch (default on), for A/B measurements and debugging; returns the previous value.
bool set_enabled(bool enabled);
bool enabled();

// act(GroupNorm(x + add)): x is [N, C, *] (NCHW-contiguous or channel-innermost, e.g. channels_last
// or the [B, C, HW] transpose of a [B, HW, C] tensor); add is [N, C] (broadcast over positions) or
// undefined; silu applies SiLU after the affine transform. The result has x's layout.
// The fused kernel runs when x is a CUDA f32/f16/bf16 tensor, nothing needs a gradient and the shape
// fits (see group_norm_unsupported); otherwise this is exactly norm(x + add) then silu in LibTorch.
at::Tensor group_norm_act(const at::Tensor& x, const torch::nn::GroupNorm& norm, const at::Tensor& add, bool silu);

// True when the hand-written kernels are compiled, enabled and x is on CUDA: then models may
// restructure work around them (e.g. leave a convolution's bias to the next fused kernel). The
// functions here stay correct either way.
bool active_for(const at::Tensor& x);

// (h + bias[channel] + shortcut) * scale, with h [N, C, *] a convolution output computed without its
// bias; shortcut may be undefined (then this is the convolution's bias add). In place on h when the
// CUDA kernel applies (h and shortcut of one layout, no gradient).
at::Tensor residual_bias(at::Tensor h, const at::Tensor& bias, const at::Tensor& shortcut, double scale);

// GEGLU's activation: for proj [..., 2D] (the hidden half, then the gate half), hidden * gelu(gate)
// as [..., D]; one CUDA kernel for contiguous tensors, LibTorch's chunk/gelu/mul otherwise.
at::Tensor geglu(const at::Tensor& proj);

// Nearest-neighbour 2x upsampling of [N, C, H, W] (Upsample2D without an output size). A CUDA
// kernel for channels_last f32/f16/bf16 tensors that need no gradient; at::upsample_nearest2d else.
at::Tensor upsample_nearest2x(const at::Tensor& x);

}  // namespace d2g::kernels
