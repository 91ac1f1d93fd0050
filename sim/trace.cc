#include "sim/trace.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "sim/prng.h"

namespace drpc::sim {

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
