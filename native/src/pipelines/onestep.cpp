// The one-step text-to-image pipeline: prompt ids → text encoder → UNet once → x0 → VAE decoder →
// 8-bit RGB image, as one native call. Diffusion2GAN's generator is exactly this (a UNet evaluated
// once); so is a single DDIM-style jump of a diffusion teacher.
//
// On CUDA each stage (text, UNet + x0, decoder + to-u8) is captured once per (batch, height, width)
// as a CUDA graph and replayed afterwards: no per-kernel launch cost and no host synchronisation
// inside a run. Static input buffers are refilled before each replay. CPU runs eagerly.
#include <torch/torch.h>

#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <tuple>

#include "../module.hpp"
#include "../tensor.hpp"

#ifdef D2G_WITH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#endif

namespace d2g {
namespace {

// Takes ownership of the handle a C API call wrote into *out (out is read after the call: argument
// evaluation order is unspecified, so the handle itself must not be an argument).
at::Tensor take(d2g_status* st, d2g_tensor** slot) {
  d2g_tensor* out = *slot;
  if (st != nullptr) {
    std::string msg = d2g_status_message(st);
    int code = d2g_status_code(st);
    d2g_status_free(st);
    throw Error(static_cast<d2g_code>(code), msg);
  }
  at::Tensor t = out->t;
  delete out;
  return t;
}

struct Buffers {  // static inputs and outputs of one captured shape
  at::Tensor ids, noise, timestep, alpha_bar, hidden, x0, image;
#ifdef D2G_WITH_CUDA
  std::unique_ptr<at::cuda::CUDAGraph> text_graph, unet_graph, vae_graph;
#endif
};

}  // namespace

#ifdef D2G_WITH_CUDA
// Makes `waiter` wait for the work queued so far on `on`.
static void stream_wait(const c10::cuda::CUDAStream& waiter, const c10::cuda::CUDAStream& on) {
  cudaEvent_t e;
  C10_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  C10_CUDA_CHECK(cudaEventRecord(e, on.stream()));
  C10_CUDA_CHECK(cudaStreamWaitEvent(waiter.stream(), e, 0));
  C10_CUDA_CHECK(cudaEventDestroy(e));
}
#endif
}  // namespace d2g

struct d2g_onestep {
  d2g_module text, unet, vae;  // copies of the handles: they share the networks, keeping them alive
  int prediction = 0;          // 0 epsilon, 1 v_prediction, 2 sample (x0)
  double scaling_factor = 1;
  bool graphs = false;
  int64_t vocab = -1;          // rows of the text encoder's token embedding, found once at creation
  at::TensorOptions options;   // the UNet's device and dtype
  std::map<std::tuple<int64_t, int64_t, int64_t, int64_t>, std::unique_ptr<d2g::Buffers>> cache;
  float last_ms[3] = {0, 0, 0};  // stage times of the last run (CPU: measured; CUDA: from events)
#ifdef D2G_WITH_CUDA
  std::array<cudaEvent_t, 4> events{};  // created on first use, timing enabled
  bool events_recorded = false;
  ~d2g_onestep() {
    for (auto e : events)
      if (e != nullptr) cudaEventDestroy(e);
  }
#endif

  // The three stages, reading and writing the buffers (these are what the graphs capture).
  void text_stage(d2g::Buffers& b) {
    d2g_tensor ids{b.ids};
    d2g_tensor* hidden = nullptr;
    at::Tensor h = d2g::take(d2g_clip_text_forward(&text, &ids, -1, 1, &hidden, nullptr), &hidden);
    if (!b.hidden.defined()) b.hidden = at::empty_like(h, options.dtype());
    b.hidden.copy_(h);
  }
  void unet_stage(d2g::Buffers& b) {
    d2g_tensor x{b.noise}, t{b.timestep}, ctx{b.hidden};
    d2g_tensor* out = nullptr;
    at::Tensor pred = d2g::take(d2g_unet_forward(&unet, &x, &t, &ctx, &out), &out);
    at::Tensor abar = b.alpha_bar.to(pred.scalar_type());
    at::Tensor x0;
    if (prediction == 0) x0 = (b.noise - (1 - abar).sqrt() * pred) / abar.sqrt();
    else if (prediction == 1) x0 = abar.sqrt() * b.noise - (1 - abar).sqrt() * pred;
    else x0 = pred;
    if (!b.x0.defined()) b.x0 = at::empty_like(x0);
    b.x0.copy_(x0 / scaling_factor);
  }
  void vae_stage(d2g::Buffers& b) {
    d2g_tensor z{b.x0.to(vae_dtype())};
    d2g_tensor* out = nullptr;
    at::Tensor img = d2g::take(d2g_vae_decode(&vae, &z, &out), &out);
    // [-1, 1] NCHW → u8 NHWC, rounded like PIL conversions of (x / 2 + 0.5) * 255
    at::Tensor u8 = ((img.to(at::kFloat) / 2 + 0.5).clamp(0, 1) * 255).round().to(at::kByte).permute({0, 2, 3, 1});
    if (!b.image.defined()) b.image = at::empty(u8.sizes(), u8.options());
    b.image.copy_(u8);
  }
  at::ScalarType vae_dtype() const { return d2g::module_options(*vae.net).dtype().toScalarType(); }
};

