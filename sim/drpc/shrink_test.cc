// The shrinker on the toy failures (a lost update, a lock-order deadlock, a deliberate crash) and
// on a planted protocol bug (test.planted.shared_state): the shrunk tape fails the same way, is
// much smaller, drops what the bug does not need, replays exactly, and shrinking is deterministic.
#include "sim/shrink.h"

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "sim/scenario.h"
#include "sim/simulation.h"
#include "sim/tape.h"

namespace drpc::sim {
namespace {

const ScenarioSpec& Spec(absl::string_view name) {
  const ScenarioSpec* spec = ScenarioRegistry::Find(name);
  EXPECT_NE(spec, nullptr) << name;
  return *spec;
}

// The recorded tape of the first failing seed of `spec` with class `want` and at least
// `decisions_min` decisions (a long run is what a shrink is for; which seed fails first moves
// with every change to what the workload draws).
std::optional<Tape> FailingTape(const ScenarioSpec& spec, FailureClass want, uint64_t seeds,
                                size_t decisions_min = 0, const RunOptions& run = {}) {
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    SeededDecisions decisions(seed, /*record=*/true);
    if (RunSimulation(spec.body, decisions, OptionsFor(spec, run)).failure != want) continue;
    if (decisions.tape().decisions.size() < decisions_min) continue;
    Tape tape = decisions.tape();
    tape.header["scenario"] = spec.name;
    tape.header["seed"] = absl::StrCat(seed);
    return tape;
  }
  return std::nullopt;
}

// Replays `tape` and returns the run.
RunResult Replay(const ScenarioSpec& spec, const Tape& tape, const RunOptions& run = {}) {
  TapeDecisions decisions(tape);
  RunResult r = RunSimulation(spec.body, decisions, OptionsFor(spec, run));
  EXPECT_EQ(decisions.divergences(), 0u) << "a shrunk tape is what its run consumed";
  EXPECT_EQ(decisions.exhausted(), 0u);
  return r;
}

ShrinkOptions InProcess(const ScenarioSpec& spec) {
  ShrinkOptions o;
  o.run = OptionsFor(spec);
  o.isolate = false;  // the toys never crash; their few failed runs stay frozen in this process
  return o;
}

TEST(SignatureTest, NumbersDoNotMatterTheInvariantDoes) {
  EXPECT_EQ(SignatureOf(FailureClass::kCorrectness, "lost update: counter is 3, expected 6\nmore"),
            SignatureOf(FailureClass::kCorrectness, "lost update: counter is 4, expected 6"));
  EXPECT_EQ(SignatureOf(FailureClass::kCorrectness, "lost update: counter is 3, expected 6").invariant,
            "lost update: counter is #, expected #");
  EXPECT_NE(SignatureOf(FailureClass::kCorrectness, "lost update: counter is 3"),
            SignatureOf(FailureClass::kLiveness, "lost update: counter is 3"));
  EXPECT_NE(SignatureOf(FailureClass::kCorrectness, "wire oracle: a"),
            SignatureOf(FailureClass::kCorrectness, "outcome oracle: a"));
  // A crash is its check: file and line, whatever the values.
  EXPECT_EQ(SignatureOf(FailureClass::kCrash, "CHECK failed: impl/x.cc:12: a == b (1 vs. 2) why").invariant,
            "CHECK failed: impl/x.cc:12");
  EXPECT_NE(SignatureOf(FailureClass::kCrash, "CHECK failed: impl/x.cc:12: a == b (1 vs. 2)"),
            SignatureOf(FailureClass::kCrash, "CHECK failed: impl/x.cc:13: a == b (1 vs. 2)"));
}

TEST(ShrinkTest, ALostUpdateShrinksToOneReorderingReplayedExactly) {
  const ScenarioSpec& spec = Spec("toy.racy_counter");
  std::optional<Tape> tape = FailingTape(spec, FailureClass::kCorrectness, 100);
  ASSERT_TRUE(tape.has_value());
  const ShrinkResult r = ShrinkTape(spec, *tape, InProcess(spec));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_TRUE(r.minimal) << r.stopped_by;
  EXPECT_EQ(r.signature.invariant, "lost update: counter is #, expected #");
  EXPECT_LE(r.after.decisions, r.before.decisions);
  EXPECT_LE(r.after.nonzero_decisions, 1u) << r.tape.Serialize();  // one fiber switch too many
  EXPECT_EQ(r.tape.header.at("seed"), tape->header.at("seed"));
  EXPECT_EQ(r.tape.header.at("shrunk_from"), absl::StrCat(r.before.decisions));
  const RunResult again = Replay(spec, r.tape);
  EXPECT_EQ(SignatureOf(again.failure, again.message), r.signature);
  EXPECT_EQ(again.trace_hash, r.trace_hash);
}

TEST(ShrinkTest, ALockOrderDeadlockShrinksToTheQuietSchedule) {
  const ScenarioSpec& spec = Spec("toy.lock_order");
  std::optional<Tape> tape = FailingTape(spec, FailureClass::kDeadlock, 100);
  ASSERT_TRUE(tape.has_value());
  const ShrinkResult r = ShrinkTape(spec, *tape, InProcess(spec));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.signature.failure, FailureClass::kDeadlock);
  EXPECT_EQ(r.after.nonzero_decisions, 0u) << r.tape.Serialize();
  EXPECT_EQ(Replay(spec, r.tape).failure, FailureClass::kDeadlock);
}

