// MuxManager and the connection's buffer budget (impl/buffer_budget.h): what pending metadata
// counts, which stream gives way when nothing frees room, and what a read EOF ends.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "impl/tunables.h"
#include "impl/mux_manager.h"
#include "proto/base/check.h"

namespace drpc {

void MuxManager::StorePending(PendingInvoke& pending, Metadata metadata, size_t bytes) {
  ReleasePending(pending);
  pending.metadata = std::move(metadata);
  pending.bytes = bytes;
  buffers().Add(ConnectionBuffers::Kind::kPending, bytes);
}

void MuxManager::ReleasePending(PendingInvoke& pending) {
  buffers().Sub(ConnectionBuffers::Kind::kPending, pending.bytes);
  pending.bytes = 0;
}

Metadata MuxManager::TakePending(uint64_t id, PendingInvoke& pending) {
  DRPC_CHECK(pending.state == PendingInvoke::State::kAssembling);
  DRPC_CHECK_GT(pending_assembling_, 0u);
  ReleasePending(pending);
  Metadata md = std::move(pending.metadata);
  pending_.Erase(id);
  --pending_assembling_;
  return md;
}

void MuxManager::ClearPending() {
  pending_.ForEach([this](uint64_t, PendingInvoke& p) { ReleasePending(p); });
  pending_.Clear();
  pending_assembling_ = 0;
}

bool MuxManager::ShedLargestHolder(const absl::Status& why) {
  // The stream holding the most (queued messages plus the message being assembled), lowest ID
  // first among equals; streams whose Invoke has not arrived count their metadata.
  uint64_t largest = 0;
  size_t largest_bytes = 0;
  bool largest_pending = false;
  streams_.ForEach([&](uint64_t id, const StreamState& state) {
    if (state.stream->terminated()) return;
    const size_t held = state.stream->queued_bytes() + assembler_.partial_bytes(id);
    if (held > largest_bytes) {
      largest = id;
      largest_bytes = held;
    }
  });
  pending_.ForEach([&](uint64_t id, const PendingInvoke& p) {
    if (p.state != PendingInvoke::State::kAssembling) return;  // holds nothing
    const size_t held = p.bytes + assembler_.partial_bytes(id);
    if (held > largest_bytes) {
      largest = id;
      largest_bytes = held;
      largest_pending = true;
    }
  });
  if (largest_bytes == 0) return false;
  std::string text = absl::StrCat(why.message(), "; stream ", largest, " held ", largest_bytes,
                                  " of them");
  // The options let a message be larger than the budget (the fork's 64 MiB messages under flow
  // control, a 16 MiB budget): such a message can never be held whole, and says so.
  const size_t message_max = options_.MuxMessageMaxBytes();
  if (message_max + tunables::kReadMaxBytes > options_.connection_buffered_max_bytes) {
    absl::StrAppend(&text, "; a message may be up to ",
                    options_.flow.enabled ? "flow.message_max_bytes" : "packet_max_bytes", " = ",
                    message_max, " bytes, but the connection_buffered_max_bytes budget is ",
                    options_.connection_buffered_max_bytes,
                    " bytes, so a message that does not fit it fails its stream");
  }
  const absl::Status error = absl::ResourceExhaustedError(text);
  if (!largest_pending) {
    OnStreamError(*streams_.Find(largest)->stream, error);
    // Its later frames are dropped before assembly: its partial packet goes now, not when its
    // handler returns (the reader must not wait for room this already frees).
    assembler_.Forget(largest);
    return true;
  }
  // Refused like any pending stream that will not be served: its later frames are dropped.
  if (absl::Status s = RefusePending(largest, error, /*invoke_complete=*/false); !s.ok()) {
    Terminate(s);
  }
  return true;
}

void MuxManager::EndStreamsStillReceiving(const absl::Status& reason) {
  std::vector<std::shared_ptr<Stream>> ending;
  streams_.ForEach([&ending](uint64_t, const StreamState& state) {
    if (!state.stream->terminated() && !state.stream->peer_send_closed()) {
      ending.push_back(state.stream);
    }
  });
  for (const std::shared_ptr<Stream>& s : ending) s->TerminateFromConnection(reason);
  pending_.ForEach([this](uint64_t id, const PendingInvoke& p) {
    if (p.state == PendingInvoke::State::kAssembling) assembler_.Forget(id);
  });
  ClearPending();
}

}  // namespace drpc
