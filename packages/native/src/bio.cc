#include "bio.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "fd_busy.h"
#include "fd_ssl.h"
#include "ssl_failure.h"
#include "util/addon_data.h"
#include "util/args.h"
#include "util/counters.h"
#include "util/err_queue.h"
#include "util/errors.h"
#include "util/socket_fd.h"

namespace rxtls {
namespace {

constexpr int64_t kMaxRead = 16 * 1024 * 1024;

// Per environment (one per thread): the live wrapper of each BIO, and the
// BIO before each BIO we linked (OpenSSL has no getter for
// a BIO's predecessor).
thread_local std::unordered_map<BIO*, Bio*> g_wrappers;
thread_local std::unordered_map<BIO*, BIO*> g_prev;

uintptr_t AddressOf(const BIO_METHOD* m) { return reinterpret_cast<uintptr_t>(m); }

// Drops a chain link's reference to `b`, now the head of what is left. A BIO
// no wrapper knows (an accepted connection never popped) dies with that
// reference: detach what follows it first, so nothing keeps a pointer to it.
void DropLinkRef(BIO* b) {
  if (g_wrappers.count(b) == 0) {
    BIO* next = BIO_next(b);
    if (next != nullptr) {
      BIO_pop(b);
      g_prev.erase(next);
      DropLinkRef(next);
    }
  }
  BIO_free(b);
}

int WaitMask(BIO* b) {
  if (BIO_should_read(b)) return kWaitReadable;
  if (BIO_should_write(b)) return kWaitWritable;
  if (BIO_should_io_special(b)) {
    int reason = BIO_get_retry_reason(b);
    if (reason == BIO_RR_CONNECT) return kWaitWritable;
    if (reason == BIO_RR_ACCEPT) return kWaitReadable;
  }
  return kWaitReadable | kWaitWritable;
}

}  // namespace

Napi::Object Bio::Methods(Napi::Env env) {
  Napi::Object m = Napi::Object::New(env);
  m.Set("BIO_f_ssl", Napi::BigInt::New(env, static_cast<uint64_t>(AddressOf(BIO_f_ssl()))));
  m.Set("BIO_s_connect", Napi::BigInt::New(env, static_cast<uint64_t>(AddressOf(BIO_s_connect()))));
  m.Set("BIO_s_accept", Napi::BigInt::New(env, static_cast<uint64_t>(AddressOf(BIO_s_accept()))));
  return m;
}

Napi::Function Bio::Init(Napi::Env env) {
  Napi::Function f = DefineClass(env, "Bio",
                                 {
                                     InstanceMethod("setSsl", &Bio::SetSsl),
                                     InstanceMethod("setConnHostname", &Bio::SetConnHostname),
                                     InstanceMethod("setConnAddress", &Bio::SetConnAddress),
                                     InstanceMethod("setConnPort", &Bio::SetConnPort),
                                     InstanceMethod("setConnFamily", &Bio::SetConnFamily),
                                     InstanceMethod("setAcceptName", &Bio::SetAcceptName),
                                     InstanceMethod("setAcceptPort", &Bio::SetAcceptPort),
                                     InstanceMethod("setAcceptFamily", &Bio::SetAcceptFamily),
                                     InstanceMethod("getConnHostname", &Bio::GetConnHostname),
                                     InstanceMethod("getConnAddress", &Bio::GetConnAddress),
                                     InstanceMethod("getConnPort", &Bio::GetConnPort),
                                     InstanceMethod("getConnFamily", &Bio::GetConnFamily),
                                     InstanceMethod("getAcceptName", &Bio::GetAcceptName),
                                     InstanceMethod("getAcceptPort", &Bio::GetAcceptPort),
                                     InstanceMethod("getAcceptFamily", &Bio::GetAcceptFamily),
                                     InstanceMethod("getFd", &Bio::GetFd),
                                     InstanceMethod("setFd", &Bio::SetFd),
                                     InstanceMethod("push", &Bio::Push),
                                     InstanceMethod("pop", &Bio::Pop),
                                     InstanceMethod("read", &Bio::Read),
                                     InstanceMethod("write", &Bio::Write),
                                     InstanceMethod("doHandshake", &Bio::DoHandshake),
                                     InstanceMethod("shouldRetry", &Bio::ShouldRetry),
                                     InstanceMethod("wait", &Bio::Wait),
                                     InstanceMethod("lastError", &Bio::LastError),
                                     InstanceMethod("errorString", &Bio::ErrorString),
                                     InstanceMethod("free", &Bio::Free),
                                     InstanceMethod("freeAll", &Bio::FreeAll),
                                     InstanceMethod("isFreed", &Bio::IsFreed),
                                     InstanceMethod("pointer", &Bio::Pointer),
                                     InstanceMethod("kind", &Bio::KindName),
                                 });
  GetAddonData(env)->bio_ctor = Napi::Persistent(f);
  return f;
}

// new Bio(method): a BigInt from Methods(). Internally new Bio(External<BIO>)
// adopts a BIO OpenSSL made (the connection an accept BIO hands out).
Bio::Bio(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Bio>(info) {
  Napi::Env env = info.Env();
  env_ = env;
  Napi::Value arg = Arg(info, 0);
  if (arg.IsExternal()) {
    bio_ = arg.As<Napi::External<BIO>>().Data();
  } else {
    const char* what = "a BIO method handle (BIO_f_ssl, BIO_s_connect or BIO_s_accept)";
    if (!arg.IsBigInt()) ThrowExpected(env, "method", what);
    bool lossless = false;
    uint64_t addr = arg.As<Napi::BigInt>().Uint64Value(&lossless);
    const BIO_METHOD* method = nullptr;
    if (lossless && addr == AddressOf(BIO_f_ssl())) method = BIO_f_ssl();
    else if (lossless && addr == AddressOf(BIO_s_connect())) method = BIO_s_connect();
    else if (lossless && addr == AddressOf(BIO_s_accept())) method = BIO_s_accept();
    else ThrowExpected(env, "method", what);
    ClearErrorQueue();
    bio_ = BIO_new(method);
    if (bio_ == nullptr) ThrowOpenSSLError(env, kErrCrypto, "could not create BIO");
    bool ok = true;
    // Never block Node's loop: the connect, the listening and every accepted
    // socket are non-blocking; a retry becomes a readiness wait instead.
    if (method == BIO_s_connect()) {
      ok = BIO_set_nbio(bio_, 1) == 1;
    } else if (method == BIO_s_accept()) {
      // The bind mode first: BIO_set_bind_mode replaces the whole mode,
      // including the non-blocking bit BIO_set_nbio_accept adds to it.
      ok = BIO_set_bind_mode(bio_, BIO_BIND_REUSEADDR) == 1 && BIO_set_nbio(bio_, 1) == 1 &&
           BIO_set_nbio_accept(bio_, 1) == 1;
    }
    if (!ok) {
      BIO_free(bio_);
      bio_ = nullptr;
      ThrowOpenSSLError(env, kErrCrypto, "could not make the BIO non-blocking");
    }
  }
  switch (BIO_method_type(bio_)) {
    case BIO_TYPE_SSL:
      kind_ = Kind::kSsl;
      break;
    case BIO_TYPE_CONNECT:
      kind_ = Kind::kConnect;
      break;
    case BIO_TYPE_ACCEPT:
      kind_ = Kind::kAccept;
      break;
    default:
      kind_ = Kind::kSocket;
  }
  if (kind_ == Kind::kSocket) {
    // An accepted connection: OpenSSL made it non-blocking (BIO_set_nbio on
    // the accept BIO); make sure, since a blocking read would stall the loop.
    int fd = -1;
    BIO_get_fd(bio_, &fd);
    int flags = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
    if (flags >= 0 && (flags & O_NONBLOCK) == 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  }
  g_wrappers[bio_] = this;
  CounterAdd("Bio", 1);  // last: a constructor that throws has no destructor run
}

Bio::~Bio() {
  CounterAdd("Bio", -1);
  Release(nullptr);
}

BIO* Bio::Get(Napi::Env env) const {
  if (freed()) ThrowError(env, kErrClosed, "BIO has been freed");
  return bio_;
}

void Bio::CheckNotFreedDuring(Napi::Env env, const char* op) const {
  if (!free_pending_) return;
  ClearErrorQueue();
  ThrowError(env, kErrClosed, std::string("BIO was freed during ") + op + "() (from a callback); it is released now");
}

void Bio::ReleaseNow() {
  if (bio_ == nullptr) return;
  try {
    waiter_.Close(Napi::Env(env_), kErrClosed, "BIO was freed while waiting");
  } catch (...) {
    // Rejecting builds errors through JS; the BIO is released whatever happens.
  }
  Release(env_);
}

void Bio::FreeOrDefer() {
  if (freed()) return;
  if (!FdBusy()) {
    ReleaseNow();
    return;
  }
  free_pending_ = true;
  FdDeferRelease(Value(), [this] { ReleaseNow(); });
}

BIO* Bio::Find(Napi::Env env, int type, const char* op) const {
  for (BIO* b = Get(env); b != nullptr; b = BIO_next(b))
    if (BIO_method_type(b) == type) return b;
  ThrowError(env, kErrState, std::string(op) + "() needs a " +
                                 (type == BIO_TYPE_CONNECT ? "BIO_s_connect" : "BIO_s_accept") +
                                 " BIO (this one or one pushed under it)");
}

BIO* Bio::FindToSet(Napi::Env env, int type, const char* op) const {
  BIO* b = Find(env, type, op);
  FdRefuseWhileBusy(env, op);
  return b;
}

BIO* Bio::Unlink() {
  BIO* next = BIO_next(bio_);
  auto it = g_prev.find(bio_);
  BIO* prev = it == g_prev.end() ? nullptr : it->second;
  if (prev == nullptr && next == nullptr) return nullptr;
  if (it != g_prev.end()) g_prev.erase(it);
  BIO_pop(bio_);
  // BIO_pop joins the neighbours through this BIO's prev pointer, which
  // OpenSSL loses when the same BIO is also an SSL's wbio: the handshake
  // pushes its buffering BIO on it and pops it again, leaving prev null. Our
  // own record of the predecessor is right: join them from it.
  if (prev != nullptr && BIO_next(prev) == bio_) BIO_set_next(prev, next);
  if (prev != nullptr) {
    // The link prev -> this goes: its reference with it (the wrapper still
    // holds one, so this never frees the BIO). The link this -> next
    // becomes prev -> next and keeps its reference; the caller gets a new one.
    BIO_free(bio_);
    if (next != nullptr) {
      g_prev[next] = prev;
      BIO_up_ref(next);
    }
  } else if (next != nullptr) {
    g_prev.erase(next);  // the link's reference goes to the caller
  }
  return next;
}

void Bio::Release(napi_env env) {
  if (bio_ == nullptr) return;
  if (kind_ == Kind::kSsl && ssl_close_) {
    // BIO_free_all in C sends close_notify on the way out; unlinking first
    // (below) would leave the SSL without a transport, so send it now.
    SSL* ssl = nullptr;
    BIO_get_ssl(bio_, &ssl);
    bool failed = ssl_wrap_ != nullptr && ssl_wrap_->failed();  // as after a fatal alert: no close_notify
    if (ssl != nullptr && !failed && SSL_get_rbio(ssl) != nullptr && SSL_is_init_finished(ssl) &&
        (SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN) == 0)
      SSL_shutdown(ssl);
  }
  BIO* next = Unlink();
  if (next != nullptr) DropLinkRef(next);
  auto it = g_wrappers.find(bio_);
  if (it != g_wrappers.end() && it->second == this) g_wrappers.erase(it);
  BIO_free(bio_);  // with BIO_CLOSE this also frees the BIO's SSL reference
  bio_ = nullptr;
  ClearErrorQueue();
  if (ssl_hold_ != nullptr) SSL_free(ssl_hold_);
  ssl_hold_ = nullptr;
  if (env != nullptr && ssl_close_ && ssl_wrap_ != nullptr) ssl_wrap_->ReleasedByBio(Napi::Env(env));
  ssl_wrap_ = nullptr;
  if (env != nullptr) ssl_ref_.Reset();
  if (dup_fd_ >= 0) close(dup_fd_);
  dup_fd_ = -1;
  if (close_user_fd_ && user_fd_ >= 0) close(user_fd_);
  user_fd_ = -1;
}

Napi::Value Bio::WrapOrFind(Napi::Env env, BIO* bio) {
  auto it = g_wrappers.find(bio);
  if (it != g_wrappers.end()) {
    Napi::Object existing = it->second->Value();
    if (!existing.IsEmpty()) {
      BIO_free(bio);  // the wrapper already holds its own reference
      return existing;
    }
  }
  return GetAddonData(env)->bio_ctor.New({Napi::External<BIO>::New(env, bio)});
}

// setSsl(ssl, close)
Napi::Value Bio::SetSsl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Get(env);
  FdRefuseWhileBusy(env, "set_ssl");
  // Telling an SSL from any object may run JS (a Proxy's traps): the
  // arguments are read first, and everything is checked again after.
  FdCall call;
  FdSsl* wrap = FdSsl::FromValue(env, Arg(info, 0));
  if (wrap == nullptr) ThrowExpected(env, "ssl", "an SSL");
  bool close = BoolArg(info, 1, "close");
  BIO* self = Get(env);
  if (kind_ != Kind::kSsl) ThrowError(env, kErrState, "set_ssl() needs a BIO_f_ssl BIO");
  SSL* ssl = wrap->Get(env);
  if (ssl_wrap_ != nullptr) ThrowError(env, kErrState, "set_ssl() was already called on this BIO");
  BIO* next = BIO_next(self);
  if (next != nullptr && SSL_get_rbio(ssl) != nullptr)
    ThrowError(env, kErrState, "set_ssl() after push() with an SSL that already has a socket (set_fd)");
  ClearErrorQueue();
  SSL_up_ref(ssl);
  if (BIO_set_ssl(self, ssl, close ? BIO_CLOSE : BIO_NOCLOSE) != 1) {
    SSL_free(ssl);
    ThrowOpenSSLError(env, kErrCrypto, "BIO_set_ssl failed");
  }
  // BIO_CLOSE: the BIO owns the reference. BIO_NOCLOSE: the wrapper does,
  // until the BIO is gone.
  if (!close) ssl_hold_ = ssl;
  ssl_close_ = close;
  ssl_wrap_ = wrap;
  ssl_ref_ = Napi::Persistent(Arg(info, 0).As<Napi::Object>());
  BIO* after = BIO_next(self);
  if (next == nullptr && after != nullptr) {
    // OpenSSL linked the SSL's own socket BIO (from set_fd) after this one,
    // with a reference: a link like any other.
    g_prev[after] = self;
  } else if (next != nullptr) {
    // Pushed before set_ssl: BIO_set_ssl does not connect the SSL to what
    // is already below, so do what BIO_push would have done.
    BIO_up_ref(next);
    SSL_set_bio(ssl, next, next);
  }
  return env.Undefined();
}

int Bio::WaitFd() const {
  BIO* b = bio_;
  while (b != nullptr) {
    int type = BIO_method_type(b);
    // A filter has no descriptor of its own, and an accept BIO holding a
    // connection does its I/O on that connection.
    if (type == BIO_TYPE_SSL || (type == BIO_TYPE_ACCEPT && BIO_next(b) != nullptr)) {
      b = BIO_next(b);
      continue;
    }
    int fd = -1;
    BIO_get_fd(b, &fd);
    return fd;
  }
  return -1;
}

Napi::Value Bio::GetFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Get(env);
  int fd = user_fd_ >= 0 ? user_fd_ : WaitFd();
  return Napi::Number::New(env, fd < 0 ? -1 : fd);
}

// setFd(fd, close): the BIO runs on a dup of `fd`; `close` also closes the
// caller's descriptor when the BIO is freed.
Napi::Value Bio::SetFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = static_cast<int>(IntArg(info, 0, "fd", 0, INT_MAX));
  bool close_fd = BoolArg(info, 1, "close");
  BIO* self = Get(env);
  FdRefuseWhileBusy(env, "set_fd");
  if (kind_ == Kind::kSsl) ThrowError(env, kErrState, "set_fd() on an SSL BIO: give the SSL a descriptor (ssl.set_fd) or push a BIO under it");
  if (user_fd_ >= 0 || WaitFd() >= 0) ThrowError(env, kErrState, "set_fd() on a BIO that already has a descriptor");
  int dup_fd = DupNonBlockingSocket(env, fd);
  ClearErrorQueue();
  // BIO_NOCLOSE, and the dup is closed by Release: an accept or connect
  // BIO closing its socket also shutdown()s it, which would end the
  // caller's socket too (shutdown acts on the socket, not the descriptor).
  if (BIO_set_fd(self, dup_fd, BIO_NOCLOSE) != 1) {
    close(dup_fd);
    ThrowError(env, kErrState, "this BIO takes no descriptor (a BIO_s_accept BIO takes a listening socket)");
  }
  user_fd_ = fd;
  dup_fd_ = dup_fd;
  close_user_fd_ = close_fd;
  return env.Undefined();
}