TEST(ShrinkTest, APassingTapeHasNothingToShrink) {
  const ScenarioSpec& spec = Spec("toy.interleave");
  SeededDecisions decisions(1, /*record=*/true);
  ASSERT_TRUE(RunSimulation(spec.body, decisions, OptionsFor(spec)).ok());
  const ShrinkResult r = ShrinkTape(spec, decisions.tape(), InProcess(spec));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kFailedPrecondition);
}

// A crash ends its process, so crash candidates run in forked children; the seed's tape is
// recorded by the child up to the failed check.
TEST(ShrinkTest, ACrashingSeedShrinksInIsolatedChildren) {
  const ScenarioSpec& spec = Spec("test.crash");
  uint64_t seed = 1;
  while (SeededDecisions(seed).Choose("test.outcome", 4) != 0) ++seed;  // outcome 0 crashes
  ShrinkOptions o;
  o.run = OptionsFor(spec);
  const ShrinkResult r = ShrinkSeed(spec, seed, o);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.signature.failure, FailureClass::kCrash);
  EXPECT_EQ(r.signature.invariant.rfind("CHECK failed: sim/test_scenarios.cc:", 0), 0u)
      << r.signature.invariant;
  ASSERT_EQ(r.tape.decisions.size(), 1u) << r.tape.Serialize();
  EXPECT_EQ(r.tape.decisions[0].site, "test.outcome");
  EXPECT_EQ(r.tape.decisions[0].value, 0u);
  EXPECT_EQ(r.tape.header.at("seed"), absl::StrCat(seed));
}

// The planted race needs two concurrent unary calls and one interleaving; everything else the
// workload drew (callers, RPCs, cancels, faults, closes, scheduling) goes. Under the swarm, as a
// sweep runs it: the first failing seed's policy is whichever the swarm picked for it, and the
// shrinker learns it from the tape's header.
TEST(ShrinkTest, APlantedProtocolRaceShrinksToTheCallsItNeeds) {
  const ScenarioSpec& spec = Spec("test.planted.shared_state");
  std::optional<Tape> tape = FailingTape(spec, FailureClass::kCorrectness, 300, 2000);
  ASSERT_TRUE(tape.has_value()) << "the planted race failed in none of 300 seeds";
  ShrinkOptions o;
  o.run = OptionsFor(spec);
  o.jobs = 2;
  o.max_runs = 700;  // a fixpoint takes about 550 runs
  const ShrinkResult r = ShrinkTape(spec, *tape, o);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.signature.invariant.rfind("outcome oracle: wrong unary reply", 0), 0u)
      << r.signature.invariant;
  std::printf("planted race (seed %s, %s): before %s\n  after %s\n  %llu runs, %.1fs, %s\n",
              tape->header.at("seed").c_str(), tape->header.at("policy").c_str(),
              r.before.ToString().c_str(), r.after.ToString().c_str(),
              static_cast<unsigned long long>(r.runs), r.seconds, r.minimal ? "minimal" : r.stopped_by.c_str());
  EXPECT_EQ(r.tape.header.at("policy"), tape->header.at("policy"));
  EXPECT_LT(r.after.decisions * 10, r.before.decisions);
  EXPECT_LE(r.after.streams, 3u) << "two unary calls make the race";
  EXPECT_LE(r.after.streams, r.before.streams);
  EXPECT_EQ(r.after.faults_struck, 0u);
  EXPECT_LE(r.after.fibers, r.before.fibers);
  const RunResult again = Replay(spec, r.tape);
  EXPECT_EQ(SignatureOf(again.failure, again.message), r.signature);
  EXPECT_EQ(again.trace_hash, r.trace_hash);
}

