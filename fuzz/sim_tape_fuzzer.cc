// The tape fuzzer: libFuzzer's input is the decision tape of one simulated run, so coverage-guided
// search explores schedules, segmentations, faults, Options and workloads of the protocol
// scenarios — every decision a seed would draw from the PRNG comes from the input bytes instead
// (sim/tape.h, ByteDecisions; an exhausted input answers 0).
//
//   bytes 0-1   which scenario: a 16-bit key, little-endian, picking among the linked scenarios
//               with ScenarioSpec::fuzz set (the default) by hash of their names
//               (ScenarioRegistry::FuzzedByKey). A new scenario is fuzzed without touching this
//               file, and a saved input keeps its scenario unless the newcomer's key lands just
//               after the input's; FuzzKeyOf(name) is the key that picks `name`.
//   bytes 2...  the decisions, in the order the run asks for them
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

#include "absl/strings/string_view.h"
#include "proto/base/check.h"
#include "sim/scenario.h"
#include "sim/simulation.h"
#include "sim/tape.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint16_t key = static_cast<uint16_t>(data[0] | (data[1] << 8));
  const drpc::sim::ScenarioSpec* spec = drpc::sim::ScenarioRegistry::FuzzedByKey(key);
  DRPC_CHECK(spec != nullptr) << "tape fuzzer: no fuzzed scenario is linked in";
  const std::string& name = spec->name;
  drpc::sim::ByteDecisions decisions(
      absl::string_view(reinterpret_cast<const char*>(data) + 2, size - 2));
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
