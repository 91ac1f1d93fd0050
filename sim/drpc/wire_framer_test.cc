// The wire oracle's framer must yield exactly what proto's FrameParser yields for the same bytes,
// whatever their segmentation: the same frames, and the same error (message and offset) at the
// same point.
#include "sim/drpc/wire_framer.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proto/frame.h"
#include "sim/drpc/test_frames.h"

namespace drpc::sim::wire_internal {
namespace {

using test_frames::F;
using test_frames::Wire;

constexpr size_t kLimitBytes = 1 << 20;

// What a parser made of a byte stream: each frame as text, then the error if there was one.
struct Parsed {
  std::vector<std::string> frames;
  std::string error;
  bool operator==(const Parsed&) const = default;
};

std::string Text(const Frame& f) {
  return absl::StrCat(static_cast<int>(f.kind), " ", PacketIdString(f.id), f.done ? " done" : "",
                      f.control ? " control" : "", " [", f.data, "]");
}

Parsed WithFrameParser(const std::vector<std::string>& pieces) {
  Parsed out;
  FrameParser parser(FrameParser::Options{.frame_data_max_bytes = kLimitBytes});
  for (const std::string& piece : pieces) {
    parser.Append(piece);
    for (;;) {
      absl::StatusOr<std::optional<Frame>> f = parser.Next();
      if (!f.ok()) {
        out.error = std::string(f.status().message());
        return out;
      }
      if (!f->has_value()) break;
      out.frames.push_back(Text(**f));
    }
  }
  return out;
}

// With `take_max` > 0, each piece first goes through TakeCommonFrames, which takes at most
// that many frames of it, and only the rest through Feed.
Parsed WithFramer(const std::vector<std::string>& pieces, std::string* bad = nullptr,
                  uint64_t* error_offset = nullptr, int take_max = 0) {
  Parsed out;
  WireFramer framer(kLimitBytes);
  int errors = 0;
  for (absl::string_view piece : pieces) {
    if (take_max > 0) {
      const uint64_t piece_offset = framer.offset();
      int taken = 0;
      const size_t taken_bytes = framer.TakeCommonFrames(
          piece, [&](const WireFramer::CommonFrame& f, uint64_t end_offset) {
            if (taken == take_max) return false;
            ++taken;
            const size_t end = static_cast<size_t>(end_offset - piece_offset);
            out.frames.push_back(Text(Frame{
                .id = PacketId{f.stream, f.message},
                .kind = f.kind(),
                .done = (f.header & kHeaderDoneBit) != 0,
                .control = (f.header & kHeaderControlBit) != 0,
                .data = piece.substr(end - f.length, f.length)}));
            return true;
          });
      EXPECT_EQ(framer.offset(), piece_offset + taken_bytes);
      piece.remove_prefix(taken_bytes);
      if (piece.empty()) continue;
    }
    framer.Feed(
        piece, [&](const Frame& f) { out.frames.push_back(Text(f)); },
        [&](const absl::Status& error, absl::string_view rest) {
          ++errors;
          out.error = std::string(error.message());
          if (bad != nullptr) *bad = std::string(rest);
          if (error_offset != nullptr) *error_offset = framer.offset();
        });
  }
  EXPECT_LE(errors, 1);
  return out;
}

// `bytes` cut into pieces of `step` bytes (the last may be shorter).
std::vector<std::string> Cut(const std::string& bytes, size_t step) {
  std::vector<std::string> pieces;
  for (size_t at = 0; at < bytes.size(); at += step) pieces.push_back(bytes.substr(at, step));
  return pieces;
}

std::string Streams() {
  const std::string big(20000, 'b');  // a three-byte length varint
  return Wire({F(Kind::kInvokeMetadata, 1, 1, "md"), F(Kind::kInvoke, 1, 1, "/svc/M"),
               F(Kind::kMessage, 1, 2, "abc", /*done=*/false), F(Kind::kMessage, 1, 2, ""),
               F(Kind::kMessage, 20000, 1, big), F(Kind::kCancel, 300, 70000),
               F(Kind::kCloseSend, 1, 3)});
}

TEST(WireFramerTest, YieldsWhatFrameParserYieldsForAnySegmentation) {
  const std::string bytes = Streams();
  const Parsed whole = WithFrameParser({bytes});
  ASSERT_EQ(whole.frames.size(), 7u);
  EXPECT_EQ(WithFramer({bytes}), whole);
  for (size_t step : {1, 2, 3, 5, 7, 64, 1000, 20003}) {
    EXPECT_EQ(WithFramer(Cut(bytes, step)), whole) << "step " << step;
    for (int take_max : {1, 2, 100}) {
      EXPECT_EQ(WithFramer(Cut(bytes, step), nullptr, nullptr, take_max), whole)
          << "step " << step << ", taking " << take_max;
    }
  }
}

TEST(WireFramerTest, FailsWhereFrameParserFailsWithTheSameMessage) {
  const std::string good = Streams();
  const std::vector<std::string> bad_frames = {
      "\x05\x01\x04\xff\xff\xff\xff\xff\xff\xff\x7f",  // a data length over the limit
      "\x05" + std::string(12, '\x81'),                 // a stream ID that never ends
      "\x05\x01" + std::string(12, '\xff'),             // a message ID that never ends
      "\x05\x01\x01" + std::string(12, '\x80'),         // a data length that never ends
  };
  for (const std::string& bad_frame : bad_frames) {
    const std::string bytes = good + bad_frame + Wire({F(Kind::kClose, 1, 4)});
    const Parsed expected = WithFrameParser({bytes});
    ASSERT_FALSE(expected.error.empty());
    EXPECT_NE(expected.error.find(absl::StrCat("at offset ", good.size())), std::string::npos)
        << expected.error;
    for (size_t step : {size_t{1}, size_t{2}, size_t{7}, bytes.size()}) {
      for (int take_max : {0, 1, 100}) {
        std::string bad;
        uint64_t error_offset = 0;
        EXPECT_EQ(WithFramer(Cut(bytes, step), &bad, &error_offset, take_max), expected)
            << "step " << step << ", taking " << take_max;
        EXPECT_EQ(error_offset, good.size());
        // The bad bytes run from the failing frame's start to the end of the piece that failed it.
        EXPECT_EQ(bad, bytes.substr(good.size(), bad.size()));
      }
    }
  }
}

TEST(WireFramerTest, HoldsAnIncompleteFrameUntilItCompletes) {
  const std::string bytes = Wire({F(Kind::kMessage, 1, 1, "hello")});
  std::vector<std::string> seen;
  WireFramer framer(kLimitBytes);
  auto feed = [&](absl::string_view piece) {
    framer.Feed(
        piece, [&](const Frame& f) { seen.push_back(Text(f)); },
        [](const absl::Status& error, absl::string_view) { ADD_FAILURE() << error; });
  };
  feed(bytes.substr(0, 3));
  feed(bytes.substr(3, bytes.size() - 4));
  EXPECT_TRUE(seen.empty());
  EXPECT_EQ(framer.offset(), 0u);
  feed(bytes.substr(bytes.size() - 1) + bytes);
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_EQ(framer.offset(), 2 * bytes.size());
}

}  // namespace
}  // namespace drpc::sim::wire_internal
