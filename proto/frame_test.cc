#include "proto/frame.h"

#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/test_frames.h"

namespace drpc {
namespace {

using ::drpc::testing::Bytes;
using ::drpc::testing::EncodeFrame;
using ::drpc::testing::Hex;
using ::drpc::testing::Own;
using ::drpc::testing::OwnedFrame;
using ::testing::HasSubstr;

constexpr size_t kMax = limits::kPacketDefaultMaxBytes;

absl::StatusOr<std::optional<Frame>> Parse(absl::string_view in, size_t* consumed,
                                           size_t max = kMax) {
  return ParseFrame(in, max, consumed);
}

TEST(FrameTest, HeaderByteForEveryKindMatchesTheSpecTable) {
  // docs/protocol.md §2.1: not done, done, done+control.
  const uint8_t expected[][3] = {{0x02, 0x03, 0x83}, {0x04, 0x05, 0x85}, {0x06, 0x07, 0x87},
                                 {0x08, 0x09, 0x89}, {0x0A, 0x0B, 0x8B}, {0x0C, 0x0D, 0x8D},
                                 {0x0E, 0x0F, 0x8F}, {0x10, 0x11, 0x91}};
  for (int k = 1; k <= 8; ++k) {
    const Kind kind = static_cast<Kind>(k);
    EXPECT_EQ(EncodeHeader(kind, false, false), expected[k - 1][0]) << KindName(kind);
    EXPECT_EQ(EncodeHeader(kind, true, false), expected[k - 1][1]) << KindName(kind);
    EXPECT_EQ(EncodeHeader(kind, true, true), expected[k - 1][2]) << KindName(kind);
  }
}

TEST(FrameTest, EncodesTheSpecByteExamples) {
  EXPECT_EQ(Hex(EncodeFrame(1, 3, Kind::kMessage, true, "hi")), "05 01 03 02 68 69");
  EXPECT_EQ(Hex(EncodeFrame(1, 4, Kind::kCloseSend, true, "")), "0d 01 04 00");
  EXPECT_EQ(Hex(EncodeFrame(1, 3, Kind::kCancel, true, "", true)), "89 01 03 00");
  // TestStream_CorkUntilFirstRead: MsgSend("write") on stream 0.
  EXPECT_EQ(Hex(EncodeFrame(0, 1, Kind::kMessage, true, "write")),
            "05 00 01 05 77 72 69 74 65");
  EXPECT_EQ(Hex(EncodeFrame(1, 1, Kind::kError, true, Bytes("00 00 00 00 00 00 00 0c") + "boom")),
            "07 01 01 0c 00 00 00 00 00 00 00 0c 62 6f 6f 6d");
}

TEST(FrameTest, FrameSizeEqualsEncodedSize) {
  const Frame frames[] = {
      {.id = {0, 0}, .kind = Kind::kMessage, .data = ""},
      {.id = {1, 300}, .kind = Kind::kInvoke, .data = "/pkg.Svc/Echo"},
      {.id = {UINT64_MAX, UINT64_MAX}, .kind = Kind::kInvokeMetadata, .data = "foo"},
  };
  for (const Frame& f : frames) {
    std::string out;
    AppendFrame(out, f);
    EXPECT_EQ(FrameSize(f), out.size());
  }
}

TEST(FrameTest, EncodeFrameHeaderIsTheFramePrefixBeforeTheData) {
  for (uint64_t big : {uint64_t{1}, uint64_t{127}, uint64_t{128}, UINT64_MAX}) {
    for (size_t len : {0, 1, 127, 128, 70000}) {
      const std::string data(len, 'x');
      const Frame f{.id = {big, big}, .kind = Kind::kMessage, .done = len % 2 == 0,
                    .control = big == 128, .data = data};
      std::string whole;
      AppendFrame(whole, f);
      char header[limits::kFrameHeaderMaxBytes];
      const size_t n = EncodeFrameHeader(f.id, f.kind, f.done, f.control, len, header);
      ASSERT_EQ(n + len, whole.size());
      EXPECT_EQ(Hex(absl::string_view(header, n)), Hex(absl::string_view(whole).substr(0, n)));
    }
  }
}

TEST(FrameTest, ParseReturnsTheFrameAndConsumesOnlyItsBytes) {
  const std::string wire = EncodeFrame(1, 3, Kind::kMessage, true, "hi") + "\x0d";
  size_t consumed = 0;
  auto f = Parse(wire, &consumed);
  ASSERT_TRUE(f.ok() && f->has_value());
  EXPECT_EQ(consumed, 6u);
  EXPECT_EQ(Own(**f), (OwnedFrame{{1, 3}, Kind::kMessage, true, false, "hi"}));
}

TEST(FrameTest, EveryProperPrefixOfAFrameIsIncomplete) {
  const std::string wire = EncodeFrame(300, 70000, Kind::kInvoke, true, "/interop.Echo/Unary");
  for (size_t len = 0; len < wire.size(); ++len) {
    size_t consumed = 0;
    auto f = Parse(absl::string_view(wire).substr(0, len), &consumed);
    ASSERT_TRUE(f.ok()) << len;
    EXPECT_FALSE(f->has_value()) << len;
  }
}

TEST(FrameTest, FourByteMinimalFrameParses) {
  const std::string wire = Bytes("0b 01 05 00");
  size_t consumed = 0;
  auto f = Parse(wire, &consumed);
  ASSERT_TRUE(f.ok() && f->has_value());
  EXPECT_EQ(consumed, limits::kFrameMinBytes);
  EXPECT_EQ((*f)->kind, Kind::kClose);
}

TEST(FrameTest, ParserDoesNotValidateKindOrFlagCombinations) {
  for (int header = 0; header < 256; ++header) {
    std::string wire = Bytes("00 01 02 01 3f");
    wire[0] = static_cast<char>(header);
    size_t consumed = 0;
    auto f = Parse(wire, &consumed);
    ASSERT_TRUE(f.ok() && f->has_value()) << header;
    EXPECT_EQ(static_cast<int>((*f)->kind), (header >> 1) & 0x3F);
    EXPECT_EQ((*f)->done, (header & 1) != 0);
    EXPECT_EQ((*f)->control, (header & 0x80) != 0);
  }
}

TEST(FrameTest, TooLongVarintIsAProtocolErrorNamingTheField) {
  const std::string ten = Bytes("ff ff ff ff ff ff ff ff ff ff");
  const struct {
    std::string wire;
    const char* field;
  } cases[] = {{"\x05" + ten, "stream ID"},
               {"\x05\x01" + ten, "message ID"},
               {"\x05\x01\x01" + ten, "data length"}};
  for (const auto& c : cases) {
    size_t consumed = 0;
    auto f = Parse(c.wire, &consumed);
    ASSERT_FALSE(f.ok()) << c.field;
    EXPECT_TRUE(absl::IsInvalidArgument(f.status()));
    EXPECT_THAT(std::string(f.status().message()), HasSubstr("protocol error: varint too long"));
    EXPECT_THAT(std::string(f.status().message()), HasSubstr(c.field));
  }
}

TEST(FrameTest, DataLengthOverLimitIsRejectedBeforeTheBodyArrives) {
  // Only the header of a frame claiming 1001 bytes is present.
  const std::string header = Bytes("05 01 01 e9 07");
  size_t consumed = 0;
  auto f = Parse(header, &consumed, 1000);
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(std::string(f.status().message()), HasSubstr("protocol error: data overflow"));
  EXPECT_THAT(std::string(f.status().message()), HasSubstr("1001"));
  EXPECT_THAT(std::string(f.status().message()), HasSubstr("1000"));
}

TEST(FrameTest, DataLengthAtLimitIsAccepted) {
  const std::string wire = EncodeFrame(1, 1, Kind::kMessage, true, std::string(1000, 'x'));
  size_t consumed = 0;
  auto f = Parse(wire, &consumed, 1000);
  ASSERT_TRUE(f.ok() && f->has_value());
  EXPECT_EQ((*f)->data.size(), 1000u);
}

TEST(FrameTest, NonMinimalHeaderVarintsAreAccepted) {
  const std::string wire = Bytes("05 81 00 82 00 81 00 78");  // the frame's data points into it
  size_t consumed = 0;
  auto f = Parse(wire, &consumed);
  ASSERT_TRUE(f.ok() && f->has_value());
  EXPECT_EQ((*f)->id, (PacketId{1, 2}));
  EXPECT_EQ((*f)->data, "x");
}

TEST(FrameTest, GoFuzzSeedsRoundTrip) {
  // drpcwire FuzzParseFrame seeds: an empty frame; max IDs, kind 7, done+control, "foo".
  const OwnedFrame seeds[] = {
      {{0, 0}, static_cast<Kind>(0), false, false, ""},
      {{UINT64_MAX, UINT64_MAX}, Kind::kInvokeMetadata, true, true, "foo"},
  };
  for (const OwnedFrame& seed : seeds) {
    std::string wire;
    AppendFrame(wire, seed.view());
    size_t consumed = 0;
    auto f = Parse(wire, &consumed);
    ASSERT_TRUE(f.ok() && f->has_value());
    EXPECT_EQ(Own(**f), seed);
    EXPECT_EQ(consumed, wire.size());
  }
}

TEST(FrameTest, AppendParseRoundTripsThousandFrames) {
  // TestAppendParse: 1000 varied frames; a fixed SplitMix64 sequence keeps the test reproducible.
  uint64_t state = 0x5EED;
  auto next = [&state] {
    uint64_t z = (state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
  };
  std::string wire;
  std::vector<OwnedFrame> sent;
  for (int i = 0; i < 1000; ++i) {
    const uint64_t r = next();
    OwnedFrame f{{next() >> (r % 64), next() >> ((r >> 6) % 64)},
                 static_cast<Kind>((r >> 12) % 64),
                 ((r >> 18) & 1) != 0,
                 ((r >> 19) & 1) != 0,
                 std::string((r >> 20) % 300, static_cast<char>(r >> 40))};
    AppendFrame(wire, f.view());
    sent.push_back(f);
  }
  auto parsed = testing::ParseAllFrames(wire);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, sent);
}

TEST(FrameTest, AppendingManyFramesToOneBufferGrowsItGeometrically) {
  // A writer appends frame after frame to one buffer; reallocation must stay logarithmic.
  std::string out;
  int reallocations = 0;
  for (uint64_t m = 1; m <= 20000; ++m) {
    const size_t capacity = out.capacity();
    AppendFrame(out, Frame{.id = {1, m}, .kind = Kind::kMessage, .data = "0123456789"});
    reallocations += out.capacity() != capacity;
  }
  EXPECT_LE(reallocations, 40);
}

TEST(FrameTest, KindNamesMatchGo) {
  EXPECT_EQ(KindName(Kind::kInvoke), "Invoke");
  EXPECT_EQ(KindName(Kind::kCloseSend), "CloseSend");
  EXPECT_EQ(KindName(Kind::kInvokeMetadata), "InvokeMetadata");
  EXPECT_EQ(KindName(Kind::kWindowUpdate), "WindowUpdate");
  EXPECT_EQ(KindName(static_cast<Kind>(0)), "Kind(0)");
  EXPECT_EQ(KindName(static_cast<Kind>(40)), "Kind(40)");
  EXPECT_FALSE(IsKnownKind(static_cast<Kind>(0)));
  EXPECT_TRUE(IsKnownKind(Kind::kWindowUpdate));
  EXPECT_FALSE(IsKnownKind(static_cast<Kind>(9)));
}

TEST(FrameTest, PacketIdsCompareAsGoPairs) {
  EXPECT_LT((PacketId{1, 9}), (PacketId{2, 0}));
  EXPECT_LT((PacketId{2, 1}), (PacketId{2, 2}));
  EXPECT_EQ(PacketIdString(PacketId{3, 7}), "<3,7>");
}

}  // namespace
}  // namespace drpc
