// Named scenarios, registered at static-initialisation time and run by tools/sim and by tests.
//
//   DRPC_SIM_SCENARIO(ping_pong, {
//       .name = "toy.ping_pong",
//       .description = "...",
//       .body = [](SimContext& ctx) { ... },
//   });
//
// A scenario body runs as the main fiber and draws its configuration (network profile, faults,
// workload) from the tape through ctx, so every seed is a different configuration (swarm testing)
// and still replays exactly. Libraries that register scenarios need `alwayslink = True`.
#ifndef DRPC_SIM_SCENARIO_H_
#define DRPC_SIM_SCENARIO_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "impl/env.h"
#include "sim/simulation.h"

namespace drpc::sim {

struct ScenarioSpec {
  std::string name;
  std::string description;
  std::function<void(SimContext&)> body;
  // Race situations (SimContext::Reach) a sweep of this scenario must reach at least once:
  // constants of impl/situations.h and sim/drpc/workload_situations.h.
  std::vector<Situation> situations;
  // Seeds in the default sweep (what `bazel test //...` runs).
  uint64_t default_seeds = 200;
  // Demonstration toys that exist to be caught (a racy counter, a lock-order deadlock).
  bool expect_failure = false;
  // Searched by the tape fuzzer (//fuzz:sim_tape_fuzzer) when linked into it. Every scenario is
  // by default; one opts out when a single run is already an exhaustive sweep (too slow per
  // input, nothing left for the fuzzer to place). Scenarios that expect to fail are never fuzzed.
  bool fuzz = true;
  // Adjusts the run options (time limit, chaos, ...) for this scenario.
  std::function<void(RunOptions&)> configure;
};

class ScenarioRegistry {
 public:
  // Aborts on a duplicate name (two scenarios with one name would make replays ambiguous).
  static bool Register(ScenarioSpec spec);
  static const ScenarioSpec* Find(absl::string_view name);
  // Sorted by name.
  static std::vector<const ScenarioSpec*> All();
  // The scenarios the tape fuzzer searches: `fuzz` set and `expect_failure` not; sorted by name.
  static std::vector<const ScenarioSpec*> Fuzzed();
  // The fuzzed scenario a tape fuzzer input's 16-bit key picks: the first whose FuzzKeyOf is at
  // or after `key` going round the key space. Keys are hashes of names, so a saved input keeps its
  // scenario when others are added, except for inputs whose key falls just before the newcomer's
  // own key. Null when no scenario is fuzzed.
  static const ScenarioSpec* FuzzedByKey(uint16_t key);
};

// The key that picks scenario `name` (FNV-1a of the name folded to 16 bits). Distinct fuzzed
// scenarios must have distinct keys, or one of them could never be picked (//fuzz:sim_tape_corpus_test
// checks it).
uint16_t FuzzKeyOf(absl::string_view name);

// Options for running `spec` (its configure hook applied to `base`).
RunOptions OptionsFor(const ScenarioSpec& spec, RunOptions base = RunOptions{});

}  // namespace drpc::sim

#define DRPC_SIM_SCENARIO(ident, ...) \
  static const bool drpc_sim_scenario_##ident = ::drpc::sim::ScenarioRegistry::Register(__VA_ARGS__)

#endif  // DRPC_SIM_SCENARIO_H_
