#include "session.h"
#include "session_der.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <string>
#include <vector>

#include "context.h"
#include "context_data.h"
#include "ssl_client_options.h"
#include "ssl_failure.h"
#include "util/addon_data.h"
#include "util/args.h"
#include "util/counters.h"
#include "util/err_queue.h"
#include "util/errors.h"
#include "util/host_name.h"
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

BIO* NewMemBio() {
  BIO* b = BIO_new(BIO_s_mem());
  // An empty read BIO means "retry later", never EOF: more ciphertext may come.
  if (b != nullptr) BIO_set_mem_eof_return(b, -1);
  return b;
}

}  // namespace

void Session::NewSession(SSL* ssl, SSL_SESSION* session) {
  new_session_ = true;
  if (is_server_) KeepForStore(ssl, initial_ctx_, session, &store_);
}

Napi::Function Session::Init(Napi::Env env) {
  return DefineClass(env, "Session",
                     {
                         InstanceMethod("cycle", &Session::Cycle),
                         InstanceMethod("cycleAsync", &Session::CycleAsync),
                         InstanceMethod("write", &Session::Write),
                         InstanceMethod("shutdown", &Session::Shutdown),
                         InstanceMethod("info", &Session::Info),
                         InstanceMethod("peerCertificate", &Session::PeerCertificate),
                         InstanceMethod("peerCertificateChain", &Session::PeerCertificateChain),
                         InstanceMethod("exportKeyingMaterial", &Session::ExportKeyingMaterial),
                         InstanceMethod("getSession", &Session::GetSession),
                         InstanceMethod("verifyClientPostHandshake", &Session::VerifyClientPostHandshake),
                         InstanceMethod("free", &Session::Free),
                         InstanceMethod("isFreed", &Session::IsFreed),
                         InstanceMethod("pointer", &Session::Pointer),
                         InstanceMethod("sessionStoreRequest", &Session::SessionStoreRequest),
                         InstanceMethod("sessionStoreAnswer", &Session::SessionStoreAnswer),
                         InstanceMethod("takeStoreSessions", &Session::TakeStoreSessions),
                     });
}

