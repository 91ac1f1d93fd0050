// Sweeps: crash isolation (a failed DRPC_CHECK in one seed is that seed's "crash", and the sweep
// goes on), classification, seed order whatever the parallelism, a replay command for every
// failing seed, and the scheduling policy carried into replay commands and tape headers.
#include "sim/sweep.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "sim/scenario.h"
#include "sim/simulation.h"
#include "sim/tape.h"

namespace drpc::sim {
namespace {

const ScenarioSpec& Scenario(absl::string_view name) {
  const ScenarioSpec* spec = ScenarioRegistry::Find(name);
  EXPECT_NE(spec, nullptr) << name;
  return *spec;
}

// test.crash's fate for `seed` is its first decision (see sim/test_scenarios.cc).
FailureClass ExpectedClass(uint64_t seed) {
  SeededDecisions d(seed);
  switch (d.Choose("test.outcome", 4)) {
    case 0:
      return FailureClass::kCrash;
    case 1:
      return FailureClass::kCorrectness;
    default:
      return FailureClass::kNone;
  }
}

std::vector<std::pair<uint64_t, FailureClass>> ExpectedFailures(uint64_t first, uint64_t n) {
  std::vector<std::pair<uint64_t, FailureClass>> out;
  for (uint64_t seed = first; seed < first + n; ++seed) {
    if (ExpectedClass(seed) != FailureClass::kNone) out.emplace_back(seed, ExpectedClass(seed));
  }
  return out;
}

// Every failure of a sweep, kept with details or not, in the order reported.
std::vector<SeedFailure> AllFailures(const SweepResult& r) {
  std::vector<SeedFailure> all = r.failures;
  all.insert(all.end(), r.more_failures.begin(), r.more_failures.end());
  return all;
}

std::vector<std::pair<uint64_t, FailureClass>> SeedsAndClasses(const SweepResult& r) {
  std::vector<std::pair<uint64_t, FailureClass>> out;
  for (const SeedFailure& f : AllFailures(r)) out.emplace_back(f.seed, f.failure);
  return out;
}

constexpr uint64_t kSeeds = 24;

TEST(SweepTest, CrashingSeedsAreClassifiedAsCrashAndTheSweepGoesOn) {
  const std::vector<std::pair<uint64_t, FailureClass>> expected = ExpectedFailures(1, kSeeds);
  uint64_t crashes = 0;
  for (const auto& [seed, c] : expected) crashes += c == FailureClass::kCrash;
  ASSERT_GT(crashes, 1u) << "pick a seed range with several crashes";
  ASSERT_LT(expected.size(), kSeeds) << "and some passing seeds";

  SweepOptions o;
  o.first_seed = 1;
  o.seeds = kSeeds;
  o.jobs = 1;
  o.isolate = true;
  const SweepResult r = Sweep(Scenario("test.crash"), o);
  EXPECT_EQ(r.runs, kSeeds) << "the sweep stopped at a crash";
  EXPECT_EQ(r.by_class.at(FailureClass::kCrash), crashes);
  EXPECT_EQ(r.by_class.at(FailureClass::kNone), kSeeds - expected.size());
  EXPECT_EQ(SeedsAndClasses(r), expected);
  EXPECT_EQ(SweepExitCode(r), 14);
  for (const SeedFailure& f : r.failures) {
    if (f.failure == FailureClass::kCrash) {
      EXPECT_TRUE(absl::StrContains(f.message, "a failed DRPC_CHECK")) << f.message;
    } else {
      EXPECT_EQ(f.message, "deliberate correctness failure (test.outcome 1)");
    }
    EXPECT_EQ(f.replay_command,
              absl::StrCat("bazel run //tools:sim -- --scenario=test.crash --seed=", f.seed));
  }
}

TEST(SweepTest, ResultsAreInSeedOrderWhateverTheJobs) {
  const std::vector<std::pair<uint64_t, FailureClass>> expected = ExpectedFailures(5, kSeeds);
  std::vector<SweepResult> results;
  for (int jobs : {1, 2, 3}) {
    SweepOptions o;
    o.first_seed = 5;
    o.seeds = kSeeds;
    o.jobs = jobs;
    o.isolate = true;
    o.max_failures_kept = 3;  // the rest go to more_failures, still in seed order
    results.push_back(Sweep(Scenario("test.crash"), o));
    const SweepResult& r = results.back();
    EXPECT_EQ(r.runs, kSeeds) << jobs << " jobs";
    EXPECT_EQ(r.failures.size(), 3u) << jobs << " jobs";
    EXPECT_EQ(SeedsAndClasses(r), expected) << jobs << " jobs";
  }
  for (const SweepResult& r : results) {
    EXPECT_EQ(r.by_class, results[0].by_class);
    const std::vector<SeedFailure> a = AllFailures(r), b = AllFailures(results[0]);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].replay_command, b[i].replay_command);
      EXPECT_EQ(a[i].trace_hash, b[i].trace_hash) << "seed " << a[i].seed;
    }
  }
}

