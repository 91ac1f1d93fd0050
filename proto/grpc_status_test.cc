// google.rpc.Status / google.protobuf.Any codec and the DRPC <-> gRPC code mapping.
#include "proto/grpc_status.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/limits.h"
#include "proto/protobuf_wire.h"
#include "proto/test_frames.h"

namespace drpc {
namespace {

using ::drpc::testing::Bytes;
using ::drpc::testing::Hex;
using ::testing::HasSubstr;

std::string ErrorOf(absl::string_view bytes) {
  absl::StatusOr<GrpcStatus> s = DecodeGrpcStatus(bytes);
  EXPECT_FALSE(s.ok());
  return s.ok() ? "" : std::string(s.status().message());
}

TEST(GrpcStatusTest, EncodesLikeGoProto3) {
  EXPECT_EQ(Hex(EncodeGrpcStatus({.code = 2, .message = "boom"})), "08 02 12 04 62 6f 6f 6d");
  EXPECT_EQ(EncodeGrpcStatus({}), "");  // zero code, empty message: nothing
  // Negative int32 codes are sign-extended to ten bytes.
  EXPECT_EQ(Hex(EncodeGrpcStatus({.code = -1})), "08 ff ff ff ff ff ff ff ff ff 01");
}

TEST(GrpcStatusTest, DetailsAreCarriedThroughByteForByte) {
  const std::string any = EncodeAny("type.googleapis.com/x.Y", Bytes("08 07"));
  const GrpcStatus s{.code = 5, .message = "m", .details = {any, EncodeAny("", "")}};
  absl::StatusOr<GrpcStatus> back = DecodeGrpcStatus(EncodeGrpcStatus(s));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, s);
}

TEST(GrpcStatusTest, UnknownFieldsAndMismatchedWireTypesAreSkipped) {
  // Field 9 (varint), field 1 as length-delimited: both unknown to Go's decoder.
  absl::StatusOr<GrpcStatus> s = DecodeGrpcStatus(Bytes("48 01 0a 01 00 08 05 12 01 61"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->code, 5);
  EXPECT_EQ(s->message, "a");
}

TEST(GrpcStatusTest, LastValueOfARepeatedScalarWins) {
  absl::StatusOr<GrpcStatus> s = DecodeGrpcStatus(Bytes("08 05 12 01 61 08 07 12 01 62"));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->code, 7);
  EXPECT_EQ(s->message, "b");
}

TEST(GrpcStatusTest, InvalidUtf8MessageIsRejectedAsGoDoes) {
  EXPECT_THAT(ErrorOf(Bytes("12 01 ff")), HasSubstr("contains invalid UTF-8"));
}

TEST(GrpcStatusTest, InvalidUtf8MessageIsRepairedWhenEncoding) {
  absl::StatusOr<GrpcStatus> s =
      DecodeGrpcStatus(EncodeGrpcStatus({.code = 2, .message = "a\xff"}));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->message, "a\xEF\xBF\xBD");
}

TEST(GrpcStatusTest, MalformedDetailIsRejected) {
  EXPECT_THAT(ErrorOf(Bytes("1a 02 0a 05")), HasSubstr("google.rpc.Status detail 0"));
  EXPECT_THAT(ErrorOf(Bytes("1a 03 0a 01 ff")), HasSubstr("type_url at offset 0 contains invalid"));
}

TEST(GrpcStatusTest, TooManyDetailsAreRejected) {
  std::string bytes;
  for (size_t i = 0; i <= limits::kErrorDetailsMaxCount; ++i) bytes += Bytes("1a 00");
  absl::StatusOr<GrpcStatus> s = DecodeGrpcStatus(bytes);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kResourceExhausted);
  bytes.resize(bytes.size() - 2);
  EXPECT_TRUE(DecodeGrpcStatus(bytes).ok());
}

TEST(GrpcStatusTest, TruncatedStatusIsRejected) {
  EXPECT_THAT(ErrorOf(Bytes("08 02 12 04 62 6f")), HasSubstr("only 2 bytes follow"));
}

TEST(GrpcStatusTest, DrpcCodeDetailRoundTrips) {
  for (uint64_t code : {uint64_t{0}, uint64_t{2}, uint64_t{42}, UINT64_MAX}) {
    const std::string d = EncodeDrpcCodeDetail(code);
    EXPECT_LE(d.size(), limits::kErrorCodeDetailMaxBytes);
    EXPECT_EQ(DecodeDrpcCodeDetail(d), code);
  }
  EXPECT_EQ(Hex(EncodeDrpcCodeDetail(42)).substr(0, 5), "0a 22");
  EXPECT_EQ(DecodeDrpcCodeDetail(EncodeAny("type.googleapis.com/other.Type", "")), std::nullopt);
  EXPECT_EQ(DecodeDrpcCodeDetail(EncodeAny(kDrpcCodeTypeUrl, Bytes("0a 00"))), std::nullopt);
}

TEST(GrpcStatusTest, CodeMappingRoundTripsEveryDrpcCode) {
  for (uint64_t code : {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{5}, uint64_t{16},
                        uint64_t{17}, uint64_t{42}, UINT64_MAX}) {
    const int32_t grpc = GrpcCodeForDrpcCode(code);
    EXPECT_GE(grpc, 1);
    EXPECT_LE(grpc, kGrpcCodeMax);
    // Without the detail the code survives exactly when no detail is needed.
    EXPECT_EQ(DrpcCodeForGrpcCode(grpc) == code, !DrpcCodeNeedsDetail(code)) << code;
  }
}

TEST(GrpcStatusTest, GrpcCodesMapToDrpcCodes) {
  EXPECT_EQ(DrpcCodeForGrpcCode(kGrpcUnknown), 0u);  // a Go fork handler's plain error
  EXPECT_EQ(DrpcCodeForGrpcCode(8), 8u);             // ResourceExhausted
  EXPECT_EQ(DrpcCodeForGrpcCode(0), 0u);
  EXPECT_EQ(DrpcCodeForGrpcCode(-3), 0u);
  EXPECT_EQ(DrpcCodeForGrpcCode(99), 99u);
}

}  // namespace
}  // namespace drpc