// new Session(context, isServer, out, options?)
//   out: a JS array the session reuses for results: [clear, enc, error]
//   options.servername: string  — SNI to send (clients; ignored for IP literals)
//   options.verifyHost: string  — host name or IP the server certificate must match (clients)
//   options.verifyPeer: boolean — override the verify mode (default: a client verifies
//                                 the server unless the context's set_verify was called)
//   options.alpnProtocols: Buffer — ALPN offer in wire format (clients; overrides the context's)
//   options.session: Buffer     — a session from getSession() to resume (clients)
//   options.postHandshakeAuth: boolean — offer TLS 1.3 post-handshake authentication
//                                 (clients; default: when the context has a certificate)
Session::Session(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Session>(info) {
  Napi::Env env = info.Env();
  // JS values first: an options getter may run anything, free the context included.
  Context* context = UnwrapChecked<Context>(env, GetAddonData(env)->context_ctor, Arg(info, 0));
  if (context == nullptr) ThrowExpected(env, "context", "a Context");
  is_server_ = BoolArg(info, 1, "isServer");
  Napi::Value out = Arg(info, 2);
  if (!out.IsArray()) ThrowExpected(env, "out", "an Array");
  Napi::Value opts_v = Arg(info, 3);
  if (!IsMissing(opts_v) && !opts_v.IsObject()) ThrowExpected(env, "options", "an object");
  ClientSslOptions opts =
      IsMissing(opts_v) ? ClientSslOptions() : ReadClientSslOptions(env, opts_v.As<Napi::Object>(), is_server_);

  if (is_server_ && context->role() == Role::kClient)
    ThrowError(env, kErrState, "a server session needs a server or generic context, not a client context");
  if (!is_server_ && context->role() == Role::kServer)
    ThrowError(env, kErrState, "a client session needs a client or generic context, not a server context");
  // Checked after the getters ran: ERR_TLS_CLOSED if one freed the context.
  SSL_CTX* ctx = context->Get(env);
  // Our own reference for the constructor: whatever runs from here on (the
  // error factory is JS) cannot free the SSL_CTX under SSL_new and the setup.
  if (SSL_CTX_up_ref(ctx) != 1) ThrowOpenSSLError(env, kErrCrypto, "could not reference the context");
  struct CtxRef {
    SSL_CTX* ctx;
    ~CtxRef() { SSL_CTX_free(ctx); }
  } hold{ctx};
  bool verify_explicit = context->verify_explicit();

  ClearErrorQueue();
  ssl_ = SSL_new(ctx);
  enc_in_ = NewMemBio();
  enc_out_ = NewMemBio();
  if (ssl_ == nullptr || enc_in_ == nullptr || enc_out_ == nullptr) {
    BIO_free(enc_in_);
    BIO_free(enc_out_);
    if (ssl_ != nullptr) SSL_free(ssl_);
    ssl_ = nullptr;
    enc_in_ = enc_out_ = nullptr;
    ThrowOpenSSLError(env, kErrCrypto, "could not create SSL session");
  }
  SSL_set_bio(ssl_, enc_in_, enc_out_);  // ssl_ owns both from here
  try {
    if (!AttachTo(ssl_)) ThrowOpenSSLError(env, kErrCrypto, "could not attach the session to its SSL");
    if (is_server_) SSL_set_accept_state(ssl_);
    else ApplyClientSslOptions(env, ssl_, verify_explicit, opts);
  } catch (...) {
    // A constructor that throws runs no destructor: free what is made here.
    SSL_free(ssl_);
    ssl_ = nullptr;
    enc_in_ = enc_out_ = nullptr;
    throw;
  }
  out_ = Napi::Reference<Napi::Array>::New(out.As<Napi::Array>(), 1);
  CounterAdd("Session", 1);  // last: a constructor that throws has no destructor run
}

Session::~Session() {
  CounterAdd("Session", -1);
  // A worker in flight holds a reference to this object, so it cannot be
  // collected meanwhile; should teardown get here anyway, leak rather than
  // free the SSL under the worker.
  if (ssl_ != nullptr && !in_flight_) SSL_free(ssl_);
}

SSL* Session::Get(Napi::Env env) const {
  if (ssl_ == nullptr || free_pending_ || depth_.free_deferred()) ThrowError(env, kErrClosed, "session has been freed");
  if (in_flight_) ThrowError(env, kErrState, "a handshake step is running on the thread pool; wait for its callback");
  return ssl_;
}

SSL* Session::GetIdle(Napi::Env env, const char* what) const {
  SSL* ssl = Get(env);
  if (depth_.inside())
    ThrowError(env, kErrState, std::string(what) + "() while this session is inside another of its calls (from a callback or getter)");
  if (dead_) ThrowError(env, kErrState, "session has failed; create a new one");
  return ssl;
}

void Session::ThrowIfFreedDuring(Napi::Env env) const {
  if (depth_.free_deferred()) ThrowError(env, kErrClosed, "session was freed during the call; its results are void");
}

void Session::Release() {
  if (ssl_ == nullptr) return;
  SSL_free(ssl_);  // frees both BIOs
  ssl_ = nullptr;
  enc_in_ = enc_out_ = nullptr;
  out_.Reset();
  ClearCallbackError();
  store_.Clear();
}

Napi::Value Session::CallbackError(Napi::Env env) {
  dead_ = true;
  return TakeCallbackFailure(env, handshake_done_).Value();
}

Napi::Value Session::FatalError(Napi::Env env, int err, const char* during) {
  dead_ = true;
  if (has_callback_error()) return CallbackError(env);
  // Memory BIOs never report EOF; a syscall error with an empty queue is the nearest thing.
  bool eof = (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) || IsUnexpectedEof(ERR_peek_last_error());
  Napi::Object extra = Napi::Object::New(env);
  SslFailure failure = DescribeSslFailure(env, ssl_, during, eof, extra);
  return MakeOpenSSLError(env, failure.code, failure.what, extra).Value();
}

bool Session::Fail(Napi::Env env, int ret, int* flags, const char* during) {
  return FailWith(env, SSL_get_error(ssl_, ret), flags, during);
}

bool Session::FailWith(Napi::Env env, int err, int* flags, const char* during) {
  switch (err) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      return false;
    case SSL_ERROR_ZERO_RETURN:
      *flags |= kFlagPeerClosed;
      return false;
    case SSL_ERROR_WANT_CLIENT_HELLO_CB:
      // Paused for the session store (session_store.cc); cycle() again once answered.
      if (store_.phase != SessionStoreState::Phase::kPending) break;
      *flags |= kFlagSessionLookup;
      return false;
    default:
      break;
  }
  *flags |= kFlagError;
  Napi::Value error = FatalError(env, err, during);
  out_.Value().Set(2u, error);
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
void Session::FeedArgs(const Napi::CallbackInfo& info, size_t index) {
  Napi::Env env = info.Env();
  Napi::Value chunk = Arg(info, index);
  if (IsMissing(chunk)) return;
  // Type checks only (no getter, no valueOf runs): the view stays valid up to BIO_write.
  Bytes in;
  if (!chunk.IsTypedArray() || !ToBytes(chunk, &in)) ThrowExpected(env, "chunk", "a Buffer or Uint8Array");
  size_t len = in.size;
  if (!IsMissing(Arg(info, index + 1)))
    len = static_cast<size_t>(IntArg(info, index + 1, "length", 0, static_cast<int64_t>(in.size)));
  if (len > 0 && BIO_write(enc_in_, in.data, static_cast<int>(len)) != static_cast<int>(len))
    ThrowOpenSSLError(env, kErrCrypto, "could not buffer ciphertext");
}

bool Session::AfterHandshakeStep(Napi::Env env, int r, int err, int* flags) {
  bool failed = r != 1 && FailWith(env, err, flags, "handshake");
  // A callback OpenSSL cannot fail (keylog) may have thrown all the same.
  if (!failed && has_callback_error()) {
    *flags |= kFlagError;
    Napi::Value error = CallbackError(env);
    out_.Value().Set(2u, error);
    failed = true;
  }
  if (failed) {
    DrainEncOut(env, flags);  // the alert that tells the peer why
    return false;
  }
  if (r == 1) {
    handshake_done_ = true;
    *flags |= kFlagSecure;
  }
  return true;
}

Napi::Value Session::Cycle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GetIdle(env, "cycle");
  auto busy = Busy();
  FeedArgs(info, 0);
  int flags = Step(env);
  ThrowIfFreedDuring(env);
  return Napi::Number::New(env, flags);
}

