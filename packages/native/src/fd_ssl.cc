#include "fd_ssl.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#include "context.h"
#include "context_data.h"
#include "fd_busy.h"
#include "session_der.h"
#include "ssl_failure.h"
#include "ssl_queries.h"
#include "util/addon_data.h"
#include "util/args.h"
#include "util/counters.h"
#include "util/err_queue.h"
#include "util/errors.h"
#include "util/host_name.h"
#include "util/socket_fd.h"

namespace rxtls {
namespace {

constexpr int64_t kMaxRead = 16 * 1024 * 1024;

// The numeric address of the peer of socket `fd`, or "" if it has none.
std::string PeerAddress(int fd) {
  if (fd < 0) return std::string();
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return std::string();
  char buf[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, buf, sizeof(buf));
  } else if (ss.ss_family == AF_INET6) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
    // A v4-mapped peer on a dual-stack socket is the IPv4 address it names.
    if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) inet_ntop(AF_INET, &a6->sin6_addr.s6_addr[12], buf, sizeof(buf));
    else inet_ntop(AF_INET6, &a6->sin6_addr, buf, sizeof(buf));
  }
  return std::string(buf);
}

}  // namespace

Napi::Function FdSsl::Init(Napi::Env env) {
  Napi::Function f = DefineClass(env, "FdSsl",
                                 {
                                     InstanceMethod("setConnectState", &FdSsl::SetConnectState),
                                     InstanceMethod("setAcceptState", &FdSsl::SetAcceptState),
                                     InstanceMethod("setFd", &FdSsl::SetFd),
                                     InstanceMethod("getFd", &FdSsl::GetFd),
                                     InstanceMethod("setHost", &FdSsl::SetHost),
                                     InstanceMethod("connect", &FdSsl::Connect),
                                     InstanceMethod("accept", &FdSsl::Accept),
                                     InstanceMethod("read", &FdSsl::Read),
                                     InstanceMethod("write", &FdSsl::Write),
                                     InstanceMethod("shutdown", &FdSsl::Shutdown),
                                     InstanceMethod("error", &FdSsl::Error),
                                     InstanceMethod("wait", &FdSsl::Wait),
                                     InstanceMethod("info", &FdSsl::Info),
                                     InstanceMethod("free", &FdSsl::Free),
                                     InstanceMethod("isFreed", &FdSsl::IsFreed),
                                     InstanceMethod("pointer", &FdSsl::Pointer),
                                     InstanceMethod("getSession", &FdSsl::GetSession),
                                     InstanceMethod("setSession", &FdSsl::SetSession),
                                     InstanceMethod("sessionReused", &FdSsl::SessionReused),
                                     InstanceMethod("setAlpnProtocols", &FdSsl::SetAlpnProtocols),
                                     InstanceMethod("alpnProtocol", &FdSsl::AlpnProtocol),
                                     InstanceMethod("peerCertificate", &FdSsl::PeerCertificate),
                                 });
  GetAddonData(env)->fd_ssl_ctor = Napi::Persistent(f);
  return f;
}

FdSsl* FdSsl::FromValue(Napi::Env env, Napi::Value value) {
  return UnwrapChecked<FdSsl>(env, GetAddonData(env)->fd_ssl_ctor, value);
}

