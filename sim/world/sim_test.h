// World scenarios as gtest tests under `bazel test`: a seed sweep per test, split across Bazel's
// test shards, every failure with one copy-paste replay line and its tape saved.
//
//   #include "sim/world/sim_test.h"
//
//   DRPC_SIM_TEST(ReplicatedKv, ReadYourWrites, .seeds = 200) {   // options: SimTestOptions
//     world.AddNode("primary", ...);                              // `world` is the World
//     ...
//   }
//
//   # BUILD: link the simulation test main, not gtest_main
//   cc_test(name = "kv_sim_test", srcs = [...], shard_count = 4,
//           deps = ["@drpc_cpp//sim/world:sim_test_main", ...])
//
// What a test does, by its arguments (`bazel test //pkg:t --test_arg=--seed=17`, or the binary's
// own command line):
//   (none)        a sweep of `seeds` seeds from `first_seed`, in crash-isolated worker processes
//                 (sim/sweep.h). The first line printed is the seed range and this shard's part;
//                 then the summary: runs by failure class, each failure with its message, its
//                 `replay:` line and its tape; and lines starting "drpc-sim:" that
//                 `bazel run //tools:sim_summary` merges across shards. Shard 0 also runs
//                 `first_seed` three times (twice from the seed, once from its tape) and fails on
//                 different trace hashes: your code let nondeterminism in (docs/simulation.md).
//                 Shard 0 then runs the regression seeds (SimTestOptions::regressions), each
//                 printed with what it once found.
//   --seeds=N     a sweep of N seeds instead
//   --first_seed=S  the sweep's first seed
//   --seed=S      one run: prints "seed S" first, then the result; on failure the message, the
//                 last trace lines, the tape's path and the replay line
//   --tape=FILE   replays a tape (a test whose name is not the tape's scenario= is skipped)
//   --trace       with --seed or --tape: print every event of the run as it happens
//   --timeline=FILE.html  with --seed, --tape or --shrink: draw the run as an HTML/SVG page
//                 (sim/timeline.h); a relative path is written under TEST_UNDECLARED_OUTPUTS_DIR
//   --shrink=TAPE shrinks a failing tape (sim/shrink.h, within 60 s) to the smallest one that
//                 fails the same way, saves it as <Suite.Name>.shrunk.tape next to the other
//                 outputs and prints its replay line
//   --jobs=N      worker processes of a sweep (default 1)
// The replay line is `bazel test <TEST_TARGET> <replay_flags> --test_filter=<Suite.Name>
// --test_output=streamed --test_arg=--seed=S` under Bazel, or the binary's path with
// --gtest_filter and --seed outside it. Tapes are saved under TEST_UNDECLARED_OUTPUTS_DIR
// (bazel-testlogs/<pkg>/<target>/test.outputs/, zipped into outputs.zip when `zip` is
// installed), else /tmp/drpc-sim.
//
// Sharding: sim_test_main reads TEST_TOTAL_SHARDS and TEST_SHARD_INDEX, touches
// TEST_SHARD_STATUS_FILE, and keeps gtest from sharding by test: every test runs on every shard,
// each on the seeds k with (k - first_seed) % shards == index. A failure fails the shard that ran
// it. A test's required situations (SimTestOptions::situations) are judged when it has one shard;
// across several, by //tools:sim_summary.
#ifndef DRPC_SIM_WORLD_SIM_TEST_H_
#define DRPC_SIM_WORLD_SIM_TEST_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "impl/env.h"
#include "sim/simulation.h"
#include "sim/world/world.h"

namespace drpc::sim {

// A seed that once found a bug, kept so the bug stays found (SimTestOptions::regressions).
struct RegressionSeed {
  uint64_t seed = 0;
  std::string found;  // what it found, printed with its result
};

struct SimTestOptions {
  // Seeds of the default sweep (what `bazel test` runs); --seeds overrides.
  uint64_t seeds = 100;
  uint64_t first_seed = 1;
  WorldOptions world;
  // Base run options (virtual time limit, ...).
  RunOptions run;
  // Situations (World::Reach) the sweep must reach at least once, else it is "blind".
  std::vector<Situation> situations;
  // Bazel flags the replay line needs to rebuild what failed, e.g. "--//examples/kv:buggy".
  std::string replay_flags;
  // Seeds run besides the sweep, by shard 0 (each isolated like a sweep's), whatever --seeds
  // and --first_seed say.
  std::vector<RegressionSeed> regressions;
  // Shard 0 checks that `first_seed` replays to the same trace hash.
  bool check_determinism = true;
};

// The test arguments (see the top of the file), set by sim_test_main.
struct SimTestFlags {
  std::optional<uint64_t> seed;
  std::optional<uint64_t> seeds;
  std::optional<uint64_t> first_seed;
  std::string tape;
  std::string shrink;
  std::string timeline;
  bool trace = false;
  int jobs = 1;
  uint64_t shard_index = 0;
  uint64_t shard_count = 1;
  std::string argv0;
};
SimTestFlags& GlobalSimTestFlags();

// Parses the flags of the top of the file out of argv (after gtest took its own) and the Bazel
// sharding variables; touches TEST_SHARD_STATUS_FILE and unsets GTEST_TOTAL_SHARDS and
// GTEST_SHARD_INDEX (call before InitGoogleTest). An unknown argument is an error (returned).
absl::Status ParseSimTestFlags(int argc, char** argv, SimTestFlags& flags);
void PrepareSharding(SimTestFlags& flags);

// Runs `scenario` as the current gtest test, as the flags say (see the top of the file). The
// scenario's name is the test's "Suite.Name".
void RunSimTest(const std::function<void(World&)>& scenario,
                const SimTestOptions& options = SimTestOptions{});

// The replay line for `seed` of `test` ("Suite.Name").
std::string SimReplayCommand(absl::string_view test, uint64_t seed, const SimTestOptions& options);

}  // namespace drpc::sim

// A gtest test running a World scenario (see the top of the file). The body that follows is the
// scenario, with the World named `world`; the variadic arguments are SimTestOptions' designated
// initializers (`.seeds = 200, .replay_flags = "..."`).
#define DRPC_SIM_TEST(suite, name, ...)                                                  \
  static void DrpcSimTestBody_##suite##_##name(::drpc::sim::World& world);               \
  TEST(suite, name) {                                                                     \
    ::drpc::sim::RunSimTest(&DrpcSimTestBody_##suite##_##name,                            \
                            ::drpc::sim::SimTestOptions{__VA_ARGS__});                    \
  }                                                                                       \
  static void DrpcSimTestBody_##suite##_##name(::drpc::sim::World& world)

#endif  // DRPC_SIM_WORLD_SIM_TEST_H_