// Every policy's tape shrinks in that policy's own decision space (PCT's priorities and change
// points, a random walk's picks, FIFO's none) and the shrunk tape replays exactly under the policy
// its header names — also when the shrink is asked under the swarm, as a sweep's first failure is.
class ShrinkUnderPolicyTest : public testing::TestWithParam<const char*> {};

TEST_P(ShrinkUnderPolicyTest, AShrunkTapeReplaysExactlyUnderItsPolicy) {
  const ScenarioSpec& spec = Spec("test.planted.shared_state");
  RunOptions recorded;
  recorded.policy = *PolicySpec::Parse(GetParam());
  std::optional<Tape> tape = FailingTape(spec, FailureClass::kCorrectness, 300, 0, recorded);
  ASSERT_TRUE(tape.has_value()) << "the planted race failed in none of 300 seeds under " << GetParam();
  ASSERT_EQ(tape->header.at("policy"), recorded.policy.ToString());
  ShrinkOptions o;
  o.run = OptionsFor(spec);  // the swarm: the policy comes from the tape's header
  o.jobs = 2;
  o.max_runs = 150;
  const ShrinkResult r = ShrinkTape(spec, *tape, o);
  ASSERT_TRUE(r.status.ok()) << r.status;
  std::printf("%s (seed %s): before %s\n  after %s\n", GetParam(), tape->header.at("seed").c_str(),
              r.before.ToString().c_str(), r.after.ToString().c_str());
  EXPECT_EQ(r.tape.header.at("policy"), recorded.policy.ToString());
  EXPECT_LT(r.after.decisions, r.before.decisions);
  const RunResult again = Replay(spec, r.tape);
  EXPECT_EQ(again.policy, recorded.policy.ToString());
  EXPECT_EQ(SignatureOf(again.failure, again.message), r.signature);
  EXPECT_EQ(again.trace_hash, r.trace_hash);
}

INSTANTIATE_TEST_SUITE_P(Policies, ShrinkUnderPolicyTest,
                         testing::Values("random:ti=30:tw=1ms", "random:ti=0:tw=0", "pct:d=2:ti=30:tw=1ms",
                                         "pct:d=3:ti=300:tw=10ms", "fifo"));

// Same input, same output: also when a run limit ends the search, and whatever `jobs` is.
TEST(ShrinkTest, ShrinkingIsDeterministicUnderARunLimitAndAnyParallelism) {
  const ScenarioSpec& spec = Spec("test.planted.shared_state");
  std::optional<Tape> tape = FailingTape(spec, FailureClass::kCorrectness, 300, 2000);
  ASSERT_TRUE(tape.has_value());
  ShrinkOptions o;
  o.run = OptionsFor(spec);
  o.max_runs = 20;
  o.jobs = 1;
  const ShrinkResult one = ShrinkTape(spec, *tape, o);
  o.jobs = 2;
  const ShrinkResult two = ShrinkTape(spec, *tape, o);
  ASSERT_TRUE(one.status.ok() && two.status.ok());
  EXPECT_EQ(one.stopped_by, "run limit");
  EXPECT_EQ(one.runs, 20u);
  EXPECT_EQ(two.runs, 20u);
  EXPECT_EQ(one.tape.Serialize(), two.tape.Serialize());
  EXPECT_EQ(one.trace_hash, two.trace_hash);
  EXPECT_LT(one.after.decisions, one.before.decisions);
}

}  // namespace
}  // namespace drpc::sim
