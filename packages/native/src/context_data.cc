#include "context_data.h"

#include <openssl/err.h>

#include <cctype>
#include <cstdio>
#include <cstring>

#include "context.h"
#include "ssl_owner.h"
#include "util/addon_data.h"
#include "util/errors.h"

namespace rxtls {
namespace {

void FreeData(void* parent, void* ptr, CRYPTO_EX_DATA* ad, int idx, long argl, void* argp) {
  delete static_cast<ContextData*>(ptr);
}

int DataIndex() {
  // Registered once per process; the free function runs from SSL_CTX_free.
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeData);
  return index;
}

std::string Lower(const char* s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool NameMatches(const std::string& pattern, const std::string& name) {
  if (pattern == name) return true;
  // "*.example.com" matches exactly one extra label: a.example.com, not example.com or a.b.example.com.
  if (pattern.size() > 2 && pattern[0] == '*' && pattern[1] == '.') {
    size_t dot = name.find('.');
    return dot != std::string::npos && dot > 0 && name.compare(dot, std::string::npos, pattern, 1) == 0;
  }
  return false;
}

// Calls a JS callback from inside an OpenSSL callback. OpenSSL's C frames
// must never see a C++ exception: an exception thrown by the user's callback
// is recorded on the SSL's owner (which reports it as the failure of the call
// that ran OpenSSL) and false is returned so the caller can abort the handshake.
bool CallJs(SSL* ssl, const Napi::FunctionReference& ref, const std::vector<napi_value>& args, Napi::Value* result,
            const char* what) {
  Napi::Env env = ref.Env();
  SslOwner* session = SslOwner::FromSSL(ssl);
  try {
    Napi::Function fn = ref.Value();
    if (fn.IsEmpty()) return true;  // collected with its SSLContext: nothing to call
    Napi::Value r = fn.Call(args);
    if (result != nullptr) *result = r;
    return true;
  } catch (const Napi::Error& e) {
    if (session != nullptr) session->RecordCallbackError(env, e.Value(), what);
    return false;
  } catch (...) {
    if (session != nullptr) session->RecordCallbackError(env, env.Undefined(), what);
    return false;
  }
}

bool SwitchContext(SSL* ssl, SSL_CTX* ctx) {
  if (SSL_set_SSL_CTX(ssl, ctx) != ctx) return false;
  // The chosen context's client-certificate policy applies from here: a name
  // may require mTLS while the default does not; its verify callback too
  // (requestCert: 'unverified').
  SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx), SSL_CTX_get_verify_callback(ctx));
  return true;
}

}  // namespace

static int ChooseContext(SSL* ssl, int* alert);
static void LogLine(const SSL* ssl, const char* line);

bool ValidAlpnWire(const unsigned char* data, size_t size) {
  size_t i = 0;
  while (i < size) {
    size_t len = data[i];
    if (len == 0 || i + 1 + len > size) return false;
    i += 1 + len;
  }
  return size > 0 && size <= 0xffff;
}

ContextData::~ContextData() {
  for (auto& entry : sni) SSL_CTX_free(entry.second);
  OPENSSL_cleanse(ticket_keys.data(), ticket_keys.size() * sizeof(TicketKey));
  OPENSSL_cleanse(&own_ticket_key, sizeof own_ticket_key);
}

ContextData* GetContextData(SSL_CTX* ctx) { return static_cast<ContextData*>(SSL_CTX_get_ex_data(ctx, DataIndex())); }

ContextData* EnsureContextData(Napi::Env env, SSL_CTX* ctx) {
  ContextData* data = GetContextData(ctx);
  if (data != nullptr) return data;
  if (DataIndex() < 0) ThrowOpenSSLError(env, kErrCrypto, "could not register context data");
  data = new ContextData();
  data->env = env;
  if (SSL_CTX_set_ex_data(ctx, DataIndex(), data) != 1) {
    delete data;
    ThrowOpenSSLError(env, kErrCrypto, "could not attach context data");
  }
  return data;
}

