// D2G_OP_COUNTS=<file>: a diagnostic for comparing what d2g asks of ATen with what PyTorch does for
// the same model (scripts/op_counts.py makes PyTorch's list): every ATen operator call, forward and
// backward, is counted by name through LibTorch's RecordFunction observers, and the counts are written
// as "<count>\t<name>" lines, most frequent first, when the process exits. Unset: nothing is installed.
// Counting slows every operator a little; it is for finding extra copies and passes, not for timing.
#include <ATen/record_function.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace d2g {
namespace {

std::mutex g_mutex;
std::map<std::string, long long>* g_counts = nullptr;  // leaked on purpose: read by the atexit handler
std::string* g_path = nullptr;

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
  std::lock_guard<std::mutex> lock(g_mutex);
  ++(*g_counts)[fn.name()];
  return nullptr;
}

void write_counts() {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::vector<std::pair<std::string, long long>> rows(g_counts->begin(), g_counts->end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  // "x": a new file only; what is already there (this program did not make it) is never overwritten
  if (FILE* f = std::fopen(g_path->c_str(), "wx")) {
    for (const auto& [name, n] : rows) std::fprintf(f, "%lld\t%s\n", n, name.c_str());
    std::fclose(f);
  } else {
    std::fprintf(stderr, "d2g: D2G_OP_COUNTS: cannot write %s (it exists already, or the folder is not writable)\n",
                 g_path->c_str());
  }
}

struct OpCounts {
  OpCounts() {
    const char* path = std::getenv("D2G_OP_COUNTS");
    if (path == nullptr || *path == '\0') return;
    try {
      g_counts = new std::map<std::string, long long>();
      g_path = new std::string(path);
      at::addGlobalCallback(at::RecordFunctionCallback(&on_start)
                                .scopes({at::RecordScope::FUNCTION, at::RecordScope::BACKWARD_FUNCTION}));
      std::atexit(write_counts);
    } catch (...) {
      std::fprintf(stderr, "d2g: D2G_OP_COUNTS: could not observe operators\n");
    }
  }
};

const OpCounts g_op_counts;

}  // namespace
}  // namespace d2g
