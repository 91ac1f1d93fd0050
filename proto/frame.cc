#include "proto/frame.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "proto/append_util.h"
#include "proto/base/check.h"
#include "proto/varint.h"

namespace drpc {
namespace {

constexpr const char* kKindNames[] = {
    nullptr,  "Invoke",    "Message",        "Error",        "Cancel",
    "Close",  "CloseSend", "InvokeMetadata", "WindowUpdate",
};

enum class FieldResult { kOk, kIncomplete, kError };

// Decodes one header varint at in[*pos]; on "too long" fills *error naming the field.
FieldResult ReadField(absl::string_view in, size_t* pos, const char* field, uint64_t frame_offset,
                      uint64_t* value, absl::Status* error) {
  size_t n = 0;
  switch (DecodeVarint(in.substr(*pos), value, &n)) {
    case VarintStatus::kOk:
      *pos += n;
      return FieldResult::kOk;
    case VarintStatus::kIncomplete:
      return FieldResult::kIncomplete;
    case VarintStatus::kTooLong:
      break;
  }
  *error = absl::InvalidArgumentError(
      absl::StrCat("protocol error: varint too long: ", field, " of the frame at offset ",
                   frame_offset, " has ", limits::kVarintMaxBytes,
                   " bytes with the continuation bit"));
  return FieldResult::kError;
}

// The fast path of the header's varints, inlined: true with *value set and `p` advanced past a
// complete varint of at most limits::kVarintMaxBytes bytes (bits beyond 63 dropped, as
// DecodeVarint does); false if `end` or the byte limit comes first (ReadFieldsSlow then says which).
inline bool ReadVarint(const uint8_t*& p, const uint8_t* end, uint64_t* value) {
  uint64_t v = 0;
  const size_t n = std::min(limits::kVarintMaxBytes, static_cast<size_t>(end - p));
  for (size_t i = 0; i < n; ++i) {
    const uint8_t b = p[i];
    v |= uint64_t{b & 0x7Fu} << (7 * i);
    if (b < 0x80) {
      *value = v;
      p += i + 1;
      return true;
    }
  }
  return false;
}

// A varint of one or two bytes, the common case (IDs and lengths under 16384): true with *value
// set and `p` advanced; false for a longer varint or one cut short by `end` (the general path
// then decodes it and, if it is malformed or incomplete, says so). kBounded false: the caller
// knows two bytes are there, and `end` is not looked at.
template <bool kBounded>
ABSL_ATTRIBUTE_ALWAYS_INLINE inline bool ReadShortVarint(const uint8_t*& p, const uint8_t* end,
                                                         uint64_t* value) {
  if (kBounded && p == end) return false;
  const uint8_t b0 = p[0];
  if (b0 < 0x80) {
    *value = b0;
    p += 1;
    return true;
  }
  if ((kBounded && end - p < 2) || p[1] >= 0x80) return false;
  *value = uint64_t{b0 & 0x7Fu} | uint64_t{p[1]} << 7;
  p += 2;
  return true;
}

// The three short varints of a frame header from `p`; kBounded as for ReadShortVarint.
template <bool kBounded>
ABSL_ATTRIBUTE_ALWAYS_INLINE inline bool ReadShortFields(const uint8_t*& p, const uint8_t* end,
                                                         uint64_t* stream, uint64_t* message,
                                                         uint64_t* length) {
  return ReadShortVarint<kBounded>(p, end, stream) &&
         ReadShortVarint<kBounded>(p, end, message) && ReadShortVarint<kBounded>(p, end, length);
}

// The longest header ParseCommonFrame takes (three two-byte varints): with at least this many
// bytes, its reads need no bounds checks.
constexpr size_t kShortHeaderMaxBytes = 1 + 3 * 2;

// The common frame, decoded inline by Next() and ParseFrame(): complete in `in`, its three varints
// one or two bytes each, its data within the limit. True with `out` holding the frame and
// *consumed its size; false with `out` untouched for every other input, which ParseFrameAt then
// handles (it decodes these same frames to the same fields: its varint reader is the general
// form of ReadShortVarint). Properties check that both paths agree.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline bool ParseCommonFrame(absl::string_view in, size_t frame_data_max_bytes,
                             std::optional<Frame>& out, size_t* consumed) {
  if (in.empty()) return false;
  const auto* begin = reinterpret_cast<const uint8_t*>(in.data());
  const auto* end = begin + in.size();
  const uint8_t* p = begin + 1;
  uint64_t stream = 0;
  uint64_t message = 0;
  uint64_t length = 0;
  const bool short_fields = in.size() >= kShortHeaderMaxBytes
                                ? ReadShortFields<false>(p, end, &stream, &message, &length)
                                : ReadShortFields<true>(p, end, &stream, &message, &length);
  if (!short_fields) return false;
  const size_t pos = static_cast<size_t>(p - begin);
  if (length > frame_data_max_bytes || length > in.size() - pos) return false;
  const uint8_t header = begin[0];
  Frame& frame = out.emplace();
  frame.id = PacketId{stream, message};
  frame.control = (header & kHeaderControlBit) != 0;
  frame.kind = static_cast<Kind>((header & kHeaderKindMask) >> 1);
  frame.done = (header & kHeaderDoneBit) != 0;
  frame.data = in.substr(pos, static_cast<size_t>(length));
  *consumed = pos + static_cast<size_t>(length);
  return true;
}

// Decodes the three header varints from in[*pos], any length each; on "too long" fills *error.
// Out of line, like DataOverflowError: the error texts' formatting would otherwise give
// ParseFrameAt, which runs for every frame, a large stack frame to set up.
ABSL_ATTRIBUTE_NOINLINE FieldResult ReadFieldsSlow(absl::string_view in, uint64_t frame_offset, PacketId* id,
                       uint64_t* length, size_t* pos, absl::Status* error) {
  const struct {
    const char* name;
    uint64_t* value;
  } fields[] = {{"stream ID", &id->stream}, {"message ID", &id->message}, {"data length", length}};
  for (const auto& f : fields) {
    const FieldResult r = ReadField(in, pos, f.name, frame_offset, f.value, error);
    if (r != FieldResult::kOk) return r;
  }
  return FieldResult::kOk;
}

ABSL_ATTRIBUTE_NOINLINE absl::Status DataOverflowError(const Frame& frame, uint64_t length,
                                                       size_t frame_data_max_bytes,
                                                       uint64_t base_offset) {
  return absl::InvalidArgumentError(absl::StrCat(
      "protocol error: data overflow (frame data length ", length, " exceeds the limit of ",
      frame_data_max_bytes, " bytes; ", KindName(frame.kind), " frame ", PacketIdString(frame.id),
      " at offset ", base_offset, ")"));
}

// ParseFrame with a stream offset for error messages: `in` starts at `base_offset`. Fills `out`
// with the frame, or leaves it empty when more bytes are needed: then *needed is how many the
// frame takes in all if its header is complete, else 0, and `head` (if not null) gets the
// header's fields (data empty). With `skip_oversize`, a frame over the limit is returned once its
// header is complete, with empty data and skipped_bytes set; *consumed then covers the header
// only. The frame is built where the caller wants it (copying a just-written Frame costs
// store-forwarding stalls on every frame).
absl::Status ParseFrameAt(absl::string_view in, size_t frame_data_max_bytes, uint64_t base_offset,
                          size_t* consumed, size_t* needed, std::optional<Frame>& out,
                          bool skip_oversize = false, Frame* head = nullptr,
                          size_t* head_bytes = nullptr) {
  *needed = 0;
  out.reset();
  if (in.empty()) return absl::OkStatus();
  const uint8_t header = static_cast<uint8_t>(in[0]);
  Frame& frame = out.emplace();
  frame.control = (header & kHeaderControlBit) != 0;
  frame.kind = static_cast<Kind>((header & kHeaderKindMask) >> 1);
  frame.done = (header & kHeaderDoneBit) != 0;
  size_t pos = 1;
  uint64_t length = 0;
  const auto* p = reinterpret_cast<const uint8_t*>(in.data()) + 1;
  const auto* end = reinterpret_cast<const uint8_t*>(in.data()) + in.size();
  if (ReadVarint(p, end, &frame.id.stream) && ReadVarint(p, end, &frame.id.message) &&
      ReadVarint(p, end, &length)) {
    pos = static_cast<size_t>(p - reinterpret_cast<const uint8_t*>(in.data()));
  } else {
    // Incomplete or too long: the field-by-field reader tells which, naming the field.
    absl::Status error;
    switch (ReadFieldsSlow(in, base_offset, &frame.id, &length, &pos, &error)) {
      case FieldResult::kOk:
        break;
      case FieldResult::kIncomplete:
        out.reset();
        return absl::OkStatus();
      case FieldResult::kError:
        out.reset();
        return error;
    }
  }
  // Checked before the body is buffered: a hostile length never makes the caller wait for, or
  // allocate, more than the limit.
  if (length > frame_data_max_bytes && skip_oversize) {
    frame.skipped_bytes = length;
    *consumed = pos;
    return absl::OkStatus();
  }
  if (length > frame_data_max_bytes) {
    absl::Status error = DataOverflowError(frame, length, frame_data_max_bytes, base_offset);
    out.reset();
    return error;
  }
  if (length > in.size() - pos) {
    *needed = pos + static_cast<size_t>(length);
    if (head != nullptr) *head = frame;
    if (head_bytes != nullptr) *head_bytes = pos;
    out.reset();
    return absl::OkStatus();
  }
  frame.data = in.substr(pos, static_cast<size_t>(length));
  *consumed = pos + static_cast<size_t>(length);
  return absl::OkStatus();
}

}  // namespace