Napi::Value Bio::Push(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Get(env);
  FdRefuseWhileBusy(env, "push");
  FdCall call;  // as in set_ssl: the argument is read first
  Bio* other = UnwrapChecked<Bio>(env, GetAddonData(env)->bio_ctor, Arg(info, 0));
  if (other == nullptr) ThrowExpected(env, "b", "a BIO");
  BIO* self = Get(env);
  BIO* ob = other->Get(env);
  for (BIO* x = ob; x != nullptr; x = BIO_next(x))
    if (x == self) ThrowError(env, kErrInvalidArgument, "push() would make a cycle: this BIO is already in the chain of \"b\"");
  if (g_prev.count(ob) != 0) ThrowError(env, kErrState, "push(): \"b\" is already in a chain; pop() it first");
  BIO* last = self;
  while (BIO_next(last) != nullptr) last = BIO_next(last);
  BIO_up_ref(ob);  // the link's reference
  BIO_push(self, ob);
  g_prev[ob] = last;
  return Value();
}

Napi::Value Bio::Pop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Get(env);
  FdRefuseWhileBusy(env, "pop");
  if (waiter_.pending()) ThrowError(env, kErrState, "pop() while an I/O call on this BIO is waiting");
  BIO* next = Unlink();
  if (next == nullptr) return env.Null();
  return WrapOrFind(env, next);
}

