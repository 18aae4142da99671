// Per-environment state of the addon (one per main thread or worker).
#pragma once

#include <napi.h>

namespace rxtls {

struct AddonData {
  Napi::FunctionReference error_factory;  // (code, message, props) => Error, from JS
  Napi::FunctionReference context_ctor;   // to tell a real Context from any object
  Napi::FunctionReference fd_ssl_ctor;    // likewise FdSsl
  Napi::FunctionReference bio_ctor;       // likewise Bio (and to make wrappers for BIOs OpenSSL hands out)
  Napi::ObjectReference keys;  // the names of property_keys.h, as an array
};

// Creates the data on first use.
inline AddonData* GetAddonData(Napi::Env env) {
  auto* data = env.GetInstanceData<AddonData>();
  if (data == nullptr) {
    data = new AddonData();
    env.SetInstanceData(data);
  }
  return data;
}

// Unwraps `value` as T only if it was made by T's constructor; a plain object
// or another wrapped class would otherwise be reinterpreted as T.
// InstanceOf may run JS (a Proxy's getPrototypeOf trap), and a Proxy or an
// object made from the prototype passes it with no native object inside:
// both are "not a T" (nullptr), so the caller throws its own typed error.
template <typename T>
T* UnwrapChecked(Napi::Env env, const Napi::FunctionReference& ctor, Napi::Value value) {
  if (!value.IsObject() || ctor.IsEmpty()) return nullptr;
  try {
    if (!value.As<Napi::Object>().InstanceOf(ctor.Value())) return nullptr;
  } catch (const Napi::Error&) {
    return nullptr;
  }
  // Not ObjectWrap::Unwrap, which throws an uncoded error when nothing is wrapped.
  void* raw = nullptr;
  if (napi_unwrap(env, value, &raw) != napi_ok || raw == nullptr) return nullptr;
  return static_cast<T*>(raw);
}

}  // namespace rxtls
