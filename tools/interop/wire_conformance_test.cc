// Decodes every golden capture of the real Go implementation (corpus/conformance/, see its
// README.md) and checks it three ways:
//  1. frame by frame against Go's own listing of the same bytes (connNNN.*.frames.txt): offset,
//     header bytes, kind, flags, IDs and length;
//  2. packet by packet, through the UpstreamAssembler, against the expectations the README states
//     per case (IDs, kinds, split sizes, error code 42 "boom", metadata pairs, ...), including the
//     exact protocol error for the deliberately bad raw_* client bytes;
//  3. re-encoding every packet with the default split size reproduces the capture byte for byte
//     (metadata, whose entry order is random in Go, is compared decoded).
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "fuzz/corpus_files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/error_codec.h"
#include "proto/frame.h"
#include "proto/metadata.h"
#include "proto/packet.h"
#include "proto/splitter.h"
#include "proto/test_frames.h"

namespace drpc {
namespace {

using ::drpc::testing::Hex;
using ::drpc::testing::Own;
using ::drpc::testing::OwnedFrame;

struct WireFrame {
  uint64_t offset;
  std::string header_hex;  // header byte + the three varints, as Go's listing prints them
  OwnedFrame frame;
};

struct WirePacket {
  Packet packet;
  uint64_t begin, end;  // byte range of the packet's frames in the capture
};

struct Decoded {
  std::vector<WireFrame> frames;
  std::vector<WirePacket> packets;
  absl::Status error;  // first parser or assembler error
  uint64_t error_offset = 0;
  size_t trailing_bytes = 0;  // bytes of an incomplete last frame
};

std::string Dir() { return corpus::RunfilesPath("corpus/conformance"); }

std::string Read(const std::string& path) {
  absl::StatusOr<std::string> bytes = corpus::ReadFile(path);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : "";
}

// Parses in 7-byte segments (so frames straddle appends) and assembles upstream-style.
Decoded Decode(absl::string_view wire) {
  Decoded out;
  FrameParser parser(FrameParser::Options{});
  UpstreamAssembler assembler(UpstreamAssembler::Options{});
  uint64_t packet_begin = 0;
  std::optional<PacketId> open;  // ID of the packet whose frames are being collected
  for (size_t pos = 0; pos < wire.size() && out.error.ok(); pos += 7) {
    parser.Append(wire.substr(pos, 7));
    for (;;) {
      const uint64_t at = parser.offset();
      absl::StatusOr<std::optional<Frame>> f = parser.Next();
      if (!f.ok() || !f->has_value()) {
        if (!f.ok()) out.error = f.status(), out.error_offset = at;
        break;
      }
      const std::string header = Hex(wire.substr(at, parser.offset() - at - (*f)->data.size()));
      out.frames.push_back({at, absl::StrReplaceAll(header, {{" ", ""}}), Own(**f)});
      if (open != (*f)->id) packet_begin = at;
      open = (*f)->done ? std::nullopt : std::optional<PacketId>((*f)->id);
      absl::StatusOr<std::optional<Packet>> p = assembler.OnFrame(**f);
      if (!p.ok()) {
        out.error = p.status(), out.error_offset = at;
        break;
      }
      if (p->has_value()) {
        out.packets.push_back({std::move(**p), packet_begin, parser.offset()});
      }
    }
  }
  out.trailing_bytes = parser.buffered_bytes();
  return out;
}

// One line of Go's listing: "@23 hdr=0501020a Message flags=D- stream=1 msg=2 len=10 data=...".
struct ListedFrame {
  uint64_t offset = 0;
  std::string header_hex, kind, flags;
  uint64_t stream = 0, message = 0, length = 0;
};

std::vector<ListedFrame> ReadListing(const std::string& path) {
  std::vector<ListedFrame> out;
  for (absl::string_view line : absl::StrSplit(Read(path), '\n')) {
    if (!absl::ConsumePrefix(&line, "@")) continue;
    std::vector<absl::string_view> t = absl::StrSplit(line, ' ', absl::SkipEmpty());
    ListedFrame f;
    EXPECT_GE(t.size(), 7u) << line;
    if (t.size() < 7) continue;
    auto value = [](absl::string_view tok) { return tok.substr(tok.find('=') + 1); };
    EXPECT_TRUE(absl::SimpleAtoi(t[0], &f.offset));
    f.header_hex = std::string(value(t[1]));
    f.kind = std::string(t[2]);
    f.flags = std::string(value(t[3]));
    EXPECT_TRUE(absl::SimpleAtoi(value(t[4]), &f.stream));
    EXPECT_TRUE(absl::SimpleAtoi(value(t[5]), &f.message));
    EXPECT_TRUE(absl::SimpleAtoi(value(t[6]), &f.length));
    out.push_back(f);
  }
  return out;
}

std::vector<std::string> Captures() {
  absl::StatusOr<std::vector<std::string>> files = corpus::ListFiles(Dir(), ".bin");
  EXPECT_TRUE(files.ok()) << files.status();
  return files.ok() ? *files : std::vector<std::string>{};
}

// "unary/conn001.c2s" for ".../corpus/conformance/unary/conn001.c2s.bin".
std::string Name(const std::string& path) {
  absl::string_view s = path;
  s.remove_prefix(Dir().size() + 1);
  absl::ConsumeSuffix(&s, ".bin");
  return std::string(s);
}

Decoded DecodeCase(absl::string_view name) { return Decode(Read(Dir() + "/" + std::string(name) + ".bin")); }

// The capture cases whose client bytes are deliberately invalid for the assembler.
const std::map<std::string, std::string>& ExpectedErrors() {
  static const auto* errors = new std::map<std::string, std::string>{
      {"raw_id_regression/conn001.c2s",
       "protocol error: id monotonicity violation (fr:<1,1> r:<2,4>)"},
  };
  return *errors;
}

TEST(ConformanceTest, EveryCaptureIsPresent) {
  // 19 cases; cancel_hard_closes opened two connections. Guards against a missing data dep.
  EXPECT_EQ(Captures().size(), 40u);
}

TEST(ConformanceTest, EveryCaptureMatchesGosFrameListing) {
  for (const std::string& path : Captures()) {
    SCOPED_TRACE(Name(path));
    const Decoded d = Decode(Read(path));
    std::vector<ListedFrame> listed = ReadListing(absl::StrCat(path.substr(0, path.size() - 4),
                                                               ".frames.txt"));
    // Go's listing is frame-level only; where our assembler stopped early, compare the prefix.
    if (!d.error.ok()) listed.resize(std::min(listed.size(), d.frames.size() + 1));
    ASSERT_GE(listed.size(), d.frames.size());
    for (size_t i = 0; i < d.frames.size(); ++i) {
      const WireFrame& got = d.frames[i];
      EXPECT_EQ(got.offset, listed[i].offset) << i;
      EXPECT_EQ(got.header_hex, listed[i].header_hex) << i;
      EXPECT_EQ(KindName(got.frame.kind), listed[i].kind) << i;
      EXPECT_EQ(std::string(got.frame.done ? "D" : "-") + (got.frame.control ? "C" : "-"),
                listed[i].flags)
          << i;
      EXPECT_EQ(got.frame.id, (PacketId{listed[i].stream, listed[i].message})) << i;
      EXPECT_EQ(got.frame.data.size(), listed[i].length) << i;
    }
    EXPECT_EQ(d.trailing_bytes, 0u);
    auto expected = ExpectedErrors().find(Name(path));
    if (expected == ExpectedErrors().end()) {
      EXPECT_TRUE(d.error.ok()) << d.error;
      EXPECT_EQ(d.frames.size(), listed.size());
    } else {
      EXPECT_EQ(d.error.message(), expected->second);
    }
  }
}

TEST(ConformanceTest, EveryPacketReencodesByteIdentically) {
  for (const std::string& path : Captures()) {
    SCOPED_TRACE(Name(path));
    const std::string wire = Read(path);
    for (const WirePacket& wp : Decode(wire).packets) {
      const Packet& p = wp.packet;
      std::string again;
      const std::string data =
          p.kind == Kind::kInvokeMetadata ? EncodeMetadata(*DecodeMetadata(p.data)) : p.data;
      AppendPacket(again, p.id, p.kind, data, p.control, limits::kSplitDefaultBytes);
      const absl::string_view original = absl::string_view(wire).substr(wp.begin, wp.end - wp.begin);
      if (p.kind == Kind::kInvokeMetadata) {
        ASSERT_EQ(again.size(), original.size());
        EXPECT_EQ(*DecodeMetadata(again.substr(again.size() - data.size())), *DecodeMetadata(p.data));
      } else {
        EXPECT_EQ(Hex(again), Hex(original)) << KindName(p.kind) << " " << PacketIdString(p.id);
      }
    }
  }
}

// --- Per-case expectations from corpus/conformance/README.md ------------------------------------

struct Expect {
  uint64_t stream, message;
  Kind kind;
  std::string data;
  bool control = false;
};

void ExpectPackets(absl::string_view name, const std::vector<Expect>& expected) {
  SCOPED_TRACE(std::string(name));
  const Decoded d = DecodeCase(name);
  ASSERT_TRUE(d.error.ok()) << d.error;
  ASSERT_EQ(d.packets.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const Packet& p = d.packets[i].packet;
    EXPECT_EQ(p.id, (PacketId{expected[i].stream, expected[i].message})) << i;
    EXPECT_EQ(KindName(p.kind), KindName(expected[i].kind)) << i;
    EXPECT_EQ(p.data, expected[i].data) << i;
    EXPECT_EQ(p.control, expected[i].control) << i;
  }
}

constexpr Kind kInvoke = Kind::kInvoke, kMessage = Kind::kMessage, kError = Kind::kError,
               kCancel = Kind::kCancel, kClose = Kind::kClose, kCloseSend = Kind::kCloseSend;

TEST(ConformanceTest, UnaryIsInvokeMessageCloseSendThenClose) {
  ExpectPackets("unary/conn001.c2s", {{1, 1, kInvoke, "/interop.Echo/Unary"},
                                      {1, 2, kMessage, "hello drpc"},
                                      {1, 3, kCloseSend, ""},
                                      {1, 4, kClose, ""}});
  ExpectPackets("unary/conn001.s2c", {{1, 1, kMessage, "hello drpc"}, {1, 2, kCloseSend, ""}});
}

TEST(ConformanceTest, EmptyUnaryMessageIsAZeroLengthFrame) {
  ExpectPackets("unary_empty/conn001.s2c", {{1, 1, kMessage, ""}, {1, 2, kCloseSend, ""}});
}

TEST(ConformanceTest, LargeUnaryIsSplitIntoThreeFullFramesAndA3392ByteTail) {
  for (const char* name : {"unary_large/conn001.c2s", "unary_large/conn001.s2c"}) {
    SCOPED_TRACE(name);
    const Decoded d = DecodeCase(name);
    ASSERT_TRUE(d.error.ok());
    std::vector<size_t> sizes;
    for (const WireFrame& f : d.frames) {
      if (f.frame.kind != kMessage) continue;
      sizes.push_back(f.frame.data.size());
      EXPECT_EQ(f.frame.done, f.frame.data.size() == 3392);
    }
    EXPECT_THAT(sizes, ::testing::ElementsAre(65536, 65536, 65536, 3392));
    const auto message = std::find_if(d.packets.begin(), d.packets.end(),
                                      [](const WirePacket& p) { return p.packet.kind == kMessage; });
    ASSERT_NE(message, d.packets.end());
    EXPECT_EQ(message->packet.data.size(), 200000u);
  }
  EXPECT_EQ(DecodeCase("unary_large/conn001.c2s").packets[1].packet.data,
            DecodeCase("unary_large/conn001.s2c").packets[0].packet.data)
      << "the echo returns the request bytes";
}

TEST(ConformanceTest, SequentialUnaryCallsUseStreams1To3WithMessageIdsRestarting) {
  const Decoded d = DecodeCase("unary_sequential/conn001.c2s");
  ASSERT_TRUE(d.error.ok());
  std::map<uint64_t, uint64_t> first_message;
  for (const WirePacket& p : d.packets) first_message.emplace(p.packet.id.stream, p.packet.id.message);
  EXPECT_THAT(first_message, ::testing::ElementsAre(::testing::Pair(1, 1), ::testing::Pair(2, 1),
                                                    ::testing::Pair(3, 1)));
}

TEST(ConformanceTest, ServerStreamSendsFiveMessagesThenCloseSend) {
  ExpectPackets("server_stream/conn001.s2c",
                {{1, 1, kMessage, "msg-0"}, {1, 2, kMessage, "msg-1"}, {1, 3, kMessage, "msg-2"},
                 {1, 4, kMessage, "msg-3"}, {1, 5, kMessage, "msg-4"}, {1, 6, kCloseSend, ""}});
  ExpectPackets("server_stream_zero/conn001.s2c", {{1, 1, kCloseSend, ""}});
}

TEST(ConformanceTest, BidiEchoesEachMessageThenBothSidesCloseSend) {
  ExpectPackets("bidi/conn001.c2s",
                {{1, 1, kInvoke, "/interop.Echo/Bidi"}, {1, 2, kMessage, "one"},
                 {1, 3, kMessage, "two"}, {1, 4, kMessage, "three"}, {1, 5, kCloseSend, ""}});
  ExpectPackets("bidi/conn001.s2c", {{1, 1, kMessage, "one"}, {1, 2, kMessage, "two"},
                                     {1, 3, kMessage, "three"}, {1, 4, kCloseSend, ""}});
}

TEST(ConformanceTest, SecondStreamsInvokeFollowsTheFirstStreamsCloseSend) {
  const Decoded d = DecodeCase("second_stream_blocks/conn001.c2s");
  ASSERT_TRUE(d.error.ok());
  // Upstream is one stream at a time: every stream-1 packet precedes every stream-2 packet.
  size_t last_of_stream1 = 0, first_of_stream2 = d.packets.size();
  for (size_t i = 0; i < d.packets.size(); ++i) {
    if (d.packets[i].packet.id.stream == 1) last_of_stream1 = i;
    if (d.packets[i].packet.id.stream == 2 && first_of_stream2 == d.packets.size()) first_of_stream2 = i;
  }
  ASSERT_LT(first_of_stream2, d.packets.size());
  EXPECT_EQ(d.packets[last_of_stream1].packet.kind, kCloseSend);
  EXPECT_EQ(first_of_stream2, last_of_stream1 + 1);
  EXPECT_EQ(d.packets[first_of_stream2].packet.kind, kInvoke);
  EXPECT_EQ(d.packets[first_of_stream2].packet.data, "/interop.Echo/Unary");
}

TEST(ConformanceTest, ClientStreamRepliesWithTheTotalLength) {
  ExpectPackets("client_stream/conn001.s2c", {{1, 1, kMessage, "6"}, {1, 2, kCloseSend, ""}});
}

TEST(ConformanceTest, FailSendsErrorCode42BoomAndNoCloseSend) {
  const Decoded d = DecodeCase("fail/conn001.s2c");
  ASSERT_TRUE(d.error.ok());
  ASSERT_GE(d.packets.size(), 1u);
  EXPECT_EQ(d.packets[0].packet.kind, kError);
  EXPECT_EQ(d.packets[0].packet.id, (PacketId{1, 1}));
  EXPECT_EQ(DecodeError(d.packets[0].packet.data), (RemoteError{42, "boom"}));
  for (const WirePacket& p : d.packets) {
    if (p.packet.id.stream == 1) {
      EXPECT_NE(p.packet.kind, kCloseSend);
    }
  }
}

TEST(ConformanceTest, UnknownRpcIsErrorCodeZeroWithGosText) {
  const Decoded d = DecodeCase("unknown_rpc/conn001.s2c");
  ASSERT_TRUE(d.error.ok());
  EXPECT_EQ(DecodeError(d.packets[0].packet.data),
            (RemoteError{0, "protocol error: unknown rpc: \"/interop.Echo/DoesNotExist\""}));
}

TEST(ConformanceTest, MetadataPrecedesInvokeAndDecodesToAlphaAndBeta) {
  const Decoded d = DecodeCase("meta/conn001.c2s");
  ASSERT_TRUE(d.error.ok());
  ASSERT_GE(d.packets.size(), 2u);
  EXPECT_EQ(d.packets[0].packet.kind, Kind::kInvokeMetadata);
  EXPECT_EQ(d.packets[0].packet.id, (PacketId{1, 1}));
  EXPECT_EQ(*DecodeMetadata(d.packets[0].packet.data), (Metadata{{"alpha", "1"}, {"beta", "two"}}));
  EXPECT_EQ(d.packets[1].packet.kind, kInvoke);
  EXPECT_EQ(d.packets[1].packet.id, (PacketId{1, 2}));
  for (size_t i = 2; i < d.packets.size(); ++i) {
    EXPECT_NE(d.packets[i].packet.kind, Kind::kInvokeMetadata) << "the second call has none";
  }
}

TEST(ConformanceTest, SoftCancelIsControlKindFourOnMessage4) {
  const Decoded d = DecodeCase("cancel_soft_reuse/conn001.c2s");
  ASSERT_TRUE(d.error.ok());
  const auto cancel = std::find_if(d.packets.begin(), d.packets.end(),
                                   [](const WirePacket& p) { return p.packet.kind == kCancel; });
  ASSERT_NE(cancel, d.packets.end());
  EXPECT_EQ(cancel->packet.id, (PacketId{1, 4}));
  EXPECT_TRUE(cancel->packet.control);
  const std::string wire = Read(Dir() + "/cancel_soft_reuse/conn001.c2s.bin");
  EXPECT_EQ(Hex(wire.substr(cancel->begin, cancel->end - cancel->begin)), "89 01 04 00");
  ExpectPackets("cancel_soft_reuse/conn001.s2c",
                {{2, 1, kMessage, "after-cancel"}, {2, 2, kCloseSend, ""}});
}

TEST(ConformanceTest, HardCancelLeavesTheServerSilent) {
  EXPECT_TRUE(Read(Dir() + "/cancel_hard_closes/conn001.s2c.bin").empty());
  EXPECT_TRUE(DecodeCase("cancel_hard_closes/conn001.c2s").error.ok());
}

TEST(ConformanceTest, GoldenRawUnaryReplyIsReproducedExactly) {
  std::string reply;
  AppendPacket(reply, {1, 1}, kMessage, "ping", false, limits::kSplitDefaultBytes);
  AppendPacket(reply, {1, 2}, kCloseSend, "", false, limits::kSplitDefaultBytes);
  EXPECT_EQ(Hex(reply), Hex(Read(Dir() + "/raw_unary_golden/conn001.s2c.bin")));
  EXPECT_EQ(Hex(reply), "05 01 01 04 70 69 6e 67 0d 01 02 00");
}

TEST(ConformanceTest, PipelinedInvokeOnStream2IsAcceptedAfterStream1) {
  ExpectPackets("raw_pipelined_invoke/conn001.c2s",
                {{1, 1, kInvoke, "/interop.Echo/Bidi"}, {1, 2, kMessage, "a"},
                 {2, 1, kInvoke, "/interop.Echo/Unary"}, {2, 2, kMessage, "b"},
                 {2, 3, kCloseSend, ""}});
}

TEST(ConformanceTest, IdRegressionIsAMonotonicityViolationAtTheRegressingFrame) {
  const Decoded d = DecodeCase("raw_id_regression/conn001.c2s");
  EXPECT_EQ(d.error.message(), "protocol error: id monotonicity violation (fr:<1,1> r:<2,4>)");
  EXPECT_EQ(d.error_offset, 32u);
  EXPECT_EQ(d.packets.size(), 3u) << "stream 2 starting the connection is fine";
}

TEST(ConformanceTest, UnknownKindWithControlBitIsAControlPacket) {
  ExpectPackets("raw_unknown_control_kind/conn001.c2s",
                {{1, 1, kInvoke, "/interop.Echo/Unary"}, {1, 2, static_cast<Kind>(20), "?", true},
                 {1, 3, kMessage, "x"}, {1, 4, kCloseSend, ""}});
}

TEST(ConformanceTest, UnknownKindWithoutControlBitReachesTheStreamLayerAsFatal) {
  // The wire layers accept kind 20 (Go's reader does not check kinds); the stream layer must
  // then fail the connection with "internal error: unknown packet kind: Kind(20)".
  const Decoded d = DecodeCase("raw_unknown_kind/conn001.c2s");
  ASSERT_TRUE(d.error.ok());
  ASSERT_GE(d.packets.size(), 2u);
  const Packet& p = d.packets[1].packet;
  EXPECT_EQ(KindName(p.kind), "Kind(20)");
  EXPECT_FALSE(IsKnownKind(p.kind));
  EXPECT_FALSE(p.control);
}

}  // namespace
}  // namespace drpc
