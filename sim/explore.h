// Bounded-exhaustive exploration: every schedule of a scenario within a delay bound, run one after
// the other, with a verdict of "complete" once the bound is exhausted.
//
//   ExploreOptions o{.seed = 1, .delay_bound = 2};
//   ExploreResult r = ExploreSchedules(spec.body, o);
//   // r.schedules runs; r.complete: every schedule with at most 2 delays was run;
//   // r.first_failure->tape replays the failing schedule (its header names the policy).
//
// What is enumerated: the scheduling decisions — which runnable fiber runs (`sched.pick`) and
// whether a pending timer is let in ahead of the runnable fibers (`sched.timer`, when the policy's
// window has one due). Every other decision (the workload, links, faults, chaos, timer lateness)
// is answered by the PRNG of `seed`, so a seed fixes the scenario and the explorer walks its
// schedules; other seeds are other scenarios to explore.
//
// Delay bounding (Emmi, Qadeer and Rakamarić, POPL 2011): the deterministic schedule runs the
// longest-waiting runnable fiber (answer 0, FIFO) and fires no timer early; a pick of the i-th
// runnable fiber costs i delays, an early timer one. A schedule's cost is the sum; the explorer
// runs every schedule whose cost is at most the bound, exactly once, by depth-first search over
// the decision tree (each run takes the leftmost unexplored branch: the prefix of the previous
// run up to its deepest decision with an untried answer, that answer, then 0s). The count of
// schedules with at most b delays grows like (decisions x runnable)^b, so small scenarios and
// small bounds are what this is for; `max_schedules` and the time budget stop larger ones, and the
// verdict then says so.
#ifndef DRPC_SIM_EXPLORE_H_
#define DRPC_SIM_EXPLORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/functional/function_ref.h"
#include "sim/simulation.h"
#include "sim/tape.h"

namespace drpc::sim {

struct ExploreProgress {
  uint64_t schedules = 0;
  uint64_t failures = 0;
  double seconds = 0;
};

struct ExploreOptions {
  uint64_t seed = 1;  // answers every decision that is not a scheduling one
  uint32_t delay_bound = 2;
  uint64_t max_schedules = 100'000;  // 0: no limit
  double time_budget_seconds = 0;    // 0: no limit
  bool stop_at_first_failure = true;
  // Base run options; the policy becomes PolicySpec::Exhaustive() with this window.
  RunOptions run;
  Duration timer_window = Duration::Millis(1);
  std::function<void(const ExploreProgress&)> progress;  // called now and then, if set
  std::function<void(const RunResult&)> on_schedule;     // called after every run, if set
};

struct ExploredFailure {
  uint64_t schedule = 0;  // 1-based index of the failing run
  RunResult result;
  Tape tape;  // every decision of the failing run; header: policy (exhaustive), seed, schedule
};

struct ExploreResult {
  uint64_t schedules = 0;  // runs made
  uint64_t failures = 0;
  bool complete = false;   // every schedule within the bound was run
  std::string stopped_by;  // why it is not complete: "the first failure", "the schedule limit", ...
  uint64_t decisions_max = 0;  // scheduling decisions of the longest schedule
  std::optional<ExploredFailure> first_failure;
  double seconds = 0;
};

ExploreResult ExploreSchedules(absl::FunctionRef<void(SimContext&)> scenario,
                               const ExploreOptions& options);

// The policy of explored runs (and of their tapes' replays): picks and early timers from the tape.
PolicySpec ExhaustivePolicy(Duration timer_window);

}  // namespace drpc::sim

#endif  // DRPC_SIM_EXPLORE_H_