// new FdSsl(context)
FdSsl::FdSsl(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FdSsl>(info) {
  Napi::Env env = info.Env();
  env_ = env;
  Context* context = UnwrapChecked<Context>(env, GetAddonData(env)->context_ctor, Arg(info, 0));
  if (context == nullptr) ThrowExpected(env, "context", "an SSLContext");
  SSL_CTX* ctx = context->Get(env);
  verify_explicit_ = context->verify_explicit();
  context_client_ = context->role() == Role::kClient;
  context_server_ = context->role() == Role::kServer;
  ClearErrorQueue();
  ssl_ = SSL_new(ctx);
  if (ssl_ == nullptr) ThrowOpenSSLError(env, kErrCrypto, "could not create SSL");
  // The context's callbacks find this object through the SSL (and the
  // context the SSL was made from: its ticket keys, whatever SNI chooses).
  if (!AttachTo(ssl_)) {
    SSL_free(ssl_);  // a constructor that throws runs no destructor
    ssl_ = nullptr;
    ThrowOpenSSLError(env, kErrCrypto, "could not attach the SSL to its owner");
  }
  // A write that OpenSSL could only partly send reports what it sent, and
  // the retry may come from another buffer (the TS side re-slices).
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // A role-specific context fixes the role now: SSL_do_handshake (unlike
  // SSL_connect/SSL_accept) refuses an SSL whose state was never set.
  if (context_client_) {
    SSL_set_connect_state(ssl_);
    mode_ = Mode::kClient;
  }
  if (context_server_) {
    SSL_set_accept_state(ssl_);
    mode_ = Mode::kServer;
  }
  CounterAdd("FdSsl", 1);  // last: a constructor that throws has no destructor run
}

FdSsl::~FdSsl() {
  CounterAdd("FdSsl", -1);
  if (ssl_ == nullptr) return;
  DetachFrom(ssl_);  // a BIO may still hold the SSL
  SSL_free(ssl_);
}

void FdSsl::CheckNotFailed(Napi::Env env, const char* op) const {
  if (failed_) ThrowError(env, kErrState, std::string(op) + "() after a callback failure ended this SSL; free it");
}

void FdSsl::AfterCall(Napi::Env env) {
  if (has_callback_error()) {
    // The thrown error is the reason, whatever OpenSSL made of it; and the
    // SSL must not go on as if the callback had done its work.
    failed_ = true;
    last_error_ = SSL_ERROR_SSL;
    throw TakeCallbackFailure(env, handshake_done_);
  }
  if (SSL_is_init_finished(ssl_)) handshake_done_ = true;
}

void FdSsl::AfterBioCall(Napi::Env env) {
  if (ssl_ != nullptr) AfterCall(env);
}

SSL* FdSsl::Get(Napi::Env env) const {
  if (freed()) ThrowError(env, kErrClosed, "SSL has been freed");
  return ssl_;
}

void FdSsl::CheckNotFreedDuring(Napi::Env env, const char* op) const {
  if (!free_pending_) return;
  ClearErrorQueue();
  ThrowError(env, kErrClosed, std::string("SSL was freed during ") + op + "() (from a callback); it is released now");
}

// set_connect_state()/set_accept_state(): the role, before the handshake,
// unless the context was made for the other one.
Napi::Value FdSsl::SetRole(Napi::Env env, Mode mode, const char* op) {
  SSL* ssl = Get(env);
  FdRefuseWhileBusy(env, op);
  bool client = mode == Mode::kClient;
  if (client ? context_server_ : context_client_)
    ThrowError(env, kErrState, std::string(op) + "() on an SSL made from a " + (client ? "server" : "client") + " context");
  if (!SSL_in_before(ssl)) ThrowError(env, kErrState, std::string(op) + "() after the handshake started");
  if (client) SSL_set_connect_state(ssl);
  else SSL_set_accept_state(ssl);
  mode_ = mode;
  return env.Undefined();
}

Napi::Value FdSsl::SetConnectState(const Napi::CallbackInfo& info) {
  return SetRole(info.Env(), Mode::kClient, "set_connect_state");
}

Napi::Value FdSsl::SetAcceptState(const Napi::CallbackInfo& info) {
  return SetRole(info.Env(), Mode::kServer, "set_accept_state");
}

// setFd(fd): the SSL runs on its own dup of `fd`, closed with the SSL; the
// caller's descriptor stays theirs.
Napi::Value FdSsl::SetFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = static_cast<int>(IntArg(info, 0, "fd", 0, INT_MAX));
  SSL* ssl = Get(env);
  FdRefuseWhileBusy(env, "set_fd");
  if (!SSL_in_before(ssl)) ThrowError(env, kErrState, "set_fd() after the handshake started");
  int dup_fd = DupNonBlockingSocket(env, fd);
  ClearErrorQueue();
  BIO* bio = BIO_new_socket(dup_fd, BIO_CLOSE);
  if (bio == nullptr) {
    close(dup_fd);
    ThrowOpenSSLError(env, kErrCrypto, "could not create a socket BIO");
  }
  SSL_set_bio(ssl, bio, bio);  // the SSL owns the BIO, the BIO the dup
  user_fd_ = fd;
  return env.Undefined();
}

Napi::Value FdSsl::GetFd(const Napi::CallbackInfo& info) {
  SSL* ssl = Get(info.Env());
  return Napi::Number::New(info.Env(), user_fd_ >= 0 ? user_fd_ : SSL_get_fd(ssl));
}

Napi::Value FdSsl::SetHost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string host = CheckedHostName(env, StringArg(info, 0, "host"), "host");
  if (host.empty()) ThrowExpected(env, "host", "a non-empty host name or IP address");
  SSL* ssl = Get(env);
  FdRefuseWhileBusy(env, "set_host");
  if (!SSL_in_before(ssl) || client_ready_) ThrowError(env, kErrState, "set_host() after the handshake started");
  host_ = host;
  return env.Undefined();
}

