// UpstreamAssembler: Go's reader rules (docs/protocol.md §4.2) and the drpcwire TestReader cases (§12.1).
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/packet.h"
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

// Feeds frames in order; returns the completed packets, or the first error.
absl::StatusOr<std::vector<Packet>> Feed(UpstreamAssembler& a, const std::vector<OwnedFrame>& fs) {
  std::vector<Packet> out;
  for (const OwnedFrame& f : fs) {
    absl::StatusOr<std::optional<Packet>> p = a.OnFrame(f.view());
    if (!p.ok()) return p.status();
    if (p->has_value()) out.push_back(std::move(**p));
  }
  return out;
}

absl::StatusOr<std::vector<Packet>> Feed(const std::vector<OwnedFrame>& fs,
                                         size_t max = limits::kPacketDefaultMaxBytes) {
  UpstreamAssembler a(UpstreamAssembler::Options{.packet_max_bytes = max});
  return Feed(a, fs);
}

TEST(UpstreamAssemblerTest, FramesWithTheSameIdFormOnePacket) {
  auto p = Feed({F(1, 1, Kind::kMessage, false, "hello"), F(1, 1, Kind::kMessage, false, " "),
                 F(1, 1, Kind::kMessage, true, "world")});
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->size(), 1u);
  EXPECT_EQ((*p)[0].data, "hello world");
  EXPECT_EQ((*p)[0].id, (PacketId{1, 1}));
  EXPECT_EQ((*p)[0].kind, Kind::kMessage);
  EXPECT_FALSE((*p)[0].control);
}

TEST(UpstreamAssemblerTest, ControlBitOnAnyFrameMarksThePacketControl) {
  auto p = Feed({F(1, 1, Kind::kMessage, false, "a"), F(1, 1, Kind::kMessage, false, "b", true),
                 F(1, 1, Kind::kMessage, true, "c")});
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->size(), 1u);
  EXPECT_TRUE((*p)[0].control);
}

TEST(UpstreamAssemblerTest, ControlBitIsKeptPerPacket) {
  auto p = Feed({F(1, 2, Kind::kClose, true), F(1, 3, Kind::kMessage, false, "a", true),
                 F(1, 3, Kind::kMessage, true, "b")});
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->size(), 2u);
  EXPECT_FALSE((*p)[0].control);
  EXPECT_TRUE((*p)[1].control);
  EXPECT_EQ((*p)[1].data, "ab");
}

TEST(UpstreamAssemblerTest, NewerIdDiscardsThePartialPacketSilently) {
  UpstreamAssembler a(UpstreamAssembler::Options{});
  auto p = Feed(a, {F(1, 1, Kind::kMessage, false, "partial")});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(a.partial_bytes(), 7u);
  p = Feed(a, {F(1, 2, Kind::kClose, true)});
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->size(), 1u);
  EXPECT_EQ((*p)[0].kind, Kind::kClose);
  EXPECT_EQ((*p)[0].id, (PacketId{1, 2}));
  EXPECT_EQ(a.partial_bytes(), 0u);
}

TEST(UpstreamAssemblerTest, FrameOfAHigherStreamAbandonsThePartialPacket) {
  auto p = Feed({F(1, 3, Kind::kMessage, false, "lost"), F(2, 1, Kind::kInvoke, true, "/a/b")});
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->size(), 1u);
  EXPECT_EQ((*p)[0].id, (PacketId{2, 1}));
}

TEST(UpstreamAssemblerTest, LowerIdIsMonotonicityViolation) {
  auto p = Feed({F(1, 2, Kind::kClose, true), F(1, 1, Kind::kMessage, true, "x")});
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(p.status()));
  EXPECT_EQ(p.status().message(), "protocol error: id monotonicity violation (fr:<1,1> r:<1,3>)");
}

TEST(UpstreamAssemblerTest, SameIdAfterDoneIsMonotonicityViolation) {
  auto p = Feed({F(1, 1, Kind::kMessage, true, "a"), F(1, 1, Kind::kMessage, true, "a")});
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()), StartsWith("protocol error: id monotonicity violation"));
}

