#include "impl/buffer_pool.h"

#include <utility>

#include "proto/base/check.h"

namespace drpc {

BufferPool::BufferPool(Limits limits) : limits_(limits) {
  DRPC_CHECK_LE(limits_.buffer_max_bytes, limits_.pooled_max_bytes);
  free_.reserve(limits_.pooled_max_count);
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

void BufferPool::Give(std::string buffer) {
  const size_t bytes = buffer.capacity();
  // A buffer that never grew beyond the small-string storage is not worth keeping.
  if (bytes <= std::string().capacity()) return;
  if (free_.size() >= limits_.pooled_max_count || bytes > limits_.buffer_max_bytes ||
      free_bytes_ + bytes > limits_.pooled_max_bytes) {
    ++discarded_;
    return;
  }
  buffer.clear();
  free_bytes_ += bytes;
  free_.push_back(std::move(buffer));
  DRPC_CHECK_LE(free_bytes_, limits_.pooled_max_bytes);
}

}  // namespace drpc
