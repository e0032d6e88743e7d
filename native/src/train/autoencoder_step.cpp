#include "autoencoder_step.hpp"

#include <c10/core/GradMode.h>


#include "../core/exec.hpp"
#include "../core/status.hpp"

namespace d2g::train {

AutoencoderStep::AutoencoderStep(const Config& c, std::shared_ptr<torch::nn::Module> vae, std::shared_ptr<Optimizer> opt,
                                 std::shared_ptr<dist::DataParallel> dp)
    : net_(std::move(vae)),
      opt_(std::move(opt)),
      dp_(std::move(dp)),
      precision_(c.str("precision", "f32")),
      kl_weight_(c.number("kl_weight", 1e-6)),
      max_grad_norm_(c.number("max_grad_norm", 0)) {
  c.check_all_used("autoencoder step");
  vae_ = dynamic_cast<sd::AutoencoderKLImpl*>(net_.get());
  if (vae_ == nullptr) fail(D2G_INVALID_ARGUMENT, "the autoencoder step trains an autoencoder_kl module");
  if (!opt_) fail(D2G_INVALID_ARGUMENT, "the autoencoder step needs an optimizer");
  if (precision_ != "f32" && precision_ != "bf16")
    fail(D2G_INVALID_ARGUMENT, "precision must be f32 or bf16 for the autoencoder step, not '", precision_, "'");
  if (!(kl_weight_ >= 0 && kl_weight_ <= 1)) fail(D2G_INVALID_ARGUMENT, "kl_weight must be in [0, 1]");
  if (!(max_grad_norm_ >= 0)) fail(D2G_INVALID_ARGUMENT, "max_grad_norm must be >= 0 (0: no clipping)");
}

std::vector<double> AutoencoderStep::run(const std::vector<at::Tensor>& in) {
  if (in.size() != 2 || !in[0].defined() || !in[1].defined())
    fail(D2G_INVALID_ARGUMENT, "the autoencoder step takes images and noise");
  at::Tensor p0 = net_->parameters().at(0);
  const auto& o = vae_->config;
  const at::Tensor& images = in[0];
  if (images.dim() != 4 || images.size(0) < 1 || images.size(1) != o.in_channels || !images.is_floating_point())
    fail(D2G_INVALID_ARGUMENT, "images must be floating [B, ", o.in_channels, ", H, W], got ", images.sizes());
  const int64_t f = o.downscale();
  if (images.size(2) % f != 0 || images.size(3) % f != 0)
    fail(D2G_INVALID_ARGUMENT, "image sides must be multiples of ", f, ", got ", images.sizes());
  const std::vector<int64_t> zshape{images.size(0), o.latent_channels, images.size(2) / f, images.size(3) / f};
  if (!in[1].sizes().equals(zshape))
    fail(D2G_INVALID_ARGUMENT, "noise must be ", at::IntArrayRef(zshape), ", got ", in[1].sizes());
  at::Tensor x = images.to(p0.device(), p0.scalar_type()), noise = in[1].to(p0.device(), at::kFloat);
  const double batch = static_cast<double>(images.size(0));
  opt_->zero_grad();
  at::Tensor loss, rec, kl;
  {
    ExecScope scope(D2G_EXEC_GRAD | (precision_ == "bf16" ? D2G_EXEC_AUTOCAST_BF16 : 0), p0.device().type());
    auto [mean, logvar] = vae_->encode(x);
    at::Tensor m = mean.to(at::kFloat), lv = logvar.to(at::kFloat);
    at::Tensor z = m + at::exp(0.5 * lv) * noise;
    at::Tensor recon = vae_->decode(z.to(p0.scalar_type())).to(at::kFloat);
    rec = (recon - x.to(at::kFloat)).pow(2);
    kl = 0.5 * (m.pow(2) + at::exp(lv) - 1.0 - lv);
    loss = rec.sum() / batch + kl_weight_ * (kl.sum() / batch);
  }
  {
    c10::AutoGradMode grad(true);
    loss.backward();
  }
  if (dp_) dp_->finish();
  c10::NoGradGuard no_grad;
  double grad_norm;
  const bool finite = apply_update(*opt_, loss, max_grad_norm_, grad_norm);  // a non-finite loss: stepped = 0
  at::Tensor metrics = at::stack({loss.detach().reshape({}), rec.detach().mean(), kl.detach().sum() / batch});
  if (dp_) {
    std::vector<at::Tensor> one{metrics};
    dp_->group().all_reduce(one, true);
  }
  metrics = metrics.cpu();
  return {metrics[0].item<double>(), grad_norm, metrics[1].item<double>(), metrics[2].item<double>(), finite ? 1.0 : 0.0};
}

}  // namespace d2g::train
