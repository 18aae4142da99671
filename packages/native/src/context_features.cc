// Context methods of the optional TLS features: ALPN, SNI, keylog, session
// cache. Ticket keys live in ticket_keys.cc; the OpenSSL callbacks in
// context_data.cc.
#include <openssl/err.h>

#include <cctype>
#include <cstdlib>
#include <string>

#include "context.h"
#include "context_data.h"
#include "ssl_owner.h"
#include "util/addon_data.h"
#include "util/args.h"
#include "util/err_queue.h"
#include "util/errors.h"

namespace rxtls {
namespace {

// Session id context: OpenSSL refuses to resume a session on a server that
// verifies peers unless one is set; the value only has to be the same for
// every server that should resume the others' sessions.
constexpr unsigned char kSessionIdContext[] = "rxtls";

bool ValidServerName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  size_t start = name.rfind("*.", 0) == 0 ? 2 : 0;
  if (start == name.size()) return false;
  for (size_t i = start; i < name.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (!(std::isalnum(c) || c == '-' || c == '.' || c == '_')) return false;
  }
  return true;
}

Napi::Function OptionalFunction(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = Arg(info, i);
  if (IsMissing(v)) return Napi::Function();
  if (!v.IsFunction()) ThrowExpected(info.Env(), name, "a function or null");
  return v.As<Napi::Function>();
}

}  // namespace

void Context::ApplyFeatureDefaults(Napi::Env env) {
  if (role_ != Role::kClient) {
    if (SSL_CTX_set_session_id_context(ctx_, kSessionIdContext, sizeof kSessionIdContext - 1) != 1)
      ThrowOpenSSLError(env, kErrConfig, "could not set the session id context");
    InstallTicketPolicy(env, ctx_);
  }
  if (role_ != Role::kServer) {
    // Clients keep no internal cache: the session leaves through getSession()
    // and comes back through the `session` option. The callback only tells
    // the session that a (new) ticket arrived.
    long mode = role_ == Role::kClient ? SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE : SSL_SESS_CACHE_BOTH;
    SSL_CTX_set_session_cache_mode(ctx_, mode);
    SSL_CTX_sess_set_new_cb(ctx_, SslOwner::OnNewSession);
    SSL_CTX_set_info_callback(ctx_, SslOwner::OnInfo);
  }
  // SSLKEYLOGFILE, as browsers and curl honour it: every context made while
  // it is set appends its connections' secrets there.
  const char* keylog = std::getenv("SSLKEYLOGFILE");
  if (keylog != nullptr && keylog[0] != '\0') {
    EnsureContextData(env, ctx_)->keylog_file = keylog;
    SSL_CTX_set_keylog_callback(ctx_, KeylogCallback);
  }
}

// setAlpnProtocols(wire, rejectUnknown): protocols in wire format (each name
// prefixed by its length), most preferred first. Clients offer them; servers
// pick the first of theirs the client offers. An empty buffer turns ALPN off.
Napi::Value Context::SetAlpnProtocols(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = Get(env);
  auto busy = Busy();
  Bytes wire = BytesArg(info, 0, "protocols");
  bool reject = BoolArg(info, 1, "rejectUnknown");
  if (wire.size > 0 && !ValidAlpnWire(wire.data, wire.size))
    ThrowExpected(env, "protocols", "ALPN protocol names of 1 to 255 bytes in wire format");
  ClearErrorQueue();
  if (role_ != Role::kServer) {
    // SSL_CTX_set_alpn_protos returns 0 on success, unlike almost everything else.
    if (SSL_CTX_set_alpn_protos(ctx, wire.size ? wire.data : nullptr, static_cast<unsigned int>(wire.size)) != 0)
      ThrowOpenSSLError(env, kErrConfig, "could not set ALPN protocols");
  }
  if (role_ != Role::kClient) {
    ContextData* data = EnsureContextData(env, ctx);
    data->alpn.assign(reinterpret_cast<const char*>(wire.data), wire.size);
    data->alpn_reject = reject;
    SSL_CTX_set_alpn_select_cb(ctx, wire.size ? AlpnSelectCallback : nullptr, nullptr);
  }
  return env.Undefined();
}