using d2g::fail;

extern "C" {

d2g_status* d2g_onestep_create(const d2g_module* text_encoder, const d2g_module* unet, const d2g_module* vae,
                               int prediction, double scaling_factor, int use_cuda_graphs, d2g_onestep** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    d2g::require(text_encoder, "text_encoder");
    d2g::require(unet, "unet");
    d2g::require(vae, "vae");
    if (text_encoder->kind != "clip_text_model") fail(D2G_INVALID_ARGUMENT, "text_encoder is a ", text_encoder->kind, ", not a clip_text_model");
    if (unet->kind != "unet2d_condition") fail(D2G_INVALID_ARGUMENT, "unet is a ", unet->kind, ", not a unet2d_condition");
    if (vae->kind != "autoencoder_kl") fail(D2G_INVALID_ARGUMENT, "vae is a ", vae->kind, ", not an autoencoder_kl");
    if (prediction < 0 || prediction > 2) fail(D2G_INVALID_ARGUMENT, "prediction must be 0 (epsilon), 1 (v_prediction) or 2 (sample)");
    if (!(scaling_factor > 0)) fail(D2G_INVALID_ARGUMENT, "scaling_factor must be positive");
    auto opts = d2g::module_options(*unet->net);
    for (const d2g_module* m : {text_encoder, vae})
      if (d2g::module_options(*m->net).device() != opts.device())
        fail(D2G_INVALID_ARGUMENT, "the ", m->kind, " is on ", d2g::module_options(*m->net).device(), " but the UNet on ",
             opts.device(), ": move all three to one device");
    bool graphs = use_cuda_graphs != 0 && opts.device().is_cuda();
    // cuDNN's algorithm choice is left to the caller (d2g_set_cudnn_benchmark): its heuristics are as
    // fast as benchmarking here and keep the first image under a second.
#ifndef D2G_WITH_CUDA
    graphs = false;
#endif
    auto* p = new d2g_onestep();
    p->text = *text_encoder;
    p->unet = *unet;
    p->vae = *vae;
    p->prediction = prediction;
    p->scaling_factor = scaling_factor;
    p->graphs = graphs;
    p->options = opts;
    const std::string suffix = "embeddings.token_embedding.weight";
    for (const auto& prm : text_encoder->net->named_parameters(true)) {
      const std::string& k = prm.key();
      if (k.size() >= suffix.size() && k.compare(k.size() - suffix.size(), suffix.size(), suffix) == 0)
        p->vocab = prm.value().size(0);
    }
    *out = p;
  })
}

