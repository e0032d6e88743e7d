// The C API's model families (d2g.h, "model families"): the forward entry points of each family. They
// check their inputs, take the typed network from the handle and call the C++ model classes.
#include <memory>

#include "../core/exec.hpp"
#include "../core/generator.hpp"
#include "../core/module.hpp"
#include "../core/tensor.hpp"
#include "../models/autoencoder_kl.hpp"
#include "../models/clip_model.hpp"
#include "../models/clip_text_model.hpp"
#include "../models/image_text_judge.hpp"
#include "../models/latent_augment.hpp"
#include "../models/latent_lpips.hpp"
#include "../models/unet2d_condition.hpp"
#include "../nn/layers.hpp"

using d2g::fail;
using CLIP = d2g::clip::CLIPTextModelImpl;
using UNet = d2g::sd::UNet2DConditionModelImpl;
using VAE = d2g::sd::AutoencoderKLImpl;
using Contrastive = d2g::ContrastiveModel;  // image_text_judge, clip_model
using Lpips = d2g::lpips::LatentLpipsImpl;

extern "C" {

// ---- linear ----

d2g_status* d2g_linear_forward(const d2g_module* m, const d2g_tensor* x, int exec, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    auto& net = d2g::module_as<d2g::LinearImpl>(m, "linear");
    const at::Tensor& input = d2g::unwrap(x, "x");
    if (input.dim() == 0 || input.size(-1) != net.options.in_features())
      fail(D2G_INVALID_ARGUMENT, "linear: input ", d2g::describe(input), " must end in ", net.options.in_features(),
           " features");
    d2g::ExecScope scope(exec, input.device().type());
    *out = d2g::wrap(net.forward(input));
  })
}

// ---- clip_text_model ----

d2g_status* d2g_clip_text_forward(const d2g_module* m, const d2g_tensor* input_ids, int hidden_layer,
                                             int final_layer_norm, int exec, d2g_tensor** hidden,
                                             d2g_tensor** pooled) {
  D2G_GUARD({
    using d2g::fail;
    if (hidden == nullptr && pooled == nullptr) fail(D2G_INVALID_ARGUMENT, "clip_text_model: hidden and pooled are both NULL");
    auto& net = d2g::module_as<CLIP>(m, "clip_text_model");
    const auto& o = net.options;
    at::Tensor ids = net.prepare_ids(d2g::unwrap(input_ids, "input_ids"));
    const int64_t L = o.num_hidden_layers;
    int64_t layer = hidden_layer < 0 ? L + 1 + hidden_layer : hidden_layer;
    if (layer < 0 || layer > L)
      fail(D2G_INVALID_ARGUMENT, "clip_text_model: hidden_layer ", hidden_layer, " is out of range for ", L,
           " layers (0 = embeddings, 1..", L, " = after that layer, -1 = last, -2 = penultimate, ...)");
    d2g::ExecScope scope(exec, ids.device().type());
    auto [h, p] = net.forward(ids, layer, final_layer_norm != 0, pooled != nullptr);
    d2g_tensor* hh = hidden != nullptr ? d2g::wrap(h) : nullptr;
    if (pooled != nullptr) {
      try {
        *pooled = d2g::wrap(p);
      } catch (...) {
        d2g_tensor_free(hh);
        throw;
      }
    }
    if (hidden != nullptr) *hidden = hh;
  })
}

d2g_status* d2g_clip_text_project(const d2g_module* m, const d2g_tensor* pooled, int exec, d2g_tensor** text_embeds) {
  D2G_GUARD({
    d2g::require(text_embeds, "text_embeds");
    auto& net = d2g::module_as<CLIP>(m, "clip_text_model");
    const at::Tensor& p = d2g::unwrap(pooled, "pooled");
    d2g::sd::check_input(p, "pooled", d2g::module_options(net), 2, {-1, net.options.hidden_size},
                         "[batch, " + std::to_string(net.options.hidden_size) + " (hidden_size)]");
    d2g::ExecScope scope(exec, p.device().type());
    *text_embeds = d2g::wrap(net.project(p));
  })
}

