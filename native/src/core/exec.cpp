#include "exec.hpp"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "d2g.h"
#include "status.hpp"

namespace d2g {

namespace {

constexpr int kKnown = D2G_EXEC_GRAD | D2G_EXEC_AUTOCAST_BF16 | D2G_EXEC_AUTOCAST_F16;

// LibTorch 2.4 made autocast's state per device type; earlier ones have one switch for CUDA and one
// for the CPU.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool autocast_enabled(c10::DeviceType d) { return at::autocast::is_autocast_enabled(d); }
void set_autocast_enabled(c10::DeviceType d, bool on) { at::autocast::set_autocast_enabled(d, on); }
at::ScalarType autocast_dtype(c10::DeviceType d) { return at::autocast::get_autocast_dtype(d); }
void set_autocast_dtype(c10::DeviceType d, at::ScalarType t) { at::autocast::set_autocast_dtype(d, t); }
#else
bool autocast_enabled(c10::DeviceType d) {
  return d == c10::DeviceType::CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
void set_autocast_enabled(c10::DeviceType d, bool on) {
  if (d == c10::DeviceType::CUDA) at::autocast::set_enabled(on);
  else at::autocast::set_cpu_enabled(on);
}
at::ScalarType autocast_dtype(c10::DeviceType d) {
  return d == c10::DeviceType::CUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
void set_autocast_dtype(c10::DeviceType d, at::ScalarType t) {
  if (d == c10::DeviceType::CUDA) at::autocast::set_autocast_gpu_dtype(t);
  else at::autocast::set_autocast_cpu_dtype(t);
}
#endif

}  // namespace

void check_exec(int exec) {
  if ((exec & ~kKnown) != 0)
    fail(D2G_INVALID_ARGUMENT, "exec has unknown bits 0x", std::hex, exec & ~kKnown,
         " (known: D2G_EXEC_GRAD 1, D2G_EXEC_AUTOCAST_BF16 2, D2G_EXEC_AUTOCAST_F16 4)");
  if ((exec & D2G_EXEC_AUTOCAST_BF16) && (exec & D2G_EXEC_AUTOCAST_F16))
    fail(D2G_INVALID_ARGUMENT, "exec asks for autocast to bf16 and to f16 at once; pick one");
}

static bool checked_grad(int exec) {
  check_exec(exec);
  return (exec & D2G_EXEC_GRAD) != 0;
}

ExecScope::ExecScope(int exec, c10::DeviceType device_type)
    : grad_(checked_grad(exec)), grad_mode_(grad_), device_type_(device_type) {
  if (exec & (D2G_EXEC_AUTOCAST_BF16 | D2G_EXEC_AUTOCAST_F16)) {
    if (device_type != c10::DeviceType::CPU && device_type != c10::DeviceType::CUDA)
      fail(D2G_INVALID_ARGUMENT, "autocast runs on the CPU and CUDA only");
    at::ScalarType want = (exec & D2G_EXEC_AUTOCAST_BF16) ? at::kBFloat16 : at::kHalf;
    was_enabled_ = autocast_enabled(device_type);
    was_dtype_ = autocast_dtype(device_type);
    set_autocast_enabled(device_type, true);
    set_autocast_dtype(device_type, want);
    at::autocast::increment_nesting();
    autocast_ = true;
  }
}

ExecScope::~ExecScope() {
  if (!autocast_) return;
  // The casts autocast cached for this region are dropped when the outermost region ends, as
  // torch.autocast's __exit__ does.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast_enabled(device_type_, was_enabled_);
  set_autocast_dtype(device_type_, was_dtype_);
}

at::ScalarType autocast_target(c10::DeviceType device_type) {
  if (device_type != c10::DeviceType::CPU && device_type != c10::DeviceType::CUDA) return at::ScalarType::Undefined;
  return autocast_enabled(device_type) ? autocast_dtype(device_type) : at::ScalarType::Undefined;
}

NoAutocast::NoAutocast()
    : cpu_(autocast_enabled(c10::DeviceType::CPU)), cuda_(autocast_enabled(c10::DeviceType::CUDA)) {
  set_autocast_enabled(c10::DeviceType::CPU, false);
  set_autocast_enabled(c10::DeviceType::CUDA, false);
}

NoAutocast::~NoAutocast() {
  set_autocast_enabled(c10::DeviceType::CPU, cpu_);
  set_autocast_enabled(c10::DeviceType::CUDA, cuda_);
}

}  // namespace d2g
