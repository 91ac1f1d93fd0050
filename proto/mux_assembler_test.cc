// MuxAssembler: per-stream assembly and monotonicity (docs/protocol.md §4.3, §11.2, §12.8 frame-level tests).
#include <string>
#include <variant>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/metadata.h"
#include "proto/packet.h"
#include "proto/splitter.h"
#include "proto/test_frames.h"

namespace drpc {
namespace {

using ::drpc::testing::OwnedFrame;
using ::testing::HasSubstr;
using ::testing::StartsWith;

OwnedFrame F(uint64_t s, uint64_t m, Kind kind, bool done, std::string data = "",
             bool control = false) {
  return OwnedFrame{{s, m}, kind, done, control, std::move(data)};
}

MuxAssembler Make(size_t max = limits::kPacketDefaultMaxBytes, size_t streams = 8) {
  return MuxAssembler(MuxAssembler::Options{.packet_max_bytes = max, .streams_max_count = streams});
}

// Feeds frames; collects packets and stream errors in order, or returns the connection error.
struct Outcome {
  std::vector<Packet> packets;
  std::vector<StreamAssemblyError> stream_errors;
};
absl::StatusOr<Outcome> Feed(MuxAssembler& a, const std::vector<OwnedFrame>& fs) {
  Outcome out;
  for (const OwnedFrame& f : fs) {
    absl::StatusOr<MuxAssembler::Result> r = a.OnFrame(f.view());
    if (!r.ok()) return r.status();
    if (auto* p = std::get_if<Packet>(&*r)) out.packets.push_back(std::move(*p));
    if (auto* e = std::get_if<StreamAssemblyError>(&*r)) out.stream_errors.push_back(*e);
  }
  return out;
}

TEST(MuxAssemblerTest, InterleavedSplitFramesOfTwoStreamsAssembleIndependently) {
  MuxAssembler a = Make();
  auto o = Feed(a, {F(1, 1, Kind::kMessage, false, "he"), F(2, 1, Kind::kMessage, false, "wo"),
                    F(1, 1, Kind::kMessage, true, "llo"), F(2, 1, Kind::kMessage, true, "rld")});
  ASSERT_TRUE(o.ok()) << o.status();
  ASSERT_EQ(o->packets.size(), 2u);
  EXPECT_EQ(o->packets[0].data, "hello");
  EXPECT_EQ(o->packets[0].id, (PacketId{1, 1}));
  EXPECT_EQ(o->packets[1].data, "world");
  EXPECT_EQ(o->packets[1].id, (PacketId{2, 1}));
}

TEST(MuxAssemblerTest, ConcurrentLargeMessagesWithSplitSizeFiveArriveIntact) {
  // TestConcurrentLargeMessages: two streams, SplitSize=5, 20-byte messages, frames alternating.
  std::string wire1, wire2;
  const std::string m1(20, '1'), m2(20, '2');
  AppendPacket(wire1, {1, 1}, Kind::kMessage, m1, false, 5);
  AppendPacket(wire2, {2, 1}, Kind::kMessage, m2, false, 5);
  auto f1 = *testing::ParseAllFrames(wire1);
  auto f2 = *testing::ParseAllFrames(wire2);
  std::vector<OwnedFrame> mixed;
  for (size_t i = 0; i < f1.size(); ++i) mixed.insert(mixed.end(), {f1[i], f2[i]});
  MuxAssembler a = Make();
  auto o = Feed(a, mixed);
  ASSERT_TRUE(o.ok());
  ASSERT_EQ(o->packets.size(), 2u);
  EXPECT_EQ(o->packets[0].data, m1);
  EXPECT_EQ(o->packets[1].data, m2);
}

TEST(MuxAssemblerTest, MetadataInterleavedAcrossStreamsStaysWithItsStream) {
  // TestDrpcMetadataInterleavedAcrossStreams at the codec level.
  MuxAssembler a = Make();
  auto o = Feed(a, {F(1, 1, Kind::kInvokeMetadata, true, EncodeMetadata({{"s", "1"}})),
                    F(2, 1, Kind::kInvokeMetadata, true, EncodeMetadata({{"s", "2"}})),
                    F(1, 2, Kind::kInvoke, true, "/a/b"), F(2, 2, Kind::kInvoke, true, "/a/b")});
  ASSERT_TRUE(o.ok());
  ASSERT_EQ(o->packets.size(), 4u);
  EXPECT_EQ(DecodeMetadata(o->packets[0].data)->at("s"), "1");
  EXPECT_EQ(o->packets[0].id.stream, 1u);
  EXPECT_EQ(DecodeMetadata(o->packets[1].data)->at("s"), "2");
  EXPECT_EQ(o->packets[1].id.stream, 2u);
}

TEST(MuxAssemblerTest, StreamsMayAppearInAnyOrder) {
  MuxAssembler a = Make();
  auto o = Feed(a, {F(5, 1, Kind::kInvoke, true, "/a/b"), F(2, 1, Kind::kInvoke, true, "/a/b"),
                    F(5, 2, Kind::kMessage, true, "x")});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->packets.size(), 3u);
}

TEST(MuxAssemblerTest, ZeroStreamIdIsAProtocolErrorNotAMonotonicityViolation) {
  MuxAssembler a = Make();
  auto o = Feed(a, {F(0, 1, Kind::kInvoke, true, "/a/b")});
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(std::string(o.status().message()), StartsWith("protocol error: zero stream ID"));
}

TEST(MuxAssemblerTest, ZeroMessageIdIsAProtocolError) {
  MuxAssembler a = Make();
  ASSERT_TRUE(Feed(a, {F(1, 1, Kind::kInvoke, true, "/a/b")}).ok());
  auto o = Feed(a, {F(2, 0, Kind::kMessage, true, "x")});
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(std::string(o.status().message()), StartsWith("protocol error: zero message ID"));
}

TEST(MuxAssemblerTest, LowerMessageIdOnAStreamIsAProtocolError) {
  // GlobalMonotonicity_SameStream: m5 then m4 is fatal.
  MuxAssembler a = Make();
  auto o = Feed(a, {F(1, 5, Kind::kMessage, true, "x"), F(1, 4, Kind::kMessage, true, "y")});
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(std::string(o.status().message()),
              StartsWith("protocol error: id monotonicity violation on stream 1 (fr:<1,4>"));
}

TEST(MuxAssemblerTest, OutOfOrderFrameAcrossInterleavingIsCaught) {
  // The sequence PR #34's check missed (docs/protocol.md §4.3): S1 m2, S2 m1, S1 m2 again.
  MuxAssembler a = Make();
  auto o = Feed(a, {F(1, 2, Kind::kMessage, true, "x"), F(2, 1, Kind::kInvoke, true, "/a/b"),
                    F(1, 2, Kind::kMessage, true, "x")});
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("id monotonicity violation on stream 1"));
}

