// Scheduling policies: which runnable fiber the simulator runs next, and how often a pending timer
// (a deadline, a cancel, a network delivery) is let in between runnable fibers.
//
//   PolicySpec spec = *PolicySpec::Parse("pct:d=3");      // or Random(), Fifo(), Swarm()
//   PolicySpec used = ResolvePolicy(spec, seed);          // the swarm picks one per seed
//   std::unique_ptr<SchedulingPolicy> p = MakePolicy(used);
//   run.policy = used;  tape.header["policy"] = used.ToString();   // "pct:d=3:ti=30:tw=1ms"
//
// Kinds:
//   random      a random walk: every pick is a tape decision (`sched.pick`, n = runnable count);
//               answer 0 runs the fiber that has waited longest (FIFO), so an all-zero tape is
//               the FIFO schedule and a pick's value counts the fibers it skips ("delays").
//   fifo        always the longest-waiting fiber, no timer interleaving (for debugging).
//   pct         probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010) with bug depth
//               d: every fiber gets a random priority when first seen (`pct.priority`), the
//               highest-priority runnable fiber runs, and at d - 1 change points
//               (`pct.change`) the fiber about to run drops below every initial priority. A bug
//               that needs d ordering constraints is found with probability >= 1/(n k^(d-1)) per
//               run (n fibers, k steps). k: `k=` steps (scheduling points with a choice); k=0
//               (the default) draws each change point log-uniformly up to 2^17 steps, which
//               suits runs of unknown length.
//   exhaustive  what the bounded-exhaustive explorer (sim/explore.h) runs: picks as `random`,
//               from the tape the explorer writes; a tape recorded this way replays as random.
//   swarm       one of the above per seed (ResolvePolicy): half random walks, half PCT (d = 2 or
//               3), each with its own timer interleaving. The default of sweeps and tools/sim.
//
// Timer interleaving (every kind but fifo): at a scheduling point with runnable fibers, when the
// earliest pending timer is due within `tw` (time window) of now, a `sched.timer` decision with
// chance `ti` per mille fires it first — time advances to its deadline, as if the runnable fibers
// had been slow to get the CPU. So a cancel, a deadline or a network delivery can land between a
// wake-up and the woken fiber's run. Answer 0 keeps the fibers first (the order without
// interleaving). The window counts from when the longest-waiting runnable fiber became runnable,
// not from now: however a policy orders fibers, none is kept waiting more than `tw` of virtual
// time (PCT may pass a fiber over for many steps, but time stands still meanwhile).
#ifndef DRPC_SIM_POLICY_H_
#define DRPC_SIM_POLICY_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "impl/time.h"
#include "sim/tape.h"

namespace drpc::sim {

// Chooses the next fiber among the runnable ones.
class SchedulingPolicy {
 public:
  virtual ~SchedulingPolicy() = default;
  // `runnable` holds fiber IDs (spawn order numbers, never reused) in the order they became
  // runnable; size >= 2. Returns an index into it.
  virtual size_t Pick(const std::vector<uint64_t>& runnable, DecisionSource& decisions) = 0;
  virtual absl::string_view name() const = 0;
};

struct PolicySpec {
  enum class Kind { kSwarm, kRandom, kFifo, kPct, kExhaustive };
  Kind kind = Kind::kSwarm;
  int pct_depth = 3;        // d >= 1
  uint64_t pct_steps = 0;   // k; 0: change points drawn log-uniformly
  // Timer interleaving: chance per mille at each scheduling point with a timer due within the
  // window (0: timers fire only when no fiber is runnable).
  uint32_t timer_interleave_per_mille = 30;
  Duration timer_interleave_window = Duration::Millis(1);

  static PolicySpec Swarm() { return PolicySpec{}; }
  static PolicySpec Random() { return PolicySpec{.kind = Kind::kRandom}; }
  // A random walk whose timers fire only when no fiber is runnable (answer 0 of every timer
  // decision): the order scripted tests are written for.
  static PolicySpec RandomFibersFirst() {
    return PolicySpec{.kind = Kind::kRandom, .timer_interleave_per_mille = 0};
  }
  static PolicySpec Fifo() { return PolicySpec{.kind = Kind::kFifo, .timer_interleave_per_mille = 0}; }
  static PolicySpec Pct(int depth) { return PolicySpec{.kind = Kind::kPct, .pct_depth = depth}; }

  // "swarm", "random:ti=30:tw=1ms", "fifo", "pct:d=3:ti=30:tw=1ms" (k= only when set),
  // "exhaustive:ti=1:tw=1ms". Parse accepts any subset of the keys after the kind, in any order;
  // missing ones keep their defaults (fifo: no interleaving).
  std::string ToString() const;
  static absl::StatusOr<PolicySpec> Parse(absl::string_view text);
  bool operator==(const PolicySpec& other) const = default;
};

// The concrete policy of a run: `spec` itself unless it is the swarm, which picks per seed.
PolicySpec ResolvePolicy(const PolicySpec& spec, uint64_t seed);

// The policy object for a resolved spec (kSwarm is treated as random).
std::unique_ptr<SchedulingPolicy> MakePolicy(const PolicySpec& spec);

class RandomWalkPolicy final : public SchedulingPolicy {
 public:
  size_t Pick(const std::vector<uint64_t>& runnable, DecisionSource& decisions) override {
    return decisions.Choose("sched.pick", runnable.size());
  }
  absl::string_view name() const override { return "random"; }
};

class FifoPolicy final : public SchedulingPolicy {
 public:
  size_t Pick(const std::vector<uint64_t>&, DecisionSource&) override { return 0; }
  absl::string_view name() const override { return "fifo"; }
};

class PctPolicy final : public SchedulingPolicy {
 public:
  PctPolicy(int depth, uint64_t steps);
  size_t Pick(const std::vector<uint64_t>& runnable, DecisionSource& decisions) override;
  absl::string_view name() const override { return "pct"; }

 private:
  void DrawChangePoints(DecisionSource& decisions);

  int depth_;
  uint64_t steps_;
  bool started_ = false;
  uint64_t step_ = 0;
  // (step, priority) by step: the i-th change point drawn lowers the fiber it meets to i.
  std::vector<std::pair<uint64_t, uint64_t>> change_points_;
  size_t next_change_ = 0;
  // Fiber ID -> priority; the highest runs, ties go to the lower ID. Initial priorities are
  // >= depth_, demoted ones 1..depth_-1.
  std::map<uint64_t, uint64_t> priority_;
};

}  // namespace drpc::sim

#endif  // DRPC_SIM_POLICY_H_
