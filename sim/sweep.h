// Seed sweeps: run a scenario over a range of seeds and collect failures, each with a replay
// command and a saved tape.
//
//   SweepOptions o{.first_seed = 1, .seeds = 10000, .jobs = 2};
//   SweepResult r = Sweep(*ScenarioRegistry::Find("toy.ping_pong"), o);
//   PrintSummary(*ScenarioRegistry::Find("toy.ping_pong"), r, stdout);
//
// With `isolate` (the default), seeds run in forked worker processes, so a crash (a failed
// DRPC_CHECK, a segfault) is recorded as a "crash" failure of that seed and the sweep goes on.
// `jobs` workers run in parallel. Results are reported in seed order, so the summary is the same
// whatever the parallelism.
#ifndef DRPC_SIM_SWEEP_H_
#define DRPC_SIM_SWEEP_H_

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "sim/scenario.h"
#include "sim/simulation.h"
#include "sim/tape.h"

namespace drpc::sim {

struct SweepOptions {
  uint64_t first_seed = 1;
  uint64_t seeds = 100;
  // Only seeds with (seed - first_seed) % shard_count == shard_index run (Bazel test sharding).
  uint64_t shard_index = 0;
  uint64_t shard_count = 1;
  int jobs = 1;
  bool isolate = true;
  bool progress = false;             // a progress bar with seeds/s on stderr
  std::string tape_dir;              // failing tapes are saved here ("" = do not save)
  // How to replay a seed: "{scenario}", "{seed}" and "{flags}" (ReplayFlags(run)) are substituted.
  std::string replay_template =
      "bazel run //tools:sim -- --scenario={scenario} --seed={seed}{flags}";
  size_t max_failures_kept = 20;     // failures with messages; every other one gets a replay line
  RunOptions run;                    // base options (the scenario's configure hook is applied)
};

struct SeedFailure {
  uint64_t seed = 0;
  FailureClass failure = FailureClass::kNone;
  std::string message;
  uint64_t trace_hash = 0;
  std::string tape_path;  // empty if not saved (crashes: replay by seed)
  std::string replay_command;
};

struct SweepResult {
  std::string scenario;
  uint64_t runs = 0;
  std::map<FailureClass, uint64_t> by_class;  // includes kNone for passing runs
  std::vector<SeedFailure> failures;          // the first max_failures_kept, in seed order
  // Every later failure, in seed order, without its message (seed, class, replay, tape).
  std::vector<SeedFailure> more_failures;
  std::map<std::string, uint64_t> reached;    // situation -> runs that reached it
  // Situations the scenario lists that no run reached (judged only for a sweep of every seed of
  // its range, i.e. shard_count == 1): the sweep went blind to a race.
  std::vector<std::string> unreached;
  double wall_seconds = 0;
  uint64_t total_decisions = 0;
  uint64_t failed() const;
};

SweepResult Sweep(const ScenarioSpec& spec, const SweepOptions& options);

// "{scenario}"/"{seed}"/"{flags}" substitution of options.replay_template.
std::string ReplayCommand(const SweepOptions& options, absl::string_view scenario, uint64_t seed);

// The tools/sim flags that reproduce `run`'s base options beyond scenario and seed:
// " --policy=..." unless the policy is the swarm (which a seed alone reproduces), else "".
std::string ReplayFlags(const RunOptions& run);

// A saved tape's header: scenario=, seed= and policy= (the policy the seed's run used, the swarm
// resolved: sim/policy.h; replaying the tape needs it as much as the decisions).
void SetTapeHeader(Tape& tape, absl::string_view scenario, uint64_t seed, const RunOptions& run);

// Applies a tape header's policy= to `run` (a tape without one leaves `run` alone).
// InvalidArgument for a policy PolicySpec::Parse rejects.
absl::Status ApplyTapeHeader(const Tape& tape, RunOptions& run);

// Human-readable summary: counts by failure class, seeds/s, each kept failure with its message,
// replay command and tape path, then one line with a replay command for every other failing
// seed, and situations never reached.
void PrintSummary(const ScenarioSpec& spec, const SweepResult& result, std::FILE* out);

// The process exit code for a sweep: 0 if every run passed and every listed situation was
// reached; else the highest ExitCodeFor among the failures (crash > leak > deadlock > liveness >
// correctness), or kBlindExitCode if the runs passed but a listed situation was never reached.
inline constexpr int kBlindExitCode = 15;
int SweepExitCode(const SweepResult& result);

}  // namespace drpc::sim

#endif  // DRPC_SIM_SWEEP_H_
