// The C API's training section (d2g.h, "training: optimizers and parameter averages").
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../core/config.hpp"
#include "../core/module.hpp"
#include "../core/tensor.hpp"
#include "handles.hpp"

using d2g::fail;


namespace {

void write_name(const std::string& key, char* name, size_t capacity) {
  if (name == nullptr) return;
  if (capacity <= key.size()) fail(D2G_INVALID_ARGUMENT, "name buffer of ", capacity, " bytes is too small for '", key, "'");
  std::memcpy(name, key.c_str(), key.size() + 1);
}

std::vector<std::pair<std::string, at::Tensor>> named_tensors(const char* const* names, const d2g_tensor* const* tensors,
                                                              int64_t count) {
  if (count < 0) fail(D2G_INVALID_ARGUMENT, "count is negative");
  if (count > 0) {
    d2g::require(names, "names");
    d2g::require(tensors, "tensors");
  }
  std::vector<std::pair<std::string, at::Tensor>> out;
  out.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; i++) {
    if (names[i] == nullptr) fail(D2G_INVALID_ARGUMENT, "names[", i, "] is NULL");
    out.emplace_back(names[i], d2g::unwrap(tensors[i], "tensors[i]"));
  }
  return out;
}

}  // namespace

extern "C" {

d2g_status* d2g_optimizer_create(const char* kind, const char* config, const d2g_tensor* const* params,
                                 const int* group, int64_t count, const double* lr, const double* weight_decay,
                                 int n_groups, d2g_optimizer** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    d2g::require(kind, "kind");
    if (count < 1) fail(D2G_INVALID_ARGUMENT, "an optimizer needs at least one parameter");
    if (n_groups < 1 || n_groups > count) fail(D2G_INVALID_ARGUMENT, "n_groups must be 1..", count, ", not ", n_groups);
    d2g::require(params, "params");
    d2g::require(group, "group");
    d2g::require(lr, "lr");
    d2g::require(weight_decay, "weight_decay");
    std::vector<d2g::train::ParamGroup> groups(static_cast<size_t>(n_groups));
    for (int g = 0; g < n_groups; g++) {
      groups[g].lr = lr[g];
      groups[g].weight_decay = weight_decay[g];
    }
    int previous = 0;
    for (int64_t i = 0; i < count; i++) {
      int g = group[i];
      if (g < previous || g >= n_groups || g > previous + 1 || (i == 0 && g != 0))
        fail(D2G_INVALID_ARGUMENT, "group[", i, "] = ", g, ": parameters must come group by group, groups numbered "
             "0..", n_groups - 1, " in order");
      previous = g;
      groups[g].params.push_back(d2g::unwrap(params[i], "params[i]"));
    }
    if (previous != n_groups - 1) fail(D2G_INVALID_ARGUMENT, "group ", previous + 1, " has no parameters");
    auto opt = d2g::train::make_optimizer(kind, d2g::Config::parse(config == nullptr ? "" : config), std::move(groups));
    *out = new d2g_optimizer{std::shared_ptr<d2g::train::Optimizer>(std::move(opt)), {}};
  })
}

d2g_status* d2g_optimizer_step(d2g_optimizer* o) {
  D2G_GUARD({
    d2g::require(o, "optimizer");
    o->opt->step();
  })
}

d2g_status* d2g_optimizer_zero_grad(d2g_optimizer* o) {
  D2G_GUARD({
    d2g::require(o, "optimizer");
    o->opt->zero_grad();
  })
}

d2g_status* d2g_optimizer_set_lr(d2g_optimizer* o, int group, double lr) {
  D2G_GUARD({
    d2g::require(o, "optimizer");
    auto& groups = o->opt->groups();
    if (group < 0 || group >= static_cast<int>(groups.size()))
      fail(D2G_INVALID_ARGUMENT, "group ", group, " out of range 0..", groups.size() - 1);
    if (!(lr >= 0) || !std::isfinite(lr)) fail(D2G_INVALID_ARGUMENT, "lr must be a finite number >= 0, not ", lr);
    groups[group].lr = lr;
  })
}

