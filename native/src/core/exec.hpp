// How one C API call computes: the call's exec bits (d2g.h, d2g_exec) turned into LibTorch's
// thread-local grad mode and autocast state for the length of the call, and restored afterwards, so
// that nothing leaks to the next call on this OS thread (Java's virtual threads hop between them).
#pragma once

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

namespace d2g {

class ExecScope {
 public:
  // device_type: where the call computes (autocast is per device type). Unknown bits, or both
  // autocast bits, are D2G_INVALID_ARGUMENT.
  ExecScope(int exec, c10::DeviceType device_type);
  ~ExecScope();
  ExecScope(const ExecScope&) = delete;
  ExecScope& operator=(const ExecScope&) = delete;

  bool grad() const { return grad_; }

 private:
  bool grad_;
  c10::AutoGradMode grad_mode_;
  bool autocast_ = false;
  c10::DeviceType device_type_;
  bool was_enabled_ = false;
  at::ScalarType was_dtype_ = at::kFloat;
};

// Autocast off on the CPU and CUDA for the scope, restored after: for work that must stay in f32
// inside an autocast region (E-LatentLPIPS's augmentation: its transform matrices and resampling).
class NoAutocast {
 public:
  NoAutocast();
  ~NoAutocast();
  NoAutocast(const NoAutocast&) = delete;
  NoAutocast& operator=(const NoAutocast&) = delete;

 private:
  bool cpu_, cuda_;
};

// The dtype autocast casts to on device_type where it is on for this thread, else at::ScalarType::Undefined:
// for modules that keep their own low-precision copies of derived weights (LatentLPIPS's folded convs).
at::ScalarType autocast_target(c10::DeviceType device_type);

// Checks exec's bits without applying them.
void check_exec(int exec);

}  // namespace d2g
