// The tape fuzzer: libFuzzer's input is the decision tape of one simulated run, so coverage-guided
// search explores schedules, segmentations, faults, Options and workloads of the protocol
// scenarios — every decision a seed would draw from the PRNG comes from the input bytes instead
// (sim/tape.h, ByteDecisions; an exhausted input answers 0).
//
//   byte 0      which scenario (kScenarios[byte % size])
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
#include <iterator>

#include "absl/strings/string_view.h"
#include "proto/base/check.h"
#include "sim/scenario.h"
#include "sim/simulation.h"
#include "sim/tape.h"

namespace {

constexpr const char* kScenarios[] = {
    "swarm.mux",
    "swarm.upstream",
    "swarm.upstream_client_mux_server",
    "race.mux.cancel_vs_invoke_metadata",
    "race.mux.cancel_vs_close",
    "race.mux.window_update_vs_stream_close",
    "race.upstream.cancel_vs_close",
    "pr54.mux.CancelStorm",
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using drpc::sim::ScenarioRegistry;
  if (size == 0) return 0;
  const char* name = kScenarios[data[0] % std::size(kScenarios)];
  const drpc::sim::ScenarioSpec* spec = ScenarioRegistry::Find(name);
  DRPC_CHECK(spec != nullptr) << "tape fuzzer: scenario " << name << " is not linked in";
  drpc::sim::ByteDecisions decisions(
      absl::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  drpc::sim::RunOptions options = drpc::sim::OptionsFor(*spec);
  options.exit_on_crash = false;  // a failed DRPC_CHECK aborts, which libFuzzer records
  options.time_limit = drpc::Duration::Seconds(300);
  const drpc::sim::RunResult r = drpc::sim::RunSimulation(spec->body, decisions, options);
  if (!r.ok()) {
    std::fprintf(stderr, "tape fuzzer: %s %s: %s\n", name,
                 std::string(drpc::sim::FailureClassName(r.failure)).c_str(), r.message.c_str());
    std::abort();
  }
  return 0;
}
