#include "property_keys.h"

#include "addon_data.h"

namespace rxtls {

namespace {

// In the order of Key.
constexpr const char* kNames[] = {
    "isServer",     "handshakeComplete", "protocol",      "cipher",        "cipherStandardName",
    "verifyResult", "verifyMessage",     "servername",    "resumed",       "group",
    "alpnProtocol", "signatureScheme",   "sentShutdown",  "receivedShutdown", "localAddress",
    "localPort",    "remoteAddress",     "remotePort",    "remoteFamily",
};
static_assert(sizeof(kNames) / sizeof(kNames[0]) == static_cast<size_t>(Key::kCount), "one name per Key");

}  // namespace

Napi::String PropertyKey(Napi::Env env, Key key) {
  // An array holds them: Node 20 makes references to objects only.
  Napi::ObjectReference& kept = GetAddonData(env)->keys;
  if (kept.IsEmpty()) {
    Napi::Array names = Napi::Array::New(env, static_cast<size_t>(Key::kCount));
    for (uint32_t i = 0; i < static_cast<uint32_t>(Key::kCount); ++i) names.Set(i, Napi::String::New(env, kNames[i]));
    kept = Napi::Persistent(names.As<Napi::Object>());
  }
  return kept.Value().Get(static_cast<uint32_t>(key)).As<Napi::String>();
}

}  // namespace rxtls
