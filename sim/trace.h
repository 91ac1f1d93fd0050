// The run's trace: a hash over every event that shapes a simulated run (which fiber ran, each
// decision, each timer firing, bytes crossing the network), plus an optional human-readable log.
//
// The hash is the determinism check: the same seed or tape must give the same hash. The log keeps
// the last lines in a bounded ring for failure reports; with `echo` set, every line is printed.
#ifndef DRPC_SIM_TRACE_H_
#define DRPC_SIM_TRACE_H_

#include <bit>
#include <cstdint>
#include <cstring>
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
  // timer and delivery is mixed in, so this is on the simulator's hottest path, and its steps
  // form one serial chain). Each step is a bijection of the state, so runs that differ in one
  // value differ in their hash; not cryptographic, a determinism check. hash() applies a SplitMix
  // finaliser.
  void Mix(uint64_t value) {
    hash_ = (hash_ ^ value) * 0x9e3779b97f4a7c15ull;
    hash_ ^= hash_ >> 32;
  }
  // Folds an event of kind `tag` (one tag per kind: a decision, a timer firing, ...) with its
  // value in one step: the tag goes into the top byte. Two kinds of event fold the same word only
  // if a value reaches 2^56, which no ID, decision or virtual time of a run does.
  void MixEvent(uint8_t tag, uint64_t value) { Mix(value ^ (uint64_t{tag} << 56)); }
  // Folds an event of kind `tag` with `value` (below 2^56) and `bytes` (every delivered network
  // segment): the event, then the bytes eight per step (little-endian words), the last step
  // holding the tail of fewer than eight bytes, zero-extended, with the count's low byte in its
  // top byte (the tail never reaches it). A segment of up to seven bytes is two steps.
  void MixBytes(uint8_t tag, uint64_t value, absl::string_view bytes) {
    MixEvent(tag, value);
    const char* p = bytes.data();
    size_t left = bytes.size();
    // Four words per iteration: the same steps as one per iteration, with a quarter of the loop
    // overhead.
    for (; left >= 32; left -= 32, p += 32) {
      Mix(LoadLittleEndian64(p));
      Mix(LoadLittleEndian64(p + 8));
      Mix(LoadLittleEndian64(p + 16));
      Mix(LoadLittleEndian64(p + 24));
    }
    if (left >= 16) {
      Mix(LoadLittleEndian64(p));
      Mix(LoadLittleEndian64(p + 8));
      left -= 16;
      p += 16;
    }
    if (left >= 8) {
      Mix(LoadLittleEndian64(p));
      left -= 8;
      p += 8;
    }
    uint64_t tail = 0;
    if (bytes.size() >= 8) {
      // The word ending at the last byte holds the tail in its top `left` bytes: one load and a
      // shift instead of a loop over up to seven bytes.
      if (left > 0) tail = LoadLittleEndian64(p + left - 8) >> (8 * (8 - left));
    } else {
      for (size_t i = 0; i < left; ++i) tail |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
    }
    Mix(tail ^ (uint64_t{static_cast<uint8_t>(bytes.size())} << 56));
  }
  uint64_t hash() const;

  // Records a log line stamped with virtual time. Lines are built only if someone will read them:
  // call enabled() before formatting expensive lines.
  bool enabled() const { return options_.echo || options_.ring_max_lines > 0; }
  void Log(Instant now, absl::string_view line);
  // The last lines, oldest first, each ending in '\n'.
  std::string Tail(size_t max_lines) const;

 private:
  // The little-endian word at `p` (one load on little-endian hosts).
  static uint64_t LoadLittleEndian64(const char* p) {
    uint64_t word;
    std::memcpy(&word, p, sizeof word);
    if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
    return word;
  }

  Options options_;
  uint64_t hash_ = 0xcbf29ce484222325ull;
  std::deque<std::string> ring_;
};

}  // namespace drpc::sim

#endif  // DRPC_SIM_TRACE_H_
