#include "session.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <string>
#include <vector>

#include "context.h"
#include "util/addon_data.h"
#include "util/args.h"
#include "util/errors.h"
#include "x509.h"

namespace rxtls {
namespace {

constexpr size_t kClearOutChunkSize = 16384;

// One plaintext scratch area per thread instead of one per session: an idle
// session then costs only OpenSSL's own state.
std::vector<char>& ClearScratch() {
  thread_local std::vector<char> scratch(4 * kClearOutChunkSize);
  return scratch;
}

bool IsIpAddress(const std::string& host) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

BIO* NewMemBio() {
  BIO* b = BIO_new(BIO_s_mem());
  // An empty read BIO means "retry later", never EOF: more ciphertext may come.
  if (b != nullptr) BIO_set_mem_eof_return(b, -1);
  return b;
}

}  // namespace

Napi::Function Session::Init(Napi::Env env) {
  return DefineClass(env, "Session",
                     {
                         InstanceMethod("cycle", &Session::Cycle),
                         InstanceMethod("write", &Session::Write),
                         InstanceMethod("shutdown", &Session::Shutdown),
                         InstanceMethod("info", &Session::Info),
                         InstanceMethod("peerCertificate", &Session::PeerCertificate),
                         InstanceMethod("free", &Session::Free),
                         InstanceMethod("isFreed", &Session::IsFreed),
                         InstanceMethod("pointer", &Session::Pointer),
                     });
}

// new Session(context, isServer, out, options?)
//   out: a JS array the session reuses for results: [clear, enc, error]
//   options.servername: string  — SNI to send (clients; ignored for IP literals)
//   options.verifyHost: string  — host name or IP the server certificate must match (clients)
//   options.verifyPeer: boolean — override the verify mode (default: a client verifies
//                                 the server unless the context's set_verify was called)
Session::Session(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Session>(info) {
  Napi::Env env = info.Env();
  Context* context = UnwrapChecked<Context>(env, GetAddonData(env)->context_ctor, Arg(info, 0));
  if (context == nullptr) ThrowExpected(env, "context", "a Context");
  SSL_CTX* ctx = context->Get(env);
  is_server_ = BoolArg(info, 1, "isServer");
  Napi::Value out = Arg(info, 2);
  if (!out.IsArray()) ThrowExpected(env, "out", "an Array");
  Napi::Value opts_v = Arg(info, 3);
  if (!IsMissing(opts_v) && !opts_v.IsObject()) ThrowExpected(env, "options", "an object");
  Napi::Object opts = IsMissing(opts_v) ? Napi::Object::New(env) : opts_v.As<Napi::Object>();

  if (is_server_ && context->role() == Role::kClient)
    ThrowError(env, kErrState, "a server session needs a server or generic context, not a client context");
  if (!is_server_ && context->role() == Role::kServer)
    ThrowError(env, kErrState, "a client session needs a client or generic context, not a server context");

  std::string servername, verify_host;
  if (!IsMissing(opts.Get("servername"))) {
    if (!opts.Get("servername").IsString()) ThrowExpected(env, "servername", "a string");
    servername = opts.Get("servername").As<Napi::String>().Utf8Value();
  }
  if (!IsMissing(opts.Get("verifyHost"))) {
    if (!opts.Get("verifyHost").IsString()) ThrowExpected(env, "verifyHost", "a string");
    verify_host = opts.Get("verifyHost").As<Napi::String>().Utf8Value();
  }
  Napi::Value verify_peer = opts.Get("verifyPeer");
  if (!IsMissing(verify_peer) && !verify_peer.IsBoolean()) ThrowExpected(env, "verifyPeer", "a boolean");

  ERR_clear_error();
  ssl_ = SSL_new(ctx);
  enc_in_ = NewMemBio();
  enc_out_ = NewMemBio();
  if (ssl_ == nullptr || enc_in_ == nullptr || enc_out_ == nullptr) {
    BIO_free(enc_in_);
    BIO_free(enc_out_);
    if (ssl_ != nullptr) SSL_free(ssl_);
    ssl_ = nullptr;
    ThrowOpenSSLError(env, kErrCrypto, "could not create SSL session");
  }
  SSL_set_bio(ssl_, enc_in_, enc_out_);  // ssl_ owns both from here
  if (is_server_) {
    SSL_set_accept_state(ssl_);
  } else {
    SSL_set_connect_state(ssl_);
    bool verify = verify_peer.IsBoolean() ? verify_peer.As<Napi::Boolean>().Value() : !context->verify_explicit();
    if (verify_peer.IsBoolean() || !context->verify_explicit())
      SSL_set_verify(ssl_, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
    if (!servername.empty() && !IsIpAddress(servername) &&
        SSL_set_tlsext_host_name(ssl_, servername.c_str()) != 1)
      ThrowOpenSSLError(env, kErrInvalidArgument, "could not set server name '" + servername + "'");
    if (!verify_host.empty()) {
      int ok = IsIpAddress(verify_host)
                   ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), verify_host.c_str())
                   : SSL_set1_host(ssl_, verify_host.c_str());
      if (ok != 1) ThrowOpenSSLError(env, kErrInvalidArgument, "could not set host to verify '" + verify_host + "'");
    }
  }
  out_ = Napi::Reference<Napi::Array>::New(out.As<Napi::Array>(), 1);
}

Session::~Session() {
  if (ssl_ != nullptr) SSL_free(ssl_);
}

SSL* Session::Get(Napi::Env env) const {
  if (ssl_ == nullptr) ThrowError(env, kErrClosed, "session has been freed");
  return ssl_;
}

bool Session::Fail(Napi::Env env, int ret, int* flags, const char* during) {
  int err = SSL_get_error(ssl_, ret);
  switch (err) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      return false;
    case SSL_ERROR_ZERO_RETURN:
      *flags |= kFlagPeerClosed;
      return false;
    default:
      break;
  }
  dead_ = true;
  *flags |= kFlagError;
  bool in_handshake = !SSL_is_init_finished(ssl_);
  long verify = SSL_get_verify_result(ssl_);
  Napi::Object extra = Napi::Object::New(env);
  const char* code = in_handshake ? kErrHandshake : kErrProtocol;
  std::string what = std::string("TLS ") + during + " failed";
  if (in_handshake && verify != X509_V_OK) {
    code = kErrCertVerify;
    const char* msg = X509_verify_cert_error_string(verify);
    extra.Set("verifyCode", Napi::Number::New(env, static_cast<double>(verify)));
    extra.Set("verifyMessage", Napi::String::New(env, msg));
    what = std::string("certificate verification failed (") + msg + ")";
  } else if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
    what = std::string("TLS ") + during + " failed: unexpected end of input";
  }
  out_.Value().Set(2u, MakeOpenSSLError(env, code, what, extra).Value());
  return true;
}