TEST(UpstreamAssemblerTest, MessageIdZeroAtStartIsMonotonicityViolation) {
  auto p = Feed({F(1, 0, Kind::kInvoke, true, "/a/b")});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), "protocol error: id monotonicity violation (fr:<1,0> r:<1,1>)");
}

TEST(UpstreamAssemblerTest, StreamIdZeroAtStartIsMonotonicityViolation) {
  auto p = Feed({F(0, 1, Kind::kInvoke, true, "/a/b")});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), "protocol error: id monotonicity violation (fr:<0,1> r:<1,1>)");
}

TEST(UpstreamAssemblerTest, LowerStreamAfterHigherStreamIsMonotonicityViolation) {
  // E11: a late frame for stream 1 after stream 5 started.
  auto p = Feed({F(5, 1, Kind::kInvoke, true, "/a/b"), F(1, 9, Kind::kMessage, true, "late")});
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("(fr:<1,9> r:<5,2>)"));
}

TEST(UpstreamAssemblerTest, GapsInStreamAndMessageIdsAreAllowed) {
  auto p = Feed({F(1, 7, Kind::kMessage, true, "a"), F(1, 9, Kind::kMessage, true, "b"),
                 F(5, 1, Kind::kInvoke, true, "/a/b"), F(5, 6, Kind::kClose, true)});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->size(), 4u);
}

TEST(UpstreamAssemblerTest, MessageIdZeroIsAcceptedOnALaterStream) {
  // E6: Go accepts (2,0) after (1,x) because it is not less than the last ID.
  auto p = Feed({F(1, 1, Kind::kInvoke, true, "/a/b"), F(2, 0, Kind::kMessage, true, "zero")});
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[1].id, (PacketId{2, 0}));
}

TEST(UpstreamAssemblerTest, KindChangeInsideAPacketIsAProtocolError) {
  auto p = Feed({F(1, 1, Kind::kMessage, false, "a"), F(1, 1, Kind::kError, true, "b")});
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()),
              StartsWith("protocol error: packet kind change (fr:Error pkt:Message)"));
}

TEST(UpstreamAssemblerTest, OneFrameOverTheDefaultLimitIsDataOverflow) {
  auto p = Feed({F(1, 1, Kind::kMessage, true, std::string(limits::kPacketDefaultMaxBytes + 29, 'x'))});
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()), StartsWith("protocol error: data overflow (len:4194333)"));
}

TEST(UpstreamAssemblerTest, OneFrameOverAConfiguredLimitIsDataOverflow) {
  auto p = Feed({F(1, 1, Kind::kMessage, true, std::string(1029, 'x'))}, 1000);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()), StartsWith("protocol error: data overflow (len:1029)"));
}

TEST(UpstreamAssemblerTest, ManyFramesAccumulatingPastTheLimitAreDataOverflow) {
  std::vector<OwnedFrame> frames;
  for (int i = 0; i < 10240; ++i) frames.push_back(F(1, 1, Kind::kMessage, false, std::string(1024, 'k')));
  UpstreamAssembler a(UpstreamAssembler::Options{});
  auto p = Feed(a, frames);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("data overflow (len:4195328)"));
}

TEST(UpstreamAssemblerTest, SplitFramesOverAConfiguredLimitAreDataOverflow) {
  auto p = Feed({F(1, 1, Kind::kMessage, false, std::string(500, 'a')),
                 F(1, 1, Kind::kMessage, false, std::string(400, 'b')),
                 F(1, 1, Kind::kMessage, false, std::string(100, 'c')),
                 F(1, 1, Kind::kMessage, true, std::string(29, 'd'))},
                1000);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("data overflow (len:1029)"));
}

TEST(UpstreamAssemblerTest, PacketExactlyAtTheLimitIsAccepted) {
  auto p = Feed({F(1, 1, Kind::kMessage, false, std::string(600, 'a')),
                 F(1, 1, Kind::kMessage, true, std::string(400, 'b'))},
                1000);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)[0].data.size(), 1000u);
}

