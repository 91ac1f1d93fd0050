#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/frame.h"
#include "proto/test_frames.h"

namespace drpc {
namespace {

using ::drpc::testing::Bytes;
using ::drpc::testing::EncodeFrame;
using ::drpc::testing::Own;
using ::drpc::testing::OwnedFrame;
using ::testing::HasSubstr;

FrameParser MakeParser(size_t max = limits::kPacketDefaultMaxBytes) {
  return FrameParser(FrameParser::Options{.frame_data_max_bytes = max});
}

// Drains every complete frame; fails the test on a parse error.
void Drain(FrameParser& parser, std::vector<OwnedFrame>& out) {
  for (;;) {
    auto f = parser.Next();
    ASSERT_TRUE(f.ok()) << f.status();
    if (!f->has_value()) return;
    out.push_back(Own(**f));
  }
}

std::string ThreeFrames() {
  return EncodeFrame(1, 1, Kind::kInvoke, true, "/interop.Echo/Unary") +
         EncodeFrame(1, 2, Kind::kMessage, false, std::string(200, 'a')) +
         EncodeFrame(1, 2, Kind::kMessage, true, "tail");
}

TEST(FrameParserTest, FrameSplitAcrossEveryByteBoundaryParses) {
  const std::string wire = ThreeFrames();
  auto expected = testing::ParseAllFrames(wire);
  ASSERT_TRUE(expected.ok());
  for (size_t cut = 0; cut <= wire.size(); ++cut) {
    FrameParser parser = MakeParser();
    std::vector<OwnedFrame> got;
    parser.Append(absl::string_view(wire).substr(0, cut));
    Drain(parser, got);
    parser.Append(absl::string_view(wire).substr(cut));
    Drain(parser, got);
    EXPECT_EQ(got, *expected) << "cut at " << cut;
    EXPECT_EQ(parser.buffered_bytes(), 0u);
    EXPECT_EQ(parser.offset(), wire.size());
  }
}

TEST(FrameParserTest, OneByteAtATimeYieldsEveryFrame) {
  const std::string wire = ThreeFrames();
  FrameParser parser = MakeParser();
  std::vector<OwnedFrame> got;
  for (char c : wire) {
    parser.Append(absl::string_view(&c, 1));
    Drain(parser, got);
  }
  EXPECT_EQ(got, *testing::ParseAllFrames(wire));
}

TEST(FrameParserTest, NeedMoreBytesIsDistinctFromError) {
  FrameParser parser = MakeParser();
  parser.Append(Bytes("05 01"));
  auto f = parser.Next();
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->has_value());
  EXPECT_EQ(parser.buffered_bytes(), 2u);
}

TEST(FrameParserTest, ErrorReportsTheStreamOffsetOfTheBadFrame) {
  FrameParser parser = MakeParser();
  const std::string good = EncodeFrame(1, 1, Kind::kMessage, true, "abc");  // 7 bytes
  parser.Append(good + good + Bytes("05 ff ff ff ff ff ff ff ff ff ff"));
  std::vector<OwnedFrame> frames;
  for (int i = 0; i < 2; ++i) {
    auto f = parser.Next();
    ASSERT_TRUE(f.ok() && f->has_value());
  }
  auto bad = parser.Next();
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("stream ID of the frame at offset 14"));
}

TEST(FrameParserTest, ErrorIsStickyAndLaterBytesAreIgnored) {
  FrameParser parser = MakeParser(10);
  parser.Append(Bytes("05 01 01 0b"));  // length 11 > 10
  auto first = parser.Next();
  ASSERT_FALSE(first.ok());
  parser.Append(EncodeFrame(1, 1, Kind::kMessage, true, "ok"));
  auto again = parser.Next();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status(), first.status());
}

TEST(FrameParserTest, OversizedLengthIsRejectedBeforeTheBodyIsBuffered) {
  FrameParser parser = MakeParser(1 << 20);
  parser.Append(Bytes("05 01 01 80 80 80 80 01"));  // claims 256 MiB
  auto f = parser.Next();
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(std::string(f.status().message()), HasSubstr("data overflow (frame data length 268435456"));
  EXPECT_THAT(std::string(f.status().message()), HasSubstr("at offset 0"));
}

