// Bio: one OpenSSL BIO of the documented family: BIO_s_connect, BIO_s_accept,
// BIO_f_ssl (and the socket BIO an accept BIO hands out through pop()).
// Every BIO runs non-blocking: an I/O call makes one attempt and returns a
// negative wait mask when OpenSSL says retry; `wait(events)` (poll.h) is the
// readiness wait for the TS side to retry after.
//
// Ownership, so that nothing is freed twice or under a user:
// - each wrapper owns one reference to its BIO (BIO_up_ref counts);
// - each chain link X -> Y owns one reference to Y: push() takes it, pop()
//   and free() give it back (links OpenSSL makes itself, accept -> accepted
//   socket and set_ssl -> the SSL's socket, already own one);
// - set_ssl() takes an SSL reference (SSL_up_ref): with BIO_CLOSE the BIO
//   owns it (freeing the BIO frees the SSL, and the JS SSL reads as freed);
//   with BIO_NOCLOSE the wrapper holds it until the BIO is gone, so a user's
//   ssl.free() can never pull the SSL from under the BIO.
//
// Re-entrancy (fd_busy.h): an SSL BIO's I/O may run JS (SNI, keylog). free()
// from there is deferred until that call returns (which then throws
// ERR_TLS_CLOSED); calls that drive or reshape a chain are refused.
#pragma once

#include <napi.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <string>

#include "poll.h"

namespace rxtls {

class FdSsl;

class Bio : public Napi::ObjectWrap<Bio> {
 public:
  static Napi::Function Init(Napi::Env env);
  // The method handles `new Bio(handle)` accepts, as BigInt addresses.
  static Napi::Object Methods(Napi::Env env);

  explicit Bio(const Napi::CallbackInfo& info);
  ~Bio() override;

 private:
  enum class Kind { kSsl, kConnect, kAccept, kSocket };

  Napi::Value SetSsl(const Napi::CallbackInfo& info);
  Napi::Value SetConnHostname(const Napi::CallbackInfo& info);
  Napi::Value SetConnAddress(const Napi::CallbackInfo& info);
  Napi::Value SetConnPort(const Napi::CallbackInfo& info);
  Napi::Value SetConnFamily(const Napi::CallbackInfo& info);
  Napi::Value SetAcceptName(const Napi::CallbackInfo& info);
  Napi::Value SetAcceptPort(const Napi::CallbackInfo& info);
  Napi::Value SetAcceptFamily(const Napi::CallbackInfo& info);
  Napi::Value GetConnHostname(const Napi::CallbackInfo& info);
  Napi::Value GetConnAddress(const Napi::CallbackInfo& info);
  Napi::Value GetConnPort(const Napi::CallbackInfo& info);
  Napi::Value GetConnFamily(const Napi::CallbackInfo& info);
  Napi::Value GetAcceptName(const Napi::CallbackInfo& info);
  Napi::Value GetAcceptPort(const Napi::CallbackInfo& info);
  Napi::Value GetAcceptFamily(const Napi::CallbackInfo& info);
  Napi::Value GetFd(const Napi::CallbackInfo& info);
  Napi::Value SetFd(const Napi::CallbackInfo& info);
  Napi::Value Push(const Napi::CallbackInfo& info);
  Napi::Value Pop(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value DoHandshake(const Napi::CallbackInfo& info);
  Napi::Value ShouldRetry(const Napi::CallbackInfo& info);
  Napi::Value Wait(const Napi::CallbackInfo& info);
  Napi::Value LastError(const Napi::CallbackInfo& info);
  Napi::Value ErrorString(const Napi::CallbackInfo& info);
  Napi::Value Free(const Napi::CallbackInfo& info);
  Napi::Value FreeAll(const Napi::CallbackInfo& info);
  Napi::Value IsFreed(const Napi::CallbackInfo& info);
  Napi::Value Pointer(const Napi::CallbackInfo& info);
  Napi::Value KindName(const Napi::CallbackInfo& info);

  // The live BIO, or throws ERR_TLS_CLOSED after free() (also a deferred one).
  BIO* Get(Napi::Env env) const;
  bool freed() const { return bio_ == nullptr || free_pending_; }
  // free(): now, or when the running call of the family returns.
  void FreeOrDefer();
  // Rejects pending waits and releases. Never throws.
  void ReleaseNow();
  // After a BIO_* call that may have run JS: throws ERR_TLS_CLOSED when a
  // callback freed this BIO meanwhile (the release follows on the way out).
  void CheckNotFreedDuring(Napi::Env env, const char* op) const;
  // The first BIO of `type` in this chain (this one included), or throws.
  BIO* Find(Napi::Env env, int type, const char* op) const;
  // Find() for a setter: also refused while a call of the family runs.
  BIO* FindToSet(Napi::Env env, int type, const char* op) const;
  // Checks an SSL BIO can do I/O and prepares a client's host check.
  void ReadySsl(Napi::Env env, const char* op);
  // A failed attempt: a negative wait mask when OpenSSL says retry, 0 for a
  // clean end of input; otherwise throws the error with OpenSSL's reason.
  int Fail(Napi::Env env, const char* during);
  // The descriptor a retry waits on: the transport under this chain.
  int WaitFd() const;
  // Unlinks this BIO from its chain, keeping the link references right.
  // Returns the BIO that followed it with one reference for the caller
  // (or nullptr).
  BIO* Unlink();
  // free(): close_notify (BIO_CLOSE SSL), unlink, release. `env` may be
  // null (finalizer): then no JS is touched.
  void Release(napi_env env);
  // Wraps `bio` (one reference handed over), or returns its live wrapper
  // after dropping the handed-over reference.
  static Napi::Value WrapOrFind(Napi::Env env, BIO* bio);

  BIO* bio_ = nullptr;
  Kind kind_ = Kind::kSocket;
  // set_ssl: the JS SSL (kept alive), its wrapper, and the reference the
  // wrapper holds for BIO_NOCLOSE.
  Napi::ObjectReference ssl_ref_;
  FdSsl* ssl_wrap_ = nullptr;
  SSL* ssl_hold_ = nullptr;
  bool ssl_close_ = false;
  int user_fd_ = -1;            // set_fd: the caller's descriptor
  bool close_user_fd_ = false;  // set_fd(fd, BIO_CLOSE)
  int dup_fd_ = -1;             // set_fd: our dup, closed after the BIO
  // What set_accept_name/port/family asked for: the getters report these
  // until the socket is bound, then the real address (port 0 -> the port).
  std::string accept_name_;
  std::string accept_port_;
  int accept_family_ = 0;
  unsigned long last_error_ = 0;
  bool free_pending_ = false;  // free() came while a call of the family ran
  napi_env env_ = nullptr;
  FdWaiter waiter_;
};

}  // namespace rxtls
