// Error packet bodies (docs/protocol.md §6; drpcwire TestError §12.1; E13).
#include "proto/error_codec.h"

#include <string>

#include "gtest/gtest.h"
#include "proto/grpc_status.h"
#include "proto/limits.h"
#include "proto/test_frames.h"

namespace drpc {
namespace {

using ::drpc::testing::Bytes;
using ::drpc::testing::Hex;

TEST(ErrorCodecTest, CodeIsEightBytesBigEndianFollowedByText) {
  EXPECT_EQ(Hex(EncodeError(42, "boom")), "00 00 00 00 00 00 00 2a 62 6f 6f 6d");
  EXPECT_EQ(Hex(EncodeError(0x0102030405060708u, "")), "01 02 03 04 05 06 07 08");
}

TEST(ErrorCodecTest, CodeAndTextSurviveARoundTrip) {
  EXPECT_EQ(DecodeError(EncodeError(5, "test")), (RemoteError{5, "test"}));
  EXPECT_EQ(DecodeError(EncodeError(UINT64_MAX, "x")), (RemoteError{UINT64_MAX, "x"}));
}

TEST(ErrorCodecTest, ShortBodyBecomesCodeZeroWithGosNote) {
  EXPECT_EQ(DecodeError("abc"), (RemoteError{0, "abc (drpcwire note: invalid error data)"}));
  EXPECT_EQ(DecodeError(""), (RemoteError{0, " (drpcwire note: invalid error data)"}));
  EXPECT_EQ(DecodeError(std::string(7, 'x')).code, 0u);
}

TEST(ErrorCodecTest, ExactlyEightBytesIsACodeWithEmptyText) {
  EXPECT_EQ(DecodeError(Bytes("00 00 00 00 00 00 00 0c")), (RemoteError{12, ""}));
}

TEST(ErrorCodecTest, UnknownRpcErrorDecodesWithCodeZero) {
  const std::string text = "protocol error: unknown rpc: \"/pkg.Svc/Nope\"";
  EXPECT_EQ(DecodeError(Bytes("00 00 00 00 00 00 00 00") + text), (RemoteError{0, text}));
}

TEST(ErrorCodecTest, LongTextIsTruncatedToTheLimit) {
  const std::string text(limits::kErrorTextMaxBytes + 100, 'e');
  const std::string body = EncodeError(3, text);
  EXPECT_EQ(body.size(), limits::kErrorCodeBytes + limits::kErrorTextMaxBytes);
  EXPECT_EQ(DecodeError(body).text, text.substr(0, limits::kErrorTextMaxBytes));
}

TEST(ErrorCodecTest, TruncationNeverSplitsAUtf8Sequence) {
  // A 3-byte euro sign straddles the limit: it is dropped whole.
  std::string text(limits::kErrorTextMaxBytes - 1, 'e');
  text += "\xE2\x82\xAC";
  const std::string sent = DecodeError(EncodeError(1, text)).text;
  EXPECT_EQ(sent, std::string(limits::kErrorTextMaxBytes - 1, 'e'));
}

}  // namespace
}  // namespace drpc

