#include "sim/trace.h"

#include <bit>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "sim/prng.h"

namespace drpc::sim {

namespace {

// The little-endian word at `p` (one load on little-endian hosts).
uint64_t LoadLittleEndian64(const char* p) {
  uint64_t word;
  std::memcpy(&word, p, sizeof word);
  if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
  return word;
}

}  // namespace

void Trace::MixString(absl::string_view s) {
  // Eight bytes per step (little-endian words), then the tail as one word, zero-extended.
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) Mix(LoadLittleEndian64(s.data() + i));
  if (i < s.size()) {
    char tail[8] = {};
    std::memcpy(tail, s.data() + i, s.size() - i);
    Mix(LoadLittleEndian64(tail));
  }
  Mix(s.size());
}

uint64_t Trace::hash() const {
  uint64_t state = hash_;
  return SplitMix64(state);
}

void Trace::Log(Instant now, absl::string_view line) {
  std::string stamped = absl::StrCat("[", now.ToString(), "] ", line, "\n");
  if (options_.echo) std::fputs(stamped.c_str(), stderr);
  if (options_.ring_max_lines == 0) return;
  if (ring_.size() >= options_.ring_max_lines) ring_.pop_front();
  ring_.push_back(std::move(stamped));
}

std::string Trace::Tail(size_t max_lines) const {
  std::string out;
  const size_t skip = ring_.size() > max_lines ? ring_.size() - max_lines : 0;
  for (size_t i = skip; i < ring_.size(); ++i) out += ring_[i];
  return out;
}

}  // namespace drpc::sim
