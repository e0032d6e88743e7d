#include "init.hpp"

namespace d2g {

namespace {
thread_local int t_skip_init = 0;
}  // namespace

SkipInit::SkipInit() { ++t_skip_init; }
SkipInit::~SkipInit() { --t_skip_init; }
bool SkipInit::active() { return t_skip_init > 0; }

}  // namespace d2g
