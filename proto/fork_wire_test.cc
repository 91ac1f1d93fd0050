// Golden bytes of the cockroachdb/drpc mux fork (§11.7, §16.3, §17.3, §18): Error
// bodies, the library's own Error packets, WindowUpdate frames, built and parsed by proto/.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/error_codec.h"
#include "proto/frame.h"
#include "proto/limits.h"
#include "proto/test_frames.h"
#include "proto/varint.h"
#include "proto/window.h"

namespace drpc {
namespace {

using ::drpc::testing::Bytes;
using ::drpc::testing::Hex;
using ::testing::HasSubstr;

std::string ErrorFrame(PacketId id, bool control, const RemoteError& error) {
  std::string wire;
  AppendFrame(wire, Frame{.id = id, .kind = Kind::kError, .done = true, .control = control,
                          .data = EncodeErrorBody(ErrorFormat::kGrpcStatus, error)});
  return wire;
}

Frame WindowFrame(uint64_t stream, uint64_t message, bool control, bool done,
                  absl::string_view body) {
  return Frame{.id = {stream, message}, .kind = Kind::kWindowUpdate, .done = done,
               .control = control, .data = body};
}

TEST(ForkWireTest, HandlerErrorBoomMatchesTheCapture) {
  // §16.3: a Go fork server's Fail handler, s2c (captured).
  EXPECT_EQ(Hex(ErrorFrame({1, 1}, false, {.code = 0, .text = "boom"})),
            "07 01 01 09 01 08 02 12 04 62 6f 6f 6d");
}

TEST(ForkWireTest, CapturedForkErrorDecodesInTheForkFormatOnly) {
  const std::string body = Bytes("01 08 02 12 04 62 6f 6f 6d");
  absl::StatusOr<RemoteError> fork = DecodeErrorBody(ErrorFormat::kGrpcStatus, body);
  ASSERT_TRUE(fork.ok()) << fork.status();
  EXPECT_EQ(*fork, (RemoteError{0, "boom"}));
  // What upstream decoding makes of it (§16.1 and §16.3: "code=74311670257839983 m") — and
  // the note that says what it really is.
  absl::StatusOr<RemoteError> upstream = DecodeErrorBody(ErrorFormat::kUpstream, body);
  ASSERT_TRUE(upstream.ok());
  EXPECT_EQ(*upstream, (RemoteError{74311670257839983u, "m"}));
  EXPECT_THAT(OtherErrorFormatNote(ErrorFormat::kUpstream, body).value_or(""),
              HasSubstr("gRPC-status error body (the mux fork's format): grpc code=2 "
                        "message=\"boom\""));
}

TEST(ForkWireTest, UpstreamBodyReadInTheForkFormatIsAClearError) {
  // What the fork reports for drpc-cpp's upstream-format Fail reply (§16.1).
  absl::StatusOr<RemoteError> r =
      DecodeErrorBody(ErrorFormat::kGrpcStatus, EncodeError(42, "boom"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "unsupported error version: 0 (it looks like an upstream drpc error body: code=42 "
            "text=\"boom\")");
  EXPECT_EQ(DecodeErrorBody(ErrorFormat::kGrpcStatus, "").status().message(), "empty error data");
  EXPECT_EQ(DecodeErrorBody(ErrorFormat::kGrpcStatus, Bytes("07")).status().message(),
            "unsupported error version: 7");
  EXPECT_THAT(DecodeErrorBody(ErrorFormat::kGrpcStatus, Bytes("01 12 05 61")).status().message(),
              HasSubstr("failed to unmarshal error: protobuf: field 2 at offset 0 has length 5"));
}

TEST(ForkWireTest, MaxStreamsRefusalMatchesTheFork) {
  // §16.3 / §18: N = 1, stream 5, message ID 1, no control bit, gRPC Unknown.
  const std::string text = RefusalErrorText(1);
  EXPECT_EQ(text, "too many concurrent streams: refused: at most 1 concurrent streams");
  EXPECT_EQ(text.size(), 66u);
  const std::string wire = ErrorFrame({5, 1}, false, {.code = 0, .text = text});
  EXPECT_EQ(wire.size(), 75u);
  EXPECT_EQ(Hex(wire.substr(0, 9)), "07 05 01 47 01 08 02 12 42");
  EXPECT_EQ(wire.substr(9), text);
}

TEST(ForkWireTest, OversizeAbortiveErrorMatchesTheFork) {
  // §16.3: default 64 MiB limit, the peer's stream 1, our next message ID 4, control bit.
  const std::string text = MessageTooLargeErrorText(64 * limits::kMiB);
  EXPECT_EQ(text, "message too large: message size exceeds maximum of 67108864 bytes");
  const std::string wire = ErrorFrame({1, 4}, true, {.code = 8, .text = text});
  EXPECT_EQ(Hex(wire.substr(0, 9)), "87 01 04 46 01 08 08 12 41");
  EXPECT_EQ(wire.substr(9), text);
}

TEST(ForkWireTest, ReceiveCapAbortiveErrorMatchesTheForkText) {
  // §16.2 / §17.4: cap = StreamWindow + MaxMessageSize = 66 MiB with the defaults.
  const std::string text = RecvQueueCapErrorText(66 * limits::kMiB);
  EXPECT_EQ(text, "receive queue cap exceeded: receive queue exceeded its 69206016-byte cap");
  EXPECT_EQ(Hex(ErrorFrame({3, 2}, true, {.code = 8, .text = text}).substr(0, 9)),
            "87 03 02 4d 01 08 08 12 48");
}

TEST(ForkWireTest, WindowUpdateFramesMatchTheSpecAndTheCapture) {
  std::string wire;
  AppendWindowUpdateFrame(wire, 1, 128 * limits::kKiB);
  EXPECT_EQ(Hex(wire), "91 01 00 03 80 80 08");
  wire.clear();
  AppendWindowUpdateFrame(wire, 3, 512 * limits::kKiB);
  EXPECT_EQ(Hex(wire), "91 03 00 03 80 80 20");
  wire.clear();
  AppendWindowUpdateFrame(wire, 1, 3 * limits::kMiB);  // §17.3, the Go peer's grant
  EXPECT_EQ(Hex(wire), "91 01 00 04 80 80 c0 01");
  absl::StatusOr<std::vector<testing::OwnedFrame>> frames = testing::ParseAllFrames(wire);
  ASSERT_TRUE(frames.ok());
  EXPECT_EQ(*ParseForkWindowUpdate((*frames)[0].view()), 3 * limits::kMiB);
}

TEST(ForkWireTest, ForkWindowUpdateAcceptsAnyPositiveDeltaAndMessageId) {
  std::string huge;
  AppendVarint(huge, UINT64_MAX);
  EXPECT_EQ(*ParseForkWindowUpdate(WindowFrame(1, 0, true, true, huge)), UINT64_MAX);
  EXPECT_EQ(*DecodeWindowUpdate(huge), UINT64_MAX);
  EXPECT_EQ(*ParseForkWindowUpdate(WindowFrame(2, 77, true, true, Bytes("01"))), 1u);
}

TEST(ForkWireTest, NonConformingWindowUpdatesSayWhyTheyAreDropped) {
  const auto error = [](const Frame& f) {
    absl::StatusOr<uint64_t> d = ParseForkWindowUpdate(f);
    return d.ok() ? std::string("accepted") : std::string(d.status().message());
  };
  EXPECT_THAT(error(WindowFrame(1, 0, false, true, Bytes("01"))), HasSubstr("control bit"));
  EXPECT_THAT(error(WindowFrame(1, 0, true, false, Bytes("01"))), HasSubstr("done bit"));
  EXPECT_THAT(error(WindowFrame(0, 0, true, true, Bytes("01"))), HasSubstr("stream 0"));
  EXPECT_THAT(error(WindowFrame(1, 0, true, true, Bytes("00"))), HasSubstr("zero delta"));
  EXPECT_THAT(error(WindowFrame(1, 0, true, true, Bytes("01 00"))), HasSubstr("trailing"));
  EXPECT_THAT(error(WindowFrame(1, 0, true, true, "")), HasSubstr("empty body"));
  Frame message = WindowFrame(1, 0, true, true, Bytes("01"));
  message.kind = Kind::kMessage;
  EXPECT_THAT(error(message), HasSubstr("kind"));
}

}  // namespace
}  // namespace drpc
