#include "process_group.hpp"

#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#ifdef D2G_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef D2G_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "../core/status.hpp"

namespace d2g::dist {

namespace {

// The address this machine uses to reach the master (the source address of a route to it), which
// the other ranks can connect back to. Gloo's default, the address of this machine's hostname, is
// 127.0.0.1 on many machines and useless across machines. Empty if it cannot be found.
std::string local_address_towards(const std::string& master, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(master.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || res == nullptr) return "";
  std::string out;
  int fd = socket(res->ai_family, SOCK_DGRAM, 0);
  if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0) {  // UDP: no packet is sent
    sockaddr_storage local{};
    socklen_t len = sizeof local;
    char buf[INET6_ADDRSTRLEN] = {0};
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
      const void* a = local.ss_family == AF_INET ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&local)->sin_addr)
                                                 : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr);
      if (inet_ntop(local.ss_family, a, buf, sizeof buf) != nullptr) out = buf;
    }
  }
  if (fd >= 0) close(fd);
  freeaddrinfo(res);
  return out;
}

}  // namespace

std::vector<std::string> ProcessGroup::available() {
  std::vector<std::string> out;
#ifdef D2G_WITH_GLOO
  out.push_back("gloo");
#endif
#ifdef D2G_WITH_NCCL
  out.push_back("nccl");
#endif
  return out;
}

ProcessGroup::ProcessGroup(const std::string& backend, const std::string& master_addr, int master_port, int rank,
                           int world_size, std::chrono::milliseconds timeout)
    : backend_(backend), rank_(rank), world_size_(world_size), timeout_(timeout) {
  if (world_size < 1 || world_size > 65536) fail(D2G_INVALID_ARGUMENT, "world size must be 1..65536, not ", world_size);
  if (rank < 0 || rank >= world_size) fail(D2G_INVALID_ARGUMENT, "rank ", rank, " is outside 0..", world_size - 1);
  if (master_port < 1 || master_port > 65535) fail(D2G_INVALID_ARGUMENT, "master port must be 1..65535, not ", master_port);
  if (master_addr.empty()) fail(D2G_INVALID_ARGUMENT, "master address is empty");
  if (timeout.count() < 1) fail(D2G_INVALID_ARGUMENT, "timeout must be at least 1 ms");
  bool known = false;
  for (auto& b : available()) known |= b == backend;
  if (!known) {
    std::string have;
    for (auto& b : available()) have += (have.empty() ? "" : ", ") + b;
    fail(D2G_INVALID_ARGUMENT, "backend '", backend, "' is not in this build (it has: ", have.empty() ? "none" : have,
         "); Gloo needs its headers at build time (Debian: libgloo-dev), NCCL a CUDA LibTorch and nccl.h");
  }
  c10d::TCPStoreOptions opts;
  opts.port = static_cast<std::uint16_t>(master_port);
  opts.isServer = rank == 0;
  opts.numWorkers = static_cast<std::size_t>(world_size);
  opts.waitWorkers = true;
  opts.timeout = timeout;
  try {
    store_ = c10::make_intrusive<c10d::TCPStore>(master_addr, opts);
  } catch (const std::exception& e) {
    fail(D2G_IO_ERROR, "rank ", rank, " could not meet the other ", world_size - 1, " process(es) at ", master_addr, ":",
         master_port, " within ", timeout.count(), " ms: ", e.what());
  }
#ifdef D2G_WITH_GLOO
  if (backend == "gloo") {
    auto o = c10d::ProcessGroupGloo::Options::create(timeout);
    // The interface to talk on: GLOO_SOCKET_IFNAME if set (as in PyTorch), else the one that routes to
    // the master.
    const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
    std::string local = local_address_towards(master_addr, master_port);
    if (ifname != nullptr && *ifname != '\0') o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    else if (!local.empty()) o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(local));
    else o->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    pg_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, rank, world_size, o);
  }
#endif
#ifdef D2G_WITH_NCCL
  if (backend == "nccl") {
    auto o = c10d::ProcessGroupNCCL::Options::create();
    o->timeout = timeout;
    pg_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(store_, rank, world_size, o);
  }
#endif
}

void ProcessGroup::check_tensors(const std::vector<at::Tensor>& tensors, const char* op) const {
  for (const auto& t : tensors) {
    if (!t.defined()) fail(D2G_INVALID_ARGUMENT, op, ": an undefined tensor");
    if (t.device().type() != device_type())
      fail(D2G_INVALID_ARGUMENT, op, ": the ", backend_, " backend works on ", device_type() == at::kCUDA ? "CUDA" : "CPU",
           " tensors, not ", t.device().str());
    if (!t.is_contiguous()) fail(D2G_INVALID_ARGUMENT, op, ": tensors must be contiguous");
  }
}

void ProcessGroup::wait(const c10::intrusive_ptr<c10d::Work>& work, const char* op) const {
  try {
    work->wait(timeout_);
  } catch (const std::exception& e) {
    fail(D2G_IO_ERROR, op, " across ", world_size_, " processes failed on rank ", rank_,
         " (another process may have died or hung): ", e.what());
  }
}

void ProcessGroup::all_reduce(std::vector<at::Tensor>& tensors, bool average) {
  check_tensors(tensors, "all_reduce");
  c10::NoGradGuard no_grad;
  for (auto& t : tensors) {
    std::vector<at::Tensor> one{t};
    wait(pg_->allreduce(one), "all_reduce");
    if (average) t.div_(world_size_);
  }
}

c10::intrusive_ptr<c10d::Work> ProcessGroup::all_reduce_async(at::Tensor& tensor) {
  std::vector<at::Tensor> one{tensor};
  check_tensors(one, "all_reduce");
  try {
    return pg_->allreduce(one);
  } catch (const std::exception& e) {
    fail(D2G_IO_ERROR, "all_reduce on rank ", rank_, " failed: ", e.what());
  }
}

void ProcessGroup::broadcast(std::vector<at::Tensor>& tensors, int root) {
  if (root < 0 || root >= world_size_) fail(D2G_INVALID_ARGUMENT, "broadcast root ", root, " is not a rank");
  check_tensors(tensors, "broadcast");
  c10::NoGradGuard no_grad;
  c10d::BroadcastOptions o;
  o.rootRank = root;
  for (auto& t : tensors) {
    std::vector<at::Tensor> one{t};
    wait(pg_->broadcast(one, o), "broadcast");
  }
}

void ProcessGroup::barrier() {
  // A one-element all-reduce: works on every backend and device, and fails as collectives do.
  auto options = device_type() == at::kCUDA ? at::TensorOptions().device(at::kCUDA) : at::TensorOptions();
  std::vector<at::Tensor> one{at::zeros({1}, options)};
  wait(pg_->allreduce(one), "barrier");
}

}  // namespace d2g::dist
