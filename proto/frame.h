// DRPC frames: the unit on the wire (docs/protocol.md §2).
//
//   +--------+-------------+--------------+---------------+-------------+
//   | header | stream ID   | message ID   | data length N | data        |
//   | 1 byte | varint 1-10 | varint 1-10  | varint 1-10   | N bytes     |
//   +--------+-------------+--------------+---------------+-------------+
//   header = control(bit 7) | kind(bits 6..1) | done(bit 0)
//
// Encoding:
//   std::string wire;
//   AppendFrame(wire, Frame{.id = {1, 3}, .kind = Kind::kMessage, .done = true, .data = "hi"});
//   // wire == "\x05\x01\x03\x02hi"
//
// Incremental parsing over any segmentation of the byte stream (one byte at a time works):
//   FrameParser parser(FrameParser::Options{.frame_data_max_bytes = 4 << 20});
//   parser.Append(bytes_from_socket);
//   for (;;) {
//     absl::StatusOr<std::optional<Frame>> f = parser.Next();
//     if (!f.ok()) { /* connection-fatal protocol error, with the byte offset */ }
//     if (!f->has_value()) break;   // need more bytes
//     Handle(**f);                  // f->data is valid until the next Append/Next call
//   }
#ifndef DRPC_PROTO_FRAME_H_
#define DRPC_PROTO_FRAME_H_

#include <compare>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/base/check.h"
#include "proto/limits.h"
#include "proto/varint.h"

namespace drpc {

// Packet kinds (docs/protocol.md §3). The wire carries 6 bits, so values 0 and 9..63 also parse; they are
// "unknown kinds" and are handled by the receiver (ignored if control, fatal otherwise).
enum class Kind : uint8_t {
  kInvoke = 1,
  kMessage = 2,
  kError = 3,
  kCancel = 4,
  kClose = 5,
  kCloseSend = 6,
  kInvokeMetadata = 7,
  kWindowUpdate = 8,
};

inline constexpr uint8_t kKindMaxValue = 63;

// True for the eight kinds above.
bool IsKnownKind(Kind kind);

// "Invoke", "Message", ..., or "Kind(40)" for unknown values (matches Go's String()).
std::string KindName(Kind kind);

// (stream ID, message ID), ordered lexicographically as Go's reader compares them.
struct PacketId {
  uint64_t stream = 0;
  uint64_t message = 0;
  friend auto operator<=>(const PacketId&, const PacketId&) = default;
  friend bool operator==(const PacketId&, const PacketId&) = default;
};

// "<stream,message>", the form Go's reader prints in its protocol errors.
std::string PacketIdString(PacketId id);

inline constexpr uint8_t kHeaderControlBit = 0x80;
inline constexpr uint8_t kHeaderKindMask = 0x7E;
inline constexpr uint8_t kHeaderDoneBit = 0x01;

// The header byte. `kind` must be at most kKindMaxValue (checked in debug builds).
inline uint8_t EncodeHeader(Kind kind, bool done, bool control) {
  DRPC_DCHECK_LE(static_cast<uint8_t>(kind), kKindMaxValue);
  return static_cast<uint8_t>((static_cast<uint8_t>(kind) << 1) & kHeaderKindMask) |
         (done ? kHeaderDoneBit : 0) | (control ? kHeaderControlBit : 0);
}

struct Frame {
  PacketId id;
  Kind kind = Kind::kMessage;
  bool done = true;
  bool control = false;
  // Not owned: points into the encoder's input or the parser's buffer.
  absl::string_view data;
  // FrameParser with skip_oversize_data only: the data length of a frame over the limit, whose
  // data the parser skips (`data` is then empty). 0 for every other frame.
  uint64_t skipped_bytes = 0;
};

// Encoded size of `frame` (header + varints + data).
size_t FrameSize(const Frame& frame);

// Writes the header fields of a frame with `data_bytes` of data (header byte and the three
// varints, everything AppendFrame writes before the data) to `out`, which must have room for
// limits::kFrameHeaderMaxBytes. Returns the bytes written. Inline: every frame sent runs it.
inline size_t EncodeFrameHeader(PacketId id, Kind kind, bool done, bool control,
                                size_t data_bytes, char* out) {
  out[0] = static_cast<char>(EncodeHeader(kind, done, control));
  size_t n = 1;
  if ((id.stream | id.message) < 0x80) {
    // Both IDs one byte each, the common case: no varint loops for them.
    out[1] = static_cast<char>(id.stream);
    out[2] = static_cast<char>(id.message);
    n = 3;
  } else {
    n += EncodeVarint(id.stream, out + n);
    n += EncodeVarint(id.message, out + n);
  }
  n += EncodeVarint(data_bytes, out + n);
  DRPC_DCHECK_LE(n, limits::kFrameHeaderMaxBytes);
  return n;
}

// Appends the encoding of `frame` to `out`. Never fails; the caller keeps data within its limits.
void AppendFrame(std::string& out, const Frame& frame);

// Parses one frame from the front of `in` (stateless form of FrameParser).
//  * OK + frame: *consumed = bytes of the frame.
//  * OK + nullopt: `in` holds only a prefix of a frame (need more bytes).
//  * error (kInvalidArgument): a varint is too long, or the data length exceeds
//    `frame_data_max_bytes` — reported as soon as the length varint is complete, before the body
//    arrives. The message names the field and, for lengths, the limit.
absl::StatusOr<std::optional<Frame>> ParseFrame(absl::string_view in, size_t frame_data_max_bytes,
                                                size_t* consumed);

// Owns a buffer of received bytes and yields frames as they complete. The buffer never holds
// more than one frame's header + data plus what the caller appended since: callers append what
// one transport read returned, then drain Next() until it reports "need more".
// Memory: the buffer grows to the largest frame accepted plus one read; consumed bytes are
// reclaimed by compaction, moving each byte O(1) times, and Shrink releases a buffer that grew
// for a large frame or a bulk read once nothing is left in it.
class FrameParser {
 public:
  struct Options {
    // Largest data length accepted in one frame; a larger length prefix is a protocol error.
    size_t frame_data_max_bytes = limits::kPacketDefaultMaxBytes;
    // Instead of that error, a frame over the limit is returned as soon as its header is complete,
    // with empty data and Frame::skipped_bytes set, and its data is skipped as it arrives (never
    // buffered): the caller fails only what the frame belongs to (mux streams,
    // docs/protocol.md §15.4).
    bool skip_oversize_data = false;
  };

