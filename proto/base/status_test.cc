#include "proto/base/status.h"

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "gtest/gtest.h"

namespace drpc {
namespace {

absl::StatusOr<int> ParseDigit(char c) {
  if (c < '0' || c > '9') return absl::InvalidArgumentError(std::string("not a digit: ") + c);
  return c - '0';
}

absl::StatusOr<int> SumDigits(const std::string& s) {
  int total = 0;
  for (char c : s) {
    DRPC_ASSIGN_OR_RETURN(int digit, ParseDigit(c));
    total += digit;
  }
  return total;
}

absl::Status CheckAll(const std::string& s, int* evaluations) {
  for (char c : s) {
    DRPC_RETURN_IF_ERROR((++*evaluations, ParseDigit(c)));
  }
  return absl::OkStatus();
}

TEST(StatusTest, AssignOrReturnPropagatesTheFirstError) {
  EXPECT_EQ(*SumDigits("123"), 6);
  absl::StatusOr<int> bad = SumDigits("1x3");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "not a digit: x");
}

TEST(StatusTest, ReturnIfErrorStopsAtTheFirstErrorAndEvaluatesOnce) {
  int evaluations = 0;
  absl::Status s = CheckAll("12y4", &evaluations);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(evaluations, 3);
}

TEST(StatusTest, AnnotateKeepsCodeAndPayloadAndPrependsContext) {
  absl::Status s = absl::DataLossError("frame truncated");
  s.SetPayload("drpc/offset", absl::Cord("17"));
  absl::Status annotated = Annotate(s, "stream 3");
  EXPECT_EQ(annotated.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(annotated.message(), "stream 3: frame truncated");
  EXPECT_EQ(annotated.GetPayload("drpc/offset"), absl::Cord("17"));
}

TEST(StatusTest, AnnotateLeavesOkAlone) {
  EXPECT_TRUE(Annotate(absl::OkStatus(), "context").ok());
}

TEST(StatusTest, WithMessageReplacesOnlyTheMessage) {
  absl::Status s = WithMessage(absl::CancelledError("x"), "context canceled");
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(s.message(), "context canceled");
}

}  // namespace
}  // namespace drpc
