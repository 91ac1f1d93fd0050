#include "impl/trim_throttle.h"

#include "impl/tunables.h"

namespace drpc {

TrimThrottle::TrimThrottle() : TrimThrottle(tunables::kMemoryReturnMinInterval) {}

TrimThrottle::Decision TrimThrottle::Request(Instant now) {
  ++requests_;
  if (scheduled_) return Decision{Action::kJoin, Instant()};
  if (!last_trim_.has_value() || now - *last_trim_ >= min_interval_) {
    last_trim_ = now;
    ++trims_;
    return Decision{Action::kTrimNow, now};
  }
  scheduled_ = true;
  ++deferred_;
  return Decision{Action::kSchedule, *last_trim_ + min_interval_};
}

void TrimThrottle::ScheduledTrimDue(Instant now) {
  scheduled_ = false;
  last_trim_ = now;
  ++trims_;
}

}  // namespace drpc
