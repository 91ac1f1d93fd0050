// BufferPool: a connection's bounded free list of message buffers (the "buffer pool" of
// cockroachdb/drpc PR #55, without sync.Pool's unbounded growth).
//
// A message's bytes travel in one std::string from the assembler to the application: the
// assembler takes an empty buffer from the pool for each new packet, the stream queues it, and
// Stream::RecvInto swaps it into the caller's string and gives the caller's *old* buffer back to
// the pool. Buffers of dropped messages (a stream ended, a late packet) go back as well. So in
// steady state a connection reuses a few buffers instead of allocating one per message.
//
//   BufferPool pool(BufferPool::Limits{});
//   std::string b = pool.Take();   // empty; capacity reused when the pool had one
//   ... fill b, hand it on ...
//   pool.Give(std::move(b));      // kept if within the bounds, else freed
//
// Bounds (impl/tunables.h): at most pooled_max_count buffers and pooled_max_bytes of capacity are
// kept; a buffer with more than buffer_max_bytes of capacity is freed rather than kept (one huge
// message must not pin its memory for the connection's life). Single-scheduler, like everything
// in impl/.
#ifndef DRPC_IMPL_BUFFER_POOL_H_
#define DRPC_IMPL_BUFFER_POOL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "impl/tunables.h"
#include "proto/packet.h"

namespace drpc {

class BufferPool final : public PacketBufferSource {
 public:
  struct Limits {
    size_t pooled_max_count = tunables::kBufferPoolMaxCount;
    size_t pooled_max_bytes = tunables::kBufferPoolMaxBytes;
    size_t buffer_max_bytes = tunables::kBufferPoolBufferMaxBytes;
  };
  explicit BufferPool(Limits limits);
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // An empty buffer: the most recently given one (warm in cache), or a new string.
  std::string Take() override;
  // Take() moved into `out`, an empty string that owns no buffer (left as it is when the pool is
  // empty).
  void TakeInto(std::string& out) override;
  // Keeps `buffer` for a later Take if the bounds allow; frees it otherwise. Its contents are
  // discarded (the caller must not keep views into it). Taken by reference: a buffer that was
  // never grown is left where it is, without a move.
  // Inline: a buffer that never grew beyond the small-string storage (an empty or short
  // message's) is not worth keeping, and is common enough to skip the call for.
  void Give(std::string&& buffer) {
    if (buffer.capacity() <= std::string().capacity()) return;
    Keep(buffer);
  }
  // Frees kept buffers (the largest first) until at most `keep_max_bytes` of capacity is kept: a
  // connection that went idle after a burst. Returns the bytes freed.
  size_t Trim(size_t keep_max_bytes);

  // Observability (tests, leak checks).
  size_t free_count() const { return free_.size(); }
  size_t free_bytes() const { return free_bytes_; }
  uint64_t reused() const { return reused_; }        // Takes served from the free list
  uint64_t allocated() const { return allocated_; }  // Takes that found it empty
  uint64_t discarded() const { return discarded_; }  // Gives over a bound (freed)
  // Capacity freed so far by Gives over a bound and by Trim (what the connection gave back).
  uint64_t freed_bytes() const { return freed_bytes_; }
  const Limits& limits() const { return limits_; }

 private:
  // Give for a grown buffer: kept if the bounds allow, freed otherwise.
  void Keep(std::string& buffer);

  Limits limits_;
  std::vector<std::string> free_;
  size_t free_bytes_ = 0;
  uint64_t reused_ = 0;
  uint64_t allocated_ = 0;
  uint64_t discarded_ = 0;
  uint64_t freed_bytes_ = 0;
};

}  // namespace drpc

#endif  // DRPC_IMPL_BUFFER_POOL_H_
