#include "sim/explore.h"

#include <chrono>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proto/base/check.h"
#include "sim/prng.h"

namespace drpc::sim {
namespace {

constexpr absl::string_view kPickSite = "sched.pick";
constexpr absl::string_view kTimerSite = "sched.timer";

// One scheduling decision of a run: its range and the answer given.
struct Branch {
  uint64_t n = 0;
  uint64_t value = 0;
  bool chance = false;  // sched.timer: only 0 (no) and n - 1 (yes) are tried
};

// Delays an answer costs: a pick skips `value` longer-waiting fibers; an early timer is one.
uint64_t Cost(const Branch& b) { return b.chance ? (b.value > 0 ? 1 : 0) : b.value; }

// Answers scheduling decisions from a prefix (then 0) and every other decision from the seed's
// PRNG; remembers the scheduling decisions of the run.
class ExploringDecisions final : public DecisionSource {
 public:
  ExploringDecisions(uint64_t seed, const std::vector<uint64_t>& prefix, bool record)
      : prng_(seed), prefix_(&prefix), record_(record) {}

  uint64_t Choose(absl::string_view site, uint64_t n) override {
    if (n <= 1) return 0;
    ++count_;
    uint64_t v;
    const bool pick = site == kPickSite;
    if (pick || site == kTimerSite) {
      const size_t at = trail_.size();
      v = at < prefix_->size() ? (*prefix_)[at] : 0;
      // The run is a function of the prefix: the same decision comes back with the same range.
      DRPC_CHECK_LT(v, n) << "explored run diverged at scheduling decision " << at;
      trail_.push_back(Branch{n, v, !pick});
    } else {
      v = prng_.Below(n);
    }
    if (record_) tape_.decisions.push_back({std::string(site), n, v});
    return v;
  }
  uint64_t count() const override { return count_; }

  const std::vector<Branch>& trail() const { return trail_; }
  Tape& tape() { return tape_; }

 private:
  Prng prng_;
  const std::vector<uint64_t>* prefix_;
  bool record_;
  uint64_t count_ = 0;
  std::vector<Branch> trail_;
  Tape tape_;
};

// The next schedule after `trail` in depth-first order within `bound`, or false when every one
// has been run.
bool NextPrefix(const std::vector<Branch>& trail, uint64_t bound, std::vector<uint64_t>& prefix) {
  std::vector<uint64_t> cost_before(trail.size() + 1, 0);
  for (size_t i = 0; i < trail.size(); ++i) cost_before[i + 1] = cost_before[i] + Cost(trail[i]);
  for (size_t i = trail.size(); i-- > 0;) {
    const Branch& b = trail[i];
    Branch next = b;
    if (b.chance) {
      if (b.value != 0) continue;
      next.value = b.n - 1;
    } else {
      if (b.value + 1 >= b.n) continue;
      next.value = b.value + 1;
    }
    if (cost_before[i] + Cost(next) > bound) continue;
    prefix.clear();
    for (size_t j = 0; j < i; ++j) prefix.push_back(trail[j].value);
    prefix.push_back(next.value);
    return true;
  }
  return false;
}

}  // namespace

PolicySpec ExhaustivePolicy(Duration timer_window) {
  // ti=1: the explorer answers sched.timer with 0 (no) or 999 (yes), which a replay of its tape
  // reads the same way.
  return PolicySpec{.kind = PolicySpec::Kind::kExhaustive,
                    .timer_interleave_per_mille = 1,
                    .timer_interleave_window = timer_window};
}

ExploreResult ExploreSchedules(absl::FunctionRef<void(SimContext&)> scenario,
                               const ExploreOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  RunOptions run = options.run;
  run.policy = ExhaustivePolicy(options.timer_window);
  ExploreResult result;
  std::vector<uint64_t> prefix;
  for (;;) {
    ExploringDecisions decisions(options.seed, prefix, /*record=*/false);
    const RunResult r = RunSimulation(scenario, decisions, run);
    ++result.schedules;
    if (options.on_schedule) options.on_schedule(r);
    result.decisions_max = std::max<uint64_t>(result.decisions_max, decisions.trail().size());
    if (!r.ok()) {
      ++result.failures;
      if (!result.first_failure.has_value()) {
        // Recorded again (the run is a function of its prefix) to keep its every decision.
        ExploringDecisions recording(options.seed, prefix, /*record=*/true);
        ExploredFailure f{.schedule = result.schedules,
                          .result = RunSimulation(scenario, recording, run),
                          .tape = std::move(recording.tape())};
        f.tape.header["policy"] = run.policy.ToString();
        f.tape.header["seed"] = absl::StrCat(options.seed);
        f.tape.header["schedule"] = absl::StrCat(result.schedules);
        f.tape.header["delay_bound"] = absl::StrCat(options.delay_bound);
        result.first_failure = std::move(f);
      }
      if (options.stop_at_first_failure) {
        result.stopped_by = "the first failure";
        break;
      }
    }
    if (options.progress && result.schedules % 64 == 0) {
      options.progress({result.schedules, result.failures, elapsed()});
    }
    if (!NextPrefix(decisions.trail(), options.delay_bound, prefix)) {
      result.complete = true;
      break;
    }
    if (options.max_schedules > 0 && result.schedules >= options.max_schedules) {
      result.stopped_by = "the schedule limit";
      break;
    }
    if (options.time_budget_seconds > 0 && elapsed() >= options.time_budget_seconds) {
      result.stopped_by = "the time budget";
      break;
    }
  }
  result.seconds = elapsed();
  return result;
}

}  // namespace drpc::sim
