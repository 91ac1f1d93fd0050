#include "sim/shrink.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "sim/policy.h"
#include "sim/shrink_runner.h"
#include "sim/sweep.h"

namespace drpc::sim {
namespace {

using shrink_internal::Child;
using shrink_internal::Decisions;
using shrink_internal::FinishChild;
using shrink_internal::Outcome;
using shrink_internal::RunHere;
using shrink_internal::Source;
using shrink_internal::StartChild;

bool Smaller(const Decisions& a, const Decisions& b) {
  if (a.size() != b.size()) return a.size() < b.size();
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].value != b[i].value) return a[i].value < b[i].value;
  }
  return false;
}

uint64_t Fingerprint(const Decisions& d) {
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](uint64_t v) {
    h ^= v;
    h *= 0x100000001b3ull;
    h ^= h >> 29;
  };
  mix(d.size());
  for (const Decision& x : d) {
    mix(x.value);
    mix(x.n);
  }
  return h;
}

// Decisions that set up the run (workload, faults, links, chaos) rather than interleave it.
bool IsStructural(const std::string& site) {
  for (absl::string_view prefix : {"sched.", "timer.", "net.segment", "net.read_", "net.latency"}) {
    if (absl::StartsWith(site, prefix)) return false;
  }
  return true;
}

class Shrinker {
 public:
  Shrinker(const ScenarioSpec& spec, const ShrinkOptions& options, FailureSignature target,
           Outcome best)
      : spec_(spec), options_(options), target_(std::move(target)), best_(std::move(best)),
        start_(std::chrono::steady_clock::now()) {}

  void Run() {
    for (;;) {
      const uint64_t accepted_before = accepted_;
      ZeroStructural();
      Truncate();
      for (size_t size = HalfPowerOfTwo(best_.consumed.size()); size >= 1 && !stop_; size /= 2) {
        DeleteBlocks(size);
      }
      for (size_t size = HalfPowerOfTwo(best_.consumed.size()); size >= 1 && !stop_; size /= 2) {
        ZeroBlocks(size);
      }
      LowerValues();
      if (stop_) return;
      if (accepted_ == accepted_before) {
        minimal_ = true;
        return;
      }
    }
  }

  const Outcome& best() const { return best_; }
  uint64_t runs() const { return runs_; }
  uint64_t accepted() const { return accepted_; }
  bool minimal() const { return minimal_; }
  const std::string& stopped_by() const { return stopped_by_; }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  static size_t HalfPowerOfTwo(size_t n) {
    size_t p = 1;
    while (p * 4 <= n) p *= 2;
    return p;
  }

  bool OutOfBudget() {
    if (stop_) return true;
    if (runs_ >= options_.max_runs) {
      stopped_by_ = "run limit";
    } else if (options_.time_budget_seconds > 0 && seconds() >= options_.time_budget_seconds) {
      stopped_by_ = "time budget";
    } else {
      return false;
    }
    stop_ = true;
    return true;
  }

  bool Wins(const Outcome& o) const {
    if (SignatureOf(o.failure, o.message) != target_ &&
        !(!options_.match_invariant && o.failure == target_.failure)) {
      return false;
    }
    return Smaller(o.consumed, best_.consumed);
  }

  // Runs `candidates` in order (up to `jobs` at a time) and accepts the first that fails with the
  // target signature and is smaller than the best. Returns its index, or -1.
  int TryInOrder(std::vector<Decisions> candidates) {
    size_t next = 0;
    while (next < candidates.size()) {
      if (OutOfBudget()) return -1;
      std::vector<size_t> batch;
      for (; next < candidates.size() && batch.size() < static_cast<size_t>(std::max(1, options_.jobs));
           ++next) {
        if (tried_.contains(Fingerprint(candidates[next]))) continue;  // ran before: it lost
        batch.push_back(next);
      }
      std::vector<Outcome> outcomes = RunBatch(candidates, batch);
      // Judged one by one, as if the batch ran sequentially: outcomes after the winner are
      // discarded unseen, so the result does not depend on `jobs`.
      for (size_t k = 0; k < batch.size(); ++k) {
        if (!tried_.insert(Fingerprint(candidates[batch[k]])).second) continue;  // a duplicate
        ++runs_;
        if (Wins(outcomes[k])) {
          best_ = std::move(outcomes[k]);
          ++accepted_;
          if (options_.progress) {
            options_.progress(ShrinkProgress{runs_, accepted_, best_.consumed.size(), seconds()});
          }
          return static_cast<int>(batch[k]);
        }
        if (runs_ >= options_.max_runs) break;
      }
    }
    return -1;
  }

