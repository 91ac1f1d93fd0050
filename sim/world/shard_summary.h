// One sweep split across test shards (or machines), summarised as one: each shard prints its
// results as "drpc-sim:" lines into its test log; MergeShardReports adds them up.
//
//   // In a shard (sim_test.cc does this after its sweep):
//   for (const std::string& line : ShardReportLines(spec, result, shard)) std::printf("%s\n", ...);
//
//   // Afterwards (tools/sim_summary.cc, over bazel-testlogs/<pkg>/<target>/shard_*/test.log):
//   std::vector<ShardReport> reports = ParseShardReports(log_text);
//   MergedSummary merged = MergeShardReports(reports);
//   std::printf("%s", FormatMergedSummary(merged).c_str());
//
// Line format (one record per line, space-separated key=value pairs; `replay=` is last and runs
// to the end of the line):
//   drpc-sim: shard scenario=S shard=I/N first_seed=F seeds=K runs=R ok=A correctness=B
//             liveness=C deadlock=D leak=E crash=G
//   drpc-sim: failure scenario=S seed=X class=correctness replay=bazel test ...
//   drpc-sim: situation scenario=S name=workload.x runs=R required=1
// Lines that do not start with "drpc-sim: " are ignored, so a whole test log can be parsed.
#ifndef DRPC_SIM_WORLD_SHARD_SUMMARY_H_
#define DRPC_SIM_WORLD_SHARD_SUMMARY_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sim/scenario.h"
#include "sim/simulation.h"
#include "sim/sweep.h"

namespace drpc::sim {

struct ShardId {
  uint64_t index = 0;
  uint64_t count = 1;
};

// What one shard of one scenario's sweep reported.
struct ShardReport {
  std::string scenario;
  ShardId shard;
  uint64_t first_seed = 1;
  uint64_t seeds = 0;  // of the whole sweep
  uint64_t runs = 0;   // of this shard
  std::map<FailureClass, uint64_t> by_class;  // kNone: passing runs
  struct Failure {
    uint64_t seed = 0;
    FailureClass failure = FailureClass::kNone;
    std::string replay;
  };
  std::vector<Failure> failures;
  std::map<std::string, uint64_t> reached;  // situation -> runs
  std::vector<std::string> required;        // situations the sweep must reach
};

// The lines a shard prints for `result` (a sweep of `spec` with `options`).
std::vector<std::string> ShardReportLines(const ScenarioSpec& spec, const SweepOptions& options,
                                          const SweepResult& result);

// Every report in `text` (a test log, or several concatenated). kInvalidArgument for a
// "drpc-sim:" line that cannot be read, with its line number.
absl::StatusOr<std::vector<ShardReport>> ParseShardReports(absl::string_view text);

// One scenario's sweep, its shards added up.
struct MergedSweep {
  std::string scenario;
  uint64_t shard_count = 1;
  std::vector<uint64_t> shards_seen;     // sorted
  std::vector<uint64_t> shards_missing;  // of 0..shard_count-1
  bool inconsistent = false;             // shards disagree on shard_count, first_seed or seeds
  uint64_t first_seed = 1;
  uint64_t seeds = 0;
  uint64_t runs = 0;
  std::map<FailureClass, uint64_t> by_class;
  std::vector<ShardReport::Failure> failures;  // by seed
  std::map<std::string, uint64_t> reached;
  std::vector<std::string> unreached;  // required, reached by no shard (judged when none is missing)
};

struct MergedSummary {
  std::vector<MergedSweep> sweeps;  // by scenario name
  // 0 if every sweep is complete, passed and reached its situations; else the highest failure
  // class's exit code (sim/simulation.h), kBlindExitCode for an unreached situation, or 3 for a
  // missing or inconsistent shard.
  int exit_code = 0;
};

MergedSummary MergeShardReports(const std::vector<ShardReport>& reports);

// Counts by failure class per scenario, missing shards, every failure's replay line, unreached
// situations.
std::string FormatMergedSummary(const MergedSummary& summary);

}  // namespace drpc::sim

#endif  // DRPC_SIM_WORLD_SHARD_SUMMARY_H_