d2g_status* d2g_optimizer_clip_grad_norm(d2g_optimizer* o, double max_norm, double* total_norm) {
  D2G_GUARD({
    d2g::require(o, "optimizer");
    double total = o->opt->clip_grad_norm(max_norm);
    if (total_norm != nullptr) *total_norm = total;
  })
}

d2g_status* d2g_optimizer_state_size(d2g_optimizer* o, int64_t* out) {
  D2G_GUARD({
    d2g::require(o, "optimizer");
    d2g::require(out, "out");
    o->snapshot = o->opt->state();
    *out = static_cast<int64_t>(o->snapshot.size());
  })
}

d2g_status* d2g_optimizer_state_entry(const d2g_optimizer* o, int64_t index, char* name, size_t capacity,
                                      d2g_tensor** tensor) {
  D2G_GUARD({
    d2g::require(o, "optimizer");
    if (index < 0 || index >= static_cast<int64_t>(o->snapshot.size()))
      fail(D2G_INVALID_ARGUMENT, "state index ", index, " out of range 0..", o->snapshot.size(),
           " (call d2g_optimizer_state_size first)");
    const auto& [key, t] = o->snapshot[static_cast<size_t>(index)];
    write_name(key, name, capacity);
    if (tensor != nullptr) *tensor = d2g::wrap(t);
  })
}

d2g_status* d2g_optimizer_load_state(d2g_optimizer* o, const char* const* names, const d2g_tensor* const* tensors,
                                     int64_t count) {
  D2G_GUARD({
    d2g::require(o, "optimizer");
    o->opt->load_state(named_tensors(names, tensors, count));
  })
}

void d2g_optimizer_free(d2g_optimizer* o) { delete o; }

d2g_status* d2g_ema_create(const d2g_module* m, d2g_ema** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    d2g::require(m, "module");
    std::vector<std::pair<std::string, at::Tensor>> params;
    for (const auto& p : m->net->named_parameters(true)) params.emplace_back(p.key(), p.value());
    *out = new d2g_ema{std::make_shared<d2g::train::Ema>(std::move(params))};
  })
}

d2g_status* d2g_ema_update(d2g_ema* e, double decay) {
  D2G_GUARD({
    d2g::require(e, "ema");
    e->ema->update(decay);
  })
}

d2g_status* d2g_ema_copy_to_module(d2g_ema* e) {
  D2G_GUARD({
    d2g::require(e, "ema");
    e->ema->copy_to_params();
  })
}

d2g_status* d2g_ema_state_size(const d2g_ema* e, int64_t* out) {
  D2G_GUARD({
    d2g::require(e, "ema");
    d2g::require(out, "out");
    *out = static_cast<int64_t>(e->ema->shadows().size());
  })
}

d2g_status* d2g_ema_state_entry(const d2g_ema* e, int64_t index, char* name, size_t capacity, d2g_tensor** tensor) {
  D2G_GUARD({
    d2g::require(e, "ema");
    const auto& shadows = e->ema->shadows();
    if (index < 0 || index >= static_cast<int64_t>(shadows.size()))
      fail(D2G_INVALID_ARGUMENT, "state index ", index, " out of range 0..", shadows.size());
    write_name(shadows[static_cast<size_t>(index)].first, name, capacity);
    if (tensor != nullptr) *tensor = d2g::wrap(shadows[static_cast<size_t>(index)].second);
  })
}

d2g_status* d2g_ema_load_state(d2g_ema* e, const char* const* names, const d2g_tensor* const* tensors, int64_t count) {
  D2G_GUARD({
    d2g::require(e, "ema");
    e->ema->load(named_tensors(names, tensors, count));
  })
}

void d2g_ema_free(d2g_ema* e) { delete e; }

