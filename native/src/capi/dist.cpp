// The C API's data-parallel section (d2g.h, "data-parallel training on c10d").
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../core/module.hpp"
#include "../core/tensor.hpp"
#include "handles.hpp"

using d2g::fail;


namespace {

std::vector<at::Tensor> tensor_list(d2g_tensor* const* tensors, int count) {
  if (count < 0) fail(D2G_INVALID_ARGUMENT, "count is negative");
  if (count > 0) d2g::require(tensors, "tensors");
  std::vector<at::Tensor> out;
  for (int i = 0; i < count; i++) out.push_back(d2g::unwrap(tensors[i], "tensors[i]"));
  return out;
}

}  // namespace

extern "C" {

d2g_status* d2g_process_group_create(const char* backend, const char* master_addr, int master_port, int rank,
                                     int world_size, int64_t timeout_ms, d2g_process_group** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    d2g::require(backend, "backend");
    d2g::require(master_addr, "master_addr");
    auto pg = std::make_shared<d2g::dist::ProcessGroup>(backend, master_addr, master_port, rank, world_size,
                                                       std::chrono::milliseconds(timeout_ms));
    *out = new d2g_process_group{std::move(pg)};
  })
}

d2g_status* d2g_process_group_info(const d2g_process_group* pg, int* rank, int* world_size) {
  D2G_GUARD({
    d2g::require(pg, "process group");
    if (rank != nullptr) *rank = pg->pg->rank();
    if (world_size != nullptr) *world_size = pg->pg->world_size();
  })
}

d2g_status* d2g_process_group_backends(char* buf, size_t capacity) {
  D2G_GUARD({
    d2g::require(buf, "buf");
    if (capacity == 0) fail(D2G_INVALID_ARGUMENT, "capacity must be at least 1");
    std::string all;
    for (auto& b : d2g::dist::ProcessGroup::available()) all += (all.empty() ? "" : ",") + b;
    std::strncpy(buf, all.c_str(), capacity - 1);
    buf[capacity - 1] = '\0';
  })
}

d2g_status* d2g_all_reduce(d2g_process_group* pg, d2g_tensor* const* tensors, int count, int average) {
  D2G_GUARD({
    d2g::require(pg, "process group");
    auto list = tensor_list(tensors, count);
    pg->pg->all_reduce(list, average != 0);
  })
}

d2g_status* d2g_broadcast(d2g_process_group* pg, d2g_tensor* const* tensors, int count, int root) {
  D2G_GUARD({
    d2g::require(pg, "process group");
    auto list = tensor_list(tensors, count);
    pg->pg->broadcast(list, root);
  })
}

d2g_status* d2g_barrier(d2g_process_group* pg) {
  D2G_GUARD({
    d2g::require(pg, "process group");
    pg->pg->barrier();
  })
}

void d2g_process_group_free(d2g_process_group* pg) { delete pg; }

d2g_status* d2g_data_parallel_create(d2g_process_group* pg, d2g_module* m, double bucket_mb, d2g_data_parallel** out) {
  D2G_GUARD({
    d2g::require(out, "out");
    d2g::require(pg, "process group");
    d2g::require(m, "module");
    if (!(bucket_mb > 0 && bucket_mb <= 4096)) fail(D2G_INVALID_ARGUMENT, "bucket_mb must be in (0, 4096], not ", bucket_mb);
    std::vector<at::Tensor> params = m->net->parameters(true), buffers = m->net->buffers(true);
    auto dp = std::make_shared<d2g::dist::DataParallel>(pg->pg, std::move(params), std::move(buffers),
                                                        static_cast<int64_t>(bucket_mb * 1024 * 1024));
    *out = new d2g_data_parallel{std::move(dp)};
  })
}

d2g_status* d2g_data_parallel_finish(d2g_data_parallel* dp) {
  D2G_GUARD({
    d2g::require(dp, "data parallel");
    dp->dp->finish();
  })
}

void d2g_data_parallel_free(d2g_data_parallel* dp) { delete dp; }

}  // extern "C"
