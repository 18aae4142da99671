// Live-object counters for debugging and leak tests: each native class adds
// one when an instance is constructed and subtracts one when it is destroyed
// (after free() *and* garbage collection of its JS wrapper). The leak tests
// read them through `binding.debugCounters()` and expect zero after GC.
//
// Counters are named so that a new class needs no change here: it calls
// CounterAdd("Name", +1) as the last line of its constructor and
// CounterAdd("Name", -1) in its destructor.
#pragma once

#include <napi.h>

namespace rxtls {

// Adds `delta` to the counter `name` (a string literal: it is kept by pointer).
// Thread-safe: workers share the addon's process-wide counters.
void CounterAdd(const char* name, int delta);

// debugCounters(): { Context, Session, FdSsl, Bio, PollHandle, … } — every counter named,
// including those back at zero.
Napi::Value DebugCounters(const Napi::CallbackInfo& info);

}  // namespace rxtls