void Session::DrainEncOut(Napi::Env env, int* flags) {
  size_t pending = BIO_ctrl_pending(enc_out_);
  if (pending == 0) return;
  // BIO_read straight into the Buffer that leaves: one copy, the one OpenSSL needs.
  Napi::Buffer<char> buf = Napi::Buffer<char>::New(env, pending);
  int n = BIO_read(enc_out_, buf.Data(), static_cast<int>(pending));
  if (n != static_cast<int>(pending)) ThrowOpenSSLError(env, kErrCrypto, "could not drain ciphertext");
  out_.Value().Set(1u, buf);
  *flags |= kFlagEncOut;
}

// cycle([chunk[, length]]): feed ciphertext that arrived, advance the
// handshake, decrypt every complete record. Returns CycleFlag bits; results
// are in out[0] (plaintext), out[1] (ciphertext to send), out[2] (error).
Napi::Value Session::Cycle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Get(env);
  if (dead_) ThrowError(env, kErrState, "session has failed; create a new one");
  int flags = 0;
  Napi::Value chunk = Arg(info, 0);
  if (!IsMissing(chunk)) {
    Bytes in;
    if (!chunk.IsTypedArray() || !ToBytes(chunk, &in)) ThrowExpected(env, "chunk", "a Buffer or Uint8Array");
    size_t len = in.size;
    if (!IsMissing(Arg(info, 1))) len = static_cast<size_t>(IntArg(info, 1, "length", 0, static_cast<int64_t>(in.size)));
    if (len > 0 && BIO_write(enc_in_, in.data, static_cast<int>(len)) != static_cast<int>(len))
      ThrowOpenSSLError(env, kErrCrypto, "could not buffer ciphertext");
  }
  ERR_clear_error();
  if (!SSL_is_init_finished(ssl_)) {
    int r = SSL_do_handshake(ssl_);
    if (r == 1) {
      flags |= kFlagSecure;
    } else if (Fail(env, r, &flags, "handshake")) {
      DrainEncOut(env, &flags);  // the alert that tells the peer why
      return Napi::Number::New(env, flags);
    }
  }
  if (SSL_is_init_finished(ssl_) && (SSL_get_shutdown(ssl_) & SSL_RECEIVED_SHUTDOWN) == 0) {
    std::vector<char>& scratch = ClearScratch();
    size_t used = 0;
    for (;;) {
      if (scratch.size() - used < kClearOutChunkSize) scratch.resize(scratch.size() * 2);
      size_t n = 0;
      if (SSL_read_ex(ssl_, scratch.data() + used, scratch.size() - used, &n) == 1) {
        used += n;
        continue;
      }
      Fail(env, 0, &flags, "read");
      break;
    }
    if (used > 0) {
      out_.Value().Set(0u, Napi::Buffer<char>::Copy(env, scratch.data(), used));
      flags |= kFlagClearOut;
    }
    // A burst of large records should not pin a large scratch area forever.
    if (scratch.size() > 64 * kClearOutChunkSize) std::vector<char>(4 * kClearOutChunkSize).swap(scratch);
  }
  DrainEncOut(env, &flags);
  return Napi::Number::New(env, flags);
}

