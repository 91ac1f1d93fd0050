#include "proto/base/check.h"

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace drpc {
namespace {

TEST(CheckDeathTest, FailedCheckReportsFileLineConditionAndDetail) {
  const int frames = 3;
  EXPECT_DEATH(DRPC_CHECK(frames == 4) << "stream " << 7,
               "CHECK failed: .*check_test.cc:[0-9]+: frames == 4 stream 7");
}

TEST(CheckDeathTest, FailedComparisonPrintsBothValues) {
  const int have = 5;
  const int limit = 4;
  EXPECT_DEATH(DRPC_CHECK_LE(have, limit), "have <= limit \\(5 vs. 4\\)");
}

TEST(CheckDeathTest, FailedCheckOkPrintsTheStatus) {
  EXPECT_DEATH(DRPC_CHECK_OK(absl::InvalidArgumentError("bad varint")),
               "is OK \\(INVALID_ARGUMENT: bad varint\\)");
}

// The cold form reports like DRPC_CHECK: file, line, condition, then what `detail` writes.
void FailColdCheck(int frames) {
  DRPC_CHECK_COLD(frames == 4, [&](std::ostream& os) { os << "stream " << 7 << ", " << frames; });
}

TEST(CheckDeathTest, FailedColdCheckReportsFileLineConditionAndDetail) {
  EXPECT_DEATH(FailColdCheck(3), "CHECK failed: .*check_test.cc:[0-9]+: frames == 4 stream 7, 3");
}

TEST(CheckTest, PassingColdCheckEvaluatesItsConditionOnceAndNeverItsDetail) {
  int calls = 0;
  bool detail_ran = false;
  DRPC_CHECK_COLD(++calls == 1, [&](std::ostream&) { detail_ran = true; });
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(detail_ran);
}

TEST(CheckTest, PassingChecksEvaluateOperandsExactlyOnce) {
  int calls = 0;
  auto next = [&calls] { return ++calls; };
  DRPC_CHECK(next() == 1);
  DRPC_CHECK_EQ(next(), 2);
  DRPC_CHECK_OK([&calls] { ++calls; return absl::OkStatus(); }());
  EXPECT_EQ(calls, 3);
}

TEST(CheckTest, ChecksComposeWithIfElse) {
  bool took_else = false;
  if (false)
    DRPC_CHECK_EQ(1, 1);
  else
    took_else = true;
  EXPECT_TRUE(took_else);
}

#ifdef NDEBUG
TEST(CheckTest, DcheckDoesNotEvaluateItsConditionInOptimizedBuilds) {
  int calls = 0;
  DRPC_DCHECK([&calls] { ++calls; return false; }());
  EXPECT_EQ(calls, 0);
}
#else
TEST(CheckDeathTest, DcheckFailsInDebugBuilds) {
  EXPECT_DEATH(DRPC_DCHECK(1 + 1 == 3), "CHECK failed: .*1 \\+ 1 == 3");
}
#endif

void WriteMarkerAndReturn(absl::string_view message) {
  std::fprintf(stderr, "HOOK SAW [%.*s]\n", static_cast<int>(message.size()), message.data());
}

TEST(CheckDeathTest, FailureHookSeesTheMessageBeforeAbort) {
  EXPECT_DEATH(
      {
        SetCheckFailureHook(&WriteMarkerAndReturn);
        DRPC_CHECK(false) << "seed 42";
      },
      "HOOK SAW \\[CHECK failed: .*false seed 42\\]");
}

}  // namespace
}  // namespace drpc
