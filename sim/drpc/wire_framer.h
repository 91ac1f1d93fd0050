// Internal to the wire oracle (wire_end_model.h): splits what one end writes into frames,
// without copying a write that holds whole frames (impl/'s writers write whole frames).
//
//   WireFramer framer(frame_data_max_bytes);
//   framer.Feed(bytes,
//               [&](const Frame& f) { /* f.data points into `bytes` or the framer */ },
//               [&](const absl::Status& error, absl::string_view bad) { /* once; then stop */ });
//
// It yields the frames FrameParser yields for the same bytes, whatever their segmentation, and
// fails where FrameParser fails with the same error (the same message, naming the frame's stream
// offset). The common frame (complete, each varint one or two bytes, data within the limit) is
// decoded inline from the spec's layout (proto/frame.h); every other input goes through proto's
// ParseFrame, which alone decides what is incomplete and what is an error.
#ifndef DRPC_SIM_DRPC_WIRE_FRAMER_H_
#define DRPC_SIM_DRPC_WIRE_FRAMER_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/base/attributes.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/base/check.h"
#include "proto/frame.h"

namespace drpc::sim::wire_internal {

class WireFramer {
 public:
  // Frames whose data is longer than `frame_data_max_bytes` are an error.
  explicit WireFramer(size_t frame_data_max_bytes) : frame_data_max_bytes_(frame_data_max_bytes) {}

  // Calls on_frame(const Frame&) for each frame that `bytes` completes, in order: its data
  // points into `bytes` or into the framer, valid during the call; offset() is the stream offset
  // just past it. If the bytes stop parsing, calls on_error(status, bad) once, where `bad` holds
  // the bytes from the start of the frame that fails (at offset()) to the end of `bytes`, and
  // ignores every later call. Holds at most one incomplete frame (its data within the limit:
  // a length over the limit fails as soon as its varint is complete).
  template <typename OnFrame, typename OnError>
  void Feed(absl::string_view bytes, OnFrame&& on_frame, OnError&& on_error) {
    if (failed_) return;
    absl::string_view in = bytes;
    if (!held_.empty()) {
      held_.append(bytes.data(), bytes.size());
      in = held_;
    }
    const auto* const begin = reinterpret_cast<const uint8_t*>(in.data());
    size_t pos = 0;
    Frame frame;  // every field set for each frame
    while (pos < in.size()) {
      size_t consumed = 0;
      if (CommonFrame common; DecodeCommon(begin + pos, in.size() - pos, common, consumed)) {
        frame = Frame{.id = PacketId{common.stream, common.message},
                      .kind = common.kind(),
                      .done = (common.header & kHeaderDoneBit) != 0,
                      .control = (common.header & kHeaderControlBit) != 0,
                      .data = absl::string_view(reinterpret_cast<const char*>(begin) + pos +
                                                    consumed - common.length,
                                                static_cast<size_t>(common.length))};
      } else {
        const Step step = ParseGeneral(in.substr(pos), frame, consumed);
        if (step == Step::kIncomplete) break;
        if (step == Step::kError) {
          on_error(error_, in.substr(pos));
          held_.clear();
          return;
        }
      }
      pos += consumed;
      offset_ += consumed;
      on_frame(frame);
    }
    // Mostly a write of whole frames, with nothing held before or after it.
    if (pos < in.size() || !held_.empty()) Keep(in, pos);
  }

  // A common frame's facts (complete, each varint one or two bytes, data within the limit).
  struct CommonFrame {
    uint64_t stream;
    uint64_t message;
    uint64_t length;  // of the data
    uint8_t header;   // the header byte: control bit 7, kind bits 6..1, done bit 0
    Kind kind() const { return static_cast<Kind>((header & kHeaderKindMask) >> 1); }
  };