TEST(MuxAssemblerTest, HigherMessageIdDiscardsOnlyThatStreamsPartialPacket) {
  MuxAssembler a = Make();
  auto o = Feed(a, {F(1, 1, Kind::kMessage, false, "lost"), F(2, 1, Kind::kMessage, false, "kept"),
                    F(1, 3, Kind::kMessage, true, "new"), F(2, 1, Kind::kMessage, true, "!")});
  ASSERT_TRUE(o.ok());
  ASSERT_EQ(o->packets.size(), 2u);
  EXPECT_EQ(o->packets[0].id, (PacketId{1, 3}));
  EXPECT_EQ(o->packets[0].data, "new");
  EXPECT_EQ(o->packets[1].data, "kept!");
}

TEST(MuxAssemblerTest, ContinuationFramesWithSkippedMessageIdAreAccepted) {
  MuxAssembler a = Make();
  auto o = Feed(a, {F(1, 1, Kind::kInvoke, true, "/a/b"), F(1, 4, Kind::kMessage, false, "a"),
                    F(1, 4, Kind::kMessage, false, "b"), F(1, 4, Kind::kMessage, true, "c")});
  ASSERT_TRUE(o.ok());
  ASSERT_EQ(o->packets.size(), 2u);
  EXPECT_EQ(o->packets[1].data, "abc");
}