bool IsKnownKind(Kind kind) {
  const uint8_t v = static_cast<uint8_t>(kind);
  return v >= static_cast<uint8_t>(Kind::kInvoke) && v <= static_cast<uint8_t>(Kind::kWindowUpdate);
}

std::string KindName(Kind kind) {
  if (IsKnownKind(kind)) return kKindNames[static_cast<uint8_t>(kind)];
  return absl::StrCat("Kind(", static_cast<int>(kind), ")");
}

std::string PacketIdString(PacketId id) { return absl::StrCat("<", id.stream, ",", id.message, ">"); }

size_t FrameSize(const Frame& frame) {
  return 1 + VarintSize(frame.id.stream) + VarintSize(frame.id.message) +
         VarintSize(frame.data.size()) + frame.data.size();
}

void AppendFrame(std::string& out, const Frame& frame) {
  // Header fields are encoded into a stack buffer so `out` grows at most twice per frame.
  char header[limits::kFrameHeaderMaxBytes];
  const size_t n = EncodeFrameHeader(frame.id, frame.kind, frame.done, frame.control,
                                     frame.data.size(), header);
  proto_internal::ReserveForAppend(out, n + frame.data.size());
  out.append(header, n);
  out.append(frame.data.data(), frame.data.size());
}

absl::StatusOr<std::optional<Frame>> ParseFrame(absl::string_view in, size_t frame_data_max_bytes,
                                                size_t* consumed) {
  size_t needed = 0;
  // One object, returned on every path: built in the caller's slot, never copied.
  absl::StatusOr<std::optional<Frame>> result{std::nullopt};
  if (ParseCommonFrame(in, frame_data_max_bytes, *result, consumed)) return result;
  absl::Status error = ParseFrameAt(in, frame_data_max_bytes, 0, consumed, &needed, *result);
  if (!error.ok()) result = std::move(error);
  return result;
}

