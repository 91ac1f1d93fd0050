// Shard reports: what a shard prints reads back the same; shards add up to the whole sweep;
// missing or inconsistent shards, failures and unreached situations decide the exit code.
#include "sim/world/shard_summary.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

namespace drpc::sim {
namespace {

constexpr Situation kRare("test.rare");

ScenarioSpec Spec() {
  ScenarioSpec spec;
  spec.name = "Kv.ReadYourWrites";
  spec.situations = {kRare};
  return spec;
}

// The log of shard `index` of `count` for a sweep of 10 seeds in which `failing` seeds failed.
std::string ShardLog(uint64_t index, uint64_t count, const std::vector<uint64_t>& failing,
                     bool reached_rare) {
  SweepOptions o;
  o.first_seed = 1;
  o.seeds = 10;
  o.shard_index = index;
  o.shard_count = count;
  SweepResult r;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    if ((seed - 1) % count != index) continue;
    ++r.runs;
    const bool fails = std::find(failing.begin(), failing.end(), seed) != failing.end();
    ++r.by_class[fails ? FailureClass::kCorrectness : FailureClass::kNone];
    if (fails) {
      r.failures.push_back({.seed = seed,
                            .failure = FailureClass::kCorrectness,
                            .replay_command = absl::StrCat("bazel test //kv:t --test_arg=--seed=", seed)});
    }
  }
  if (reached_rare) r.reached["test.rare"] = 1;
  r.reached["test.common"] = r.runs;
  return absl::StrCat("Executing tests from //kv:t\nsome output\n",
                      absl::StrJoin(ShardReportLines(Spec(), o, r), "\n"), "\n[  PASSED  ]\n");
}

MergedSummary Merge(const std::string& text) {
  absl::StatusOr<std::vector<ShardReport>> reports = ParseShardReports(text);
  EXPECT_TRUE(reports.ok()) << reports.status();
  return MergeShardReports(reports.ok() ? *reports : std::vector<ShardReport>{});
}

TEST(ShardSummaryTest, ShardsAddUpToTheWholeSweep) {
  const std::string logs = ShardLog(2, 3, {3, 9}, false) + ShardLog(0, 3, {1}, false) +
                           ShardLog(1, 3, {}, true);
  const MergedSummary m = Merge(logs);
  ASSERT_EQ(m.sweeps.size(), 1u);
  const MergedSweep& s = m.sweeps[0];
  EXPECT_EQ(s.scenario, "Kv.ReadYourWrites");
  EXPECT_EQ(s.runs, 10u);
  EXPECT_EQ(s.by_class.at(FailureClass::kNone), 7u);
  EXPECT_EQ(s.by_class.at(FailureClass::kCorrectness), 3u);
  ASSERT_EQ(s.failures.size(), 3u);
  EXPECT_EQ(s.failures[0].seed, 1u);  // sorted by seed across shards
  EXPECT_EQ(s.failures[1].seed, 3u);
  EXPECT_EQ(s.failures[2].seed, 9u);
  EXPECT_EQ(s.failures[2].replay, "bazel test //kv:t --test_arg=--seed=9");
  EXPECT_EQ(s.reached.at("test.rare"), 1u);  // one shard reached it: the sweep did
  EXPECT_EQ(s.reached.at("test.common"), 10u);
  EXPECT_TRUE(s.unreached.empty());
  EXPECT_TRUE(s.shards_missing.empty());
  EXPECT_EQ(m.exit_code, ExitCodeFor(FailureClass::kCorrectness));
  const std::string text = FormatMergedSummary(m);
  EXPECT_TRUE(absl::StrContains(text, "over 3 shard(s), 10 runs")) << text;
  EXPECT_TRUE(absl::StrContains(text, "ok 7, correctness 3,")) << text;
  EXPECT_TRUE(absl::StrContains(text, "FAIL seed 9 (correctness)\n  replay: bazel test //kv:t --test_arg=--seed=9"))
      << text;
}

TEST(ShardSummaryTest, ASituationNoShardReachedIsBlindOnceEveryShardIsThere) {
  const MergedSummary m = Merge(ShardLog(0, 2, {}, false) + ShardLog(1, 2, {}, false));
  ASSERT_EQ(m.sweeps.size(), 1u);
  EXPECT_EQ(m.sweeps[0].unreached, std::vector<std::string>{"test.rare"});
  EXPECT_EQ(m.exit_code, kBlindExitCode);
  EXPECT_TRUE(absl::StrContains(FormatMergedSummary(m), "BLIND: no shard reached situation test.rare"));
}

TEST(ShardSummaryTest, AMissingShardIsReportedAndCoverageIsNotJudged) {
  const MergedSummary m = Merge(ShardLog(0, 3, {}, false) + ShardLog(2, 3, {}, false));
  ASSERT_EQ(m.sweeps.size(), 1u);
  EXPECT_EQ(m.sweeps[0].shards_missing, std::vector<uint64_t>{1});
  EXPECT_TRUE(m.sweeps[0].unreached.empty());
  EXPECT_EQ(m.exit_code, 3);
  EXPECT_TRUE(absl::StrContains(FormatMergedSummary(m), "MISSING shard(s) 1"));
}

TEST(ShardSummaryTest, ShardsOfDifferentSweepsAreInconsistent) {
  const MergedSummary m = Merge(ShardLog(0, 2, {}, true) + ShardLog(1, 3, {}, true));
  ASSERT_EQ(m.sweeps.size(), 1u);
  EXPECT_TRUE(m.sweeps[0].inconsistent);
  EXPECT_EQ(m.exit_code, 3);
}

TEST(ShardSummaryTest, AMalformedLineIsAnErrorWithItsNumber) {
  absl::StatusOr<std::vector<ShardReport>> r =
      ParseShardReports("hello\ndrpc-sim: shard scenario=x shard=0/1 seeds=oops\n");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::StrContains(r.status().message(), "line 2:")) << r.status();
  EXPECT_FALSE(ParseShardReports("drpc-sim: failure scenario=x shard=3/2 seed=1\n").ok());
  EXPECT_FALSE(ParseShardReports("drpc-sim: gossip scenario=x shard=0/1\n").ok());
}

TEST(ShardSummaryTest, NoResultsIsSaidSo) {
  const MergedSummary m = Merge("just a log\n");
  EXPECT_TRUE(m.sweeps.empty());
  EXPECT_EQ(m.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(FormatMergedSummary(m), "no drpc-sim results found"));
}

}  // namespace
}  // namespace drpc::sim