// ---- autoencoder_kl ----

d2g_status* d2g_vae_encode(const d2g_module* m, const d2g_tensor* x, int exec, d2g_tensor** mean,
                           d2g_tensor** logvar) {
  D2G_GUARD({
    d2g::require(mean, "mean");
    d2g::require(logvar, "logvar");
    auto& net = d2g::module_as<VAE>(m, "autoencoder_kl");
    const at::Tensor& input = d2g::unwrap(x, "x");
    const int64_t c = net.config.in_channels;
    d2g::sd::check_input(input, "x", d2g::module_options(net), 4, {-1, c},
                         "[batch, " + std::to_string(c) + " (in_channels), height, width]");
    d2g::ExecScope scope(exec, input.device().type());
    auto [mu, lv] = net.encode(input);
    std::unique_ptr<d2g_tensor> a(d2g::wrap(std::move(mu)));
    std::unique_ptr<d2g_tensor> b(d2g::wrap(std::move(lv)));
    *mean = a.release();
    *logvar = b.release();
  })
}

d2g_status* d2g_vae_decode(const d2g_module* m, const d2g_tensor* z, int exec, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    auto& net = d2g::module_as<VAE>(m, "autoencoder_kl");
    const at::Tensor& latents = d2g::unwrap(z, "z");
    const int64_t c = net.config.latent_channels;
    d2g::sd::check_input(latents, "z", d2g::module_options(net), 4, {-1, c},
                         "[batch, " + std::to_string(c) + " (latent_channels), height, width]");
    d2g::ExecScope scope(exec, latents.device().type());
    *out = d2g::wrap(net.decode(latents));
  })
}

d2g_status* d2g_vae_sample(const d2g_tensor* mean, const d2g_tensor* logvar, const d2g_generator* gen, int exec,
                           d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    const at::Tensor& mu = d2g::unwrap(mean, "mean");
    const at::Tensor& lv = d2g::unwrap(logvar, "logvar");
    if (!at::isFloatingType(mu.scalar_type()) || mu.scalar_type() != lv.scalar_type() || mu.device() != lv.device() ||
        !mu.sizes().equals(lv.sizes()))
      fail(D2G_INVALID_ARGUMENT, "mean ", d2g::describe(mu), " and logvar ", d2g::describe(lv),
           " must be floating tensors of the same shape, dtype and device");
    auto g = d2g::generator_for(gen, mu.device(), "vae_sample");
    d2g::ExecScope scope(exec, mu.device().type());
    *out = d2g::wrap(VAE::sample(mu, lv, g));
  })
}

// ---- unet2d_condition ----

d2g_status* d2g_unet_forward(const d2g_module* m, const d2g_tensor* sample, const d2g_tensor* timestep,
                             const d2g_tensor* encoder_hidden_states, int exec, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    auto& net = d2g::module_as<UNet>(m, "unet2d_condition");
    const at::Tensor& x = d2g::unwrap(sample, "sample");
    const at::Tensor& t = d2g::unwrap(timestep, "timestep");
    const at::Tensor& ctx = d2g::unwrap(encoder_hidden_states, "encoder_hidden_states");
    net.check_inputs(x, t, ctx);
    d2g::ExecScope scope(exec, x.device().type());
    *out = d2g::wrap(net.forward(x, t, ctx, nullptr));
  })
}

d2g_status* d2g_unet_feature_count(const d2g_module* m, int* count) {
  D2G_GUARD({
    d2g::require(count, "count");
    auto& net = d2g::module_as<UNet>(m, "unet2d_condition");
    *count = static_cast<int>(net.feature_count());
  })
}