int Session::Step(Napi::Env env) {
  int flags = 0;
  ClearErrorQueue();
  if (!handshake_done_) {
    int r = SSL_do_handshake(ssl_);
    if (!AfterHandshakeStep(env, r, r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, r), &flags)) return flags;
  }
  FinishCycle(env, &flags);
  return flags;
}

void Session::FinishCycle(Napi::Env env, int* flags_out) {
  int flags = *flags_out;
  // After the handshake SSL_read also runs post-handshake messages: tickets,
  // key updates, and the client's answer to a post-handshake CertificateRequest.
  if (handshake_done_ && (SSL_get_shutdown(ssl_) & SSL_RECEIVED_SHUTDOWN) == 0) {
    std::vector<char>& scratch = ClearScratch();
    size_t used = 0;
    int err = SSL_ERROR_NONE;
    for (;;) {
      if (scratch.size() - used < kClearOutChunkSize) scratch.resize(scratch.size() * 2);
      size_t n = 0;
      if (SSL_read_ex(ssl_, scratch.data() + used, scratch.size() - used, &n) == 1) {
        used += n;
        continue;
      }
      err = SSL_get_error(ssl_, 0);
      break;
    }
    // Copied out of the shared scratch area before anything can run JS (the
    // error factory, a setter on `out`), which could cycle another session.
    Napi::Value clear = used > 0 ? Napi::Value(Napi::Buffer<char>::Copy(env, scratch.data(), used)) : Napi::Value();
    // A burst of large records should not pin a large scratch area forever.
    if (scratch.size() > 64 * kClearOutChunkSize) std::vector<char>(4 * kClearOutChunkSize).swap(scratch);
    FailWith(env, err, &flags, "read");
    // Records decrypted before a fatal error are the peer's data: they are
    // delivered with it (ClearOut and Error together).
    if (used > 0) {
      out_.Value().Set(0u, clear);
      flags |= kFlagClearOut;
    }
  }
  // Rare events, tested together so the common cycle pays one branch.
  if (pha_pending_ | new_session_) {
    if (pha_pending_ && !dead_ && SSL_is_init_finished(ssl_)) {
      pha_pending_ = false;
      flags |= kFlagPeerCertificate;
    }
    if (new_session_) {
      new_session_ = false;
      flags |= kFlagSession;
    }
  }
  DrainEncOut(env, &flags);
  *flags_out = flags;
}

namespace {

bool IsChunk(const Napi::Value& v) {
  return v.IsString() || (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array);
}

}  // namespace

