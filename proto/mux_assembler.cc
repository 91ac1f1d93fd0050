// MuxAssembler: per-stream assembly and monotonicity (docs/protocol.md §4.3, §11.2), so frames of different
// streams may interleave at any frame boundary.
#include <limits>
#include <utility>
#include <variant>

#include "absl/base/attributes.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "proto/base/check.h"
#include "proto/packet.h"

namespace drpc {

MuxAssembler::MuxAssembler(Options options)
    : options_(options), streams_(options.spare_streams_max_count) {
  DRPC_CHECK_GE(options_.packet_max_bytes, limits::kPacketLimitMinBytes);
  DRPC_CHECK_LE(options_.packet_max_bytes, limits::kPacketLimitMaxBytes);
  DRPC_CHECK_GE(options_.streams_max_count, size_t{1});
}

void MuxAssembler::Forget(uint64_t stream) {
  if (lent_.has_value() && lent_->id.stream == stream) lent_.reset();
  StreamState* state = streams_.Find(stream);
  if (state == nullptr) return;
  ResetPartial(*state);
  streams_.Erase(stream);
}

void MuxAssembler::ResetPartial(StreamState& state) {
  if (!state.partial.has_value()) return;
  DRPC_DCHECK_LE(state.partial->data.size(), partial_total_bytes_);
  partial_total_bytes_ -= state.partial->data.size();
  state.partial.reset();
}

size_t MuxAssembler::partial_bytes(uint64_t stream) const {
  const StreamState* state = streams_.Find(stream);
  if (state == nullptr || !state->partial.has_value()) return 0;
  return state->partial->data.size();
}

absl::StatusOr<MuxAssembler::Result> MuxAssembler::Fail(absl::Status status) {
  error_ = std::move(status);
  streams_.Clear();
  partial_total_bytes_ = 0;
  lent_.reset();
  return error_;
}

std::optional<std::string> MuxAssembler::LendBuffer(const Frame& head, size_t data_bytes) {
  DRPC_CHECK(!lent_.has_value()) << "a packet buffer is lent already";
  if (!error_.ok() || head.id.stream == 0 || head.id.message == 0) return std::nullopt;
  StreamState* state = streams_.Find(head.id.stream);
  if (state == nullptr && streams_.size() >= options_.streams_max_count) return std::nullopt;
  const uint64_t m = head.id.message;
  if (state != nullptr &&
      (state->next_message == 0 || m < state->next_message || state->discarding_message == m)) {
    return std::nullopt;
  }
  const bool continues =
      state != nullptr && state->partial.has_value() && state->partial->id.message == m;
  if (continues && head.kind != state->partial->kind) return std::nullopt;
  const size_t held = continues ? state->partial->data.size() : 0;
  // The kind's limit is never above the packet limit: one check covers both of OnFrame's.
  if (data_bytes > PacketKindMaxBytes(head.kind, options_.packet_max_bytes) - held) {
    return std::nullopt;
  }
  lent_ = Lent{head.id, held};
  if (!continues) return options_.buffers != nullptr ? options_.buffers->Take() : std::string();
  partial_total_bytes_ -= held;
  return std::exchange(state->partial->data, std::string());
}

void MuxAssembler::Unlend(std::string buffer) {
  if (!lent_.has_value()) return;
  StreamState* state = streams_.Find(lent_->id.stream);
  if (state != nullptr && state->partial.has_value() && state->partial->id == lent_->id &&
      state->partial->data.empty()) {
    buffer.resize(lent_->held_bytes);
    state->partial->data = std::move(buffer);
    partial_total_bytes_ += lent_->held_bytes;
  }
  lent_.reset();
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

// Inline: TakeWholePacket runs it for nearly every frame.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void MuxAssembler::FillWholePacket(StreamState& state,
                                                                       const Frame& frame,
                                                                       Packet& out) {
  FillPacketFromWholeFrame(frame, options_.buffers, out);
  const uint64_t m = frame.id.message;
  state.next_message = m == std::numeric_limits<uint64_t>::max() ? 0 : m + 1;
}

absl::StatusOr<MuxAssembler::Result> MuxAssembler::WholePacket(StreamState& state,
                                                              const Frame& frame) {
  // Built where the caller gets it: what OnFrame's general path does for such a frame, less the
  // partial packet it would create, count in partial_total_bytes_ and move out (its kind's limit
  // is never above the packet limit: no error applies).
  absl::StatusOr<Result> result(absl::in_place, std::in_place_type<Packet>);
  FillWholePacket(state, frame, std::get<Packet>(*result));
  return result;
}

bool MuxAssembler::TakeWholePacket(const Frame& frame, Packet& out) {
  // OnFrame's common case, decided as OnFrame decides it; anything else (errors included) is
  // left to OnFrame. Nothing lent: nothing to adopt.
  if (!error_.ok() || lent_.has_value() || !frame.done || frame.id.stream == 0 ||
      frame.id.message == 0 ||
      frame.data.size() > PacketKindMaxBytes(frame.kind, options_.packet_max_bytes)) {
    return false;
  }
  StreamState* found = streams_.Find(frame.id.stream);
  if (found == nullptr) {
    if (streams_.size() >= options_.streams_max_count) return false;
    // What OnFrame would add; a new stream's state takes any nonzero message ID whole.
    found = &streams_.Insert(frame.id.stream);
  }
  StreamState& state = *found;
  const uint64_t m = frame.id.message;
  if (state.next_message == 0 || m < state.next_message || state.discarding_message != 0 ||
      state.partial.has_value()) {
    return false;
  }
  FillWholePacket(state, frame, out);
  return true;
}

absl::StatusOr<MuxAssembler::Result> MuxAssembler::OnFrame(const Frame& frame,
                                                          std::optional<std::string>* lent) {
  if (!error_.ok()) return error_;
  // The frame whose data was read into the lent buffer: the packet takes the buffer back.
  const bool adopt = lent != nullptr && lent->has_value() && lent_.has_value() &&
                     lent_->id == frame.id;
  DRPC_CHECK(adopt || !lent_.has_value()) << "a frame arrived while a packet buffer is lent";
  if (adopt) {
    DRPC_CHECK_EQ((*lent)->size(), lent_->held_bytes + frame.data.size());
    DRPC_CHECK(frame.data.data() == (*lent)->data() + lent_->held_bytes);
  }
  if (frame.id.stream == 0 || frame.id.message == 0) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("protocol error: zero ", frame.id.stream == 0 ? "stream" : "message",
                     " ID in ", KindName(frame.kind), " frame ", PacketIdString(frame.id))));
  }
  StreamState* found = streams_.Find(frame.id.stream);
  if (found == nullptr) {
    if (streams_.size() >= options_.streams_max_count) {
      return Fail(absl::ResourceExhaustedError(absl::StrCat(
          "protocol error: too many streams with assembly state (", streams_.size(),
          ", limit ", options_.streams_max_count, ") at frame ", PacketIdString(frame.id))));
    }
    found = &streams_.Insert(frame.id.stream);
  }
  StreamState& state = *found;
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
  if (frame.done && !state.partial.has_value() && !adopt &&
      frame.data.size() <= PacketKindMaxBytes(frame.kind, options_.packet_max_bytes)) {
    return WholePacket(state, frame);
  }
  if (!state.partial.has_value() || state.partial->id.message != m) {
    // A higher message ID abandons this stream's partial packet only.
    if (!state.partial.has_value()) {
      state.partial.emplace();
      if (options_.buffers != nullptr && !adopt) state.partial->data = options_.buffers->Take();
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
  const size_t held = adopt ? lent_->held_bytes : state.partial->data.size();
  const size_t len = held + frame.data.size();
  if (len > options_.packet_max_bytes) {
    lent_.reset();  // LendBuffer checked this: not reached with a lent buffer
    return Overflow(frame.id.stream, state, frame);
  }
  if (len > PacketKindMaxBytes(frame.kind, options_.packet_max_bytes)) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "protocol error: ", KindName(frame.kind), " packet ", PacketIdString(frame.id),
        " reached ", len, " bytes, over the limit of ",
        PacketKindMaxBytes(frame.kind, options_.packet_max_bytes), " bytes for its kind")));
  }
  if (adopt) {
    state.partial->data = std::move(**lent);
    lent->reset();
    lent_.reset();
    partial_total_bytes_ += held;
  } else {
    state.partial->data.append(frame.data.data(), frame.data.size());
  }
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
