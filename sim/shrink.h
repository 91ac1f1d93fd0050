// Tape shrinking: turns the decision tape of a failing run (often thousands of decisions) into a
// much smaller tape that fails the same way, so the run a developer reads is short and calm.
//
//   absl::StatusOr<Tape> tape = Tape::LoadFromFile("/tmp/drpc-sim/swarm.mux-42.tape");
//   ShrinkOptions o;
//   o.run = OptionsFor(*spec);
//   DRPC_CHECK_OK(ApplyTapeHeader(*tape, o.run));
//   ShrinkResult r = ShrinkTape(*spec, *tape, o);
//   if (r.status.ok()) r.tape.SaveToFile("/tmp/drpc-sim/swarm.mux-42.shrunk.tape");
//
// "The same way" is the failure's signature: its class and its invariant (FailureSignature: the
// first line of the message with every number replaced by '#'; for a crash, the file:line of the
// failed check). A candidate that fails differently (another oracle, a deadlock instead of a wrong
// outcome) is rejected, so the shrunk tape shows the bug that was found, not a new one.
//
// How (in the spirit of Hypothesis' shrinker): a candidate tape is replayed; if it fails with the
// signature, the decisions the run actually consumed become the new best tape, provided they are
// smaller: fewer decisions, or as many with lexicographically smaller answers. Passes, repeated
// until a whole round finds nothing smaller (a fixpoint: `minimal`) or the budget runs out:
//   1. answer 0 at workload, fault, link and chaos decisions (every site outside "sched.",
//      "timer.", "net.segment", "net.read_", "net.latency"): 0 is the uneventful branch of every
//      decision, so this removes faults, cancels, connections, callers and RPCs the scenario
//      draws ("swarm.connections" 0 is one connection);
//   2. cut the tape short (the rest answers 0: the quiet run);
//   3. delete blocks of decisions, halving the block size down to one decision;
//   4. zero blocks of decisions (scheduling picks become "the longest-waiting fiber runs");
//   5. lower single answers (to 0, a quarter, a half, one less).
// Every step is deterministic: the same input tape, options and code give the same shrunk tape,
// whatever `jobs` is (parallel candidates are accepted in candidate order; `max_runs` counts as
// if they ran one by one). Only the wall-clock `time_budget`, when it is what ends the search,
// makes the result depend on the machine; ShrinkResult says which limit ended it.
//
// Isolation: with `isolate` (the default) every candidate runs in a forked process, so a crash
// (a failed DRPC_CHECK) is an ordinary candidate outcome and the objects of failed runs, which the
// simulator keeps for ever (simulation.h), die with the child. Without it candidates run in this
// process: faster, for scenarios that never crash (tests of toys).
#ifndef DRPC_SIM_SHRINK_H_
#define DRPC_SIM_SHRINK_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "impl/time.h"
#include "sim/scenario.h"
#include "sim/simulation.h"
#include "sim/tape.h"

namespace drpc::sim {

struct FailureSignature {
  FailureClass failure = FailureClass::kNone;
  std::string invariant;
  friend bool operator==(const FailureSignature&, const FailureSignature&) = default;
  std::string ToString() const;  // "correctness: lost update: counter is #, expected #"
};

// The signature of a failure with `message` (see the top of the file).
FailureSignature SignatureOf(FailureClass failure, absl::string_view message);

// What a run of one tape looked like (before/after figures of a shrink).
struct TapeStats {
  uint64_t decisions = 0;
  uint64_t nonzero_decisions = 0;
  uint64_t fibers = 0;
  uint64_t switches = 0;
  uint64_t connections = 0;
  uint64_t faults_struck = 0;
  uint64_t streams = 0;  // streams opened (Invoke frames clients sent), when the wire oracle taps
  Duration virtual_time;
  // "1234 decisions (456 non-zero), 34 fibers, 3 connections, 1 fault, 12 streams, ..."
  std::string ToString() const;
};

struct ShrinkProgress {
  uint64_t runs = 0;
  uint64_t accepted = 0;
  uint64_t decisions = 0;  // of the best tape so far
  double seconds = 0;
};

struct ShrinkOptions {
  RunOptions run;               // the scenario's options with the tape's policy applied
  uint64_t max_runs = 3000;     // candidate runs
  double time_budget_seconds = 0;  // wall clock; 0: no limit
  int jobs = 1;                 // candidates run in parallel (isolate only)
  bool isolate = true;
  // false: any failure of the same class is accepted (a looser target shrinks further).
  bool match_invariant = true;
  std::function<void(const ShrinkProgress&)> progress;  // called after every accepted candidate
};

struct ShrinkResult {
  // FailedPrecondition if the input does not fail (nothing to shrink).
  absl::Status status;
  Tape tape;                  // the shrunk tape; header copied, plus shrunk_from=<decisions>
  FailureSignature signature; // of the input's failure (the shrunk run has the same)
  std::string message;        // the shrunk run's failure message
  uint64_t trace_hash = 0;    // the shrunk run's (a replay of `tape` gives the same)
  TapeStats before, after;
  uint64_t runs = 0;
  uint64_t accepted = 0;
  bool minimal = false;       // a whole round of passes found nothing smaller
  std::string stopped_by;     // "" (fixpoint), "run limit" or "time budget"
  double seconds = 0;
};

// Shrinks a failing tape of `spec`.
ShrinkResult ShrinkTape(const ScenarioSpec& spec, const Tape& tape, const ShrinkOptions& options);

// Shrinks the failing run of `seed` (its tape is recorded first, also for a crash).
ShrinkResult ShrinkSeed(const ScenarioSpec& spec, uint64_t seed, const ShrinkOptions& options);

}  // namespace drpc::sim

#endif  // DRPC_SIM_SHRINK_H_