TEST(MuxAssemblerTest, KindChangeWithinAPacketIsAProtocolError) {
  MuxAssembler a = Make();
  auto o = Feed(a, {F(1, 1, Kind::kMessage, false, "a"), F(1, 1, Kind::kClose, true)});
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(std::string(o.status().message()),
              StartsWith("protocol error: packet kind change (fr:Close pkt:Message)"));
}

TEST(MuxAssemblerTest, OversizedMessageIsAStreamScopedErrorAndTheRestIsDropped) {
  MuxAssembler a = Make(100);
  auto o = Feed(a, {F(1, 1, Kind::kMessage, false, std::string(60, 'a')),
                    F(2, 1, Kind::kMessage, true, "other"),
                    F(1, 1, Kind::kMessage, false, std::string(60, 'b')),
                    F(1, 1, Kind::kMessage, true, std::string(60, 'c')),
                    F(1, 2, Kind::kMessage, true, "next")});
  ASSERT_TRUE(o.ok()) << o.status();
  ASSERT_EQ(o->stream_errors.size(), 1u);
  EXPECT_EQ(o->stream_errors[0].stream, 1u);
  EXPECT_TRUE(absl::IsResourceExhausted(o->stream_errors[0].status));
  EXPECT_THAT(std::string(o->stream_errors[0].status.message()), HasSubstr("120 bytes, limit 100"));
  ASSERT_EQ(o->packets.size(), 2u);
  EXPECT_EQ(o->packets[0].data, "other");
  EXPECT_EQ(o->packets[1].id, (PacketId{1, 2}));
  EXPECT_EQ(o->packets[1].data, "next");
}

TEST(MuxAssemblerTest, OversizedLastFrameLetsTheNextMessageStartFresh) {
  MuxAssembler a = Make(100);
  auto o = Feed(a, {F(1, 1, Kind::kMessage, true, std::string(101, 'a')),
                    F(1, 2, Kind::kMessage, true, "ok")});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->stream_errors.size(), 1u);
  ASSERT_EQ(o->packets.size(), 1u);
  EXPECT_EQ(o->packets[0].data, "ok");
  EXPECT_FALSE(Feed(a, {F(1, 1, Kind::kMessage, true, "old")}).ok())
      << "the failed message ID stays consumed";
}

TEST(MuxAssemblerTest, TooManyStreamsWithStateIsAConnectionError) {
  MuxAssembler a = Make(limits::kPacketDefaultMaxBytes, 2);
  ASSERT_TRUE(Feed(a, {F(1, 1, Kind::kInvoke, true, "/a/b"), F(2, 1, Kind::kInvoke, true, "/a/b")}).ok());
  auto o = Feed(a, {F(3, 1, Kind::kInvoke, true, "/a/b")});
  ASSERT_FALSE(o.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(o.status()));
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("too many streams"));
}

TEST(MuxAssemblerTest, ForgetFreesTheSlotAndRestartsTheStream) {
  MuxAssembler a = Make(limits::kPacketDefaultMaxBytes, 1);
  ASSERT_TRUE(Feed(a, {F(1, 3, Kind::kMessage, true, "x")}).ok());
  EXPECT_EQ(a.streams_tracked(), 1u);
  a.Forget(1);
  EXPECT_EQ(a.streams_tracked(), 0u);
  auto o = Feed(a, {F(2, 1, Kind::kInvoke, true, "/a/b")});
  ASSERT_TRUE(o.ok());
  a.Forget(2);
  EXPECT_TRUE(Feed(a, {F(1, 1, Kind::kMessage, true, "again")}).ok());
}

