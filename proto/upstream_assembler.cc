// UpstreamAssembler: Go drpc's Reader.ReadPacket rules (docs/protocol.md §4.2), minus its unbounded buffering.
#include <algorithm>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "proto/base/check.h"
#include "proto/packet.h"

namespace drpc {

UpstreamAssembler::UpstreamAssembler(Options options) : options_(options) {
  DRPC_CHECK_GE(options_.packet_max_bytes, limits::kPacketLimitMinBytes);
  DRPC_CHECK_LE(options_.packet_max_bytes, limits::kPacketLimitMaxBytes);
}

size_t UpstreamAssembler::partial_bytes() const {
  return partial_.has_value() ? partial_->data.size() : 0;
}

absl::Status UpstreamAssembler::Fail(absl::Status status) {
  error_ = std::move(status);
  partial_.reset();
  lent_.reset();
  return error_;
}

std::optional<std::string> UpstreamAssembler::LendBuffer(const Frame& head, size_t data_bytes) {
  DRPC_CHECK(!lent_.has_value()) << "a packet buffer is lent already";
  if (!error_.ok() || ids_exhausted_ || head.id < last_) return std::nullopt;
  const bool continues = partial_.has_value() && head.id == last_;
  if (continues && head.kind != partial_->kind) return std::nullopt;
  const size_t held = continues ? partial_->data.size() : 0;
  // The kind's limit is never above the packet limit: one check covers both of OnFrame's.
  if (data_bytes > PacketKindMaxBytes(head.kind, options_.packet_max_bytes) - held) {
    return std::nullopt;
  }
  lent_ = Lent{head.id, held};
  if (continues) return std::exchange(partial_->data, std::string());
  return options_.buffers != nullptr ? options_.buffers->Take() : std::string();
}

void UpstreamAssembler::Unlend(std::string buffer) {
  if (!lent_.has_value()) return;
  if (partial_.has_value() && partial_->id == lent_->id && partial_->data.empty()) {
    buffer.resize(lent_->held_bytes);
    partial_->data = std::move(buffer);
  }
  lent_.reset();
}

inline void UpstreamAssembler::AdvanceLast() {
  // The same ID again would start a duplicate packet: the next acceptable ID is (s, m+1). Go
  // wraps m at 2^64-1 (making old IDs acceptable again); the equivalent bound here is (s+1, 0).
  if (last_.message != std::numeric_limits<uint64_t>::max()) {
    ++last_.message;
  } else if (last_.stream != std::numeric_limits<uint64_t>::max()) {
    last_ = PacketId{last_.stream + 1, 0};
  } else {
    ids_exhausted_ = true;
  }
}

// Inline, like FillWholePacket: TakeWholePacket runs both for nearly every frame.
inline bool UpstreamAssembler::IsWholePacket(const Frame& frame) const {
  // Nothing lent: nothing to adopt. The kind's limit is never above the packet limit: no error
  // applies.
  return error_.ok() && !lent_.has_value() && !ids_exhausted_ && !(frame.id < last_) &&
         frame.done && !partial_.has_value() &&
         frame.data.size() <= PacketKindMaxBytes(frame.kind, options_.packet_max_bytes);
}

inline void UpstreamAssembler::FillWholePacket(const Frame& frame, Packet& out) {
  FillPacketFromWholeFrame(frame, options_.buffers, out);
  last_ = frame.id;
  AdvanceLast();
}

bool UpstreamAssembler::TakeWholePacket(const Frame& frame, Packet& out) {
  if (!IsWholePacket(frame)) return false;
  FillWholePacket(frame, out);
  return true;
}

absl::StatusOr<std::optional<Packet>> UpstreamAssembler::OnFrame(const Frame& frame,
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
  if (!adopt && IsWholePacket(frame)) {
    // Built where the caller gets it.
    absl::StatusOr<std::optional<Packet>> result(absl::in_place, std::in_place);
    FillWholePacket(frame, **result);
    return result;
  }
  // Go compares the pair lexicographically against the last accepted ID, which starts at (1,1):
  // that single rule also rejects stream or message ID 0 at the start of the connection.
  const bool acceptable = !ids_exhausted_ && !(frame.id < last_);
  if (!acceptable) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("protocol error: id monotonicity violation (fr:", PacketIdString(frame.id),
                     " r:", PacketIdString(last_), ")",
                     ids_exhausted_ ? " (no ID follows <18446744073709551615,18446744073709551615>)"
                                    : "")));
  }
  if (!partial_.has_value() || frame.id != last_) {
    // A newer ID abandons any partial packet silently (Go's "asynchronous interrupt").
    if (!partial_.has_value()) {
      partial_.emplace();
      if (options_.buffers != nullptr && !adopt) partial_->data = options_.buffers->Take();
    }
    partial_->id = frame.id;
    partial_->kind = frame.kind;
    partial_->control = frame.control;
    partial_->data.clear();
    last_ = frame.id;
  } else if (frame.kind != partial_->kind) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "protocol error: packet kind change (fr:", KindName(frame.kind), " pkt:",
        KindName(partial_->kind), ") in packet ", PacketIdString(frame.id))));
  }
  // Checked before appending, so an oversized packet is never buffered; the reported length is
  // what Go reports (the size the packet would have had).
  const size_t len = (adopt ? lent_->held_bytes : partial_->data.size()) + frame.data.size();
  if (len > options_.packet_max_bytes) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "protocol error: data overflow (len:", len, ") in ", KindName(partial_->kind),
        " packet ", PacketIdString(frame.id), ", limit ", options_.packet_max_bytes, " bytes")));
  }
  if (len > PacketKindMaxBytes(frame.kind, options_.packet_max_bytes)) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "protocol error: ", KindName(frame.kind), " packet ", PacketIdString(frame.id),
        " reached ", len, " bytes, over the limit of ",
        PacketKindMaxBytes(frame.kind, options_.packet_max_bytes), " bytes for its kind")));
  }
  if (adopt) {
    partial_->data = std::move(**lent);
    lent->reset();
    lent_.reset();
  } else {
    partial_->data.append(frame.data.data(), frame.data.size());
  }
  partial_->control = partial_->control || frame.control;
  if (!frame.done) return std::nullopt;

  AdvanceLast();
  std::optional<Packet> packet = std::move(partial_);
  partial_.reset();
  return packet;
}

}  // namespace drpc
