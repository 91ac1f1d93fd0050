// Statuses through Error bodies in both formats: codes, texts, details, the fork's refusal.
#include "impl/error_body.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "impl/errors.h"
#include "proto/grpc_status.h"
#include "proto/test_frames.h"

namespace drpc {
namespace {

using ::drpc::testing::Bytes;
using ::drpc::testing::Hex;
using ::testing::HasSubstr;

absl::Status RoundTrip(ErrorFormat f, const absl::Status& s) {
  return StatusFromErrorBody(f, ErrorBodyFor(f, s));
}

TEST(ErrorBodyTest, EveryAbslCodeRoundTripsInBothFormats) {
  for (ErrorFormat f : {ErrorFormat::kUpstream, ErrorFormat::kGrpcStatus}) {
    for (int c = 1; c <= 16; ++c) {
      const absl::Status sent(static_cast<absl::StatusCode>(c), "text " + std::to_string(c));
      const absl::Status got = RoundTrip(f, sent);
      EXPECT_EQ(got.code(), sent.code()) << ErrorFormatName(f) << " " << c;
      EXPECT_EQ(got.message(), sent.message());
      EXPECT_EQ(RemoteErrorCode(got), static_cast<uint64_t>(c));
    }
  }
}

TEST(ErrorBodyTest, ApplicationCodesRoundTripInBothFormats) {
  for (ErrorFormat f : {ErrorFormat::kUpstream, ErrorFormat::kGrpcStatus}) {
    for (uint64_t code : {uint64_t{0}, uint64_t{42}, UINT64_MAX}) {
      const absl::Status got = RoundTrip(f, WithRemoteErrorCode(absl::InternalError("app"), code));
      EXPECT_EQ(RemoteErrorCode(got), code) << ErrorFormatName(f);
      EXPECT_EQ(got.code(), absl::StatusCode::kUnknown);
      EXPECT_EQ(got.message(), "app");
    }
  }
}

TEST(ErrorBodyTest, AForkHandlerErrorIsUnknownWithoutACode) {
  const absl::Status s =
      StatusFromErrorBody(ErrorFormat::kGrpcStatus, Bytes("01 08 02 12 04 62 6f 6f 6d"));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(s.message(), "boom");
  EXPECT_EQ(RemoteErrorCode(s), 0u);
}

TEST(ErrorBodyTest, OurRefusalIsTheForksRefusalAndComesBackResourceExhausted) {
  const absl::Status refused = WithRemoteErrorCode(RefusedError(1), 0);
  const std::string body = ErrorBodyFor(ErrorFormat::kGrpcStatus, refused);
  EXPECT_EQ(Hex(body.substr(0, 5)), "01 08 02 12 42");
  EXPECT_EQ(body.substr(5), RefusalErrorText(1));
  const absl::Status got = StatusFromErrorBody(ErrorFormat::kGrpcStatus, body);
  EXPECT_EQ(got.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(got.message(), RefusalErrorText(1));
}

TEST(ErrorBodyTest, GrpcDetailsTravelWithTheStatus) {
  const std::vector<std::string> details = {EncodeAny("type.googleapis.com/x.A", "1"),
                                            EncodeAny("type.googleapis.com/x.B", "22")};
  const absl::Status got = RoundTrip(ErrorFormat::kGrpcStatus,
                                     WithGrpcDetails(absl::NotFoundError("gone"), details));
  EXPECT_EQ(got.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(GrpcDetails(got), details);
  EXPECT_TRUE(GrpcDetails(RoundTrip(ErrorFormat::kUpstream,
                                    WithGrpcDetails(absl::NotFoundError("gone"), details)))
                  .empty());
}

TEST(ErrorBodyTest, AnUpstreamBodyInTheForkFormatIsAProtocolErrorSayingSo) {
  const absl::Status s =
      StatusFromErrorBody(ErrorFormat::kGrpcStatus, ErrorBodyFor(ErrorFormat::kUpstream,
                                                                 absl::UnknownError("boom")));
  EXPECT_TRUE(IsProtocolError(s));
  EXPECT_THAT(s.message(), HasSubstr("undecodable Error packet: unsupported error version: 0 "
                                     "(it looks like an upstream drpc error body: code=2"));
}

TEST(ErrorBodyTest, AForkBodyReadAsUpstreamCarriesANote) {
  const absl::Status s =
      StatusFromErrorBody(ErrorFormat::kUpstream, Bytes("01 08 02 12 04 62 6f 6f 6d"));
  EXPECT_EQ(RemoteErrorCode(s), 74311670257839983u);  // Go's reading, kept
  EXPECT_THAT(ErrorFormatNote(s).value_or(""), HasSubstr("grpc code=2 message=\"boom\""));
  EXPECT_EQ(ErrorFormatNote(RoundTrip(ErrorFormat::kUpstream, absl::NotFoundError("x"))),
            std::nullopt);
}

}  // namespace
}  // namespace drpc