namespace drpc {
namespace {

using ::drpc::testing::Bytes;
using ::drpc::testing::Hex;

RemoteError RoundTrip(const RemoteError& e) {
  absl::StatusOr<RemoteError> back =
      DecodeErrorBody(ErrorFormat::kGrpcStatus, EncodeErrorBody(ErrorFormat::kGrpcStatus, e));
  EXPECT_TRUE(back.ok()) << back.status();
  return back.ok() ? *back : RemoteError{};
}

TEST(GrpcStatusErrorBodyTest, FormatNamesRoundTrip) {
  for (ErrorFormat f : {ErrorFormat::kUpstream, ErrorFormat::kGrpcStatus}) {
    EXPECT_EQ(ErrorFormatFromName(ErrorFormatName(f)), f);
  }
  EXPECT_EQ(ErrorFormatFromName("fork"), std::nullopt);
}

TEST(GrpcStatusErrorBodyTest, UpstreamFormatIsTheClassicBody) {
  EXPECT_EQ(EncodeErrorBody(ErrorFormat::kUpstream, {42, "boom", {"dropped"}}),
            EncodeError(42, "boom"));
  EXPECT_EQ(*DecodeErrorBody(ErrorFormat::kUpstream, "abc"), DecodeError("abc"));
}

TEST(GrpcStatusErrorBodyTest, EveryDrpcCodeRoundTrips) {
  for (uint64_t code : {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{12}, uint64_t{16},
                        uint64_t{17}, uint64_t{42}, UINT64_MAX}) {
    EXPECT_EQ(RoundTrip({code, "t"}), (RemoteError{code, "t"})) << code;
  }
}

TEST(GrpcStatusErrorBodyTest, CodesGrpcCanCarryNeedNoDetail) {
  EXPECT_EQ(Hex(EncodeErrorBody(ErrorFormat::kGrpcStatus, {5, "x"})), "01 08 05 12 01 78");
  EXPECT_EQ(Hex(EncodeErrorBody(ErrorFormat::kGrpcStatus, {0, ""})), "01 08 02");
  // 42 travels as Unknown plus the drpc.ErrorCode detail.
  EXPECT_EQ(Hex(EncodeErrorBody(ErrorFormat::kGrpcStatus, {42, ""})).substr(0, 17),
            "01 08 02 1a 28 0a");
}

TEST(GrpcStatusErrorBodyTest, DetailsAreCarriedThrough) {
  const std::string a = EncodeAny("type.googleapis.com/x.A", "1");
  const std::string b = EncodeAny("type.googleapis.com/x.B", "");
  EXPECT_EQ(RoundTrip({42, "t", {a, b}}), (RemoteError{42, "t", {a, b}}));
  EXPECT_EQ(RoundTrip({3, "t", {a}}), (RemoteError{3, "t", {a}}));
}

TEST(GrpcStatusErrorBodyTest, DetailsAGoPeerWouldRejectAreNotSent) {
  const std::string good = EncodeAny("type.googleapis.com/x.A", "1");
  EXPECT_EQ(RoundTrip({3, "t", {Bytes("0a 05"), good, EncodeDrpcCodeDetail(9)}}),
            (RemoteError{3, "t", {good}}));
}

TEST(GrpcStatusErrorBodyTest, DetailsBeyondTheBudgetAreDropped) {
  const std::string big = EncodeAny("u", std::string(limits::kErrorDetailsMaxBytes - 100, 'v'));
  const std::string small = EncodeAny("u", "s");
  EXPECT_EQ(RoundTrip({1, "t", {big, big, small}}), (RemoteError{1, "t", {big, small}}));
  const std::vector<std::string> many(limits::kErrorDetailsMaxCount + 5, small);
  const RemoteError back = RoundTrip({42, "t", many});
  EXPECT_EQ(back.code, 42u);
  EXPECT_EQ(back.details.size(), limits::kErrorDetailsMaxCount - 1);
}

TEST(GrpcStatusErrorBodyTest, LongOrInvalidTextIsTruncatedAndRepaired) {
  const RemoteError back =
      RoundTrip({1, std::string(limits::kErrorTextMaxBytes + 9, 'e') + "\xff"});
  EXPECT_EQ(back.text, std::string(limits::kErrorTextMaxBytes, 'e'));
  EXPECT_EQ(RoundTrip({1, "bad \xff"}).text, "bad \xEF\xBF\xBD");
}

// Next to Unknown every drpc.ErrorCode detail leaves the list, the last one names the code, and
// the other details keep their order.
TEST(GrpcStatusErrorBodyTest, CodeDetailsNextToUnknownLeaveTheListAndTheLastNamesTheCode) {
  const std::string a = EncodeAny("type.googleapis.com/x.A", "1");
  const std::string b = EncodeAny("type.googleapis.com/x.B", "2");
  GrpcStatus s{.code = kGrpcUnknown,
               .message = "m",
               .details = {a, EncodeDrpcCodeDetail(42), b, EncodeDrpcCodeDetail(43)}};
  const std::string body = "\x01" + EncodeGrpcStatus(s);
  EXPECT_EQ(*DecodeErrorBody(ErrorFormat::kGrpcStatus, body), (RemoteError{43, "m", {a, b}}));
}

TEST(GrpcStatusErrorBodyTest, ForeignCodeDetailNextToAKnownCodeStaysOpaque) {
  GrpcStatus s{.code = 5, .message = "m", .details = {EncodeDrpcCodeDetail(42)}};
  const std::string body = "\x01" + EncodeGrpcStatus(s);
  EXPECT_EQ(*DecodeErrorBody(ErrorFormat::kGrpcStatus, body), (RemoteError{5, "m", s.details}));
}

}  // namespace
}  // namespace drpc