void FdSsl::PrepareClient(Napi::Env env, SSL* ssl, const std::string& host) {
  if (client_ready_) return;
  if (!verify_explicit_) SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
  std::string name = host.empty() ? host_ : host;
  if (name.empty()) name = PeerAddress(SSL_get_fd(ssl));
  // A connect BIO's host name comes from OpenSSL unchecked: read it as set_host would.
  name = CheckedHostName(env, name, "host");
  ClearErrorQueue();
  if (!name.empty()) {
    if (IsIpAddress(name)) {
      if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) != 1)
        ThrowOpenSSLError(env, kErrInvalidArgument, "could not set the address to verify '" + name + "'");
    } else {
      if (SSL_set_tlsext_host_name(ssl, name.c_str()) != 1 || SSL_set1_host(ssl, name.c_str()) != 1)
        ThrowOpenSSLError(env, kErrInvalidArgument, "could not set the host to verify '" + name + "'");
    }
  } else if (!verify_explicit_) {
    // Verifying a chain without knowing whom it should name proves little.
    ThrowError(env, kErrState, "no host to verify: call set_host(name) or connect the socket first");
  }
  client_ready_ = true;
}

void FdSsl::Ready(Napi::Env env, Mode wanted, const char* op) {
  SSL* ssl = Get(env);
  CheckNotFailed(env, op);
  if (SSL_get_rbio(ssl) == nullptr)
    ThrowError(env, kErrState, std::string(op) + "() before set_fd(): the SSL has no socket");
  if (wanted != Mode::kUnset && mode_ != wanted && mode_ != Mode::kUnset)
    ThrowError(env, kErrState, std::string(op) + (mode_ == Mode::kClient ? "() on an SSL in connect state" : "() on an SSL in accept state"));
  if (mode_ == Mode::kUnset) {
    if (wanted == Mode::kUnset)
      ThrowError(env, kErrState, std::string(op) + "() before set_connect_state()/set_accept_state() (or connect()/accept())");
    if (wanted == Mode::kClient) SSL_set_connect_state(ssl);
    else SSL_set_accept_state(ssl);
    mode_ = wanted;
  }
  if (mode_ == Mode::kClient && !client_ready_) PrepareClient(env, ssl, std::string());
}

int FdSsl::Fail(Napi::Env env, int ret, const char* during) {
  int err = SSL_get_error(ssl_, ret);
  last_error_ = err;
  switch (err) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_ACCEPT:
      return -kWaitReadable;
    case SSL_ERROR_WANT_WRITE:
    case SSL_ERROR_WANT_CONNECT:
      return -kWaitWritable;
    case SSL_ERROR_ZERO_RETURN:
      return 0;
    default:
      break;
  }
  int sys = errno;  // before anything below can change it
  unsigned long top = ERR_peek_last_error();
  Napi::Object extra = Napi::Object::New(env);
  extra.Set("sslError", Napi::Number::New(env, err));
  bool eof = (err == SSL_ERROR_SYSCALL && top == 0) || IsUnexpectedEof(top);
  SslFailure failure = DescribeSslFailure(env, ssl_, during, eof, extra);
  if (failure.code != kErrCertVerify && !eof && err == SSL_ERROR_SYSCALL && sys != 0)
    failure = {kErrSocket, std::string("TLS ") + during + " failed: " + strerror(sys)};
  throw MakeOpenSSLError(env, failure.code, failure.what, extra);
}

// One handshake attempt in role `wanted`: 1 when done, or a negative wait mask.
Napi::Value FdSsl::Handshake(Napi::Env env, Mode wanted, const char* op) {
  Get(env);
  FdRefuseWhileBusy(env, op);
  FdCall call;
  Ready(env, wanted, op);
  ClearErrorQueue();
  errno = 0;
  int r = SSL_do_handshake(ssl_);
  CheckNotFreedDuring(env, op);
  AfterCall(env);
  if (r == 1) {
    last_error_ = SSL_ERROR_NONE;
    return Napi::Number::New(env, 1);
  }
  int f = Fail(env, r, "handshake");
  if (f == 0) ThrowError(env, kErrHandshake, "TLS handshake failed: the peer closed the connection");
  return Napi::Number::New(env, f);
}

Napi::Value FdSsl::Connect(const Napi::CallbackInfo& info) { return Handshake(info.Env(), Mode::kClient, "connect"); }

Napi::Value FdSsl::Accept(const Napi::CallbackInfo& info) { return Handshake(info.Env(), Mode::kServer, "accept"); }

