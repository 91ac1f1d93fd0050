// The run driver: runs one scenario on the simulator, from a seed or a tape, and says how it went.
//
//   RunResult r = RunSimulation(
//       [](SimContext& ctx) {
//         auto [a, b] = ctx.network().Pipe("pp");
//         DRPC_CHECK_OK(ctx.env().scheduler().Spawn("server", [&] { ... }));
//         ctx.Check(reply == "pong", "reply mismatch");
//       },
//       decisions, RunOptions{});
//   if (!r.ok()) std::cerr << FailureClassName(r.failure) << ": " << r.message;
//
// The scenario body runs as the fiber "main". A run ends when nothing is runnable and no timer is
// pending. Checks made on every run:
//   * correctness: whatever the scenario's oracles report through Fail/Check;
//   * deadlock: main never finished and nothing can run (each parked fiber is listed with its
//     park reason);
//   * liveness: virtual time passed the limit, or the fibers kept switching without finishing;
//   * leaks: after main finished, fibers still parked, or transports/listeners not closed;
//   * crash: a DRPC_CHECK failed: the process prints the check and the replay command and exits
//     with code 14 (ExitCodeFor(kCrash)) at once; sweeps run seeds in worker processes to survive it.
// A failed run is frozen, not torn down: its fibers stay suspended and its objects are kept, so no
// destructor runs on half-finished state (see FiberContext).
#ifndef DRPC_SIM_SIMULATION_H_
#define DRPC_SIM_SIMULATION_H_

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "impl/env.h"
#include "impl/time.h"
#include "sim/chaos.h"
#include "sim/network.h"
#include "sim/policy.h"
#include "sim/recorder.h"
#include "sim/scheduler.h"
#include "sim/tape.h"
#include "sim/trace.h"

namespace drpc::sim {

enum class FailureClass { kNone, kCorrectness, kLiveness, kDeadlock, kLeak, kCrash };

absl::string_view FailureClassName(FailureClass failure);
// Process exit codes for tools/sim: 0 ok, 10 correctness, 11 liveness, 12 deadlock, 13 leak,
// 14 crash.
int ExitCodeFor(FailureClass failure);

struct RunOptions {
  SimScheduler::Options scheduler;
  NetworkOptions network;
  bool chaos = false;            // BUGGIFY sites in impl/ may fire
  // How fibers are scheduled and timers interleaved (sim/policy.h). The swarm (the default) picks
  // a policy by the seed of a seeded run, and is a random walk for other decision sources.
  PolicySpec policy;
  Duration time_limit = Duration::Seconds(600);
  uint64_t step_limit = 20'000'000;  // fiber switches
  Trace::Options trace{.echo = false, .ring_max_lines = 0};
  // Printed when a DRPC_CHECK fails during the run (before the process exits with code 14), so a
  // crash can be replayed.
  std::string replay_command;
  // A failed DRPC_CHECK ends the process with _exit(14). False: it aborts (SIGABRT) instead, for
  // harnesses that detect crashes by signal (libFuzzer saves the crashing input only then).
  bool exit_on_crash = true;
  // Called with the failed check's message before the process ends (a crash), so a harness can
  // save what it knows about the run (the shrinker sends the decisions consumed so far to its
  // parent; tools/sim renders the timeline). Must not return control to the run otherwise.
  std::function<void(absl::string_view message)> on_crash;
  // Collects the run's events for a timeline (sim/recorder.h); null: nothing is recorded.
  Recorder* recorder = nullptr;
};

struct RunResult {
  FailureClass failure = FailureClass::kNone;
  std::string message;
  uint64_t trace_hash = 0;
  uint64_t decisions = 0;
  uint64_t fibers = 0;
  uint64_t switches = 0;
  uint64_t timers = 0;
  uint64_t timers_interleaved = 0;  // of `timers`, fired ahead of runnable fibers
  std::string policy;               // the run's policy (PolicySpec::ToString, swarm resolved)
  Duration virtual_time;
  SimNetwork::Stats network;
  std::set<std::string> reached;  // situations the scenario reported with SimContext::Reach
  std::map<std::string, uint64_t> counts;  // what the scenario counted with SimContext::Count
  std::string trace_tail;         // last trace lines (when the trace ring is enabled)
  bool ok() const { return failure == FailureClass::kNone; }
};

class SimContext {
 public:
  Env& env() { return *env_; }
  SimNetwork& network() { return *network_; }
  Instant now() const { return env_->clock().Now(); }

