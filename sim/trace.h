// The run's trace: a hash over every event that shapes a simulated run (which fiber ran, each
// decision, each timer firing, bytes crossing the network), plus an optional human-readable log.
//
// The hash is the determinism check: the same seed or tape must give the same hash. The log keeps
// the last lines in a bounded ring for failure reports; with `echo` set, every line is printed.
#ifndef DRPC_SIM_TRACE_H_
#define DRPC_SIM_TRACE_H_

#include <cstdint>
#include <deque>
#include <string>

#include "absl/strings/string_view.h"
#include "impl/time.h"

namespace drpc::sim {

class Trace {
 public:
  struct Options {
    bool echo = false;            // print every line to stderr as it happens (--trace)
    size_t ring_max_lines = 200;  // lines kept for failure reports
  };
  explicit Trace(Options options) : options_(options) {}

  // Folds a value into the hash: one multiply and one xor-shift (every decision, fiber switch,
  // timer and delivery is mixed in, so this is on the simulator's hottest path). Each step is a
  // bijection of the state, so runs that differ in one value differ in their hash; not
  // cryptographic, a determinism check. hash() applies a SplitMix finaliser.
  void Mix(uint64_t value) {
    hash_ = (hash_ ^ value) * 0x9e3779b97f4a7c15ull;
    hash_ ^= hash_ >> 32;
  }
  // Folds bytes and their count into the hash, eight bytes per step (used for every delivered
  // network segment).
  void MixString(absl::string_view s);
  uint64_t hash() const;

  // Records a log line stamped with virtual time. Lines are built only if someone will read them:
  // call enabled() before formatting expensive lines.
  bool enabled() const { return options_.echo || options_.ring_max_lines > 0; }
  void Log(Instant now, absl::string_view line);
  // The last lines, oldest first, each ending in '\n'.
  std::string Tail(size_t max_lines) const;

 private:
  Options options_;
  uint64_t hash_ = 0xcbf29ce484222325ull;
  std::deque<std::string> ring_;
};

}  // namespace drpc::sim

#endif  // DRPC_SIM_TRACE_H_