// read(n): a Buffer of 1..n bytes, null after the peer's close_notify, or a
// negative wait mask.
Napi::Value FdSsl::Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t n = static_cast<size_t>(IntArg(info, 0, "length", 1, kMaxRead));
  Get(env);
  // Also keeps the per-thread scratch below to one read at a time.
  FdRefuseWhileBusy(env, "read");
  FdCall call;
  Ready(env, Mode::kUnset, "read");
  thread_local std::vector<char> scratch;
  if (scratch.size() < n) scratch.resize(n);
  size_t got = 0;
  ClearErrorQueue();
  errno = 0;
  int ok = SSL_read_ex(ssl_, scratch.data(), n, &got);
  CheckNotFreedDuring(env, "read");
  AfterCall(env);
  if (ok == 1) {
    last_error_ = SSL_ERROR_NONE;
    Napi::Buffer<char> out = Napi::Buffer<char>::Copy(env, scratch.data(), got);
    if (scratch.size() > 1024 * 1024) std::vector<char>().swap(scratch);
    return out;
  }
  int f = Fail(env, 0, "read");
  if (f == 0) return env.Null();
  return Napi::Number::New(env, f);
}

// write(data): bytes taken (1..size; 0 for empty data) or a negative wait mask.
Napi::Value FdSsl::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes b = BytesArg(info, 0, "data");
  Get(env);
  FdRefuseWhileBusy(env, "write");
  FdCall call;
  Ready(env, Mode::kUnset, "write");
  if (SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN) ThrowError(env, kErrState, "write() after shutdown()");
  if (b.size == 0) return Napi::Number::New(env, 0);
  // A write that runs the handshake may run JS callbacks, which could
  // detach the caller's buffer: then OpenSSL gets a copy.
  std::string copy;
  const uint8_t* data = b.data;
  if (!SSL_is_init_finished(ssl_)) {
    copy.assign(reinterpret_cast<const char*>(b.data), b.size);
    data = reinterpret_cast<const uint8_t*>(copy.data());
  }
  size_t written = 0;
  ClearErrorQueue();
  errno = 0;
  int ok = SSL_write_ex(ssl_, data, b.size, &written);
  CheckNotFreedDuring(env, "write");
  AfterCall(env);
  if (ok == 1) {
    last_error_ = SSL_ERROR_NONE;
    return Napi::Number::New(env, static_cast<double>(written));
  }
  int f = Fail(env, 0, "write");
  if (f == 0) ThrowError(env, kErrClosed, "write() after the peer closed the connection");
  return Napi::Number::New(env, f);
}

// shutdown(): 1 when both close_notify are done, 0 once ours is sent, or a
// negative wait mask. Before any handshake there is nothing to close: 1.
Napi::Value FdSsl::Shutdown(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL* ssl = Get(env);
  FdRefuseWhileBusy(env, "shutdown");
  FdCall call;
  // A callback failure ended the SSL: no close_notify, as after a fatal alert.
  if (failed_ || SSL_get_rbio(ssl) == nullptr || !SSL_is_init_finished(ssl)) return Napi::Number::New(env, 1);
  ClearErrorQueue();
  errno = 0;
  int r = SSL_shutdown(ssl);
  CheckNotFreedDuring(env, "shutdown");
  if (r >= 0) {
    last_error_ = SSL_ERROR_NONE;
    return Napi::Number::New(env, r);
  }
  int f = Fail(env, r, "shutdown");
  return Napi::Number::New(env, f == 0 ? 1 : f);
}

// error([ret]): SSL_get_error of the last attempt, or of `ret` (the return
// value of an SSL_* call) as OpenSSL would classify it now.
Napi::Value FdSsl::Error(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL* ssl = Get(env);
  if (IsMissing(Arg(info, 0))) return Napi::Number::New(env, last_error_);
  int ret = static_cast<int>(IntArg(info, 0, "code", INT_MIN, INT_MAX));
  return Napi::Number::New(env, SSL_get_error(ssl, ret));
}

// wait(events[, timeoutMs]): see poll.h; timeoutMs 0 (default) waits for ever.
Napi::Value FdSsl::Wait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int events = static_cast<int>(IntArg(info, 0, "events", 1, 3));
  uint32_t timeout = IsMissing(Arg(info, 1)) ? 0 : static_cast<uint32_t>(IntArg(info, 1, "timeout", 0, INT32_MAX));
  SSL* ssl = Get(env);
  int fd = (events & kWaitReadable) ? SSL_get_rfd(ssl) : SSL_get_wfd(ssl);
  if (fd < 0) ThrowError(env, kErrState, "the SSL has no socket descriptor to wait on");
  return waiter_.Wait(env, Value(), fd, events, timeout);
}

