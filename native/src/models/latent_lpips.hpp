// LatentLPIPS: the perceptual distance of E-LatentLPIPS computed on latents, laid out as the official
// code (mingukkang/elatentlpips) has it, so that its released checkpoints load by name. The
// augmentation ensemble that makes it E-LatentLPIPS comes on top (same draw for both inputs).
//
//   trunk: torchvision's vgg16_bn `features` (44 modules: conv 3x3 + BatchNorm + ReLU per width,
//          max-pools between the stages) with the first conv taking latent_channels, the first three
//          max-pools removed (the latent is already downscaled) and the last two kept; five taps, at
//          the ends of features[0:7], [7:14], [14:24], [24:34] (after a max-pool), [34:44] (after one).
//          BatchNorm uses its running statistics (the official module runs in eval mode) unless the
//          module is in training mode (is_training(), set by the trunk's classifier training only;
//          modules of this kind are created in eval mode); distances always use running statistics.
//   distance(x0, x1) = sum over taps k of mean over positions of lin_k((n(f_k(x0)) - n(f_k(x1)))^2),
//          n(f) = f / sqrt(sum over channels f^2 + 1e-8), lin_k a 1x1 conv to one channel without bias;
//          plus mean |x0 - x1| when add_l1 (the official default adds it; ours is off unless asked).
//
// State names (the official ELatentLPIPS module's): net.sliceS.I.{weight,bias} for the convs,
// net.sliceS.I.{weight,bias,running_mean,running_var,num_batches_tracked} for the BatchNorms (S 1..5,
// I the torchvision index), lin{0..4}.model.1.weight (index 1: the official heads have a Dropout at 0).
// Config keys: latent_channels (4), widths (64,128,256,512,512: the five stages' widths; smaller for a
// small latent space), add_l1 (false), lean_backward (false) and fixed_augment_padding (false): see the
// options. Kind "latent_lpips" in the module registry. Its parameters do not require grad: the distance
// is a loss for other networks, never trained by accident (the tools that train its trunk and calibrate
// its heads, train/lpips_steps.hpp, switch that on for what they train).
//
// Kind "lpips_rank" (LpipsRank): the official LPIPS calibration's ranking head (Dist2LogitLayer): from
// two distances d0, d1 [B] it gives the logit that the second is judged the closer, through 1x1 convs
// 5 -> mid -> mid -> 1 with LeakyReLU(0.2) on (d0, d1, d0 - d1, d0 / (d1 + eps), d1 / (d0 + eps)),
// eps 0.1. Config keys: mid (32). It is used only while calibrating the lin heads on 2AFC judgements.
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "../core/config.hpp"
#include "../nn/layers.hpp"
#include "latent_augment.hpp"

namespace d2g::lpips {

struct LatentLpipsOptions {
  int64_t latent_channels = 4;
  std::vector<int64_t> widths{64, 128, 256, 512, 512};
  bool add_l1 = false;
  // A distance with gradients for one input only (a generator's output against its target) through a
  // frozen trunk may keep, for the backward, ReLU masks and pooling choices (a byte an element) and the
  // taps instead of every activation: the same gradients, less saved memory, a few more kernels.
  // Off by default: at SD1.5 size, batch 8, its peak memory was no lower (the backward's transient
  // gradients dominate) and under bf16 it was slower (benchmarks/results/elatentlpips.json).
  bool lean_backward = false;
  // The ensemble's geometric augmentation pads by the most any draw can need instead of what each
  // batch's draws need (latent_augment.hpp, fixed_padding): no host synchronisation and fixed shapes
  // after the draws, which a CUDA graph capture of a training step needs; the same distances up to f32
  // rounding, for more work on the padded canvas. Off by default (eager calls gain nothing from it).
  bool fixed_augment_padding = false;

  LatentLpipsOptions() = default;
  explicit LatentLpipsOptions(const Config& c);
};

struct LatentLpipsImpl : torch::nn::Module {
  explicit LatentLpipsImpl(const LatentLpipsOptions& o);