FrameParser::FrameParser(Options options) : options_(options) {
  DRPC_CHECK_LE(options_.frame_data_max_bytes, limits::kPacketLimitMaxBytes);
}

char* FrameParser::PrepareAppendSlow(size_t append_max_bytes) {
  const size_t live = end_ - start_;
  DRPC_DCHECK_LT(buffer_bytes_ - end_, append_max_bytes);
  // Compact only when the consumed prefix is at least as large as the live bytes, so every
  // byte is moved at most a constant number of times (amortised O(1) per received byte).
  if (start_ > 0 && start_ >= live && buffer_bytes_ - live >= append_max_bytes) {
    std::memmove(buffer_.get(), buffer_.get() + start_, live);
  } else {
    // Not zero-filled: a page of the buffer is touched (resident) only once bytes land in it,
    // so an idle connection's 64 KiB read buffer costs what its last read wrote.
    const size_t bytes = std::max({live + append_max_bytes, 2 * buffer_bytes_, kBufferMinBytes});
    std::unique_ptr<char[]> grown = std::make_unique_for_overwrite<char[]>(bytes);
    if (live > 0) std::memcpy(grown.get(), buffer_.get() + start_, live);
    buffer_ = std::move(grown);
    buffer_bytes_ = bytes;
  }
  start_ = 0;
  end_ = live;
  DRPC_DCHECK_LE(end_ + append_max_bytes, buffer_bytes_);
  return buffer_.get() + end_;
}