Napi::Value FdSsl::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL* ssl = Get(env);
  Napi::Object o = SslInfo(env, ssl, mode_ == Mode::kServer, SSL_is_init_finished(ssl));
  o.Set("isClient", Napi::Boolean::New(env, mode_ == Mode::kClient));
  return o;
}

void FdSsl::ReleaseNow(const char* why) {
  if (ssl_ == nullptr) return;
  SSL* ssl = ssl_;
  ssl_ = nullptr;
  DetachFrom(ssl);
  ClearCallbackError();
  try {
    waiter_.Close(Napi::Env(env_), kErrClosed, why);
  } catch (...) {
    // Rejecting builds errors through JS; the SSL is freed whatever happens.
  }
  // A BIO holding this SSL keeps its own reference (SSL_up_ref): freeing
  // here never pulls the SSL from under it.
  SSL_free(ssl);
}

void FdSsl::FreeOrDefer(Napi::Env env, const char* why) {
  if (freed()) return;
  if (!FdBusy()) {
    ReleaseNow(why);
    return;
  }
  free_pending_ = true;
  FdDeferRelease(Value(), [this, why] { ReleaseNow(why); });
}

void FdSsl::ReleasedByBio(Napi::Env env) { FreeOrDefer(env, "SSL was freed (with its BIO) while waiting"); }

// free(): at once, or (from inside a callback OpenSSL made) when the
// running call returns; either way it reads as freed from now on.
Napi::Value FdSsl::Free(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (freed()) ThrowError(env, kErrClosed, "SSL has already been freed");
  FreeOrDefer(env, "SSL was freed while waiting");
  return env.Undefined();
}

Napi::Value FdSsl::IsFreed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), freed()); }

Napi::Value FdSsl::Pointer(const Napi::CallbackInfo& info) {
  SSL* ssl = Get(info.Env());
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(ssl)));
}

// --- Per-connection TLS features ---------------------------------------------

void FdSsl::CheckClientSetup(Napi::Env env, SSL* ssl, const char* op) const {
  FdRefuseWhileBusy(env, op);
  if (mode_ == Mode::kServer) ThrowError(env, kErrState, std::string(op) + "() on an SSL in accept state (a client setting)");
  if (!SSL_in_before(ssl) || client_ready_) ThrowError(env, kErrState, std::string(op) + "() after the handshake started");
}

// getSession(): the session to resume later (DER), or null while none is
// resumable. In TLS 1.3 the server's ticket arrives after the handshake: it
// is there once a read processed it.
Napi::Value FdSsl::GetSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return ResumableSessionDer(env, Get(env));
}

// setSession(der): client, before the handshake: offer this session.
Napi::Value FdSsl::SetSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL* ssl = Get(env);
  Bytes der;
  if (!Arg(info, 0).IsTypedArray() || !ToBytes(Arg(info, 0), &der)) ThrowExpected(env, "session", "a Buffer from get_session()");
  CheckClientSetup(env, ssl, "set_session");
  OfferSessionDer(env, ssl, der, "session");
  return env.Undefined();
}

Napi::Value FdSsl::SessionReused(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Boolean::New(env, SSL_session_reused(Get(env)) == 1);
}

// setAlpnProtocols(wire): client, before the handshake: the protocols to
// offer (wire format; empty: offer none). A server selects from its
// context's list (the context's ALPN callback), not from the SSL.
Napi::Value FdSsl::SetAlpnProtocols(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL* ssl = Get(env);
  Bytes wire;
  if (!Arg(info, 0).IsTypedArray() || !ToBytes(Arg(info, 0), &wire) || (wire.size > 0 && !ValidAlpnWire(wire.data, wire.size)))
    ThrowExpected(env, "protocols", "ALPN protocol names of 1 to 255 bytes in wire format");
  CheckClientSetup(env, ssl, "set_alpn_protocols");
  ClearErrorQueue();
  // Returns 0 on success, unlike almost everything else.
  if (SSL_set_alpn_protos(ssl, wire.size ? wire.data : nullptr, static_cast<unsigned int>(wire.size)) != 0)
    ThrowOpenSSLError(env, kErrConfig, "could not set ALPN protocols");
  return env.Undefined();
}

// alpnProtocol(): the protocol both sides agreed on, or null.
Napi::Value FdSsl::AlpnProtocol(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return SslAlpnProtocol(env, Get(env));
}

// peerCertificate(): the summary of the peer's certificate, or null.
Napi::Value FdSsl::PeerCertificate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return SslPeerCertificate(env, Get(env));
}

}  // namespace rxtls