TEST(UpstreamAssemblerTest, NextIdAfterACompletePacketMayBeAnyHigherMessage) {
  UpstreamAssembler a(UpstreamAssembler::Options{});
  ASSERT_TRUE(Feed(a, {F(3, 4, Kind::kMessage, true, "a")}).ok());
  EXPECT_EQ(a.last(), (PacketId{3, 5}));
  auto p = Feed(a, {F(3, 9, Kind::kMessage, true, "b")});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(a.last(), (PacketId{3, 10}));
}

TEST(UpstreamAssemblerTest, MaxMessageIdDoesNotWrapToAcceptOldIds) {
  // Go wraps the expected message ID to 0 here and would accept (1,5) again.
  UpstreamAssembler a(UpstreamAssembler::Options{});
  ASSERT_TRUE(Feed(a, {F(1, UINT64_MAX, Kind::kMessage, true, "a")}).ok());
  EXPECT_FALSE(Feed(a, {F(1, 5, Kind::kMessage, true, "b")}).ok());
  UpstreamAssembler b(UpstreamAssembler::Options{});
  ASSERT_TRUE(Feed(b, {F(1, UINT64_MAX, Kind::kMessage, true, "a")}).ok());
  EXPECT_TRUE(Feed(b, {F(2, 0, Kind::kMessage, true, "b")}).ok());
}

TEST(UpstreamAssemblerTest, NoIdFollowsTheLargestPossibleId) {
  UpstreamAssembler a(UpstreamAssembler::Options{});
  ASSERT_TRUE(Feed(a, {F(UINT64_MAX, UINT64_MAX, Kind::kClose, true)}).ok());
  auto p = Feed(a, {F(UINT64_MAX, UINT64_MAX, Kind::kClose, true)});
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()), StartsWith("protocol error: id monotonicity violation"));
}

TEST(UpstreamAssemblerTest, InvokeMetadataOverItsLimitFailsAtTheFirstFrameOverIt) {
  UpstreamAssembler a(UpstreamAssembler::Options{});
  const std::string chunk(64 * 1024, 'm');
  for (size_t sent = 0; sent < limits::kMetadataMaxBytes; sent += chunk.size()) {
    ASSERT_TRUE(a.OnFrame(F(1, 1, Kind::kInvokeMetadata, false, chunk).view()).ok());
  }
  EXPECT_EQ(a.partial_bytes(), limits::kMetadataMaxBytes);
  auto p = a.OnFrame(F(1, 1, Kind::kInvokeMetadata, false, "x").view());
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()), StartsWith("protocol error: InvokeMetadata packet <1,1>"));
  EXPECT_EQ(a.partial_bytes(), 0u);
}

TEST(UpstreamAssemblerTest, InvokeNameAtItsLimitIsAcceptedAndOneByteMoreIsNot) {
  auto at = Feed({F(1, 1, Kind::kInvoke, true, std::string(limits::kRpcNameMaxBytes, 'n'))});
  ASSERT_TRUE(at.ok()) << at.status();
  auto over = Feed({F(1, 1, Kind::kInvoke, true, std::string(limits::kRpcNameMaxBytes + 1, 'n'))});
  ASSERT_FALSE(over.ok());
  EXPECT_THAT(std::string(over.status().message()), HasSubstr("for its kind"));
}

TEST(UpstreamAssemblerTest, ErrorsAreSticky) {
  UpstreamAssembler a(UpstreamAssembler::Options{});
  auto first = Feed(a, {F(0, 0, Kind::kInvoke, true)});
  ASSERT_FALSE(first.ok());
  auto again = Feed(a, {F(1, 1, Kind::kInvoke, true, "/a/b")});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status(), first.status());
}

TEST(UpstreamAssemblerTest, UnknownKindsAssembleLikeAnyOther) {
  // Kind validation belongs to the stream layer (docs/protocol.md §4.2): kind 20 with and without control.
  auto p = Feed({F(1, 2, static_cast<Kind>(20), true, "?", true),
                 F(1, 3, static_cast<Kind>(20), true, "?")});
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->size(), 2u);
  EXPECT_TRUE((*p)[0].control);
  EXPECT_FALSE((*p)[1].control);
}