size_t FrameParser::Release() {
  DRPC_DCHECK(start_ == end_);
  const size_t released = buffer_bytes_;
  buffer_.reset();
  buffer_bytes_ = 0;
  start_ = end_ = 0;
  return released;
}

void FrameParser::Append(absl::string_view bytes) {
  if (!error_.ok() || bytes.empty()) return;
  char* dst = PrepareAppend(bytes.size());
  std::memcpy(dst, bytes.data(), bytes.size());
  end_ += bytes.size();
}

absl::StatusOr<std::optional<Frame>> FrameParser::Next() {
  // One object, returned on every path: the frame is built in the caller's slot, never copied.
  absl::StatusOr<std::optional<Frame>> result{std::nullopt};
  // The common state (no error, no oversize data to skip, no header parsed ahead of its body)
  // and a complete common frame or an empty buffer: decided here, in a function small enough
  // to need no stack frame. Everything else is NextSlow's, which handles these cases the same.
  if (ABSL_PREDICT_TRUE(needed_ == 0 && skip_remaining_ == 0 && error_.ok())) {
    if (start_ == end_) return result;
    size_t consumed = 0;
    const absl::string_view buffered(buffer_.get() + start_, end_ - start_);
    if (ParseCommonFrame(buffered, options_.frame_data_max_bytes, *result, &consumed)) {
      start_ += consumed;
      offset_ += consumed;
      return result;
    }
  }
  NextSlow(result);
  return result;
}

void FrameParser::NextSlow(absl::StatusOr<std::optional<Frame>>& result) {
  if (!error_.ok()) {
    result = error_;
    return;
  }
  if (skip_remaining_ > 0) {
    // The data of an oversize frame goes as it arrives: the buffer never holds it.
    const size_t skip = static_cast<size_t>(std::min<uint64_t>(skip_remaining_, end_ - start_));
    start_ += skip;
    offset_ += skip;
    skip_remaining_ -= skip;
    if (skip_remaining_ > 0) return;
  }
  // A frame whose header was parsed is not parsed again until its body is complete (a large
  // frame arriving in many reads costs one header parse, not one per read). With nothing
  // buffered, needed_ is 0 and stays so.
  if (end_ - start_ < needed_ || start_ == end_) return;
  size_t consumed = 0;
  std::optional<Frame>& frame = *result;
  const absl::string_view buffered(buffer_.get() + start_, end_ - start_);
  if (ParseCommonFrame(buffered, options_.frame_data_max_bytes, frame, &consumed)) {
    start_ += consumed;
    offset_ += consumed;
    needed_ = 0;  // skip_remaining_ is 0 here, and a frame within the limit skips nothing
    return;
  }
  absl::Status error =
      ParseFrameAt(buffered, options_.frame_data_max_bytes, offset_, &consumed, &needed_, frame,
                   options_.skip_oversize_data, &head_, &head_bytes_);
  if (!error.ok()) {
    error_ = std::move(error);
    result = error_;
    return;
  }
  if (frame.has_value()) {
    DRPC_DCHECK_LE(start_ + consumed, end_);
    start_ += consumed;
    offset_ += consumed;
    skip_remaining_ = frame->skipped_bytes;
  }
}

std::optional<FrameParser::PartialFrame> FrameParser::partial() const {
  if (!error_.ok() || needed_ == 0 || skip_remaining_ > 0) return std::nullopt;
  const size_t buffered = end_ - start_;
  if (buffered >= needed_) return std::nullopt;  // bytes appended since: Next() completes it
  DRPC_DCHECK_LE(head_bytes_, buffered);
  return PartialFrame{.head = head_, .data_bytes = needed_ - head_bytes_,
                      .buffered_bytes = buffered - head_bytes_};
}

void FrameParser::TakePartial(char* out) {
  const std::optional<PartialFrame> frame = partial();
  DRPC_CHECK(frame.has_value()) << "TakePartial without a partial frame";
  if (frame->buffered_bytes > 0) {
    std::memcpy(out, buffer_.get() + start_ + head_bytes_, frame->buffered_bytes);
  }
  // Everything buffered belongs to this frame; the rest of its data bypasses the buffer.
  offset_ += needed_;
  start_ = end_ = 0;
  needed_ = 0;
}

}  // namespace drpc
