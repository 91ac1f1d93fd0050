#include "impl/trim_throttle.h"

#include "gtest/gtest.h"

namespace drpc {
namespace {

constexpr Duration kInterval = Duration::Millis(500);

Instant At(int64_t ms) { return Instant::FromNanos(ms * 1'000'000); }

TEST(TrimThrottleTest, FirstRequestTrimsAtOnce) {
  TrimThrottle t(kInterval);
  EXPECT_EQ(t.Request(At(10)).action, TrimThrottle::Action::kTrimNow);
  EXPECT_EQ(t.trims(), 1u);
  EXPECT_FALSE(t.scheduled());
}

TEST(TrimThrottleTest, RequestInsideTheIntervalSchedulesOneTrimAtItsEnd) {
  TrimThrottle t(kInterval);
  ASSERT_EQ(t.Request(At(100)).action, TrimThrottle::Action::kTrimNow);
  const TrimThrottle::Decision d = t.Request(At(300));
  EXPECT_EQ(d.action, TrimThrottle::Action::kSchedule);
  EXPECT_EQ(d.trim_at, At(600));
  // Later requests before it runs join it: never more than one pending.
  EXPECT_EQ(t.Request(At(400)).action, TrimThrottle::Action::kJoin);
  EXPECT_EQ(t.Request(At(599)).action, TrimThrottle::Action::kJoin);
  EXPECT_EQ(t.deferred(), 1u);
  EXPECT_EQ(t.trims(), 1u);
  t.ScheduledTrimDue(At(600));
  EXPECT_EQ(t.trims(), 2u);
  EXPECT_FALSE(t.scheduled());
  // The scheduled trim starts a new interval.
  EXPECT_EQ(t.Request(At(900)).action, TrimThrottle::Action::kSchedule);
  EXPECT_EQ(t.Request(At(900)).action, TrimThrottle::Action::kJoin);
  t.ScheduledTrimDue(At(1100));
  EXPECT_EQ(t.Request(At(1600)).action, TrimThrottle::Action::kTrimNow);
  EXPECT_EQ(t.trims(), 4u);
  EXPECT_EQ(t.requests(), 7u);
}

TEST(TrimThrottleTest, RequestAfterTheIntervalTrimsAtOnce) {
  TrimThrottle t(kInterval);
  ASSERT_EQ(t.Request(At(0)).action, TrimThrottle::Action::kTrimNow);
  EXPECT_EQ(t.Request(At(500)).action, TrimThrottle::Action::kTrimNow);
  EXPECT_EQ(t.deferred(), 0u);
}

TEST(TrimThrottleTest, LostScheduledTrimLetsTheNextRequestScheduleAgain) {
  TrimThrottle t(kInterval);
  ASSERT_EQ(t.Request(At(0)).action, TrimThrottle::Action::kTrimNow);
  ASSERT_EQ(t.Request(At(100)).action, TrimThrottle::Action::kSchedule);
  t.ScheduledTrimLost();
  EXPECT_EQ(t.Request(At(200)).action, TrimThrottle::Action::kSchedule);
  EXPECT_EQ(t.trims(), 1u);
}

}  // namespace
}  // namespace drpc
