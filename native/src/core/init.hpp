// Skipping parameter initialisation while a module is built whose every parameter is loaded next.
#pragma once

namespace d2g {

// While one is alive on a thread, the layers (nn/layers.hpp) that thread creates leave their
// parameters uninitialised (contents undefined) and draw nothing from the random generator. Nests.
// For modules whose whole state is loaded right after, strictly (d2g_module_create_empty); the random
// initialisation it skips is most of the time it takes to build an SD-sized network on the CPU.
class SkipInit {
 public:
  SkipInit();
  ~SkipInit();
  SkipInit(const SkipInit&) = delete;
  SkipInit& operator=(const SkipInit&) = delete;
  static bool active();
};

}  // namespace d2g