TEST(SweepTest, SummaryGivesEveryFailingSeedAReplayCommand) {
  SweepOptions o;
  o.seeds = kSeeds;
  o.jobs = 2;
  o.max_failures_kept = 2;
  const SweepResult r = Sweep(Scenario("test.crash"), o);
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  PrintSummary(Scenario("test.crash"), r, f);
  std::rewind(f);
  std::string text;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), f)) > 0;) text.append(buf, n);
  std::fclose(f);
  const std::vector<std::pair<uint64_t, FailureClass>> expected = ExpectedFailures(1, kSeeds);
  ASSERT_GT(expected.size(), 2u);
  for (const auto& [seed, c] : expected) {
    EXPECT_TRUE(absl::StrContains(
        text, absl::StrCat("replay: bazel run //tools:sim -- --scenario=test.crash --seed=", seed,
                           "\n")))
        << "no replay command for seed " << seed << " in:\n"
        << text;
  }
  EXPECT_FALSE(absl::StrContains(text, "not shown")) << text;
}

TEST(SweepTest, FifoSweepsReplayWithFifoAndTheirTapesRecordThePolicy) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  SweepOptions o;
  o.seeds = 2;
  o.isolate = false;
  o.tape_dir = tmp != nullptr ? tmp : "/tmp";
  o.run.policy = PolicySpec::Fifo();
  const ScenarioSpec& spec = Scenario("toy.racy_counter");  // FIFO loses an update every time
  const SweepResult r = Sweep(spec, o);
  ASSERT_EQ(r.failures.size(), 2u);
  for (const SeedFailure& f : r.failures) {
    EXPECT_EQ(f.replay_command,
              absl::StrCat("bazel run //tools:sim -- --scenario=toy.racy_counter --seed=", f.seed,
                           " --policy=fifo"));
    absl::StatusOr<Tape> tape = Tape::LoadFromFile(f.tape_path);
    ASSERT_TRUE(tape.ok()) << tape.status();
    EXPECT_EQ(tape->header["policy"], "fifo");
    // The tape alone (no --policy) reproduces the failure: the header restores the policy.
    RunOptions replay_options = OptionsFor(spec);
    ASSERT_TRUE(ApplyTapeHeader(*tape, replay_options).ok());
    EXPECT_EQ(replay_options.policy, PolicySpec::Fifo());
    TapeDecisions decisions(*std::move(tape));
    const RunResult replayed = RunSimulation(spec.body, decisions, replay_options);
    EXPECT_EQ(replayed.failure, FailureClass::kCorrectness);
    EXPECT_EQ(replayed.trace_hash, f.trace_hash);
    EXPECT_EQ(decisions.exhausted(), 0u);
  }
  // The swarm (the default) is reproduced by the seed alone; its tapes name the policy the seed
  // got.
  o.run.policy = PolicySpec::Swarm();
  EXPECT_EQ(ReplayCommand(o, "toy.racy_counter", 7),
            "bazel run //tools:sim -- --scenario=toy.racy_counter --seed=7");
  Tape swarm_tape;
  SetTapeHeader(swarm_tape, "x", 7, RunOptions{});
  EXPECT_EQ(swarm_tape.header["policy"], ResolvePolicy(PolicySpec::Swarm(), 7).ToString());
  o.run.policy = PolicySpec::Pct(2);
  EXPECT_EQ(ReplayCommand(o, "toy.racy_counter", 7),
            "bazel run //tools:sim -- --scenario=toy.racy_counter --seed=7 "
            "--policy=pct:d=2:ti=30:tw=1ms");
  Tape bad;
  bad.header["policy"] = "pct:d=0";
  RunOptions ignored;
  EXPECT_FALSE(ApplyTapeHeader(bad, ignored).ok());
}

TEST(SweepTest, ASweepThatNeverReachesAListedSituationIsBlind) {
  const ScenarioSpec& spec = Scenario("test.blind");
  const SweepResult r = Sweep(spec, SweepOptions{.seeds = 5, .isolate = false});
  EXPECT_EQ(r.failed(), 0u);
  EXPECT_EQ(r.reached.at("test.often"), 5u);
  EXPECT_EQ(r.unreached, std::vector<std::string>{"test.never"});
  EXPECT_EQ(SweepExitCode(r), kBlindExitCode);
}

TEST(SweepTest, CoverageIsNotJudgedOnAShardOfTheSeeds) {
  const ScenarioSpec& spec = Scenario("test.blind");
  const SweepResult r =
      Sweep(spec, SweepOptions{.seeds = 6, .shard_index = 1, .shard_count = 2, .isolate = false});
  EXPECT_TRUE(r.unreached.empty());
  EXPECT_EQ(SweepExitCode(r), 0);
}

}  // namespace
}  // namespace drpc::sim