int ServernameCallback(SSL* ssl, int* alert, void* arg) {
  // Nothing may unwind through OpenSSL: any failure here (a JS value that
  // cannot be made, a JS error while checking the result) fails this handshake.
  try {
    return ChooseContext(ssl, alert);
  } catch (...) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
}

static int ChooseContext(SSL* ssl, int* alert) {
  const char* raw = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  // Resolve against the context the connection started on: its table and callback.
  ContextData* data = GetContextData(SSL_get_SSL_CTX(ssl));
  if (raw == nullptr || data == nullptr) return SSL_TLSEXT_ERR_OK;
  std::string name = Lower(raw);
  for (auto& entry : data->sni) {
    if (NameMatches(entry.first, name)) {
      if (SwitchContext(ssl, entry.second)) return SSL_TLSEXT_ERR_OK;
      *alert = SSL_AD_INTERNAL_ERROR;
      return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
  }
  if (data->sni_callback.IsEmpty()) return SSL_TLSEXT_ERR_OK;
  // On a pool thread (a callback set while an offloaded step was queued): no
  // JS can run here, and choosing without it would be a silent wrong answer.
  if (std::this_thread::get_id() != data->js_thread) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  Napi::Env env(data->env);
  Napi::Value chosen;
  if (!CallJs(ssl, data->sni_callback, {Napi::String::New(env, raw)}, &chosen, "servername callback")) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  if (chosen.IsEmpty() || chosen.IsUndefined() || chosen.IsNull()) return SSL_TLSEXT_ERR_OK;
  Context* context = UnwrapChecked<Context>(env, GetAddonData(env)->context_ctor, chosen);
  SSL_CTX* ctx = context != nullptr ? context->Peek() : nullptr;
  if (ctx == nullptr || context->role() == Role::kClient) {
    SslOwner* session = SslOwner::FromSSL(ssl);
    if (session != nullptr)
      session->RecordCallbackError(
          env, MakeError(env, kErrInvalidArgument, "servername callback returned neither a live server SSLContext nor undefined").Value(),
          "servername callback");
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  if (SwitchContext(ssl, ctx)) return SSL_TLSEXT_ERR_OK;
  *alert = SSL_AD_INTERNAL_ERROR;
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

int AlpnSelectCallback(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                       unsigned int inlen, void* arg) {
  ContextData* data = GetContextData(SSL_get_SSL_CTX(ssl));
  if (data == nullptr || data->alpn.empty()) return SSL_TLSEXT_ERR_NOACK;
  unsigned char* selected = nullptr;
  unsigned char selected_len = 0;
  // Server preference order: the first of ours the client also offers.
  int r = SSL_select_next_proto(&selected, &selected_len, reinterpret_cast<const unsigned char*>(data->alpn.data()),
                                static_cast<unsigned int>(data->alpn.size()), in, inlen);
  if (r == OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    *outlen = selected_len;
    return SSL_TLSEXT_ERR_OK;
  }
  return data->alpn_reject ? SSL_TLSEXT_ERR_ALERT_FATAL : SSL_TLSEXT_ERR_NOACK;
}

void KeylogCallback(const SSL* ssl, const char* line) {
  try {
    LogLine(ssl, line);
  } catch (...) {
    // Nothing may unwind through OpenSSL; CallJs already recorded a JS error.
  }
}

static void LogLine(const SSL* ssl, const char* line) {
  ContextData* data = GetContextData(SSL_get_SSL_CTX(ssl));
  if (data == nullptr) return;
  if (!data->keylog_file.empty()) {
    // Appended one line per open: several processes may share the file, and
    // an O_APPEND write of one short line is not interleaved with theirs.
    if (FILE* f = std::fopen(data->keylog_file.c_str(), "a")) {
      std::fprintf(f, "%s\n", line);
      std::fclose(f);
    }
  }
  // Off the JS thread (an offloaded step) the line cannot reach JS: dropped.
  if (!data->keylog_callback.IsEmpty() && std::this_thread::get_id() == data->js_thread) {
    Napi::Env env(data->env);
    CallJs(const_cast<SSL*>(ssl), data->keylog_callback, {Napi::String::New(env, line)}, nullptr, "keylog callback");
  }
}

}  // namespace rxtls