d2g_status* d2g_train_step_create(const char* kind, const char* config, d2g_module* model, d2g_optimizer* opt,
                                  d2g_ema* ema, d2g_data_parallel* dp, const d2g_tensor* alphas_cumprod,
                                  d2g_train_step** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    d2g::require(kind, "kind");
    d2g::require(model, "model");
    d2g::require(opt, "optimizer");
    const std::string k(kind);
    const auto cfg = d2g::Config::parse(config == nullptr ? "" : config);
    auto data_parallel = dp == nullptr ? nullptr : dp->dp;
    std::unique_ptr<d2g::train::TrainStep> step;
    if (k == "denoise") {
      step = std::make_unique<d2g::train::DenoiseStep>(cfg, model->net, opt->opt, ema == nullptr ? nullptr : ema->ema,
                                                       data_parallel, d2g::unwrap(alphas_cumprod, "alphas_cumprod"));
    } else if (k == "contrastive") {
      if (ema != nullptr || alphas_cumprod != nullptr)
        fail(D2G_INVALID_ARGUMENT, "the contrastive step takes no EMA and no alphas_cumprod (pass NULL)");
      step = std::make_unique<d2g::train::ContrastiveStep>(cfg, model->net, opt->opt, data_parallel);
    } else if (k == "autoencoder") {
      if (ema != nullptr || alphas_cumprod != nullptr)
        fail(D2G_INVALID_ARGUMENT, "the autoencoder step takes no EMA and no alphas_cumprod (pass NULL)");
      step = std::make_unique<d2g::train::AutoencoderStep>(cfg, model->net, opt->opt, data_parallel);
    } else if (k == "lpips_classify" || k == "lpips_2afc") {
      if (ema != nullptr || alphas_cumprod != nullptr)
        fail(D2G_INVALID_ARGUMENT, "the ", k, " step takes no EMA and no alphas_cumprod (pass NULL)");
      if (k == "lpips_classify")
        step = std::make_unique<d2g::train::LpipsClassifyStep>(cfg, model->net, opt->opt, data_parallel);
      else
        step = std::make_unique<d2g::train::Lpips2afcStep>(cfg, model->net, opt->opt, data_parallel);
    } else {
      fail(D2G_INVALID_ARGUMENT, "unknown training step '", k,
           "' (known: denoise, contrastive, autoencoder, lpips_classify, lpips_2afc)");
    }
    *out = new d2g_train_step{std::move(step)};
  })
}

d2g_status* d2g_train_step_run(d2g_train_step* s, const d2g_tensor* x0, const d2g_tensor* context,
                               const d2g_tensor* timesteps, const d2g_tensor* noise, double* metrics, int n_metrics) {
  const d2g_tensor* inputs[4] = {x0, context, timesteps, noise};
  return d2g_train_step_run_inputs(s, inputs, 4, metrics, n_metrics);
}

d2g_status* d2g_train_step_run_inputs(d2g_train_step* s, const d2g_tensor* const* inputs, int n_inputs,
                                      double* metrics, int n_metrics) {
  D2G_GUARD({
    d2g::require(s, "train step");
    if (n_inputs < 0 || n_inputs > 16) fail(D2G_INVALID_ARGUMENT, "n_inputs must be 0..16");
    if (n_inputs > 0) d2g::require(inputs, "inputs");
    if (n_metrics < 0 || n_metrics > 8) fail(D2G_INVALID_ARGUMENT, "n_metrics must be 0..8");
    if (n_metrics > 0) d2g::require(metrics, "metrics");
    std::vector<at::Tensor> in;
    for (int i = 0; i < n_inputs; i++) in.push_back(d2g::unwrap(inputs[i], "input"));
    std::vector<double> m = s->step->run(in);
    for (int i = 0; i < n_metrics; i++) metrics[i] = i < static_cast<int>(m.size()) ? m[i] : 0.0;
  })
}

d2g_status* d2g_train_step_set_module(d2g_train_step* s, const char* role, d2g_module* m) {
  D2G_GUARD({
    d2g::require(s, "train step");
    d2g::require(role, "role");
    d2g::require(m, "module");
    s->step->set_module(role, m->net);
  })
}

void d2g_train_step_free(d2g_train_step* s) { delete s; }

}  // extern "C"
