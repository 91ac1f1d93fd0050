// Test helpers for wire bytes: hex literals, frame builders and whole-stream parsing.
//
//   std::string wire = Bytes("05 01 03 02 68 69");
//   EXPECT_EQ(Hex(wire), "05 01 03 02 68 69");
//   std::vector<OwnedFrame> frames = ParseAllFrames(wire).value();
#ifndef DRPC_PROTO_TEST_FRAMES_H_
#define DRPC_PROTO_TEST_FRAMES_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/frame.h"

namespace drpc::testing {

// "05 01 0a" (spaces optional) -> bytes. Aborts on malformed hex: test literals are ours.
std::string Bytes(absl::string_view hex);
// bytes -> "05 01 0a" (lower case, space separated).
std::string Hex(absl::string_view bytes);

// A frame that owns its data, for collecting frames beyond the parser's buffer lifetime.
struct OwnedFrame {
  PacketId id;
  Kind kind = Kind::kMessage;
  bool done = true;
  bool control = false;
  std::string data;

  Frame view() const {
    return Frame{.id = id, .kind = kind, .done = done, .control = control, .data = data};
  }
  friend bool operator==(const OwnedFrame&, const OwnedFrame&) = default;
};

OwnedFrame Own(const Frame& frame);

// "Message <1,2> done control len=5 data=68 65 6c 6c 6f" (data cut after 32 bytes); used by gtest
// and rapidcheck to show frames in failure messages.
std::ostream& operator<<(std::ostream& os, const OwnedFrame& frame);

// Encodes one frame.
std::string EncodeFrame(uint64_t stream, uint64_t message, Kind kind, bool done,
                        absl::string_view data, bool control = false);

// Parses a complete byte stream (every byte must belong to a complete frame).
absl::StatusOr<std::vector<OwnedFrame>> ParseAllFrames(absl::string_view wire,
                                                       size_t frame_data_max_bytes = 4 << 20);

}  // namespace drpc::testing

#endif  // DRPC_PROTO_TEST_FRAMES_H_