// write(data | data[]): encrypt plaintext; ciphertext goes to out[1]. Either
// returns the flags or throws: a bad argument or state (nothing is written,
// the session is as it was), or a failed SSL_write (the session is dead and
// `out` untouched).
Napi::Value Session::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GetIdle(env, "write");
  // State first (so a misuse reads as one whatever the arguments), and again
  // after the arguments were read.
  auto check_state = [&] {
    Get(env);
    if (dead_) ThrowError(env, kErrState, "session has failed; create a new one");
    if (!handshake_done_) ThrowError(env, kErrState, "cannot write before the handshake completes");
    if (pha_pending_) ThrowError(env, kErrState, "cannot write while a post-handshake authentication is running");
    if (SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN) ThrowError(env, kErrState, "cannot write after shutdown");
  };
  check_state();
  auto busy = Busy();
  // Every chunk is read (array getters run here) and type-checked before any
  // byte is written; their bytes are viewed only when no JS can run any more.
  std::vector<Napi::Value> chunks;
  Napi::Value data = Arg(info, 0);
  if (data.IsArray()) {
    Napi::Array arr = data.As<Napi::Array>();
    uint32_t n = arr.Length();
    chunks.reserve(n);
    for (uint32_t i = 0; i < n; ++i) chunks.push_back(arr.Get(i));
  } else {
    chunks.push_back(data);
  }
  for (const Napi::Value& v : chunks)
    if (!IsChunk(v)) ThrowExpected(env, "data", "a Buffer, Uint8Array, string or an array of them");
  // Again: a getter may have freed, failed or shut down the session meanwhile.
  ThrowIfFreedDuring(env);
  check_state();
  for (const Napi::Value& v : chunks) {
    Bytes b;
    ToBytes(v, &b);
    if (b.size == 0) continue;
    ClearErrorQueue();
    size_t written = 0;
    // Memory BIOs grow as needed, so one call writes the whole chunk.
    if (SSL_write_ex(ssl_, b.data, b.size, &written) != 1 || written != b.size) {
      int err = SSL_get_error(ssl_, 0);
      // Part of the data may be encrypted already: nothing more can be sent
      // consistently, so the session is dead, whatever OpenSSL's answer was.
      throw Napi::Error(env, FatalError(env, err, "write"));
    }
  }
  int flags = 0;
  DrainEncOut(env, &flags);
  return Napi::Number::New(env, flags);
}

// shutdown(): queue close_notify (out[1]). Returns flags; kFlagPeerClosed if the
// peer's close_notify had already arrived.
Napi::Value Session::Shutdown(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Get(env);
  if (depth_.inside())
    ThrowError(env, kErrState, "shutdown() while this session is inside another of its calls (from a callback or getter)");
  int flags = 0;
  // Before the handshake completes there is no session to close: nothing to send.
  if (dead_ || !handshake_done_) return Napi::Number::New(env, flags);
  auto busy = Busy();
  if ((SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN) == 0) {
    ClearErrorQueue();
    int r = SSL_shutdown(ssl_);
    if (r < 0) {
      int err = SSL_get_error(ssl_, r);
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) throw Napi::Error(env, FatalError(env, err, "shutdown"));
    }
    ClearErrorQueue();
  }
  if (SSL_get_shutdown(ssl_) & SSL_RECEIVED_SHUTDOWN) flags |= kFlagPeerClosed;
  DrainEncOut(env, &flags);
  ThrowIfFreedDuring(env);
  return Napi::Number::New(env, flags);
}

// free(): at once, or, while the session is inside one of its calls (a
// callback or getter called free()), at the end of the outermost call, which
// then throws ERR_TLS_CLOSED. From then on the session reads as freed.
Napi::Value Session::Free(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ssl_ == nullptr || free_pending_ || depth_.free_deferred())
    ThrowError(env, kErrClosed, "session has already been freed");
  if (in_flight_) {
    // The worker owns the SSL until it completes; its completion frees it.
    free_pending_ = true;
    return env.Undefined();
  }
  if (depth_.inside()) {
    depth_.DeferFree();
    return env.Undefined();
  }
  Release();
  return env.Undefined();
}

Napi::Value Session::IsFreed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), ssl_ == nullptr || free_pending_ || depth_.free_deferred());
}

Napi::Value Session::Pointer(const Napi::CallbackInfo& info) {
  SSL* ssl = Get(info.Env());
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(ssl)));
}

}  // namespace rxtls