// write(data | data[]): encrypt plaintext; ciphertext goes to out[1].
Napi::Value Session::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Get(env);
  if (dead_) ThrowError(env, kErrState, "session has failed; create a new one");
  if (!SSL_is_init_finished(ssl_)) ThrowError(env, kErrState, "cannot write before the handshake completes");
  if (SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN) ThrowError(env, kErrState, "cannot write after shutdown");
  int flags = 0;
  auto write_one = [&](const Napi::Value& v) {
    Bytes b;
    if (!ToBytes(v, &b)) ThrowExpected(env, "data", "a Buffer, Uint8Array, string or an array of them");
    if (b.size == 0) return;
    ERR_clear_error();
    size_t written = 0;
    // Memory BIOs grow as needed, so one call writes the whole chunk.
    if (SSL_write_ex(ssl_, b.data, b.size, &written) != 1 || written != b.size) {
      int ret = 0;
      if (!Fail(env, ret, &flags, "write")) ThrowOpenSSLError(env, kErrProtocol, "TLS write did not complete");
      throw Napi::Error(env, out_.Value().Get(2u));
    }
  };
  Napi::Value data = Arg(info, 0);
  if (data.IsArray()) {
    Napi::Array arr = data.As<Napi::Array>();
    for (uint32_t i = 0, n = arr.Length(); i < n; ++i) write_one(arr.Get(i));
  } else {
    write_one(data);
  }
  DrainEncOut(env, &flags);
  return Napi::Number::New(env, flags);
}

// shutdown(): queue close_notify (out[1]). Returns flags; kFlagPeerClosed if the
// peer's close_notify had already arrived.
Napi::Value Session::Shutdown(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Get(env);
  int flags = 0;
  // Before the handshake completes there is no session to close: nothing to send.
  if (dead_ || !SSL_is_init_finished(ssl_)) return Napi::Number::New(env, flags);
  if ((SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN) == 0) {
    ERR_clear_error();
    int r = SSL_shutdown(ssl_);
    if (r < 0) {
      int err = SSL_get_error(ssl_, r);
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
        ThrowOpenSSLError(env, kErrProtocol, "TLS shutdown failed");
    }
    ERR_clear_error();
  }
  if (SSL_get_shutdown(ssl_) & SSL_RECEIVED_SHUTDOWN) flags |= kFlagPeerClosed;
  DrainEncOut(env, &flags);
  return Napi::Number::New(env, flags);
}

Napi::Value Session::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL* ssl = Get(env);
  Napi::Object o = Napi::Object::New(env);
  bool done = SSL_is_init_finished(ssl);
  o.Set("isServer", Napi::Boolean::New(env, is_server_));
  o.Set("handshakeComplete", Napi::Boolean::New(env, done));
  o.Set("protocol", done ? Napi::Value(Napi::String::New(env, SSL_get_version(ssl))) : env.Null());
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  o.Set("cipher", cipher ? Napi::Value(Napi::String::New(env, SSL_CIPHER_get_name(cipher))) : env.Null());
  o.Set("cipherStandardName",
        cipher ? Napi::Value(Napi::String::New(env, SSL_CIPHER_standard_name(cipher))) : env.Null());
  long verify = SSL_get_verify_result(ssl);
  o.Set("verifyResult", Napi::Number::New(env, static_cast<double>(verify)));
  o.Set("verifyMessage", Napi::String::New(env, X509_verify_cert_error_string(verify)));
  const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  o.Set("servername", sni ? Napi::Value(Napi::String::New(env, sni)) : env.Null());
  o.Set("resumed", Napi::Boolean::New(env, SSL_session_reused(ssl) == 1));
  int group = done ? SSL_get_negotiated_group(ssl) : 0;
  const char* group_name = group != 0 ? SSL_group_to_name(ssl, group) : nullptr;
  o.Set("group", group_name ? Napi::Value(Napi::String::New(env, group_name)) : env.Null());
  int shut = SSL_get_shutdown(ssl);
  o.Set("sentShutdown", Napi::Boolean::New(env, (shut & SSL_SENT_SHUTDOWN) != 0));
  o.Set("receivedShutdown", Napi::Boolean::New(env, (shut & SSL_RECEIVED_SHUTDOWN) != 0));
  return o;
}

Napi::Value Session::PeerCertificate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL* ssl = Get(env);
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return env.Null();
  Napi::Value summary;
  try {
    summary = CertificateSummary(env, cert);
  } catch (...) {
    X509_free(cert);
    throw;
  }
  X509_free(cert);
  return summary;
}

Napi::Value Session::Free(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ssl_ == nullptr) ThrowError(env, kErrClosed, "session has already been freed");
  SSL_free(ssl_);  // frees both BIOs
  ssl_ = nullptr;
  enc_in_ = enc_out_ = nullptr;
  out_.Reset();
  return env.Undefined();
}

Napi::Value Session::IsFreed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), ssl_ == nullptr);
}

Napi::Value Session::Pointer(const Napi::CallbackInfo& info) {
  SSL* ssl = Get(info.Env());
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(ssl)));
}

}  // namespace rxtls
