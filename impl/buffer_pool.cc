#include "impl/buffer_pool.h"

#include <algorithm>
#include <utility>

#include "proto/base/check.h"

namespace drpc {

BufferPool::BufferPool(Limits limits) : limits_(limits) {
  DRPC_CHECK_LE(limits_.buffer_max_bytes, limits_.pooled_max_bytes);
  // No reserve: 64 slots are 2 KiB on every connection, most of which never pools a buffer.
}

std::string BufferPool::Take() {
  if (free_.empty()) {
    ++allocated_;
    return std::string();
  }
  std::string b = std::move(free_.back());
  free_.pop_back();
  free_bytes_ -= b.capacity();
  ++reused_;
  DRPC_CHECK(b.empty());
  return b;
}

void BufferPool::TakeInto(std::string& out) {
  DRPC_DCHECK(out.empty());
  if (free_.empty()) {
    ++allocated_;
    return;
  }
  out = std::move(free_.back());
  free_.pop_back();
  free_bytes_ -= out.capacity();
  ++reused_;
  DRPC_CHECK(out.empty());
}

void BufferPool::Keep(std::string& buffer) {
  const size_t bytes = buffer.capacity();
  DRPC_DCHECK(bytes > std::string().capacity());
  if (free_.size() >= limits_.pooled_max_count || bytes > limits_.buffer_max_bytes ||
      free_bytes_ + bytes > limits_.pooled_max_bytes) {
    ++discarded_;
    freed_bytes_ += bytes;
    std::string().swap(buffer);  // freed now, as counted
    return;
  }
  buffer.clear();
  free_bytes_ += bytes;
  free_.push_back(std::move(buffer));
  DRPC_CHECK_LE(free_bytes_, limits_.pooled_max_bytes);
}

size_t BufferPool::Trim(size_t keep_max_bytes) {
  if (free_bytes_ <= keep_max_bytes) return 0;
  // Largest first: what is kept afterwards is the small buffers ordinary messages reuse.
  std::sort(free_.begin(), free_.end(), [](const std::string& a, const std::string& b) {
    return a.capacity() < b.capacity();
  });
  size_t freed = 0;
  while (free_bytes_ > keep_max_bytes) {
    const size_t bytes = free_.back().capacity();
    free_.pop_back();
    free_bytes_ -= bytes;
    freed += bytes;
  }
  freed_bytes_ += freed;
  return freed;
}

}  // namespace drpc
