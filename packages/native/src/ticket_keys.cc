// Session ticket keys a server can set and rotate, so that several processes
// (or machines) behind one address resume each other's sessions: the same
// keys seal and open the same tickets everywhere.
#include <openssl/crypto.h>

#include <cstring>
#include <mutex>

#include "context.h"
#include "context_data.h"
#include "util/args.h"
#include "util/errors.h"

namespace rxtls {

// setTicketKeys(keys): n * 80 bytes, each key = name(16) | hmac(32) | aes(32).
// The first seals new tickets; all open tickets (those sealed with a later
// one are re-issued). Rotation: prepend a new key, drop the oldest later.
Napi::Value Context::SetTicketKeys(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = Get(env);
  auto busy = Busy();
  if (role_ == Role::kClient) ThrowError(env, kErrState, "ticket keys belong to servers, not client contexts");
  Napi::Value v = Arg(info, 0);
  Bytes keys;
  if (!v.IsTypedArray() || !ToBytes(v, &keys) || keys.size == 0 || keys.size % TicketKey::kSize != 0 ||
      keys.size > 64 * TicketKey::kSize)
    ThrowExpected(env, "keys", "a Buffer of 1 to 64 keys of 80 bytes each");
  std::vector<TicketKey> parsed(keys.size / TicketKey::kSize);
  for (size_t i = 0; i < parsed.size(); ++i) {
    const unsigned char* p = keys.data + i * TicketKey::kSize;
    std::memcpy(parsed[i].name.data(), p, 16);
    std::memcpy(parsed[i].hmac.data(), p + 16, 32);
    std::memcpy(parsed[i].aes.data(), p + 48, 32);
    for (size_t j = 0; j < i; ++j)
      if (std::memcmp(parsed[j].name.data(), parsed[i].name.data(), 16) == 0)
        ThrowExpected(env, "keys", "keys with distinct 16-byte names");
  }
  ContextData* data = EnsureContextData(env, ctx);
  {
    // TicketKeyCallback may be reading the list on a pool thread (handshakeOffload).
    std::lock_guard<std::mutex> lock(data->ticket_keys_mutex);
    data->ticket_keys.swap(parsed);
  }
  // The callbacks that read the list were installed with the context (ticket_policy.cc).
  OPENSSL_cleanse(parsed.data(), parsed.size() * sizeof(TicketKey));  // the old keys
  return env.Undefined();
}

// getTicketKeys(): the keys set by setTicketKeys, or null while the context
// uses the random key it was made with.
Napi::Value Context::GetTicketKeys(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = Get(env);
  auto busy = Busy();
  ContextData* data = GetContextData(ctx);
  if (data == nullptr || data->ticket_keys.empty()) return env.Null();
  Napi::Buffer<unsigned char> out = Napi::Buffer<unsigned char>::New(env, data->ticket_keys.size() * TicketKey::kSize);
  for (size_t i = 0; i < data->ticket_keys.size(); ++i) {
    unsigned char* p = out.Data() + i * TicketKey::kSize;
    std::memcpy(p, data->ticket_keys[i].name.data(), 16);
    std::memcpy(p + 16, data->ticket_keys[i].hmac.data(), 32);
    std::memcpy(p + 48, data->ticket_keys[i].aes.data(), 32);
  }
  return out;
}

}  // namespace rxtls