void Bio::ReadySsl(Napi::Env env, const char* op) {
  if (kind_ != Kind::kSsl) return;
  if (ssl_wrap_ == nullptr) ThrowError(env, kErrState, std::string(op) + "() on an SSL BIO before set_ssl()");
  ssl_wrap_->CheckNotFailed(env, op);
  SSL* ssl = nullptr;
  BIO_get_ssl(bio_, &ssl);
  if (ssl == nullptr) ThrowError(env, kErrClosed, "the BIO's SSL is gone");
  if (SSL_get_rbio(ssl) == nullptr)
    ThrowError(env, kErrState, std::string(op) + "() on an SSL BIO with nothing under it: push() a connect or socket BIO first");
  if (ssl_wrap_->mode() == 0)
    ThrowError(env, kErrState, std::string(op) + "() before set_connect_state()/set_accept_state() on the BIO's SSL");
  if (ssl_wrap_->mode() == 1 && !ssl_wrap_->client_ready()) {
    // SNI and the host check come from the connect BIO below, as
    // BIO_new_ssl_connect users expect; set_host on the SSL wins.
    std::string host;
    for (BIO* b = BIO_next(bio_); b != nullptr; b = BIO_next(b)) {
      if (BIO_method_type(b) == BIO_TYPE_CONNECT) {
        const char* h = BIO_get_conn_hostname(b);
        if (h != nullptr) host = h;
        break;
      }
    }
    if (ssl_wrap_->host_set()) host.clear();
    ssl_wrap_->PrepareClient(env, ssl, host);
  }
}