// addServerNameContext(name, context): connections that ask for `name`
// ("*.example.com" matches one label) continue on `context`; null removes.
Napi::Value Context::AddServerNameContext(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = Get(env);
  auto busy = Busy();
  if (role_ == Role::kClient) ThrowError(env, kErrState, "server names are chosen by servers, not client contexts");
  std::string name = StringArg(info, 0, "servername");
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!ValidServerName(name)) ThrowExpected(env, "servername", "a host name, optionally starting with \"*.\"");
  SSL_CTX* target = nullptr;
  if (!IsMissing(Arg(info, 1))) {
    Context* other = UnwrapChecked<Context>(env, GetAddonData(env)->context_ctor, Arg(info, 1));
    if (other == nullptr) ThrowExpected(env, "context", "an SSLContext or null");
    if (other->role() == Role::kClient) ThrowExpected(env, "context", "a server or generic SSLContext");
    target = other->Get(env);
    if (target == ctx) ThrowExpected(env, "context", "another SSLContext than this one");
  }
  ContextData* data = EnsureContextData(env, ctx);
  for (auto it = data->sni.begin(); it != data->sni.end(); ++it) {
    if (it->first == name) {
      SSL_CTX_free(it->second);
      data->sni.erase(it);
      break;
    }
  }
  if (target != nullptr) {
    if (SSL_CTX_up_ref(target) != 1) ThrowOpenSSLError(env, kErrCrypto, "could not reference the context");
    data->sni.emplace_back(name, target);
  }
  SSL_CTX_set_tlsext_servername_callback(ctx, ServernameCallback);
  return env.Undefined();
}

// setServernameCallback(fn | null): fn(servername) returns the native
// context to continue on, or undefined for this one. Runs synchronously
// during the handshake; a throw fails the handshake with its error as cause.
Napi::Value Context::SetServernameCallback(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = Get(env);
  auto busy = Busy();
  if (role_ == Role::kClient) ThrowError(env, kErrState, "server names are chosen by servers, not client contexts");
  Napi::Function fn = OptionalFunction(info, 0, "callback");
  ContextData* data = EnsureContextData(env, ctx);
  data->sni_callback = fn.IsEmpty() ? Napi::FunctionReference() : Napi::Weak(fn);
  SSL_CTX_set_tlsext_servername_callback(ctx, ServernameCallback);
  return env.Undefined();
}

// setKeylogCallback(fn | null): fn(line) gets each NSS key log line.
Napi::Value Context::SetKeylogCallback(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = Get(env);
  auto busy = Busy();
  Napi::Function fn = OptionalFunction(info, 0, "callback");
  ContextData* data = EnsureContextData(env, ctx);
  data->keylog_callback = fn.IsEmpty() ? Napi::FunctionReference() : Napi::Weak(fn);
  bool any = !data->keylog_callback.IsEmpty() || !data->keylog_file.empty();
  SSL_CTX_set_keylog_callback(ctx, any ? KeylogCallback : nullptr);
  return env.Undefined();
}

// setSessionOptions(tickets, cacheSize, timeoutSeconds, renewAlways): tickets
// false sends none (resumption then uses the server's cache); cacheSize 0
// turns the server cache off; renewAlways 1 sends a new ticket on every
// resumption, 0 only when the ticket is stale (ticket_policy.cc); -1 keeps a
// value as it is.
Napi::Value Context::SetSessionOptions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = Get(env);
  auto busy = Busy();
  bool tickets = BoolArg(info, 0, "tickets");
  int64_t size = IntArg(info, 1, "cacheSize", -1, 1 << 24);
  int64_t timeout = IntArg(info, 2, "timeout", -1, 7 * 86400);
  int64_t renew = IsMissing(Arg(info, 3)) ? -1 : IntArg(info, 3, "renewAlways", -1, 1);
  if (renew >= 0 && role_ == Role::kClient)
    ThrowError(env, kErrState, "ticket renewal belongs to servers, not client contexts");
  if (tickets) SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
  else SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  if (size == 0) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_CTX_get_session_cache_mode(ctx) & ~SSL_SESS_CACHE_SERVER);
  } else if (size > 0) {
    SSL_CTX_sess_set_cache_size(ctx, static_cast<long>(size));
    if (role_ != Role::kClient)
      SSL_CTX_set_session_cache_mode(ctx, SSL_CTX_get_session_cache_mode(ctx) | SSL_SESS_CACHE_SERVER);
  }
  if (timeout >= 0) SSL_CTX_set_timeout(ctx, static_cast<long>(timeout));
  if (renew >= 0) EnsureContextData(env, ctx)->renew_tickets_always.store(renew == 1);
  return env.Undefined();
}

}  // namespace rxtls
