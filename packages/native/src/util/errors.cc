#include "errors.h"

#include <openssl/err.h>

#include "addon_data.h"

namespace rxtls {
namespace {

Napi::Error Build(Napi::Env env, const char* code, const std::string& message, Napi::Object props, bool bare = false) {
  auto* data = env.GetInstanceData<AddonData>();
  if (data != nullptr && !data->error_factory.IsEmpty()) {
    Napi::Value made = data->error_factory.Call(
        {Napi::String::New(env, code), Napi::String::New(env, message), props, Napi::Boolean::New(env, bare)});
    if (made.IsObject()) return Napi::Error(env, made);
  }
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  Napi::Object obj = err.Value();
  Napi::Array keys = props.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); ++i) obj.Set(keys.Get(i), props.Get(keys.Get(i)));
  return err;
}

}  // namespace

void SetErrorFactory(Napi::Env env, Napi::Function factory) {
  GetAddonData(env)->error_factory = Napi::Persistent(factory);
}

Napi::Error MakeError(Napi::Env env, const char* code, const std::string& message) {
  return Build(env, code, message, Napi::Object::New(env));
}

Napi::Error MakeLoopError(Napi::Env env, const char* code, const std::string& message) {
  return Build(env, code, message, Napi::Object::New(env), true);
}

Napi::Error MakeOpenSSLError(Napi::Env env, const char* code, const std::string& what) {
  return MakeOpenSSLError(env, code, what, Napi::Object::New(env));
}

Napi::Error MakeOpenSSLError(Napi::Env env, const char* code, const std::string& what,
                             Napi::Object extra) {
  // The earliest entry is the root cause ("no start line", "certificate verify
  // failed"); later ones are the layers that passed it up.
  unsigned long first = 0;
  Napi::Array stack = Napi::Array::New(env);
  uint32_t n = 0;
  char buf[256];
  while (unsigned long e = ERR_get_error()) {
    if (first == 0) first = e;
    ERR_error_string_n(e, buf, sizeof buf);
    stack.Set(n++, Napi::String::New(env, buf));
  }
  std::string message = what;
  Napi::Object props = extra;
  if (first != 0) {
    const char* reason = ERR_reason_error_string(first);
    const char* lib = ERR_lib_error_string(first);
    std::string reason_s = reason ? reason : "unknown reason";
    message += ": " + reason_s;
    props.Set("reason", Napi::String::New(env, reason_s));
    props.Set("library", lib ? Napi::Value(Napi::String::New(env, lib)) : env.Null());
    props.Set("opensslCode", Napi::Number::New(env, static_cast<double>(first)));
  }
  props.Set("opensslStack", stack);
  return Build(env, code, message, props);
}

}  // namespace rxtls
