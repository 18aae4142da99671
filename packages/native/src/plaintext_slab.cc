#include "plaintext_slab.h"

namespace rxtls {

void PlaintextSlab::Begin(Napi::Env env, size_t room) {
  if (slab_.IsEmpty() || kSize - used_ < room) {
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, kSize);
    // The old slab goes with its last view (Reference's assignment releases it).
    slab_ = Napi::Persistent(ab);
    data_ = static_cast<uint8_t*>(ab.Data());
    used_ = 0;
  }
  start_ = used_;
}

}  // namespace rxtls