TEST(MuxAssemblerTest, ControlBitIsTheOrOverTheStreamsFrames) {
  MuxAssembler a = Make();
  auto o = Feed(a, {F(1, 1, Kind::kMessage, false, "a", true), F(2, 1, Kind::kMessage, true, "b"),
                    F(1, 1, Kind::kMessage, true, "c")});
  ASSERT_TRUE(o.ok());
  ASSERT_EQ(o->packets.size(), 2u);
  EXPECT_FALSE(o->packets[0].control);
  EXPECT_TRUE(o->packets[1].control);
}

TEST(MuxAssemblerTest, PartialBytesAreTrackedPerStream) {
  MuxAssembler a = Make();
  ASSERT_TRUE(Feed(a, {F(1, 1, Kind::kMessage, false, "abc"), F(2, 1, Kind::kMessage, false, "z")}).ok());
  EXPECT_EQ(a.partial_bytes(1), 3u);
  EXPECT_EQ(a.partial_bytes(2), 1u);
  EXPECT_EQ(a.partial_bytes(9), 0u);
}

TEST(MuxAssemblerTest, TotalPartialBytesFollowEveryStreamsProgress) {
  MuxAssembler a = Make(64, 8);
  ASSERT_TRUE(Feed(a, {F(1, 1, Kind::kMessage, false, "abc"), F(2, 1, Kind::kMessage, false, "z"),
                       F(3, 1, Kind::kMessage, false, "12345")})
                  .ok());
  EXPECT_EQ(a.partial_bytes(), 9u);
  ASSERT_TRUE(Feed(a, {F(1, 1, Kind::kMessage, true, "d")}).ok());  // completes: 4 bytes leave
  EXPECT_EQ(a.partial_bytes(), 6u);
  ASSERT_TRUE(Feed(a, {F(2, 2, Kind::kMessage, false, "xy")}).ok());  // abandons "z"
  EXPECT_EQ(a.partial_bytes(), 7u);
  a.Forget(3);
  EXPECT_EQ(a.partial_bytes(), 2u);
  // Over the packet limit: the stream's partial data is dropped.
  auto o = Feed(a, {F(2, 2, Kind::kMessage, false, std::string(70, 'x'))});
  ASSERT_TRUE(o.ok());
  ASSERT_EQ(o->stream_errors.size(), 1u);
  EXPECT_EQ(a.partial_bytes(), 0u);
}

TEST(MuxAssemblerTest, InvokeMetadataOverItsLimitFailsAtTheFirstFrameOverIt) {
  MuxAssembler a = Make();
  const std::string chunk(64 * 1024, 'm');
  std::vector<OwnedFrame> frames;
  for (size_t sent = 0; sent < limits::kMetadataMaxBytes; sent += chunk.size()) {
    frames.push_back(F(1, 1, Kind::kInvokeMetadata, false, chunk));
  }
  ASSERT_TRUE(Feed(a, frames).ok()) << "exactly the limit is still accepted";
  EXPECT_EQ(a.partial_bytes(), limits::kMetadataMaxBytes);
  auto o = Feed(a, {F(1, 1, Kind::kInvokeMetadata, false, "x")});
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(std::string(o.status().message()), StartsWith("protocol error: InvokeMetadata packet <1,1>"));
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("over the limit of 1048576 bytes for its kind"));
  EXPECT_EQ(a.partial_bytes(), 0u);
}

TEST(MuxAssemblerTest, InvokeNameOverItsLimitIsAProtocolError) {
  MuxAssembler a = Make();
  auto o = Feed(a, {F(1, 1, Kind::kInvoke, false, std::string(limits::kRpcNameMaxBytes, 'n')),
                    F(1, 1, Kind::kInvoke, false, "n")});
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("Invoke packet <1,1> reached 65537 bytes"));
}

TEST(MuxAssemblerTest, ConnectionErrorsAreSticky) {
  MuxAssembler a = Make();
  auto first = Feed(a, {F(0, 0, Kind::kInvoke, true)});
  ASSERT_FALSE(first.ok());
  auto again = Feed(a, {F(1, 1, Kind::kInvoke, true, "/a/b")});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status(), first.status());
}

