#include "sim/policy.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "proto/base/check.h"
#include "sim/prng.h"

namespace drpc::sim {
namespace {

// PCT priorities are drawn from this range (ties, broken by fiber ID, are then rare).
constexpr uint64_t kPriorityRange = uint64_t{1} << 30;
// Change points of k=0 are log-uniform over [1, 2^kChangeExponentMax).
constexpr uint64_t kChangeExponentMax = 17;

std::string DurationText(Duration d) {
  const int64_t ns = d.nanos();
  if (ns % 1'000'000 == 0) return absl::StrCat(ns / 1'000'000, "ms");
  if (ns % 1'000 == 0) return absl::StrCat(ns / 1'000, "us");
  return absl::StrCat(ns, "ns");
}

bool ParseDuration(absl::string_view text, Duration* out) {
  struct Unit {
    absl::string_view suffix;
    int64_t nanos;
  };
  for (const Unit& u : {Unit{"ms", 1'000'000}, Unit{"us", 1'000}, Unit{"ns", 1}, Unit{"s", 1'000'000'000}}) {
    if (!absl::EndsWith(text, u.suffix)) continue;
    int64_t v = 0;
    if (!absl::SimpleAtoi(text.substr(0, text.size() - u.suffix.size()), &v) || v < 0) return false;
    *out = Duration::Nanos(v * u.nanos);
    return true;
  }
  int64_t v = 0;
  if (text != "0" || !absl::SimpleAtoi(text, &v)) return false;
  *out = Duration::Zero();
  return true;
}

absl::string_view KindName(PolicySpec::Kind kind) {
  switch (kind) {
    case PolicySpec::Kind::kSwarm:
      return "swarm";
    case PolicySpec::Kind::kRandom:
      return "random";
    case PolicySpec::Kind::kFifo:
      return "fifo";
    case PolicySpec::Kind::kPct:
      return "pct";
    case PolicySpec::Kind::kExhaustive:
      return "exhaustive";
  }
  return "?";
}

}  // namespace

std::string PolicySpec::ToString() const {
  std::string s(KindName(kind));
  if (kind == Kind::kSwarm || kind == Kind::kFifo) return s;
  if (kind == Kind::kPct) {
    absl::StrAppend(&s, ":d=", pct_depth);
    if (pct_steps > 0) absl::StrAppend(&s, ":k=", pct_steps);
  }
  absl::StrAppend(&s, ":ti=", timer_interleave_per_mille, ":tw=", DurationText(timer_interleave_window));
  return s;
}

absl::StatusOr<PolicySpec> PolicySpec::Parse(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  PolicySpec spec;
  bool known = false;
  for (Kind k : {Kind::kSwarm, Kind::kRandom, Kind::kFifo, Kind::kPct, Kind::kExhaustive}) {
    if (parts[0] == KindName(k)) {
      spec.kind = k;
      known = true;
    }
  }
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "policy \"", text, "\": ", why,
        " (expected swarm, fifo, random[:ti=N][:tw=D], pct[:d=N][:k=N][:ti=N][:tw=D] or "
        "exhaustive[:ti=N][:tw=D])"));
  };
  if (!known) return bad("unknown kind");
  if (spec.kind == Kind::kFifo) spec.timer_interleave_per_mille = 0;
  for (size_t i = 1; i < parts.size(); ++i) {
    if (spec.kind == Kind::kSwarm || spec.kind == Kind::kFifo) return bad("takes no parameters");
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(parts[i], absl::MaxSplits('=', 1));
    uint64_t n = 0;
    if (kv.first == "d" && spec.kind == Kind::kPct) {
      if (!absl::SimpleAtoi(kv.second, &n) || n < 1 || n > 16) return bad("d must be 1..16");
      spec.pct_depth = static_cast<int>(n);
    } else if (kv.first == "k" && spec.kind == Kind::kPct) {
      if (!absl::SimpleAtoi(kv.second, &spec.pct_steps)) return bad("k must be a step count");
    } else if (kv.first == "ti") {
      // At most 999: the answer 0 must always mean "no" (fibers first).
      if (!absl::SimpleAtoi(kv.second, &n) || n > 999) return bad("ti must be 0..999 (per mille)");
      spec.timer_interleave_per_mille = static_cast<uint32_t>(n);
    } else if (kv.first == "tw") {
      if (!ParseDuration(kv.second, &spec.timer_interleave_window)) {
        return bad("tw must be a duration such as 0, 100us or 1ms");
      }
    } else {
      return bad(absl::StrCat("unknown parameter \"", parts[i], "\""));
    }
  }
  return spec;
}