int Bio::Fail(Napi::Env env, const char* during) {
  if (BIO_should_retry(bio_)) return -WaitMask(bio_);
  unsigned long top = ERR_peek_last_error();
  int sys = errno;
  last_error_ = top;
  Napi::Object extra = Napi::Object::New(env);
  if (kind_ == Kind::kSsl) {
    SSL* ssl = nullptr;
    BIO_get_ssl(bio_, &ssl);
    if (ssl == nullptr) ThrowError(env, kErrClosed, "the BIO's SSL is gone");
    if (top == 0 && SSL_is_init_finished(ssl)) return 0;  // close_notify, or a read of 0 bytes
    SslFailure failure = DescribeSslFailure(env, ssl, during, top == 0 || IsUnexpectedEof(top), extra);
    throw MakeOpenSSLError(env, failure.code, failure.what, extra);
  }
  if (top == 0) {
    if (sys == 0) return 0;  // end of input
    ThrowError(env, kErrSocket, std::string(during) + " failed: " + strerror(sys));
  }
  // A system error (refused, unreachable, in use) is the real reason; OpenSSL
  // itself words it as "unknown reason".
  unsigned long first = ERR_peek_error();
  if (ERR_SYSTEM_ERROR(first)) {
    const char* reason = strerror(static_cast<int>(ERR_GET_REASON(first)));
    Napi::Array stack = Napi::Array::New(env);
    char buf[256];
    uint32_t i = 0;
    for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
      ERR_error_string_n(e, buf, sizeof(buf));
      stack.Set(i++, Napi::String::New(env, buf));
    }
    Napi::Error err = MakeError(env, kErrSocket, std::string(during) + " failed: " + reason);
    err.Value().Set("reason", Napi::String::New(env, reason));
    err.Value().Set("library", Napi::String::New(env, "system library"));
    err.Value().Set("opensslCode", Napi::Number::New(env, static_cast<double>(top)));
    err.Value().Set("opensslStack", stack);
    throw err;
  }
  throw MakeOpenSSLError(env, kErrSocket, std::string(during) + " failed", extra);
}