TEST(MuxAssemblerTest, LentBufferBecomesThePacketAndTheTotalStaysExact) {
  MuxAssembler a = Make();
  const std::string first(40, 'a');  // longer than a string's inline storage
  const std::string more(60, 'b');
  ASSERT_TRUE(a.OnFrame(F(1, 1, Kind::kMessage, false, first).view()).ok());
  ASSERT_TRUE(a.OnFrame(F(3, 1, Kind::kMessage, false, "zz").view()).ok());
  const Frame head = F(1, 1, Kind::kMessage, true).view();
  std::optional<std::string> lent = a.LendBuffer(head, more.size());
  ASSERT_TRUE(lent.has_value());
  EXPECT_EQ(*lent, first);
  EXPECT_EQ(a.partial_bytes(), 2u) << "stream 1's bytes are lent";
  lent->append(more);
  const char* at = lent->data();
  Frame frame = head;
  frame.data = absl::string_view(*lent).substr(first.size());
  absl::StatusOr<MuxAssembler::Result> r = a.OnFrame(frame, &lent);
  ASSERT_TRUE(r.ok()) << r.status();
  const Packet* p = std::get_if<Packet>(&*r);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->data, first + more);
  EXPECT_EQ(p->data.data(), at);
  EXPECT_FALSE(lent.has_value());
  EXPECT_EQ(a.partial_bytes(), 2u);
}

// The stream is forgotten while its frame is read into the lent buffer (it ended): the frame is
// then an ordinary frame of an unknown stream, copied from the buffer, which the caller keeps.
TEST(MuxAssemblerTest, ForgettingTheStreamOfALentBufferEndsTheLoan) {
  MuxAssembler a = Make();
  ASSERT_TRUE(a.OnFrame(F(1, 1, Kind::kMessage, false, "abc").view()).ok());
  std::optional<std::string> lent = a.LendBuffer(F(1, 1, Kind::kMessage, true).view(), 2);
  ASSERT_TRUE(lent.has_value());
  lent->append("de");
  a.Forget(1);
  EXPECT_EQ(a.partial_bytes(), 0u);
  Frame frame = F(1, 1, Kind::kMessage, true).view();
  frame.data = absl::string_view(*lent).substr(3);
  absl::StatusOr<MuxAssembler::Result> r = a.OnFrame(frame, &lent);
  ASSERT_TRUE(r.ok());
  const Packet* p = std::get_if<Packet>(&*r);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->data, "de") << "a forgotten stream starts from scratch";
  EXPECT_TRUE(lent.has_value()) << "the buffer stays the caller's";
}

TEST(MuxAssemblerTest, NothingIsLentForAFrameOnFrameWouldNotAppend) {
  MuxAssembler a = Make(limits::kPacketLimitMinBytes, 1);
  ASSERT_TRUE(a.OnFrame(F(1, 2, Kind::kMessage, false, "abc").view()).ok());
  EXPECT_FALSE(a.LendBuffer(F(1, 1, Kind::kMessage, true).view(), 1).has_value()) << "lower ID";
  EXPECT_FALSE(a.LendBuffer(F(1, 2, Kind::kError, true).view(), 1).has_value()) << "kind change";
  EXPECT_FALSE(a.LendBuffer(F(1, 2, Kind::kMessage, true).view(), limits::kPacketLimitMinBytes)
                   .has_value())
      << "over the limit (a stream-scoped error)";
  EXPECT_FALSE(a.LendBuffer(F(2, 1, Kind::kMessage, true).view(), 1).has_value())
      << "a new stream beyond streams_max_count";
  EXPECT_FALSE(a.LendBuffer(F(0, 1, Kind::kMessage, true).view(), 1).has_value()) << "zero ID";
  // Unlend puts the bytes back where they were.
  std::optional<std::string> lent = a.LendBuffer(F(1, 2, Kind::kMessage, true).view(), 1);
  ASSERT_TRUE(lent.has_value());
  a.Unlend(*std::move(lent));
  EXPECT_EQ(a.partial_bytes(), 3u);
  EXPECT_EQ(a.partial_bytes(1), 3u);
}

}  // namespace
}  // namespace drpc
