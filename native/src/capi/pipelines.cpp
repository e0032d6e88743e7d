// The C API's pipelines (d2g.h, "pipelines"): handles over the C++ pipeline classes.
#include <memory>

#include "../core/module.hpp"
#include "../core/tensor.hpp"
#include "../pipelines/guided_sampler.hpp"
#include "../pipelines/onestep.hpp"

using d2g::fail;

struct d2g_onestep {
  std::unique_ptr<d2g::pipelines::OneStepPipeline> pipeline;
};

struct d2g_guided_sampler {
  std::unique_ptr<d2g::pipelines::GuidedSampler> sampler;
};

// The typed network of a module handle, sharing its ownership (the pipeline keeps it alive).
template <typename Impl>
static std::shared_ptr<Impl> shared_as(const d2g_module* m, const char* what, const char* kind) {
  d2g::require(m, what);
  auto p = std::dynamic_pointer_cast<Impl>(m->net);
  if (!p) fail(D2G_INVALID_ARGUMENT, what, " is a ", m->kind, ", not a ", kind);
  return p;
}

extern "C" {

d2g_status* d2g_onestep_create(const d2g_module* text_encoder, const d2g_module* unet, const d2g_module* vae,
                               int prediction, double scaling_factor, int use_cuda_graphs, d2g_onestep** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    auto text = shared_as<d2g::clip::CLIPTextModelImpl>(text_encoder, "text_encoder", "clip_text_model");
    auto u = shared_as<d2g::sd::UNet2DConditionModelImpl>(unet, "unet", "unet2d_condition");
    auto v = shared_as<d2g::sd::AutoencoderKLImpl>(vae, "vae", "autoencoder_kl");
    if (prediction < 0 || prediction > 2)
      fail(D2G_INVALID_ARGUMENT, "prediction must be 0 (epsilon), 1 (v_prediction) or 2 (sample)");
    auto p = std::make_unique<d2g_onestep>();
    p->pipeline = std::make_unique<d2g::pipelines::OneStepPipeline>(
        std::move(text), std::move(u), std::move(v), static_cast<d2g::pipelines::Prediction>(prediction),
        scaling_factor, use_cuda_graphs != 0);
    *out = p.release();
  })
}

d2g_status* d2g_onestep_run(d2g_onestep* p, const d2g_tensor* input_ids, const d2g_tensor* noise, int64_t timestep,
                            double alpha_bar, d2g_tensor** images) {
  D2G_GUARD({
    d2g::require(p, "pipeline");
    d2g::require(images, "images");
    const at::Tensor& ids = d2g::unwrap(input_ids, "input_ids");
    const at::Tensor& x = d2g::unwrap(noise, "noise");
    *images = d2g::wrap(p->pipeline->run(ids, x, timestep, alpha_bar));
  })
}

d2g_status* d2g_onestep_last_timings(d2g_onestep* p, float* text_ms, float* unet_ms, float* vae_ms) {
  D2G_GUARD({
    d2g::require(p, "pipeline");
    d2g::require(text_ms, "text_ms");
    d2g::require(unet_ms, "unet_ms");
    d2g::require(vae_ms, "vae_ms");
    auto t = p->pipeline->last_timings();
    *text_ms = t[0];
    *unet_ms = t[1];
    *vae_ms = t[2];
  })
}

void d2g_onestep_free(d2g_onestep* p) { delete p; }

d2g_status* d2g_guided_sampler_create(const d2g_module* unet, int use_cuda_graphs, d2g_guided_sampler** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    auto u = shared_as<d2g::sd::UNet2DConditionModelImpl>(unet, "unet", "unet2d_condition");
    auto s = std::make_unique<d2g_guided_sampler>();
    s->sampler = std::make_unique<d2g::pipelines::GuidedSampler>(std::move(u), use_cuda_graphs != 0);
    *out = s.release();
  })
}

d2g_status* d2g_guided_sampler_run(d2g_guided_sampler* s, const d2g_tensor* noise, const d2g_tensor* cond,
                                   const d2g_tensor* uncond, double guidance, const double* steps, int n_steps,
                                   d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(s, "sampler");
    d2g::require(out, "out");
    d2g::require(steps, "steps");
    if (n_steps < 1 || n_steps > 1000) fail(D2G_INVALID_ARGUMENT, "n_steps must be 1 to 1000, not ", n_steps);
    const at::Tensor& x = d2g::unwrap(noise, "noise");
    const at::Tensor& c = d2g::unwrap(cond, "cond");
    at::Tensor u = uncond ? d2g::unwrap(uncond, "uncond") : at::Tensor();
    std::vector<d2g::pipelines::GuidedSampler::Step> rows(static_cast<size_t>(n_steps));
    for (int i = 0; i < n_steps; i++)
      for (int j = 0; j < 4; j++) rows[static_cast<size_t>(i)][static_cast<size_t>(j)] = steps[4 * i + j];
    *out = d2g::wrap(s->sampler->run(x, c, u, guidance, rows));
  })
}

void d2g_guided_sampler_free(d2g_guided_sampler* s) { delete s; }

}  // extern "C"