// read(n): a Buffer of 1..n bytes, null at the end of input, or a negative wait mask.
Napi::Value Bio::Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t n = static_cast<size_t>(IntArg(info, 0, "length", 1, kMaxRead));
  Get(env);
  // Also keeps the per-thread scratch below to one read at a time.
  FdRefuseWhileBusy(env, "read");
  FdCall call;
  ReadySsl(env, "read");
  thread_local std::vector<char> scratch;
  if (scratch.size() < n) scratch.resize(n);
  size_t got = 0;
  ClearErrorQueue();
  errno = 0;
  int ok = BIO_read_ex(bio_, scratch.data(), n, &got);
  CheckNotFreedDuring(env, "read");
  // A callback the SSL ran that threw is this call's failure (its error as cause).
  if (ssl_wrap_ != nullptr) ssl_wrap_->AfterBioCall(env);
  if (ok == 1 && got > 0) {
    last_error_ = 0;
    Napi::Buffer<char> out = Napi::Buffer<char>::Copy(env, scratch.data(), got);
    if (scratch.size() > 1024 * 1024) std::vector<char>().swap(scratch);
    return out;
  }
  int f = Fail(env, "read");
  if (f == 0) return env.Null();
  return Napi::Number::New(env, f);
}

// write(data): bytes taken (0 for empty data) or a negative wait mask.
Napi::Value Bio::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes b = BytesArg(info, 0, "data");
  Get(env);
  FdRefuseWhileBusy(env, "write");
  FdCall call;
  ReadySsl(env, "write");
  if (b.size == 0) return Napi::Number::New(env, 0);
  // A write that runs the handshake may run JS callbacks, which could
  // detach the caller's buffer: then OpenSSL gets a copy.
  std::string copy;
  const uint8_t* data = b.data;
  SSL* ssl = nullptr;
  if (kind_ == Kind::kSsl) BIO_get_ssl(bio_, &ssl);
  if (ssl != nullptr && !SSL_is_init_finished(ssl)) {
    copy.assign(reinterpret_cast<const char*>(b.data), b.size);
    data = reinterpret_cast<const uint8_t*>(copy.data());
  }
  size_t written = 0;
  ClearErrorQueue();
  errno = 0;
  int ok = BIO_write_ex(bio_, data, b.size, &written);
  CheckNotFreedDuring(env, "write");
  // A callback the SSL ran that threw is this call's failure (its error as cause).
  if (ssl_wrap_ != nullptr) ssl_wrap_->AfterBioCall(env);
  if (ok == 1 && written > 0) {
    last_error_ = 0;
    return Napi::Number::New(env, static_cast<double>(written));
  }
  int f = Fail(env, "write");
  if (f == 0) ThrowError(env, kErrClosed, "write() after the connection closed");
  return Napi::Number::New(env, f);
}