d2g_status* d2g_onestep_run(d2g_onestep* p, const d2g_tensor* input_ids, const d2g_tensor* noise, int64_t timestep,
                            double alpha_bar, d2g_tensor** images) {
  D2G_GUARD({
    d2g::require(p, "pipeline");
    d2g::require(images, "images");
    const at::Tensor& ids = d2g::unwrap(input_ids, "input_ids");
    const at::Tensor& x = d2g::unwrap(noise, "noise");
    if (ids.dim() != 2 || (ids.scalar_type() != at::kLong && ids.scalar_type() != at::kInt))
      fail(D2G_INVALID_ARGUMENT, "input_ids must be i64 or i32 [batch, tokens], not ", d2g::describe(ids));
    if (x.dim() != 4 || x.size(0) != ids.size(0))
      fail(D2G_INVALID_ARGUMENT, "noise must be [batch, channels, height, width] with the ids' batch ", ids.size(0),
           ", not ", d2g::describe(x));
    if (!(alpha_bar > 0 && alpha_bar <= 1)) fail(D2G_INVALID_ARGUMENT, "alpha_bar must be in (0, 1], got ", alpha_bar);
    if (!x.is_floating_point()) fail(D2G_INVALID_ARGUMENT, "noise must be floating, not ", d2g::describe(x));
    // The text encoder skips its id check inside a captured graph, so check here (free for host ids,
    // one synchronisation for device ids).
    {
      auto minmax = at::aminmax(ids);
      int64_t lo = std::get<0>(minmax).item<int64_t>(), hi = std::get<1>(minmax).item<int64_t>();
      if (p->vocab > 0 && (lo < 0 || hi >= p->vocab))
        fail(D2G_INVALID_ARGUMENT, "input_ids holds ids from ", lo, " to ", hi, ", outside the vocabulary 0..", p->vocab - 1);
    }
    torch::NoGradGuard no_grad;
    auto key = std::make_tuple(x.size(0), x.size(1), x.size(2), x.size(3));
    auto& slot = p->cache[key];
    bool fresh = !slot;
    if (fresh) {
      slot = std::make_unique<d2g::Buffers>();
      slot->ids = at::empty(ids.sizes(), p->options.dtype(at::kLong));
      slot->noise = at::empty(x.sizes(), p->options);
      slot->timestep = at::empty({x.size(0)}, p->options.dtype(at::kLong));
      slot->alpha_bar = at::empty({1}, p->options.dtype(at::kFloat));
    }
    d2g::Buffers& b = *slot;
    if (!ids.sizes().equals(b.ids.sizes()))
      fail(D2G_INVALID_ARGUMENT, "input_ids ", ids.sizes(), " differ from the ", b.ids.sizes(),
           " this pipeline first saw for this batch and size: pad prompts to the same length");
    b.ids.copy_(ids, true);
    b.noise.copy_(x, true);
    b.timestep.fill_(timestep);
    b.alpha_bar.fill_(alpha_bar);
#ifdef D2G_WITH_CUDA
    if (p->graphs) {
      c10::cuda::CUDAGuard device_guard(p->options.device());
      if (fresh) {
        // Warm up on a side stream (lazy init, cuDNN autotuning), then capture each stage.
        auto side = c10::cuda::getStreamFromPool();
        d2g::stream_wait(side, c10::cuda::getCurrentCUDAStream());
        {
          c10::cuda::CUDAStreamGuard sg(side);
          for (int i = 0; i < 2; i++) {
            p->text_stage(b);
            p->unet_stage(b);
            p->vae_stage(b);
          }
          b.text_graph = std::make_unique<at::cuda::CUDAGraph>();
          b.text_graph->capture_begin();
          p->text_stage(b);
          b.text_graph->capture_end();
          b.unet_graph = std::make_unique<at::cuda::CUDAGraph>();
          b.unet_graph->capture_begin();
          p->unet_stage(b);
          b.unet_graph->capture_end();
          b.vae_graph = std::make_unique<at::cuda::CUDAGraph>();
          b.vae_graph->capture_begin();
          p->vae_stage(b);
          b.vae_graph->capture_end();
        }
        d2g::stream_wait(c10::cuda::getCurrentCUDAStream(), side);
      }
      auto stream = c10::cuda::getCurrentCUDAStream();
      auto& ev = p->events;
      for (auto& e : ev)
        if (e == nullptr) C10_CUDA_CHECK(cudaEventCreate(&e));
      C10_CUDA_CHECK(cudaEventRecord(ev[0], stream));
      b.text_graph->replay();
      C10_CUDA_CHECK(cudaEventRecord(ev[1], stream));
      b.unet_graph->replay();
      C10_CUDA_CHECK(cudaEventRecord(ev[2], stream));
      b.vae_graph->replay();
      C10_CUDA_CHECK(cudaEventRecord(ev[3], stream));
      p->events_recorded = true;
      *images = d2g::wrap(b.image.clone());
      return nullptr;
    }
#endif
    auto t0 = std::chrono::steady_clock::now();
    p->text_stage(b);
    auto t1 = std::chrono::steady_clock::now();
    p->unet_stage(b);
    auto t2 = std::chrono::steady_clock::now();
    p->vae_stage(b);
    auto t3 = std::chrono::steady_clock::now();
    auto ms = [](auto a, auto z) { return std::chrono::duration<float, std::milli>(z - a).count(); };
    p->last_ms[0] = ms(t0, t1);
    p->last_ms[1] = ms(t1, t2);
    p->last_ms[2] = ms(t2, t3);
    *images = d2g::wrap(b.image.clone());
  })
}

d2g_status* d2g_onestep_last_timings(d2g_onestep* p, float* text_ms, float* unet_ms, float* vae_ms) {
  D2G_GUARD({
    d2g::require(p, "pipeline");
    d2g::require(text_ms, "text_ms");
    d2g::require(unet_ms, "unet_ms");
    d2g::require(vae_ms, "vae_ms");
#ifdef D2G_WITH_CUDA
    if (p->graphs) {
      if (!p->events_recorded) fail(D2G_INVALID_ARGUMENT, "no run yet");
      auto& ev = p->events;
      C10_CUDA_CHECK(cudaEventSynchronize(ev[3]));
      for (int i = 0; i < 3; i++) C10_CUDA_CHECK(cudaEventElapsedTime(&p->last_ms[i], ev[i], ev[i + 1]));
    }
#endif
    *text_ms = p->last_ms[0];
    *unet_ms = p->last_ms[1];
    *vae_ms = p->last_ms[2];
  })
}

void d2g_onestep_free(d2g_onestep* p) { delete p; }

}  // extern "C"