// A lent buffer: the frame's data is appended to the packet's own buffer by the caller and the
// packet takes it back, bytes not copied again.
TEST(UpstreamAssemblerTest, LentBufferBecomesThePacketWithoutACopy) {
  UpstreamAssembler a(UpstreamAssembler::Options{});
  const std::string first(40, 'a');  // longer than a string's inline storage
  const std::string more(60, 'b');
  ASSERT_TRUE(a.OnFrame(F(1, 1, Kind::kMessage, false, first).view()).ok());
  const Frame head = F(1, 1, Kind::kMessage, true).view();
  std::optional<std::string> lent = a.LendBuffer(head, more.size());
  ASSERT_TRUE(lent.has_value());
  EXPECT_EQ(*lent, first);
  EXPECT_EQ(a.partial_bytes(), 0u) << "the lent bytes are the caller's to count";
  lent->append(more);
  const char* at = lent->data();
  Frame frame = head;
  frame.data = absl::string_view(*lent).substr(first.size());
  absl::StatusOr<std::optional<Packet>> p = a.OnFrame(frame, &lent);
  ASSERT_TRUE(p.ok() && p->has_value()) << p.status();
  EXPECT_EQ((*p)->data, first + more);
  EXPECT_EQ((*p)->data.data(), at);
  EXPECT_FALSE(lent.has_value());
  // A new packet gets a new buffer.
  std::optional<std::string> fresh = a.LendBuffer(F(1, 2, Kind::kMessage, true).view(), 2);
  ASSERT_TRUE(fresh.has_value());
  EXPECT_TRUE(fresh->empty());
  fresh->append("xy");
  Frame second = F(1, 2, Kind::kMessage, true).view();
  second.data = *fresh;
  p = a.OnFrame(second, &fresh);
  ASSERT_TRUE(p.ok() && p->has_value());
  EXPECT_EQ((*p)->data, "xy");
}

// Whatever OnFrame would reject (or that would not append to a packet) is not lent: the frame
// takes the ordinary path and fails there as before.
TEST(UpstreamAssemblerTest, NothingIsLentForAFrameOnFrameWouldReject) {
  UpstreamAssembler a(UpstreamAssembler::Options{.packet_max_bytes = limits::kPacketLimitMinBytes});
  ASSERT_TRUE(a.OnFrame(F(2, 2, Kind::kMessage, false, "abc").view()).ok());
  EXPECT_FALSE(a.LendBuffer(F(2, 1, Kind::kMessage, true).view(), 1).has_value()) << "lower ID";
  EXPECT_FALSE(a.LendBuffer(F(2, 2, Kind::kError, true).view(), 1).has_value()) << "kind change";
  EXPECT_FALSE(a.LendBuffer(F(2, 2, Kind::kMessage, true).view(), limits::kPacketLimitMinBytes - 2)
                   .has_value())
      << "over the packet limit";
  EXPECT_FALSE(a.LendBuffer(F(3, 1, Kind::kInvoke, true).view(), limits::kRpcNameMaxBytes + 1)
                   .has_value())
      << "over the kind's limit";
  EXPECT_EQ(a.partial_bytes(), 3u);
}

// A lent buffer whose frame never reached the assembler goes back: the packet keeps its bytes.
TEST(UpstreamAssemblerTest, UnlentBufferGivesThePacketItsBytesBack) {
  UpstreamAssembler a(UpstreamAssembler::Options{});
  ASSERT_TRUE(a.OnFrame(F(1, 1, Kind::kMessage, false, "abc").view()).ok());
  std::optional<std::string> lent = a.LendBuffer(F(1, 1, Kind::kMessage, true).view(), 4);
  ASSERT_TRUE(lent.has_value());
  lent->append("wxyz");
  a.Unlend(*std::move(lent));
  EXPECT_EQ(a.partial_bytes(), 3u);
  absl::StatusOr<std::optional<Packet>> p = a.OnFrame(F(1, 1, Kind::kMessage, true, "!").view());
  ASSERT_TRUE(p.ok() && p->has_value());
  EXPECT_EQ((*p)->data, "abc!");
}

}  // namespace
}  // namespace drpc
