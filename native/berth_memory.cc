// Memory pressure for the daemon's own heap. V8 collects its old generation
// only when that reaches a limit set from the machine's memory, so a daemon
// whose containers come and go keeps tens of MiB of garbage resident for
// minutes. Telling V8 the process is under moderate memory pressure starts
// an incremental (non-blocking) mark-compact, after which V8 releases the
// pages it no longer needs. This is the one V8 API berth calls directly.
#include <node_api.h>
#include <v8.h>

extern "C" napi_value berth_memory_pressure(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  if (isolate != nullptr) isolate->MemoryPressureNotification(v8::MemoryPressureLevel::kModerate);
  return nullptr;
}
