// The training step of a contrastive text–image model (the image–text judge, clip_model), whole in native code: CLIP's symmetric contrastive loss over
// a batch of (image, caption) pairs. logits = exp(logit_scale) · norm(image_emb) · norm(text_emb)^T;
// loss = (cross-entropy of each image over the captions + of each caption over the images) / 2, where
// the targets spread evenly over the rows that share the caption's id (the same caption twice in a
// batch is not a negative); backward; gradients averaged across data-parallel ranks; clipping;
// optimizer step; logit_scale clamped to [0, ln 100] (as CLIP). "bf16" autocasts the forward.
#pragma once

#include <ATen/ATen.h>
#include <torch/torch.h>

#include <memory>

#include "../core/config.hpp"
#include "../dist/data_parallel.hpp"
#include "../models/contrastive_model.hpp"
#include "optimizer.hpp"
#include "train_step.hpp"

namespace d2g::train {

class ContrastiveStep : public TrainStep {
 public:
  // config keys: precision (f32 | bf16), max_grad_norm (0: off).
  // model: an image_text_judge or a clip_model (a ContrastiveModel).
  ContrastiveStep(const Config& config, std::shared_ptr<torch::nn::Module> model, std::shared_ptr<Optimizer> opt,
                  std::shared_ptr<dist::DataParallel> dp);

  // inputs: images [B, 3, H, W], text [B, L] (the judge's bytes, clip_model's token ids), caption ids [B]
  // (integers; equal ids = same caption).
  // Returns loss, gradient norm before clipping (0 without clipping), image->caption top-1 accuracy
  // within the batch, and exp(logit_scale) after the step.
  std::vector<double> run(const std::vector<at::Tensor>& inputs) override;

  // The loss and the batch accuracy without a backward (for tests and validation).
  static std::pair<at::Tensor, at::Tensor> loss(ContrastiveModel& model, const at::Tensor& images,
                                                const at::Tensor& text, const at::Tensor& ids);

 private:
  std::shared_ptr<torch::nn::Module> net_;
  ContrastiveModel* model_;
  std::shared_ptr<Optimizer> opt_;
  std::shared_ptr<dist::DataParallel> dp_;
  std::string precision_;
  double max_grad_norm_;
};

}  // namespace d2g::train