// The mux reader's mode (docs/protocol.md §15.4): a frame over the limit is reported as soon as its
// header is complete, with its length and no data, and its data is skipped as it arrives — never
// buffered — so only what the frame belongs to fails; the frames after it parse as usual.
TEST(FrameParserTest, OversizeFrameIsReportedAtItsHeaderAndItsDataSkippedWhenAsked) {
  FrameParser parser(FrameParser::Options{.frame_data_max_bytes = 10, .skip_oversize_data = true});
  const std::string big = EncodeFrame(3, 4, Kind::kMessage, false, std::string(1000, 'x'));
  const std::string next = EncodeFrame(5, 1, Kind::kInvoke, true, "/a/B");
  const std::string wire = big + next;
  std::vector<OwnedFrame> frames;
  size_t max_buffered = 0;
  bool reported_early = false;
  for (size_t at = 0; at < wire.size(); at += 7) {
    parser.Append(absl::string_view(wire).substr(at, 7));
    for (;;) {
      auto f = parser.Next();
      ASSERT_TRUE(f.ok()) << f.status();
      if (!f->has_value()) break;
      if ((*f)->skipped_bytes > 0) reported_early = at < 7 * 2;
      frames.push_back(Own(**f));
      if ((*f)->skipped_bytes > 0) {
        EXPECT_EQ((*f)->skipped_bytes, 1000u);
        EXPECT_TRUE((*f)->data.empty());
      }
    }
    max_buffered = std::max(max_buffered, parser.buffered_bytes());
  }
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_TRUE(reported_early) << "the verdict waited for the data";
  EXPECT_EQ(frames[0].id, (PacketId{3, 4}));
  EXPECT_EQ(frames[0].kind, Kind::kMessage);
  EXPECT_FALSE(frames[0].done);
  EXPECT_EQ(frames[1].id, (PacketId{5, 1}));
  EXPECT_EQ(frames[1].data, "/a/B");
  EXPECT_LE(max_buffered, 7u + limits::kFrameHeaderMaxBytes) << "the oversize data was buffered";
  EXPECT_EQ(parser.offset(), wire.size());
  EXPECT_EQ(parser.skipping_bytes(), 0u);
}

TEST(FrameParserTest, PrepareAndCommitAppendParseWithoutExtraCopies) {
  const std::string wire = ThreeFrames();
  FrameParser parser = MakeParser();
  std::vector<OwnedFrame> got;
  for (size_t pos = 0; pos < wire.size(); pos += 7) {
    const size_t n = std::min<size_t>(7, wire.size() - pos);
    char* dst = parser.PrepareAppend(64);  // a read of up to 64 bytes that returned n
    std::memcpy(dst, wire.data() + pos, n);
    parser.CommitAppend(n);
    Drain(parser, got);
  }
  EXPECT_EQ(got, *testing::ParseAllFrames(wire));
}

TEST(FrameParserTest, LargeFrameAssemblesAcrossManyReads) {
  const std::string data(1 << 20, 'z');
  const std::string wire = EncodeFrame(7, 9, Kind::kMessage, true, data);
  FrameParser parser = MakeParser();
  std::vector<OwnedFrame> got;
  for (size_t pos = 0; pos < wire.size(); pos += 65536) {
    parser.Append(absl::string_view(wire).substr(pos, 65536));
    Drain(parser, got);
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].data, data);
}

TEST(FrameParserTest, BufferedBytesStayBoundedWhileStreaming) {
  // 20,000 small frames in 1000-byte reads: the parser never holds more than a read plus one
  // partial frame.
  std::string wire;
  for (int i = 1; i <= 20000; ++i) wire += EncodeFrame(1, i, Kind::kMessage, true, "0123456789");
  FrameParser parser = MakeParser();
  size_t frames = 0;
  for (size_t pos = 0; pos < wire.size(); pos += 1000) {
    parser.Append(absl::string_view(wire).substr(pos, 1000));
    EXPECT_LE(parser.buffered_bytes(), 1000u + 16u);
    for (;;) {
      auto f = parser.Next();
      ASSERT_TRUE(f.ok());
      if (!f->has_value()) break;
      ++frames;
    }
  }
  EXPECT_EQ(frames, 20000u);
  EXPECT_EQ(parser.offset(), wire.size());
}

TEST(FrameParserTest, ShrinkReleasesABufferGrownForALargeFrameOnceItIsConsumed) {
  FrameParser parser = MakeParser();
  const std::string big = EncodeFrame(1, 1, Kind::kMessage, true, std::string(1 << 20, 'x'));
  parser.Append(absl::string_view(big).substr(0, 100));
  EXPECT_EQ(parser.Shrink(4096), 0u) << "a frame is in progress: nothing is released";
  parser.Append(absl::string_view(big).substr(100));
  EXPECT_GE(parser.capacity_bytes(), big.size());
  std::vector<OwnedFrame> frames;
  Drain(parser, frames);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_GE(parser.Shrink(4096), big.size());
  EXPECT_EQ(parser.capacity_bytes(), 0u);
  // The parser goes on after a shrink.
  parser.Append(EncodeFrame(1, 2, Kind::kMessage, true, "hi"));
  Drain(parser, frames);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[1].data, "hi");
  EXPECT_EQ(parser.offset(), big.size() + 6);
}

