// Splitting packets into frames on the sending side (docs/protocol.md §4.1).
//
// Invoke, InvokeMetadata and Message data is cut into frames of at most `split_bytes` data bytes;
// only the last frame has done=1; an empty body is one empty done frame. Error, Cancel, Close,
// CloseSend and WindowUpdate are never split, whatever their size (Go does the same).
//
//   std::string wire;
//   AppendPacket(wire, PacketId{1, 2}, Kind::kMessage, payload, /*control=*/false,
//                limits::kSplitDefaultBytes);
//
// The mux writer interleaves frames of several streams, so it takes frames one at a time:
//   PacketSplitter s(PacketId{3, 1}, Kind::kMessage, payload, false, split);
//   while (!s.done()) s.AppendNextFrame(wire);          // or AppendNextFrame(wire, data_max)
#ifndef DRPC_PROTO_SPLITTER_H_
#define DRPC_PROTO_SPLITTER_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "proto/append_util.h"
#include "proto/frame.h"
#include "proto/limits.h"

namespace drpc {

// True for the kinds whose packets may span several frames. Inline: the mux writer asks for every
// queued packet.
inline bool IsSplittableKind(Kind kind) {
  return kind == Kind::kInvoke || kind == Kind::kMessage || kind == Kind::kInvokeMetadata;
}

// Appends all frames of one packet. `split_bytes` must be in
// [limits::kSplitMinBytes, limits::kSplitMaxBytes] (checked).
void AppendPacket(std::string& out, PacketId id, Kind kind, absl::string_view data, bool control,
                  size_t split_bytes);

// Encoded size of the frames AppendPacket would write.
size_t PacketWireSize(PacketId id, Kind kind, size_t data_bytes, size_t split_bytes);

// Emits one packet's frames one at a time. Does not own `data`: it must outlive the splitter.
class PacketSplitter {
 public:
  PacketSplitter(PacketId id, Kind kind, absl::string_view data, bool control,
                 size_t split_bytes);

  bool done() const { return done_; }
  // Data bytes not yet emitted.
  size_t remaining_bytes() const { return data_.size() - offset_; }
  PacketId id() const { return id_; }
  Kind kind() const { return kind_; }

  // Appends the next frame, with at most min(split, data_max_bytes) data bytes (flow control can
  // allow fewer bytes than the split size). For unsplittable kinds the whole body goes at once and
  // `data_max_bytes` is ignored. Requires !done(), and data_max_bytes > 0 unless no data remains.
  // Returns the data bytes emitted.
  size_t AppendNextFrame(std::string& out, size_t data_max_bytes = SIZE_MAX);

  // Like AppendNextFrame, but appends only the frame's header and returns its data: a view into
  // the splitter's `data`, to be sent right after the header (a gathering write, without copying
  // the data). Header + returned data are exactly the bytes AppendNextFrame would append.
  absl::string_view AppendNextFrameHeader(std::string& out, size_t data_max_bytes = SIZE_MAX);

 private:
  // Data bytes of the next frame (checks !done_ and data_max_bytes).
  size_t NextFrameBytes(size_t data_max_bytes) const;

  PacketId id_;
  Kind kind_;
  absl::string_view data_;
  bool control_;
  size_t split_bytes_;
  size_t offset_ = 0;
  bool done_ = false;
};

}  // namespace drpc

#endif  // DRPC_PROTO_SPLITTER_H_
