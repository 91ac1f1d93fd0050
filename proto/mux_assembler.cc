// MuxAssembler: per-stream assembly and monotonicity (docs/protocol.md §4.3, §11.2), so frames of different
// streams may interleave at any frame boundary.
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "proto/base/check.h"
#include "proto/packet.h"

namespace drpc {

MuxAssembler::MuxAssembler(Options options) : options_(options) {
  DRPC_CHECK_GE(options_.packet_max_bytes, limits::kPacketLimitMinBytes);
  DRPC_CHECK_LE(options_.packet_max_bytes, limits::kPacketLimitMaxBytes);
  DRPC_CHECK_GE(options_.streams_max_count, size_t{1});
}

void MuxAssembler::Forget(uint64_t stream) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  ResetPartial(it->second);
  streams_.erase(it);
}

void MuxAssembler::ResetPartial(StreamState& state) {
  if (!state.partial.has_value()) return;
  DRPC_DCHECK_LE(state.partial->data.size(), partial_total_bytes_);
  partial_total_bytes_ -= state.partial->data.size();
  state.partial.reset();
}

size_t MuxAssembler::partial_bytes(uint64_t stream) const {
  auto it = streams_.find(stream);
  if (it == streams_.end() || !it->second.partial.has_value()) return 0;
  return it->second.partial->data.size();
}

absl::StatusOr<MuxAssembler::Result> MuxAssembler::Fail(absl::Status status) {
  error_ = std::move(status);
  streams_.clear();
  partial_total_bytes_ = 0;
  return error_;
}

MuxAssembler::Result MuxAssembler::Overflow(uint64_t stream, StreamState& state,
                                            const Frame& frame) {
  const size_t len = (state.partial.has_value() ? state.partial->data.size() : 0) +
                     frame.data.size();
  StreamAssemblyError error{
      stream, absl::ResourceExhaustedError(absl::StrCat(
                  "message too large: ", KindName(frame.kind), " packet ",
                  PacketIdString(frame.id), " reached ", len, " bytes, limit ",
                  options_.packet_max_bytes, " bytes per message"))};
  ResetPartial(state);
  // Later frames of this message are dropped; the next message ID starts fresh. (m+1 wraps to 0
  // for m = 2^64-1, which is the "no ID can follow" marker.)
  state.discarding_message = frame.done ? 0 : frame.id.message;
  state.next_message = frame.done ? frame.id.message + 1 : frame.id.message;
  return error;
}

absl::StatusOr<MuxAssembler::Result> MuxAssembler::OnFrame(const Frame& frame) {
  if (!error_.ok()) return error_;
  if (frame.id.stream == 0 || frame.id.message == 0) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("protocol error: zero ", frame.id.stream == 0 ? "stream" : "message",
                     " ID in ", KindName(frame.kind), " frame ", PacketIdString(frame.id))));
  }
  auto it = streams_.find(frame.id.stream);
  if (it == streams_.end()) {
    if (streams_.size() >= options_.streams_max_count) {
      return Fail(absl::ResourceExhaustedError(absl::StrCat(
          "protocol error: too many streams with assembly state (", streams_.size(),
          ", limit ", options_.streams_max_count, ") at frame ", PacketIdString(frame.id))));
    }
    it = streams_.emplace(frame.id.stream, StreamState{}).first;
  }
  StreamState& state = it->second;
  const uint64_t m = frame.id.message;
  if (state.next_message == 0 || m < state.next_message) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "protocol error: id monotonicity violation on stream ", frame.id.stream, " (fr:",
        PacketIdString(frame.id), " expected message >= ", state.next_message, ")")));
  }
  if (state.discarding_message == m) {
    if (frame.done) {
      state.discarding_message = 0;
      state.next_message = m == std::numeric_limits<uint64_t>::max() ? 0 : m + 1;
    }
    return Result{};
  }
  state.discarding_message = 0;
  if (!state.partial.has_value() || state.partial->id.message != m) {
    // A higher message ID abandons this stream's partial packet only.
    if (!state.partial.has_value()) {
      state.partial.emplace();
      if (options_.buffers != nullptr) state.partial->data = options_.buffers->Take();
    }
    partial_total_bytes_ -= state.partial->data.size();
    state.partial->id = frame.id;
    state.partial->kind = frame.kind;
    state.partial->control = frame.control;
    state.partial->data.clear();
    state.next_message = m;
  } else if (frame.kind != state.partial->kind) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "protocol error: packet kind change (fr:", KindName(frame.kind), " pkt:",
        KindName(state.partial->kind), ") in packet ", PacketIdString(frame.id))));
  }
  const size_t len = state.partial->data.size() + frame.data.size();
  if (len > options_.packet_max_bytes) return Overflow(frame.id.stream, state, frame);
  if (len > PacketKindMaxBytes(frame.kind, options_.packet_max_bytes)) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "protocol error: ", KindName(frame.kind), " packet ", PacketIdString(frame.id),
        " reached ", len, " bytes, over the limit of ",
        PacketKindMaxBytes(frame.kind, options_.packet_max_bytes), " bytes for its kind")));
  }
  state.partial->data.append(frame.data.data(), frame.data.size());
  partial_total_bytes_ += frame.data.size();
  state.partial->control = state.partial->control || frame.control;
  if (!frame.done) return Result{};
  state.next_message = m == std::numeric_limits<uint64_t>::max() ? 0 : m + 1;
  partial_total_bytes_ -= state.partial->data.size();
  Packet packet = std::move(*state.partial);
  state.partial.reset();
  return Result{std::move(packet)};
}

}  // namespace drpc
