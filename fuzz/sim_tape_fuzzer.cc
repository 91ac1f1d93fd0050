// The tape fuzzer: libFuzzer's input is the decision tape of one simulated run, so coverage-guided
// search explores schedules, segmentations, faults, Options and workloads of the protocol
// scenarios — every decision a seed would draw from the PRNG comes from the input bytes instead
// (sim/tape.h, ByteDecisions; an exhausted input answers 0).
//
//   byte 0      which scenario: ScenarioRegistry::Fuzzed()[byte % count], i.e. among the linked
//               scenarios with ScenarioSpec::fuzz set (the default), sorted by name. A new
//               scenario is fuzzed without touching this file; it shifts the meaning of byte 0 for
//               older inputs, which stay valid runs of another scenario.
//   bytes 1...  the decisions, in the order the run asks for them
//
// A failing run (any oracle: wire model, isolation, outcomes, liveness, deadlock, leak) prints its
// class and message and aborts, so libFuzzer saves the input; replay it with
//   bazel run //fuzz:sim_tape_fuzzer -- /path/to/crash-...
// (the replay build runs every input once) after fixing the bug, commit it to corpus/sim_tape/.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "proto/base/check.h"
#include "sim/scenario.h"
#include "sim/simulation.h"
#include "sim/tape.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const std::vector<const drpc::sim::ScenarioSpec*> scenarios =
      drpc::sim::ScenarioRegistry::Fuzzed();
  DRPC_CHECK(!scenarios.empty()) << "tape fuzzer: no fuzzed scenario is linked in";
  const drpc::sim::ScenarioSpec* spec = scenarios[data[0] % scenarios.size()];
  const std::string& name = spec->name;
  drpc::sim::ByteDecisions decisions(
      absl::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  drpc::sim::RunOptions options = drpc::sim::OptionsFor(*spec);
  options.exit_on_crash = false;  // a failed DRPC_CHECK aborts, which libFuzzer records
  options.time_limit = drpc::Duration::Seconds(300);
  const drpc::sim::RunResult r = drpc::sim::RunSimulation(spec->body, decisions, options);
  if (!r.ok()) {
    std::fprintf(stderr, "tape fuzzer: %s %s: %s\n", name.c_str(),
                 std::string(drpc::sim::FailureClassName(r.failure)).c_str(), r.message.c_str());
    std::abort();
  }
  return 0;
}
