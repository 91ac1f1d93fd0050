#include "impl/app/backoff.h"

#include <algorithm>

#include "proto/base/check.h"

namespace drpc {

absl::Status BackoffPolicy::Validate() const {
  if (initial <= Duration::Zero()) return absl::InvalidArgumentError("backoff: initial must be > 0");
  if (max < initial) return absl::InvalidArgumentError("backoff: max must be >= initial");
  if (multiplier_per_mille < 1000) {
    return absl::InvalidArgumentError("backoff: multiplier_per_mille must be >= 1000");
  }
  if (jitter_per_mille > 1000) {
    return absl::InvalidArgumentError("backoff: jitter_per_mille must be <= 1000");
  }
  return absl::OkStatus();
}

Duration BackoffPolicy::DelayAfter(uint32_t failures, RandomSource* random) const {
  DRPC_CHECK_GE(failures, 1u);
  int64_t nanos = initial.nanos();
  const int64_t cap = max.nanos();
  for (uint32_t i = 1; i < failures && nanos < cap; ++i) {
    // Multiply in 128 bits so huge initial values cannot overflow before the cap applies.
    const __int128 grown = static_cast<__int128>(nanos) * multiplier_per_mille / 1000;
    nanos = grown > cap ? cap : static_cast<int64_t>(grown);
  }
  nanos = std::min(nanos, cap);
  if (random == nullptr || jitter_per_mille == 0 || nanos == 0) return Duration::Nanos(nanos);
  // Uniform in [nanos * (1 - j), nanos * (1 + j)], in 1/1000 steps of the spread.
  const __int128 spread = static_cast<__int128>(nanos) * jitter_per_mille / 1000;
  const uint64_t step = random->Below(2001);  // 0..2000 -> -1..+1 in thousandths
  const __int128 offset = spread * (static_cast<int64_t>(step) - 1000) / 1000;
  const __int128 jittered = nanos + offset;
  return Duration::Nanos(jittered < 0 ? 0 : static_cast<int64_t>(jittered));
}

RetryBudget::RetryBudget(uint32_t max_tokens, uint32_t token_ratio_per_mille)
    : max_milli_tokens_(static_cast<int64_t>(max_tokens) * 1000),
      ratio_milli_tokens_(token_ratio_per_mille),
      milli_tokens_(max_milli_tokens_) {
  DRPC_CHECK_GE(max_tokens, 1u);
  DRPC_CHECK(token_ratio_per_mille >= 1 && token_ratio_per_mille <= 1000);
}

void RetryBudget::OnSuccess() {
  milli_tokens_ = std::min(max_milli_tokens_, milli_tokens_ + ratio_milli_tokens_);
}

void RetryBudget::OnFailure() { milli_tokens_ = std::max<int64_t>(0, milli_tokens_ - 1000); }

}  // namespace drpc
