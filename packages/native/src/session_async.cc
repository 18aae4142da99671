// Handshake steps on libuv's thread pool (TlsEngineOptions.handshakeOffload).
// A handshake step is the expensive part of a TLS connection (key exchange,
// signatures, certificate verification); running it on the pool keeps the
// loop responsive under a flood of handshakes and spreads them over cores.
//
// One SSL is touched by one thread at a time: while a step is in flight the
// session refuses every other call (Get() throws) and free() is deferred to
// the step's completion, which runs on the loop thread. The worker holds a
// reference to the session's JS object, so it cannot be collected meanwhile.
#include <openssl/err.h>

#include "context_data.h"
#include "handshake_step.h"
#include "session.h"
#include "util/args.h"
#include "util/err_queue.h"
#include "util/errors.h"

namespace rxtls {

class HandshakeWorker : public Napi::AsyncWorker {
 public:
  HandshakeWorker(Session* session, Napi::Object self, Napi::Function callback)
      : Napi::AsyncWorker(self, callback, "rxtls:handshake"), session_(session) {}

  // Thread pool: only the SSL and its memory BIOs, no JS, no Napi.
  void Execute() override { step_.Run(session_->ssl_); }

  // Loop thread, after Execute.
  void OnOK() override {
    Napi::Env env = Env();
    Session* s = session_;
    s->in_flight_ = false;
    if (s->free_pending_) {
      // free() was called meanwhile: the connection is gone, nobody waits.
      s->free_pending_ = false;
      s->Release();
      return;
    }
    int flags = 0;
    bool freed = false;
    {
      // Busy as cycle() is: the error factory and `out`'s setters are JS.
      auto busy = s->Busy();
      try {
        step_.RestoreErrors();
        if (s->AfterHandshakeStep(env, step_.ret(), step_.err(), &flags)) s->FinishCycle(env, &flags);
      } catch (const Napi::Error& e) {
        // What cycle() would have thrown becomes the session's fatal error.
        s->dead_ = true;
        s->out_.Value().Set(2u, e.Value());
        flags |= kFlagError;
      }
      ClearErrorQueue();
      freed = s->depth_.free_deferred();
    }
    // Freed from inside the completion (released just now): nobody waits.
    if (freed) return;
    Callback().Call(Receiver().Value(), {Napi::Number::New(env, flags)});
  }

 private:
  Session* session_;
  PoolStep step_;
};

bool Session::HasJsCallbacks() const { return HandshakeMayCallJs(ssl_); }

// cycleAsync(chunk | undefined, length | undefined, callback): like cycle(),
// but the handshake step runs on the thread pool. Returns -1 when it does:
// callback(flags) follows on the loop thread, with the results in `out`, and
// until then every other call throws ERR_TLS_STATE (free() is deferred).
// Otherwise it ran synchronously, as cycle() does, and returns the flags:
// after the handshake (records are cheap and order-sensitive) and when a JS
// callback (SNI, keylog) could run during the handshake, since JS cannot run
// on a worker thread.
Napi::Value Session::CycleAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GetIdle(env, "cycleAsync");
  auto busy = Busy();
  Napi::Value callback = Arg(info, 2);
  if (!callback.IsFunction()) ThrowExpected(env, "callback", "a function");
  FeedArgs(info, 0);
  if (handshake_done_ || HasJsCallbacks()) {
    int flags = Step(env);
    ThrowIfFreedDuring(env);
    return Napi::Number::New(env, flags);
  }
  auto* worker = new HandshakeWorker(this, info.This().As<Napi::Object>(), callback.As<Napi::Function>());
  in_flight_ = true;
  try {
    worker->Queue();
  } catch (...) {
    in_flight_ = false;
    delete worker;  // never queued: nobody else deletes it
    throw;
  }
  return Napi::Number::New(env, -1);
}

}  // namespace rxtls
