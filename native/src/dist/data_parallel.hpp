// Data-parallel training: every rank holds the same model and a different part of the batch, and the
// gradients are averaged across ranks during backward, as torch.nn.parallel.DistributedDataParallel
// does it: parameters in buckets (in reverse order, roughly the order backward produces their
// gradients), each bucket all-reduced as soon as all its gradients have been accumulated (a hook on
// each parameter's gradient accumulator), while backward goes on with the rest of the network.
// Buckets are launched in the same order on every rank.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "process_group.hpp"

namespace d2g::dist {

class DataParallel {
 public:
  // params: the module's parameters (those that require grad take part), buffers: broadcast once.
  // Broadcasts both from rank 0 so that every rank starts from the same weights.
  DataParallel(std::shared_ptr<ProcessGroup> pg, std::vector<at::Tensor> params, std::vector<at::Tensor> buffers,
               int64_t bucket_bytes);
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  // After backward: launches the buckets still waiting (a parameter that got no gradient counts as a
  // zero gradient), waits for all, and leaves every parameter's gradient averaged across ranks.
  void finish();
  size_t bucket_count() const { return buckets_.size(); }
  ProcessGroup& group() { return *pg_; }

 private:
  struct Bucket {
    std::vector<size_t> params;  // indices into params_
    size_t ready = 0;
    at::Tensor flat;
    c10::intrusive_ptr<c10d::Work> work;
    bool launched = false;
  };

  void on_gradient(size_t param);  // from the autograd engine's threads
  void launch_ready_locked();      // launches buckets in order while the next one is complete
  void launch_locked(Bucket& b);

  std::shared_ptr<ProcessGroup> pg_;
  std::vector<at::Tensor> params_;
  std::vector<size_t> bucket_of_;
  std::vector<bool> seen_;
  std::vector<Bucket> buckets_;
  size_t next_ = 0;  // the next bucket to launch
  std::mutex mutex_;
  std::string error_;  // a failure inside a hook, reported by finish()
  struct Hook;
  std::vector<std::unique_ptr<Hook>> hooks_;
};

}  // namespace d2g::dist
