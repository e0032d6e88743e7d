#include "lpips_steps.hpp"

#include <c10/core/GradMode.h>

#include "../core/exec.hpp"
#include "../core/status.hpp"
#include "../core/tensor.hpp"
#include "../models/latent_augment.hpp"
#include "../nn/layers.hpp"

namespace d2g::train {

namespace {
lpips::LatentLpipsImpl* as_lpips(const std::shared_ptr<torch::nn::Module>& net, const char* step) {
  auto* l = dynamic_cast<lpips::LatentLpipsImpl*>(net.get());
  if (l == nullptr) fail(D2G_INVALID_ARGUMENT, "the ", step, " step trains a latent_lpips module");
  return l;
}

void check_common(const std::string& precision, double max_grad_norm, const std::shared_ptr<Optimizer>& opt,
                  const std::shared_ptr<dist::DataParallel>& dp, const char* step) {
  if (!opt) fail(D2G_INVALID_ARGUMENT, "the ", step, " step needs an optimizer");
  if (dp) fail(D2G_INVALID_ARGUMENT, "the ", step, " step runs on one device (pass no data-parallel object)");
  if (precision != "f32" && precision != "bf16")
    fail(D2G_INVALID_ARGUMENT, "precision must be f32 or bf16 for the ", step, " step, not '", precision, "'");
  if (!(max_grad_norm >= 0)) fail(D2G_INVALID_ARGUMENT, "max_grad_norm must be >= 0 (0: no clipping)");
}

void check_latents(const lpips::LatentLpipsImpl& l, const at::Tensor& x, const char* what, int64_t batch = -1) {
  if (!x.defined() || x.dim() != 4 || x.size(1) != l.options.latent_channels || x.size(0) < 1 || x.size(2) < 4 ||
      x.size(3) < 4 || x.size(2) % 4 != 0 || x.size(3) % 4 != 0 || !x.is_floating_point() ||
      (batch >= 0 && x.size(0) != batch))
    fail(D2G_INVALID_ARGUMENT, what, " must be floating [B, ", l.options.latent_channels,
         ", H, W] with H and W multiples of 4", batch >= 0 ? " and the reference's batch and size" : "", ", got ",
         x.defined() ? describe(x) : std::string("nothing"));
}
}  // namespace

// ---- the trunk as a classifier ----------------------------------------------------------------

LpipsClassifyStep::LpipsClassifyStep(const Config& c, std::shared_ptr<torch::nn::Module> lpips,
                                     std::shared_ptr<Optimizer> opt, std::shared_ptr<dist::DataParallel> dp)
    : net_(std::move(lpips)),
      opt_(std::move(opt)),
      dp_(std::move(dp)),
      classes_(c.integers("classes")),
      preset_(c.str("preset", "bg")),
      precision_(c.str("precision", "f32")),
      max_grad_norm_(c.number("max_grad_norm", 0)) {
  c.check_all_used("lpips_classify step");
  lpips_ = as_lpips(net_, "lpips_classify");
  check_common(precision_, max_grad_norm_, opt_, dp_, "lpips_classify");
  if (classes_.empty() || classes_.size() > 8) fail(D2G_INVALID_ARGUMENT, "classes must list 1 to 8 class counts");
  for (int64_t n : classes_)
    if (n < 2 || n > 1000000) fail(D2G_INVALID_ARGUMENT, "each class count must be 2 to 1000000, not ", n);
  if (preset_ != "none") lpips::draw_params(preset_, 1, 1, 4, 4, at::kCPU, c10::nullopt);  // refuses an unknown preset
}

void LpipsClassifyStep::set_module(const std::string& role, std::shared_ptr<torch::nn::Module> net) {
  if (role != "head") fail(D2G_INVALID_ARGUMENT, "the lpips_classify step takes a head, not a ", role);
  auto* head = dynamic_cast<LinearImpl*>(net.get());
  int64_t total = 0;
  for (int64_t n : classes_) total += n;
  if (head == nullptr || head->options.in_features() != lpips_->options.widths.back() ||
      head->options.out_features() != total)
    fail(D2G_INVALID_ARGUMENT, "the lpips_classify step's head must be a linear from ", lpips_->options.widths.back(),
         " features (the last width) to ", total, " classes");
  head_net_ = std::move(net);
  head_ = head;
}

std::vector<double> LpipsClassifyStep::run(const std::vector<at::Tensor>& in) {
  if (head_ == nullptr) fail(D2G_INVALID_ARGUMENT, "the lpips_classify step has no head yet (set_module \"head\")");
  if (in.size() != 3 || !in[1].defined() || !in[2].defined())
    fail(D2G_INVALID_ARGUMENT, "the lpips_classify step takes latents, labels and a seed");
  check_latents(*lpips_, in[0], "latents");
  const int64_t b = in[0].size(0), k = static_cast<int64_t>(classes_.size());
  const at::Tensor& labels_in = in[1];
  if (labels_in.dim() != 2 || labels_in.size(0) != b || labels_in.size(1) != k || labels_in.is_floating_point())
    fail(D2G_INVALID_ARGUMENT, "labels must be integers [B, ", k, "] (one column per class count), got ",
         labels_in.sizes());
  at::Tensor labels = labels_in.to(at::kLong).cpu();
  for (int64_t j = 0; j < k; j++) {
    at::Tensor col = labels.select(1, j);
    if (col.lt(-1).any().item<bool>() || col.ge(classes_[j]).any().item<bool>())
      fail(D2G_INVALID_ARGUMENT, "labels of set ", j, " must be -1 (none) or 0 to ", classes_[j] - 1);
  }
  if (in[2].numel() != 1 || in[2].is_floating_point()) fail(D2G_INVALID_ARGUMENT, "seed must be one integer");
  const at::Tensor& w = lpips_->lins[0]->weight;
  const at::Device device = w.device();
  at::Tensor x = in[0].to(device, w.scalar_type());
  labels = labels.to(device);
  const bool was_training = lpips_->is_training();
  opt_->zero_grad();
  at::Tensor loss, hit;
  {
    ExecScope scope(D2G_EXEC_GRAD | (precision_ == "bf16" ? D2G_EXEC_AUTOCAST_BF16 : 0), device.type());
    if (preset_ != "none") {
      NoAutocast f32;  // the augmentation in f32 (as in the distance), the trunk under the step's precision
      x = x.to(at::kFloat);
      at::Generator gen = device.is_cuda() ? at::globalContext().defaultGenerator(device).clone()
                                           : at::globalContext().defaultGenerator(at::kCPU).clone();
      gen.set_current_seed(static_cast<uint64_t>(in[2].reshape({}).item<int64_t>()));
      auto p = lpips::draw_params(preset_, b, x.size(1), x.size(2), x.size(3), device, gen);
      x = lpips::augment_pair(x, x.narrow(0, 0, b), p).first.to(w.scalar_type());
    }
    lpips_->train(true);
    at::Tensor last = lpips_->features(x).back().to(at::kFloat).mean({2, 3});
    lpips_->train(was_training);
    at::Tensor logits = head_->forward(last.to(head_->weight.scalar_type())).to(at::kFloat);
    if (!last.requires_grad() && !logits.requires_grad())
      fail(D2G_INVALID_ARGUMENT, "the lpips_classify step has nothing to train: neither the trunk nor the head "
           "requires grad (e.g. LpipsClassifyStep.trunkParameters)");
    int64_t from = 0;
    for (int64_t j = 0; j < k; j++) {
      at::Tensor l = at::cross_entropy_loss(logits.narrow(1, from, classes_[j]), labels.select(1, j), {}, at::Reduction::Mean,
                                            /*ignore_index=*/-1);
      if (j == 0) {
        c10::NoGradGuard ng;
        at::Tensor y = labels.select(1, 0), valid = y.ge(0);
        hit = (logits.narrow(1, 0, classes_[0]).argmax(1).eq(y) & valid).sum().to(at::kFloat) /
              valid.sum().clamp_min(1).to(at::kFloat);
      }
      loss = loss.defined() ? loss + l : l;
      from += classes_[j];
    }
  }
  {
    c10::AutoGradMode grad(true);
    loss.backward();
  }
  c10::NoGradGuard no_grad;
  double grad_norm;
  const bool stepped = apply_update(*opt_, loss, max_grad_norm_, grad_norm);
  at::Tensor m = at::stack({loss.detach().reshape({}), hit.reshape({})}).cpu();
  return {m[0].item<double>(), grad_norm, m[1].item<double>(), stepped ? 1.0 : 0.0};
}

// ---- the lin heads from 2AFC judgements ---------------------------------------------------------

Lpips2afcStep::Lpips2afcStep(const Config& c, std::shared_ptr<torch::nn::Module> lpips, std::shared_ptr<Optimizer> opt,
                             std::shared_ptr<dist::DataParallel> dp)
    : net_(std::move(lpips)),
      opt_(std::move(opt)),
      dp_(std::move(dp)),
      precision_(c.str("precision", "f32")),
      max_grad_norm_(c.number("max_grad_norm", 0)) {
  c.check_all_used("lpips_2afc step");
  lpips_ = as_lpips(net_, "lpips_2afc");
  check_common(precision_, max_grad_norm_, opt_, dp_, "lpips_2afc");
}

void Lpips2afcStep::set_module(const std::string& role, std::shared_ptr<torch::nn::Module> net) {
  if (role != "rank") fail(D2G_INVALID_ARGUMENT, "the lpips_2afc step takes a rank, not a ", role);
  auto* rank = dynamic_cast<lpips::LpipsRankImpl*>(net.get());
  if (rank == nullptr) fail(D2G_INVALID_ARGUMENT, "the lpips_2afc step's rank must be an lpips_rank module");
  rank_net_ = std::move(net);
  rank_ = rank;
}

std::vector<double> Lpips2afcStep::run(const std::vector<at::Tensor>& in) {
  if (in.size() != 4) fail(D2G_INVALID_ARGUMENT, "the lpips_2afc step takes ref, p0, p1 and the judgements");
  check_latents(*lpips_, in[0], "ref");
  const int64_t b = in[0].size(0);
  check_latents(*lpips_, in[1], "p0", b);
  check_latents(*lpips_, in[2], "p1", b);
  if (!in[1].sizes().equals(in[0].sizes()) || !in[2].sizes().equals(in[0].sizes()))
    fail(D2G_INVALID_ARGUMENT, "ref, p0 and p1 must have one shape");
  if (!in[3].defined() || in[3].dim() != 1 || in[3].size(0) != b || !in[3].is_floating_point())
    fail(D2G_INVALID_ARGUMENT, "judgements must be floating [B] in [0, 1]");
  at::Tensor h = in[3].to(at::kFloat).cpu();
  if (!(h.ge(0).all().item<bool>() && h.le(1).all().item<bool>()))
    fail(D2G_INVALID_ARGUMENT, "judgements must be in [0, 1] (the share of judges choosing p1)");
  const at::Tensor& w = lpips_->lins[0]->weight;
  const at::Device device = w.device();
  auto on = [&](const at::Tensor& t) { return t.to(device, w.scalar_type()); };
  h = h.to(device);
  opt_->zero_grad();
  at::Tensor loss, d0, d1;
  {
    ExecScope scope(D2G_EXEC_GRAD | (precision_ == "bf16" ? D2G_EXEC_AUTOCAST_BF16 : 0), device.type());
    at::Tensor ref = on(in[0]);
    std::vector<at::Tensor> diff0, diff1;
    {
      c10::NoGradGuard frozen;  // the trunk does not learn here
      diff0 = lpips_->tap_differences(ref, on(in[1]));
      diff1 = lpips_->tap_differences(ref, on(in[2]));
    }
    d0 = lpips_->weigh(diff0).to(at::kFloat);
    d1 = lpips_->weigh(diff1).to(at::kFloat);
    // The official ranking head when given; else the direct logit, which can only fit the judgements
    // by ordering the distances (it is invariant to the heads' overall scale).
    if (!d0.requires_grad() && rank_ == nullptr)
      fail(D2G_INVALID_ARGUMENT, "the lpips_2afc step has nothing to train: the lin heads do not require grad "
           "(make their weights trainable, e.g. Lpips2afcStep.linParameters) and no rank head was given");
    at::Tensor logit = rank_ != nullptr ? rank_->forward(d0, d1).to(at::kFloat) : 10 * (d0 - d1) / (d0 + d1 + 1e-8);
    loss = at::binary_cross_entropy_with_logits(logit, h);
  }
  {
    c10::AutoGradMode grad(true);
    loss.backward();
  }
  c10::NoGradGuard no_grad;
  double grad_norm;
  const bool stepped = apply_update(*opt_, loss, max_grad_norm_, grad_norm);
  for (auto& lin : lpips_->lins) lin->weight.clamp_min_(0);
  at::Tensor score = (d1.lt(d0).to(at::kFloat) * h + d1.gt(d0).to(at::kFloat) * (1 - h) +
                      d1.eq(d0).to(at::kFloat) * 0.5).mean();
  at::Tensor m = at::stack({loss.detach().reshape({}), score.reshape({})}).cpu();
  return {m[0].item<double>(), grad_norm, m[1].item<double>(), stepped ? 1.0 : 0.0};
}

}  // namespace d2g::train
