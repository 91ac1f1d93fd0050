#include "impl/trim_throttle.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/sync.h"
#include "sim/simulation.h"
#include "sim/testing/expect.h"
#include "sim/testing/harness.h"

namespace drpc {
namespace {

constexpr Duration kInterval = Duration::Millis(500);

struct CountingMemoryReturn final : MemoryReturn {
  void Trim() override { ++trims; }
  int trims = 0;
};

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

// On the simulator's Env (its MemoryReturn counts the trims): a request inside the interval of
// the last trim leads to exactly one trim at its end, which later requests join.
TEST(MemoryReturnThrottleTest, RequestInsideTheIntervalLeadsToExactlyOneLaterTrim) {
  testing::ExpectOk(sim::RunSeed(
      [](sim::SimContext& ctx) {
        MemoryReturnThrottle& memory = ctx.env().memory();
        memory.Request();
        ctx.Check(ctx.memory().trims() == 1 && !memory.scheduled(), "first trims now");
        memory.Request();
        ctx.Check(ctx.memory().trims() == 1 && memory.scheduled(), "second deferred");
        SleepFor(ctx.env(), Duration::Millis(1));
        memory.Request();  // joins the scheduled trim
        SleepFor(ctx.env(), Duration::Seconds(10));
        ctx.Check(memory.requests() == 3 && ctx.memory().trims() == 2,
                  absl::StrCat(memory.requests(), " requests, ", ctx.memory().trims(), " trims"));
        ctx.Check(!memory.scheduled(), "a trim still scheduled");
        // Long after the last trim: at once again, nothing scheduled.
        memory.Request();
        ctx.Check(ctx.memory().trims() == 3 && !memory.scheduled(), "third trims now");
      },
      1, testing::ScriptedRunOptions()));
}

// A scheduled trim whose Env is gone does nothing when its timer fires.
TEST(MemoryReturnThrottleTest, ScheduledTrimOfADestroyedThrottleDoesNothing) {
  testing::ExpectOk(sim::RunSeed(
      [](sim::SimContext& ctx) {
        CountingMemoryReturn counted;
        {
          auto memory = std::make_shared<MemoryReturnThrottle>(ctx.env().clock(), counted);
          memory->Request();
          memory->Request();
          ctx.Check(memory->scheduled() && counted.trims == 1, "one trim, one scheduled");
        }
        SleepFor(ctx.env(), Duration::Seconds(2));
        ctx.Check(counted.trims == 1, absl::StrCat(counted.trims, " trims"));
      },
      1, testing::ScriptedRunOptions()));
}

}  // namespace
}  // namespace drpc