// doHandshake(): BIO_do_connect / BIO_do_accept / BIO_do_handshake. 1 when
// done, or a negative wait mask.
Napi::Value Bio::DoHandshake(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Get(env);
  FdRefuseWhileBusy(env, "do_handshake");
  if (kind_ == Kind::kSocket) return Napi::Number::New(env, 1);  // already connected
  FdCall call;
  ReadySsl(env, "do_handshake");
  ClearErrorQueue();
  errno = 0;
  long done = BIO_do_handshake(bio_);
  CheckNotFreedDuring(env, "do_handshake");
  // A callback the SSL ran that threw is this call's failure (its error as cause).
  if (ssl_wrap_ != nullptr) ssl_wrap_->AfterBioCall(env);
  if (done > 0) {
    last_error_ = 0;
    if (kind_ == Kind::kAccept) {
      // The listening socket must never block the loop in accept(), whatever
      // the bind mode ended up being.
      int fd = -1;
      BIO_get_fd(bio_, &fd);
      int flags = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
      if (flags >= 0 && (flags & O_NONBLOCK) == 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    }
    return Napi::Number::New(env, 1);
  }
  const char* during = kind_ == Kind::kAccept ? "accept" : kind_ == Kind::kConnect ? "connect" : "handshake";
  int f = Fail(env, during);
  if (f == 0) ThrowError(env, kind_ == Kind::kSsl ? kErrHandshake : kErrSocket, std::string(during) + " failed: the connection closed");
  return Napi::Number::New(env, f);
}

Napi::Value Bio::ShouldRetry(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), BIO_should_retry(Get(info.Env())) != 0);
}

