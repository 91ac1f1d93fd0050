// The simulator under `bazel test`: default sweeps of every registered scenario, the race
// coverage each sweep must reach, a determinism self-check, and Bazel test sharding.
//
//   bazel test //sim/drpc:scenario_sweep_test   # every scenario's default sweep
//   bazel test //sim/drpc:long_sweep_test       # manual: ~100k seeds over all scenarios
//
// Sharding (TEST_TOTAL_SHARDS / TEST_SHARD_INDEX; TEST_SHARD_STATUS_FILE is touched to say so):
//   * by scenario (default): scenario i of the sorted list runs on shard i % shards, whole, so
//     each scenario's coverage is judged over its complete sweep;
//   * by seed (--shard_seeds, for long sweeps): every scenario on every shard, seed k on shard
//     k % shards; coverage is then judged only when there is a single shard.
// Every failure prints its replay command and the path of its saved tape (the test's undeclared
// outputs). A scenario fails the test on any failing seed, or when a situation it lists is never
// reached (a change that made the sweep blind to a race).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "sim/scenario.h"
#include "sim/simulation.h"
#include "sim/sweep.h"
#include "sim/tape.h"

ABSL_FLAG(uint64_t, seeds_per_scenario, 0, "seeds per scenario (0: each scenario's default)");
ABSL_FLAG(double, seeds_scale, 1.0, "multiplies each scenario's default seed count");
ABSL_FLAG(bool, shard_seeds, false, "shard by seed instead of by scenario (long sweeps)");
ABSL_FLAG(std::string, only, "", "run only scenarios whose name starts with this");
ABSL_FLAG(uint64_t, determinism_seeds, 2, "seeds per scenario run twice to compare trace hashes");
ABSL_FLAG(int, jobs, 1, "worker processes per sweep");

namespace drpc::sim {
namespace {

uint64_t EnvU64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v == nullptr ? fallback : std::strtoull(v, nullptr, 10);
}

std::string OutputDir() {
  const char* dir = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  return dir != nullptr ? dir : "/tmp/drpc-sim";
}

// Same seed, same trace hash; and the recorded tape replays to the same hash.
bool DeterminismHolds(const ScenarioSpec& spec, uint64_t seed) {
  const RunOptions options = OptionsFor(spec);
  SeededDecisions recording(seed, /*record=*/true);
  const RunResult first = RunSimulation(spec.body, recording, options);
  const RunResult second = RunSeed(spec.body, seed, options);
  TapeDecisions replay(recording.tape());
  const RunResult replayed = RunSimulation(spec.body, replay, options);
  if (first.trace_hash == second.trace_hash && first.trace_hash == replayed.trace_hash &&
      replay.divergences() == 0) {
    return true;
  }
  std::printf("NONDETERMINISM in %s seed %llu: trace hashes %016llx / %016llx / replayed %016llx "
              "(%llu divergences from the tape)\n  replay: bazel run //tools:sim -- "
              "--scenario=%s --seed=%llu\n",
              spec.name.c_str(), static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(first.trace_hash),
              static_cast<unsigned long long>(second.trace_hash),
              static_cast<unsigned long long>(replayed.trace_hash),
              static_cast<unsigned long long>(replay.divergences()), spec.name.c_str(),
              static_cast<unsigned long long>(seed));
  return false;
}

uint64_t SeedsFor(const ScenarioSpec& spec) {
  if (uint64_t n = absl::GetFlag(FLAGS_seeds_per_scenario); n > 0) return n;
  const double scaled = static_cast<double>(spec.default_seeds) * absl::GetFlag(FLAGS_seeds_scale);
  return scaled < 1 ? 1 : static_cast<uint64_t>(scaled);
}

int Main() {
  const uint64_t shards = EnvU64("TEST_TOTAL_SHARDS", 1);
  const uint64_t shard = EnvU64("TEST_SHARD_INDEX", 0);
  if (const char* status = std::getenv("TEST_SHARD_STATUS_FILE")) {
    if (std::FILE* f = std::fopen(status, "w")) std::fclose(f);
  }
  const bool by_seed = absl::GetFlag(FLAGS_shard_seeds);
  std::vector<const ScenarioSpec*> scenarios;
  for (const ScenarioSpec* s : ScenarioRegistry::All()) {
    if (s->expect_failure || !absl::StartsWith(s->name, absl::GetFlag(FLAGS_only))) continue;
    scenarios.push_back(s);
  }
  std::printf("shard %llu of %llu (%s), %zu scenarios registered\n",
              static_cast<unsigned long long>(shard), static_cast<unsigned long long>(shards),
              by_seed ? "by seed" : "by scenario", scenarios.size());
  int failed = 0, ran = 0;
  for (size_t i = 0; i < scenarios.size(); ++i) {
    const ScenarioSpec& spec = *scenarios[i];
    if (!by_seed && i % shards != shard) continue;
    ++ran;
    SweepOptions o;
    o.seeds = SeedsFor(spec);
    if (by_seed) {
      o.shard_index = shard;
      o.shard_count = shards;
    }
    o.jobs = absl::GetFlag(FLAGS_jobs);
    o.tape_dir = OutputDir();
    const SweepResult r = Sweep(spec, o);
    PrintSummary(spec, r, stdout);
    bool ok = r.failed() == 0;
    // Coverage is judged by Sweep over complete sweeps only (not when seeds are sharded).
    for (const std::string& s : r.unreached) {
      std::printf("BLIND: %s never reached \"%s\" in %llu seeds\n", spec.name.c_str(), s.c_str(),
                  static_cast<unsigned long long>(r.runs));
      ok = false;
    }
    for (uint64_t seed = 1; seed <= absl::GetFlag(FLAGS_determinism_seeds); ++seed) {
      if (!DeterminismHolds(spec, seed)) ok = false;
    }
    if (!ok) ++failed;
    std::fflush(stdout);
  }
  std::printf("%d of %d scenarios failed on this shard\n", failed, ran);
  return failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace drpc::sim

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return drpc::sim::Main();
}
