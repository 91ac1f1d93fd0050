// The shrinker's candidate runs (internal to sim/shrink.cc): one tape (or seed) run recording the
// decisions it consumed and its figures, in this process or in a forked child that reports over a
// pipe — also when the run crashes (a failed DRPC_CHECK), through RunOptions::on_crash.
#ifndef DRPC_SIM_SHRINK_RUNNER_H_
#define DRPC_SIM_SHRINK_RUNNER_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sim/scenario.h"
#include "sim/shrink.h"
#include "sim/simulation.h"
#include "sim/tape.h"

namespace drpc::sim::shrink_internal {

using Decisions = std::vector<Decision>;

// How a run went, and the decisions it consumed (its exact replay tape).
struct Outcome {
  FailureClass failure = FailureClass::kNone;
  std::string message;
  Decisions consumed;
  uint64_t trace_hash = 0;
  TapeStats stats;
};

// What a run answers its decisions from: a tape, or (the first run of ShrinkSeed) a seed.
struct Source {
  const Decisions* tape = nullptr;
  uint64_t seed = 0;
};

// Runs in this process. `measure`: count streams with a recorder. `crash_fd` >= 0: a crash writes
// the outcome so far there before the process ends.
Outcome RunHere(const ScenarioSpec& spec, const RunOptions& base, const Source& source, bool measure,
                int crash_fd);

struct Child {
  pid_t pid = -1;
  int fd = -1;
};
// Runs in a forked child (its stderr silenced).
Child StartChild(const ScenarioSpec& spec, const RunOptions& base, const Source& source, bool measure);
// Waits for the child's outcome. A child killed before it reported is a crash whose consumed
// decisions are taken to be `fallback` (if given).
Outcome FinishChild(const Child& c, const Decisions* fallback);

}  // namespace drpc::sim::shrink_internal

#endif  // DRPC_SIM_SHRINK_RUNNER_H_
