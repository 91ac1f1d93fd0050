// Capped exponential backoff with jitter, a retry budget, and the random source jitter draws from.
//
//   BackoffPolicy b;                                  // 100ms, x1.6, at most 10s, +-20% jitter
//   Duration wait = b.DelayAfter(3, &random);         // after three failures in a row: ~256ms
//   RetryBudget budget;                               // retries stop while most calls fail
//   if (budget.CanRetry()) { ... } budget.OnFailure();
//
// The random source is injected: production passes one seeded from the operating system
// (runtime::SystemRandom), the simulator one that draws from its decision tape, so a simulated
// run with jitter still replays exactly. Without one there is no jitter.
#ifndef DRPC_IMPL_APP_BACKOFF_H_
#define DRPC_IMPL_APP_BACKOFF_H_

#include <cstdint>

#include "absl/status/status.h"
#include "impl/time.h"

namespace drpc {

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // A value in [0, n), n >= 1.
  virtual uint64_t Below(uint64_t n) = 0;
};

struct BackoffPolicy {
  Duration initial = Duration::Millis(100);
  Duration max = Duration::Seconds(10);
  // Growth per failure, in thousandths (1600: x1.6, gRPC's multiplier). >= 1000.
  uint32_t multiplier_per_mille = 1600;
  // Each delay is drawn uniformly from delay * (1 -+ jitter), in thousandths (200: +-20%). <= 1000.
  uint32_t jitter_per_mille = 200;

  // kInvalidArgument naming the first bad field.
  absl::Status Validate() const;

  // The wait before the next attempt after `failures` (>= 1) failures in a row:
  // min(max, initial * multiplier^(failures-1)), jittered (never above max * (1 + jitter)).
  Duration DelayAfter(uint32_t failures, RandomSource* random) const;
};

// A token bucket that keeps retries from multiplying load on a failing server (gRPC's retry
// throttling): each failed call takes one token, each success gives back `token_ratio`; retries
// are allowed only while more than half of the tokens are left. Belongs to one Scheduler (or
// guard it yourself).
class RetryBudget {
 public:
  // max_tokens >= 1; token_ratio_per_mille in [1, 1000].
  explicit RetryBudget(uint32_t max_tokens = 10, uint32_t token_ratio_per_mille = 100);
  bool CanRetry() const { return milli_tokens_ * 2 > max_milli_tokens_; }
  void OnSuccess();
  void OnFailure();
  double tokens() const { return static_cast<double>(milli_tokens_) / 1000; }

 private:
  int64_t max_milli_tokens_;
  int64_t ratio_milli_tokens_;
  int64_t milli_tokens_;
};

}  // namespace drpc

#endif  // DRPC_IMPL_APP_BACKOFF_H_