// A caller appending a byte at a time gets one buffer of kBufferMinBytes, not a regrowth at
// every doubling from one byte.
TEST(FrameParserTest, SmallAppendsShareOneBufferOfTheMinimumSize) {
  FrameParser parser = MakeParser();
  std::vector<OwnedFrame> frames;
  const std::string wire = ThreeFrames();
  ASSERT_LT(wire.size(), FrameParser::kBufferMinBytes);
  for (char c : wire) {
    parser.Append(absl::string_view(&c, 1));
    EXPECT_EQ(parser.capacity_bytes(), FrameParser::kBufferMinBytes);
    Drain(parser, frames);
  }
  EXPECT_EQ(frames.size(), 3u);
}

TEST(FrameParserTest, ShrinkKeepsASmallBuffer) {
  FrameParser parser = MakeParser();
  parser.Append(EncodeFrame(1, 1, Kind::kMessage, true, "hi"));
  std::vector<OwnedFrame> frames;
  Drain(parser, frames);
  EXPECT_EQ(parser.Shrink(4096), 0u);
  EXPECT_GT(parser.capacity_bytes(), 0u);
}

// A frame whose data mostly has yet to come: its header and buffered data are taken out, the
// rest is read outside the parser, and parsing goes on after it with the right stream offset.
TEST(FrameParserTest, PartialFrameIsTakenAndItsDataReadOutsideTheParser) {
  const std::string data = "0123456789abcdefghij";
  const std::string first = EncodeFrame(3, 4, Kind::kMessage, false, data);
  const std::string next = EncodeFrame(3, 4, Kind::kMessage, true, "end");
  const size_t header = first.size() - data.size();
  FrameParser parser = MakeParser();
  parser.Append(absl::string_view(first).substr(0, header - 1));
  ASSERT_FALSE(parser.Next()->has_value());
  EXPECT_FALSE(parser.partial().has_value()) << "the header is not complete yet";
  parser.Append(absl::string_view(first).substr(header - 1, 1 + 6));
  ASSERT_FALSE(parser.Next()->has_value());
  const std::optional<FrameParser::PartialFrame> partial = parser.partial();
  ASSERT_TRUE(partial.has_value());
  EXPECT_EQ(partial->head.id, (PacketId{3, 4}));
  EXPECT_EQ(partial->head.kind, Kind::kMessage);
  EXPECT_FALSE(partial->head.done);
  EXPECT_EQ(partial->data_bytes, data.size());
  EXPECT_EQ(partial->buffered_bytes, 6u);
  std::string out(data.size(), '?');
  parser.TakePartial(out.data());
  EXPECT_EQ(out.substr(0, 6), data.substr(0, 6));
  EXPECT_EQ(parser.buffered_bytes(), 0u);
  EXPECT_EQ(parser.offset(), first.size());
  EXPECT_FALSE(parser.partial().has_value());
  // The caller reads the rest of the data itself; the next frame parses as usual.
  parser.Append(next);
  absl::StatusOr<std::optional<Frame>> f = parser.Next();
  ASSERT_TRUE(f.ok() && f->has_value());
  EXPECT_EQ((*f)->data, "end");
  EXPECT_EQ(parser.offset(), first.size() + next.size());
}

TEST(FrameParserTest, NoPartialFrameOnceItsBytesAreAllBufferedOrWhileSkipping) {
  const std::string wire = EncodeFrame(1, 1, Kind::kMessage, true, std::string(100, 'd'));
  FrameParser parser = MakeParser();
  parser.Append(absl::string_view(wire).substr(0, 10));
  ASSERT_FALSE(parser.Next()->has_value());
  ASSERT_TRUE(parser.partial().has_value());
  parser.Append(absl::string_view(wire).substr(10));  // complete now, before Next() looks
  EXPECT_FALSE(parser.partial().has_value());
  FrameParser skipping(FrameParser::Options{.frame_data_max_bytes = 10, .skip_oversize_data = true});
  skipping.Append(absl::string_view(wire).substr(0, 10));
  absl::StatusOr<std::optional<Frame>> f = skipping.Next();
  ASSERT_TRUE(f.ok() && f->has_value() && (*f)->skipped_bytes == 100);
  EXPECT_FALSE(skipping.Next()->has_value());
  EXPECT_FALSE(skipping.partial().has_value());
}

}  // namespace
}  // namespace drpc
