// E-LatentLPIPS's own weights for a new latent space, trained in two native steps (as LPIPS was made:
// a classification trunk, then linear heads calibrated on two-alternative forced-choice judgements).
//
// kind "lpips_classify" (LpipsClassifyStep): the latent_lpips trunk learns to classify latents. The
//   latents are augmented with a fresh draw of the preset (latent_augment.hpp; "none": not at all),
//   the trunk runs in training mode (BatchNorm on batch statistics, running ones updated), its last tap
//   is averaged over positions and a "head" module (a linear, given with set_module, in_features = the
//   last width, out_features = the sum of the class counts) gives logits; the loss sums the
//   cross-entropy of each label set (config classes: the class count of each, e.g. "1906,7"). Config:
//   classes, preset (bg), precision (f32 | bf16), max_grad_norm. Inputs: latents [B, C, H, W], labels
//   integer [B, K] (K = the number of label sets; -1: no label), seed integer [1] (the augmentation's
//   draw). Metrics: loss, gradient norm before clipping, top-1 accuracy of the first label set, stepped.
// kind "lpips_2afc" (Lpips2afcStep): with the trunk frozen, the lin heads learn from judgements which
//   of two distortions p0, p1 is closer to a reference: d0 = distance(ref, p0), d1 = distance(ref, p1),
//   the logit that p1 is the closer one is 10 (d0 - d1) / (d0 + d1) — or, when a "rank" module is given
//   with set_module (lpips_rank: the official LPIPS ranking head), that head's output on (d0, d1) —
//   binary cross-entropy against the judgement h in [0, 1] (the share of judges choosing p1); after
//   each update the lin weights are clamped to be non-negative (as LPIPS's training does). The direct
//   logit fits the judgements only by ordering the distances; the ranking head can also fit them from
//   the distances' sizes alone.
//   Config: precision, max_grad_norm. Inputs: ref, p0, p1 [B, C, H, W], judgement [B]. Metrics: loss,
//   gradient norm, the batch's 2AFC score (d1 < d0 scores h, d1 > d0 scores 1 - h, a tie 1/2), stepped.
#pragma once

#include <ATen/ATen.h>
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "../core/config.hpp"
#include "../dist/data_parallel.hpp"
#include "../models/latent_lpips.hpp"
#include "optimizer.hpp"
#include "train_step.hpp"

namespace d2g::train {

class LpipsClassifyStep : public TrainStep {
 public:
  LpipsClassifyStep(const Config& config, std::shared_ptr<torch::nn::Module> lpips, std::shared_ptr<Optimizer> opt,
                    std::shared_ptr<dist::DataParallel> dp);
  std::vector<double> run(const std::vector<at::Tensor>& inputs) override;
  void set_module(const std::string& role, std::shared_ptr<torch::nn::Module> net) override;

 private:
  std::shared_ptr<torch::nn::Module> net_, head_net_;
  lpips::LatentLpipsImpl* lpips_;
  LinearImpl* head_ = nullptr;
  std::shared_ptr<Optimizer> opt_;
  std::shared_ptr<dist::DataParallel> dp_;
  std::vector<int64_t> classes_;
  std::string preset_, precision_;
  double max_grad_norm_;
};

class Lpips2afcStep : public TrainStep {
 public:
  Lpips2afcStep(const Config& config, std::shared_ptr<torch::nn::Module> lpips, std::shared_ptr<Optimizer> opt,
                std::shared_ptr<dist::DataParallel> dp);
  std::vector<double> run(const std::vector<at::Tensor>& inputs) override;
  void set_module(const std::string& role, std::shared_ptr<torch::nn::Module> net) override;

 private:
  std::shared_ptr<torch::nn::Module> net_, rank_net_;
  lpips::LatentLpipsImpl* lpips_;
  lpips::LpipsRankImpl* rank_ = nullptr;
  std::shared_ptr<Optimizer> opt_;
  std::shared_ptr<dist::DataParallel> dp_;
  std::string precision_;
  double max_grad_norm_;
};

}  // namespace d2g::train