// wait(events[, timeoutMs]): see poll.h; timeoutMs 0 (default) waits for ever.
Napi::Value Bio::Wait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int events = static_cast<int>(IntArg(info, 0, "events", 1, 3));
  uint32_t timeout = IsMissing(Arg(info, 1)) ? 0 : static_cast<uint32_t>(IntArg(info, 1, "timeout", 0, INT32_MAX));
  Get(env);
  return waiter_.Wait(env, Value(), WaitFd(), events, timeout);
}

// lastError([code]): the OpenSSL error number of this BIO's last failed
// call (0 after a success), or the reason part of `code`.
Napi::Value Bio::LastError(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Get(env);
  if (IsMissing(Arg(info, 0))) return Napi::Number::New(env, static_cast<double>(last_error_));
  unsigned long code = static_cast<unsigned long>(IntArg(info, 0, "code", 0, UINT32_MAX));
  return Napi::Number::New(env, ERR_GET_REASON(code));
}

Napi::Value Bio::ErrorString(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Get(env);
  unsigned long code = IsMissing(Arg(info, 0)) ? last_error_
                                               : static_cast<unsigned long>(IntArg(info, 0, "code", 0, UINT32_MAX));
  if (code == 0) return Napi::String::New(env, "");
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return Napi::String::New(env, buf);
}

// free(): at once, or (from inside a callback OpenSSL made) when the
// running call returns; either way it reads as freed from now on.
Napi::Value Bio::Free(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (freed()) ThrowError(env, kErrClosed, "BIO has already been freed");
  FreeOrDefer();
  return env.Undefined();
}

// freeAll(): BIO_free_all: this BIO and every BIO chained after it.
Napi::Value Bio::FreeAll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (freed()) ThrowError(env, kErrClosed, "BIO has already been freed");
  std::vector<Napi::ObjectReference> chain;
  for (BIO* b = bio_; b != nullptr; b = BIO_next(b)) {
    auto it = g_wrappers.find(b);
    if (it == g_wrappers.end()) continue;
    Napi::Object o = it->second->Value();
    if (!o.IsEmpty()) chain.push_back(Napi::Persistent(o));
  }
  // Each, freed in order, is then the head: the link to the next goes, and
  // a BIO only the chain held (an accepted connection never popped) with it.
  for (auto& ref : chain) {
    Napi::ObjectWrap<Bio>::Unwrap(ref.Value())->FreeOrDefer();
  }
  return env.Undefined();
}

Napi::Value Bio::IsFreed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), freed()); }

Napi::Value Bio::Pointer(const Napi::CallbackInfo& info) {
  BIO* b = Get(info.Env());
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(b)));
}

Napi::Value Bio::KindName(const Napi::CallbackInfo& info) {
  const char* names[] = {"ssl", "connect", "accept", "socket"};
  return Napi::String::New(info.Env(), names[static_cast<int>(kind_)]);
}

}  // namespace rxtls