d2g_status* d2g_unet_forward_features(const d2g_module* m, const d2g_tensor* sample, const d2g_tensor* timestep,
                                      const d2g_tensor* encoder_hidden_states, int exec, d2g_tensor** out,
                                      d2g_tensor** features, int capacity, int* count) {
  D2G_GUARD({
    d2g::require(out, "out");
    d2g::require(features, "features");
    d2g::require(count, "count");
    auto& net = d2g::module_as<UNet>(m, "unet2d_condition");
    if (capacity < net.feature_count())
      fail(D2G_INVALID_ARGUMENT, "features has room for ", capacity, " handles but this UNet gives ",
           net.feature_count(), " (see d2g_unet_feature_count)");
    const at::Tensor& x = d2g::unwrap(sample, "sample");
    const at::Tensor& t = d2g::unwrap(timestep, "timestep");
    const at::Tensor& ctx = d2g::unwrap(encoder_hidden_states, "encoder_hidden_states");
    net.check_inputs(x, t, ctx);
    d2g::ExecScope scope(exec, x.device().type());
    std::vector<at::Tensor> acts;
    at::Tensor y = net.forward(x, t, ctx, &acts);
    std::vector<std::unique_ptr<d2g_tensor>> handles;
    for (auto& a : acts) handles.emplace_back(d2g::wrap(std::move(a)));
    std::unique_ptr<d2g_tensor> result(d2g::wrap(std::move(y)));
    for (size_t i = 0; i < handles.size(); i++) features[i] = handles[i].release();
    *count = static_cast<int>(handles.size());
    *out = result.release();
  })
}

d2g_status* d2g_judge_encode_image(const d2g_module* m, const d2g_tensor* images, int exec, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    auto& net = d2g::module_as<Contrastive>(m, "image_text_judge or clip_model");
    d2g::ExecScope scope(exec, d2g::module_options(*m->net).device().type());
    *out = d2g::wrap(net.encode_image(d2g::unwrap(images, "images")));
  })
}

d2g_status* d2g_judge_encode_text(const d2g_module* m, const d2g_tensor* text, int exec, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    auto& net = d2g::module_as<Contrastive>(m, "image_text_judge or clip_model");
    d2g::ExecScope scope(exec, d2g::module_options(*m->net).device().type());
    *out = d2g::wrap(net.encode_text(d2g::unwrap(text, "text")));
  })
}

d2g_status* d2g_lpips_distance(const d2g_module* m, const d2g_tensor* x0, const d2g_tensor* x1, int exec,
                               d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    auto& net = d2g::module_as<Lpips>(m, "latent_lpips");
    d2g::ExecScope scope(exec, d2g::module_options(net).device().type());
    *out = d2g::wrap(net.distance(d2g::unwrap(x0, "x0"), d2g::unwrap(x1, "x1")));
  })
}

d2g_status* d2g_lpips_features(const d2g_module* m, const d2g_tensor* latents, int exec, d2g_tensor** taps,
                               int capacity, int* count) {
  D2G_GUARD({
    d2g::require(taps, "taps");
    d2g::require(count, "count");
    if (capacity < 5) fail(D2G_INVALID_ARGUMENT, "taps has room for ", capacity, " handles; LatentLPIPS gives 5");
    auto& net = d2g::module_as<Lpips>(m, "latent_lpips");
    d2g::ExecScope scope(exec, d2g::module_options(net).device().type());
    std::vector<at::Tensor> f = net.features(d2g::unwrap(latents, "latents"));
    std::vector<std::unique_ptr<d2g_tensor>> handles;
    for (auto& t : f) handles.emplace_back(d2g::wrap(std::move(t)));
    for (size_t i = 0; i < handles.size(); i++) taps[i] = handles[i].release();
    *count = static_cast<int>(f.size());
  })
}