  std::vector<Outcome> RunBatch(const std::vector<Decisions>& candidates, const std::vector<size_t>& batch) {
    std::vector<Outcome> out;
    if (!options_.isolate) {
      for (size_t i : batch) out.push_back(RunHere(spec_, options_.run, Source{&candidates[i]}, false, -1));
      return out;
    }
    std::vector<Child> children;
    for (size_t i : batch) children.push_back(StartChild(spec_, options_.run, Source{&candidates[i]}, false));
    for (size_t k = 0; k < batch.size(); ++k) out.push_back(FinishChild(children[k], &candidates[batch[k]]));
    return out;
  }

  // Pass 1: answer 0 at structural decisions, one at a time (positions move as the tape shrinks).
  void ZeroStructural() {
    for (size_t i = 0; i < best_.consumed.size() && !stop_;) {
      std::vector<Decisions> batch;
      std::vector<size_t> at;
      for (size_t j = i; j < best_.consumed.size() && batch.size() < BatchSize(); ++j) {
        if (best_.consumed[j].value == 0 || !IsStructural(best_.consumed[j].site)) continue;
        Decisions c = best_.consumed;
        c[j].value = 0;
        batch.push_back(std::move(c));
        at.push_back(j);
      }
      if (batch.empty()) return;
      const int won = TryInOrder(std::move(batch));
      i = won >= 0 ? at[static_cast<size_t>(won)] + 1 : at.back() + 1;
    }
  }

  // Pass 2: the shortest prefix (eighths of the tape) that still fails; the rest answers 0.
  void Truncate() {
    const size_t n = best_.consumed.size();
    std::vector<Decisions> candidates;
    for (size_t eighth = 0; eighth < 8; ++eighth) {
      const size_t keep = n * eighth / 8;
      if (keep >= n || (!candidates.empty() && keep == candidates.back().size())) continue;
      candidates.emplace_back(best_.consumed.begin(), best_.consumed.begin() + static_cast<ptrdiff_t>(keep));
    }
    TryInOrder(std::move(candidates));
  }

  // Pass 3: delete blocks of `size` decisions, from the end of the tape towards its start.
  void DeleteBlocks(size_t size) { EditBlocks(size, /*zero=*/false); }
  // Pass 4: zero blocks of `size` decisions.
  void ZeroBlocks(size_t size) { EditBlocks(size, /*zero=*/true); }

  void EditBlocks(size_t size, bool zero) {
    // `end` is the end of the next block to try; it walks down from the end of the tape.
    for (size_t end = best_.consumed.size(); end > 0 && !stop_;) {
      std::vector<Decisions> batch;
      std::vector<size_t> ends;
      for (size_t e = std::min(end, best_.consumed.size()); e > 0 && batch.size() < BatchSize();) {
        const size_t begin = e > size ? e - size : 0;
        const auto first = best_.consumed.begin() + static_cast<ptrdiff_t>(begin);
        const auto last = best_.consumed.begin() + static_cast<ptrdiff_t>(e);
        const bool all_zero = std::all_of(first, last, [](const Decision& d) { return d.value == 0; });
        if (!(zero && all_zero)) {
          Decisions c = best_.consumed;
          if (zero) {
            for (size_t k = begin; k < e; ++k) c[k].value = 0;
          } else {
            c.erase(c.begin() + static_cast<ptrdiff_t>(begin), c.begin() + static_cast<ptrdiff_t>(e));
          }
          batch.push_back(std::move(c));
          ends.push_back(begin);
        }
        e = begin;
      }
      if (batch.empty()) return;
      const int won = TryInOrder(std::move(batch));
      end = won >= 0 ? ends[static_cast<size_t>(won)] : ends.back();
    }
  }

  // Pass 5: lower single answers, the last decisions first (to 0, a quarter, a half, one less).
  void LowerValues() {
    for (size_t i = best_.consumed.size(); !stop_;) {
      i = std::min(i, best_.consumed.size());  // the tape may have shrunk
      if (i == 0) return;
      --i;
      const uint64_t v = best_.consumed[i].value;
      if (v == 0) continue;
      std::vector<Decisions> candidates;
      for (uint64_t lower : {uint64_t{0}, v / 4, v / 2, v - 1}) {
        if (lower >= v || (!candidates.empty() && candidates.back()[i].value == lower)) continue;
        Decisions c = best_.consumed;
        c[i].value = lower;
        candidates.push_back(std::move(c));
      }
      TryInOrder(std::move(candidates));
    }
  }

  size_t BatchSize() const { return static_cast<size_t>(std::max(1, options_.jobs)); }

  const ScenarioSpec& spec_;
  const ShrinkOptions& options_;
  FailureSignature target_;
  Outcome best_;
  std::chrono::steady_clock::time_point start_;
  std::set<uint64_t> tried_;
  uint64_t runs_ = 0;
  uint64_t accepted_ = 0;
  bool stop_ = false;
  bool minimal_ = false;
  std::string stopped_by_;
};

