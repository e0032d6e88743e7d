#include "data_parallel.hpp"

#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <algorithm>
#include <map>

#include "../core/status.hpp"

namespace d2g::dist {

// A registered post hook on one parameter's gradient accumulator, removed again when the
// DataParallel object goes (the accumulator may outlive it).
struct DataParallel::Hook {
  decltype(torch::autograd::impl::grad_accumulator(std::declval<const at::Tensor&>())) accumulator;
  uintptr_t key;
};

DataParallel::DataParallel(std::shared_ptr<ProcessGroup> pg, std::vector<at::Tensor> params,
                           std::vector<at::Tensor> buffers, int64_t bucket_bytes)
    : pg_(std::move(pg)) {
  if (bucket_bytes < 1) fail(D2G_INVALID_ARGUMENT, "bucket size must be positive");
  {
    // Every rank starts from rank 0's weights and buffers.
    std::vector<at::Tensor> all;
    for (auto& p : params) all.push_back(p.detach());
    for (auto& b : buffers) all.push_back(b);
    pg_->broadcast(all, 0);
  }
  for (auto& p : params)
    if (p.requires_grad()) params_.push_back(p);
  if (params_.empty()) fail(D2G_INVALID_ARGUMENT, "no parameter requires grad: nothing to average");
  // Buckets in reverse parameter order, split when full or when dtype or device change.
  bucket_of_.resize(params_.size());
  seen_.assign(params_.size(), false);
  int64_t filled = 0;
  for (size_t k = params_.size(); k-- > 0;) {
    const at::Tensor& p = params_[k];
    bool fresh = buckets_.empty();
    if (!fresh) {
      const at::Tensor& first = params_[buckets_.back().params.front()];
      fresh = filled >= bucket_bytes || first.scalar_type() != p.scalar_type() || first.device() != p.device();
    }
    if (fresh) {
      buckets_.emplace_back();
      filled = 0;
    }
    buckets_.back().params.push_back(k);
    bucket_of_[k] = buckets_.size() - 1;
    filled += static_cast<int64_t>(p.numel() * p.element_size());
  }
  for (size_t k = 0; k < params_.size(); k++) {
    auto acc = torch::autograd::impl::grad_accumulator(params_[k]);
    if (!acc) fail(D2G_INVALID_ARGUMENT, "parameter ", k, " has no gradient accumulator (is it a leaf?)");
    uintptr_t key = acc->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [this, k](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
          on_gradient(k);
          return outputs;
        }));
    hooks_.push_back(std::unique_ptr<Hook>(new Hook{acc, key}));
  }
}

DataParallel::~DataParallel() {
  for (auto& h : hooks_) h->accumulator->del_post_hook(h->key);
  try {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& b : buckets_)
      if (b.launched && b.work) b.work->wait();
  } catch (...) {
    // the group is broken; nothing more to do here
  }
}

void DataParallel::on_gradient(size_t param) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!error_.empty() || seen_[param]) return;  // a second backward before finish: counted once
  seen_[param] = true;
  Bucket& b = buckets_[bucket_of_[param]];
  b.ready++;
  try {
    launch_ready_locked();
  } catch (const std::exception& e) {
    error_ = e.what();
  }
}

void DataParallel::launch_ready_locked() {
  while (next_ < buckets_.size() && buckets_[next_].ready == buckets_[next_].params.size()) {
    launch_locked(buckets_[next_]);
    next_++;
  }
}

void DataParallel::launch_locked(Bucket& b) {
  c10::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  for (size_t k : b.params) {
    at::Tensor& p = params_[k];
    if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
    grads.push_back(p.grad().reshape({-1}));
  }
  b.flat = at::cat(grads);
  b.work = pg_->all_reduce_async(b.flat);
  b.launched = true;
}

void DataParallel::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string error = error_;
  if (error.empty()) {
    try {
      // Buckets whose parameters got no gradient: their turn comes now, in order.
      for (; next_ < buckets_.size(); next_++) launch_locked(buckets_[next_]);
      c10::NoGradGuard no_grad;
      for (auto& b : buckets_) {
        try {
          b.work->wait(pg_->timeout());
        } catch (const std::exception& e) {
          fail(D2G_IO_ERROR, "averaging gradients across ", pg_->world_size(), " processes failed on rank ", pg_->rank(),
               " (another process may have died or hung): ", e.what());
        }
        b.flat.div_(pg_->world_size());
        int64_t offset = 0;
        for (size_t k : b.params) {
          at::Tensor& g = params_[k].mutable_grad();
          int64_t n = g.numel();
          g.copy_(b.flat.narrow(0, offset, n).view_as(g));
          offset += n;
        }
      }
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  for (auto& b : buckets_) {
    b.ready = 0;
    b.launched = false;
    b.work.reset();
    b.flat = at::Tensor();
  }
  std::fill(seen_.begin(), seen_.end(), false);
  next_ = 0;
  error_.clear();
  if (!error.empty()) fail(D2G_IO_ERROR, error);
}

}  // namespace d2g::dist
