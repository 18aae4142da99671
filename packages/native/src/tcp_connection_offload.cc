// handshakeOffload on the native transport: each handshake step
// (SSL_do_handshake over the ciphertext that arrived) runs on libuv's thread
// pool, so a flood of handshakes neither stalls the loop nor stays on one core.
//
// Ownership while a step is in flight: the pool thread has ssl_ and both of
// its buffer chains (in_, out_); the loop thread touches none of them.
//   - Input: reading stops when the step is queued (what the peer sends
//     meanwhile waits in the kernel, so memory stays bounded) and restarts
//     once the step's result was processed. Ciphertext only ever enters in_
//     on the loop thread, between steps.
//   - Output: the flight, alerts and tickets the step wrote are flushed by
//     Process on the loop thread afterwards. When a uv_write is still sending
//     from out_ (its completion consumes out_ on the loop thread), the step
//     writes to a BIO of its own, appended to out_ after it (DivertOutput).
//     Close() skips its last try-write.
//   - Queries (info(), peerCertificate(), …) throw ERR_TLS_STATE meanwhile.
//   - Close (destroy, server close, timeout, environment teardown) cancels a
//     step not started yet; the free waits for OnStepDone (Finish()).
// A handshake OpenSSL could call JS from (an SNI or keylog callback on the
// context) runs on the loop thread, as on the JS transport: JS runs only there.
#include <uv.h>

#include <new>

#include "buffer_bio.h"
#include "tcp_connection.h"
#include "util/errors.h"

namespace rxtls {

bool TcpConn::QueueStep() {
  if (!settings_.handshake_offload || closing_ || step_in_flight()) return false;
  // Nothing to work on (a server waiting for the peer's flight) is cheap
  // here; a client's first step writes its ClientHello (key generation).
  if (in_->size() == 0 && (is_server_ || !SSL_in_before(ssl_))) return false;
  if (CallJsDuringHandshake()) return false;
  // Rare: the peer answers a flight only once it has all of it.
  if (writing_ > 0 && !DivertOutput()) return false;
  offload_.req.data = this;
  if (uv_queue_work(loop_->loop(), &offload_.req, OnStepWork, OnStepDone) != 0) {
    RestoreOutput();
    return false;
  }
  offload_.in_flight = true;
  StopReading();
  return true;
}

void TcpConn::OnStepWork(uv_work_t* req) {
  auto* c = static_cast<TcpConn*>(req->data);
  c->offload_.step.Run(c->ssl_);
}

void TcpConn::OnStepDone(uv_work_t* req, int status) {
  auto* c = static_cast<TcpConn*>(req->data);
  c->offload_.in_flight = false;
  bool restored = c->RestoreOutput();
  if (c->closing_) {
    // Closed meanwhile: the step's output is dropped. Freed here once every
    // handle is closed too (else the last close callback frees).
    if (c->offload_.finish_pending) {
      c->offload_.finish_pending = false;
      c->Finish();
    }
    return;
  }
  if (!restored) {
    // No memory for what the step wrote: the stream would have a hole.
    c->failed_ = true;
    c->Close();
    return;
  }
  // Only Close() cancels, so a step that did not run cannot get here.
  c->offload_.ready = status == 0;
  bool ok = FromLoop([&] {
    Napi::Env env(c->loop_->env());
    Napi::HandleScope scope(env);
    c->Process(env);
    c->StartReading();
  });
  c->offload_.ready = false;
  // A failure that could not even be reported: the connection closes.
  if (!ok) c->Close();
}

bool TcpConn::TakeStep(int* ret, int* err) {
  if (!offload_.ready) return false;
  offload_.ready = false;
  offload_.step.RestoreErrors();
  *ret = offload_.step.ret();
  *err = offload_.step.err();
  return true;
}

void TcpConn::CancelStep() {
  // 0: it had not started and OnStepDone follows with UV_ECANCELED; running
  // or done (UV_EBUSY): OnStepDone follows all the same.
  if (step_in_flight()) uv_cancel(reinterpret_cast<uv_req_t*>(&offload_.req));
}

bool TcpConn::DivertOutput() {
  BIO* side = NewBufferBio();
  if (side == nullptr) return false;
  BIO* main = SSL_get_wbio(ssl_);
  if (BIO_up_ref(main) != 1) {
    BIO_free(side);
    return false;
  }
  // The SSL frees the BIO it lets go: the reference taken above keeps out_.
  SSL_set0_wbio(ssl_, side);
  offload_.held_wbio = main;
  return true;
}

bool TcpConn::RestoreOutput() {
  BIO* main = offload_.held_wbio;
  if (main == nullptr) return true;
  offload_.held_wbio = nullptr;
  BufferChain* side = BufferBioChain(SSL_get_wbio(ssl_));
  bool ok = true;
  try {
    uv_buf_t bufs[16];
    while (size_t n = side->Peek(bufs, 16)) {
      size_t total = 0;
      for (size_t i = 0; i < n; ++i) {
        out_->Append(bufs[i].base, bufs[i].len);
        total += bufs[i].len;
      }
      side->Consume(total);
    }
  } catch (const std::bad_alloc&) {
    ok = false;
  }
  SSL_set0_wbio(ssl_, main);  // takes the reference DivertOutput held; frees the side BIO
  return ok;
}

TcpConn* TcpConnection::GetSsl(Napi::Env env) const {
  TcpConn* c = Get(env);
  if (c->step_in_flight())
    ThrowError(env, kErrState, "a handshake step is running on the thread pool; query the connection once it is secure");
  return c;
}

}  // namespace rxtls