  // The common write, without Feed's bookkeeping: when nothing is held, calls
  // take(const CommonFrame& f, uint64_t end_offset) for each leading frame of `bytes` that is
  // common, in order, while take returns true; end_offset is the stream offset just past f.
  // Returns how many bytes the taken frames hold (offset() is past them). Feed the rest
  // afterwards: it starts at the frame not taken, exactly as if `bytes` had been fed whole.
  template <typename Take>
  ABSL_ATTRIBUTE_ALWAYS_INLINE size_t TakeCommonFrames(absl::string_view bytes, Take&& take) {
    if (failed_ || !held_.empty()) return 0;
    const auto* const begin = reinterpret_cast<const uint8_t*>(bytes.data());
    const size_t size = bytes.size();
    size_t pos = 0;
    uint64_t offset = offset_;
    while (pos < size) {
      CommonFrame frame;
      size_t consumed;
      if (!DecodeCommon(begin + pos, size - pos, frame, consumed) ||
          !take(frame, offset + consumed)) {
        break;
      }
      pos += consumed;
      offset += consumed;
    }
    offset_ = offset;
    return pos;
  }

  // The stream offset just past the last frame yielded (at an error: where the bad frame starts).
  uint64_t offset() const { return offset_; }

 private:
  enum class Step { kFrame, kIncomplete, kError };

  // The longest header DecodeCommon decodes: the header byte and three two-byte varints. Written
  // here again, not taken from proto/frame.cc: the oracle decodes the wire on its own, so a parser
  // bug in proto/ cannot hide itself from the check.
  static constexpr size_t kShortHeaderMaxBytes = 7;

  // A varint of one or two bytes: true with *value set and `p` advanced. `Bounded`: `end` may
  // cut it short (false: at least two bytes are there).
  template <bool Bounded>
  ABSL_ATTRIBUTE_ALWAYS_INLINE static bool DecodeShortVarint(const uint8_t*& p, const uint8_t* end,
                                                             uint64_t* value) {
    if (Bounded && p == end) return false;
    if (p[0] < 0x80) {
      *value = p[0];
      ++p;
      return true;
    }
    if ((Bounded && end - p < 2) || p[1] >= 0x80) return false;
    *value = uint64_t{p[0] & 0x7Fu} | uint64_t{p[1]} << 7;
    p += 2;
    return true;
  }

  // The header byte (control bit 7, kind bits 6..1, done bit 0), then stream ID, message ID and
  // data length as varints, then the data: true for a complete frame whose varints take one or
  // two bytes each and whose data is within the limit, with `consumed` its size. `size` bytes
  // are at `begin`.
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool DecodeCommon(const uint8_t* begin, size_t size,
                                                 CommonFrame& frame, size_t& consumed) const {
    // With room for the longest short header, no varint can run past the end.
    return size >= kShortHeaderMaxBytes ? DecodeCommonIn<false>(begin, size, frame, consumed)
                                        : DecodeCommonIn<true>(begin, size, frame, consumed);
  }
  template <bool Bounded>
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool DecodeCommonIn(const uint8_t* begin, size_t size,
                                                   CommonFrame& frame, size_t& consumed) const {
    if (Bounded && size == 0) return false;
    const uint8_t* const end = begin + size;
    const uint8_t* p = begin + 1;
    if (!DecodeShortVarint<Bounded>(p, end, &frame.stream) ||
        !DecodeShortVarint<Bounded>(p, end, &frame.message) ||
        !DecodeShortVarint<Bounded>(p, end, &frame.length)) {
      return false;
    }
    const size_t header_bytes = static_cast<size_t>(p - begin);
    if (frame.length > frame_data_max_bytes_ || frame.length > size - header_bytes) return false;
    frame.header = begin[0];
    consumed = header_bytes + static_cast<size_t>(frame.length);
    return true;
  }

  // Any other frame, through ParseFrame; kError sets error_ and failed_.
  Step ParseGeneral(absl::string_view in, Frame& frame, size_t& consumed);

  // Holds the incomplete rest of `in` (a view of held_ or of the caller's bytes) past `pos`.
  void Keep(absl::string_view in, size_t pos);

  size_t frame_data_max_bytes_;
  std::string held_;  // an incomplete frame's bytes; empty between whole-frame writes
  uint64_t offset_ = 0;
  bool failed_ = false;
  absl::Status error_;
};

}  // namespace drpc::sim::wire_internal

#endif  // DRPC_SIM_DRPC_WIRE_FRAMER_H_