  explicit FrameParser(Options options);

  // The smallest buffer the parser allocates: a caller appending a few bytes at a time (a tool
  // feeding a byte stream, a test cutting one into pieces) does not regrow it from a handful of
  // bytes; a transport read asks for more than this anyway.
  static constexpr size_t kBufferMinBytes = 256;

  // Adds received bytes. Bytes after an error are ignored.
  void Append(absl::string_view bytes);

  // Zero-copy form of Append for transport reads: returns a writable region of exactly
  // `append_max_bytes` at the end of the buffer; write n <= append_max_bytes bytes into it, then
  // call CommitAppend(n). The region is invalidated by any other call. Inline while the buffer
  // has room: every transport read runs both.
  char* PrepareAppend(size_t append_max_bytes) {
    // A drained buffer starts over at its front (what compaction would do, without the call).
    if (start_ == end_) start_ = end_ = 0;
    if (ABSL_PREDICT_FALSE(buffer_bytes_ - end_ < append_max_bytes)) {
      return PrepareAppendSlow(append_max_bytes);
    }
    return buffer_.get() + end_;
  }
  void CommitAppend(size_t bytes) {
    DRPC_CHECK_COLD(end_ + bytes <= buffer_bytes_, [&](std::ostream& os) {
      os << "CommitAppend of " << bytes << " bytes beyond the prepared region";
    });
    if (ABSL_PREDICT_FALSE(!error_.ok())) return;
    end_ += bytes;
  }

  // The next complete frame; nullopt when more bytes are needed. The frame's data stays valid
  // until the next Append() or Next(). Once an error is returned, every later call returns it.
  absl::StatusOr<std::optional<Frame>> Next();

  // Large frames without a copy through the buffer (the connection's reader): after Next()
  // returned nullopt, a frame whose header is complete but whose data is not all buffered yet.
  // The caller may read the rest of its data straight to where the data goes: TakePartial(out)
  // copies the buffered part of the data to `out` (room for data_bytes) and consumes the whole
  // frame, so the caller must then read exactly data_bytes - buffered_bytes more bytes of the
  // stream itself (into out + buffered_bytes) before it appends anything here again. An
  // oversize frame being skipped is never partial.
  struct PartialFrame {
    Frame head;             // the header's fields; data empty
    size_t data_bytes;      // the frame's data length
    size_t buffered_bytes;  // of which the buffer holds this many
  };
  std::optional<PartialFrame> partial() const;
  void TakePartial(char* out);

  // Releases the buffer if it holds no unconsumed byte and is larger than `keep_max_bytes`
  // (the next append allocates what it needs). Returns the bytes released. Inline: the reader
  // asks after every read, and the buffer is rarely released.
  size_t Shrink(size_t keep_max_bytes) {
    if (start_ != end_ || buffer_bytes_ <= keep_max_bytes) return 0;
    return Release();
  }
  // Bytes allocated for the buffer.
  size_t capacity_bytes() const { return buffer_bytes_; }

  // Stream offset (bytes consumed by returned frames), for error messages and tools.
  uint64_t offset() const { return offset_; }
  // Bytes held that do not yet form a complete frame.
  size_t buffered_bytes() const { return end_ - start_; }
  // Data bytes of an oversize frame not yet skipped (skip_oversize_data).
  uint64_t skipping_bytes() const { return skip_remaining_; }

 private:
  // Next() for every state but the common one, and for frames ParseCommonFrame does not take:
  // errors, oversize data being skipped, a header parsed ahead of its body, long varints.
  ABSL_ATTRIBUTE_NOINLINE void NextSlow(absl::StatusOr<std::optional<Frame>>& result);
  // PrepareAppend when the buffer lacks room: compacts or grows it.
  ABSL_ATTRIBUTE_NOINLINE char* PrepareAppendSlow(size_t append_max_bytes);
  // Shrink's release of an empty buffer; returns its size.
  size_t Release();

  Options options_;
  std::unique_ptr<char[]> buffer_;  // uninitialised beyond end_
  size_t buffer_bytes_ = 0;
  size_t end_ = 0;          // bytes of buffer_ in use (buffer_ may be larger during PrepareAppend)
  size_t start_ = 0;        // first unconsumed byte in buffer_
  uint64_t offset_ = 0;     // stream offset of buffer_[start_]
  size_t needed_ = 0;       // bytes the next frame takes once its header is known, else 0
  Frame head_;              // that frame's header fields, while needed_ > 0
  size_t head_bytes_ = 0;   // and its header's length
  uint64_t skip_remaining_ = 0;  // data bytes of an oversize frame still to be skipped
  absl::Status error_;
};

}  // namespace drpc

#endif  // DRPC_PROTO_FRAME_H_
