// A group of processes that train together, on PyTorch's c10d: a TCP store for the rendezvous (rank 0
// serves it at the master address and port, as torchrun's MASTER_ADDR/MASTER_PORT), and a
// collectives backend: Gloo for CPU tensors, NCCL for CUDA tensors.
#pragma once

#include <ATen/ATen.h>
#include <c10/util/intrusive_ptr.h>
#include <torch/version.h>

#include <chrono>
#include <string>
#include <vector>

#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif
#include <torch/csrc/distributed/c10d/Store.hpp>

namespace d2g::dist {

// The object that runs collectives: LibTorch 2 calls it a Backend, 1.x a ProcessGroup.
#if TORCH_VERSION_MAJOR >= 2
using Collectives = c10d::Backend;
#else
using Collectives = c10d::ProcessGroup;
#endif

class ProcessGroup {
 public:
  // Joins the group (blocks until all world_size processes have joined, or timeout).
  ProcessGroup(const std::string& backend, const std::string& master_addr, int master_port, int rank, int world_size,
               std::chrono::milliseconds timeout);

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  const std::string& backend() const { return backend_; }
  at::DeviceType device_type() const { return backend_ == "nccl" ? at::kCUDA : at::kCPU; }

  // In place, across ranks: sum (average=false) or mean of each tensor; waits for the result.
  void all_reduce(std::vector<at::Tensor>& tensors, bool average);
  // Starts an in-place sum of one tensor; wait() on the result.
  c10::intrusive_ptr<c10d::Work> all_reduce_async(at::Tensor& tensor);
  // Rank root's tensors into everyone's.
  void broadcast(std::vector<at::Tensor>& tensors, int root);
  void barrier();
  std::chrono::milliseconds timeout() const { return timeout_; }

  // Which backends this build can create ("gloo", "nccl").
  static std::vector<std::string> available();

 private:
  void check_tensors(const std::vector<at::Tensor>& tensors, const char* op) const;
  void wait(const c10::intrusive_ptr<c10d::Work>& work, const char* op) const;

  std::string backend_;
  int rank_, world_size_;
  std::chrono::milliseconds timeout_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<Collectives> pg_;
};

}  // namespace d2g::dist
