// Where the native transport decrypts to: a JS ArrayBuffer shared by every
// connection of a loop. A batch of plaintext is decrypted straight into it
// and handed to JS as a view (Buffer.from(arrayBuffer, offset, length)), so a
// read costs no allocation and no copy. A region once handed out is never
// written again: when the rest is too small for a record, the next batch
// starts a new slab, and the old one lives as long as JS keeps a view of it.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace rxtls {

class PlaintextSlab {
 public:
  // Big enough that a full 64 KiB socket read of small records fits in one.
  static constexpr size_t kSize = 128 * 1024;

  // Starts a batch with at least `room` bytes free (a new slab when the
  // current one has less). Throws a Napi::Error when V8 cannot allocate.
  void Begin(Napi::Env env, size_t room);
  uint8_t* cursor() const { return data_ + used_; }
  size_t room() const { return kSize - used_; }
  // `n` bytes were written at the cursor: they join the current batch.
  void Advance(size_t n) { used_ += n; }
  // The current batch: its offset and length in `buffer()`; the next begins after it.
  size_t batch_offset() const { return start_; }
  size_t batch_length() const { return used_ - start_; }
  Napi::ArrayBuffer buffer() const { return slab_.Value(); }

 private:
  Napi::Reference<Napi::ArrayBuffer> slab_;
  uint8_t* data_ = nullptr;
  size_t used_ = kSize;  // no slab yet: the first Begin makes one
  size_t start_ = kSize;
};

}  // namespace rxtls
