// The decision tape: every nondeterministic choice of a simulated run is one call
//   uint64_t v = decisions.Choose("sched.pick", n);   // v in [0, n)
// Which fiber runs next, how a write is cut into segments, whether a fault strikes, what the
// workload does next: all of it. The same sequence of answers reproduces the run bit for bit.
//
// Sources:
//   SeededDecisions  answers from a pinned PRNG seeded by a 64-bit seed; optionally records a Tape.
//   TapeDecisions    replays a Tape (e.g. loaded from a file). Tolerates tapes recorded by other
//                    code (shrunk or edited tapes): an out-of-range value is reduced modulo n, a
//                    site mismatch is counted as a divergence, an exhausted tape answers 0.
//   ByteDecisions    reads answers from a byte string (libFuzzer's input): coverage-guided search
//                    over schedules and faults. Exhausted input answers 0.
//
// Tape file format (text, one decision per line, '#' comments):
//   # drpc-sim tape v1
//   # policy=random scenario=ping_pong seed=42
//   sched.pick 3 1
//   net.segment 17 5
#ifndef DRPC_SIM_TAPE_H_
#define DRPC_SIM_TAPE_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sim/prng.h"

namespace drpc::sim {

class DecisionSource {
 public:
  virtual ~DecisionSource() = default;
  // A value in [0, n); n >= 1. n == 1 always answers 0 and is neither counted nor recorded.
  // `site` names the decision ("net.segment") so replays can detect divergence.
  virtual uint64_t Choose(absl::string_view site, uint64_t n) = 0;
  // Decisions answered so far (n > 1 only).
  virtual uint64_t count() const = 0;
  // The seed the answers come from, if they come from one (a seeded source): a swarm of
  // scheduling policies picks a run's policy by its seed (sim/policy.h).
  virtual std::optional<uint64_t> seed() const { return std::nullopt; }
  // The scheduling policy the answers were recorded under, if known (a tape's `policy=` header),
  // so a tape replays under its own policy.
  virtual std::optional<std::string> recorded_policy() const { return std::nullopt; }
  // Told the run's policy (PolicySpec::ToString) when the run starts; a recording source writes
  // it into its tape's header.
  virtual void OnPolicy(absl::string_view /*policy*/) {}
};

struct Decision {
  std::string site;
  uint64_t n = 0;
  uint64_t value = 0;
};

struct Tape {
  std::map<std::string, std::string> header;  // key=value pairs from the "# " header line
  std::vector<Decision> decisions;

  std::string Serialize() const;
  static absl::StatusOr<Tape> Parse(absl::string_view text);
  absl::Status SaveToFile(const std::string& path) const;
  static absl::StatusOr<Tape> LoadFromFile(const std::string& path);
};

// A rare event at `site` with chance `per_mille`/1000. An answer of 0 means "no", as every
// decision of the simulator is laid out so that 0 takes the uneventful branch: the all-zero tape
// (an exhausted fuzzer input, a tape shrunk to nothing) is the quiet run.
inline bool ChooseChance(DecisionSource& d, absl::string_view site, uint32_t per_mille) {
  return per_mille > 0 && d.Choose(site, 1000) >= 1000 - std::min<uint32_t>(per_mille, 1000);
}

class SeededDecisions final : public DecisionSource {
 public:
  explicit SeededDecisions(uint64_t seed, bool record = false)
      : seed_(seed), prng_(seed), record_(record) {}
  uint64_t Choose(absl::string_view site, uint64_t n) override {
    if (n <= 1) return 0;
    ++count_;
    const uint64_t v = prng_.Below(n);
    if (record_) Record(site, n, v);
    return v;
  }
  uint64_t count() const override { return count_; }
  std::optional<uint64_t> seed() const override { return seed_; }
  void OnPolicy(absl::string_view policy) override {
    if (record_) tape_.header["policy"] = std::string(policy);
  }
  // The recording (empty unless constructed with record = true).
  const Tape& tape() const { return tape_; }

 private:
  void Record(absl::string_view site, uint64_t n, uint64_t v);
  uint64_t seed_;
  Prng prng_;
  bool record_;
  uint64_t count_ = 0;
  Tape tape_;
};

class TapeDecisions final : public DecisionSource {
 public:
  explicit TapeDecisions(Tape tape) : tape_(std::move(tape)) {}
  // Inline with its divergence report out of line: the simulator asks for a decision at many
  // scheduling points, and a replay (or the quiet, empty tape) answers most of them here.
  uint64_t Choose(absl::string_view site, uint64_t n) override {
    if (n <= 1) return 0;
    const uint64_t index = count_++;
    if (index >= tape_.decisions.size()) {
      ++exhausted_;
      return 0;
    }
    const Decision& d = tape_.decisions[index];
    if (ABSL_PREDICT_FALSE(d.n != n || d.site != site)) NoteDivergence(index, site, n);
    return d.value % n;
  }
  uint64_t count() const override { return count_; }
  std::optional<std::string> recorded_policy() const override {
    auto it = tape_.header.find("policy");
    if (it == tape_.header.end()) return std::nullopt;
    return it->second;
  }
  // Decisions whose site or range did not match the tape, and decisions asked after its end.
  uint64_t divergences() const { return divergences_; }
  uint64_t exhausted() const { return exhausted_; }
  // The first divergence, for messages ("decision 17: tape has net.segment, run asked sched.pick").
  const std::string& first_divergence() const { return first_divergence_; }

 private:
  ABSL_ATTRIBUTE_NOINLINE void NoteDivergence(uint64_t index, absl::string_view site, uint64_t n);
  Tape tape_;
  uint64_t count_ = 0;
  uint64_t divergences_ = 0;
  uint64_t exhausted_ = 0;
  std::string first_divergence_;
};

class ByteDecisions final : public DecisionSource {
 public:
  explicit ByteDecisions(absl::string_view bytes) : bytes_(bytes) {}
  uint64_t Choose(absl::string_view site, uint64_t n) override;
  uint64_t count() const override { return count_; }
  bool exhausted() const { return pos_ >= bytes_.size(); }

 private:
  absl::string_view bytes_;
  size_t pos_ = 0;
  uint64_t count_ = 0;
};

}  // namespace drpc::sim

#endif  // DRPC_SIM_TAPE_H_