  // The five taps of the trunk for latents [B, latent_channels, H, W] (H, W >= 4, multiples of 4);
  // BatchNorm with batch statistics in training mode, running statistics otherwise.
  std::vector<at::Tensor> features(const at::Tensor& latents);
  // Per tap, the squared difference of the channel-normalised taps (n(f_k(x0)) - n(f_k(x1)))^2 for
  // two batches of latents already on the module's device and dtype (running statistics).
  std::vector<at::Tensor> tap_differences(const at::Tensor& x0, const at::Tensor& x1);
  // The lin heads' weighted spatial means of tap_differences, summed over taps: [B].
  at::Tensor weigh(const std::vector<at::Tensor>& differences);
  // [B] distances between two batches of latents of one shape (one trunk pass over both).
  at::Tensor distance(const at::Tensor& x0, const at::Tensor& x1);
  // E-LatentLPIPS: the distance after one fresh augmentation of the preset (latent_augment.hpp) drawn
  // from gen and applied alike to both; the L1 term (add_l1) is on the un-augmented latents.
  at::Tensor distance_ensemble(const at::Tensor& x0, const at::Tensor& x1, const std::string& preset,
                               c10::optional<at::Generator> gen);
  // The distance (preset "none": plain LatentLPIPS, gen unused) or E-LatentLPIPS (a fresh draw of the
  // preset from gen) and its gradient with respect to x0, d(sum of the distances) / d x0, in one call:
  // ([B] distances, a tensor of x0's shape), both in the module's dtype on its device, whatever the
  // grad mode. cuda_graph (CUDA only; elsewhere ignored): the forward and backward are captured as one
  // CUDA graph for the shape, dtype, preset and autocast state of the call and replayed by later calls
  // of the same (one graph kept per module; the augmentation pads fixed in it, and the draws, made
  // before each replay, are copied into its inputs); the first call of a new key runs two warm-up
  // passes and the capture.
  std::pair<at::Tensor, at::Tensor> distance_grad(const at::Tensor& x0, const at::Tensor& x1, const std::string& preset,
                                                  c10::optional<at::Generator> gen, bool cuda_graph);
  ~LatentLpipsImpl() override;

  LatentLpipsOptions options;
  // The trunk's layers in torchvision's order (44; a null conv and norm where the layer is a ReLU or
  // max-pool), each registered under net.sliceS.I; and the five lin heads.
  struct Layer {
    enum Kind { CONV, NORM, RELU, POOL, SKIP } kind;
    Conv2d conv{nullptr};
    torch::nn::BatchNorm2d norm{nullptr};
  };
  std::vector<Layer> layers;
  std::vector<Conv2d> lins;

 private:
  void check(const at::Tensor& x, const char* what) const;
  void check_pair(const at::Tensor& x0, const at::Tensor& x1) const;
  std::vector<at::Tensor> run_trunk(const at::Tensor& h, bool batch_statistics, bool lean = false);
  // Whether the distance between a (needs gradients) and c (does not) may take the lean backward.
  bool lean_for(const at::Tensor& a, const at::Tensor& c);
  // [B] distance of a to c (already on the module's device and dtype) through the lean backward.
  at::Tensor lean_distance(const at::Tensor& a, const at::Tensor& c);
  // [B] distance of two batches on the module's device and dtype: lean where it may be, else weigh(tap_differences).
  at::Tensor pair_distance(const at::Tensor& a, const at::Tensor& c);
  // [B] E-LatentLPIPS of a and c (on the module's device and dtype) for given draws, with the L1 term
  // when add_l1 (on the un-augmented latents); p null: plain LatentLPIPS.
  at::Tensor augmented_distance(const at::Tensor& a, const at::Tensor& c, const AugmentParams* p, bool fixed_padding);
  // distance_grad's forward and backward on given inputs (what its CUDA graph captures).
  std::pair<at::Tensor, at::Tensor> distance_grad_body(const at::Tensor& x0, const at::Tensor& x1,
                                                       const AugmentParams* p, bool fixed_padding);
  struct GradGraph;  // distance_grad's captured graph and its static inputs and outputs
  std::unique_ptr<GradGraph> grad_graph_;
  std::mutex grad_graph_mutex_;
  // The conv at layers[index] with the batch norm after it folded in (running statistics, frozen
  // trunk: an affine map per channel), as (weight, bias) in dtype; kept per (layer, dtype) and made
  // again when any source tensor's data or version changes (to(), channels_last, load_state, copy_).
  std::pair<at::Tensor, at::Tensor> folded(size_t index, at::ScalarType dtype);
  struct Folded {
    at::Tensor weight, bias;
    std::vector<int64_t> stamp;
  };
  std::mutex fold_mutex_;
  std::map<std::pair<size_t, int>, Folded> folded_;
};
TORCH_MODULE(LatentLpips);

struct LpipsRankImpl : torch::nn::Module {
  explicit LpipsRankImpl(int64_t mid = 32);
  // The logit [B] that d1 is judged closer to the reference than d0 (d0, d1: [B] distances).
  at::Tensor forward(const at::Tensor& d0, const at::Tensor& d1);
  torch::nn::Sequential model{nullptr};
};
TORCH_MODULE(LpipsRank);

}  // namespace d2g::lpips
