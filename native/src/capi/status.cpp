// The C API's status section (d2g.h): reading and freeing status objects.
#include "../core/status.hpp"

extern "C" {

int d2g_status_code(const d2g_status* s) { return s == nullptr ? D2G_OK : s->code; }

const char* d2g_status_message(const d2g_status* s) { return s == nullptr ? "" : s->message.c_str(); }

void d2g_status_free(d2g_status* s) {
  if (s == nullptr || s == &d2g::g_oom_status) return;
  delete s;
}

}  // extern "C"
