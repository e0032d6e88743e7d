#include "contrastive_step.hpp"

#include <c10/core/GradMode.h>


#include "../core/exec.hpp"
#include "../core/status.hpp"

namespace d2g::train {

ContrastiveStep::ContrastiveStep(const Config& c, std::shared_ptr<torch::nn::Module> model,
                                 std::shared_ptr<Optimizer> opt, std::shared_ptr<dist::DataParallel> dp)
    : net_(std::move(model)),
      opt_(std::move(opt)),
      dp_(std::move(dp)),
      precision_(c.str("precision", "f32")),
      max_grad_norm_(c.number("max_grad_norm", 0)) {
  c.check_all_used("contrastive step");
  model_ = dynamic_cast<ContrastiveModel*>(net_.get());
  if (model_ == nullptr) fail(D2G_INVALID_ARGUMENT, "the contrastive step trains an image_text_judge or a clip_model module");
  if (!opt_) fail(D2G_INVALID_ARGUMENT, "the contrastive step needs an optimizer");
  if (precision_ != "f32" && precision_ != "bf16")
    fail(D2G_INVALID_ARGUMENT, "precision must be f32 or bf16 for the contrastive step, not '", precision_, "'");
  if (!(max_grad_norm_ >= 0)) fail(D2G_INVALID_ARGUMENT, "max_grad_norm must be >= 0 (0: no clipping)");
}

std::pair<at::Tensor, at::Tensor> ContrastiveStep::loss(ContrastiveModel& model, const at::Tensor& images,
                                                        const at::Tensor& text, const at::Tensor& ids_in) {
  const int64_t b = images.dim() > 0 ? images.size(0) : 0;
  if (b < 2) fail(D2G_INVALID_ARGUMENT, "a contrastive batch needs at least 2 pairs");
  if (text.dim() != 2 || text.size(0) != b) fail(D2G_INVALID_ARGUMENT, "text must be [B, L] with B = ", b);
  if (ids_in.dim() != 1 || ids_in.size(0) != b || at::isFloatingType(ids_in.scalar_type()))
    fail(D2G_INVALID_ARGUMENT, "caption ids must be integers [B], one per pair");
  at::Tensor img = model.encode_image(images).to(at::kFloat);
  at::Tensor txt = model.encode_text(text).to(at::kFloat);
  img = img / img.norm(2, 1, true).clamp_min(1e-12);
  txt = txt / txt.norm(2, 1, true).clamp_min(1e-12);
  at::Tensor logits = model.logit_scale_parameter().to(at::kFloat).exp() * at::matmul(img, txt.t());
  at::Tensor ids = ids_in.to(logits.device(), at::kLong);
  at::Tensor same = ids.unsqueeze(1).eq(ids.unsqueeze(0)).to(at::kFloat);
  at::Tensor target = same / same.sum(1, true);  // symmetric: rows and columns alike
  at::Tensor l = 0.5 * (-(target * at::log_softmax(logits, 1)).sum(1).mean() -
                        (target * at::log_softmax(logits.t(), 1)).sum(1).mean());
  c10::NoGradGuard no_grad;
  at::Tensor hit = same.gather(1, logits.argmax(1, true)).mean();
  return {l, hit};
}

std::vector<double> ContrastiveStep::run(const std::vector<at::Tensor>& in) {
  if (in.size() != 3 || !in[0].defined() || !in[1].defined() || !in[2].defined())
    fail(D2G_INVALID_ARGUMENT, "the contrastive step takes images, text and caption ids");
  const at::Device device = net_->parameters().at(0).device();
  opt_->zero_grad();
  at::Tensor loss, acc;
  {
    ExecScope scope(D2G_EXEC_GRAD | (precision_ == "bf16" ? D2G_EXEC_AUTOCAST_BF16 : 0), device.type());
    std::tie(loss, acc) = ContrastiveStep::loss(*model_, in[0], in[1], in[2]);
  }
  {
    c10::AutoGradMode grad(true);
    loss.backward();
  }
  if (dp_) dp_->finish();
  c10::NoGradGuard no_grad;
  double grad_norm;
  const bool finite = apply_update(*opt_, loss, max_grad_norm_, grad_norm);  // a non-finite loss: stepped = 0
  at::Tensor scale = model_->logit_scale_parameter();
  scale.clamp_(0, std::log(100.0));
  at::Tensor m = at::stack({loss.detach().reshape({}), acc.reshape({})});
  if (dp_) {
    std::vector<at::Tensor> one{m};
    dp_->group().all_reduce(one, true);
  }
  m = m.cpu();
  return {m[0].item<double>(), grad_norm, m[1].item<double>(), scale.exp().item<double>(), finite ? 1.0 : 0.0};
}

}  // namespace d2g::train
