#include "counters.h"

#include <cstdint>
#include <cstring>
#include <mutex>

namespace rxtls {
namespace {

struct Counter {
  const char* name;
  int64_t live;
};

// A handful of classes exist; a fixed table avoids allocating in a destructor.
constexpr size_t kMaxCounters = 32;

struct Table {
  std::mutex mutex;
  // The classes known today, listed so debugCounters() shows them at zero.
  Counter counters[kMaxCounters] = {{"Context", 0}, {"Session", 0}, {"FdSsl", 0}, {"Bio", 0}, {"PollHandle", 0}};
  size_t size = 5;
};

Table& GetTable() {
  // Never destroyed: destructors of wrapped objects may run during process
  // teardown, after static destructors would have run.
  static Table* table = new Table();
  return *table;
}

}  // namespace

void CounterAdd(const char* name, int delta) {
  Table& t = GetTable();
  std::lock_guard<std::mutex> lock(t.mutex);
  for (size_t i = 0; i < t.size; ++i) {
    if (std::strcmp(t.counters[i].name, name) == 0) {
      t.counters[i].live += delta;
      return;
    }
  }
  // A full table drops new names rather than failing a constructor: these
  // counters are a debugging aid, never a reason for an object to fail.
  if (t.size < kMaxCounters) t.counters[t.size++] = Counter{name, delta};
}

Napi::Value DebugCounters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  Table& t = GetTable();
  std::lock_guard<std::mutex> lock(t.mutex);
  for (size_t i = 0; i < t.size; ++i)
    result.Set(t.counters[i].name, Napi::Number::New(env, static_cast<double>(t.counters[i].live)));
  return result;
}

}  // namespace rxtls
