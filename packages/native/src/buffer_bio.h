// A BIO over a chain of fixed-size blocks, the buffers between a socket and
// an SSL on the native transport. Blocks leave a chain as soon as they are
// drained, so an idle connection holds no buffer at all (a few drained blocks
// wait per thread for the next chain that needs one: no malloc/free pair per
// record on a busy loop). The socket reads
// straight into the tail (Reserve/Commit) and writes straight from the head
// (Peek/Consume): no copy between the kernel and OpenSSL.
#pragma once

#include <openssl/bio.h>
#include <uv.h>

#include <cstddef>

namespace rxtls {

class BufferChain {
 public:
  // 16 KiB: one full TLS record's plaintext; a read fills at most one block.
  static constexpr size_t kBlockSize = 16384 + 512;

  BufferChain() = default;
  ~BufferChain();
  BufferChain(const BufferChain&) = delete;
  BufferChain& operator=(const BufferChain&) = delete;

  size_t size() const { return size_; }
  void Append(const char* data, size_t len);
  // Copies up to `len` bytes out and frees the blocks it empties.
  size_t Read(char* out, size_t len);
  // Free space at the tail for a socket read (a new block when the tail is full).
  uv_buf_t Reserve();
  // `n` bytes were written into the space Reserve() gave. 0 releases an unused block.
  void Commit(size_t n);
  // Up to `max` views of the data from the head, oldest first; returns how many.
  size_t Peek(uv_buf_t* bufs, size_t max) const;
  // Drops `n` bytes from the head (they were sent), freeing emptied blocks.
  void Consume(size_t n);
  void Clear();

 private:
  struct Block {
    Block* next;
    size_t start;  // first unread byte
    size_t end;    // one past the last written byte
    char data[kBlockSize];
  };
  Block* NewTail();
  void PopHead();
  static Block* TakeBlock();
  static void GiveBack(Block* b);

  Block* head_ = nullptr;
  Block* tail_ = nullptr;
  size_t size_ = 0;
};

// A source/sink BIO over its own BufferChain (freed with the BIO). An empty
// BIO reads as "retry", never EOF: the end of the TCP stream is the
// transport's to report. Returns nullptr when OpenSSL cannot allocate.
BIO* NewBufferBio();
// The chain of a BIO made by NewBufferBio.
BufferChain* BufferBioChain(BIO* bio);

}  // namespace rxtls
