// An A/B harness for the wire oracle's testing switches (the relay, the inline judgement of clean
// frames): a switch that must change nothing the oracle observes is held to it by running the same
// simulations two ways and comparing everything the oracle saw.
//
//   const AbSwitch kRelay = {
//       .reference = "parsed", .candidate = "relayed",
//       .set = [](AbWay w) { WireOracle::set_relay_for_testing(w == AbWay::kCandidate); },
//       .fast_frames = [](const WireOracle::ReceivedProbe& p) { return p.relayed_frames; },
//       .seeds_env = "RELAY_TEST_SEEDS", .seeds_default = 2};
//   uint64_t relayed = 0;
//   const int runs = ExpectEveryScenarioSameBothWays(
//       kRelay, [&](const Observed&, const Observed& c) { relayed += c.probe.relayed_frames; });
//
// The reference way takes the plain path; the candidate way is the production default and takes
// the fast path the switch controls. Every observed run sets the switch and a received probe
// (WireOracle::ReceivedProbe) for itself and leaves the switch at the candidate way and no probe,
// whatever happens inside it. Not thread-safe: the switches are process-wide.
#ifndef DRPC_SIM_DRPC_ORACLE_AB_HARNESS_H_
#define DRPC_SIM_DRPC_ORACLE_AB_HARNESS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "impl/env.h"
#include "impl/options.h"
#include "sim/drpc/wire_oracle.h"
#include "sim/simulation.h"

namespace drpc::sim {

enum class AbWay { kReference, kCandidate };

// The switch under test.
struct AbSwitch {
  // The ways' names, for failure messages (e.g. "parsed" and "relayed").
  const char* reference = "";
  const char* candidate = "";
  // Sets the process-wide switch so that models made from now on take `way`.
  void (*set)(AbWay way) = nullptr;
  // Frames a run's fast path handled, from its probe: the reference way must have none.
  uint64_t (*fast_frames)(const WireOracle::ReceivedProbe& probe) = nullptr;
  // Seeds per scenario: this environment variable (decimal) when set, else `seeds_default`.
  const char* seeds_env = "";
  uint64_t seeds_default = 1;
};

// What one run showed.
struct Observed {
  RunResult result;
  WireOracle::ReceivedProbe probe;
  std::vector<std::string> reports;  // what the exchange's own oracle reported (exchanges only)
};

// Records a gtest failure (non-fatal, one per differing field with both values, each labelled
// "<reference> vs <candidate>: `what`") unless the two runs agree on: the failure class, the
// failure message, the trace hash, the scenario's counts, the digest of every frame every model
// checked as received (in order, with the bodies the checks read), and the exchange's reports.
// Also fails when the reference run used the fast path (`fast_frames` of its probe is not 0).
void ExpectSame(const AbSwitch& ab, const Observed& reference, const Observed& candidate,
                absl::string_view what);

// The seeds per scenario the environment asks for (see AbSwitch::seeds_env).
uint64_t SeedsMaxCount(const AbSwitch& ab);

// Runs every registered scenario (ScenarioRegistry::All(), which this library links with the
// protocol scenarios) for seeds 1..min(its default_seeds, SeedsMaxCount(ab)) with its own run
// options, the reference way first, then the candidate way, and ExpectSame's the two with
// "<scenario> seed <n>" and a line with the command that replays that seed the candidate way.
// `also(reference, candidate)` then sees each pair, for the caller's own checks and totals.
// Returns the number of pairs run.
int ExpectEveryScenarioSameBothWays(
    const AbSwitch& ab,
    absl::FunctionRef<void(const Observed& reference, const Observed& candidate)> also);

// A hand-made exchange, observed `way`: in a run of seed 1 with default run options, a client end
// and a server end of one simulated connection, both tapped by one oracle (configured from
// `options`) that records its reports, are handed to `body`; both are closed (server first) after
// it returns.
Observed ObserveExchange(const AbSwitch& ab, AbWay way, const Options& options,
                         absl::FunctionRef<void(Transport& client, Transport& server)> body);

// Reads exactly `bytes` from `t` in reads of at most `read_max_bytes` (> 0 unless `bytes` is 0);
// a read error is a fatal gtest failure of this call.
void ReadExactly(Transport& t, size_t bytes, size_t read_max_bytes);

}  // namespace drpc::sim

#endif  // DRPC_SIM_DRPC_ORACLE_AB_HARNESS_H_
