// LibTorch's intra-op thread count, set to the cores this process may use.
//
// LibTorch's default is the number of physical cores as the cpuinfo library reads them from CPUID;
// in a virtual machine whose hypervisor reports two threads per core for what Linux lists as separate
// cores, that halves the count (this project's 2-core CI VM got 1 thread: convolutions and element-wise
// operations ran on one core). Linux's own topology (sysfs) is what the scheduler uses, so the
// default here is the number of distinct cores (package, core id) among the CPUs in the process's
// affinity mask. OMP_NUM_THREADS or MKL_NUM_THREADS, when set, win as they do in LibTorch, and
// d2g_cpu_threads changes the setting at any time.
//
// OpenBLAS (what Debian's LibTorch calls for matrix products once it is installed) keeps a thread
// pool of its own; next to LibTorch's OpenMP threads the two oversubscribe the cores: a tiny UNet
// training step took 101 ms with both at 2 threads on this 2-core VM, 53 ms with OpenBLAS on one
// (benchmarks/results/cpu-train-step.json). So while LibTorch runs more than one intra-op thread,
// OpenBLAS runs on one, and on all cores otherwise; OPENBLAS_NUM_THREADS, when set, wins.
#include "threads.hpp"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <utility>

namespace d2g {

namespace {

int read_int(const std::string& path) {
  std::ifstream in(path);
  int v = -1;
  if (!(in >> v)) return -1;
  return v;
}

// Distinct (package, core) pairs among the CPUs this process may run on; 0 if unknown.
int cores_available() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
  std::set<std::pair<int, int>> cores;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
    if (!CPU_ISSET(cpu, &set)) continue;
    std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    int package = read_int(base + "physical_package_id"), core = read_int(base + "core_id");
    if (package < 0 || core < 0) return CPU_COUNT(&set);  // no topology: count the CPUs
    cores.emplace(package, core);
  }
  return static_cast<int>(cores.size());
}

// OpenBLAS's thread count, if OpenBLAS is loaded (found by its own function's name).
void set_openblas_threads(int n) {
  using SetThreads = void (*)(int);
  auto f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (f != nullptr) f(n);
}

struct DefaultThreads {
  DefaultThreads() {
    try {
      if (std::getenv("OMP_NUM_THREADS") == nullptr && std::getenv("MKL_NUM_THREADS") == nullptr) {
        int n = cores_available();
        if (n > 0 && n != at::get_num_threads()) at::set_num_threads(n);
      }
      balance_blas_threads();
    } catch (...) {
      // keep LibTorch's own default
    }
  }
};

const DefaultThreads g_default_threads;

}  // namespace

void balance_blas_threads() {
  if (std::getenv("OPENBLAS_NUM_THREADS") != nullptr) return;
  int n = at::get_num_threads();
  set_openblas_threads(n > 1 ? 1 : std::max(1, cores_available()));
}

}  // namespace d2g