d2g_status* d2g_lpips_augment(const d2g_tensor* x0, const d2g_tensor* x1, const d2g_tensor* g_inv,
                              const d2g_tensor* brightness, const d2g_tensor* contrast, const d2g_tensor* saturation,
                              const d2g_tensor* cutout_center, const d2g_tensor* cutout_size, int exec,
                              d2g_tensor** out0, d2g_tensor** out1) {
  D2G_GUARD({
    d2g::require(out0, "out0");
    d2g::require(out1, "out1");
    const at::Tensor& a = d2g::unwrap(x0, "x0");
    const at::Tensor& b = d2g::unwrap(x1, "x1");
    auto maybe = [](const d2g_tensor* t) { return t == nullptr ? at::Tensor() : d2g::unwrap(t); };
    d2g::lpips::AugmentParams p{maybe(g_inv),         maybe(brightness),  maybe(contrast), maybe(saturation),
                                maybe(cutout_center), maybe(cutout_size), at::Tensor()};
    d2g::ExecScope scope(exec, a.device().type());
    auto [y0, y1] = d2g::lpips::augment_pair(a, b, p);
    std::unique_ptr<d2g_tensor> h0(d2g::wrap(std::move(y0)));
    *out1 = d2g::wrap(std::move(y1));
    *out0 = h0.release();
  })
}

d2g_status* d2g_lpips_augment_draw(const char* preset, int64_t b, int64_t c, int64_t h, int64_t w, d2g_generator* gen,
                                   d2g_tensor** params, int capacity) {
  D2G_GUARD({
    d2g::require(preset, "preset");
    d2g::require(params, "params");
    if (capacity < 6) fail(D2G_INVALID_ARGUMENT, "params has room for ", capacity, " handles; a draw gives 6");
    if (c < 1 || h < 1 || w < 1) fail(D2G_INVALID_ARGUMENT, "augment: the batch's sides must be positive");
    at::Device device = gen != nullptr ? gen->device : at::Device(at::kCPU);
    auto g = d2g::generator_for(gen, device, "augment");
    d2g::lpips::AugmentParams p = d2g::lpips::draw_params(preset, b, c, h, w, device, g);
    at::Tensor all[6] = {p.g_inv, p.brightness, p.contrast, p.saturation, p.cutout_center, p.cutout_size};
    std::vector<std::unique_ptr<d2g_tensor>> handles;
    for (auto& t : all) handles.emplace_back(t.defined() ? d2g::wrap(t.contiguous()) : nullptr);
    for (int i = 0; i < 6; i++) params[i] = handles[i].release();
  })
}

d2g_status* d2g_lpips_distance_ensemble(const d2g_module* m, const d2g_tensor* x0, const d2g_tensor* x1,
                                        const char* preset, d2g_generator* gen, int exec, d2g_tensor** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    d2g::require(preset, "preset");
    auto& net = d2g::module_as<Lpips>(m, "latent_lpips");
    const at::Device device = d2g::module_options(net).device();
    auto g = d2g::generator_for(gen, device, "lpips distance");
    d2g::ExecScope scope(exec, device.type());
    *out = d2g::wrap(net.distance_ensemble(d2g::unwrap(x0, "x0"), d2g::unwrap(x1, "x1"), preset, g));
  })
}

d2g_status* d2g_lpips_distance_grad(const d2g_module* m, const d2g_tensor* x0, const d2g_tensor* x1,
                                    const char* preset, d2g_generator* gen, int exec, int cuda_graph,
                                    d2g_tensor** distance, d2g_tensor** grad) {
  D2G_GUARD({
    d2g::require(distance, "distance");
    d2g::require(grad, "grad");
    d2g::require(preset, "preset");
    auto& net = d2g::module_as<Lpips>(m, "latent_lpips");
    const at::Device device = d2g::module_options(net).device();
    const bool plain = std::string(preset) == "none";
    auto g = plain ? c10::optional<at::Generator>() : d2g::generator_for(gen, device, "lpips distance");
    d2g::ExecScope scope(exec, device.type());
    auto [d, dx] = net.distance_grad(d2g::unwrap(x0, "x0"), d2g::unwrap(x1, "x1"), preset, g, cuda_graph != 0);
    std::unique_ptr<d2g_tensor> hd(d2g::wrap(std::move(d)));
    *grad = d2g::wrap(std::move(dx));
    *distance = hd.release();
  })
}

}  // extern "C"
