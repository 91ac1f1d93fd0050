#include "impl/runtime/signals.h"

#include <signal.h>

#include "gtest/gtest.h"

namespace drpc::runtime {
namespace {

TEST(TerminationSignalsTest, PendingSigtermIsReturnedByWait) {
  absl::StatusOr<std::unique_ptr<TerminationSignals>> sig = TerminationSignals::Install();
  ASSERT_TRUE(sig.ok()) << sig.status();
  // Blocked, so it stays pending for this thread instead of terminating the process.
  ASSERT_EQ(raise(SIGTERM), 0);
  EXPECT_EQ((*sig)->Wait(Duration::Seconds(10)), SIGTERM);
  ASSERT_EQ(raise(SIGINT), 0);
  EXPECT_EQ((*sig)->Wait(Duration::Seconds(10)), SIGINT);
}

TEST(TerminationSignalsTest, WaitTimesOutWithoutASignal) {
  absl::StatusOr<std::unique_ptr<TerminationSignals>> sig = TerminationSignals::Install();
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_EQ((*sig)->Wait(Duration::Millis(5)), 0);
}

}  // namespace
}  // namespace drpc::runtime
