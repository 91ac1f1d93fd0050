// MuxManager and the connection's buffer budget (impl/buffer_budget.h): what pending metadata
// counts, which stream gives way when nothing frees room, and what a read EOF ends.
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "impl/mux_manager.h"
#include "proto/base/check.h"

namespace drpc {

void MuxManager::StorePending(uint64_t id, Metadata metadata, size_t bytes) {
  PendingInvoke& p = pending_[id];
  buffers().Sub(ConnectionBuffers::Kind::kPending, p.bytes);
  p.metadata = std::move(metadata);
  p.bytes = bytes;
  buffers().Add(ConnectionBuffers::Kind::kPending, bytes);
}

Metadata MuxManager::TakePending(uint64_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return Metadata{};
  Metadata md = std::move(it->second.metadata);
  buffers().Sub(ConnectionBuffers::Kind::kPending, it->second.bytes);
  pending_.erase(it);
  return md;
}

bool MuxManager::ErasePending(uint64_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return false;
  buffers().Sub(ConnectionBuffers::Kind::kPending, it->second.bytes);
  pending_.erase(it);
  return true;
}

void MuxManager::ClearPending() {
  for (const auto& [id, p] : pending_) buffers().Sub(ConnectionBuffers::Kind::kPending, p.bytes);
  pending_.clear();
}

bool MuxManager::ShedLargestHolder(const absl::Status& why) {
  // The stream holding the most (queued messages plus the message being assembled), lowest ID
  // first among equals; streams whose Invoke has not arrived count their metadata.
  uint64_t largest = 0;
  size_t largest_bytes = 0;
  bool largest_pending = false;
  for (const auto& [id, state] : streams_) {
    if (state.stream->terminated()) continue;
    const size_t held = state.stream->queued_bytes() + assembler_.partial_bytes(id);
    if (held > largest_bytes) {
      largest = id;
      largest_bytes = held;
    }
  }
  for (const auto& [id, p] : pending_) {
    const size_t held = p.bytes + assembler_.partial_bytes(id);
    if (held > largest_bytes) {
      largest = id;
      largest_bytes = held;
      largest_pending = true;
    }
  }
  if (largest_bytes == 0) return false;
  const absl::Status error = absl::ResourceExhaustedError(absl::StrCat(
      why.message(), "; stream ", largest, " held ", largest_bytes, " of them"));
  if (!largest_pending) {
    OnStreamError(*streams_.at(largest).stream, error);
    return true;
  }
  ErasePending(largest);
  assembler_.Forget(largest);
  if (absl::Status s = WriteUnregisteredError(largest, error); !s.ok()) Terminate(s);
  return true;
}

void MuxManager::EndStreamsStillReceiving(const absl::Status& reason) {
  std::vector<std::shared_ptr<Stream>> ending;
  for (const auto& [id, state] : streams_) {
    if (!state.stream->terminated() && !state.stream->peer_send_closed()) {
      ending.push_back(state.stream);
    }
  }
  for (const std::shared_ptr<Stream>& s : ending) s->TerminateFromConnection(reason);
  for (const auto& [id, p] : pending_) assembler_.Forget(id);
  ClearPending();
}

}  // namespace drpc
