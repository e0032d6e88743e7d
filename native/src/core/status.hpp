// Internal: the status object behind d2g_status*, and the guard that turns every C++ exception
// into one. Every exported function body runs inside D2G_GUARD.
#pragma once

#include <c10/util/Exception.h>

#include <exception>
#include <new>
#include <sstream>
#include <string>
#include <utility>

#include "d2g.h"

struct d2g_status {
  int code;
  std::string message;
};

namespace d2g {

// Thrown inside the shim for errors we detect ourselves; carries the code the caller sees.
class Error : public std::exception {
 public:
  Error(d2g_code code, std::string message) : code_(code), message_(std::move(message)) {}
  d2g_code code() const noexcept { return code_; }
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  d2g_code code_;
  std::string message_;
};

// Returned when even the status cannot be allocated; d2g_status_free leaves it alone.
inline d2g_status g_oom_status{D2G_OUT_OF_MEMORY, "out of memory while reporting an error"};

inline d2g_status* make_status(int code, std::string message) noexcept {
  try {
    return new d2g_status{code, std::move(message)};
  } catch (...) {
    return &g_oom_status;
  }
}

// Strips LibTorch's C++ backtrace from a c10::Error so the Java message stays readable.
inline std::string torch_message(const c10::Error& e) {
  std::string m = e.what_without_backtrace();
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

// Converts the exception in flight into a status. Call only from a catch block.
inline d2g_status* status_from_current_exception(const char* function) noexcept {
  try {
    throw;
  } catch (const Error& e) {
    return make_status(e.code(), std::string(function) + ": " + e.what());
  } catch (const c10::OutOfMemoryError& e) {
    return make_status(D2G_OUT_OF_MEMORY, std::string(function) + ": out of memory: " + torch_message(e));
  } catch (const c10::IndexError& e) {
    return make_status(D2G_INVALID_ARGUMENT, std::string(function) + ": " + torch_message(e));
  } catch (const c10::ValueError& e) {
    return make_status(D2G_INVALID_ARGUMENT, std::string(function) + ": " + torch_message(e));
  } catch (const c10::TypeError& e) {
    return make_status(D2G_INVALID_ARGUMENT, std::string(function) + ": " + torch_message(e));
  } catch (const c10::Error& e) {
    std::string m = torch_message(e);
    int code = D2G_NATIVE_FAILURE;
    if (m.find("out of memory") != std::string::npos) code = D2G_OUT_OF_MEMORY;
    else if (m.find("no CUDA GPUs") != std::string::npos || m.find("CUDA driver") != std::string::npos ||
             m.find("without CUDA") != std::string::npos || m.find("Torch not compiled with CUDA") != std::string::npos)
      code = D2G_DEVICE_UNAVAILABLE;
    return make_status(code, std::string(function) + ": " + m);
  } catch (const std::bad_alloc&) {
    return make_status(D2G_OUT_OF_MEMORY, std::string(function) + ": out of host memory");
  } catch (const std::exception& e) {
    return make_status(D2G_NATIVE_FAILURE, std::string(function) + ": " + e.what());
  } catch (...) {
    return make_status(D2G_NATIVE_FAILURE, std::string(function) + ": unknown native exception");
  }
}

template <typename... Parts>
[[noreturn]] void fail(d2g_code code, Parts&&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  throw Error(code, os.str());
}

template <typename T>
inline T* require(T* p, const char* what) {
  if (p == nullptr) fail(D2G_INVALID_ARGUMENT, what, " is NULL");
  return p;
}

}  // namespace d2g

#define D2G_GUARD(...)                                     \
  try {                                                    \
    __VA_ARGS__;                                           \
    return nullptr;                                        \
  } catch (...) {                                          \
    return d2g::status_from_current_exception(__func__);   \
  }
