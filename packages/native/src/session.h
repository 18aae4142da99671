// Session: one SSL over a pair of memory BIOs. The event loop feeds it the
// ciphertext that arrived (EncIn) and takes back ciphertext to send (EncOut);
// plaintext leaves through ClearOut and enters through write(). Nothing here
// touches a socket or waits.
#pragma once

#include <napi.h>
#include <openssl/ssl.h>

namespace rxtls {

// Bits of the number cycle()/write()/shutdown() return. Mirrored in
// packages/native/lib/native.ts (CycleFlag).
enum CycleFlag : int {
  kFlagSecure = 1,      // the handshake completed during this call
  kFlagClearOut = 2,    // out[0] holds decrypted plaintext
  kFlagEncOut = 4,      // out[1] holds ciphertext to send
  kFlagPeerClosed = 8,  // the peer's close_notify arrived
  kFlagError = 16,      // out[2] holds the fatal error; the session is dead
};

class Session : public Napi::ObjectWrap<Session> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Session(const Napi::CallbackInfo& info);
  ~Session() override;

 private:
  Napi::Value Cycle(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value Shutdown(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value PeerCertificate(const Napi::CallbackInfo& info);
  Napi::Value Free(const Napi::CallbackInfo& info);
  Napi::Value IsFreed(const Napi::CallbackInfo& info);
  Napi::Value Pointer(const Napi::CallbackInfo& info);

  SSL* Get(Napi::Env env) const;
  // Handles a failed SSL_do_handshake/SSL_read: false for want-read/write,
  // true after recording a fatal error in out[2].
  bool Fail(Napi::Env env, int ret, int* flags, const char* during);
  // Moves pending ciphertext into out[1].
  void DrainEncOut(Napi::Env env, int* flags);

  SSL* ssl_ = nullptr;
  BIO* enc_in_ = nullptr;   // owned by ssl_
  BIO* enc_out_ = nullptr;  // owned by ssl_
  Napi::Reference<Napi::Array> out_;
  bool is_server_ = false;
  bool dead_ = false;  // a fatal error happened: only free() and info() remain
};

}  // namespace rxtls
