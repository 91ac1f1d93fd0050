// Splitting on the sending side (docs/protocol.md §4.1, drpcwire TestSplit §12.1, E3).
#include "proto/splitter.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proto/test_frames.h"

namespace drpc {
namespace {

using ::drpc::testing::Hex;
using ::drpc::testing::OwnedFrame;
using ::drpc::testing::ParseAllFrames;

std::vector<OwnedFrame> Split(PacketId id, Kind kind, absl::string_view data, size_t split,
                              bool control = false) {
  std::string wire;
  AppendPacket(wire, id, kind, data, control, split);
  EXPECT_EQ(wire.size(), PacketWireSize(id, kind, data.size(), split));
  return *ParseAllFrames(wire);
}

std::string Payload(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

TEST(SplitterTest, FramesHoldAtMostSplitBytesAndOnlyTheLastIsDone) {
  for (size_t split = 1; split <= 8; ++split) {
    for (size_t len : {0, 1, 7, 8, 9, 31, 64}) {
      const std::string data = Payload(len);
      const auto frames = Split({1, 2}, Kind::kMessage, data, split);
      std::string joined;
      for (size_t i = 0; i < frames.size(); ++i) {
        EXPECT_LE(frames[i].data.size(), split);
        EXPECT_EQ(frames[i].done, i + 1 == frames.size());
        EXPECT_EQ(frames[i].kind, Kind::kMessage);
        EXPECT_EQ(frames[i].id, (PacketId{1, 2}));
        joined += frames[i].data;
      }
      EXPECT_EQ(joined, data) << "split " << split << " len " << len;
      EXPECT_EQ(frames.size(), len == 0 ? 1 : (len + split - 1) / split);
    }
  }
}

TEST(SplitterTest, SeventyThousandBytesAreTwoFramesAsGoSendsThem) {
  // E3: 65,536 bytes with done=0, then 4,464 bytes with done=1.
  std::string wire;
  AppendPacket(wire, {1, 2}, Kind::kMessage, Payload(70000), false, limits::kSplitDefaultBytes);
  EXPECT_EQ(Hex(wire.substr(0, 6)), "04 01 02 80 80 04");
  EXPECT_EQ(Hex(wire.substr(6 + 65536, 5)), "05 01 02 f0 22");
  EXPECT_EQ(wire.size(), 6 + 65536 + 5 + 4464u);
}

TEST(SplitterTest, TwoHundredThousandBytesSplitLikeTheUnaryLargeCapture) {
  const auto frames = Split({1, 2}, Kind::kMessage, Payload(200000), limits::kSplitDefaultBytes);
  ASSERT_EQ(frames.size(), 4u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(frames[i].data.size(), 65536u);
  EXPECT_EQ(frames[3].data.size(), 3392u);
}

TEST(SplitterTest, EmptyBodyIsOneEmptyDoneFrame) {
  const auto frames = Split({1, 1}, Kind::kMessage, "", 4);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(frames[0].done);
  EXPECT_TRUE(frames[0].data.empty());
}

TEST(SplitterTest, ErrorCloseCloseSendCancelAndWindowUpdateAreNeverSplit) {
  for (Kind kind : {Kind::kError, Kind::kCancel, Kind::kClose, Kind::kCloseSend,
                    Kind::kWindowUpdate}) {
    const auto frames = Split({1, 1}, kind, Payload(100), 3);
    ASSERT_EQ(frames.size(), 1u) << KindName(kind);
    EXPECT_EQ(frames[0].data.size(), 100u);
    EXPECT_TRUE(frames[0].done);
    EXPECT_FALSE(IsSplittableKind(kind));
  }
  EXPECT_TRUE(IsSplittableKind(Kind::kInvoke));
  EXPECT_TRUE(IsSplittableKind(Kind::kInvokeMetadata));
  EXPECT_TRUE(IsSplittableKind(Kind::kMessage));
}

TEST(SplitterTest, InvokeAndMetadataAreSplitLikeMessages) {
  EXPECT_EQ(Split({1, 1}, Kind::kInvoke, Payload(10), 4).size(), 3u);
  EXPECT_EQ(Split({1, 1}, Kind::kInvokeMetadata, Payload(10), 5).size(), 2u);
}

TEST(SplitterTest, ControlBitIsSetOnEveryFrame) {
  for (const OwnedFrame& f : Split({1, 3}, Kind::kMessage, Payload(10), 3, true)) {
    EXPECT_TRUE(f.control);
  }
  EXPECT_EQ(Hex(*[] {
              static std::string w;
              AppendPacket(w, {1, 3}, Kind::kCancel, "", true, limits::kSplitDefaultBytes);
              return &w;
            }()),
            "89 01 03 00");
}

TEST(SplitterTest, AppendNextFrameHonoursAFlowControlBudget) {
  const std::string data = Payload(10);
  PacketSplitter s({4, 1}, Kind::kMessage, data, false, 8);
  std::string wire;
  EXPECT_EQ(s.AppendNextFrame(wire, 3), 3u);
  EXPECT_EQ(s.remaining_bytes(), 7u);
  EXPECT_FALSE(s.done());
  EXPECT_EQ(s.AppendNextFrame(wire), 7u);
  EXPECT_TRUE(s.done());
  const auto frames = *ParseAllFrames(wire);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_FALSE(frames[0].done);
  EXPECT_TRUE(frames[1].done);
  EXPECT_EQ(frames[0].data + frames[1].data, data);
}

TEST(SplitterTest, UnsplittableKindIgnoresTheBudget) {
  const std::string data = Payload(10);  // the splitter does not own its data
  PacketSplitter s({4, 1}, Kind::kError, data, false, 2);
  std::string wire;
  EXPECT_EQ(s.AppendNextFrame(wire, 1), 10u);
  EXPECT_TRUE(s.done());
}

TEST(SplitterTest, PacketWireSizeMatchesForMultiByteLengths) {
  for (size_t len : {0, 127, 128, 16383, 16384, 65536, 65537, 200000}) {
    for (size_t split : {size_t{1000}, limits::kSplitDefaultBytes, limits::kSplitMaxBytes}) {
      std::string wire;
      AppendPacket(wire, {300, 70000}, Kind::kMessage, Payload(len), false, split);
      EXPECT_EQ(wire.size(), PacketWireSize({300, 70000}, Kind::kMessage, len, split))
          << len << " / " << split;
    }
  }
}

TEST(SplitterDeathTest, SplitSizeOutsideTheLimitsIsAProgrammingError) {
  std::string wire;
  EXPECT_DEATH(AppendPacket(wire, {1, 1}, Kind::kMessage, "x", false, 0), "split_bytes");
  EXPECT_DEATH(AppendPacket(wire, {1, 1}, Kind::kMessage, "x", false, limits::kSplitMaxBytes + 1),
               "split_bytes");
}

TEST(SplitterDeathTest, AppendingPastTheLastFrameIsAProgrammingError) {
  PacketSplitter s({1, 1}, Kind::kClose, "", false, 8);
  std::string wire;
  s.AppendNextFrame(wire);
  EXPECT_DEATH(s.AppendNextFrame(wire), "already fully emitted");
}

TEST(SplitterTest, HeaderAndSliceAreTheBytesOfTheWholeFrame) {
  // AppendNextFrameHeader + the returned slice == AppendNextFrame, frame by frame, for every
  // kind (unsplittable kinds are one frame), with and without a data_max_bytes cap and control.
  const Kind kinds[] = {Kind::kMessage, Kind::kInvoke, Kind::kInvokeMetadata, Kind::kError,
                        Kind::kCloseSend};
  for (Kind kind : kinds) {
    for (size_t split : {1, 3, 64, 65536}) {
      for (size_t len : {0, 1, 2, 63, 64, 65, 200000}) {
        for (size_t cap : {size_t{SIZE_MAX}, size_t{5}}) {
          for (bool control : {false, true}) {
            if (len > 1000 && (split < 64 || cap != SIZE_MAX)) continue;  // keep it fast
            const std::string data = Payload(len);
            const PacketId id{300, 70000};
            PacketSplitter whole(id, kind, data, control, split);
            PacketSplitter gather(id, kind, data, control, split);
            std::string expected, got;
            while (!whole.done()) {
              ASSERT_FALSE(gather.done());
              whole.AppendNextFrame(expected, cap);
              const absl::string_view slice = gather.AppendNextFrameHeader(got, cap);
              // The slice points into the caller's data, not a copy.
              if (!slice.empty()) {
                EXPECT_GE(slice.data(), data.data());
                EXPECT_LE(slice.data() + slice.size(), data.data() + data.size());
              }
              got.append(slice.data(), slice.size());
              ASSERT_EQ(got, expected) << KindName(kind) << " split " << split << " len " << len;
            }
            EXPECT_TRUE(gather.done());
            if (cap == SIZE_MAX) {
              std::string packet;
              AppendPacket(packet, id, kind, data, control, split);
              EXPECT_EQ(got, packet);
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace drpc