  // Workload choices go on the tape like every other decision.
  uint64_t Choose(absl::string_view site, uint64_t n) { return decisions_->Choose(site, n); }
  bool Chance(absl::string_view site, uint32_t per_mille) {
    return ChooseChance(*decisions_, site, per_mille);
  }

  // Records a failure (the first one wins) and stops the run. Called from a fiber, it does not
  // return: the fiber stays suspended for ever.
  void Fail(FailureClass failure, std::string message);
  // Fail(kCorrectness, message) unless `condition` holds.
  void Check(bool condition, absl::string_view message);

  // Marks a named race situation as reached in this run (sweeps check their coverage).
  void Reach(Situation situation) {
    reached_.emplace(situation.name());
    if (recorder_ != nullptr) recorder_->Reach(now(), situation.name());
  }
  bool reached(Situation situation) const {
    return reached_.contains(std::string(situation.name()));
  }

  // Adds `n` to the run's counter `name` (RunResult::counts): what a scenario did, for benchmarks
  // and summaries (the RPC workloads count "rpcs").
  void Count(absl::string_view name, uint64_t n) { counts_[std::string(name)] += n; }
  // The counter itself, created at 0 if new: valid for the rest of the run, for a count taken on
  // a hot path without a lookup of its name each time.
  uint64_t& Counter(absl::string_view name) { return counts_[std::string(name)]; }

  void Log(absl::string_view line);
  // Something the scenario did that a timeline should show (a caller cancels, a connection is
  // closed); also logged to the trace.
  void Note(absl::string_view text);
  // The run's recorder, or null when nothing is recorded (the default).
  Recorder* recorder() const { return recorder_; }
  Trace& trace() { return *trace_; }
  SimScheduler& scheduler() { return *scheduler_; }
  SimChaos& chaos() { return *chaos_; }
  // The run's MemoryReturn: the trims impl/ made (its requests: env().memory()).
  const SimMemoryReturn& memory() const { return *memory_; }

 private:
  friend RunResult RunSimulation(absl::FunctionRef<void(SimContext&)>, DecisionSource&,
                                 const RunOptions&);
  SimContext() = default;
  Env* env_ = nullptr;
  SimScheduler* scheduler_ = nullptr;
  SimNetwork* network_ = nullptr;
  SimChaos* chaos_ = nullptr;
  SimMemoryReturn* memory_ = nullptr;
  DecisionSource* decisions_ = nullptr;
  Trace* trace_ = nullptr;
  Recorder* recorder_ = nullptr;
  FailureClass failure_ = FailureClass::kNone;
  std::string message_;
  std::set<std::string> reached_;
  std::map<std::string, uint64_t> counts_;
};

// `scenario` must stay callable until the run returns. The first call in a process also calls
// KeepFreedMemoryForReuse().
RunResult RunSimulation(absl::FunctionRef<void(SimContext&)> scenario, DecisionSource& decisions,
                        const RunOptions& options);

// Memory a simulation keeps between runs. A run frees everything it built and the next run builds
// the same again. With glibc's defaults the freed top of the heap goes back to the kernel after a
// run and the next run faults it in again; with the fiber stacks' mappings (kept per thread by
// StackSlabCache) that is a quarter of the CPU time of short runs such as a sweep's seeds. This
// asks glibc's malloc, once per process, to keep up to kHeapKeptFreeMaxBytes of freed memory at
// the top of the heap and to serve blocks below kHeapBlockFromMapMinBytes from the heap rather than
// from a mapping of their own: a process then holds the memory of its largest run, not of its
// current one. No effect with another C library or a sanitizer's allocator; a process that wants
// other settings sets them (mallopt) after its first run. Its stacks and heap then hold what the
// previous run left where a fresh process reads zero pages: only a scenario reading uninitialised
// memory (undefined behaviour, which MSan finds) can behave differently in a sweep's worker than
// in a replay of its seed alone.
//
// Far above any run's freed memory, yet a bound.
inline constexpr size_t kHeapKeptFreeMaxBytes = size_t{1} << 30;
// glibc's own ceiling for its adjusted threshold on 64-bit hosts (DEFAULT_MMAP_THRESHOLD_MAX):
// the simulator's largest buffers come from the heap and are reused with it.
inline constexpr size_t kHeapBlockFromMapMinBytes = size_t{32} << 20;
void KeepFreedMemoryForReuse();

// Runs from a seed (recording nothing).
RunResult RunSeed(absl::FunctionRef<void(SimContext&)> scenario, uint64_t seed,
                  const RunOptions& options);

}  // namespace drpc::sim

#endif  // DRPC_SIM_SIMULATION_H_