Outcome Measure(const ScenarioSpec& spec, const ShrinkOptions& options, const Source& source) {
  if (!options.isolate) return RunHere(spec, options.run, source, /*measure=*/true, -1);
  return FinishChild(StartChild(spec, options.run, source, /*measure=*/true), source.tape);
}

// The concrete policy every candidate runs under: the one the failing run used. Candidate tapes
// carry no seed and no header, so under the swarm they would fall back to a random walk and read a
// PCT or FIFO tape's decisions as random-walk picks (the shrunk tape then diverged on replay).
PolicySpec ConcretePolicy(const PolicySpec& given, const Source& first, const Tape* header) {
  if (given.kind != PolicySpec::Kind::kSwarm) return given;
  if (header != nullptr) {
    if (auto it = header->header.find("policy"); it != header->header.end()) {
      absl::StatusOr<PolicySpec> recorded = PolicySpec::Parse(it->second);
      if (recorded.ok() && recorded->kind != PolicySpec::Kind::kSwarm) return *recorded;
    }
  }
  if (first.tape == nullptr) return ResolvePolicy(given, first.seed);
  // A tape without a recorded policy replays as a random walk with the given interleaving.
  PolicySpec random = PolicySpec::Random();
  random.timer_interleave_per_mille = given.timer_interleave_per_mille;
  random.timer_interleave_window = given.timer_interleave_window;
  return random;
}

ShrinkResult Shrink(const ScenarioSpec& spec, const Source& first, const Tape* header,
                    const ShrinkOptions& given) {
  ShrinkOptions options = given;
  options.run.policy = ConcretePolicy(given.run.policy, first, header);
  ShrinkResult result;
  const auto start = std::chrono::steady_clock::now();
  Outcome initial = Measure(spec, options, first);
  result.before = initial.stats;
  if (initial.failure == FailureClass::kNone) {
    result.status = absl::FailedPreconditionError("the run does not fail: nothing to shrink");
    return result;
  }
  result.signature = SignatureOf(initial.failure, initial.message);
  Shrinker shrinker(spec, options, result.signature, std::move(initial));
  shrinker.Run();
  // The best tape is what a failing run consumed, so replaying it repeats that run exactly.
  Outcome final_run = Measure(spec, options, Source{&shrinker.best().consumed});
  if (SignatureOf(final_run.failure, final_run.message) != result.signature) {
    result.status = absl::InternalError(absl::StrCat(
        "the shrunk tape does not replay to the same failure (got ",
        SignatureOf(final_run.failure, final_run.message).ToString(), "): nondeterminism?"));
  }
  if (header != nullptr) result.tape.header = header->header;
  result.tape.header["policy"] = options.run.policy.ToString();
  result.tape.header["shrunk_from"] = absl::StrCat(result.before.decisions);
  result.tape.decisions = shrinker.best().consumed;
  result.message = final_run.message;
  result.trace_hash = final_run.trace_hash;
  result.after = final_run.stats;
  result.runs = shrinker.runs();
  result.accepted = shrinker.accepted();
  result.minimal = shrinker.minimal();
  result.stopped_by = shrinker.stopped_by();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace

std::string FailureSignature::ToString() const {
  return absl::StrCat(FailureClassName(failure), ": ", invariant);
}

FailureSignature SignatureOf(FailureClass failure, absl::string_view message) {
  FailureSignature s;
  s.failure = failure;
  if (failure == FailureClass::kNone) return s;
  absl::string_view line = message.substr(0, message.find('\n'));
  if (failure == FailureClass::kCrash && absl::StartsWith(line, "CHECK failed: ")) {
    // "CHECK failed: <file>:<line>: <condition> ..." : the check is its file and line.
    const size_t colon = line.find(':', line.find(':', 14) + 1);
    s.invariant = std::string(line.substr(0, colon));
    return s;
  }
  bool in_number = false;
  for (char c : line) {
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      if (!in_number) s.invariant += '#';
      in_number = true;
    } else {
      s.invariant += c;
      in_number = false;
    }
  }
  return s;
}

std::string TapeStats::ToString() const {
  return absl::StrCat(decisions, " decisions (", nonzero_decisions, " non-zero), ", fibers,
                      " fibers, ", switches, " switches, ", connections, " connections, ",
                      faults_struck, " faults struck, ", streams, " streams, virtual time ",
                      virtual_time.ToString());
}

ShrinkResult ShrinkTape(const ScenarioSpec& spec, const Tape& tape, const ShrinkOptions& options) {
  return Shrink(spec, Source{&tape.decisions}, &tape, options);
}

ShrinkResult ShrinkSeed(const ScenarioSpec& spec, uint64_t seed, const ShrinkOptions& options) {
  Tape header;
  SetTapeHeader(header, spec.name, seed, options.run);
  return Shrink(spec, Source{nullptr, seed}, &header, options);
}

}  // namespace drpc::sim
