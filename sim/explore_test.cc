// Bounded-exhaustive exploration (sim/explore.h) on toys: schedule counts, the complete verdict,
// distinct schedules, failures found with replayable tapes.
#include "sim/explore.h"

#include <set>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "impl/sync.h"
#include "sim/scenario.h"
#include "sim/simulation.h"

namespace drpc::sim {
namespace {

// Two fibers that each yield three times; main waits for both.
void TwoYielders(SimContext& ctx) {
  Env& env = ctx.env();
  WaitGroup wg(env);
  for (int f = 0; f < 2; ++f) {
    wg.Add();
    DRPC_CHECK_OK(env.scheduler().Spawn("yielder", [&] {
      for (int i = 0; i < 3; ++i) env.scheduler().Yield();
      wg.Done();
    }));
  }
  wg.Wait();
}

ExploreResult Explore(uint32_t bound, std::set<uint64_t>* hashes = nullptr,
                      uint64_t* fifo_decisions = nullptr) {
  ExploreOptions o;
  o.delay_bound = bound;
  o.on_schedule = [&](const RunResult& r) {
    if (hashes != nullptr) hashes->insert(r.trace_hash);
    if (fifo_decisions != nullptr && *fifo_decisions == 0) *fifo_decisions = r.decisions;
  };
  return ExploreSchedules(TwoYielders, o);
}

TEST(ExploreTest, BoundZeroIsTheOneFifoSchedule) {
  const ExploreResult r = Explore(0);
  EXPECT_EQ(r.schedules, 1u);
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.failures, 0u);
}

// With one delay allowed, each scheduling decision of the FIFO run has exactly one alternative
// of cost 1 (the next fiber, or a timer let in), after which the schedule is FIFO again.
TEST(ExploreTest, BoundOneAddsOneSchedulePerDecisionOfTheFifoRun) {
  uint64_t fifo_decisions = 0;
  const ExploreResult r = Explore(1, nullptr, &fifo_decisions);
  ASSERT_GT(fifo_decisions, 0u);
  EXPECT_EQ(r.schedules, 1 + fifo_decisions);
  EXPECT_TRUE(r.complete);
}

TEST(ExploreTest, EveryScheduleRunsOnceAndHigherBoundsRunMore) {
  uint64_t previous = 0;
  for (uint32_t bound = 0; bound <= 3; ++bound) {
    std::set<uint64_t> hashes;
    const ExploreResult r = Explore(bound, &hashes);
    EXPECT_TRUE(r.complete);
    EXPECT_EQ(hashes.size(), r.schedules) << "bound " << bound << ": a schedule ran twice";
    EXPECT_GT(r.schedules, previous);
    previous = r.schedules;
  }
}

TEST(ExploreTest, AScheduleLimitMakesTheVerdictIncomplete) {
  ExploreOptions o;
  o.delay_bound = 3;
  o.max_schedules = 5;
  const ExploreResult r = ExploreSchedules(TwoYielders, o);
  EXPECT_EQ(r.schedules, 5u);
  EXPECT_FALSE(r.complete);
  EXPECT_EQ(r.stopped_by, "the schedule limit");
}

TEST(ExploreTest, FindsTheLockOrderDeadlockAndItsTapeReplaysIt) {
  const ScenarioSpec& spec = *ScenarioRegistry::Find("toy.lock_order");
  ExploreOptions o;
  o.delay_bound = 2;
  o.run = OptionsFor(spec);
  const ExploreResult r = ExploreSchedules(spec.body, o);
  ASSERT_TRUE(r.first_failure.has_value()) << r.schedules << " schedules, no deadlock";
  EXPECT_EQ(r.first_failure->result.failure, FailureClass::kDeadlock);
  EXPECT_FALSE(r.complete);
  EXPECT_EQ(r.stopped_by, "the first failure");
  const Tape& tape = r.first_failure->tape;
  EXPECT_TRUE(absl::StartsWith(tape.header.at("policy"), "exhaustive:"));
  TapeDecisions replay(tape);
  const RunResult again = RunSimulation(spec.body, replay, OptionsFor(spec));
  EXPECT_EQ(again.failure, FailureClass::kDeadlock);
  EXPECT_EQ(again.trace_hash, r.first_failure->result.trace_hash);
  EXPECT_EQ(replay.divergences(), 0u) << replay.first_divergence();
}

TEST(ExploreTest, KeepsGoingPastFailuresWhenAsked) {
  const ScenarioSpec& spec = *ScenarioRegistry::Find("toy.racy_counter");
  ExploreOptions o;
  o.delay_bound = 1;
  o.stop_at_first_failure = false;
  o.run = OptionsFor(spec);
  const ExploreResult r = ExploreSchedules(spec.body, o);
  EXPECT_TRUE(r.complete);
  EXPECT_GT(r.failures, 0u);
  EXPECT_EQ(r.first_failure->schedule, 1u) << "FIFO loses an update at once";
}

}  // namespace
}  // namespace drpc::sim