PolicySpec ResolvePolicy(const PolicySpec& spec, uint64_t seed) {
  if (spec.kind != PolicySpec::Kind::kSwarm) return spec;
  // Derived from the seed alone (not from the tape), so `--seed=S` reproduces the choice.
  uint64_t state = seed ^ 0x706f6c6963790000ull;  // "policy"
  const uint64_t kind = SplitMix64(state) % 4;
  PolicySpec p = kind < 2 ? PolicySpec::Random() : PolicySpec::Pct(kind == 2 ? 2 : 3);
  static constexpr uint32_t kInterleave[] = {0, 30, 30, 300};
  p.timer_interleave_per_mille = kInterleave[SplitMix64(state) % std::size(kInterleave)];
  static constexpr Duration kWindows[] = {Duration::Zero(), Duration::Micros(100),
                                          Duration::Millis(1), Duration::Millis(10)};
  p.timer_interleave_window = kWindows[SplitMix64(state) % std::size(kWindows)];
  return p;
}

std::unique_ptr<SchedulingPolicy> MakePolicy(const PolicySpec& spec) {
  switch (spec.kind) {
    case PolicySpec::Kind::kFifo:
      return std::make_unique<FifoPolicy>();
    case PolicySpec::Kind::kPct:
      return std::make_unique<PctPolicy>(spec.pct_depth, spec.pct_steps);
    case PolicySpec::Kind::kSwarm:
    case PolicySpec::Kind::kRandom:
    case PolicySpec::Kind::kExhaustive:
      break;
  }
  return std::make_unique<RandomWalkPolicy>();
}

// --- PCT ------------------------------------------------------------------------------------------

PctPolicy::PctPolicy(int depth, uint64_t steps) : depth_(depth), steps_(steps) {
  DRPC_CHECK_GE(depth, 1);
}

void PctPolicy::DrawChangePoints(DecisionSource& decisions) {
  for (int i = 1; i < depth_; ++i) {
    uint64_t step;
    if (steps_ > 0) {
      step = 1 + decisions.Choose("pct.change", steps_);
    } else {
      const uint64_t exponent = decisions.Choose("pct.change_exp", kChangeExponentMax);
      const uint64_t low = uint64_t{1} << exponent;
      step = low + decisions.Choose("pct.change", low);
    }
    // The i-th point drawn lowers to priority i (as in the paper), whatever the order in time.
    change_points_.push_back({step, static_cast<uint64_t>(i)});
  }
  std::sort(change_points_.begin(), change_points_.end());
}

size_t PctPolicy::Pick(const std::vector<uint64_t>& runnable, DecisionSource& decisions) {
  if (!started_) {
    started_ = true;
    DrawChangePoints(decisions);
  }
  ++step_;
  size_t best = 0;
  uint64_t best_priority = 0;
  for (size_t i = 0; i < runnable.size(); ++i) {
    auto [it, fresh] = priority_.try_emplace(runnable[i], 0);
    if (fresh) it->second = static_cast<uint64_t>(depth_) + decisions.Choose("pct.priority", kPriorityRange);
    // Ties go to the lower fiber ID: runnable is in wake-up order, not ID order.
    if (i == 0 || it->second > best_priority ||
        (it->second == best_priority && runnable[i] < runnable[best])) {
      best = i;
      best_priority = it->second;
    }
  }
  // At a change point the fiber about to run is demoted below every initial priority, and the
  // pick is made again.
  bool demoted = false;
  while (next_change_ < change_points_.size() && change_points_[next_change_].first <= step_) {
    priority_[runnable[best]] = change_points_[next_change_++].second;
    demoted = true;
  }
  if (!demoted) return best;
  best = 0;
  for (size_t i = 1; i < runnable.size(); ++i) {
    const uint64_t p = priority_[runnable[i]];
    const uint64_t b = priority_[runnable[best]];
    if (p > b || (p == b && runnable[i] < runnable[best])) best = i;
  }
  return best;
}

}  // namespace drpc::sim
