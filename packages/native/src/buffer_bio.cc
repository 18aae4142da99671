#include "buffer_bio.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

namespace rxtls {
namespace {

// Drained blocks kept for reuse, per thread (the loop's and each pool
// thread's), at most kSpareBlocks (16 × 16.5 KiB): a process-wide cost, not a
// per-connection one. None under AddressSanitizer, which must see every free.
#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kSpareBlocks = 0;
#else
constexpr size_t kSpareBlocks = 16;
#endif

struct Spares {
  void* head = nullptr;  // a BufferChain::Block list, linked through `next`
  size_t count = 0;
  ~Spares();
};
thread_local Spares spares;

}  // namespace

Spares::~Spares() {
  while (head != nullptr) {
    void* next = *static_cast<void**>(head);  // `next` is a Block's first member
    std::free(head);
    head = next;
  }
  count = kSpareBlocks;  // a chain freed after this (process exit) frees its blocks itself
}

BufferChain::Block* BufferChain::TakeBlock() {
  if (spares.head == nullptr) return static_cast<Block*>(std::malloc(sizeof(Block)));
  Block* b = static_cast<Block*>(spares.head);
  spares.head = b->next;
  --spares.count;
  return b;
}

void BufferChain::GiveBack(Block* b) {
  if (spares.count >= kSpareBlocks) {
    std::free(b);
    return;
  }
  b->next = static_cast<Block*>(spares.head);
  spares.head = b;
  ++spares.count;
}

BufferChain::~BufferChain() { Clear(); }

void BufferChain::Clear() {
  while (head_ != nullptr) PopHead();
  size_ = 0;
}

BufferChain::Block* BufferChain::NewTail() {
  // Not `new`: the data area needs no initialisation.
  Block* b = TakeBlock();
  if (b == nullptr) throw std::bad_alloc();
  b->next = nullptr;
  b->start = b->end = 0;
  if (tail_ != nullptr) tail_->next = b;
  else head_ = b;
  tail_ = b;
  return b;
}

void BufferChain::PopHead() {
  Block* b = head_;
  head_ = b->next;
  if (head_ == nullptr) tail_ = nullptr;
  GiveBack(b);
}

void BufferChain::Append(const char* data, size_t len) {
  while (len > 0) {
    Block* t = tail_ != nullptr && tail_->end < kBlockSize ? tail_ : NewTail();
    size_t n = std::min(len, kBlockSize - t->end);
    std::memcpy(t->data + t->end, data, n);
    t->end += n;
    size_ += n;
    data += n;
    len -= n;
  }
}

size_t BufferChain::Read(char* out, size_t len) {
  size_t done = 0;
  while (done < len && head_ != nullptr) {
    Block* h = head_;
    size_t n = std::min(len - done, h->end - h->start);
    std::memcpy(out + done, h->data + h->start, n);
    h->start += n;
    done += n;
    if (h->start == h->end) PopHead();  // drained: an idle chain holds no memory
  }
  size_ -= done;
  return done;
}

uv_buf_t BufferChain::Reserve() {
  Block* t = tail_ != nullptr && tail_->end < kBlockSize ? tail_ : NewTail();
  return uv_buf_init(t->data + t->end, static_cast<unsigned int>(kBlockSize - t->end));
}

void BufferChain::Commit(size_t n) {
  if (tail_ == nullptr) return;
  tail_->end += n;
  size_ += n;
  // A read that brought nothing must not leave an empty block behind.
  if (tail_->start != tail_->end) return;
  if (head_ == tail_) {
    PopHead();
    return;
  }
  Block* prev = head_;
  while (prev->next != tail_) prev = prev->next;
  GiveBack(tail_);
  prev->next = nullptr;
  tail_ = prev;
}

size_t BufferChain::Peek(uv_buf_t* bufs, size_t max) const {
  size_t i = 0;
  for (Block* b = head_; b != nullptr && i < max; b = b->next) {
    if (b->end > b->start) bufs[i++] = uv_buf_init(b->data + b->start, static_cast<unsigned int>(b->end - b->start));
  }
  return i;
}

void BufferChain::Consume(size_t n) {
  size_ -= n;
  while (n > 0 && head_ != nullptr) {
    Block* h = head_;
    size_t k = std::min(n, h->end - h->start);
    h->start += k;
    n -= k;
    if (h->start == h->end) PopHead();
  }
}

namespace {

int ChainWrite(BIO* bio, const char* data, int len) {
  BIO_clear_retry_flags(bio);
  if (len <= 0) return 0;
  try {
    BufferBioChain(bio)->Append(data, static_cast<size_t>(len));
  } catch (const std::bad_alloc&) {
    return -1;
  }
  return len;
}

int ChainRead(BIO* bio, char* out, int len) {
  BIO_clear_retry_flags(bio);
  if (len <= 0) return 0;
  size_t n = BufferBioChain(bio)->Read(out, static_cast<size_t>(len));
  if (n == 0) {
    // Empty: more ciphertext may come (retry), as BIO_set_mem_eof_return(-1) does.
    BIO_set_retry_read(bio);
    return -1;
  }
  return static_cast<int>(n);
}

int ChainPuts(BIO* bio, const char* s) { return ChainWrite(bio, s, static_cast<int>(std::strlen(s))); }

long ChainCtrl(BIO* bio, int cmd, long num, void* ptr) {
  BufferChain* chain = BufferBioChain(bio);
  switch (cmd) {
    case BIO_CTRL_PENDING:
      return static_cast<long>(chain->size());
    case BIO_CTRL_WPENDING:
      return 0;
    case BIO_CTRL_EOF:
      return 0;  // never EOF (see ChainRead)
    case BIO_CTRL_RESET:
      chain->Clear();
      return 1;
    case BIO_CTRL_FLUSH:
      return 1;  // the transport sends what is in the chain
    case BIO_CTRL_GET_CLOSE:
      return BIO_get_shutdown(bio);
    case BIO_CTRL_SET_CLOSE:
      BIO_set_shutdown(bio, static_cast<int>(num));
      return 1;
    default:
      return 0;
  }
}

int ChainCreate(BIO* bio) {
  BufferChain* chain = new (std::nothrow) BufferChain();
  if (chain == nullptr) return 0;
  BIO_set_data(bio, chain);
  BIO_set_init(bio, 1);
  return 1;
}

int ChainDestroy(BIO* bio) {
  delete BufferBioChain(bio);
  BIO_set_data(bio, nullptr);
  return 1;
}

// One method table per process, made on first use (thread-safe static init)
// and kept for the life of the process, as OpenSSL's own BIO_s_mem is.
const BIO_METHOD* ChainMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "rxtls buffer chain");
    if (m == nullptr) return m;
    BIO_meth_set_write(m, ChainWrite);
    BIO_meth_set_read(m, ChainRead);
    BIO_meth_set_puts(m, ChainPuts);
    BIO_meth_set_ctrl(m, ChainCtrl);
    BIO_meth_set_create(m, ChainCreate);
    BIO_meth_set_destroy(m, ChainDestroy);
    return m;
  }();
  return method;
}

}  // namespace

BIO* NewBufferBio() {
  const BIO_METHOD* m = ChainMethod();
  return m != nullptr ? BIO_new(m) : nullptr;
}

BufferChain* BufferBioChain(BIO* bio) { return static_cast<BufferChain*>(BIO_get_data(bio)); }

}  // namespace rxtls
